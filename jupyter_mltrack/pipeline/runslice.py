"""Which statements of the execution log a tracked run needs: the run's own cell and the
earlier statements that produced what it read.

Shared by the export (which writes them out as a pipeline) and the comparison (which diffs
them between runs), so that "the code a run depended on" means the same thing in both.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Sequence
from typing import Any

from ..store.entities import Execution
from .analysis import Call
from .codegen import RunTarget
from .slicer import Slicer
from .step_rules import imported_module
from .steps import PROVIDED, Step


def run_slice(slicer: Slicer, run: Any, execution: Execution) -> tuple[list[Step], list[Step]]:
    """``(cell, dependencies)``: the steps of the run's cell that ran, and the earlier steps
    (of other cell executions) the slice of the run needs, in the order they ran.

    ``slicer`` must cover the session up to and including ``execution`` (and nothing after:
    names named by ``%%track -m`` are looked up at the end of what it covers).
    """
    _target, roots = run_target(slicer, run, execution)
    needed = slicer.closure(roots)
    cell = slicer.steps_of(execution)
    return cell, [s for s in needed if s.execution.seq != execution.seq]


def as_typed(step: Step) -> str:
    """The statement as the user typed it. IPython's transforms keep line numbers, except
    that the ``%%track`` line is taken out of a tracked cell (the Python it ran starts a
    line earlier than what was typed): then the lines are read one further down."""
    raw = step.execution.raw.splitlines()
    first = step.stmt.source.strip().partition("\n")[0].strip()
    for offset in (0, 1):
        lines = raw[step.stmt.lineno - 1 + offset : step.stmt.end_lineno + offset]
        if lines and lines[0].strip() == first:
            return "\n".join(lines).strip()
    lines = raw[step.stmt.lineno - 1 : step.stmt.end_lineno]
    if lines and not raw[0].lstrip().startswith("%%track"):
        return "\n".join(lines).strip()  # a magic, typed otherwise than the Python it ran
    return step.stmt.source.strip()


def steps_text(steps: Sequence[Step]) -> str:
    """Statements as typed, one after the other; a blank line between cell executions."""
    parts: list[str] = []
    previous: int | None = None
    for step in steps:
        if previous is not None and step.execution.seq != previous:
            parts.append("")
        parts.append(as_typed(step))
        previous = step.execution.seq
    return "\n".join(parts)


def run_target(
    slicer: Slicer,
    run: Any,
    execution: Execution,
    result_text: str | None = None,
) -> tuple[RunTarget, list[Step]]:
    """The steps of the run's cell that produce what it recorded, and how to log it.

    ``result_text``: the ``text/plain`` of the result the run's cell displayed, as recorded
    with its outputs: a cell ending with a name whose value showed as something other than
    a dict (a model, a result object) did not log that value as metrics."""
    steps = slicer.steps_of(execution)
    first, _, _ = execution.raw.lstrip("\n").partition("\n")
    metric_names: list[str] = []
    outputs: list[str] = []
    autolog = True
    if first.strip().startswith("%%track"):
        options = _track_options(first.strip()[len("%%track") :])
        metric_names, outputs = options["metric"], options["snapshot"]
        autolog = "--no-autolog" not in first.split()
    last = steps[-1] if steps else None
    last_metric, last_dict = None, False
    if last is not None and last.stmt.expression and last.stmt.index == _last_index(execution):
        expr = last.stmt.code.strip()
        recorded = set(run.metrics)
        if expr.isidentifier() and expr in recorded:
            last_metric = expr
        elif "value" in recorded:
            last_metric = "value"
        elif (
            recorded
            and _is_dict_display(expr)
            and (result_text is None or result_text.lstrip().startswith("{"))
        ):
            last_dict = True
    show_last = False
    roots = []
    for step in steps:
        if step.stmt.expression and step is not last and not _logs(step, slicer):
            if _calls(step, slicer):  # what it prints or autolog records, reproduce compares
                roots.append(step)
            continue  # display-only lines of the run's cell
        if (
            step is last
            and step.stmt.expression
            and not (last_metric or last_dict)
            and not _logs(step, slicer)
        ):
            if _calls(step, slicer) and _prints(step):
                roots.append(step)
            elif _script_can_run(step, slicer) and step.stmt.index == _last_index(execution):
                # the value the cell displayed: the script shows it to ``mltrack``, which
                # reproduce compares with the run's recorded result
                show_last = True
                roots.append(step)
            continue
        roots.append(step)
    for name in metric_names + outputs:
        if name in slicer.last_def:
            roots.extend(slicer.slice_names([name]))
    target = RunTarget(
        run_id=run.id,
        experiment=run.experiment,
        name=run.name,
        number=run.number,
        execution_seq=execution.seq,
        metric_names=metric_names,
        last_expression_metric=last_metric,
        last_expression_dict=last_dict,
        outputs=outputs,
        show_last=show_last,
        autolog=autolog,
    )
    return target, roots


#: ``%%track`` options that name variables (see ``TrackMagics.track``), by spelling.
_NAMING_OPTIONS = {"-m": "metric", "--metric": "metric", "--snapshot": "snapshot"}


def _track_options(line: str) -> dict[str, list[str]]:
    """The variables a ``%%track`` line names with ``-m`` and ``--snapshot`` (each taking
    one or more names, repeatable). Read here rather than with the magic's own parser, which
    would import IPython into every export (half a second in a fresh process)."""
    found: dict[str, list[str]] = {"metric": [], "snapshot": []}
    try:
        words = shlex.split(line)
    except ValueError:
        return found
    collecting: str | None = None
    for word in words:
        option, eq, value = word.partition("=")
        if word.startswith("-m") and len(word) > 2 and not word.startswith("--"):
            option, eq, value = "-m", "=", word[2:]
        if option in _NAMING_OPTIONS:
            collecting = _NAMING_OPTIONS[option]
            if eq:
                found[collecting].append(value)
        elif word.startswith("-"):
            collecting = None
        elif collecting is not None:
            found[collecting].append(word)
    return found


def _last_index(execution: Execution) -> int:
    statements = execution.facts.get("statements", [])
    return max((f["i"] for f in statements), default=-1)


#: The tracker's functions that record something into the run: a line calling one is kept for
#: what it records (its arguments are the slice's dependencies, as a metric's are), never
#: shown as the cell's value (``log_model`` returns a ``ModelInfo`` naming the run, which a
#: pipeline's run cannot reproduce).
LOGGING = frozenset(
    {
        "log_metric",
        "log_metrics",
        "log_params",
        "log_model",
        "log_artifact",
        "log_text",
        "log_dict",
        "log_figure",
        "log_image",
        "log_table",
    }
)


def _logs(step: Step, slicer: Slicer) -> bool:
    """Whether the statement calls one of the tracker's :data:`LOGGING` functions."""
    return any(tracker_function(c, slicer) in LOGGING for c in step.stmt.calls)


def tracker_function(call: Call, slicer: Slicer) -> str | None:
    """The tracker's function a call calls, however the notebook named it: ``mltrack.f``
    (the name ``%load_ext`` provides, or ``import jupyter_mltrack as mltrack``), ``jt.f``
    after ``import jupyter_mltrack as jt``, ``f`` or ``g`` after ``from jupyter_mltrack
    import f [as g]``; ``None`` for any other call."""
    if call.receiver is not None and call.method:
        if call.receiver_source != call.receiver:
            return None  # mltrack.something.f(...): not one of its functions
        if call.receiver == "mltrack" and call.receiver not in slicer.last_def:
            return call.method
        return call.method if _imported(slicer, call.receiver) == _TRACKER else None
    if call.func is not None:
        module, _, function = (_imported(slicer, call.func) or "").rpartition(".")
        return function if module == _TRACKER else None
    return None


_TRACKER = "jupyter_mltrack"


def _imported(slicer: Slicer, name: str) -> str | None:
    """The module (or ``module.name``) the import that last bound ``name`` binds it to."""
    step = slicer.last_def.get(name)
    return imported_module(step.stmt, name) if step is not None else None


def _script_can_run(step: Step, slicer: Slicer) -> bool:
    """Whether every name the statement reads exists in a script: a builtin, or bound by a
    statement of the log (not ``display`` or ``get_ipython``, which only IPython provides)."""
    if step.unlogged:
        return False
    return all(name in PROVIDED or name in slicer.last_def for name in step.stmt.reads)


def _calls(step: Step, slicer: Slicer) -> bool:
    """A call on a line of its own in the run's cell (``print(...)``, ``search.score(X, y)``,
    ``df.plot()``) that a script can run as it is (it reads no name only the kernel had):
    kept, because what it prints, and the metric autolog records from it, are part of the
    run, which ``mltrack reproduce`` compares."""
    if not _script_can_run(step, slicer):
        return False
    try:
        node = ast.parse(step.stmt.code.strip(), mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, ast.Call)


def _prints(step: Step) -> bool:
    """Whether the statement is a ``print(...)`` (whose value, ``None``, is not shown)."""
    node = ast.parse(step.stmt.code.strip(), mode="eval").body
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    )


def _is_dict_display(expr: str) -> bool:
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, ast.Dict | ast.Name)
