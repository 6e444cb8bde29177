"""What a run executed in: Python, platform, imported packages' versions and git state.

Looking up distributions is slow (tens of milliseconds the first time), so it is done once per
kernel and again only when new top-level modules appear; git runs as a subprocess. Both are
called from the background worker in :mod:`.api`, never on the cell's critical path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ..store.entities import Environment

#: Where the module -> distribution map is kept between kernels (see ``_module_to_distributions``).
CACHE_ENV = "MLTRACK_CACHE_DIR"
#: Map files kept (one per interpreter and ``sys.path``); the oldest beyond this are removed.
CACHE_FILES = 16


def _cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter_mltrack"


def _path_key() -> str:
    """What the installed distributions depend on: the interpreter, the ``sys.path``
    entries, and the modification time of those that hold installed packages
    (``site-packages``, ``dist-packages``). Installing, upgrading or removing a distribution
    adds or removes a ``*.dist-info`` folder (or a ``.pth`` file) there, which changes the
    folder's time, so the key changes with it. Other entries (the notebook's folder, a
    checkout on ``PYTHONPATH``) count by name only: their times change with every file
    saved in them, and a distribution installed into one of them is the rare case this
    cache can miss (``MLTRACK_CACHE_DIR`` pointing at an empty folder clears it). The
    working directory, which IPython puts on the path, does not count at all: each
    notebook folder would have its own cache."""
    cwd = os.path.abspath(os.curdir)
    entries: list[tuple[str, int | None]] = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.curdir)
        if path == cwd:
            continue
        mtime = None
        if os.path.basename(path) in ("site-packages", "dist-packages"):
            with contextlib.suppress(OSError):
                mtime = os.stat(path).st_mtime_ns
        entries.append((path, mtime))
    body = json.dumps([sys.executable, sys.version, entries])
    return hashlib.sha256(body.encode()).hexdigest()[:32]


@lru_cache(maxsize=1)
def _module_to_distributions() -> dict[str, list[str]]:
    """Top-level module -> distributions, as ``packages_distributions`` gives it.

    That call reads the file list of every installed distribution (about 0.15 s with a few
    hundred installed), which each kernel's first run would pay in its background thread,
    competing with the user's cells for the GIL. So the answer is kept in a file keyed by
    :func:`_path_key` and read back (a millisecond) while nothing was installed or removed.
    A cache that cannot be read or written is simply not used."""
    key = _path_key()
    folder = _cache_dir()
    path = folder / f"distributions-{key}.json"
    try:
        found = json.loads(path.read_text())
        if isinstance(found, dict):
            return found
    except (OSError, ValueError):
        pass
    mapping = metadata.packages_distributions()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(mapping))
        os.replace(tmp, path)  # readers see the whole file or none
        old = sorted(folder.glob("distributions-*.json"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-CACHE_FILES]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass
    return mapping


@lru_cache(maxsize=4096)
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def distribution_versions(module: str) -> dict[str, str]:
    """Distribution -> version for the installed distributions that provide the top-level
    ``module``, found as a run's environment finds them: ``sklearn`` is ``scikit-learn``,
    and ``xgboost`` is ``xgboost-cpu`` when installed as that. A module the cached map does
    not know (installed into this kernel after the map was read) is looked up as a
    distribution of its own name."""
    found: dict[str, str] = {}
    for dist in _module_to_distributions().get(module, ()):
        version = _version(dist)
        if version:
            found[dist] = version
    if not found:
        version = _version(module)
        if version:
            found[module] = version
    return found


@lru_cache(maxsize=1)
def _tracker_packages() -> dict[str, str]:
    """The distributions jupyter_mltrack itself requires, with their versions.

    They are part of every run's environment, whether or not the user's code imported them.
    Recording them from the first run on keeps the tracker's own lazy imports (``xxhash`` on
    a cell's first snapshot) from showing up as a package "added" between two runs of one
    kernel when runs are compared.
    """
    try:
        requires = metadata.requires("jupyter_mltrack") or []
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return {}
    out: dict[str, str] = {}
    for spec in requires:
        if "extra ==" in spec.partition(";")[2]:
            continue
        name = spec.partition(";")[0]
        for sep in "<>=!~[ (":
            name = name.partition(sep)[0]
        try:
            dist = metadata.distribution(name.strip())
        except metadata.PackageNotFoundError:
            continue
        out[dist.metadata["Name"]] = dist.version
    return out


_cache: dict[str, object] = {"modules": frozenset(), "env": None}


def imported_packages() -> dict[str, str]:
    """Distribution name → version for every distribution the kernel has imported from."""
    tops = frozenset(name.partition(".")[0] for name in list(sys.modules))
    tops = frozenset(t for t in tops if t and not t.startswith("_"))
    mapping = _module_to_distributions()
    packages: dict[str, str] = dict(_tracker_packages())
    for top in tops:
        for dist in mapping.get(top, ()):
            version = _version(dist)
            if version:
                packages[dist] = version
    return dict(sorted(packages.items(), key=lambda kv: kv[0].lower()))


def current_environment() -> Environment:
    """The environment now; recomputed only when the set of imported modules grew."""
    modules = frozenset(sys.modules)
    cached = _cache["env"]
    if cached is not None and modules == _cache["modules"]:
        return cached  # type: ignore[return-value]
    packages = imported_packages()
    python = platform.python_version()
    plat = platform.platform()
    body = json.dumps({"python": python, "platform": plat, "packages": packages}, sort_keys=True)
    env = Environment(
        python=python,
        platform=plat,
        packages=packages,
        digest=hashlib.sha256(body.encode()).hexdigest(),
    )
    _cache["modules"] = modules
    _cache["env"] = env
    return env


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool | None


def outside_repository(cwd: str | Path) -> bool:
    """Whether git would find no repository from ``cwd``: no ``.git`` in it or above it and
    no ``GIT_DIR`` in the environment. A dozen ``stat`` calls, where asking git costs a
    process (a tracked cell reads git's state at most once a second)."""
    if os.environ.get("GIT_DIR"):
        return False
    here = Path(os.path.abspath(cwd))
    return not any(os.path.lexists(folder / ".git") for folder in (here, *here.parents))


def git_state(cwd: str | Path) -> GitState:
    """HEAD commit and whether tracked files differ from it; (None, None) outside a repo."""
    if outside_repository(cwd):
        return GitState(None, None)
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode != 0:
            return GitState(None, None)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return GitState(None, None)
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return GitState(head.stdout.strip() or None, dirty)
