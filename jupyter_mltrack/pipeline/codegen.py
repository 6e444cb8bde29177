"""Writing the slice as a clean, importable script: ``pipeline.py`` and ``params.yaml``.

Layout of the generated ``pipeline.py``:

* imports at the top (every import the slice needs, once, in the order they first ran);
* ``PARAMS``: the names bound once to a literal in the slice, with the notebook's values;
* one function per markdown section of the notebook (the heading above each cell), holding
  that section's statements in the order they ran, each run of them under a comment
  pointing back to its cell. The notebook's variables live in the module's namespace, as
  they lived in the kernel's, so each section declares ``global`` what it binds: functions
  defined in cells keep reading globals late and ``global`` statements keep working;
* ``run(**params) -> dict``: applies the parameters, runs the sections in order and returns
  the targets by name (for a run: its metrics and named outputs);
* a ``__main__`` block: ``--NAME VALUE`` for each parameter, defaults from ``params.yaml``;
* a dataset the notebook got by a tag (``mltrack.datasets.get("team/churn@gold")``) is
  got by the hash of the version it was then (:mod:`.datasets`);
* where the slice draws from a global RNG the notebook never seeded, ``restore_rng(n)``
  before that statement: it puts the generator in the state the kernel's had (entry ``n``
  of ``rng_state.json``, beside the script), so the script draws the kernel's values.

Nothing runs at import. ``mltrack`` in the notebook's code is a small recorder: it collects
the metrics the run logs (what ``run()`` returns) and, when jupyter_mltrack is installed and
a store is found, records the pipeline's run, linked to the notebook's.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .datasets import pin_datasets
from .script_imports import _import_block, _names_used, _split_imports, _tracker_aliases
from .script_runtime import _MAIN, _RESTORE_RNG, _RUN, _TRACKER
from .steps import Step, cell_label

HEADER = '''"""{title}

Exported by jupyter_mltrack from {origin}.
{what}
Run it: ``python pipeline.py [--NAME VALUE ...]`` (defaults in params.yaml), or from Python:
``import pipeline; results = pipeline.run(NAME=VALUE)``.
"""
'''


@dataclass
class Section:
    """The statements of one markdown section (the heading above their cells): a function."""

    title: str
    steps: list[Step] = field(default_factory=list)
    #: The function's name: the title as an identifier, clear of the notebook's own names.
    name: str = ""


@dataclass
class RunTarget:
    """What a tracked run logged, to reproduce in the script's results."""

    run_id: str
    experiment: str | None
    name: str | None
    #: The run's cell: its last expression becomes a metric, ``-m`` names are logged after it.
    execution_seq: int
    metric_names: list[str] = field(default_factory=list)
    last_expression_metric: str | None = None
    last_expression_dict: bool = False
    outputs: list[str] = field(default_factory=list)
    #: The run's number in its experiment, as the sidebar and ``mltrack runs`` show it.
    number: int | None = None
    #: The cell's last expression is kept and shown to ``mltrack`` (``mltrack.show(expr)``):
    #: the value the notebook displayed, which ``mltrack reproduce`` compares.
    show_last: bool = False
    #: The cell autologged (``%%track`` without ``--no-autolog``): the script's run of it
    #: autologs too, so ``run()`` returns the metrics autolog recorded in the notebook.
    autolog: bool = True


def _run_title(run: RunTarget) -> str:
    """``run #3 'baseline' of experiment 'churn' (a643f23e)``, as a person finds it."""
    number = f" #{run.number}" if run.number is not None else ""
    name = f" {run.name!r}" if run.name else ""
    experiment = f" of experiment {run.experiment!r}" if run.experiment else ""
    return f"run{number}{name}{experiment} ({run.run_id[:8]})"


@dataclass
class Plan:
    """Everything the script is made from."""

    steps: list[Step]
    targets: list[str]
    sections: dict[str, str]  # cell id -> section title
    origin: str
    run: RunTarget | None = None
    input_files: dict[str, str] = field(default_factory=dict)  # path as read -> digest
    experiment: str | None = None
    #: ``id(step) -> entries of rng_state.json`` to restore before it (see
    #: :func:`.export.rng_restores`).
    rng_restores: dict[int, list[int]] = field(default_factory=dict)


def _identifier(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text.lower())
    name = "_".join(words) or "steps"
    if name[0].isdigit():
        name = "section_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name


def _literal_parameter(step: Step) -> tuple[str, Any] | None:
    """``name = <simple literal>``: a parameter candidate."""
    try:
        tree = ast.parse(step.stmt.code)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    node = tree.body[0]
    if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
        return None
    try:
        value = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not _simple(value):
        return None
    return node.targets[0].id, value


def _simple(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if depth < 2 and isinstance(value, list):
        return len(value) <= 32 and all(_simple(v, depth + 1) for v in value)
    if depth < 2 and isinstance(value, dict):
        return len(value) <= 32 and all(
            isinstance(k, str) and _simple(v, depth + 1) for k, v in value.items()
        )
    return False


def parameters(steps: Sequence[Step]) -> dict[str, tuple[Step, Any]]:
    """Names bound exactly once in the slice, to a literal, and never changed in place."""
    bound: dict[str, int] = {}
    for step in steps:
        for name in step.stmt.binds:
            bound[name] = bound.get(name, 0) + 1
    written = {oid for step in steps for oid in step.writes}
    out: dict[str, tuple[Step, Any]] = {}
    for step in steps:
        found = _literal_parameter(step)
        if found is None:
            continue
        name, value = found
        identity = step.fact.get("bound", {}).get(name)
        oid = identity if isinstance(identity, int) else None
        changed_later = oid is not None and any(
            oid in s.writes for s in steps if s.order > step.order
        )
        if bound.get(name) == 1 and not changed_later and name not in keyword.kwlist:
            out[name] = (step, value)
    del written
    return out


#: Names the script itself defines: a section function must not take one of them.
RESERVED = frozenset(
    {
        "run",
        "main",
        "PARAMS",
        "TARGETS",
        "INPUT_FILES",
        "PARENT_RUN",
        "EXPERIMENT",
        "ORIGIN",
        "mltrack",
        "check_inputs",
        "restore_inputs",
        "restore_rng",
    }
)


def _sections(steps: Sequence[Step], titles: Mapping[str, str]) -> list[Section]:
    """Consecutive steps of the same markdown section, in the order they ran."""
    out: list[Section] = []
    for step in steps:
        title = titles.get(step.execution.cell_id or "", "")
        if out and out[-1].title == title:
            out[-1].steps.append(step)
        else:
            out.append(Section(title, [step]))
    taken = set(RESERVED) | {n for s in steps for n in s.stmt.binds | s.stmt.reads}
    seen: dict[str, int] = {}
    for section in out:  # unique function names, clear of the notebook's own names
        name = _identifier(section.title)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}_{seen[name]}"
        while name in taken:
            name = f"{name}_section"
        taken.add(name)
        section.name = name
    return out


def _docstring(section: Section) -> str:
    """The section's heading as the function's docstring (quotes and backslashes, which
    could end or escape it, become harmless look-alikes)."""
    text = section.title or "The cells above the notebook's first heading, as they ran."
    return '"""' + text.replace("\\", "/").replace('"', "'") + '"""'


def _bound_names(code: str) -> set[str]:
    """Names a piece of top-level code binds in its namespace."""
    from .analysis import analyse_cell

    names: set[str] = set()
    for stmt in analyse_cell(code):
        names |= stmt.binds
    return names


def _indent(code: str, prefix: str = "    ") -> str:
    return "".join(prefix + line if line.strip() else line for line in code.splitlines(True))


def _run_metric_code(step: Step, run: RunTarget, last: Step | None) -> str:
    """The code of a step, with a tracked cell's numeric last expression logged as the metric
    the notebook logged for it."""
    code = step.stmt.code
    if step is not last or not step.stmt.expression:
        return code
    expr = code.strip()
    if run.last_expression_dict:
        return f"mltrack.log_metrics({expr})\n"
    if run.last_expression_metric:
        return f"mltrack.log_metric({run.last_expression_metric!r}, {expr})\n"
    if run.show_last:
        return f"mltrack.show({expr})\n"
    return code


def generate(plan: Plan) -> tuple[str, str]:
    """``(pipeline.py, params.yaml)`` for a plan."""
    params = parameters(plan.steps)
    param_steps = {id(step) for step, _ in params.values()}
    imports, body_steps = _split_imports(plan.steps, plan.rng_restores)
    body_steps = [s for s in body_steps if id(s) not in param_steps]
    sections = _sections(body_steps, plan.sections)
    body: list[str] = []
    if params:
        body.append(
            "#: Parameters: the notebook's values; ``run()`` and the command line override them.\n"
        )
        for name, (_step, value) in params.items():
            body.append(f"{name} = {value!r}\n")
        body.append("\n")
    body.append("PARAMS = {" + ", ".join(f"{n!r}: {n}" for n in params) + "}\n")
    body.append(f"TARGETS = {list(plan.targets)!r}\n")
    body.append(
        "#: Files the notebook read, with the digest of the data it read (its snapshots).\n"
        f"INPUT_FILES = {dict(plan.input_files)!r}\n"
    )
    parent = plan.run.run_id if plan.run else None
    body.append(f"PARENT_RUN = {parent!r}\n")
    body.append(f"EXPERIMENT = {plan.experiment!r}\n")
    body.append(f"ORIGIN = {plan.origin!r}\n")

    last = _last_of(plan.steps, plan.run.execution_seq) if plan.run else None
    for section in sections:
        body.append("\n\n")
        body.append(f"def {section.name}() -> None:\n")
        body.append(f"    {_docstring(section)}\n")
        bound: set[str] = set()
        chunks: list[str] = []
        label = None
        for step in section.steps:
            code = _run_metric_code(step, plan.run, last) if plan.run else step.stmt.code
            code, pinned = pin_datasets(code, step.fact.get("datasets"))
            bound |= _bound_names(code)
            here = f"# {cell_label(step.execution)}"
            if here != label:
                chunks.append(here + "\n")
                label = here
                if plan.run and step.execution.seq == plan.run.execution_seq:
                    # where the run's own cell starts: what it prints from here on, and the
                    # values it binds, are what ``mltrack reproduce`` compares; autolog
                    # records from here on, as ``%%track`` did in the notebook
                    arguments = "" if plan.run.autolog else "autolog=False"
                    chunks.append(f"mltrack.cell_begins({arguments})\n")
            for index in plan.rng_restores.get(id(step), ()):
                chunks.append(f"restore_rng({index})  # unseeded in the notebook\n")
            chunks.extend(pinned)
            chunks.append(code if code.endswith("\n") else code + "\n")
            if plan.run and step is last:
                for name in plan.run.metric_names:
                    chunks.append(f"mltrack.log_metric({name!r}, {name})\n")
        declared = sorted(n for n in bound if n.isidentifier())
        if declared:
            body.append(f"    global {', '.join(declared)}\n")
        body.append(_indent("".join(chunks)))
    body.append(
        _RUN.format(
            calls="".join(f"        {s.name}()\n" for s in sections) or "        pass\n",
            results=_results(plan),
        )
    )
    body.append(_TRACKER)
    if plan.rng_restores:
        body.append(_RESTORE_RNG)
    aliases = _tracker_aliases(imports)
    if aliases:
        body.append("\n\n" + "".join(line + "\n" for line in aliases))
    body.append(_MAIN)
    text = "".join(body)
    head: list[str] = []
    title = "Pipeline of " + plan.origin
    what = (
        f"Reproduces {_run_title(plan.run)}: its metrics and outputs."
        if plan.run
        else "Computes: " + ", ".join(plan.targets) + "."
    )
    head.append(HEADER.format(title=title, origin=plan.origin, what=what))
    head.append("\n")
    head.append(_import_block(imports, _names_used(text)))
    head.append("\n")  # one blank line before the first statement, as isort writes it
    text = "".join(head) + text
    ast.parse(text)  # never write a script that does not parse
    yaml = "".join(f"{name}: {json.dumps(value)}\n" for name, (_step, value) in params.items())
    yaml = "# Parameters of pipeline.py (JSON values); flags override them.\n" + yaml
    return text, yaml


def _last_of(steps: Sequence[Step], seq: int) -> Step | None:
    found = [s for s in steps if s.execution.seq == seq]
    return found[-1] if found else None


def _results(plan: Plan) -> str:
    if plan.run:
        outputs = ", ".join(f"{n!r}: globals().get({n!r})" for n in plan.run.outputs)
        return f"{{**mltrack.metrics, {outputs}}}" if outputs else "dict(mltrack.metrics)"
    return "{name: globals()[name] for name in TARGETS}"
