"""Reading a run's artifacts back in Python: the text, dict, image or figure as a value, or
the files written to disk.

What MLflow's ``mlflow.artifacts.load_text`` / ``load_dict`` / ``load_image`` /
``download_artifacts`` do for a notebook user, by the references the rest of the API takes
(``"RUN/NAME"``; a registered model's ``models:/…`` for a download). A reference may also
name a file inside a folder artifact, as MLflow's artifact paths do:
``load_text("3/reports/summary.txt")`` reads ``summary.txt`` of the folder ``reports`` when
the run has no artifact of the whole name. A series of images (``log_image(..., step=)``)
is named by its name: a loader reads its last step, or ``step=``; a download writes all of
its steps.

Pure logic: a store in, values or files out. The notebook functions that pick the store and
the experiment are in :mod:`.public`; the terminal's ``mltrack artifacts get`` writes files
through :func:`download`.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..placing import destination, publish, write_staged
from ..store.entities import Artifact, ModelVersion
from ..store.errors import ArtifactNotFound
from .artifacts import ONE_FILE_KINDS, ArtifactError, materialize, open_file, read_bytes
from .refs import parse, resolve
from .steps import Series, check_step, grouped

if TYPE_CHECKING:
    from ..store.store import Store

#: How many of an artifact's files an error lists before "…".
LISTED_FILES = 20


@dataclass(frozen=True)
class Found:
    """What a reference names: one artifact (and maybe one file of it), or a series."""

    ref: str
    artifact: Artifact | None = None
    series: Series | None = None
    #: A file of ``artifact`` (``None``: the artifact as a whole, or its primary file).
    path: str | None = None
    #: The registered version a ``models:/`` reference resolved to.
    version: ModelVersion | None = None

    @property
    def label(self) -> str:
        """``'3/reports'``, ``'3/reports' (summary.txt)``: what messages call it."""
        return f"{self.ref!r}" + (f" ({self.path})" if self.path else "")

    def one(self) -> Artifact:
        """The artifact a loader reads: a series' last step."""
        if self.artifact is not None:
            return self.artifact
        assert self.series is not None
        return self.series.members[-1]


def find(
    store: Store,
    ref: str,
    experiment: str | None,
    *,
    path: str | None = None,
    step: int | None = None,
) -> Found:
    """Resolve ``ref`` (``experiment``: where a run number is looked up). The run's
    artifact of that name first; else its series of that name (``step`` picks a step);
    else the folder artifact whose name starts the reference, and the file the rest names.
    :class:`~..store.errors.ArtifactNotFound` names the run's artifacts otherwise."""
    parsed = parse(ref)
    if step is not None:
        step = check_step(step)
    if parsed.registered:
        artifact, version = resolve(store, parsed)
        return _with_step(Found(ref, artifact=artifact, path=path, version=version), step)
    assert parsed.run is not None and parsed.artifact is not None
    run_id = store.resolve_run_id(parsed.run, experiment)
    return find_in_run(store, run_id, parsed.artifact, ref=ref, path=path, step=step)


def find_in_run(
    store: Store,
    run_id: str,
    name: str,
    *,
    ref: str,
    path: str | None = None,
    step: int | None = None,
) -> Found:
    """:func:`find` once the run is known (the terminal resolves it with its own messages);
    ``ref`` is what messages call it."""
    try:
        return _with_step(Found(ref, artifact=store.get_artifact(run_id, name), path=path), step)
    except ArtifactNotFound as missing:
        listed = store.list_artifacts(run_id, files=False)  # names and meta: cheap
        if any(isinstance(i, Series) and i.name == name for i in grouped(listed)):
            series = next(  # listed again with files: a download writes every step
                i
                for i in grouped(store.list_artifacts(run_id))
                if isinstance(i, Series) and i.name == name
            )
            return _with_step(Found(ref, series=series, path=path), step)
        names = {a.name for a in listed}
        for cut in _prefixes(name):
            if cut in names:
                if path is not None:  # both a file in the reference and path=
                    raise ArtifactError(
                        f"{ref!r} names file {name[len(cut) + 1 :]!r} of artifact {cut!r}"
                        f" and path={path!r} another: give one"
                    ) from None
                found = Found(ref, artifact=store.get_artifact(run_id, cut))
                return _with_step(_file_of(found, name[len(cut) + 1 :]), step)
        raise missing


def _prefixes(name: str) -> list[str]:
    """``a/b/c.txt`` -> ``['a/b', 'a']``: the folder artifacts it could be a file of,
    the longest first (an artifact ``a/b`` is nearer than ``a``)."""
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _file_of(found: Found, path: str) -> Found:
    """``found`` narrowed to its file ``path``: only if the artifact has that file."""
    artifact = found.artifact
    assert artifact is not None
    if not any(f.path == path for f in artifact.files):
        raise ArtifactNotFound(
            f"artifact {artifact.name!r} has no file {path!r} (its files: {_files(artifact)})"
        )
    return replace(found, path=path)


def _with_step(found: Found, step: int | None) -> Found:
    """``found`` at ``step``: a series' member, checked; a step of anything else refused."""
    if found.series is not None and found.path is not None:
        raise ArtifactError(
            f"{found.ref!r} is a series of {len(found.series.members)} steps, each an "
            f"artifact of its own: pass step= to name one, not path={found.path!r}"
        )
    if step is None:
        return found if found.path is None else _file_of(found, found.path)
    if found.series is None:
        what = found.artifact.kind if found.artifact is not None else "artifact"
        raise ArtifactError(
            f"{found.ref!r} is a {what} artifact, not a series: step= is for images and "
            "figures logged with step="
        )
    for member in found.series.members:
        if member.meta.get("step") == step:
            return Found(found.ref, artifact=member, path=found.path)
    steps = found.series.steps
    raise ArtifactNotFound(
        f"series {found.series.name!r} has no step {step} (it has {len(steps)} steps, "
        f"{steps[0]}-{steps[-1]}; the nearest: {min(steps, key=lambda s: abs(s - step))})"
    )


def _files(artifact: Artifact) -> str:
    paths = ", ".join(f.path for f in artifact.files[:LISTED_FILES])
    return paths + (", …" if len(artifact.files) > LISTED_FILES else "")


def file_bytes(store: Store, found: Found) -> tuple[str, bytes]:
    """``(file path, bytes)`` of the file a loader reads: ``found.path``, else the
    artifact's primary file (a series: its last step's). A model or a folder of several
    files has no one file to read without ``path=``."""
    artifact = found.one()
    path = found.path
    if path is None and artifact.file_count != 1 and "primary" not in artifact.meta:
        raise ArtifactError(
            f"{found.ref!r} is a {artifact.kind} artifact of {artifact.file_count} files: "
            f"name one with path= (its files: {_files(artifact)}), or write them all with "
            "mltrack.download_artifact"
        )
    f = artifact.file(path)  # (found checked that path is a file of it)
    return f.path, read_bytes(store, artifact, f.path)


def as_text(found: Found, file_path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        what = (
            "mltrack.load_model loads it, mltrack.download_artifact writes its files"
            if found.one().kind == "model"
            else "mltrack.download_artifact writes it to a file"
        )
        raise ArtifactError(
            f"{found.label} is not UTF-8 text ({file_path}: byte {exc.start} is "
            f"{data[exc.start]:#04x}); {what}"
        ) from None


def as_dict(found: Found, file_path: str, data: bytes) -> Any:
    """JSON, or YAML when the file's name ends in ``.yaml``/``.yml`` (read safely: YAML's
    tags that build Python objects are refused, as ``yaml.safe_load`` refuses them)."""
    text = as_text(found, file_path, data)
    if file_path.lower().endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ArtifactError(f"{found.label} is not YAML safe_load reads: {exc}") from None
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{found.label} is not JSON ({file_path}: {exc}); load_text reads it as text"
        ) from None


def as_image(found: Found, file_path: str, data: bytes) -> Any:
    """A PIL image, decoded whole (it holds no open file). A figure kept as SVG or PDF
    only is no raster image: the error says what reads it."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        hint = (
            "load_text reads it as SVG text"
            if file_path.lower().endswith(".svg")
            else "load_figure reads a plotly figure"
            if file_path.lower().endswith((".json", ".html"))
            else "mltrack.download_artifact writes it to a file"
        )
        raise ArtifactError(f"{found.label} is not an image Pillow reads ({exc}); {hint}") from None
    return image


def as_figure(found: Found, store: Store) -> Any:
    """A plotly figure from its JSON (``plotly.io.from_json``): a plotly figure logged with
    ``log_figure``, or a JSON file holding one. A matplotlib figure is kept as images:
    :func:`as_image` reads its PNG."""
    artifact = found.one()
    if artifact.kind == "figure" and artifact.meta.get("library") == "matplotlib":
        raise ArtifactError(
            f"{found.label} is a matplotlib figure, kept as "
            f"{' and '.join(f.path for f in artifact.files)}: load_image reads it as an "
            "image (matplotlib cannot read a figure back)"
        )
    path = found.path
    if path is None:
        json_files = [f.path for f in artifact.files if f.path.lower().endswith(".json")]
        if not json_files:
            raise ArtifactError(
                f"{found.label} holds no plotly JSON (its files: {_files(artifact)})"
            )
        path = json_files[0]
    import plotly.io as pio

    text = as_text(found, path, read_bytes(store, artifact, path))
    try:
        return pio.from_json(text, skip_invalid=False)
    except ValueError as exc:  # plotly's message goes on to list every valid property
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"{found.label} is not a plotly figure ({path}: {first})") from None


def download(
    store: Store,
    found: Found,
    output: str | os.PathLike[str] | None,
    *,
    force: bool,
    option: str,
) -> tuple[Path, bool]:
    """Write what ``found`` names to disk; ``(where, one file?)``.

    One file (``path=``, or a file named inside the reference) is written under its own
    name; a one-file artifact (a file, text or dict) as that file; a folder, figure or model
    as a folder holding its files; a series as a folder of its steps. Anything else than a
    file is written under the artifact's name, its folders included (``notes/a.txt`` ->
    ``./notes/a.txt``), as ``mlflow artifacts download`` keeps an artifact's path.
    ``output`` names the file or folder to write instead, or an existing folder to write it
    into. Nothing existing is replaced unless ``force`` (``option`` names that argument in
    messages); nothing partial is left by a failure."""
    if found.path is not None:
        artifact = found.one()
        dest = destination(output, posixpath.basename(found.path))

        def copy(tmp: Path) -> None:
            with open_file(store, artifact, found.path) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)

        publish(dest, copy, force, option)
        return dest, True
    if found.series is not None:
        series = found.series

        def fill_series(staging: Path) -> Path:
            for member in series.members:
                materialize(store, member, staging, link=False)
            return staging

        return write_staged(output, series.name, force, fill_series, option)
    artifact = found.one()

    def fill(staging: Path) -> Path:
        return materialize(store, artifact, staging, link=False)

    return write_staged(output, written_name(artifact), force, fill, option)


def written_name(artifact: Artifact) -> str:
    """The name a one-file artifact is written under: its own, with its file's extension
    when the name has none (an image logged as ``digit`` is ``digit.png``, a series' step
    ``pred/step_000003.png``: a file without its extension opens in no viewer)."""
    if artifact.kind not in ONE_FILE_KINDS or artifact.file_count != 1 or not artifact.files:
        return artifact.name
    suffix = PurePosixPath(artifact.files[0].path).suffix
    if PurePosixPath(artifact.name).suffix or not suffix:
        return artifact.name
    return artifact.name + suffix
