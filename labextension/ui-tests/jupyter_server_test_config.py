"""Server configuration for the jupyter_mltrack UI tests (Galata).

Opens every security door (no token, no XSRF check): for tests only.
Runs are recorded in a fresh temporary store (MLTRACK_HOME) so the tests
never touch a developer's own runs; the kernels started by this server
inherit the variable.
"""

import json
import os
from pathlib import Path
from tempfile import mkdtemp

from jupyter_core.paths import jupyter_path
from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

# The frontend as last built from this tree (`jlpm build` writes it to
# jupyter_mltrack/labextension), ahead of the copy pip installed into
# share/jupyter/labextensions, which only a reinstall refreshes: the tests must
# exercise the sources they sit beside. Lab serves an extension's files from
# `<dir>/<package name>/`, so a temporary directory links that name to the build
# (share/ is left alone: a `labextension develop` link there breaks pip's
# reinstall). The first directory holding an extension wins, so it goes first;
# Galata's helper extension stays.
_BUILT = Path(__file__).resolve().parents[2] / "jupyter_mltrack" / "labextension"
if (_BUILT / "package.json").exists():
    _name = json.loads((_BUILT / "package.json").read_text(encoding="utf-8"))["name"]
    _fresh = Path(mkdtemp(prefix="mltrack-ui-tests-labextensions-"))
    (_fresh / _name).symlink_to(_BUILT, target_is_directory=True)
    _extra = c.LabServerApp.extra_labextensions_path  # noqa: F821
    c.LabServerApp.extra_labextensions_path = [  # noqa: F821
        str(_fresh),
        *([_extra] if isinstance(_extra, str) else list(_extra)),
    ]

# Comparing runs renders charts through plotly's mime renderer and shows the
# notebook widget through ipywidgets' manager: both are prebuilt extensions
# that pip installs (packages plotly / jupyterlab-plotly and jupyterlab_widgets).
# Say so plainly instead of letting the browser tests time out on a missing chart.
_REQUIRED = {
    "jupyterlab-plotly": "plotly",
    "@jupyter-widgets/jupyterlab-manager": "jupyterlab_widgets",
}
_missing = [
    f"{name} (pip install {package})"
    for name, package in _REQUIRED.items()
    if not any((Path(d) / name / "package.json").exists() for d in jupyter_path("labextensions"))
]
if _missing:
    raise SystemExit("The UI tests need these JupyterLab extensions: " + ", ".join(_missing))

# An isolated run store, set before any kernel starts.
os.environ.pop("MLTRACK_STORE_URL", None)
os.environ.pop("MLTRACK_EXPERIMENT", None)
os.environ["MLTRACK_HOME"] = mkdtemp(prefix="mltrack-ui-tests-")
# writes a store could not take are kept there, not in the user's own spool
os.environ["MLTRACK_SPOOL_DIR"] = os.path.join(os.environ["MLTRACK_HOME"], "spool")

# A port of its own, so a developer's JupyterLab on 8888 does not collide.
c.ServerApp.port = int(os.environ.get("MLTRACK_UI_TEST_PORT", "8899"))  # noqa: F821

# Whether or not the package's jupyter-config was installed, load the server extension.
c.ServerApp.jpserver_extensions = {"jupyter_mltrack": True}  # noqa: F821

# CI and the dev machines run as root.
c.ServerApp.allow_root = True  # noqa: F821

# Keep the test server lean.
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
