"""Export a notebook session, or one run of it, to ``pipeline.py``, ``params.yaml`` and
``requirements.txt``.

The input is the execution log (what ran, in the order it ran), never the notebook's text:
cells run out of order, edited or deleted are exported as they actually ran. Targets are
named variables (their values at the end of the session) or a tracked run (its metrics,
named outputs and the parameters it read). See :mod:`.slicer` for what the slice keeps.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..store import Execution, RunNotFound, Store
from .codegen import Plan, RunTarget, generate, parameters
from .runslice import _track_options as _track_options  # re-exported: tests use it
from .runslice import as_typed
from .runslice import run_target as _run_target
from .slicer import SliceError, Slicer, Step, is_history
from .tidy import tidy, undefined_names

FILES = ("pipeline.py", "params.yaml", "requirements.txt")


class ExportError(SliceError):
    """The export cannot be made; the message says why and names the line if it is one."""


@dataclass
class ExportResult:
    directory: Path
    files: list[Path]
    targets: list[str]
    statements: int
    executions: int
    parameters: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    run_id: str | None = None
    #: The working directory the session's first cell started in: run the script there.
    start_cwd: str | None = None

    def summary(self) -> str:
        """What was written, in a few lines (``%mltrack export`` and the CLI print it)."""
        lines = [
            "wrote " + ", ".join(str(p) for p in self.files),
            f"  {_count(self.statements, 'statement')} from "
            f"{_count(self.executions, 'cell execution')}; "
            f"targets: {', '.join(self.targets) or '-'}",
        ]
        if self.parameters:
            lines.append(f"  parameters: {', '.join(self.parameters)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "files": [str(f) for f in self.files],
            "targets": self.targets,
            "statements": self.statements,
            "executions": self.executions,
            "parameters": self.parameters,
            "requirements": self.requirements,
            "run_id": self.run_id,
            "start_cwd": self.start_cwd,
        }


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def notebook_sections(
    path: str | os.PathLike[str] | None, executions: Sequence[Execution] = ()
) -> dict[str, str]:
    """``cell id -> the markdown heading above the cell`` in a notebook file (empty if it
    cannot be read: the export then has one section). Executions without a cell id (a
    front end that sends none) are matched to the notebook's cells by their source."""
    if path is None or not Path(path).is_file():
        return {}
    titles: dict[str, str] = {}
    by_source: dict[str, str] = {}
    current = ""
    for cell in _cells(Path(path)):
        source = cell.get("source", "")
        if isinstance(source, list):  # nbformat stores a cell's source as a list of lines
            source = "".join(str(s) for s in source)
        if not isinstance(source, str):
            continue
        if cell.get("cell_type") == "markdown":
            for line in source.splitlines():
                if line.lstrip().startswith("#"):
                    current = line.lstrip("# ").strip()
                    break
        elif cell.get("cell_type") == "code":
            if isinstance(cell.get("id"), str) and cell["id"]:
                titles[cell["id"]] = current
            by_source.setdefault(source.strip(), current)
    for execution in executions:
        key = execution.cell_id or ""
        if key not in titles and execution.raw.strip() in by_source:
            titles[key] = by_source[execution.raw.strip()]
    return titles


def _cells(path: Path) -> list[dict[str, Any]]:
    """The cells of a notebook file, read as the JSON it is (no validation: only headings and
    cell ids are wanted, and ``nbformat``'s schema validation costs more than the rest of an
    export); any notebook that cannot be read has none, and the export one section."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):  # nbformat 3 kept them in worksheets
        sheets = nb.get("worksheets") if isinstance(nb, dict) else None
        cells = [c for s in sheets or [] if isinstance(s, dict) for c in s.get("cells") or []]
    return [c for c in cells if isinstance(c, dict)]


def latest_session(store: Store, notebook: str) -> str:
    """The most recent logged session of ``notebook``: a path as the server records it
    (relative to its root) or as a user names it from a shell (matched by its trailing
    components), or else by the file's name alone when that is unambiguous."""
    given = notebook.strip("/")
    found = store.sessions(given, limit=1)
    if found:
        return found[0].session_id
    resolved = Path(notebook).resolve().as_posix()
    recent = store.sessions(None, limit=500)
    for session in recent:
        path = session.notebook_path or ""
        if path and resolved.endswith("/" + path.strip("/")):
            return session.session_id
    named = [s for s in recent if Path(s.notebook_path or "").name == Path(given).name]
    if len({s.notebook_path for s in named}) == 1:
        return named[0].session_id
    raise ExportError(
        f"no logged session of {notebook!r}: run it in a kernel with "
        "'%load_ext jupyter_mltrack' first"
    )


def export(
    store: Store,
    *,
    directory: str | os.PathLike[str],
    session_id: str | None = None,
    notebook: str | None = None,
    targets: Sequence[str] = (),
    run: str | None = None,
    notebook_file: str | os.PathLike[str] | None = None,
    overwrite: bool = True,
) -> ExportResult:
    """Write the pipeline for ``targets`` (variable names) or ``run`` (a run reference).

    The session is ``session_id``, else the run's, else the latest of ``notebook``.
    """
    if not targets and run is None:
        raise ExportError("nothing to export: give --target NAME (one or more) or --run RUN")
    run_target: RunTarget | None = None
    execution: Execution | None = None
    run_entity = None
    if run is not None:
        try:
            run_id = store.resolve_run_id(run)
        except RunNotFound as exc:
            raise ExportError(str(exc)) from None
        run_entity = store.get_run(run_id)
        execution = store.execution_of_run(run_id)
        if execution is None:
            if run_entity.source != "notebook":
                raise ExportError(
                    f"run #{run_entity.number} was opened with mltrack.start_run (source "
                    f"{run_entity.source!r}), not by a %%track cell: export the variables "
                    "it used with --target instead"
                )
            raise ExportError(
                f"run #{run_entity.number} was not recorded in a logged cell (the execution "
                "log starts at '%load_ext jupyter_mltrack'): nothing to export it from"
            )
        session_id = execution.session_id
    if session_id is None:
        if notebook is None:
            raise ExportError("which session? give a notebook or a run")
        session_id = latest_session(store, notebook)
    executions = store.executions(session_id, upto=execution.seq if execution is not None else None)
    if not executions:
        raise ExportError(f"session {session_id} has no logged cells")
    slicer = Slicer(executions)
    if run_entity is not None and execution is not None:
        run_target, roots = _run_target(slicer, run_entity, execution)
        needed = slicer.closure(roots)
        target_names = sorted(run_entity.metrics)
    else:
        needed = slicer.slice_names(targets)
        target_names = list(targets)
    _refuse(needed)
    origin = executions[-1].notebook_path or notebook or "a notebook session"
    input_files = _input_files(store, run_entity, needed) if run_entity is not None else {}
    plan = Plan(
        steps=needed,
        targets=target_names,
        sections=notebook_sections(notebook_file or _notebook_file(executions[-1]), executions),
        origin=origin,
        run=run_target,
        input_files=input_files,
        experiment=run_entity.experiment if run_entity is not None else None,
    )
    script, params_yaml = generate(plan)
    requirements = _requirements(store, needed, run_entity, executions, bool(input_files))
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]
    if not overwrite and any(p.exists() for p in paths):
        existing = ", ".join(p.name for p in paths if p.exists())
        raise FileExistsError(f"{existing} already exist in {out}")
    # the script is checked before it takes pipeline.py's place: a refused export leaves no
    # pipeline behind (nor replaces an earlier one)
    draft = out / f".pipeline-{os.getpid()}.py"
    try:
        draft.write_text(script)
        tidy(draft)
        _refuse_undefined(draft, slicer)
        os.replace(draft, paths[0])
    finally:
        draft.unlink(missing_ok=True)
    for path, text in zip(paths[1:], (params_yaml, "\n".join(requirements) + "\n"), strict=True):
        path.write_text(text)

    return ExportResult(
        directory=out,
        files=paths,
        targets=target_names,
        statements=len(needed),
        executions=len({s.execution.seq for s in needed}),
        parameters=sorted(parameters(needed)),
        requirements=requirements,
        run_id=run_entity.id if run_entity is not None else None,
        start_cwd=executions[0].facts.get("start_cwd"),
    )


def _notebook_file(execution: Execution) -> Path | None:
    path = execution.notebook_path
    if not path:
        return None
    root = os.environ.get("MLTRACK_SERVER_ROOT")
    candidate = Path(root) / path if root and not os.path.isabs(path) else Path(path)
    return candidate if candidate.is_file() else None


def _refuse(steps: Sequence[Step]) -> None:
    """Stop at the first statement of the slice a script cannot run as it ran."""
    for step in steps:
        if step.stmt.kind == "refuse":
            raise ExportError(
                f"{step.label}: {as_typed(step)!r} {step.stmt.reason}; rewrite it in Python "
                "(e.g. with subprocess) to export this notebook"
            )
        history = sorted(n for n in step.unlogged if is_history(n))
        if history:
            raise ExportError(
                f"{step.label}: {as_typed(step)!r} reads IPython's output history "
                f"({', '.join(history)}), which a script does not have; assign the value "
                "to a name in the cell that computes it, re-run, and export again"
            )
        if step.unlogged:
            names = ", ".join(sorted(step.unlogged))
            raise ExportError(
                f"{step.label}: {as_typed(step)!r} reads {names}, which the kernel had but "
                "no completed statement of the log bound (it was defined before '%load_ext "
                "jupyter_mltrack', or by a statement that then raised); run the notebook again "
                "with the extension loaded first, and export"
            )


def _refuse_undefined(script: Path, slicer: Slicer) -> None:
    """Refuse a script that reads a name it never binds (ruff's F821): it would die there
    with NameError. A name some statement of the session bound is a slicer bug (the slice
    should have kept that statement); one nothing bound is the notebook's own (in a branch
    its run never took, say), which a script must not hide either."""
    undefined = undefined_names(script)
    if not undefined:
        return
    lines = script.read_text().splitlines()
    problems = []
    for row, name in undefined:
        code = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        where = f"pipeline.py, line {row} ({code!r})"
        if name in slicer.last_def:
            problems.append(
                f"{where}: the slice does not define `{name}` — a bug in the slicer; "
                "please report it"
            )
        else:
            problems.append(
                f"{where}: no statement of the session defines `{name}`, so the script would "
                "raise NameError there; define it (or remove the code that reads it), run the "
                "cell again, and export"
            )
    raise ExportError("; ".join(problems) + " (no pipeline written)")


def _input_files(store: Store, run: Any, steps: Sequence[Step]) -> dict[str, str]:
    """Files the slice reads that the run snapshotted: ``path as the code names it -> digest``."""
    read = {p for s in steps for p in s.fact.get("files", {}).get("r", [])}
    out = {}
    for data in store.run_data(run.id):
        if data.role == "input" and data.path and data.path in read:
            out[data.name] = data.snapshot.digest
    return out


def _requirements(
    store: Store,
    steps: Sequence[Step],
    run: Any,
    executions: Sequence[Execution],
    checks_inputs: bool = False,
) -> list[str]:
    """Pinned distributions of the modules the slice imports (versions of the run's
    environment when it recorded them, else of this one), plus what the session installed."""
    modules = set()
    for step in steps:
        for name in step.stmt.imports:
            top = name.lstrip(".").split(".")[0]
            if top and top not in sys.stdlib_module_names and top != "jupyter_mltrack":
                modules.add(top)
    recorded: dict[str, str] = {}
    if run is not None:
        with_env = store.get_run_detail(run.id).environment
        if with_env is not None:
            recorded = {k.lower(): v for k, v in with_env.packages.items()}
    lines: list[str] = []
    for module in sorted(modules):
        for dist in _distributions(module):
            version = recorded.get(dist.lower())
            if version is None:
                try:
                    version = metadata.version(dist)
                except metadata.PackageNotFoundError:
                    version = None
            line = f"{dist}=={version}" if version else dist
            if line not in lines:
                lines.append(line)
    from .analysis import analyse_cell

    for execution in executions:  # %pip install / !pip install in the session
        try:
            statements = analyse_cell(execution.source)
        except SyntaxError:
            continue
        for stmt in statements:
            for req in stmt.requirements:
                name = req.split("==")[0].split(">")[0].split("<")[0]
                if not any(line.split("==")[0].lower() == name.lower() for line in lines):
                    lines.append(req)
    if checks_inputs and not any(line.split("==")[0].lower() == "xxhash" for line in lines):
        lines.append(_pinned("xxhash"))  # the script checks input files with it
    lines.append("# optional: records the pipeline's runs in a store")
    lines.append("# " + _pinned("jupyter_mltrack"))
    return lines


#: Import names whose distribution is named otherwise, common in notebooks: found without
#: :func:`importlib.metadata.packages_distributions`, which reads every installed package's
#: file list (a quarter of a second, most of an export's time).
KNOWN_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "IPython": "ipython",
    "Crypto": "pycryptodome",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
    "serial": "pyserial",
    "zmq": "pyzmq",
}


def _distributions(module: str) -> list[str]:
    """The distributions that install top-level ``module``: a known alias when installed,
    else one named like the module, else the answer of ``packages_distributions()`` (the
    slow, complete way)."""
    for name in (KNOWN_DISTRIBUTIONS.get(module), module, module.replace("_", "-")):
        if not name:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        return [dist.metadata["Name"] or name]
    return _owners().get(module, [module])


@functools.cache
def _owners() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _pinned(dist: str) -> str:
    """``dist==version`` as installed here (the bare name when it is not installed)."""
    try:
        return f"{dist}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return dist
