"""Export to pipeline: the execution log, the slicer over it, and the generated script."""
