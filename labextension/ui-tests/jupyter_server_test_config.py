"""Server configuration for the jupyter_mltrack UI tests (Galata).

Opens every security door (no token, no XSRF check): for tests only.
Runs are recorded in a fresh temporary store (MLTRACK_HOME) so the tests
never touch a developer's own runs; the kernels started by this server
inherit the variable.
"""

import os
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

# An isolated run store, set before any kernel starts.
os.environ.pop("MLTRACK_STORE_URL", None)
os.environ.pop("MLTRACK_EXPERIMENT", None)
os.environ["MLTRACK_HOME"] = mkdtemp(prefix="mltrack-ui-tests-")

# A port of its own, so a developer's JupyterLab on 8888 does not collide.
c.ServerApp.port = int(os.environ.get("MLTRACK_UI_TEST_PORT", "8899"))  # noqa: F821

# Whether or not the package's jupyter-config was installed, load the server extension.
c.ServerApp.jpserver_extensions = {"jupyter_mltrack": True}  # noqa: F821

# CI and the dev machines run as root.
c.ServerApp.allow_root = True  # noqa: F821

# Keep the test server lean.
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
