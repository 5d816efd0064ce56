"""Training: the loop, checkpoints and resuming, precision, stop signals, several processes, validation."""
