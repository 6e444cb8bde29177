"""The local cache of remote blobs kept under ``MLTRACK_CACHE_SIZE``: least recently used
first, never what was just used; ``mltrack cache info`` and ``clean``.

The cache's filling and reading without the network are in tests/test_datasets_folders.py."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.cli import main
from jupyter_mltrack.snapshots.eviction import (
    CACHE_SIZE_ENV,
    RECENT,
    evict,
    evict_if_over,
    parse_size,
    size_limit,
    usage,
)
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.blobs import LocalBlobStore, digest_bytes

from .process_store import use_store
from .s3 import s3_server, use_s3

OLD = RECENT + 3600  # seconds ago: older than what automatic eviction keeps


def test_sizes_are_read_as_people_write_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_size("1048576") == 1 << 20
    assert parse_size("20G") == 20 << 30 and parse_size("20GiB") == 20 << 30
    assert parse_size(" 500m ") == 500 << 20 and parse_size("1.5K") == 1536
    assert parse_size("2TB") == 2 << 40 and parse_size("0") == 0
    for bad in ("", "lots", "-1G", "1Q", "G"):
        with pytest.raises(ValueError, match="is not a size"):
            parse_size(bad)
    monkeypatch.delenv(CACHE_SIZE_ENV, raising=False)
    assert size_limit() is None
    monkeypatch.setenv(CACHE_SIZE_ENV, "ten gigs")
    with pytest.raises(ValueError, match=f"{CACHE_SIZE_ENV}: 'ten gigs' is not a size"):
        size_limit()


def _blob(cache: LocalBlobStore, content: bytes, age: float) -> str:
    digest = digest_bytes(content)
    cache.put_bytes(digest, content)
    path = cache.file_path(digest)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_the_least_recently_used_go_first_and_what_was_just_used_stays(tmp_path: Path) -> None:
    """Four 1 KiB blobs of different ages and a handed-out folder holding hard links to
    two of them. Evicting to 2.5 KiB removes the oldest first; a blob linked into the folder
    frees nothing until the folder goes too; what was used within ``keep_recent`` stays even
    when the cache is still over the limit; writers' temporary files are left alone."""
    root = tmp_path / "cache"
    cache = LocalBlobStore(root / "blobs")
    oldest = _blob(cache, b"a" * 1024, OLD + 400)
    linked = _blob(cache, b"b" * 1024, OLD + 300)
    older = _blob(cache, b"c" * 1024, OLD + 200)
    recent = _blob(cache, b"d" * 1024, 5)
    folder = root / "folders" / "f00d"
    folder.mkdir(parents=True)
    os.link(linked, folder / "b.bin")
    os.link(recent, folder / "d.bin")
    when = time.time() - (OLD + 100)
    os.utime(folder, (when, when))
    temp = root / "blobs" / ".tmp-1-00000000-x"
    temp.write_bytes(b"partial")

    before = usage(root)
    assert (before.bytes, before.blobs, before.folders) == (4096, 4, 1)

    # 4 KiB held; oldest first: a (frees 1 KiB), b (frees nothing: the folder links it),
    # c (frees 1 KiB): 2 KiB left, under 2.5
    done = evict(root, 2560)
    assert not any(os.path.exists(p) for p in (oldest, linked, older))
    assert folder.is_dir() and (folder / "b.bin").read_bytes() == b"b" * 1024
    assert (done.entries, done.freed, done.after.bytes) == (3, 2048, 2048)

    done = evict(root, 1024)  # the folder: b's last link goes, d is still a blob
    assert not folder.exists() and os.path.exists(recent)
    assert (done.entries, done.freed, done.after.bytes) == (1, 1024, 1024)

    done = evict(root, 0)  # what was used 5 s ago is kept, over the limit or not
    assert os.path.exists(recent) and done.entries == 0 and done.after.bytes == 1024
    done = evict(root, 0, keep_recent=0)
    assert not os.path.exists(recent) and done.after.bytes == 0
    assert temp.read_bytes() == b"partial"


@pytest.fixture
def s3_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The process's store: SQLite with its blobs on a moto S3 server (a new bucket)."""
    pytest.importorskip("s3fs")
    with s3_server() as endpoint:
        bucket = use_s3(monkeypatch, endpoint)
        st = Store(f"sqlite:///{tmp_path / 'db' / 'mltrack.db'}", blob_url=f"s3://{bucket}/t")
        yield from use_store(monkeypatch, st)


def _age_cache(root: Path, seconds: float) -> None:
    """Make every entry of the cache look last used ``seconds`` ago."""
    when = time.time() - seconds
    for folder, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(folder, name), (when, when))
    for entry in (root / "folders").iterdir() if (root / "folders").is_dir() else ():
        os.utime(entry, (when, when))


def test_a_get_past_the_cache_size_evicts_the_version_used_longest_ago(
    s3_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two 600 KB folder versions on S3 and a cache capped at 1 MB. Getting the first
    fills the cache; once it is old, getting the second evicts it (blobs and handed-out
    folder) and keeps the second whole; the first comes back from S3 when read again, and
    a hit marks an entry used so that it outlives an older one."""
    root = tmp_path / "cache"  # MLTRACK_CACHE_DIR (tests/conftest.py)
    versions = {}
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(3):
            (folder / f"{i}.bin").write_bytes(os.urandom(200_000))
        versions[name] = mltrack.datasets.push(folder, f"team/{name}")
    monkeypatch.setenv(CACHE_SIZE_ENV, "1M")

    first = mltrack.datasets.get("team/first")
    assert sorted(p.name for p in first.iterdir()) == ["0.bin", "1.bin", "2.bin"]
    assert usage(root).bytes == 600_000
    _age_cache(root, OLD)
    second = mltrack.datasets.get("team/second")
    held = usage(root)
    assert not first.exists() and second.is_dir()
    assert (held.bytes, held.blobs, held.folders) == (600_000, 3, 1)
    assert (second / "0.bin").read_bytes() == (tmp_path / "second" / "0.bin").read_bytes()

    again = mltrack.datasets.get("team/first")  # from S3 again; the second, not old, stays
    assert (again / "2.bin").read_bytes() == (tmp_path / "first" / "2.bin").read_bytes()
    assert second.is_dir() and usage(root).bytes == 1_200_000

    _age_cache(root, OLD)
    assert mltrack.datasets.get("team/second") == second  # a hit: its folder and blobs used now
    third_folder = tmp_path / "third"
    third_folder.mkdir()
    (third_folder / "x.bin").write_bytes(os.urandom(1000))
    mltrack.datasets.get(mltrack.datasets.push(third_folder, "team/third").ref)
    assert second.is_dir() and not again.exists()  # the older one went, not the one just hit


def test_the_cli_says_what_the_cache_holds_and_empties_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mltrack cache`` needs no store (run here from a folder without one)."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "cache"
    cache = LocalBlobStore(root / "blobs")
    for i in range(3):
        _blob(cache, bytes([i]) * 1000, OLD + i)

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(list(argv))
        return code, out.getvalue()

    code, text = run("cache", "info")
    assert code == 0 and f"cache:   {root}" in text and "2.9 KiB in 3 blob(s)" in text
    assert "limit:   none" in text
    monkeypatch.setenv(CACHE_SIZE_ENV, "2000")
    code, text = run("cache", "info", "--json")
    assert code == 0 and json.loads(text) == {
        "path": str(root),
        "bytes": 3000,
        "blobs": 3,
        "folders": 0,
        "limit": 2000,
    }
    code, text = run("cache", "clean")  # down to $MLTRACK_CACHE_SIZE: the oldest goes
    assert code == 0 and text == "removed 1 entry, freed 1000 B; the cache holds 2.0 KiB\n"
    code, text = run("cache", "clean", "--max-size", "huge")
    assert code == 2
    code, text = run("cache", "clean", "--all", "--json")
    assert code == 0 and json.loads(text)["removed"] == 2 and usage(root).bytes == 0
    monkeypatch.delenv(CACHE_SIZE_ENV)
    assert run("cache", "clean") == (2, "")
    monkeypatch.setenv(CACHE_SIZE_ENV, "ten gigs")  # said, not ignored, where it is read
    assert run("cache", "info") == (2, "")
    assert evict_if_over(root) is None  # a read of the cache never fails over it
