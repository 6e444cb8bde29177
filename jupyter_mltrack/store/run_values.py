"""The values tracked cells bound (:class:`.models.RunValueRow`): written once when a cell
ends, read back by ``mltrack reproduce``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from .base import StoreBase
from .models import RunValueRow

#: ``name -> (record, data)``: the JSON record of a value and its bytes when it was small.
ValueRecords = Mapping[str, tuple[dict[str, Any], bytes | None]]


class RunValues(StoreBase):
    """Recording and reading the values of a run's cell."""

    def set_run_values(self, run_id: str, values: ValueRecords) -> None:
        """Replace the run's recorded values with ``values`` (in one transaction)."""
        t = RunValueRow.__table__
        rows = [
            {"run_id": run_id, "name": name, "record": json.dumps(record), "data": data}
            for name, (record, data) in values.items()
        ]
        with self.engine.begin() as conn:
            self._touch(conn, run_id)
            conn.execute(delete(t).where(t.c.run_id == run_id))
            if rows:
                conn.execute(t.insert(), rows)

    def run_values(self, run_id: str) -> dict[str, tuple[dict[str, Any], bytes | None]]:
        """The values recorded for the run, by name (empty when none were)."""
        t = RunValueRow.__table__
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.c.name, t.c.record, t.c.data).where(t.c.run_id == run_id)
            ).all()
        return {name: (json.loads(record), data) for name, record, data in found}
