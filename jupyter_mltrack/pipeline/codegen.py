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
* a ``__main__`` block: ``--NAME VALUE`` for each parameter, defaults from ``params.yaml``.

Nothing runs at import. ``mltrack`` in the notebook's code is a small recorder: it collects
the metrics the run logs (what ``run()`` returns) and, when jupyter_mltrack is installed and
a store is found, records the pipeline's run, linked to the notebook's.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .slicer import Step, cell_label

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


def _split_imports(steps: Sequence[Step]) -> tuple[list[ast.Import | ast.ImportFrom], list[Step]]:
    """Import statements to hoist to the top (as nodes) and the other steps.

    An import that depends on something other than imports that ran before it (a
    ``sys.path`` or working-directory change, an environment variable set, a file written
    earlier) stays where it ran; the others go to the top. A star import becomes an import
    of the names it actually bound in the kernel, so the script says where each name comes
    from.
    """
    imports: list[ast.Import | ast.ImportFrom] = []
    rest: list[Step] = []
    hoisted: set[Step] = set()
    for step in steps:
        for needed in step.stmt.needs:  # what a translated magic needs, from the top
            imports.extend(ast.parse(needed).body)  # type: ignore[arg-type]
        try:
            tree = ast.parse(step.stmt.code.strip())
        except SyntaxError:
            rest.append(step)
            continue
        nodes = tree.body
        if (
            not nodes
            or not all(isinstance(n, ast.Import | ast.ImportFrom) for n in nodes)
            or not step.deps <= hoisted  # it needs a step that stays in place
        ):
            rest.append(step)
            continue
        hoisted.add(step)
        for node in nodes:
            imports.append(_expand_star(node, step))  # type: ignore[arg-type]
    return imports, rest


def _expand_star(node: ast.Import | ast.ImportFrom, step: Step) -> ast.Import | ast.ImportFrom:
    """``from m import *`` -> ``from m import a, b``: the names it bound, as the kernel saw."""
    if not isinstance(node, ast.ImportFrom) or not any(a.name == "*" for a in node.names):
        return node
    names = [n for n in step.fact.get("names", []) if n.isidentifier() and not n.startswith("_")]
    if not names:
        return node
    return ast.ImportFrom(node.module, [ast.alias(n) for n in names], node.level)


def _imports_tracker(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] == "jupyter_mltrack" for a in node.names)
    return (node.module or "").split(".")[0] == "jupyter_mltrack"


def _tracker_aliases(imports: Sequence[ast.Import | ast.ImportFrom]) -> list[str]:
    """The notebook's names for ``jupyter_mltrack`` and its functions, bound to the script's
    recorder instead (``import jupyter_mltrack as mt`` -> ``mt = mltrack``)."""
    lines: list[str] = []
    for node in imports:
        if not _imports_tracker(node):
            continue
        for alias in node.names:
            if isinstance(node, ast.Import):
                name = alias.asname or alias.name.split(".")[0]
                if name != "mltrack":
                    lines.append(f"{name} = mltrack")
            elif alias.name != "*":
                lines.append(f"{alias.asname or alias.name} = mltrack.{alias.name}")
    return lines


#: Line length ruff formats to by default: longer ``from`` imports are wrapped.
LINE_LENGTH = 88


def _member_key(name: str) -> tuple[int, str, str]:
    """isort's ``order-by-type``: CONSTANTS, then Classes, then functions and variables."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, name.lower(), name


def _import_block(imports: Sequence[ast.Import | ast.ImportFrom], used: set[str]) -> str:
    """The hoisted imports as isort (and ruff's ``I`` rules) would write them: future, standard
    library, third-party and relative groups; ``import x`` before ``from x import y`` in each;
    one module per ``import`` line, ``from`` imports of a module merged. Names the script
    never uses are left out, so it stays clean of unused imports."""
    straight: dict[int, set[tuple[str, str | None]]] = {0: set(), 1: set(), 2: set(), 3: set()}
    froms: dict[int, dict[str, set[tuple[str, str | None]]]] = {g: {} for g in straight}
    stdlib = set(sys.stdlib_module_names)
    for node in imports:
        if _imports_tracker(node):
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound not in used:
                    continue
                top = alias.name.split(".")[0]
                straight[1 if top in stdlib else 2].add((alias.name, alias.asname))
            continue
        module = "." * node.level + (node.module or "")
        if node.level:
            group = 3
        elif module == "__future__":
            group = 0
        else:
            group = 1 if module.split(".")[0] in stdlib else 2
        for alias in node.names:
            if alias.name != "*" and (alias.asname or alias.name) not in used:
                continue
            froms[group].setdefault(module, set()).add((alias.name, alias.asname))
    froms[0].setdefault("__future__", set()).add(("annotations", None))

    def spell(name: str, asname: str | None) -> str:
        return f"{name} as {asname}" if asname and asname != name else name

    blocks: list[str] = []
    for group in (0, 1, 2, 3):
        lines = [
            f"import {spell(name, asname)}"
            for name, asname in sorted(
                straight[group], key=lambda a: (a[0].lower(), a[0], a[1] or "")
            )
        ]
        for module in sorted(froms[group], key=lambda m: (m.lower(), m)):
            members = froms[group][module]
            if ("*", None) in members:
                lines.append(f"from {module} import *")
                members = members - {("*", None)}
                if not members:
                    continue
            names = [spell(n, a) for n, a in sorted(members, key=lambda m: _member_key(m[0]))]
            line = f"from {module} import {', '.join(names)}"
            if len(line) > LINE_LENGTH:
                line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"
            lines.append(line)
        if lines:
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _names_used(text: str) -> set[str]:
    """Every name the generated code mentions (to keep only the imports it needs)."""
    return {node.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Name)}


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
    return code


def generate(plan: Plan) -> tuple[str, str]:
    """``(pipeline.py, params.yaml)`` for a plan."""
    params = parameters(plan.steps)
    param_steps = {id(step) for step, _ in params.values()}
    imports, body_steps = _split_imports(plan.steps)
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
            bound |= _bound_names(code)
            here = f"# {cell_label(step.execution)}"
            if here != label:
                chunks.append(here + "\n")
                label = here
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


_RUN = '''

def run(**params) -> dict:
    """Run the pipeline; returns the targets by name. Keyword arguments override PARAMS."""
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise TypeError(f"unknown parameter(s): {{', '.join(sorted(unknown))}}")
    import copy

    # a fresh copy each call: the steps may change a parameter's list or dict in place
    values = copy.deepcopy({{**PARAMS, **params}})
    globals().update(values)
    mltrack.start(values)
    try:
{calls}    except BaseException as exc:
        mltrack.end("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    mltrack.end("finished")
    return {results}
'''

_TRACKER = '''

class _Tracker:
    """``mltrack`` in the notebook's code: collects the metrics it logs (what ``run()``
    returns) and, when jupyter_mltrack is installed, records the pipeline's run in its store
    (source ``pipeline``, linked to the notebook's run). Without it the pipeline still runs."""

    def __init__(self) -> None:
        self.metrics: dict = {}
        self.params: dict = {}
        self.active = None

    def start(self, params: dict) -> None:
        self.metrics = {}
        self.params = dict(params)
        try:
            from jupyter_mltrack.capture.api import start_pipeline_run
        except ImportError:
            return
        self.active = start_pipeline_run(EXPERIMENT, params, PARENT_RUN, ORIGIN)

    def end(self, status: str) -> None:
        if self.active is not None:
            from jupyter_mltrack.capture.api import wait_pending

            self.active.end(status)
            self.active = None
            wait_pending()

    def log_metric(self, key, value, step=None) -> None:
        self.metrics[key] = value
        if self.active is not None:  # to the innermost open run, as in the notebook
            from jupyter_mltrack import log_metric

            log_metric(key, value, step)

    def log_metrics(self, metrics, step=None) -> None:
        for key, value in dict(metrics).items():
            self.log_metric(key, value, step)

    def log_params(self, params=None, **kwargs) -> None:
        values = {**(params or {}), **kwargs}
        self.params.update(values)
        if self.active is not None:
            from jupyter_mltrack import log_params

            log_params(values)

    def set_tags(self, tags=None, **kwargs) -> None:
        if self.active is not None:
            from jupyter_mltrack import set_tags

            set_tags({**(tags or {}), **kwargs})

    def start_run(self, *args, **kwargs):
        """A run the notebook opened itself: here a child of the pipeline's run."""
        import jupyter_mltrack

        kwargs.setdefault("source", "pipeline")
        if self.active is not None:
            kwargs.setdefault("parent_run_id", self.active.id)
            kwargs.setdefault("experiment", self.active.run.experiment)
        return jupyter_mltrack.start_run(*args, **kwargs)

    def __getattr__(self, name):
        import jupyter_mltrack

        return getattr(jupyter_mltrack, name)


mltrack = _Tracker()


def _file_digest(path) -> str:
    import xxhash

    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return "xxh3-128:" + digest.hexdigest()


def check_inputs(strict: bool = False) -> list:
    """Compare the files the notebook read with the snapshots its run recorded."""
    import sys

    changed = []
    for path, expected in INPUT_FILES.items():
        try:
            found = _file_digest(path)
        except ImportError:
            print("pipeline: xxhash is not installed: input files are not checked", file=sys.stderr)
            return changed
        except OSError as exc:
            found = f"unreadable ({exc.strerror})"
        if found != expected:
            changed.append(path)
            print(
                f"pipeline: {path} differs from the data the notebook read "
                f"(snapshot {expected}, now {found}); rerun with --from-snapshots to use it",
                file=sys.stderr,
            )
    if changed and strict:
        raise SystemExit(f"pipeline: {len(changed)} input file(s) changed")
    return changed


def restore_inputs(folder) -> None:
    """Put the snapshotted input files at their paths under ``folder`` and work there."""
    import os
    from pathlib import Path

    from jupyter_mltrack import load_snapshot

    folder = Path(folder)
    for path, digest in INPUT_FILES.items():
        target = Path(path) if os.path.isabs(path) else folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(load_snapshot(digest)).read_bytes())
    os.chdir(folder)
'''

_MAIN = """

def _parse(text, default):
    import json

    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, str):
        return text
    return json.loads(text)


def _load_params(path) -> dict:
    import json
    from pathlib import Path

    values = {}
    if not Path(path).is_file():
        return values
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, raw = line.partition(":")
        try:
            values[key.strip()] = json.loads(raw.strip())
        except ValueError:
            values[key.strip()] = raw.strip()
    return values


def _jsonable(value):
    # numbers of any kind (numpy's included) as numbers; anything else as its repr
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)


def main(argv=None) -> dict:
    import argparse
    import json
    from pathlib import Path

    here = Path(__file__).resolve().parent
    defaults = {**PARAMS, **_load_params(here / "params.yaml")}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in defaults.items():
        parser.add_argument(f"--{name}", default=value, type=lambda t, d=value: _parse(t, d))
    parser.add_argument(
        "--from-snapshots",
        action="store_true",
        help="run on the snapshotted input files instead of the current ones",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = vars(parser.parse_args(argv))
    from_snapshots, out = args.pop("from_snapshots"), args.pop("json")
    if INPUT_FILES:
        if from_snapshots:
            import tempfile

            restore_inputs(tempfile.mkdtemp(prefix="pipeline-inputs-"))
        else:
            check_inputs()
    results = run(**{k: v for k, v in args.items() if k in PARAMS})
    if out:
        Path(out).write_text(json.dumps(results, default=_jsonable, indent=2))
    for key, value in results.items():
        print(f"{key}: {value!r}"[:200])
    return results


if __name__ == "__main__":
    main()
"""
