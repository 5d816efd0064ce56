"""Speed and memory benchmarks of the variants of a config (`measure`): images/s, FLOP/s against the
measured matmul peak, peak memory of a training step."""
