"""The artifacts section of a comparison: every artifact any compared run logged, by name,
with what each run holds under that name and how it differs from the baseline's.

Artifacts are content-addressed, so whether two runs logged the same bytes is decided from
the records alone (the files' digests); bytes are read only to diff text. What a row carries
depends on what the artifact is (its ``view``):

- ``text`` (texts, dicts, text files and folders): a unified diff (:mod:`.textdiff`, as the
  code and outputs sections) of each changed text file against the baseline's, for files of
  at most :data:`TEXT_LIMIT` bytes; a bigger or binary file gets a reason instead.
- ``image`` (PNG, SVG and JPEG files, matplotlib figures, plotly figures): the file each run
  holds, ``{run_id, name, path, media_type, size}``, which the compare view previews side by
  side through ``GET runs/{id}/artifacts/{name}/preview`` -- the comparison, sent whole to
  the browser for up to 100 runs, carries no image bytes.
- ``model``: each run's format, library and its version; whether the bytes are the same is
  the row's ``states``.
- ``files`` (anything else): sizes, digests and which files changed.
- ``series`` (images and figures logged at a step, :mod:`..models.steps`): one row per
  series, not per step, carrying each run's steps (``steps``: ``{step, name, path,
  media_type, size}``, at most :data:`MAX_SERIES_STEPS` of them, spread evenly), which
  the compare view shows side by side at a step picked with a slider. A run's state says
  whether it holds the same bytes at the same steps as the baseline's; its changes count
  steps added, removed and changed.

Comparing runs that logged no artifact costs one query (``artifact_counts``). Files are read
at most once per comparison (the baseline's file is diffed against every run's), in
parallel (a blob store may be S3), and a diff of two digests is remembered: the bytes behind
a digest never change, so a live comparison polling every two seconds reads nothing again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..models.artifacts import media_type_of, read_bytes
from ..models.figures import PLOTLY_MIME
from ..models.steps import step_of
from ..models.tables import PARQUET
from .artifact_rows import shown_images
from .outputs import human_size
from .tables import table_changes
from .textdiff import text_diff

if TYPE_CHECKING:
    from ..store.entities import Artifact, ArtifactFile
    from ..store.store import Store

#: Largest file diffed (either side); bigger ones are "too big to diff".
TEXT_LIMIT = 256 * 1024
#: Files listed per run and artifact (``file_count`` gives the total).
MAX_LISTED_FILES = 50
#: Text files diffed in one comparison; further changed files say why they are not.
MAX_DIFFED_FILES = 200
#: Diff lines kept per file (the hunks after these are left out, and the reason says so).
MAX_DIFF_LINES = 2000
#: Images embedded in a comparison's HTML (the widget's, the static copy a notebook saves, the
#: CLI's report: none has a server to fetch previews from), as ``data:`` URIs: bytes of one,
#: and of all.
MAX_IMAGE_BYTES = 1 << 20
MAX_EMBEDDED_BYTES = 4 << 20
#: What a browser shows from a ``data:`` URI in an ``<img>``.
EMBEDDED_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
#: Steps of a series listed per run: evenly spread, the first and the last always kept.
MAX_SERIES_STEPS = 500
#: Threads reading blobs.
READERS = 8
#: Diffs remembered by digest pair.
CACHE_SIZE = 256

#: Media types shown as images (and a plotly figure, shown by the plotly renderer).
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg", PLOTLY_MIME)
#: Media types diffed as text.
TEXT_TYPES = ("application/json", "application/yaml", "application/x-yaml")
#: Kinds whose files may be text to diff (a figure's SVG or HTML and a model's files are
#: not worth a line diff: they are compared by bytes).
TEXT_KINDS = ("file", "folder", "text", "dict")


def file_media(artifact: Artifact, path: str) -> str:
    """A file's media type: a figure's JSON is a plotly figure, else by extension (as the
    preview route decides, so the view renders what the preview sends)."""
    if artifact.kind == "figure" and path.endswith(".json"):
        return PLOTLY_MIME
    return media_type_of(path)


def is_text(media: str) -> bool:
    return media.startswith("text/") or media in TEXT_TYPES


def view_of(artifact: Artifact) -> str:
    """How the compare view shows ``artifact``: ``text``, ``image``, ``model`` or ``files``."""
    if artifact.kind == "model":
        return "model"
    single = artifact.kind == "figure" or artifact.file_count == 1
    if single and artifact.files and file_media(artifact, artifact.file().path) in IMAGE_TYPES:
        return "image"
    if artifact.kind in TEXT_KINDS and any(is_text(media_type_of(f.path)) for f in artifact.files):
        return "text"
    return "files"


def manifest(artifact: Artifact) -> tuple[tuple[str, str], ...]:
    """What decides that two artifacts hold the same bytes: their files' paths and digests."""
    return tuple(sorted((f.path, f.digest) for f in artifact.files))


@dataclass(frozen=True)
class _Pair:
    """A changed text file to diff: the baseline's and a run's."""

    row: int
    run: int
    path: str
    old: tuple[Artifact, ArtifactFile]
    new: tuple[Artifact, ArtifactFile]


def _paired_files(base: Artifact, other: Artifact) -> list[tuple[str, ArtifactFile, ArtifactFile]]:
    """``(path, baseline's file, run's file)`` of the files both hold with different bytes:
    matched by path, or the one file of each when both hold one."""
    if len(base.files) == 1 and len(other.files) == 1:
        a, b = base.files[0], other.files[0]
        return [] if a.digest == b.digest else [(b.path, a, b)]
    theirs = {f.path: f for f in other.files}
    return [
        (f.path, f, theirs[f.path])
        for f in base.files
        if f.path in theirs and theirs[f.path].digest != f.digest
    ]


def file_changes(base: Artifact, other: Artifact) -> dict[str, int]:
    """How many of the run's files were added, removed or changed against the baseline's."""
    if len(base.files) == 1 and len(other.files) == 1:
        return {"added": 0, "removed": 0, "changed": int(manifest(base) != manifest(other))}
    mine = {f.path: f.digest for f in base.files}
    theirs = {f.path: f.digest for f in other.files}
    return {
        "added": sum(1 for p in theirs if p not in mine),
        "removed": sum(1 for p in mine if p not in theirs),
        "changed": sum(1 for p, d in theirs.items() if p in mine and mine[p] != d),
    }


def _side(artifact: Artifact | None) -> dict[str, Any] | None:
    if artifact is None:
        return None
    model = None
    if artifact.kind == "model":
        meta = artifact.meta
        model = {k: meta.get(k) for k in ("format", "flavor", "library_version")}
    side = {
        "kind": artifact.kind,
        "size": artifact.size,
        "file_count": artifact.file_count,
        "media_type": artifact.media_type,
        "files": [f.to_dict() for f in artifact.files[:MAX_LISTED_FILES]],
        "model": model,
    }
    rows, columns = artifact.meta.get("rows"), artifact.meta.get("columns")
    if artifact.media_type == PARQUET and type(rows) is int and isinstance(columns, list):
        side["table"] = {"rows": rows, "columns": len(columns)}  # a log_table table
    return side


def _image(artifact: Artifact | None) -> dict[str, Any] | None:
    if artifact is None or view_of(artifact) != "image":
        return None
    f = artifact.file()
    return {
        "run_id": artifact.run_id,
        "name": artifact.name,
        "path": f.path,
        "media_type": file_media(artifact, f.path),
        "size": f.size,
    }


# series: images and figures logged at a step -----------------------------------------------------

#: One run's series: its artifacts by step.
Steps = Mapping[int, "Artifact"]


def split_series(
    listed: Sequence[Mapping[str, Artifact]],
) -> tuple[list[dict[str, Artifact]], list[dict[str, dict[int, Artifact]]]]:
    """Each run's artifacts as ``(by name, series by key)``: the images and figures logged
    at a step go to their series, every other artifact stays by name."""
    plain: list[dict[str, Artifact]] = []
    series: list[dict[str, dict[int, Artifact]]] = []
    for by_name in listed:
        mine: dict[str, Artifact] = {}
        steps: dict[str, dict[int, Artifact]] = {}
        for name, artifact in by_name.items():
            at = step_of(artifact.meta)
            if at is None or view_of(artifact) != "image":
                mine[name] = artifact
            else:
                steps.setdefault(at[0], {})[at[1]] = artifact
        plain.append(mine)
        series.append(steps)
    return plain, series


def thinned(steps: Sequence[int], most: int = MAX_SERIES_STEPS) -> list[int]:
    """At most ``most`` of the sorted ``steps``, evenly spread, the first and last kept."""
    if len(steps) <= most:
        return list(steps)
    if most < 2:
        return list(steps[-most:]) if most > 0 else []
    last = len(steps) - 1
    picked = sorted({round(i * last / (most - 1)) for i in range(most)})
    return [steps[i] for i in picked]


def _series_manifest(steps: Steps) -> dict[int, tuple[tuple[str, str], ...]]:
    return {step: manifest(a) for step, a in steps.items()}


def _series_side(steps: Steps | None) -> dict[str, Any] | None:
    if not steps:
        return None
    ordered = sorted(steps)
    last = steps[ordered[-1]]
    return {
        "kind": last.kind,
        "size": sum(a.size for a in steps.values()),
        "file_count": sum(a.file_count for a in steps.values()),
        "media_type": last.media_type,
        "files": [],
        "model": None,
        "step_count": len(ordered),
        "first_step": ordered[0],
        "last_step": ordered[-1],
    }


def _series_steps(steps: Steps | None) -> list[dict[str, Any]] | None:
    if not steps:
        return None
    shown = []
    for step in thinned(sorted(steps), MAX_SERIES_STEPS):
        artifact = steps[step]
        image = _image(artifact)
        if image is not None:
            digest = artifact.file(image["path"]).digest
            shown.append({"step": step, **image, "digest": digest})
    return shown


def _series_changes(base: Steps, other: Steps) -> dict[str, int]:
    mine, theirs = _series_manifest(base), _series_manifest(other)
    return {
        "added": sum(1 for s in theirs if s not in mine),
        "removed": sum(1 for s in mine if s not in theirs),
        "changed": sum(1 for s, m in theirs.items() if s in mine and mine[s] != m),
    }


def series_rows(series: Sequence[Mapping[str, Steps]]) -> list[dict[str, Any]]:
    """One row per series any run logged (``series[i]``: run ``i``'s, baseline first)."""
    rows = []
    for key in sorted(set().union(*series)) if series else []:
        items = [by_key.get(key) for by_key in series]
        base = items[0]
        shown = next(s for s in items if s)
        manifests = [_series_manifest(s) if s else None for s in items]
        present = [m for m in manifests if m is not None]
        if len(present) < len(items):
            status = "missing"
        else:
            status = "same" if all(m == present[0] for m in present[1:]) else "changed"
        states: list[str | None] = [None]
        changes: list[dict[str, int] | None] = [None]
        for item, m in zip(items[1:], manifests[1:], strict=True):
            if item is None:
                states.append("missing" if base is not None else None)
                changes.append(None)
            elif base is None:
                states.append("added")
                changes.append(None)
            else:
                states.append("same" if m == manifests[0] else "changed")
                changes.append(_series_changes(base, item))
        rows.append(
            {
                "name": key,
                "kind": shown[min(shown)].kind,
                "view": "series",
                "status": status,
                "runs": [_series_side(s) for s in items],
                "states": states,
                "file_changes": changes,
                "text_diffs": [None] * len(items),
                "table_diffs": [None] * len(items),
                "images": [None] * len(items),
                "steps": [_series_steps(s) for s in items],
            }
        )
    return rows


def _state(base: Artifact | None, other: Artifact | None) -> str | None:
    if other is None:
        return "missing" if base is not None else None
    if base is None:
        return "added"
    return "same" if manifest(base) == manifest(other) else "changed"


def _status(items: Sequence[Artifact | None]) -> str:
    """``missing`` (in some run), ``same`` (the same bytes in all) or ``changed``."""
    present = [a for a in items if a is not None]
    if len(present) < len(items):
        return "missing"
    first = manifest(present[0])
    return "same" if all(manifest(a) == first for a in present[1:]) else "changed"


# diffs -------------------------------------------------------------------------------------------

_cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(key: tuple[str, str]) -> dict[str, Any] | None:
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
        return found


def _remember(key: tuple[str, str], entry: dict[str, Any]) -> None:
    with _cache_lock:
        _cache[key] = entry
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def _too_big(pair: _Pair) -> str | None:
    sizes = [pair.old[1].size, pair.new[1].size]
    if max(sizes) <= TEXT_LIMIT:
        return None
    return (
        f"too big to diff ({' and '.join(human_size(s) for s in sizes)}; "
        f"files of at most {human_size(TEXT_LIMIT)} are diffed)"
    )


def _read_all(
    store: Store, wanted: Mapping[str, tuple[Artifact, ArtifactFile]]
) -> dict[str, bytes]:
    """The bytes of each wanted digest, read once each, in parallel."""

    def read(item: tuple[str, tuple[Artifact, ArtifactFile]]) -> tuple[str, bytes]:
        digest, (artifact, f) = item
        return digest, read_bytes(store, artifact, f.path, limit=TEXT_LIMIT + 1)

    items = list(wanted.items())
    if len(items) <= 1:
        return dict(read(item) for item in items)
    with ThreadPoolExecutor(min(READERS, len(items)), thread_name_prefix="mltrack-diff") as pool:
        return dict(pool.map(read, items))


def _cut(diff: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``diff`` with at most :data:`MAX_DIFF_LINES` lines of hunks, and what was left out."""
    total = sum(len(h["lines"]) for h in diff["hunks"])
    if total <= MAX_DIFF_LINES:
        return diff, None
    kept, shown = [], 0
    for hunk in diff["hunks"]:
        if shown and shown + len(hunk["lines"]) > MAX_DIFF_LINES:
            break
        kept.append(hunk)
        shown += len(hunk["lines"])
    reason = f"diff cut: {shown:,} of its {total:,} lines shown"
    return {"same": False, "hunks": kept}, reason


def _diff(old: bytes, new: bytes) -> dict[str, Any]:
    """A file entry's ``diff`` and ``reason`` for two files' bytes."""
    if b"\x00" in old or b"\x00" in new:
        return {"diff": None, "reason": "binary content: not diffed"}
    diff, reason = _cut(text_diff(old.decode("utf-8", "replace"), new.decode("utf-8", "replace")))
    return {"diff": diff, "reason": reason}


def _text_diffs(store: Store, pairs: Sequence[_Pair]) -> list[dict[str, Any]]:
    """One ``{path, diff, reason}`` per pair: diffed (the first :data:`MAX_DIFFED_FILES`),
    or why not."""
    entries: list[dict[str, Any] | None] = [None] * len(pairs)
    to_diff: list[int] = []
    wanted: dict[str, tuple[Artifact, ArtifactFile]] = {}
    for i, pair in enumerate(pairs):
        reason = _too_big(pair)
        if reason is None and i >= MAX_DIFFED_FILES:
            reason = f"not diffed: a comparison diffs at most {MAX_DIFFED_FILES} files"
        if reason is not None:
            entries[i] = {"diff": None, "reason": reason}
            continue
        found = _cached((pair.old[1].digest, pair.new[1].digest))
        if found is not None:
            entries[i] = found
            continue
        to_diff.append(i)
        for artifact, f in (pair.old, pair.new):
            wanted.setdefault(f.digest, (artifact, f))
    data = _read_all(store, wanted)
    for i in to_diff:
        old, new = pairs[i].old[1].digest, pairs[i].new[1].digest
        entry = _diff(data[old], data[new])
        _remember((old, new), entry)
        entries[i] = entry
    return [{"path": p.path, **(e or {})} for p, e in zip(pairs, entries, strict=True)]


# the section -------------------------------------------------------------------------------------


def compare_artifacts(
    store: Store, listed: Sequence[Mapping[str, Artifact]]
) -> list[dict[str, Any]]:
    """The rows for runs' artifacts (``listed[i]``: run ``i``'s by name, baseline first)."""
    names = sorted(set().union(*listed)) if listed else []
    rows: list[dict[str, Any]] = []
    pairs: list[_Pair] = []
    for r, name in enumerate(names):
        items = [by_name.get(name) for by_name in listed]
        base = items[0]
        shown = base if base is not None else next(a for a in items if a is not None)
        view = view_of(shown)
        changes: list[dict[str, int] | None] = [None]
        tables: list[dict[str, Any] | None] = [None] * len(items)
        for i, item in enumerate(items[1:], start=1):
            if base is None or item is None:
                changes.append(None)
                continue
            changes.append(file_changes(base, item))
            tables[i] = table_changes(store, base, item)
            if view == "text" and base.kind in TEXT_KINDS and item.kind in TEXT_KINDS:
                pairs += [
                    _Pair(r, i, path, (base, old), (item, new))
                    for path, old, new in _paired_files(base, item)
                    if is_text(media_type_of(path))
                ]
        rows.append(
            {
                "name": name,
                "kind": shown.kind,
                "view": view,
                "status": _status(items),
                "runs": [_side(a) for a in items],
                "states": [None, *(_state(base, a) for a in items[1:])],
                "file_changes": changes,
                "text_diffs": [None] * len(items),
                "table_diffs": tables,
                "images": [_image(a) for a in items] if view == "image" else [None] * len(items),
            }
        )
    for pair, entry in zip(pairs, _text_diffs(store, pairs), strict=True):
        diffs = rows[pair.row]["text_diffs"]
        if diffs[pair.run] is None:
            diffs[pair.run] = []
        diffs[pair.run].append(entry)
    return rows


def artifacts_section(store: Store, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The artifacts section for ``run_ids`` (baseline first): ``[]`` after one query when
    none of them logged an artifact."""
    ids = list(run_ids)
    counts = store.artifact_counts(ids)
    if not counts:
        return []
    listed = [
        {a.name: a for a in store.list_artifacts(run_id)} if counts.get(run_id) else {}
        for run_id in ids
    ]
    plain, series = split_series(listed)
    rows = compare_artifacts(store, plain) + series_rows(series)
    return sorted(rows, key=lambda row: row["name"])


def embedded_images(
    store: Store,
    rows: Sequence[Mapping[str, Any]],
    *,
    cache: dict[str, str] | None = None,
) -> dict[tuple[str, str], str]:
    """The images the differing rows show (an image's, a series' last step: see
    :func:`.artifact_rows.shown_images`) as ``data:`` URIs by ``(run id, artifact name)``:
    PNG, JPEG and SVG files of at most :data:`MAX_IMAGE_BYTES`, until
    :data:`MAX_EMBEDDED_BYTES` in all; the others are left to say why they are not shown.
    ``cache`` (by digest) spares a widget re-rendering the same rows a second read."""
    import base64

    cache = {} if cache is None else cache
    out: dict[tuple[str, str], str] = {}
    total = 0
    for row in rows:
        if row.get("status") == "same":
            continue
        for ref, side in zip(shown_images(row), row.get("runs") or [], strict=False):
            if ref is None or side is None or ref["media_type"] not in EMBEDDED_TYPES:
                continue
            digest = ref.get("digest") or next(
                (f["digest"] for f in side["files"] if f["path"] == ref["path"]), ""
            )
            size = int(ref["size"])
            if size > MAX_IMAGE_BYTES or total + size > MAX_EMBEDDED_BYTES or not digest:
                continue
            uri = cache.get(digest)
            if uri is None:
                artifact = store.get_artifact(ref["run_id"], ref["name"])
                data = base64.b64encode(read_bytes(store, artifact, ref["path"]))
                uri = f"data:{ref['media_type']};base64,{data.decode('ascii')}"
                cache[digest] = uri
            out[(ref["run_id"], ref["name"])] = uri
            total += size
    return out
