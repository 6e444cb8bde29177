"""What a push or pull moves: the runs, datasets, models and snapshots its options name.

- nothing named: everything the source holds (every run, dataset, model, complete snapshot);
- ``runs`` (a filter of the query language, as ``mltrack runs list --filter``) and/or
  ``experiment``: those runs, with the snapshots they link and the dataset versions their
  inputs were got as;
- ``dataset``: that dataset, every version and tag;
- ``model``: that registered model, its versions and aliases, and the runs they register.

Options given together add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..store import Store
from ..store.dataset_records import parse_dataset_ref
from ..store.entities import SnapshotStatus
from ..store.errors import StoreError
from ..store.models import DatasetRow, RegisteredModelRow, RunRow, SnapshotRow


class NothingToTransfer(StoreError):
    """An option names what the source does not have (an experiment, dataset or model)."""


@dataclass
class Selection:
    run_ids: list[str] = field(default_factory=list)
    #: dataset name -> the version hashes to copy (``None``: all, with every tag).
    datasets: dict[str, set[str] | None] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    #: Snapshots copied for themselves (a full transfer's), besides those of runs and
    #: dataset versions.
    snapshots: list[str] = field(default_factory=list)


def select_work(
    src: Store,
    *,
    runs: str | None = None,
    experiment: str | None = None,
    dataset: str | None = None,
    model: str | None = None,
) -> Selection:
    """The :class:`Selection` the options name in ``src`` (see the module docstring)."""
    chosen = Selection()
    src.reap_local_runs()  # a run whose kernel died here reads crashed, not running
    everything = runs is None and experiment is None and dataset is None and model is None
    with src.engine.connect() as conn:
        if everything:
            chosen.run_ids = list(
                conn.execute(select(RunRow.id).order_by(RunRow.start_time, RunRow.id)).scalars()
            )
            chosen.datasets = {
                n: None
                for n in conn.execute(select(DatasetRow.name).order_by(DatasetRow.name)).scalars()
            }
            chosen.models = list(
                conn.execute(
                    select(RegisteredModelRow.name).order_by(RegisteredModelRow.name)
                ).scalars()
            )
            chosen.snapshots = list(
                conn.execute(
                    select(SnapshotRow.digest)
                    .where(SnapshotRow.status == SnapshotStatus.COMPLETE.value)
                    .order_by(SnapshotRow.created_at, SnapshotRow.digest)
                ).scalars()
            )
            return chosen
        if dataset is not None:
            if (
                conn.execute(select(DatasetRow.id).where(DatasetRow.name == dataset)).first()
                is None
            ):
                raise NothingToTransfer(f"no dataset {dataset!r} in {_shown(src)}")
            chosen.datasets[dataset] = None
        if model is not None:
            found = select(RegisteredModelRow.id).where(RegisteredModelRow.name == model)
            if conn.execute(found).first() is None:
                raise NothingToTransfer(f"no registered model {model!r} in {_shown(src)}")
            chosen.models.append(model)
    if runs is not None or experiment is not None:
        chosen.run_ids = _runs(src, runs, experiment)
    if model is not None:
        from .catalog import model_runs

        chosen.run_ids = list(dict.fromkeys([*chosen.run_ids, *model_runs(src, [model])]))
    if chosen.run_ids:
        from .runs import used_datasets

        for ref in used_datasets(src, chosen.run_ids):
            name, selector = parse_dataset_ref(ref)  # NAME@<hex>: resolved to the full hash
            try:
                version = src.resolve_dataset_version(name, selector)
            except StoreError:  # the dataset or version was deleted since: the run says so
                continue
            hashes = chosen.datasets.setdefault(name, set())
            if hashes is not None:
                hashes.add(version.hash)
    return chosen


def _runs(src: Store, filter: str | None, experiment: str | None) -> list[str]:
    from ..query.search import Scope, selection

    if experiment is not None and experiment not in {e.name for e in src.list_experiments()}:
        raise NothingToTransfer(f"no experiment {experiment!r} in {_shown(src)}")
    where = selection(filter, Scope(experiment=experiment))
    stmt = select(RunRow.id).where(where).order_by(RunRow.start_time, RunRow.id)
    with src.engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def _shown(store: Store) -> str:
    from ..store.spool import shown_url

    return shown_url(store.url)
