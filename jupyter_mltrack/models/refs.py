"""Model references: ``RUN/NAME``, ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``.

One parser serves ``mltrack.load_model``, the CLI and the REST API, so a reference means
the same thing everywhere. Resolving needs the store (a run number is looked up in an
experiment; an alias is looked up in the registry) and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store.entities import Artifact, ModelVersion

if TYPE_CHECKING:
    from ..store.store import Store

PREFIX = "models:/"


class ModelRefError(ValueError):
    """A reference that cannot be read; the message shows the forms that can."""


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a run's artifact, or a registered model's version or alias."""

    text: str
    run: str | None = None
    artifact: str | None = None
    model: str | None = None
    version: int | None = None
    alias: str | None = None

    @property
    def registered(self) -> bool:
        return self.model is not None


_FORMS = "'RUN/NAME' (a run number, id or id prefix, and the artifact), 'models:/NAME@ALIAS' or 'models:/NAME/VERSION'"


def parse(text: str) -> ModelRef:
    """Read a reference (no store needed)."""
    if not isinstance(text, str) or not text.strip():
        raise ModelRefError(f"a model reference is text: {_FORMS}")
    text = text.strip()
    if text.startswith(PREFIX):
        rest = text[len(PREFIX) :]
        if "@" in rest:
            name, _, alias = rest.partition("@")
            if name and alias and "/" not in name and "/" not in alias:
                return ModelRef(text, model=name, alias=alias)
        elif "/" in rest:
            name, _, version = rest.rpartition("/")
            if name and "/" not in name and version.isdigit() and int(version) > 0:
                return ModelRef(text, model=name, version=int(version))
        elif rest and "/" not in rest:
            return ModelRef(text, model=rest)  # the latest version
        raise ModelRefError(f"cannot read {text!r}: use {_FORMS}")
    run, sep, artifact = text.partition("/")
    if not sep or not run or not artifact:
        raise ModelRefError(f"cannot read {text!r}: use {_FORMS}")
    if run.startswith("#") and run[1:].isdigit():
        run = run[1:]
    return ModelRef(text, run=run, artifact=artifact)


def resolve(
    store: Store, ref: str | ModelRef, experiment: str | None = None
) -> tuple[Artifact, ModelVersion | None]:
    """The artifact a reference names (and the registered version, when it names one).
    ``experiment``: where a run number is looked up."""
    parsed = ref if isinstance(ref, ModelRef) else parse(ref)
    if parsed.registered:
        assert parsed.model is not None
        version = store.resolve_model_version(
            parsed.model, version=parsed.version, alias=parsed.alias
        )
        return store.get_artifact(version.run_id, version.artifact), version
    assert parsed.run is not None and parsed.artifact is not None
    run_id = store.resolve_run_id(parsed.run, experiment)
    return store.get_artifact(run_id, parsed.artifact), None


def load_call(ref: str, meta: Mapping[str, Any]) -> str:
    """The ``mltrack.load_model`` call that loads ``ref``, with the trust its file needs:
    ``trusted=True`` for a pickle (``meta["unsafe"]``), the skops types off the default
    list (``meta["untrusted_types"]``), else none. ``meta`` is a model artifact's meta or
    its summary (the same two keys): what the CLI's ``models show``, the API, the run
    detail and ``ModelInfo`` show a user to copy."""
    untrusted = list(meta.get("untrusted_types") or [])
    if meta.get("unsafe"):
        trusted = ", trusted=True"  # (a pickle: loading it runs the code it names)
    elif untrusted:
        trusted = f", trusted={untrusted!r}"
    else:
        trusted = ""
    return f"mltrack.load_model({ref!r}{trusted})"
