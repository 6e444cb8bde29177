"""Artifacts, model formats, the registry and lineage."""
