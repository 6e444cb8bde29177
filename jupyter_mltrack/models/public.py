"""The notebook's API for artifacts, models and the registry (re-exported as ``mltrack.*``).

Every ``log_*`` writes into the active run (a ``%%track`` cell's, or ``start_run``'s; one is
started, as ``log_metric`` does, when none is open), or into ``run=`` (a run reference or
run object) after the fact. Logging blocks until the bytes are durable (fsynced, unlike
MLflow's plain copy): a file logged is a file kept, even if the machine dies on the next line.
"""

from __future__ import annotations

import json
import math
import operator
import os
import platform
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..store.entities import Artifact, ModelVersion, RegisteredModel
from . import artifacts as _artifacts
from .artifacts import ArtifactError, Source, media_type_of
from .refs import ModelRef, load_call, parse, resolve

if TYPE_CHECKING:
    from ..store.store import Store
    from .readback import Found

#: Modules whose distributions' versions a model records besides its own library's.
_BASE_PACKAGES = ("numpy", "pandas", "scipy")


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` recorded: where to load it from, how it was saved, and what
    loading it will ask the user to trust, shown in its repr: a model that will not load
    without ``trusted=`` should say so when it is logged, not first when it is loaded."""

    ref: str
    run_id: str
    name: str
    format: str
    #: Loading runs code from the file (pickle): ``load_model`` needs ``trusted=True``.
    unsafe: bool
    signature: dict[str, Any] | None
    #: The registry version ``register=`` made (``None`` without it).
    registered: ModelVersion | None = None
    #: Types in the file off skops' default trusted list: ``load_model`` refuses the model
    #: unless they are passed as ``trusted=[...]`` (the artifact's ``untrusted_types``).
    untrusted_types: tuple[str, ...] = ()

    def __repr__(self) -> str:
        registered = f", registered as {self.registered.ref}" if self.registered else ""
        # the whole call, to copy: only where a load needs more than the reference
        call = load_call(self.ref, {"unsafe": self.unsafe, "untrusted_types": self.untrusted_types})
        if self.unsafe:
            to_load = f"; unsafe, loading runs code: {call}"
        elif self.untrusted_types:
            to_load = f"; load with {call}"
        else:
            to_load = ""
        return f"<ModelInfo {self.ref} ({self.format}){registered}{to_load}>"


def _store_and_run(run: Any) -> tuple[Store, str]:
    from ..capture import api

    if run is None:
        active = api._current()
        return active.store, active.id
    store = api.get_store()
    from ..capture.refs import current_experiment, resolve_runs

    return store, resolve_runs(store, [run], current_experiment())[0]


def _target_store(run: Any) -> Store:
    """The store :func:`_store_and_run` would write to, found without starting a run."""
    from ..capture import api

    active = api.active_run() if run is None else None
    return active.store if active is not None else api.get_store()


def log_artifact(
    path: str | os.PathLike[str], name: str | None = None, *, run: Any = None
) -> Artifact:
    """Keep a file or a folder with the run. ``name`` defaults to its base name; a folder's
    files keep their relative paths. Bytes already stored (by any run) are not stored again."""
    kind, artifact_name, sources = _artifacts.sources_of(path, name)
    store, run_id = _store_and_run(run)
    media = media_type_of(sources[0].path) if kind == "file" else None
    return _artifacts.write_artifact(store, run_id, artifact_name, kind, sources, media_type=media)


def log_text(text: str, name: str, *, run: Any = None) -> Artifact:
    """Keep ``text`` as the file ``name`` (UTF-8), e.g. ``log_text(report, "report.md")``.

    A lone surrogate (left by decoding bytes with ``errors="surrogateescape"``) has no
    UTF-8 form: it is refused, naming its position, rather than written as bytes that are
    not UTF-8 (which every reader, the preview included, shows as replacement marks)."""
    if not isinstance(text, str):
        raise ArtifactError(f"log_text takes a str, not {type(text).__name__}")
    _artifacts.check_name(name)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ArtifactError(
            f"log_text({name!r}): the text holds {text[exc.start]!r} at position "
            f"{exc.start}, a lone surrogate, which UTF-8 cannot encode (it comes from "
            "decoding bytes with errors='surrogateescape'). Replace it, e.g. "
            "text.encode('utf-8', 'replace').decode(), or keep the original bytes with "
            "log_artifact"
        ) from None
    return _log_bytes(name, "text", data, media_type_of(name), run)


def log_dict(obj: Any, name: str, *, run: Any = None) -> Artifact:
    """Keep a dict (or list) as JSON, or as YAML when ``name`` ends in ``.yaml``/``.yml``.
    A name without an extension gets ``.json``; one with another (``params.txt``) is kept as
    given, holding JSON, as MLflow's ``log_dict`` does: what was asked for is what is found.
    NaN and infinities become ``null`` in JSON (which has neither). A string holding a lone
    surrogate is kept as its escape (``"\\ud800"``), in JSON as in YAML: no UTF-8 has it."""
    _artifacts.check_name(name)
    if not PurePosixPath(name).suffix:
        name = f"{name}.json"
    value = _plain(obj)
    if name.lower().endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_dump(value, sort_keys=False, allow_unicode=True).encode()
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: escaped, as JSON allows
            data = json.dumps(value, indent=2, ensure_ascii=True, allow_nan=False).encode()
    return _log_bytes(name, "dict", data, media_type_of(name), run)


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON data: NumPy scalars and arrays as numbers and lists, NaN
    and infinities as ``None``, tuples and sets as lists, other objects as their ``str``."""
    if depth > 100:
        raise ArtifactError("log_dict: the value nests more than 100 levels deep")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    tolist = getattr(value, "tolist", None)  # NumPy scalars and arrays, pandas objects
    if callable(tolist):
        return _plain(tolist(), depth + 1)
    return str(value)


def log_figure(fig: Any, name: str, *, step: int | None = None, run: Any = None) -> Artifact:
    """Keep a matplotlib figure (PNG and SVG) or a plotly figure (JSON and HTML); a name
    with an extension (``roc.pdf``) keeps that format only, and an extension that is no
    format of the figure's library (``fig.xyz``) is an ``ArtifactError`` listing those.
    With ``step``, one figure of a series, as :func:`log_image`'s."""
    from .figures import figure_sources

    _artifacts.check_name(name)
    name, file_name, step_meta = _at_step(name, step)
    sources, media, meta = figure_sources(fig, file_name)
    store, run_id = _store_and_run(run)
    return _artifacts.write_artifact(
        store, run_id, name, "figure", sources, meta={**meta, **step_meta}, media_type=media
    )


def log_image(image: Any, name: str, *, step: int | None = None, run: Any = None) -> Artifact:
    """Keep an image held in memory: a NumPy array (height x width, with 1, 3 or 4 channels;
    integers 0-255 or floats 0-1), a PIL image, or a tensor (channels first too). Kept as
    ``name`` + ``.png``, or as JPEG when ``name`` ends in ``.jpg``; the same pixels are
    stored once. For a matplotlib or plotly figure use :func:`log_figure`.

    With ``step`` (an integer: the epoch, the batch), the image is one of the series
    ``name``, kept as the artifact ``name/step_000042``: the run's detail and the compare
    view show a series with a slider over its steps. Logging a step again replaces it."""
    from .images import image_source

    _artifacts.check_name(name)
    name, file_name, step_meta = _at_step(name, step)
    source, media, meta = image_source(image, file_name)
    store, run_id = _store_and_run(run)
    return _artifacts.write_artifact(
        store, run_id, name, "file", [source], meta={**meta, **step_meta}, media_type=media
    )


def log_table(
    data: Any, name: str, *, key: str | list[str] | None = None, run: Any = None
) -> Artifact:
    """Keep a table (a pandas DataFrame, a dict of columns or a pyarrow Table) as
    ``name.parquet``: every dtype comes back as logged (:func:`load_table`), the run detail
    previews its first rows, and the same table is stored once. MLflow's ``log_table``
    keeps JSON; a W&B ``Table`` its own JSON.

    ``key``: the column(s) that name a row (``"customer_id"``), checked to name each row
    once. Comparing runs then pairs their tables' rows by it, whatever their order, and
    says which rows only one run has; without it, rows pair by the table's own index (when
    it has one) or by position."""
    from .tables import table_source

    _artifacts.check_name(name)
    source, media, meta = table_source(data, name, key)
    store, run_id = _store_and_run(run)
    return _artifacts.write_artifact(
        store, run_id, name, "file", [source], meta=meta, media_type=media
    )


def load_table(ref: str, *, path: str | None = None, store: Store | None = None) -> Any:
    """A table ``log_table`` kept, as the DataFrame it was: ``ref`` is ``"RUN/NAME"`` (a
    run number of the current experiment, an id or id prefix, and the table's name). A
    Parquet file of a folder artifact reads too (``"3/outputs/preds.parquet"``, or
    ``path=``), as every reader of :mod:`.readback` takes it."""
    from .readback import file_bytes
    from .tables import PARQUET, read_table

    if isinstance(ref, str) and parse(ref).registered:
        raise ArtifactError(f"{ref!r} names a registered model; a table is 'RUN/NAME'")
    st, found = _found(ref, store, path, None)
    artifact = found.one()
    parquet = found.path is not None and found.path.lower().endswith(".parquet")
    if not parquet and (artifact.media_type != PARQUET or artifact.file_count != 1):
        if found.path is not None:
            raise ArtifactError(
                f"{ref!r} is {found.path}, a file of a {artifact.kind} artifact, not a Parquet"
                " table (load_text or download_artifact read it)"
            )
        raise ArtifactError(
            f"{ref!r} is a {artifact.kind} artifact ({artifact.media_type or 'no type'}), not a"
            " table (log it with log_table)"
        )
    table = read_table(file_bytes(st, found)[1])
    _used(st, found, "load_table")
    return table


# reading back ---------------------------------------------------------------------------------


def _found(ref: str, store: Store | None, path: str | None, step: Any) -> tuple[Store, Found]:
    """``(store, what ref names)``: a run number is one of the current experiment."""
    from ..capture import api
    from ..capture.refs import current_experiment
    from .readback import find

    st = store or api.get_store()
    if not isinstance(ref, str):
        raise ArtifactError(f"an artifact reference is text ('RUN/NAME'), not {type(ref).__name__}")
    return st, find(st, ref, current_experiment(), path=path, step=step)


def list_artifacts(run: Any = None, *, store: Store | None = None) -> list[Artifact]:
    """A run's artifacts (a number of the current experiment, an id or id prefix, a run
    object; the active run without one), by name, each with its files: what ``load_text``,
    ``load_image`` and the rest take as ``"RUN/NAME"``. A series' steps are listed one
    by one (``pred/step_000003``…); each ``Artifact`` says its ``kind``, ``size``,
    ``media_type`` and ``meta``."""
    from ..capture import api
    from ..capture.refs import current_experiment, resolve_runs

    if run is None:
        active = api.active_run()  # (listing starts no run)
        if active is None:
            raise ArtifactError(
                "no run is active: name one, e.g. list_artifacts(3) (a run number of the "
                "current experiment, an id or an id prefix)"
            )
        return active.store.list_artifacts(active.id)
    st = store or api.get_store()
    return st.list_artifacts(resolve_runs(st, [run], current_experiment())[0])


def load_text(
    ref: str, *, path: str | None = None, step: int | None = None, store: Store | None = None
) -> str:
    """A logged file as text (UTF-8): ``log_text``'s, a dict's JSON or YAML, any text file
    (``"3/notes.md"``), or a file of a folder artifact (``"3/reports/summary.txt"``, or
    ``path="summary.txt"``). MLflow's ``mlflow.artifacts.load_text``."""
    from .readback import as_text, file_bytes

    st, found = _found(ref, store, path, step)
    file_path, data = file_bytes(st, found)
    text = as_text(found, file_path, data)
    _used(st, found, "load_text")
    return text


def load_dict(ref: str, *, path: str | None = None, store: Store | None = None) -> Any:
    """What ``log_dict`` kept (or any JSON or YAML file), parsed: YAML when the file's name
    ends in ``.yaml``/``.yml`` (read with ``yaml.safe_load``: no tag builds an object),
    else JSON. MLflow's ``mlflow.artifacts.load_dict``."""
    from .readback import as_dict, file_bytes

    st, found = _found(ref, store, path, None)
    file_path, data = file_bytes(st, found)
    value = as_dict(found, file_path, data)
    _used(st, found, "load_dict")
    return value


def load_image(
    ref: str, *, step: int | None = None, path: str | None = None, store: Store | None = None
) -> Any:
    """A logged image as a PIL image: ``log_image``'s, a matplotlib figure's PNG, or any
    image file. For a series (``log_image(img, "pred", step=epoch)``), its last step, or
    ``step=``. ``numpy.asarray(image)`` gives its pixels. MLflow's
    ``mlflow.artifacts.load_image``."""
    from .readback import as_image, file_bytes

    st, found = _found(ref, store, path, step)
    file_path, data = file_bytes(st, found)
    image = as_image(found, file_path, data)
    _used(st, found, "load_image")
    return image


def load_figure(ref: str, *, step: int | None = None, store: Store | None = None) -> Any:
    """A plotly figure ``log_figure`` kept, as a ``plotly.graph_objects.Figure`` again (to
    show, restyle or add a trace to). A matplotlib figure was kept as images: use
    :func:`load_image`."""
    from .readback import as_figure

    st, found = _found(ref, store, None, step)
    figure = as_figure(found, st)
    _used(st, found, "load_figure")
    return figure


def download_artifact(
    ref: str,
    dst: str | os.PathLike[str] | None = None,
    *,
    path: str | None = None,
    step: int | None = None,
    force: bool = False,
    store: Store | None = None,
) -> Path:
    """Write an artifact back to files; returns where. ``ref``: ``"RUN/NAME"``, a file of a
    folder artifact (``"3/reports/summary.txt"``), or a registered model
    (``"models:/churn@production"``). A one-file artifact is written as that file (its
    file's extension added to a name without one: ``digit`` is ``digit.png``), a folder,
    figure or model as a folder of its files, a series as a folder of its steps, under the
    artifact's name, its folders included, in ``dst`` (an existing folder; the current one
    by default), or as ``dst`` itself when it names a new file or folder. Nothing existing
    is replaced unless ``force=True``, and a failure leaves nothing partial. MLflow's
    ``mlflow.artifacts.download_artifacts``; ``mltrack artifacts get`` in a terminal."""
    from ..placing import WriteError
    from .readback import download

    st, found = _found(ref, store, path, step)
    try:
        written, _ = download(st, found, dst, force=force, option="force=True")
    except WriteError as exc:
        raise ArtifactError(str(exc)) from None
    _used(st, found, "download_artifact", whole=True)
    return written


def use_artifact(
    ref: str, *, path: str | None = None, step: int | None = None, store: Store | None = None
) -> Artifact:
    """Say that the active run uses an artifact, and get its record (files, meta) without
    reading it: W&B's ``run.use_artifact``, for data this run reads some other way (your
    own reader on the files ``download_artifact`` wrote, say). The loaders
    (``load_model``, ``load_table``, ``load_text``…) and ``download_artifact`` record
    their use themselves. ``ref`` as theirs: ``"RUN/NAME"``, a file of a folder artifact,
    or ``"models:/churn@production"``. With no run open, nothing is recorded (this starts
    none)."""
    st, found = _found(ref, store, path, step)
    _used(st, found, "use_artifact")
    return found.one()


def _used(st: Store, found: Found, how: str, *, whole: bool = False) -> None:
    """Record that the active run read what ``found`` names: its artifact, a series' step
    read (its last by default), or with ``whole`` every step of a series (a download).
    Never raises."""
    from .uses import record_use

    series = found.series if whole and found.artifact is None else None
    read = list(series.members) if series is not None else [found.one()]
    record_use(st, read, ref=found.ref, how=how, version=found.version)


def _at_step(name: str, step: Any) -> tuple[str, str, dict[str, Any]]:
    """``(artifact name, file name, meta)``: ``name`` itself without a step."""
    if step is None:
        return name, name, {}
    from .steps import stepped

    artifact, file_name, meta = stepped(name, step)
    _artifacts.check_name(artifact)
    return artifact, file_name, meta


def _log_bytes(name: str, kind: str, data: bytes, media: str, run: Any) -> Artifact:
    store, run_id = _store_and_run(run)
    source = Source(name.rpartition("/")[2], data=data)
    return _artifacts.write_artifact(store, run_id, name, kind, [source], media_type=media)


def log_model(
    model: Any,
    name: str = "model",
    *,
    format: str | None = None,
    signature_from: Any = None,
    register: str | None = None,
    run: Any = None,
) -> ModelInfo:
    """Keep a trained model with the run, in a format that loads without running code.

    ``format`` defaults by library: ``skops`` for scikit-learn, XGBoost's JSON, LightGBM's
    text, a PyTorch ``state_dict``, Keras' ``.keras``; ``"onnx"`` on request; ``"pickle"``
    only when asked, and marked unsafe. ``signature_from`` (e.g. ``X_test[:5]``) records the
    input and output schema, a few example rows and the model's predictions on them, which
    ``mltrack reproduce`` checks a reproduced model against; rows the model cannot predict
    (other columns) are kept without predictions, and rows no signature can be taken from
    (a sparse matrix) without a signature, each with a ``UserWarning`` naming the error.
    ``register="churn"`` also adds it to the registry as the next version of ``churn``."""
    from .formats import save_model
    from .signature import infer_signature

    _artifacts.check_name(name)
    if register is not None:  # refused before a run is started or a byte is stored
        _target_store(run).check_model_name(register)
    store, run_id = _store_and_run(run)
    signature = None
    if signature_from is not None:
        try:
            signature = infer_signature(signature_from, model)
        except Exception as exc:  # the model is what is logged: kept without a signature
            _warn_no_signature(name, exc)
    with tempfile.TemporaryDirectory(prefix="mltrack-model-") as folder:
        extra: dict[str, Any] = {}
        if format == "onnx" and signature_from is not None:
            extra["sample"] = signature_from
        saved = save_model(model, Path(folder), format=format, **extra)
        meta = {
            **saved.to_meta(),
            "python": platform.python_version(),
            "packages": _versions(saved.flavor),
            "signature": signature,
        }
        sources = _artifacts.folder_sources(folder)
        _artifacts.write_artifact(store, run_id, name, "model", sources, meta=meta)
    if signature is not None and signature.get("prediction_error"):
        _warn_no_predictions(name, signature["prediction_error"])
    version = store.register_model_version(register, run_id, name) if register else None
    return ModelInfo(
        ref=f"{run_id}/{name}",
        run_id=run_id,
        name=name,
        format=saved.format,
        unsafe=bool(saved.unsafe),
        signature=signature,
        registered=version,
        untrusted_types=tuple(saved.untrusted_types),
    )


def _warn_no_signature(name: str, exc: Exception) -> None:
    """Say, at the user's ``log_model`` line, that no signature could be taken from
    ``signature_from`` (a type it does not read, such as a scipy sparse matrix). The model
    is logged all the same: failing the cell for its signature would lose the model."""
    from .formats._base import warn_caller

    warn_caller(
        f"log_model({name!r}): no signature could be taken from signature_from "
        f"({type(exc).__name__}: {exc}), so the model is logged without one, and mltrack "
        "reproduce cannot compare its predictions. Pass a few rows as a pandas DataFrame "
        "or Series, a numpy array, a torch tensor or a list (e.g. X_test[:5])"
    )


def _warn_no_predictions(name: str, error: str) -> None:
    """Say, at the user's ``log_model`` line, that ``signature_from``'s rows are not what
    the model takes. The model is logged all the same (tracking never fails the cell for
    it), but a signature without predictions is one ``mltrack reproduce`` cannot check, and
    rows of the wrong columns are a mistake the user would rather hear of now."""
    from .formats._base import warn_caller

    warn_caller(
        f"log_model({name!r}): the model could not predict the rows of signature_from "
        f"({error}), so its signature records their columns but no predictions, and "
        "mltrack reproduce cannot compare this model. It is logged; pass rows the model "
        "takes (e.g. signature_from=X_test[:5]) to record them"
    )


def _versions(flavor: str | None) -> dict[str, str]:
    """Distribution -> version of the model's library (``flavor``, an import name) and of
    the base packages. An import name is mapped to the distributions that install it, as a
    run's environment is recorded: asking for the import name's version would miss any
    library installed under another name (``sklearn`` as scikit-learn, ``xgboost`` as
    xgboost-cpu)."""
    from ..capture.environment import distribution_versions

    out: dict[str, str] = {}
    for module in (flavor, *_BASE_PACKAGES):
        if module:
            out.update(distribution_versions(module))
    return out


def load_model(
    ref: str, *, trusted: bool | list[str] = False, store: Store | None = None, **kwargs: Any
) -> Any:
    """Load a logged model: ``ref`` is ``"RUN/NAME"`` (a run number of the current
    experiment, an id or id prefix), ``"models:/NAME@ALIAS"`` or ``"models:/NAME/VERSION"``.

    Nothing that can run code is loaded by default: a pickled model, or a skops file with
    types off skops' trusted list, raises an error that lists them and says how to allow
    them (``trusted=[...]`` or ``trusted=True``) once you trust where the model came from.
    A PyTorch ``state_dict`` also takes ``model=``, an instance to load the weights into."""
    from ..capture import api
    from ..capture.refs import current_experiment
    from .formats import load_options, load_saved_model

    st = store or api.get_store()
    parsed = parse(ref)
    experiment = None if parsed.registered else current_experiment()
    artifact, version = resolve(st, parsed, experiment)
    if artifact.kind != "model":
        raise ArtifactError(
            f"{ref!r} is a {artifact.kind} artifact, not a model (log it with log_model)"
        )
    # said here, before the files are checked out, and naming this function rather than
    # the loader it would otherwise reach
    saved_format = str(artifact.meta.get("format", ""))
    unknown = sorted(set(kwargs) - set(load_options(saved_format)))
    if unknown:
        taken = ", ".join(f"{a}=" for a in ("trusted", "store", *load_options(saved_format)))
        raise TypeError(
            f"load_model() got an unexpected keyword argument {unknown[0]!r}: "
            f"loading {ref!r} (a {saved_format} model) takes {taken}"
        )
    with _artifacts.checked_out(st, artifact) as folder:
        model = load_saved_model(folder, artifact.meta, trusted=trusted, **kwargs)
    from .uses import record_use

    record_use(st, [artifact], ref=ref, how="load_model", version=version)
    return model


def model_meta(ref: str, *, store: Store | None = None) -> dict[str, Any]:
    """What was recorded with a model: format, versions, signature, example rows."""
    from ..capture import api
    from ..capture.refs import current_experiment

    st = store or api.get_store()
    parsed = parse(ref)
    artifact, _ = resolve(st, parsed, None if parsed.registered else current_experiment())
    return dict(artifact.meta)


# the registry --------------------------------------------------------------------------------


def register_model(
    name: str,
    ref: str | ModelInfo,
    *,
    description: str = "",
    tags: Mapping[str, Any] | None = None,
    store: Store | None = None,
) -> int:
    """Add a logged model (``"RUN/NAME"`` or ``log_model``'s result) as the next version of
    ``name`` (created if new); returns the version. Registering it again returns its version
    (``tags`` are then set on it; its description is kept). ``description`` and ``tags``:
    the new version's (see :func:`set_model_version_tag`)."""
    from ..capture import api
    from ..capture.refs import current_experiment
    from ..store.registry_records import check_text, check_version_tags

    st = store or api.get_store()
    check_text("description", description)  # refused before a version is added, as tags
    checked = check_version_tags(tags or {})
    text = ref.ref if isinstance(ref, ModelInfo) else ref
    parsed = parse(text)
    if parsed.registered:
        artifact, _ = resolve(st, parsed)
    else:
        artifact, _ = resolve(st, parsed, current_experiment())
    return st.register_model_version(
        name, artifact.run_id, artifact.name, description=description, tags=checked
    ).version


def describe_model(
    name: str, description: str, *, version: Any = None, store: Store | None = None
) -> None:
    """Describe model ``name`` or, with ``version``, one of its versions (MLflow's
    ``update_registered_model``/``update_model_version``): what it predicts, what changed in
    that version. Shown by ``mltrack models show``, the Models panel and the REST API."""
    from ..capture import api

    st = store or api.get_store()
    if version is None:
        st.set_model_description(name, description)
    else:
        number = _version_number("describe_model", version)
        st.update_model_version(name, number, description=description)


def set_model_version_tag(
    name: str, version: Any, key: str, value: Any, *, store: Store | None = None
) -> None:
    """Tag version ``version`` of ``name``: ``key=value``, replacing the key's value
    (MLflow's ``set_model_version_tag``). What a team records of a version outside its run,
    ``validation=passed`` or ``approved_by=ana``; numbers and booleans are kept as text."""
    from ..capture import api

    number = _version_number("set_model_version_tag", version)
    (store or api.get_store()).update_model_version(name, number, set_tags={key: value})


def delete_model_version_tag(
    name: str, version: Any, key: str, *, store: Store | None = None
) -> None:
    """Remove tag ``key`` from version ``version`` of ``name`` (``ModelNotFound`` when the
    version has no such tag, naming those it has)."""
    from ..capture import api

    number = _version_number("delete_model_version_tag", version)
    (store or api.get_store()).update_model_version(name, number, delete_tags=[key])


def set_model_tag(name: str, key: str, value: Any, *, store: Store | None = None) -> None:
    """Tag model ``name`` itself: ``key=value``, replacing the key's value (MLflow's
    ``set_registered_model_tag``). What holds for every version: ``team=growth``,
    ``task=churn``; numbers and booleans are kept as text. A version's own tags:
    :func:`set_model_version_tag`."""
    from ..capture import api

    (store or api.get_store()).update_registered_model(name, set_tags={key: value})


def delete_model_tag(name: str, key: str, *, store: Store | None = None) -> None:
    """Remove tag ``key`` from model ``name`` (``ModelNotFound`` when it has no such tag,
    naming those it has)."""
    from ..capture import api

    (store or api.get_store()).update_registered_model(name, delete_tags=[key])


def set_alias(name: str, alias: str, version: int, *, store: Store | None = None) -> None:
    """Point ``alias`` (``"production"``) of model ``name`` at ``version``, moving it."""
    from ..capture import api

    (store or api.get_store()).set_model_alias(name, alias, _version_number("set_alias", version))


def _version_number(function: str, version: Any) -> int:
    """``version`` as the number it names: an integer (a NumPy one too) or its digits
    (``"3"``). Anything else is refused naming the argument, not with ``int()``'s
    "invalid literal", and a float is never cut to an integer (``2.7`` is not version 2)."""
    if isinstance(version, str):
        digits = version.strip()
        if digits.isascii() and digits.isdigit():
            return int(digits)
        raise ValueError(f"{function}: version must be a version number such as 3, not {version!r}")
    if not isinstance(version, bool):
        try:
            return operator.index(version)
        except TypeError:
            pass
    raise TypeError(
        f"{function}: version must be a version number such as 3, not "
        f"{type(version).__name__} {version!r}"
    )


def delete_alias(name: str, alias: str, *, store: Store | None = None) -> None:
    from ..capture import api

    (store or api.get_store()).delete_model_alias(name, alias)


def delete_model(name: str, *, force: bool = False, store: Store | None = None) -> None:
    """Delete the registered model ``name`` with its versions and aliases (MLflow's
    ``delete_registered_model``); the runs keep their logged models. Refused
    (``ModelHasAliases``) while an alias points into it, unless ``force``: an alias is what
    someone loads. Registered again later, the name is a new model whose versions start
    at 1."""
    from ..capture import api

    (store or api.get_store()).delete_registered_model(name, force=force)


def list_models(
    *, tags: Mapping[str, Any] | None = None, store: Store | None = None
) -> list[RegisteredModel]:
    """The registered models with their versions and aliases; with ``tags``
    (``{"team": "growth"}``), those whose own tags hold each of these values (numbers and
    booleans compared as the text they are kept as)."""
    from ..capture import api
    from ..store.registry_records import check_version_tags

    wanted = check_version_tags(tags or {})
    return (store or api.get_store()).list_registered_models(tags=wanted)


def get_model(name: str, *, store: Store | None = None) -> RegisteredModel:
    from ..capture import api

    return (store or api.get_store()).get_registered_model(name)


def lineage(ref: str, *, store: Store | None = None) -> dict[str, Any]:
    """How a model was built (see :func:`.lineage.lineage`)."""
    from ..capture import api
    from ..capture.refs import current_experiment
    from .lineage import lineage as build

    parsed: ModelRef = parse(ref)
    return build(
        store or api.get_store(), parsed, None if parsed.registered else current_experiment()
    )


def lineage_figure(ref: str, *, depth: int = 3, users: int = 20, store: Store | None = None) -> Any:
    """The lineage of a model as a plotly figure (W&B's lineage graph): the data its run
    read and the artifacts it loaded (``depth`` runs up: a fine-tuned model's base model's
    run, and so on), the run, the model, and the runs that loaded it since (``users`` at
    most). ``ref`` as :func:`lineage` takes it. ``mltrack models lineage REF --html FILE``
    writes the same figure."""
    from ..capture import api
    from ..capture.refs import current_experiment
    from ..compare.charts import lineage_figure as draw
    from .graph import lineage_graph

    parsed: ModelRef = parse(ref)
    experiment = None if parsed.registered else current_experiment()
    graph = lineage_graph(store or api.get_store(), parsed, experiment, depth=depth, users=users)
    return draw(graph.to_dict())
