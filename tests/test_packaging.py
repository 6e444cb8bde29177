"""The package as users get it: a wheel with the prebuilt labextension and the server config,
and an installation that Jupyter reports as enabled and OK."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [f for f in out if f and "node_modules" not in f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build a wheel from a copy of the source tree as a clean clone has it (no built
    frontend, no node_modules): the build must install the JS deps and build the frontend."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.fail("the packaging test needs the git checkout of the project")
    src = tmp_path_factory.mktemp("src")
    for name in _tracked_files():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    assert not (src / "jupyter_mltrack" / "labextension").exists()
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (built,) = dist.glob("jupyter_mltrack-*.whl")
    return built


def test_wheel_contains_the_prebuilt_labextension_and_server_config(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(
        n.split("/")[0]
        for n in names
        if n.endswith(".data/data/etc/jupyter/jupyter_server_config.d/jupyter_mltrack.json")
    )
    share = f"{data}/data/share/jupyter/labextensions/jupyter-mltrack/"
    assert f"{share}package.json" in names
    assert f"{share}install.json" in names
    assert any(re.match(rf"{re.escape(share)}static/remoteEntry\.[0-9a-f]+\.js$", n) for n in names)
    assert f"{share}schemas/jupyter-mltrack/plugin.json" in names
    config = json.loads(
        zipfile.ZipFile(wheel).read(
            f"{data}/data/etc/jupyter/jupyter_server_config.d/jupyter_mltrack.json"
        )
    )
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_mltrack": True}}}
    assert "jupyter_mltrack/store/migrations/versions/0001_initial_schema.py" in names
    assert "jupyter_mltrack/server/openapi.json" in names
    meta = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
        .decode()
    )
    assert "mltrack = jupyter_mltrack.cli:main" in meta


def test_installed_extensions_are_enabled_and_ok() -> None:
    """`make test` installs the package; Jupyter must then report both halves OK."""
    server = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
    )
    lab = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True
    )
    strip = re.compile(r"\x1b\[[0-9;]*m")
    server_out = strip.sub("", server.stdout + server.stderr)
    lab_out = strip.sub("", lab.stdout + lab.stderr)
    assert re.search(r"jupyter_mltrack\s+enabled", server_out), server_out
    assert re.search(r"jupyter_mltrack \S+ OK", server_out), server_out
    assert re.search(r"jupyter-mltrack v\S+ enabled OK", lab_out), lab_out


# dependencies ------------------------------------------------------------------------------------

#: The code that compares runs (issue 10): what it imports, a user must get by installing it.
COMPARE_CODE = [
    "jupyter_mltrack/__init__.py",
    "jupyter_mltrack/compare",
    "jupyter_mltrack/widgets",
    "jupyter_mltrack/server/compare.py",
    "jupyter_mltrack/cli/compare.py",
    "jupyter_mltrack/cli/report.py",
]


def _declared_dependencies() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}


def _required_imports(path: Path) -> set[str]:
    """Top-level names of the modules ``path`` imports, except optional ones (imported in a
    ``try`` that catches ``ImportError``) and those for type checkers only."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        optional = isinstance(node, ast.Try) and any(
            h.type is None or "ImportError" in ast.unparse(h.type) for h in node.handlers
        )
        typing_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        if optional or typing_only:
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names - set(sys.stdlib_module_names) - {"jupyter_mltrack", "__future__"}


def test_what_comparing_runs_imports_is_a_declared_dependency() -> None:
    """plotly, ipywidgets and pandas are dependencies of the package (issue 10), and every
    other module the comparison code imports unconditionally comes with a declared dependency
    (itself, or a requirement of one: numpy comes with pandas)."""
    import importlib.metadata as metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    declared = _declared_dependencies()
    assert {"plotly", "ipywidgets", "pandas"} <= declared, sorted(declared)
    provided = set(declared)
    for name in declared:
        for requirement in metadata.requires(name) or []:
            req = Requirement(requirement)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                provided.add(canonicalize_name(req.name))
    distributions = metadata.packages_distributions()
    files = [
        f
        for entry in COMPARE_CODE
        for f in ([REPO / entry] if entry.endswith(".py") else sorted((REPO / entry).rglob("*.py")))
    ]
    assert len(files) > 20, files
    missing = {}
    for path in files:
        for module in _required_imports(path):
            dists = {canonicalize_name(d) for d in distributions.get(module, [module])}
            if not dists & provided:
                missing.setdefault(module, []).append(str(path.relative_to(REPO)))
    assert not missing, f"imported but not a dependency of the package: {missing}"
