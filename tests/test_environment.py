"""What a run records of its environment (capture/environment.py)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from jupyter_mltrack.capture.environment import imported_packages

REPO_ROOT = __file__.rsplit("/tests/", 1)[0]


def _required() -> set[str]:
    names = set()
    for spec in metadata.requires("jupyter_mltrack") or []:
        if "extra ==" in spec.partition(";")[2]:
            continue
        name = spec.partition(";")[0]
        for sep in "<>=!~[ (":
            name = name.partition(sep)[0]
        names.add(metadata.distribution(name.strip()).metadata["Name"])
    return names


def test_the_trackers_own_packages_are_recorded_from_the_start() -> None:
    """In a fresh process that imported none of them, every package jupyter_mltrack requires
    is in the environment: the tracker's lazy imports (xxhash on the first snapshot) must
    not appear as packages "added" between two runs of one kernel."""
    code = (
        "import json, sys; from jupyter_mltrack.capture.environment import imported_packages;"
        "assert 'xxhash' not in sys.modules and 'plotly' not in sys.modules;"
        "print(json.dumps(sorted(imported_packages())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    recorded = set(__import__("json").loads(out.stdout))
    assert _required() <= recorded, _required() - recorded


def test_imported_packages_are_versions_of_installed_distributions() -> None:
    packages = imported_packages()
    assert packages["pytest"] == metadata.version("pytest")
    lowered = [name.lower() for name in packages]
    assert len(lowered) == len(set(lowered))  # one entry per distribution


def test_git_is_not_asked_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside any repository the state is known without running git (a process per read);
    inside one, in a subfolder, and with ``GIT_DIR`` pointing at one, git is asked."""
    from jupyter_mltrack.capture.environment import GitState, git_state, outside_repository

    monkeypatch.delenv("GIT_DIR", raising=False)
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    assert outside_repository(plain)
    calls: list[object] = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    assert git_state(plain) == GitState(None, None) and calls == []

    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    real_run(["git", "init", "-q", str(repo)], check=True)
    assert not outside_repository(repo / "src")
    state = git_state(repo / "src")
    assert calls and state.commit is None  # asked: a repository without a commit yet
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert not outside_repository(plain)
