"""Benchmarks of jupyter_mltrack against MLflow (``make bench`` / ``python -m bench``).

See docs/benchmarks.md for what is measured and the latest figures.
"""
