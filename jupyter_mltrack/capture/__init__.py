"""Capture in the kernel: the active-run lifecycle, magics, parameter detection, outputs,
environment and kernel facts."""
