"""Which runs used which artifacts: W&B's ``use_artifact`` edge, kept as rows.

A mixin of :class:`~.store.Store`. A run that loads or downloads another run's artifact
(``load_model("models:/churn@production")`` in an evaluation cell) records it here, once per
artifact (the first use: the reference and registered version it was reached by then).
Lineage reads both directions: what a run used (:meth:`artifacts_used`) and which runs used
a run's artifacts (:meth:`artifact_users`); comparisons read the uses of many runs in one
query (:meth:`runs_uses`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Row

from .base import StoreBase
from .entities import ArtifactUse
from .models import ArtifactRow, ArtifactUseRow, ExperimentRow, RunRow
from .statements import PerDialect

_uses_t = ArtifactUseRow.__table__
_runs_t = RunRow.__table__
_experiments_t = ExperimentRow.__table__
_artifacts_t = ArtifactRow.__table__

#: The first use of an artifact by a run is kept: loading the model again changes nothing.
_INSERT_USE = PerDialect(
    lambda insert: insert(_uses_t).on_conflict_do_nothing(
        index_elements=["run_id", "source_run_id", "source_name"]
    )
)


def _uses_query():  # type: ignore[no-untyped-def]
    """Uses with both ends' numbers and experiments, and whether the artifact is still there
    (outer joins: a producer deleted since leaves ``None``)."""
    consumer = _runs_t.alias("consumer")
    consumer_exp = _experiments_t.alias("consumer_exp")
    producer = _runs_t.alias("producer")
    producer_exp = _experiments_t.alias("producer_exp")
    return (
        select(
            _uses_t,
            consumer.c.number.label("run_number"),
            consumer_exp.c.name.label("run_experiment"),
            producer.c.number.label("source_number"),
            producer_exp.c.name.label("source_experiment"),
            _artifacts_t.c.name.label("present"),
        )
        .select_from(_uses_t)
        .join(consumer, consumer.c.id == _uses_t.c.run_id)
        .join(consumer_exp, consumer_exp.c.id == consumer.c.experiment_id)
        .outerjoin(producer, producer.c.id == _uses_t.c.source_run_id)
        .outerjoin(producer_exp, producer_exp.c.id == producer.c.experiment_id)
        .outerjoin(
            _artifacts_t,
            and_(
                _artifacts_t.c.run_id == _uses_t.c.source_run_id,
                _artifacts_t.c.name == _uses_t.c.source_name,
            ),
        )
    )


_USES = _uses_query()


def _use(row: Row) -> ArtifactUse:
    return ArtifactUse(
        run_id=row.run_id,
        source_run_id=row.source_run_id,
        name=row.source_name,
        kind=row.kind,
        digest=row.digest,
        ref=row.ref,
        how=row.how,
        model=row.model,
        version=row.version,
        used_at=row.used_at,
        run_number=row.run_number,
        run_experiment=row.run_experiment,
        source_number=row.source_number,
        source_experiment=row.source_experiment,
        source_exists=row.present is not None,
    )


class ArtifactUses(StoreBase):
    """The rows of artifacts runs used."""

    def record_artifact_uses(self, run_id: str, uses: Sequence[Mapping[str, Any]]) -> None:
        """Record that ``run_id`` used artifacts, in one transaction: each use a mapping of
        ``source_run_id`` and ``name`` (the artifact), ``kind`` and ``digest`` (what it was:
        :attr:`~.entities.Artifact.content_digest`), ``ref`` (as the user named it), ``how``
        (the function), and optionally ``model``/``version`` (the registered version the
        reference resolved to) and ``used_at``. Plain values, not ``Artifact`` objects, so
        that the kernel's spool can keep the call while the store is away. A run's second
        use of an artifact changes nothing; a run's use of its own artifact is not a use (it
        made it) and is not recorded. Several (a series of images downloaded whole) are one
        call."""
        now = time.time()
        rows = [
            {
                "run_id": run_id,
                "source_run_id": u["source_run_id"],
                "source_name": u["name"],
                "kind": u["kind"],
                "digest": u["digest"],
                "ref": u["ref"],
                "how": u["how"],
                "model": u.get("model"),
                "version": u.get("version"),
                "used_at": u.get("used_at") or now,
            }
            for u in uses
            if u["source_run_id"] != run_id
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            self._touch(conn, run_id)  # the sidebar's poll sees the run changed
            for row in rows:  # one at a time: "do nothing" on a conflict is per row
                conn.execute(_INSERT_USE[self._dialect], row)

    def artifacts_used(self, run_id: str) -> list[ArtifactUse]:
        """What ``run_id`` used, in the order it first used them."""
        return self.runs_uses([run_id]).get(run_id, [])

    def runs_uses(self, run_ids: Sequence[str]) -> dict[str, list[ArtifactUse]]:
        """``run id -> its uses`` (in the order used) for many runs in one query: runs that
        used nothing are left out."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, list[ArtifactUse]] = {}
        if not ids:
            return out
        query = _USES.where(self._ids_in(_uses_t.c.run_id, ids)).order_by(
            _uses_t.c.run_id, _uses_t.c.used_at, _uses_t.c.source_name
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                out.setdefault(row.run_id, []).append(_use(row))
        return out

    def artifact_users(
        self, run_id: str, name: str | None = None, *, limit: int | None = None
    ) -> list[ArtifactUse]:
        """The uses other runs made of run ``run_id``'s artifacts (of artifact ``name`` only,
        when given), newest first, at most ``limit``: a model's consumers in lineage, a
        run's "used by" in its detail."""
        query = _USES.where(_uses_t.c.source_run_id == run_id)
        if name is not None:
            query = query.where(_uses_t.c.source_name == name)
        query = query.order_by(_uses_t.c.used_at.desc(), _uses_t.c.run_id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_use(r) for r in conn.execute(query)]

    def artifact_user_count(self, run_id: str, name: str | None = None) -> int:
        """How many uses :meth:`artifact_users` would list without a limit."""
        query = select(func.count()).where(_uses_t.c.source_run_id == run_id)
        if name is not None:
            query = query.where(_uses_t.c.source_name == name)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
