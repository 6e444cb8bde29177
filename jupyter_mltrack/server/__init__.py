"""The Jupyter server extension: REST API over the store and kernel-lifecycle bookkeeping.

Kept out of the package's top-level import so a kernel doing ``%load_ext jupyter_mltrack``
never pays for tornado or jupyter_server.
"""
