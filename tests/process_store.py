"""The process's store (what ``mltrack.datasets`` and the capture API use) set for a test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from jupyter_mltrack.capture import api, data
from jupyter_mltrack.datasets import inputs
from jupyter_mltrack.store import Store


def use_store(monkeypatch: pytest.MonkeyPatch, st: Store) -> Iterator[Store]:
    """Make ``st`` the process's store for the test (a fixture's body: ``yield from``), then
    close it with its snapshotter, forgetting the inputs the test's reads recorded."""
    monkeypatch.setattr(api, "_store", st)
    inputs.clear()
    try:
        yield st
    finally:
        inputs.clear()
        sn = data._snapshotters.pop(id(st), None)
        if sn is not None:
            sn.close()
        st.close()


#: :func:`use_store` as a context manager, for a store that must outlive something the test
#: ends first (an S3 server stopped before the reads that must not need it).
using_store = contextlib.contextmanager(use_store)
