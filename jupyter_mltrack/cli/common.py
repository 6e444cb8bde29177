"""What every ``mltrack`` command shares: the error type, opening the store, argument types
and the plain-text table and number formatting, so all commands print alike."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ..location import URL_ENV, resolve_store_url
from ..placing import publish
from ..safepaths import PathRefused, check_target
from ..store import Store
from ..store.entities import ModelVersion

PROG = "mltrack"
#: Widest a free-text cell gets in a table before it is cut with an ellipsis.
MAX_CELL = 40
MAX_METRICS_CELL = 60


class CliError(Exception):
    """A failure to report as one line on stderr, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (the usage block hides the actual message)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", 2)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, got {value}")
    return value


def _offset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


# the store --------------------------------------------------------------------------------


def open_store(url: str | None, *, create: bool = False) -> Store:
    """Open an existing store; refuse to create one (see the module docstring), unless
    ``create`` and the store was named (``--store``, ``MLTRACK_STORE_URL``): ``pull`` fills
    a new store."""
    resolved = resolve_store_url(url)
    named = bool(url or os.environ.get(URL_ENV))
    if resolved.startswith("sqlite:///"):
        db = Path(resolved[len("sqlite:///") :])
        if not db.exists() and not (create and named):
            if url or os.environ.get(URL_ENV):
                raise CliError(f"no mltrack store at {db}")
            raise CliError(
                f"no mltrack store found (no .mltrack/ in {Path.cwd()} or above); "
                "pass --store or set MLTRACK_STORE_URL"
            )
    try:
        return Store(resolved)
    except Exception as exc:  # driver errors carry multi-line details; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot open the store: {first}") from None


# formatting -------------------------------------------------------------------------------


def _cut(text: str, width: int = MAX_CELL) -> str:
    text = " ".join(text.split())  # tables are one line per row
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(ts: float | str | None) -> str:
    """A time (epoch seconds, or ISO-8601 as the REST API gives it) in local time."""
    if ts is None:
        return "-"
    when = datetime.fromisoformat(ts) if isinstance(ts, str) else datetime.fromtimestamp(ts)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _number(value: float) -> str:
    """A metric: short, and NaN/inf spelled as Python prints them."""
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _value(value: Any) -> str:
    """A param: strings bare, anything else as JSON so ``1.0``, ``"1"`` and ``true`` differ."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
) -> str:
    """Columns padded to their widest cell; ``right`` holds the indexes of numeric columns."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


def _print_json(data: Any, out: TextIO) -> None:
    # Entities already turn NaN/inf into JSON values; allow_nan=False guarantees valid JSON.
    out.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _one_line(text: object) -> str:
    """Error texts recorded by other processes may span lines; errors here are one line."""
    return " ".join(str(text).split())


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _bytes(n: int | None) -> str:
    """A size as people read it (binary units, as ``du -h``); exact bytes are in ``--json``."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _run_id(store: Store, ref: str, experiment: str | None) -> str:
    """A run id from a reference; the store's errors (a ``RunRefError``: not found exits 1,
    ambiguous 2) say what is wrong and are shown as they are by :func:`..main`."""
    return store.resolve_run_id(ref, experiment)


def _run_label(store: Store, run_id: str) -> str:
    """A run as messages name it: ``run #3 of churn (1a2b3c4d)``."""
    run = store.get_run(run_id)
    return f"run #{run.number} of {run.experiment} ({run_id[:8]})"


def _version_label(version: ModelVersion) -> str:
    """A registered model version as listings name it: ``churn v2 @production``."""
    return f"{version.model} v{version.version}" + "".join(f" @{a}" for a in version.aliases)


def _html_destination(output: str) -> Path:
    """``--html FILE``, checked before the report is computed."""
    path = Path(output)
    if output.endswith(("/", "\\")) or path.is_dir():
        raise CliError(f"--html names a folder ({output}); give a file name, e.g. report.html", 2)
    if not path.parent.is_dir():
        raise CliError(f"no such folder: {path.parent}")
    try:  # a link to outside its folder; _publish checks again when writing
        check_target(path.parent, path.name)
    except PathRefused as exc:
        raise CliError(str(exc)) from None
    return path


def _publish(dest: Path, write: Callable[[Path], Any], force: bool) -> None:
    """:func:`..placing.publish`, overwriting with ``--force``."""
    publish(dest, write, force, "--force")


def used_text(use: Mapping[str, Any]) -> str:
    """What a run used (an ``ArtifactUse``'s JSON), on a line: ``model 'model' of run #1
    of churn (58e98cb4), as churn v2``."""
    if use["source_number"] is None:
        run = f"run {use['source_run_id'][:8]} (not in this store)"
    else:
        run = f"run #{use['source_number']} of {use['source_experiment']}"
        run += f" ({use['source_run_id'][:8]})"
    text = f"{use['kind']} {use['name']!r} of {run}"
    if use["version"] is not None:
        text += f", as {use['model']} v{use['version']}"
    elif use["source_number"] is not None and not use["source_exists"]:
        text += " (since deleted)"
    return text


def user_text(use: Mapping[str, Any]) -> str:
    """A run that used an artifact, on a line: ``#2 of eval (4b9b008c): finished, by
    models:/churn@production  accuracy=0.93``."""
    line = f"#{use['run_number']} of {use['run_experiment']} ({use['run_id'][:8]})"
    if use.get("status"):
        line += f": {use['status']}"
    line += f", by {use['ref']}"
    if use.get("metrics"):
        metrics = " ".join(f"{k}={_number(v)}" for k, v in use["metrics"].items())
        line += "  " + _cut(metrics, 60)
    return line
