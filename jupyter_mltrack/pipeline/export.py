"""Export a notebook session, or one run of it, to ``pipeline.py``, ``params.yaml`` and
``requirements.txt``.

The input is the execution log (what ran, in the order it ran), never the notebook's text:
cells run out of order, edited or deleted are exported as they actually ran. Targets are
named variables (their values at the end of the session) or a tracked run (its metrics,
named outputs and the parameters it read). See :mod:`.slicer` for what the slice keeps.

Before ``pipeline.py`` takes its place, the draft is checked the way its user would find
out: ruff's undefined-name rule, then an import in a fresh Python (it must import and only
define things). A failure there is the slicer's, and refuses the export with the check's
output; nothing is written silently. Where the slice draws from a global random generator
the notebook never seeded, ``rng_state.json`` beside the script holds the states the
kernel's generators had before those draws, and the export warns (:func:`rng_restores`).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ..safepaths import check_folder, check_targets, new_file, write_text_atomically
from ..store import Execution, RunRefError, RunStatus, Store
from .codegen import Plan, RunTarget, generate, parameters
from .notebook import check_notebook, notebook_sections, read_cells
from .runslice import _track_options as _track_options  # re-exported: tests use it
from .runslice import as_typed, steps_text
from .runslice import run_target as _run_target
from .slicer import SliceError, Slicer
from .steps import Step, is_history
from .tidy import tidy, undefined_names

FILES = ("pipeline.py", "params.yaml", "requirements.txt")
#: Written beside them when the script restores an unseeded global RNG's state.
RNG_FILE = "rng_state.json"
#: The import check may import heavy libraries (the script's imports); a hung one must not
#: hang the export.
IMPORT_TIMEOUT = 300.0


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
    #: What the user should know about the script (unseeded randomness it restores, a
    #: check that could not be made as usual), one sentence each.
    warnings: list[str] = field(default_factory=list)
    #: Seconds the checks of the written script took (undefined names, import).
    check_seconds: float = 0.0

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
        lines.extend(f"  warning: {w}" for w in self.warnings)
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
            "warnings": self.warnings,
            "check_seconds": self.check_seconds,
        }


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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
    absent = "" if Path(notebook).exists() else " (nor a file of that name here)"
    raise ExportError(
        f"no logged session of {notebook!r}{absent}: run it in a kernel with "
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
    within: str | os.PathLike[str] | None = None,
    check_import: bool = True,
) -> ExportResult:
    """Write the pipeline for ``targets`` (variable names) or ``run`` (a run reference).

    The session is ``session_id``, else the run's, else the latest of ``notebook``. Every
    file lands in ``directory``, which must lie inside ``within`` (the server's root; by
    default the directory itself): a file name there that is a link to outside it refuses
    the export (:class:`~jupyter_mltrack.safepaths.PathRefused`), and each file is written
    beside its place and renamed onto it, so no link is ever written through.

    ``check_import=False`` leaves out the import of the script in a fresh Python
    (:func:`check_script`): for ``reproduce``, whose run of the script right after starts
    that same fresh Python and imports the same libraries, and reports a failure with its
    traceback. The check was a third of a reproduction's time.
    """
    if not targets and run is None:
        raise ExportError("nothing to export: give --target NAME (one or more) or --run RUN")
    # a notebook the caller names must be one (NotebookError says why not), before anything
    cells = None
    if notebook_file is not None:
        cells = check_notebook(notebook_file, require_code=False)
    run_target: RunTarget | None = None
    execution: Execution | None = None
    run_entity = None
    early: list[str] = []
    if run is not None:
        try:
            run_id = store.resolve_run_id(run)
        except RunRefError as exc:
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
        if run_entity.status is RunStatus.RUNNING:
            run_entity, note = _ended(store, run_entity)
            early += note
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
        result = _result_text(store, run_entity.id)
        run_target, roots = _run_target(slicer, run_entity, execution, result)
        needed = slicer.closure(roots)
        target_names = _run_variables(run_entity, run_target, needed)
    else:
        needed = slicer.slice_names(targets)
        target_names = list(targets)
    _refuse(needed)
    restores, rng_states, warnings = rng_restores(needed)
    warnings = early + warnings
    origin = executions[-1].notebook_path or notebook or "a notebook session"
    input_files = _input_files(store, run_entity, needed) if run_entity is not None else {}
    plan = Plan(
        steps=needed,
        targets=target_names,
        sections=notebook_sections(
            read_cells(_notebook_file(executions[-1])) if cells is None else cells, executions
        ),
        origin=origin,
        run=run_target,
        input_files=input_files,
        experiment=run_entity.experiment if run_entity is not None else None,
        rng_restores=restores,
    )
    script, params_yaml = generate(plan)
    requirements = _requirements(store, needed, run_entity, executions, bool(input_files))
    out = Path(directory)
    if within is not None:
        check_folder(out, Path(within))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, a read-only parent…
        what = "a file, not a folder" if out.is_file() else exc.strerror or str(exc)
        raise ExportError(f"cannot write the pipeline into {out}: {what}") from None
    # all four names, the one an earlier export's rng_state.json may hold too
    *paths, rng_path = check_targets(out, (*FILES, RNG_FILE), Path(within) if within else None)
    if rng_states:
        paths.append(rng_path)
    if not overwrite and any(p.exists() for p in paths):
        existing = ", ".join(p.name for p in paths if p.exists())
        raise FileExistsError(f"{existing} already exist in {out}")
    # the script is checked before it takes pipeline.py's place: a refused export leaves no
    # pipeline behind (nor replaces an earlier one)
    # a fresh name, created exclusively: never a link planted under a guessable one
    draft = new_file(out, ".pipeline-", ".py")
    start_cwd = executions[0].facts.get("start_cwd")
    try:
        draft.write_text(script, encoding="utf-8")
        tidy(draft)
        started = time.perf_counter()
        warnings += check_script(draft, slicer, start_cwd, needed, check_import=check_import)
        checked = time.perf_counter() - started
        os.replace(draft, paths[0])
    finally:
        draft.unlink(missing_ok=True)
    texts = [params_yaml, "\n".join(requirements) + "\n"]
    if rng_states:
        texts.append(_rng_json(rng_states))
    else:  # an earlier export's states belong to a script no longer there
        (out / RNG_FILE).unlink(missing_ok=True)
    for path, text in zip(paths[1:], texts, strict=True):
        write_text_atomically(path, text)

    return ExportResult(
        directory=out,
        files=paths,
        targets=target_names,
        statements=len(needed),
        executions=len({s.execution.seq for s in needed}),
        parameters=sorted(parameters(needed)),
        requirements=requirements,
        run_id=run_entity.id if run_entity is not None else None,
        start_cwd=start_cwd,
        warnings=warnings,
        check_seconds=checked,
    )


#: How long an export waits for a tracked run whose cell returned to be recorded as ended.
END_WAIT = 10.0


def _result_text(store: Store, run_id: str) -> str | None:
    """The ``text/plain`` of the result the run's cell displayed (``None`` if none)."""
    for output in store.get_run_detail(run_id).outputs:
        if output.get("output_type") == "execute_result":
            text = (output.get("data") or {}).get("text/plain")
            return "".join(text) if isinstance(text, list) else text
    return None


def _ended(store: Store, run: Any) -> tuple[Any, list[str]]:
    """The run once its end is recorded. A ``%%track`` run whose cell was logged has
    returned, but its kernel writes the end (its metrics among it) in the background, once
    its snapshots are durable and its environment known: an export from another process
    (the server, the command line) made in that moment would miss the metrics, and with
    them what the script must log. Waits up to :data:`END_WAIT` seconds, then exports
    what is recorded, with a warning."""
    deadline = time.monotonic() + END_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.05)
        run = store.get_run(run.id)
        if run.status is not RunStatus.RUNNING:
            return run, []
    return run, [
        f"run #{run.number} had not ended after {END_WAIT:g} s (its kernel still writing it, "
        "or gone): the pipeline reproduces the metrics recorded so far"
    ]


def _run_variables(run: Any, target: RunTarget, steps: Sequence[Step]) -> list[str]:
    """The run's targets: what it recorded that is a variable the slice binds (a metric
    logged from a name, ``-m``/``--snapshot`` names). Metrics autolog recorded
    (``fit_time``, ``mean_test_score``), and ``value`` for the cell's last expression, are
    no variable: the pipeline's run records them again as the notebook's did."""
    bound = {name for step in steps for name in step.stmt.binds}
    recorded = {*run.metrics, *target.metric_names, *target.outputs}
    return sorted(name for name in recorded if name in bound)


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


def check_script(
    script: Path,
    slicer: Slicer | None,
    cwd: str | None,
    steps: Sequence[Step] = (),
    *,
    check_import: bool = True,
) -> list[str]:
    """Check a written script as its user would find out, before it takes ``pipeline.py``'s
    place: no undefined name (:func:`_refuse_undefined`), and importing it in a fresh Python
    works and only defines things (:func:`_check_import`). Raises :class:`ExportError` on a
    failure (the script is not written); returns warnings about how it was checked.

    The import is started first and ruff runs while it imports (the import is most of the
    cost: a fresh interpreter and the script's libraries). A script identical to one that
    passed in this process, checked in the same folder, is not imported again (exporting
    the same targets twice is common; the first export paid). ``check_import=False``:
    the undefined names only (the caller runs the script next, see :func:`export`)."""
    where = cwd if cwd and os.path.isdir(cwd) else os.fspath(script.parent)
    key = (sys.executable, where, script.read_text())
    importing = None if key in _passed or not check_import else _start_import(script, where)
    try:
        warnings = _refuse_undefined(script, slicer)
    except BaseException:
        if importing is not None:
            importing.kill()
            importing.communicate()
        raise
    if importing is not None:
        _check_import(importing, where, steps)
        if len(_passed) >= 64:
            _passed.clear()
        _passed.add(key)
    return warnings


#: Scripts that passed the import check in this process: ``(python, folder, text)``.
_passed: set[tuple[str, str, str]] = set()


#: Run by :func:`_check_import` as ``python -c IMPORT_CHECK SCRIPT``: imports the script as
#: the module ``pipeline`` (its folder first on ``sys.path``, as ``import pipeline`` would)
#: and prints, as JSON, what importing it did besides defining things.
IMPORT_CHECK = textwrap.dedent(
    """
    import contextlib, importlib.util, io, json, os, sys, traceback

    path = os.path.abspath(sys.argv[1])
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    cwd = os.getcwd()

    def listing():
        return {d: sorted(os.listdir(d)) for d in {cwd, folder}}

    before = listing()
    out, err = io.StringIO(), io.StringIO()
    report = {"error": None}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            spec = importlib.util.spec_from_file_location("pipeline", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["pipeline"] = module
            spec.loader.exec_module(module)
            if not callable(getattr(module, "run", None)):
                raise AttributeError("pipeline.py defines no run()")
    except BaseException:
        report["error"] = traceback.format_exc(limit=-3)
    report["changed_cwd"] = os.getcwd() != cwd
    after = listing() if not report["changed_cwd"] else before
    report["new_files"] = sorted(
        os.path.join(d, n) for d in after for n in set(after[d]) - set(before.get(d, ()))
    )
    report["stdout"] = out.getvalue()[-2000:]
    sys.stdout.write(json.dumps(report))
    """
)


def _start_import(script: Path, where: str) -> subprocess.Popen[str]:
    """Start importing ``script`` in a fresh Python (see :func:`_check_import`)."""
    try:
        return subprocess.Popen(
            [sys.executable, "-c", IMPORT_CHECK, os.fspath(script)],
            cwd=where,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        raise ExportError(
            f"pipeline.py could not be checked: {sys.executable} did not start ({exc}); "
            "no pipeline written"
        ) from None


def _check_import(importing: subprocess.Popen[str], where: str, steps: Sequence[Step] = ()) -> None:
    """Wait for the import of the script started by :func:`_start_import`, in the folder
    the session started in (where the script is run): it must import (every hoisted import
    resolves — the check that catches ``HalvingRandomSearchCV`` imported without the import
    that enables it), define ``run()``, and neither change directory nor create files:
    importing runs nothing of the notebook. (What a library prints when imported is its
    own affair.)"""
    try:
        stdout, stderr = importing.communicate(timeout=IMPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        importing.kill()
        importing.communicate()
        raise ExportError(
            f"pipeline.py did not finish importing in {IMPORT_TIMEOUT:.0f} s (checked by "
            "importing it in a fresh Python): no pipeline written"
        ) from None
    try:
        report = json.loads(stdout)
    except ValueError:
        # the check itself died (the interpreter crashed in an extension module, say)
        output = (stderr or stdout).strip()[-1500:]
        report = {"error": f"the importing process exited {importing.returncode}: {output}"}
    problems = []
    if report.get("error"):
        problems.append(f"importing it raised:\n{report['error'].rstrip()}")
    if report.get("changed_cwd"):
        problems.append("importing it changed the working directory")
    if report.get("new_files"):
        problems.append(f"importing it created {', '.join(report['new_files'])}")
    if not problems:
        return
    kept = steps_text([s for s in steps if s.stmt.imports])
    raise ExportError(
        "pipeline.py failed its import check (imported as `pipeline` in a fresh Python, in "
        f"{where}): " + "; ".join(problems) + "\n— a bug in the slicer, please report it, with "
        "the imports the slice kept:\n" + (kept or "(none)") + "\n(no pipeline written)"
    )


def _refuse_undefined(script: Path, slicer: Slicer | None) -> list[str]:
    """Refuse a script that reads a name it never binds (ruff's F821): it would die there
    with NameError. A name some statement of the session bound is a slicer bug (the slice
    should have kept that statement); one nothing bound is the notebook's own (in a branch
    its run never took, say), which a script must not hide either. Returns a warning when
    ruff could not be run and the plainer check stood in."""
    undefined, via = undefined_names(script)
    warnings = []
    if via != "ruff":
        warnings.append(
            "ruff is not available: undefined names in pipeline.py were checked with the "
            "standard library's symbol tables instead (no flow analysis), and the script is "
            "not formatted"
        )
    if not undefined:
        return warnings
    lines = script.read_text().splitlines()
    problems = []
    for row, name in undefined:
        code = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        where = f"pipeline.py, line {row} ({code!r})"
        if slicer is None or name in slicer.last_def:
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


#: The global random generators the log follows: what to call them, and how to seed them.
_STREAMS = {
    "numpy": (
        "numpy's global random generator (np.random.*, and scikit-learn's random_state=None)",
        "np.random.seed(...) first, or random_state=... on the estimator",
    ),
    "random": ("the random module's generator", "random.seed(...) first"),
}


def rng_restores(
    steps: Sequence[Step],
) -> tuple[dict[int, list[int]], list[dict[str, Any]], list[str]]:
    """Where the script must restore a global RNG's state: before each step of the slice
    that drew from a stream nothing before it may have seeded (``KMeans()`` without
    ``random_state``, ``np.random.rand()`` in a notebook that never calls
    ``np.random.seed``). Its draws came from the OS's entropy; the state the kernel had
    before the draw (recorded by the execution log) gives the script the same values.

    Returns ``(id(step) -> indices into the states, the states as rng_state.json holds
    them, warnings naming each such line)``. A step that may have seeded the stream itself
    (it calls something named like a seeding) gets its state restored but no warning."""
    restores: dict[int, list[int]] = {}
    states: list[dict[str, Any]] = []
    warnings: list[str] = []
    for step in steps:
        for stream in sorted(step.unseeded):
            what, how = _STREAMS.get(stream, (stream, "a seed"))
            typed = as_typed(step).splitlines()[0]
            recorded = step.fact.get("rng_state", {}).get(stream)
            entry = _rng_entry(stream, recorded, step) if recorded else None
            if entry is None:
                warnings.append(
                    f"{step.label}: {typed!r} draws from {what}, which the notebook never "
                    "seeds, and the log recorded no state to restore: the script's values "
                    f"will differ from the kernel's; seed it in the notebook ({how})"
                )
                continue
            restores.setdefault(id(step), []).append(len(states))
            states.append(entry)
            if not step.may_seed:
                warnings.append(
                    f"{step.label}: {typed!r} draws from {what}, which the notebook never "
                    f"seeds: the script restores the state the kernel had before it "
                    f"({RNG_FILE}) to draw the same values; to make the notebook itself "
                    f"reproducible, seed it ({how})"
                )
    return restores, states, warnings


def _rng_entry(stream: str, recorded: dict[str, Any], step: Step) -> dict[str, Any] | None:
    """A state as the log recorded it, as ``rng_state.json`` holds it: the Mersenne Twister's
    624 words as numbers, its position, the cached normal draw, and where it applies."""
    try:
        words = list(struct.unpack("<624I", base64.b64decode(recorded["key"])))
        entry: dict[str, Any] = {
            "stream": stream,
            "before": step.label,
            "statement": as_typed(step).splitlines()[0][:200],
            "pos": int(recorded["pos"]),
        }
        if stream == "numpy":
            entry["has_gauss"] = int(recorded["has_gauss"])
            entry["gauss"] = float(recorded["gauss"])
        else:
            gauss = recorded.get("gauss_next")
            entry["gauss_next"] = None if gauss is None else float(gauss)
    except (KeyError, TypeError, ValueError, struct.error):
        return None
    entry["key"] = words
    return entry


def _rng_json(states: Sequence[dict[str, Any]]) -> str:
    """``rng_state.json``: one object per restored state, its fields one a line and the 624
    words of its key on one line (readable, and a diff shows which state changed)."""
    items = []
    for entry in states:
        fields = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in entry.items()]
        items.append("  {\n" + ",\n".join(fields) + "\n  }")
    return "[\n" + ",\n".join(items) + "\n]\n"


def _input_files(store: Store, run: Any, steps: Sequence[Step]) -> dict[str, str]:
    """Files the slice reads that the run snapshotted: ``path as the code names it -> digest``.
    A dataset version's file (``mltrack.datasets.get``) is not one: the script gets it by
    name, as the notebook did."""
    read = {p for s in steps for p in s.fact.get("files", {}).get("r", [])}
    out = {}
    for data in store.run_data(run.id):
        if data.role == "input" and data.path and data.path in read and not data.dataset:
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
