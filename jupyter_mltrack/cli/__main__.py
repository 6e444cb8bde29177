"""``python -m jupyter_mltrack.cli``."""

from . import main

raise SystemExit(main())
