"""What a push or pull did: :class:`TransferReport`, and the :class:`Conflict`\\ s it found.

A conflict is something both stores hold differently (a run's name, note or a tag edited on
both sides; a dataset tag or a model alias pointing at different versions; a run deleted at
the destination). It is reported, and the destination's side is left as it is: a transfer
never overwrites what someone else changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Conflict:
    """One difference left unresolved: ``kind`` (``run``, ``dataset``, ``model``), the
    thing (a run id, ``team/churn``, ``churn``), the field (``name``, ``note``,
    ``tags.stage``, ``tag gold``, ``alias production``, ``latest``, ``deleted``) and each
    side's value (as text; ``None`` where that side has none)."""

    kind: str
    item: str
    field: str
    source: str | None
    destination: str | None

    def message(self) -> str:
        return (
            f"{self.kind} {self.item}: {self.field} is {self.source!r} in the source, "
            f"{self.destination!r} in the destination (kept)"
        )


@dataclass
class TransferReport:
    """Counts of what was copied and what the destination had already (``skipped``), the
    blobs and bytes sent, the rows written, and the conflicts. A second transfer of the
    same work reports 0 blobs, 0 bytes and 0 rows."""

    source: str
    destination: str
    runs_copied: int = 0
    runs_skipped: int = 0
    #: Runs still ``running`` in the source: not copied (their data is not all there yet).
    runs_running: int = 0
    artifacts_copied: int = 0
    snapshots_copied: int = 0
    snapshots_skipped: int = 0
    dataset_versions_copied: int = 0
    dataset_versions_skipped: int = 0
    dataset_tags_set: int = 0
    models_copied: int = 0
    model_versions_copied: int = 0
    model_versions_skipped: int = 0
    model_aliases_set: int = 0
    #: Blobs written to the destination's blob store (packs of blocks, file copies,
    #: artifact files) and their bytes.
    blobs_sent: int = 0
    bytes_sent: int = 0
    #: Snapshot blocks newly recorded in the destination (they travel inside the packs).
    blocks_sent: int = 0
    #: Rows inserted or updated in the destination's database.
    rows_written: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    #: Runs copied: source run id -> number in the destination.
    numbers: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["conflicts"] = [asdict(c) for c in self.conflicts]
        return out

    def summary(self) -> str:
        """A few lines for a terminal."""

        def pair(copied: int, skipped: int, what: str) -> str:
            return f"{copied} {what} copied, {skipped} already there"

        lines = [
            f"{self.source} -> {self.destination}",
            pair(self.runs_copied, self.runs_skipped, "runs")
            + (f", {self.runs_running} still running (not copied)" if self.runs_running else ""),
            pair(self.snapshots_copied, self.snapshots_skipped, "snapshots"),
            pair(self.dataset_versions_copied, self.dataset_versions_skipped, "dataset versions")
            + f", {self.dataset_tags_set} tags set",
            pair(self.model_versions_copied, self.model_versions_skipped, "model versions")
            + f", {self.model_aliases_set} aliases set",
            f"{self.blobs_sent} blobs ({self.blocks_sent} blocks, {self.bytes_sent} bytes) sent,"
            f" {self.rows_written} rows written",
        ]
        if self.conflicts:
            lines.append(f"{len(self.conflicts)} conflicts:")
            lines.extend("  " + c.message() for c in self.conflicts)
        return "\n".join(lines) + "\n"
