"""The store's exceptions, in a module of their own so every part of the store can raise them
and callers can catch them without importing the store itself (``store.py`` re-exports them).

A run reference that names no run, or several, is one family (:class:`RunRefError`) whose
message is complete: the CLI, the REST API, the compare functions and the notebook show it as
it is, so the wording is decided here once and not re-worded by every caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class StoreError(Exception):
    """Base of the store's errors; the message is meant for the user."""


class InvalidQuery(StoreError, ValueError):
    pass


class RunRefError(StoreError):
    """A run reference (id, id prefix, number) that names no run or more than one.

    ``ref`` is the reference as given, ``experiment`` the one a number was looked up in,
    ``candidates`` the runs an ambiguous reference matched (``"abcd1234 (#3 in sweep)"``).
    Catch this to show any of them; :class:`RunNotFound` (a ``LookupError``: exit 1, 404)
    and :class:`AmbiguousRunRef` (an :class:`InvalidQuery`: exit 2, 400) tell them apart.
    """

    def __init__(
        self,
        message: str,
        *,
        ref: str = "",
        experiment: str | None = None,
        candidates: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.ref = ref
        self.experiment = experiment
        self.candidates = list(candidates)


class RunNotFound(RunRefError, LookupError):
    """No run has this id, or the reference names none; ``reason`` says why when it is not
    simply absent (too short a prefix, not a run reference at all)."""

    def __init__(self, ref: str, experiment: str | None = None, reason: str = "") -> None:
        where = f" in experiment {experiment!r}" if experiment else ""
        super().__init__(
            f"no run {ref!r}{where}" + (f": {reason}" if reason else ""),
            ref=ref,
            experiment=experiment,
        )


class AmbiguousRunRef(RunRefError, InvalidQuery):
    """An id prefix several runs' ids start with; the message lists them."""

    def __init__(self, ref: str, candidates: Sequence[str], more: bool = False) -> None:
        shown = ", ".join(candidates) + (", …" if more else "")
        super().__init__(
            f"run id prefix {ref!r} is ambiguous: it matches {shown}; give more of the id",
            ref=ref,
            candidates=candidates,
        )


class AmbiguousRunNumber(AmbiguousRunRef):
    """A run number given without an experiment that several experiments have."""

    def __init__(self, number: int, experiments: Sequence[str]) -> None:
        self.number = number
        self.experiments = list(experiments)
        shown = ", ".join(self.experiments[:5])
        if len(self.experiments) > 5:
            shown += f" (and {len(self.experiments) - 5} more)"
        RunRefError.__init__(
            self,
            f"run number {number} is ambiguous: experiments {shown} have one; name the "
            "experiment (experiment=… / -e …) or use the run id",
            ref=str(number),
            candidates=[f"#{number} in {name}" for name in self.experiments],
        )


class SnapshotNotFound(StoreError, LookupError):
    pass


class StoreUnavailable(StoreError):
    """The database cannot be reached or written now (it may be later).

    ``said``: the user has been told already (the spool says it once, not once per write),
    so whoever catches it need not say it again."""

    def __init__(self, message: str, *, said: bool = False) -> None:
        super().__init__(message)
        self.said = said


#: SQLite's messages for a database that cannot be written now, as opposed to a bad statement.
_SQLITE_UNAVAILABLE = ("locked", "disk", "readonly", "read-only", "unable to open", "i/o")


def unavailable(exc: BaseException) -> bool:
    """Did an operation fail because the database could not be reached or written at that
    moment (connection refused or lost, server shut down, disk full, read-only, locked past
    the busy timeout), rather than because of what was asked of it?

    The first kind is worth keeping and trying again (:mod:`.spool`); the second is a bug or
    bad data, raised as it is. Drivers' own exceptions are recognised too: the kernel's
    SQLite writes go through the DBAPI connection unwrapped (:mod:`.driver`)."""
    import sqlite3

    if isinstance(exc, StoreUnavailable | OSError):
        return True
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy's DBAPIError
        return True
    inner = getattr(exc, "orig", None)
    if inner is not None and inner is not exc:
        exc = inner
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return any(word in message for word in _SQLITE_UNAVAILABLE)
    kind = type(exc)
    if kind.__module__.startswith("psycopg"):
        import psycopg

        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return False


def reason(exc: BaseException) -> str:
    """The first line of the database's own message, SQLAlchemy's wrapping (its SQL, its
    link to the docs) left out: what a one-line message about an unavailable store says."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0][:200] if text else type(inner).__name__


class ArtifactNotFound(StoreError, LookupError):
    """The run has no (complete) artifact of this name, or the artifact no such file."""


class ModelNotFound(StoreError, LookupError):
    """No registered model, version or alias of this name."""


class ModelRegistryConflict(StoreError):
    """A registry change that would lose something: deleting a version or a model an
    alias points at, registering a run's artifact that is not a model, deleting a run with
    versions."""


class VersionHasAliases(ModelRegistryConflict):
    """Deleting a version aliases point at, without forcing it. The message says how to
    force it from Python and the CLI; a caller that forces it another way (the REST API's
    ``?force=1``) says so with :meth:`forced_by`. ``aliases`` are the version's, sorted."""

    def __init__(
        self,
        model: str,
        version: int,
        aliases: Sequence[str],
        *,
        force: str = "force=True (--force)",
    ) -> None:
        self.model = model
        self.version = version
        self.aliases = list(aliases)
        shown = ", ".join(f"@{a}" for a in self.aliases)
        super().__init__(
            f"version {version} of {model!r} holds {shown}: move the alias first, or delete "
            f"with {force} to delete its aliases too"
        )

    def forced_by(self, force: str) -> VersionHasAliases:
        """The same refusal, naming ``force`` as the way to delete anyway."""
        return VersionHasAliases(self.model, self.version, self.aliases, force=force)


class ModelHasAliases(ModelRegistryConflict):
    """Deleting a registered model aliases point into, without forcing it: an alias is
    what someone loads (``models:/churn@production``), and deleting it with the model by
    accident is worse than being asked. Worded as :class:`VersionHasAliases`, with
    :meth:`forced_by` for a caller that forces it another way (the REST API's
    ``?force=1``). ``aliases`` maps each alias to the version it names, by alias."""

    def __init__(
        self,
        model: str,
        aliases: Mapping[str, int],
        *,
        force: str = "force=True (--force)",
    ) -> None:
        self.model = model
        self.aliases = dict(sorted(aliases.items()))
        shown = ", ".join(f"@{a} (v{v})" for a, v in self.aliases.items())
        super().__init__(
            f"model {model!r} holds {shown}: delete the aliases first, or delete with "
            f"{force} to delete them too"
        )

    def forced_by(self, force: str) -> ModelHasAliases:
        """The same refusal, naming ``force`` as the way to delete anyway."""
        return ModelHasAliases(self.model, self.aliases, force=force)


class RunSuperseded(StoreError):
    """A write of an attempt at a run that another attempt has taken over since (the run's
    ``mltrack.attempt`` tag names another): refused whole, so that nothing of a superseded
    attempt lands in the current one's run (see :mod:`.attempts`)."""

    def __init__(self, run_id: str, attempt: str) -> None:
        super().__init__(f"run {run_id} is no longer attempt {attempt}'s: another attempt has it")
        self.run_id = run_id
        self.attempt = attempt


class DatasetNotFound(StoreError, LookupError):
    """No dataset of this name, or no version, tag or hash prefix of it that a reference
    names; the message lists what there is."""


class InvalidDatasetRef(InvalidQuery):
    """A dataset reference that cannot be read (``team/churn@``), or a hash prefix that
    several versions start with (the message lists them)."""
