"""What a run records of its environment (capture/environment.py)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

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
