"""Reading a notebook file for an export: its cells, its section headings, and why a file
named as the notebook to export is not one.

The export works from the execution log, never the notebook's text: the file only gives the
markdown headings that name the script's sections. A notebook the user *names* (``mltrack
export NOTEBOOK``, the REST API's ``notebook``) must still be one: a truncated file, a JSON
file that is not a notebook, an empty file or a folder is refused naming what is wrong
(:func:`check_notebook`), where it used to be read as "no cells" and exported, or reported
as "no logged session". From the command line a notebook without code cells is refused
too (nothing in it ran); the REST API accepts it, see :func:`check_notebook`. A notebook
found from the log alone is read leniently (:func:`read_cells`): the export does not
depend on it.

The JSON is read as it is, without ``nbformat``'s schema validation, which costs more than
the rest of an export; nbformat 3's ``worksheets`` are read as well as 4's ``cells``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..store import Execution
from .slicer import SliceError


class NotebookError(SliceError):
    """A file named as the notebook to export that is not a readable notebook."""


def _load(path: Path) -> list[dict[str, Any]]:
    """The cells of ``path``, or :class:`NotebookError` saying why it has none to give."""
    if path.is_dir():
        raise NotebookError(f"{path} is a folder, not a notebook (.ipynb file)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"no notebook {str(path)!r}: no such file") from None
    except OSError as exc:
        raise NotebookError(f"cannot read the notebook {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise NotebookError(f"{path} is empty: not a notebook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{path} is not a notebook: not UTF-8 text") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        # a cut file fails at its end, or on a string it opened and never closed
        cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        why = "it ends mid-JSON (truncated?)" if cut else f"invalid JSON: {exc.msg}"
        raise NotebookError(
            f"{path} is not a readable notebook: {why} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(nb, dict):
        raise NotebookError(f"{path} is not a notebook: its JSON is not an object")
    cells = nb.get("cells")
    if cells is None and isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [
            c
            for sheet in nb["worksheets"]
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for c in sheet["cells"]
        ]
    if not isinstance(cells, list):
        raise NotebookError(
            f"{path} is not a notebook: its JSON has no 'cells' list"
            + (f" (nbformat {nb['nbformat']})" if "nbformat" in nb else "")
        )
    return [c for c in cells if isinstance(c, dict)]


def check_notebook(
    path: str | os.PathLike[str], *, require_code: bool = True
) -> list[dict[str, Any]]:
    """The cells of a notebook the user named, refusing (:class:`NotebookError`) a file that
    is not a notebook, or (``require_code``) has no code cell: nothing in it can have run.

    The REST API does not require code: JupyterLab exports cells the kernel ran from a
    notebook whose file may not have been saved since they were typed, and the export is
    made from the log. A file on disk named from a shell is what its user means."""
    file = Path(path)
    cells = _load(file)
    if require_code and not any(c.get("cell_type") == "code" for c in cells):
        raise NotebookError(f"{file} has no code cells: nothing in it ran, so nothing to export")
    return cells


def read_cells(path: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """The cells of a notebook found from the log; none when it cannot be read (the export
    then has one section)."""
    if path is None:
        return []
    try:
        return _load(Path(path))
    except NotebookError:
        return []


def notebook_sections(
    cells: Sequence[dict[str, Any]], executions: Sequence[Execution] = ()
) -> dict[str, str]:
    """``cell id -> the markdown heading above the cell``. Executions without a cell id (a
    front end that sends none) are matched to the notebook's cells by their source."""
    titles: dict[str, str] = {}
    by_source: dict[str, str] = {}
    current = ""
    for cell in cells:
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
