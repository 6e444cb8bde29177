"""Sweeps (issue 15): a pipeline's ``run(**params)`` called with many parameter sets, each call
a tracked child run of one sweep run, the search driven by Optuna's ask/tell interface."""
