"""Export to pipeline, end to end: what ran in a real kernel becomes a script that agrees.

Each test runs cells in a fresh kernel (reusing a ``cell_id`` re-runs or edits that cell),
exports targets with ``%mltrack export``, runs the generated ``pipeline.py`` in a fresh
Python in a fresh copy of the notebook's folder, and compares ``run()``'s values with the
kernel's. Every export must also be ``ruff``-clean plain Python without ``get_ipython``, and
importing it must do nothing. Where a case is about what the slice must leave out, the
script's code is checked too. The harness is in ``export_harness.py``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .export_harness import Notebook, assert_metrics, assert_same, bare_names

FLAG = "MLTRACK_EXPORT_CASE_FLAG"


@pytest.fixture
def nb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Notebook]:
    """A fresh kernel per test, in a fresh notebook folder: no state leaks between cases."""
    # `!pip install` / `%pip install` really run in the kernel: never touch the network.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.delenv(FLAG, raising=False)
    notebook = Notebook(tmp_path)
    yield notebook
    notebook.close()


# 1. execution order ----------------------------------------------------------------------


def test_out_of_order_execution_follows_the_log_not_the_notebook(nb: Notebook) -> None:
    """The script replays cells in the order they ran: the third cell ran before the second
    (notebook order would give x == 12, not 30), and `y` reads a name defined by a cell that
    sits below it in the notebook (notebook order would raise NameError)."""
    nb.cells(
        ("c1", "x = 1"),
        ("c3", "x = x + 2"),
        ("c2", "x = x * 10"),
        ("below", "base = 3"),
        ("above", "y = base * 2"),
    )
    nb.save_notebook(
        ("above", "y = base * 2"),
        ("c1", "x = 1"),
        ("c2", "x = x * 10"),
        ("c3", "x = x + 2"),
        ("below", "base = 3"),
    )
    nb.check("x", "y")


# 2. edited cells -------------------------------------------------------------------------


def test_edited_cell_keeps_the_old_version_only_where_it_contributed(nb: Notebook) -> None:
    """A cell edited after it ran: the old version's `x = 10 * 3` still feeds `z` and
    `total`, so it is replayed although the notebook now shows `w = 7`; `m` is read between
    two versions of its cell, so both versions appear in that order; the first version of
    `k`, overwritten by the edit before anything read it, must not appear."""
    nb.cells(
        ("prep", "x = 10 * 3"),
        ("use", "z = x + 1"),
        ("prep", "w = 7"),  # edited: no longer defines x
        ("final", "total = x + w + z"),
        ("m", "m = 5 + 0"),
        ("use-m", "m_plus = m + 1"),
        ("m", "m = 50 + 0"),
        ("k", "k = 1234"),
        ("k", "k = 2"),
        ("use-k", "doubled = k * 2"),
    )
    nb.save_notebook(
        ("prep", "w = 7"),
        ("use", "z = x + 1"),
        ("final", "total = x + w + z"),
        ("m", "m = 50 + 0"),
        ("use-m", "m_plus = m + 1"),
        ("k", "k = 2"),
        ("use-k", "doubled = k * 2"),
    )
    export = nb.check("total", "m_plus", "m", "doubled")
    export.assert_absent("1234")


def test_edited_function_each_call_uses_the_version_defined_then(nb: Notebook) -> None:
    """A cell defining `f` was edited and re-run between two calls: `first` was computed by
    the old definition and `second` by the new one, so the script defines `f` twice, in
    that order, each before the call that used it."""
    nb.cells(
        ("def-f", "def f():\n    return 1"),
        ("first", "first = f() * 10"),
        ("def-f", "def f():\n    return 2"),
        ("second", "second = f() * 10"),
    )
    nb.check("first", "second")


# 3. deleted cells ------------------------------------------------------------------------


def test_deleted_cell_that_defined_a_used_name_is_still_exported(nb: Notebook) -> None:
    """A cell ran, defined `factor`, and was deleted from the notebook (it is not in the
    saved notebook and never ran again): the script still contains its code."""
    nb.cells(
        ("deleted", "factor = int('7')"),
        ("use", "result = factor * 6"),
        ("other", "unrelated = 'x'"),
    )
    nb.save_notebook(("use", "result = factor * 6"), ("other", "unrelated = 'x'"))
    export = nb.check("result")
    export.assert_present("int('7')")
    export.assert_absent("unrelated")


# 4. cells run several times --------------------------------------------------------------


def test_cell_run_three_times_is_replayed_three_times(nb: Notebook) -> None:
    """`counter += 1` ran three times, appending to `history` each time: the script
    reproduces counter == 3 and history == [1, 2, 3]."""
    nb.run("init", "counter = 0\nhistory = []")
    for _ in range(3):
        nb.run("inc", "counter += 1\nhistory.append(counter)")
    nb.check("counter", "history")


# 5. in-place mutation --------------------------------------------------------------------


def test_in_place_mutations_are_kept(nb: Notebook) -> None:
    """Statements that change an object without rebinding its name belong to its slice:
    `fillna(inplace=True)`, column assignment, `append`, `+=` on a list, `del lst[0]`, item
    and attribute assignment, `sort`, `update`, `set.add`, `rename(inplace=True)`, `.loc`
    assignment and `ndarray.sort`, each in its own cell."""
    nb.cells(
        ("imports", "import pandas as pd\nfrom types import SimpleNamespace"),
        ("df", "df = pd.DataFrame({'a': [1.0, None, 3.0]})"),
        ("fill", "df.fillna(0, inplace=True)"),
        ("col", "df['b'] = df['a'] * 2"),
        ("lst", "lst = [1, 2]"),
        ("append", "lst.append(3)"),
        ("iadd", "lst += [4]"),
        ("del", "del lst[0]"),
        ("d", "d = {}"),
        ("setitem", "d['k'] = 5"),
        ("obj", "obj = SimpleNamespace(a=1)"),
        ("setattr", "obj.attr = 'v'"),
        ("sort", "lst.sort(reverse=True)"),
        ("update", "d.update(x=1)"),
        ("st", "st = set()"),
        ("add", "st.add(3)"),
        ("rename", "df.rename(columns={'a': 'A'}, inplace=True)"),
        ("loc", "df.loc[0, 'A'] = -1.0"),
        ("np", "import numpy as np\nvec = np.array([3, 1, 2])"),
        ("vec-sort", "vec.sort()"),
    )
    nb.check("df", "lst", "d", "obj", "st", "vec")


# 6. mutation through aliases, views and shallow copies -----------------------------------


def test_mutation_through_aliases_views_and_shallow_copies(nb: Notebook) -> None:
    """A change made through another name reaches the target: `b = a; b.append(3)` changes
    `a`; writing to a numpy view (`v = arr[:3]; v[0] = 99`, `row += 5`) changes the base
    array (also through `reshape`); appending to an element of a shallow copy changes the
    original's element; a list held in a dict is the same list; `df2 = df` is the same
    DataFrame. Mutable literals here may become parameters: `run()` must not mutate its
    defaults, or a second call returns different values."""
    nb.cells(
        ("np", "import numpy as np"),
        ("a", "a = [1, 2]"),
        ("alias", "b = a"),
        ("via-alias", "b.append(3)"),
        ("arr", "arr = np.arange(6)"),
        ("view", "v = arr[:3]"),
        ("via-view", "v[0] = 99"),
        ("grid", "grid = np.zeros((2, 2))"),
        ("row", "row = grid[1]"),
        ("via-row", "row += 5"),
        ("outer", "outer = [[1], [2]]"),
        ("shallow", "shallow = outer.copy()"),
        ("via-copy", "shallow[0].append(9)"),
        ("layers", "layers = [64]"),
        ("cfg", "cfg = {'layers': layers}"),
        ("via-cfg", "cfg['layers'].append(32)"),
        ("flat", "flat = np.zeros(4)"),
        ("reshape", "square = flat.reshape(2, 2)"),
        ("via-reshape", "square[0, 0] = 7"),
        ("pd", "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})"),
        ("df-alias", "df2 = df"),
        ("via-df-alias", "df2['c'] = 1"),
    )
    export = nb.check("a", "arr", "grid", "outer", "layers", "flat", "df")
    assert "numpy" in export.requirements, export.requirements_text


# 7. what must not be pulled in -----------------------------------------------------------


def test_rebinding_and_copies_do_not_pull_in_code(nb: Notebook) -> None:
    """Rebinding a name is not a mutation: `t = (3344, 4433)` and `t += (5566,)` after
    `u = t` leave `u` alone. Changes to real copies (`list.copy()`, `copy.deepcopy`, `ndarray.copy`)
    leave the original alone, as do changes to a column subset of a DataFrame (a copy under
    copy-on-write) and to a fancy-indexed array (a copy, unlike a slice). Functions that
    only read (`sorted`, `DataFrame.fillna` without inplace) do not change their argument.
    None of that code may appear in the script."""
    nb.cells(
        ("imports", "import copy\nimport numpy as np\nimport pandas as pd"),
        ("t", "t = (1, 2)"),
        ("u", "u = t"),
        ("rebind", "t = (3344, 4433)"),
        ("iadd", "t += (5566,)"),
        ("a", "a = [1, 2]"),
        ("copy", "b = a.copy()"),
        ("append", "b.append(7777)"),
        ("nested", "nested = [[1], [2]]"),
        ("deep", "deep = copy.deepcopy(nested)"),
        ("deep-append", "deep[0].append(8888)"),
        ("arr", "arr = np.zeros(3)"),
        ("arr-copy", "c = arr.copy()"),
        ("arr-set", "c[0] = 6666"),
        ("data", "data = [3, 1, 2]"),
        ("sorted", "ordered = sorted(data)"),
        ("df", "df = pd.DataFrame({'a': [1.0, None]})"),
        ("fillna", "filled = df.fillna(4242)"),
        ("subset", "sub = df[['a']]"),
        ("subset-set", "sub['z'] = 5151"),
        ("fancy", "picked = arr[[0, 1]]"),
        ("fancy-set", "picked[0] = 6767"),
    )
    export = nb.check("u", "a", "nested", "arr", "data", "df")
    export.assert_absent(
        "3344", "5566", "7777", "8888", "deepcopy(nested)", "6666", "sorted(data)", "4242"
    )
    export.assert_absent("5151", "6767")


# 8. functions and classes defined in cells -----------------------------------------------


def test_functions_read_globals_at_call_time_and_defaults_at_def_time(nb: Notebook) -> None:
    """A function reads a global when called (late binding: `scale` changed between the def
    and the call, so late == 15); a default argument is bound when the def runs (dflt == 5
    although `k` later became 9999, which must not appear); a function declaring `global
    total` rebinds it, and calls made as bare expression statements are not display-only; a
    global dict mutated after the def of a function reading it is read at call time."""
    nb.cells(
        ("scale", "scale = 2"),
        ("def-f", "def f(x):\n    return x * scale"),
        ("rescale", "scale = 5"),
        ("late", "late = f(3)"),
        ("k", "k = 4"),
        ("def-g", "def g(x, k=k):\n    return x + k"),
        ("k-again", "k = 9999"),
        ("dflt", "dflt = g(1)"),
        ("total", "total = 0"),
        ("def-bump", "def bump(n):\n    global total\n    total = total + n"),
        ("bump-2", "bump(2)"),
        ("bump-3", "bump(3)"),
        ("cfg", "cfg = {'a': 1}"),
        ("def-h", "def h():\n    return cfg['a']"),
        ("cfg-set", "cfg['a'] = 2"),
        ("hv", "hv = h()"),
    )
    export = nb.check("late", "dflt", "total", "hv")
    export.assert_absent("9999")


def test_functions_and_methods_that_mutate_their_arguments(nb: Notebook) -> None:
    """A function that appends to its argument changes the caller's list; a method that
    appends to `self.values` changes the instance (called as bare expressions whose value is
    displayed, and through a chained call), so `acc_values` needs all those calls; a
    function appending to a global list (no `global` statement needed) changes it."""
    nb.cells(
        ("def-add", "def add_item(xs, v):\n    xs.append(v)"),
        ("items", "items = []"),
        ("add-1", "add_item(items, 1)"),
        ("add-2", "add_item(items, 2)"),
        (
            "class",
            "class Acc:\n"
            "    def __init__(self):\n"
            "        self.values = []\n"
            "\n"
            "    def add(self, v):\n"
            "        self.values.append(v)\n"
            "        return self\n",
        ),
        ("acc", "acc = Acc()"),
        ("acc-1", "acc.add(1)"),
        ("acc-2", "acc.add(2).add(3)"),
        ("acc-values", "acc_values = list(acc.values)"),
        ("registry", "registry = []"),
        ("def-register", "def register(name):\n    registry.append(name)"),
        ("register", "register('a')\nregister('b')"),
    )
    nb.check("items", "acc_values", "registry")


# 9. iterators ----------------------------------------------------------------------------


def test_iterator_consumption_is_kept(nb: Notebook) -> None:
    """Advancing an iterator is a change to it: a bare `next(it)` (displayed, not assigned)
    and an unused `skipped = [...]` consume items, so rest == [2, 3, 4] and
    tail == [4, 9, 16] only if those statements are replayed; likewise a file handle's
    bare `fh.readline()` decides what `fh.read()` returns."""
    nb.add_inputs({"data.txt": "header\nrow 1\nrow 2\n"})
    nb.cells(
        ("xs", "xs = [1, 2, 3, 4]"),
        ("it", "it = iter(xs)"),
        ("next", "next(it)"),
        ("rest", "rest = list(it)"),
        ("gen", "gen = (x * x for x in range(5))"),
        ("skip", "skipped = [next(gen) for _ in range(2)]"),
        ("tail", "tail = list(gen)"),
        ("open", "fh = open('data.txt')"),
        ("header", "fh.readline()"),
        ("body", "body = fh.read()"),
    )
    nb.check("rest", "tail", "body")


# 10. random number generators ------------------------------------------------------------


def test_stdlib_random_seed_and_intermediate_draws_are_kept(nb: Notebook) -> None:
    """`random.seed(0)` and every draw between it and the target's draw (one assigned to an
    unused name, one a bare displayed expression, one printed, `random.shuffle` of `deck`, a
    bare call of a cell-defined function that draws) are replayed so that the stream
    matches; the shuffle also mutates `deck`."""
    nb.cells(
        ("import", "import random"),
        ("seed", "random.seed(0)"),
        ("unused", "unused = random.random()"),
        ("bare", "random.random()"),
        ("printed", "print(random.random())"),
        ("deck", "deck = list(range(10))"),
        ("shuffle", "random.shuffle(deck)"),
        ("def-noisy", "def noisy():\n    return random.random()"),
        ("call-noisy", "noisy()"),
        ("target", "drawn = random.randint(0, 10**6)"),
        ("after", "later = random.random()"),
    )
    nb.check("drawn", "deck")


def test_numpy_global_rng_seed_and_intermediate_draws_are_kept(nb: Notebook) -> None:
    """`np.random.seed(0)` then draws with `np.random.rand` not used by the target (a bare
    expression, an unused name) before the target's draw: all replayed, the arrays equal."""
    nb.cells(
        ("import", "import numpy as np"),
        ("seed", "np.random.seed(0)"),
        ("bare", "np.random.rand(3)"),
        ("unused", "noise = np.random.rand(2)"),
        ("target", "drawn = np.random.rand(4)"),
    )
    nb.check("drawn")


def test_numpy_generator_object_draws_are_kept(nb: Notebook) -> None:
    """`rng = np.random.default_rng(0)`: draws from `rng` change `rng`, so the draws made
    before the target's (a bare `rng.normal(size=3)` and an unused `rng.random()`) stay."""
    nb.cells(
        ("import", "import numpy as np"),
        ("rng", "rng = np.random.default_rng(0)"),
        ("bare", "rng.normal(size=3)"),
        ("unused", "u = rng.random()"),
        ("target", "drawn = rng.integers(0, 1000, size=5)"),
    )
    nb.check("drawn")


def test_unseeded_estimators_draw_from_the_seeded_global_stream(nb: Notebook) -> None:
    """Estimators with ``random_state=None`` draw from numpy's global generator. After
    ``np.random.seed(0)`` the same cell run three times gives three accuracies, each from
    where the last run left the stream: the third run's export replays the earlier fits
    (and the ``cross_val_score`` between them, which draws too) and gives its metrics
    exactly."""
    cell = (
        "%%track\n"
        "clf = RandomForestClassifier(n_estimators=3).fit(X, y)\n"
        "acc = clf.score(X, y)\n"
        "mltrack.log_metric('acc', acc)"
    )
    nb.cells(
        (
            "import",
            "import numpy as np\n"
            "from sklearn.datasets import load_digits\n"
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.model_selection import cross_val_score",
        ),
        ("seed", "np.random.seed(0)"),
        ("data", "X, y = load_digits(return_X_y=True)\nX, y = X[:600], y[:600]"),
        ("rf", cell),
        ("cv", "scores = cross_val_score(RandomForestClassifier(n_estimators=3), X, y, cv=3)"),
        ("rf", cell),
        ("rf", cell),
    )
    runs = nb.runs()
    logged = dict(runs[2].metrics)
    accuracies = {r.metrics["acc"] for r in runs}
    assert len(accuracies) > 1, "the runs drew the same trees: the stream did not move"
    export = nb.export(run="3")
    assert export.code.count("RandomForestClassifier(n_estimators=3).fit(X, y)") == 3
    export.assert_present("cross_val_score(")
    # autolog's metrics (the fit's time, the score's value) come back from the pipeline's
    # autologged run of the cell; the targets are the run's variables only
    assert {"fit_time", "score_X"} <= set(logged), sorted(logged)
    assert_metrics(nb.pipeline(export), logged)
    assert "TARGETS = ['acc']" in export.code, export.script


# 11. process state: working directory, sys.path, environment -----------------------------


def test_chdir_then_relative_read(nb: Notebook) -> None:
    """`os.chdir('sub')` changes what a relative path means: the script must change
    directory too before reading `data.txt` (it exists only in `sub/`)."""
    nb.add_inputs({"sub/data.txt": "hello from sub\n"})
    nb.cells(
        ("import", "import os\nfrom pathlib import Path"),
        ("chdir", "os.chdir('sub')"),
        ("read", "with open('data.txt') as fh:\n    text = fh.read()"),
        ("read-path", "size = len(Path('data.txt').read_text())"),
    )
    nb.check("text", "size")


def test_sys_path_insert_then_import_from_that_folder(nb: Notebook) -> None:
    """`sys.path.insert(0, 'lib')` is what makes `import mathhelpers` work: the script keeps
    it (the module exists only in the notebook's `lib/` folder)."""
    nb.add_inputs({"lib/mathhelpers.py": "def triple(x):\n    return 3 * x\n"})
    nb.cells(
        ("import", "import sys"),
        ("path", "sys.path.insert(0, 'lib')"),
        ("helpers", "import mathhelpers"),
        ("use", "tripled = mathhelpers.triple(5)"),
    )
    nb.check("tripled")


def test_environment_variable_set_then_read(nb: Notebook) -> None:
    """`os.environ[...] = 'on'` is kept because later reads (`os.environ.get`, `os.getenv`)
    depend on it; the pipeline's process does not have the variable."""
    nb.cells(
        ("import", "import os"),
        ("set", f"os.environ[{FLAG!r}] = 'on'"),
        ("get", f"flag = os.environ.get({FLAG!r}, 'off')"),
        ("getenv", f"flag2 = os.getenv({FLAG!r})"),
    )
    nb.check("flag", "flag2")


# 12. files -------------------------------------------------------------------------------


def test_file_written_then_read_back_by_path(nb: Notebook) -> None:
    """`df.to_csv('a.csv')` then `pd.read_csv('a.csv')`: the write is part of the slice
    (the pipeline runs in a folder without a.csv). Writes to other files in between
    (other.csv, notes.txt) are not: neither their code appears nor the files are created;
    nor is a.csv rewritten after it was read. Both appends to log.txt feed `log_text`."""
    nb.cells(
        ("import", "import pandas as pd"),
        ("df", "df = pd.DataFrame({'a': [1, 2, 3], 'b': [0.5, 1.5, 2.5]})"),
        ("write", "df.to_csv('a.csv', index=False)"),
        ("other", "pd.DataFrame({'z': [9]}).to_csv('other.csv')"),
        ("notes", "with open('notes.txt', 'w') as fh:\n    fh.write('unrelated')"),
        ("read", "loaded = pd.read_csv('a.csv')"),
        ("rewrite", "pd.DataFrame({'zz_late': [1]}).to_csv('a.csv')"),
        ("log-1", "with open('log.txt', 'a') as fh:\n    fh.write('one;')"),
        ("log-2", "with open('log.txt', 'a') as fh:\n    fh.write('two;')"),
        ("log-read", "with open('log.txt') as fh:\n    log_text = fh.read()"),
    )
    export = nb.check("loaded", "log_text")
    export.assert_absent("other.csv", "notes.txt", "zz_late")
    assert "a.csv" in export.files_after_run
    assert "other.csv" not in export.files_after_run
    assert "notes.txt" not in export.files_after_run
    assert "pandas" in export.requirements, export.requirements_text


# 13. star imports ------------------------------------------------------------------------


def test_star_import(nb: Notebook) -> None:
    """`from math import *` binds `sqrt` and `pi` without naming them: the script still
    defines them (and stays ruff-clean, e.g. by importing the names it uses)."""
    nb.cells(
        ("star", "from math import *"),
        ("root", "root = sqrt(16.0)"),
        ("circle", "circle = 2 * pi"),
    )
    nb.check("root", "circle")


# 14. display-only code -------------------------------------------------------------------


def test_display_only_lines_are_dropped(nb: Notebook) -> None:
    """Lines that only show something (`df.head()`, `df.describe()`, `df.info()`, a bare
    `x`, `print`, `display`) change nothing the targets depend on: not in the script."""
    nb.cells(
        ("import", "import pandas as pd"),
        ("df", "df = pd.DataFrame({'a': [1, 2, 3]})"),
        ("head", "df.head()"),
        ("x", "x = 41"),
        ("show-x", "x"),
        ("print", "print(x)"),
        ("y", "y = x + 1\ndf.describe()"),
        ("display", "display(df)"),
        ("info", "df.info()"),
    )
    export = nb.check("y", "df")
    assert "x" not in bare_names(export), export.script
    export.assert_absent("df.head()", "df.describe()", "print(x)", "display(df)", "df.info()")


# 15. exceptions --------------------------------------------------------------------------


def test_cell_that_raised_keeps_the_statements_before_the_error(nb: Notebook) -> None:
    """A cell failed at its third statement: the two statements before it ran and matter
    (lst == [1], val == 10); the failing statement and the ones after it never completed
    and must not be in the script (which would raise, or append 2222)."""
    nb.run("lst", "lst = []")
    boom = [
        "lst.append(1)",
        "val = 10",
        "val = val + int('not a number')",
        "lst.append(2222)",
        "val = 3333",
    ]
    nb.fail("boom", "\n".join(boom), "ValueError")
    nb.run("total", "total = sum(lst) + val")
    export = nb.check("lst", "val", "total")
    export.assert_absent("not a number", "2222", "3333")


# 16. branches not taken ------------------------------------------------------------------


def test_branch_not_taken_is_dropped_with_what_only_it_uses(nb: Notebook) -> None:
    """`if len(xs) > 100:` was false at run time: its body (calling a helper defined in an
    earlier cell and a name defined nowhere) is not in the script, nor is the helper; the
    `else` branch that ran is, and the script is well-formed."""
    nb.cells(
        ("xs", "xs = [1, 2, 3]"),
        ("helper", "def expensive(v):\n    return [i * 9999 for i in v]"),
        (
            "branch",
            "if len(xs) > 100:\n"
            "    out = expensive(xs) + undefined_name\n"
            "else:\n"
            "    out = [x + 1 for x in xs]\n",
        ),
    )
    export = nb.check("out")
    export.assert_absent("expensive", "undefined_name", "9999")


def test_branch_never_taken_inside_a_loop_reading_an_undefined_name_refuses_the_export(
    nb: Notebook,
) -> None:
    """Inside a loop, branches are not marked (a marker would run on every pass, more than
    the log's budget in a tight loop): the loop is exported whole, including a branch no
    iteration took that refers to a name defined nowhere. The script is never written with
    that undefined name hidden (``# noqa: F821``): the export refuses, naming the line and
    the name, and writes no pipeline. Without that branch the loop exports and runs."""
    nb.cells(
        ("xs", "xs = [1, 2, 3]"),
        (
            "loop",
            "acc = 0\n"
            "for v in xs:\n"
            "    if v > 100:\n"
            "        acc += missing_fn(v)\n"
            "    else:\n"
            "        acc += v\n",
        ),
    )
    message, out = nb.export_error("acc")
    assert "'acc += missing_fn(v)'): no statement of the session defines `missing_fn`" in (
        message
    ), message
    assert not (out / "pipeline.py").exists()
    nb.run(
        "loop",
        "acc = 0\nfor v in xs:\n    if v > 100:\n        acc += 2 * v\n    else:\n        acc += v\n",
    )
    nb.check("acc")


# 17. magics and shell commands ------------------------------------------------------------


def test_magics_are_dropped_or_become_their_code(nb: Notebook) -> None:
    """`%matplotlib inline`, `%load_ext autoreload` and `%autoreload 2` are dropped;
    `%time x = compute()`, a `%%time` cell and a `%%capture out` cell become their code (the
    print the capture swallowed is display-only and goes too). When a later cell reads what
    a capture caught (`log.stdout`), the cell runs under IPython's `capture_output` in the
    script too, once, prints included."""
    if importlib.util.find_spec("matplotlib") is not None:  # a bench extra (via mlflow)
        nb.run("mpl", "%matplotlib inline")
    nb.cells(
        ("autoreload", "%load_ext autoreload\n%autoreload 2"),
        ("def", "def compute():\n    return 21"),
        ("time", "%time x = compute()"),
        ("cell-time", "%%time\ny = x * 2"),
        ("capture", "%%capture out\nz = y + 1\nprint('noise')"),
        ("capture-read", "%%capture log --no-stderr\nprint('hello')\nw = z * 2"),
        ("use-log", "shown = log.stdout.strip() + str(w)"),
    )
    export = nb.check("x", "y", "z", "shown")
    export.assert_absent("matplotlib", "autoreload", "noise", "CapturedIO")
    assert export.code.count("w = z * 2") == 1, export.code
    assert "with capture_output(stderr=False) as log:" in export.code, export.code
    assert "ipython" in export.requirements, export.requirements_text
    for line in export.script.splitlines():
        assert not line.lstrip().startswith(("%", "!")), export.script


def test_pip_installs_are_dropped_and_become_requirements(nb: Notebook) -> None:
    """`!pip install six` and `%pip install -q packaging` (both already installed, and the
    kernel has PIP_NO_INDEX set, so nothing is downloaded) are not in the script; the
    packages are in requirements.txt, the options are not."""
    nb.cells(
        ("pip-shell", "!pip install six"),
        ("pip-magic", "%pip install -q packaging"),
        ("import", "import six\nfrom packaging.version import Version"),
        ("use", "kind = six.__name__\nnewer = Version('1.10') > Version('1.9')"),
    )
    export = nb.check("kind", "newer")
    export.assert_absent("pip install", "'install'")
    assert {"six", "packaging"} <= export.requirements, export.requirements_text
    assert not export.requirements & {"pip", "install", "q"}, export.requirements_text


def test_shell_capture_cannot_be_exported_and_the_error_names_the_line(nb: Notebook) -> None:
    """`files = !ls` has no plain-Python translation: exporting a target that depends on it
    fails with an error quoting that line, and writes no pipeline."""
    nb.cells(
        ("ls", "files = !ls"),
        ("count", "n_files = len(files)"),
    )
    message, out = nb.export_error("n_files")
    assert "files = !ls" in message, message
    assert not (out / "pipeline.py").exists()


# 18. a tracked run as the target, and parameters -----------------------------------------


def test_tracked_run_export_returns_its_metrics_and_takes_parameters(nb: Notebook) -> None:
    """`--run 1` exports the `%%track` cell's run: `run()` returns its metrics (the logged
    `score`, `half` from `log_metrics` and the last expression's `value`), equal to those
    the store recorded. `lr` and `epochs`, bound once to a literal, are the parameters
    (params.yaml holds the notebook's values; the derived `steps` is not one):
    `run(lr=0.25)` and `python pipeline.py --lr 0.25` change the result, and `--epochs 4`
    flows through `steps = epochs * 10`."""
    nb.cells(
        ("lr", "lr = 0.5"),
        ("epochs", "epochs = 3"),
        ("steps", "steps = epochs * 10"),
        ("unrelated", "label = 'not used by the run'"),
        (
            "train",
            "%%track\n"
            "score = lr * steps\n"
            "mltrack.log_metric('score', score)\n"
            "mltrack.log_metrics({'half': score / 2})\n"
            "score / 10",
        ),
    )
    runs = nb.runs()  # once its end (its metrics) is written
    assert len(runs) == 1 and runs[0].number == 1 and runs[0].experiment == "analysis"
    logged = runs[0].metrics
    assert logged == {"score": 15.0, "half": 7.5, "value": 1.5}

    export = nb.export(run="1")
    assert export.params == {"lr": 0.5, "epochs": 3}, export.params_text
    export.assert_absent("not used by the run")

    def metrics(result: dict) -> dict:
        assert set(logged) <= set(result), f"run() gave {sorted(result)}, logged {sorted(logged)}"
        return {key: result[key] for key in logged}

    assert_same("metrics", metrics(nb.pipeline(export)), logged)
    lower_lr = {"score": 7.5, "half": 3.75, "value": 0.75}
    more_epochs = {"score": 20.0, "half": 10.0, "value": 2.0}
    assert_same("metrics", metrics(nb.pipeline(export, lr=0.25)), lower_lr)
    assert_same("metrics", metrics(nb.cli(export)), logged)
    assert_same("metrics", metrics(nb.cli(export, "--lr", "0.25")), lower_lr)
    assert_same("metrics", metrics(nb.cli(export, "--epochs", "4")), more_epochs)


def test_a_runs_targets_are_its_variables_and_autologs_metrics_come_back(nb: Notebook) -> None:
    """A tracked search autologs `fit_time`, `best_score`, `mean_test_score`…: those are no
    variables of the notebook, so `TARGETS` lists only `best`, the variable the cell logged.
    The pipeline's run autologs its cell as `%%track` did, so `run()` gives every metric the
    run logged (training times aside). A `%%track --no-autolog` run's export does not
    autolog: `run()` gives what the cell logged, nothing more."""
    search = (
        "search = GridSearchCV(LogisticRegression(max_iter=500), {'C': [0.1, 1.0]}, cv=3)\n"
        "search.fit(X, y)\n"
        "best = search.best_score_\n"
        "mltrack.log_metric('best', best)"
    )
    nb.cells(
        (
            "import",
            "from sklearn.datasets import load_iris\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.model_selection import GridSearchCV",
        ),
        ("data", "X, y = load_iris(return_X_y=True)"),
        ("search", "%%track\n" + search),
        ("plain", "%%track --no-autolog\n" + search),
    )
    autologged, plain = nb.runs()
    assert {"fit_time", "best_score", "mean_test_score", "best"} <= set(autologged.metrics)
    assert sorted(plain.metrics) == ["best"]

    export = nb.export(run="1")
    assert "TARGETS = ['best']" in export.code, export.script
    assert "targets: best\n" in export.printed, export.printed
    assert_metrics(nb.pipeline(export), autologged.metrics)

    export = nb.export(run="2")
    export.assert_present("mltrack.cell_begins(autolog=False)")
    got = nb.pipeline(export)
    assert sorted(got) == ["best"], sorted(got)
    assert_metrics(got, plain.metrics)


# 19. a realistic training notebook, and what the log never saw ------------------------------


def test_a_training_notebook_with_library_calls_that_change_their_arguments(
    nb: Notebook,
) -> None:
    """scikit-learn's `fit` changes the estimator, `train_test_split` does not change its
    input, `np.random.shuffle` and `random.shuffle` change their argument and draw from the
    global RNG, `list.sort`, `dict.update`, `setdefault` and `set.add` change their receiver,
    a value held in a dict is changed through a chain (`cfg['layers'].append`), and a chained
    assignment makes two names for one list; a generator is advanced in one cell and read in
    another. Every value the pipeline returns equals the kernel's; the unrelated model is
    not exported."""
    nb.cells(
        (
            "imports",
            "import random\nimport numpy as np\nimport pandas as pd\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.model_selection import train_test_split",
        ),
        (
            "data",
            "rng = np.random.default_rng(0)\nX = rng.normal(size=(200, 3))\n"
            "y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)",
        ),
        (
            "frame",
            "df = pd.DataFrame(X, columns=list('abc'))\ndf['y'] = y\ndf.loc[df.a > 2, 'a'] = 2",
        ),
        ("split", "Xtr, Xte, ytr, yte = train_test_split(df[list('abc')], df.y, random_state=1)"),
        ("C", "C = 0.3"),
        (
            "fit",
            "model = LogisticRegression(C=C)\nmodel.fit(Xtr, ytr)\nacc = model.score(Xte, yte)",
        ),
        ("other-model", "other = LogisticRegression(C=99.0)\nother.fit(Xte, yte)"),
        (
            "shuffle",
            "idx = np.arange(10)\nnp.random.seed(3)\nnp.random.shuffle(idx)\nfirst = int(idx[0])",
        ),
        (
            "lists",
            "random.seed(5)\nitems = list(range(10))\nrandom.shuffle(items)\n"
            "items.sort(reverse=True)\ntop = sorted(items)[:3]",
        ),
        (
            "dicts",
            "cfg = {'layers': [1, 2]}\ncfg.update(a=1)\ncfg.setdefault('b', 2)\n"
            "seen = set()\nseen.add(3)\nalias = same = []",
        ),
        ("chains", "cfg['layers'].append(3)\nsame.append(5)"),
        (
            "gen",
            "def counter():\n    n = 0\n    while True:\n        n += 1\n        yield n\nc = counter()\nnext(c)",
        ),
        ("gen-more", "next(c)\nthird = next(c)"),
    )
    export = nb.check("acc", "first", "items", "top", "cfg", "seen", "alias", "third")
    export.assert_absent("C=99.0")
    assert {"numpy", "pandas", "scikit-learn"} <= export.requirements, export.requirements_text


def test_numpy_cached_normal_draw_is_a_draw(nb: Notebook) -> None:
    """numpy's legacy generator makes normal draws in pairs and caches the second: a cell
    taking the cached value moves none of the generator's words, yet depends on the seed and
    on the draw that filled the cache."""
    nb.cells(
        ("imports", "import numpy as np"),
        ("seed", "np.random.seed(7)"),
        ("first", "a = float(np.random.randn())"),
        ("cached", "b = float(np.random.randn())"),
    )
    nb.check("b")


# 20. functions passed as values: their globals are read when the library calls them ----------


def test_callback_passed_to_a_library_keeps_the_globals_its_body_reads(nb: Notebook) -> None:
    """`refit_strategy` is never called by the notebook, only handed to `GridSearchCV` as
    `refit=`; its body reads `pd`, so the slice keeps `import pandas as pd` (the script used to
    drop it and die with NameError). Exported as a run and as a variable."""
    nb.cells(
        ("imports", "import pandas as pd\nimport json"),
        (
            "sklearn",
            "from sklearn.datasets import load_iris\nfrom sklearn.svm import SVC\n"
            "from sklearn.model_selection import GridSearchCV",
        ),
        ("data", "X, y = load_iris(return_X_y=True)"),
        (
            "def-refit",
            "def refit_strategy(cv_results):\n"
            "    return pd.DataFrame(cv_results)['mean_test_score'].idxmax()",
        ),
        (
            "train",
            "%%track\n"
            "search = GridSearchCV(SVC(), {'C': [0.1, 1]}, refit=refit_strategy).fit(X, y)\n"
            "mltrack.log_metric('best_index', int(search.best_index_))",
        ),
        ("best", "best_index = int(search.best_index_)\nbest_c = search.best_params_['C']"),
    )
    export = nb.check("best_index", "best_c")
    export.assert_present("import pandas as pd")
    run_export = nb.export(run="1")
    run_export.assert_present("import pandas as pd")
    logged = nb.values("best_index")["best_index"]
    assert nb.pipeline(run_export)["best_index"] == logged


def test_key_function_and_methods_passed_as_values_read_globals_at_call_time(
    nb: Notebook,
) -> None:
    """`sorted(items, key=keyfunc)`, `series.apply(shift)` and a bound method passed as
    `key=` read globals in their bodies (`offset`, `step`, `factor`), which must be bound in
    the script as they were when the callbacks ran: `offset` changed after the def and after
    the sort (the later value must not leak in)."""
    nb.cells(
        ("imports", "import pandas as pd"),
        ("offset", "offset = 1"),
        ("def-key", "def keyfunc(v):\n    return abs(v - offset)"),
        ("offset-2", "offset = 10"),
        ("items", "items = [3, 12, 8, 15]"),
        ("sort", "ordered = sorted(items, key=keyfunc)"),
        ("offset-3", "offset = 0"),
        ("step", "step = 100"),
        ("def-shift", "def shift(v):\n    return v + step"),
        ("apply", "shifted = pd.Series([1, 2]).apply(shift)"),
        (
            "class",
            "class Weigher:\n    def weight(self, v):\n        return -v * factor\n",
        ),
        ("factor", "factor = 2"),
        ("weigher", "w = Weigher()"),
        ("by-weight", "by_weight = sorted(items, key=w.weight)"),
    )
    nb.check("ordered", "shifted", "by_weight")


# 21. imports are side effects: kept per top-level package, dropped when nothing uses it ----


def test_an_import_that_only_enables_another_is_kept_and_unused_packages_are_dropped(
    nb: Notebook,
) -> None:
    """`from sklearn.experimental import enable_halving_search_cv` binds nothing the script
    reads, but without it `from sklearn.model_selection import HalvingRandomSearchCV` raises
    ImportError: it is kept, before that import, because the slice uses sklearn. `import json`
    (nothing in the slice uses json) and the warnings filter are dropped; an unused name
    imported from a module the script imports anyway (`f1_score`) is not written either."""
    nb.cells(
        ("imports", "import json\nimport warnings\nimport numpy as np"),
        ("quiet", "warnings.filterwarnings('ignore')"),
        ("enable", "from sklearn.experimental import enable_halving_search_cv"),
        (
            "sklearn",
            "from sklearn.datasets import load_iris\n"
            "from sklearn.metrics import accuracy_score, f1_score\n"
            "from sklearn.model_selection import HalvingRandomSearchCV\n"
            "from sklearn.tree import DecisionTreeClassifier",
        ),
        ("config", "config = json.dumps({'depths': [1, 2, 3, 4]})"),
        ("data", "X, y = load_iris(return_X_y=True)"),
        (
            "search",
            "search = HalvingRandomSearchCV(\n"
            "    DecisionTreeClassifier(random_state=0), {'max_depth': [1, 2, 3, 4]},\n"
            "    factor=2, random_state=0,\n"
            ").fit(X, y)\n"
            "best_depth = int(search.best_params_['max_depth'])\n"
            "acc = float(accuracy_score(y, search.predict(X)))",
        ),
    )
    export = nb.check("best_depth", "acc")
    imports = export.top_imports
    enable = "from sklearn.experimental import enable_halving_search_cv"
    halving = "from sklearn.model_selection import HalvingRandomSearchCV"
    assert enable in imports and halving in imports, export.script
    assert imports.index(enable) < imports.index(halving), export.script
    assert not any("json" in i or "warnings" in i or "f1_score" in i for i in imports), imports
    export.assert_absent("filterwarnings", "depths")


def test_set_up_calls_of_a_used_package_are_kept(nb: Notebook) -> None:
    """`pd.set_option(...)`, `np.set_printoptions(...)` and `matplotlib.use("Agg")` bind
    nothing, yet what the slice computes depends on them (the text of a frame and of an
    array, the backend): they are set-up of packages the slice uses, so they are kept, in
    the order they ran; `plt.rcParams[...] = 72`, a set-up assignment, too."""
    nb.cells(
        ("imports", "import numpy as np\nimport pandas as pd"),
        ("pd-option", "pd.set_option('display.precision', 2)"),
        ("np-option", "np.set_printoptions(precision=1)"),
        ("mpl", "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt"),
        ("dpi", "plt.rcParams['figure.dpi'] = 72"),
        ("frame", "frame = pd.DataFrame({'a': [1.23456, 2.5]})"),
        ("texts", "frame_text = frame.to_string()\narray_text = str(np.array([1.23456]))"),
        ("figure", "fig = plt.figure()\ndpi = float(fig.dpi)\nbackend = plt.get_backend()"),
    )
    export = nb.check("frame_text", "array_text", "dpi", "backend")
    export.assert_present(
        "pd.set_option('display.precision', 2)",
        "np.set_printoptions(",
        "matplotlib.use('Agg')",
        "plt.rcParams['figure.dpi'] = 72",
    )
    values = nb.values("frame_text", "dpi")
    assert "1.23" in values["frame_text"] and values["dpi"] == 72.0, values


# 22. unseeded global RNGs: the script restores the kernel's state, and the export warns ------


def test_unseeded_draws_restore_the_kernels_state_and_the_export_warns(nb: Notebook) -> None:
    """The notebook never seeds: `np.random.rand`, `KMeans()` without `random_state`
    (which draws from numpy's global generator) and `random.random()` drew from the OS's
    entropy. The script restores, before each of those lines, the state the kernel's
    generator had (from rng_state.json beside it), so it computes the kernel's values
    exactly — an earlier draw not in the slice (`noise`) changes nothing — and the export
    warns, naming each line."""
    nb.cells(
        ("imports", "import random\nimport numpy as np\nfrom sklearn.cluster import KMeans"),
        ("noise", "noise = np.random.rand(3)"),
        ("data", "X = np.random.rand(60, 2)"),
        ("km", "km = KMeans(n_clusters=3, n_init=1).fit(X)\ncenters = km.cluster_centers_"),
        ("coin", "coin = random.random()"),
        ("normal", "z = float(np.random.randn())"),
    )
    export = nb.check("centers", "coin", "z")
    printed = export.printed
    for cell, code in (
        ("data", "X = np.random.rand(60, 2)"),
        ("km", "km = KMeans(n_clusters=3, n_init=1).fit(X)"),
        ("coin", "coin = random.random()"),
        ("normal", "z = float(np.random.randn())"),
    ):
        assert f"(cell {cell}), line 1: {code!r} draws from" in printed, printed
    assert "never seeds" in printed, printed
    export.assert_absent("noise")
    states = json.loads((export.dir / "rng_state.json").read_text())
    assert [s["stream"] for s in states] == ["numpy", "numpy", "random", "numpy"], states
    assert all(len(s["key"]) == 624 for s in states)
    assert export.code.count("restore_rng(") == 1 + len(states), export.script


#: A module that draws from `random` as it is first imported, as `rich` does (scikit-learn
#: imports it when it is installed): a library initialising itself, not the notebook's draw.
DRAWS_ON_IMPORT = {"idmaker.py": "import random\n\nFIRST_ID = random.getrandbits(24)\n"}


def test_an_import_drawing_from_an_unseeded_stream_is_hoisted_and_not_warned_about(
    nb: Notebook,
) -> None:
    """The import is no draw of the notebook's: it goes to the script's top like any import,
    the export warns only about the notebook's own draw, and the state restored before that
    draw (which the import had already advanced in the kernel) gives the kernel's value."""
    nb.add_inputs(DRAWS_ON_IMPORT)
    nb.cells(
        ("imports", "import random"),
        ("lib", "import idmaker"),
        ("coin", "coin = random.random() + idmaker.FIRST_ID * 0"),
    )
    export = nb.check("coin")
    assert "import idmaker" in export.top_imports, export.script
    assert "cell lib" not in export.printed, export.printed
    assert "(cell coin), line 1:" in export.printed, export.printed
    states = json.loads((export.dir / "rng_state.json").read_text())
    assert [s["stream"] for s in states] == ["random"], states


def test_an_import_drawing_from_a_seeded_stream_is_restored_after_without_warning(
    nb: Notebook,
) -> None:
    """After `random.seed(1)`, the import's draw shifts the seeded stream. The script imports
    at its top and once per process, so replaying the seed would give other values (and a
    second run() others again): the stream's next draw is given the kernel's state instead,
    and the notebook, which did seed, is not warned about."""
    nb.add_inputs(DRAWS_ON_IMPORT)
    nb.cells(
        ("imports", "import random"),
        ("seed", "random.seed(1)"),
        ("lib", "import idmaker"),
        ("coin", "coin = random.random() + idmaker.FIRST_ID * 0"),
    )
    export = nb.check("coin")
    assert "import idmaker" in export.top_imports, export.script
    assert "warning" not in export.printed, export.printed
    states = json.loads((export.dir / "rng_state.json").read_text())
    assert [s["stream"] for s in states] == ["random"], states


def test_a_seeded_notebook_restores_nothing_and_warns_nothing(nb: Notebook) -> None:
    """After `np.random.seed(0)` the stream is replayed from the seed: no rng_state.json,
    no restore, no warning."""
    nb.cells(
        ("imports", "import numpy as np"),
        ("seed", "np.random.seed(0)"),
        ("draw", "drawn = np.random.rand(3)"),
    )
    export = nb.check("drawn")
    assert not (export.dir / "rng_state.json").exists()
    assert "restore_rng" not in export.script and "warning" not in export.printed


def test_a_run_cell_ending_with_an_object_is_not_logged_as_a_dict(nb: Notebook) -> None:
    """A tracked cell that logs a metric and ends with a name bound to an object (a model,
    the result of ``log_model``): only a dict the cell showed was logged as metrics, so the
    script shows the object and does not pass it to ``log_metrics`` (which would fail)."""
    nb.cells(
        (
            "train",
            "%%track\n"
            "from types import SimpleNamespace\n"
            "score = 0.75\n"
            "mltrack.log_metric('score', score)\n"
            "info = SimpleNamespace(ref='run/model')\n"
            "info",
        ),
    )
    (run,) = nb.runs()
    assert run.metrics == {"score": 0.75}
    export = nb.export(run="1")
    assert "log_metrics(info)" not in export.code
    assert_same("metrics", {"score": nb.pipeline(export)["score"]}, {"score": 0.75})
