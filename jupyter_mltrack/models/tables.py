"""Tables a run logs (``mltrack.log_table``): predictions per example, an error analysis,
per-class scores, as MLflow's ``log_table`` and W&B's ``Table`` keep them.

A table is kept as one Parquet file: every dtype comes back as it went in (datetimes with
their time zone, categories, nullable integers, NaN), unlike the JSON MLflow writes, and a
million rows stay a few megabytes. pyarrow writes it with a fixed writer and no timestamp,
so the same table gives the same bytes and is stored once. The run detail previews its first
:data:`PREVIEW_ROWS` rows as an HTML table (pandas escapes every cell; JupyterLab sanitizes
what is left), ``load_table`` reads it back as a DataFrame.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .artifacts import ArtifactError, Source
from .figures import split_extension

if TYPE_CHECKING:
    import pandas as pd

#: A Parquet file's media type (IANA registration of 2024).
PARQUET = "application/vnd.apache.parquet"
#: Rows the preview shows.
PREVIEW_ROWS = 100
#: Columns the preview shows (a wide table's others are named in the note).
PREVIEW_COLUMNS = 40


def table_source(
    data: Any, name: str, key: str | Sequence[str] | None = None
) -> tuple[Source, str, dict[str, Any]]:
    """``(source, media type, meta)`` for ``data`` logged as ``name`` (kept as
    ``name.parquet``): a DataFrame, a dict of columns, or a pyarrow Table. ``key``: the
    column(s) naming a row, checked present and without repeats, kept in the meta."""
    stem, ext = split_extension(name)
    if ext and ext.lower() != "parquet":
        raise ArtifactError(
            f"a table is kept as Parquet, not .{ext} ({name!r}): name it without an extension,"
            " or .parquet (for a CSV, write it and log_artifact the file)"
        )
    frame = as_frame(data)
    keys = check_key(frame, key)
    buf = io.BytesIO()
    try:
        frame.to_parquet(buf, engine="pyarrow", compression="zstd")
    except Exception as exc:  # pyarrow's errors name the column and the values
        raise ArtifactError(f"the table cannot be kept as Parquet: {exc}") from None
    meta = {
        "format": "parquet",
        "rows": len(frame),
        "columns": [{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()],
    }
    if keys:
        meta["key"] = keys
    return Source(f"{stem}.parquet", data=buf.getvalue()), PARQUET, meta


def check_key(frame: pd.DataFrame, key: str | Sequence[str] | None) -> list[str]:
    """``key`` as a list of column names of ``frame`` whose values name each row once
    (what a comparison pairs rows by); an :class:`ArtifactError` names a missing column or
    a repeated value, so the table is not logged with a key that cannot pair it."""
    if key is None:
        return []
    keys = [key] if isinstance(key, str) else list(key)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ArtifactError(f"log_table: key is a column name or a list of them, not {key!r}")
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ArtifactError(
            f"log_table: key column {missing[0]!r} is not in the table (its columns: "
            f"{', '.join(map(str, list(frame.columns)[:20]))})"
        )
    repeated = frame[keys].duplicated(keep=False)
    if repeated.any():
        first = frame.loc[repeated, keys].iloc[0].tolist()
        shown = first[0] if len(first) == 1 else tuple(first)
        raise ArtifactError(
            f"log_table: key {', '.join(keys)} repeats: {int(repeated.sum()):,} rows share "
            f"a value ({shown!r} first), and a key names each row once"
        )
    return keys


def as_frame(data: Any) -> pd.DataFrame:
    """``data`` as a DataFrame with string column names (what Parquet keeps)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, dict):
        try:
            frame = pd.DataFrame(data)
        except ValueError as exc:  # columns of different lengths
            raise ArtifactError(f"log_table: a dict of columns of one length: {exc}") from None
    elif type(data).__module__.startswith("pyarrow") and hasattr(data, "to_pandas"):
        frame = data.to_pandas()
    else:
        raise ArtifactError(
            "log_table takes a pandas DataFrame, a dict of columns or a pyarrow Table, not "
            f"{type(data).__name__} (for a list of rows: pd.DataFrame(rows, columns=[...]))"
        )
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ArtifactError(f"log_table: column names must differ, and {twice} repeat")
    if isinstance(frame.columns, pd.MultiIndex) or names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame


def read_table(data: bytes) -> pd.DataFrame:
    """A logged table's bytes as the DataFrame that was logged."""
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def table_preview(data: bytes) -> tuple[dict[str, Any], bool, str | None]:
    """``(bundle, cut, note)``: the first :data:`PREVIEW_ROWS` rows and
    :data:`PREVIEW_COLUMNS` columns as an HTML table and as text, whether rows or columns
    were left out, and what the note says of it."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(io.BytesIO(data))
    rows = file.metadata.num_rows
    names = file.schema_arrow.names
    shown = names[:PREVIEW_COLUMNS]
    head = next(file.iter_batches(batch_size=PREVIEW_ROWS, columns=shown), None)
    import pandas as pd

    frame = head.to_pandas() if head is not None else pd.DataFrame(columns=shown)
    frame = frame.head(PREVIEW_ROWS)
    html = frame.to_html(max_rows=PREVIEW_ROWS, border=0, classes="jp-mltrack-table")
    text = frame.to_string(max_rows=PREVIEW_ROWS)
    parts = []
    if rows > len(frame):
        parts.append(f"the first {len(frame):,} of {rows:,} rows")
    if len(names) > len(shown):
        parts.append(f"{len(shown)} of {len(names)} columns")
    note = (
        f"{' and '.join(parts).capitalize()} shown; load_table or Download has all."
        if parts
        else None
    )
    return {"text/html": html, "text/plain": text}, bool(parts), note
