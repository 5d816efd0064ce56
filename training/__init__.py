"""Training loop, checkpoints, precision, evaluation and benchmarks."""
