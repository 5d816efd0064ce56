"""`inpaint-bench bench`: images/s, FLOP/s against the measured matmul peak and peak memory of training and
inference for the variants of a config (bench.measure)."""
from __future__ import annotations

import argparse

from inpaint_bench.bench import measure
from inpaint_bench.cli.common import seed_argument


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=measure.__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config with a `variants` mapping")
    p.add_argument("--variants", nargs="+", help="subset of the config's variants (default: all trainable)")
    p.add_argument("--size", type=int, help="image side (default: config image_size)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--width", type=int, help="base width (default: config width)")
    p.add_argument("--steps", type=int, default=3, help="timed steps (after the warm-up)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32", "both"])
    p.add_argument("--vgg", default="random", choices=["random", "none"],
                   help="random: a randomly initialised VGG16 stands in for the loss network (timing only)")
    p.add_argument("--peak-seconds", type=float, default=3.0, help="duration of each matmul peak measurement")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=seed_argument, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (peak memory: the GPU's allocator; "
                                                   "on the CPU, the process's maximum resident size)")
    p.add_argument("--memory", action="store_true",
                   help="peak memory of one training step per row instead of speed, each row in a process of its "
                        "own (CUDA: the allocator's peak; CPU: peak resident size); the dry run compares it with "
                        "resources.train.mem_mb")
    p.add_argument("--one-step-memory", action="store_true", help=argparse.SUPPRESS)  # one row, in a child
    p.add_argument("--out", help="CSV written (default: results/bench/bench.csv, with --memory "
                                 "results/bench/memory.csv)")
    args = p.parse_args(argv)
    args.out = args.out or f"results/bench/{'memory' if args.memory else 'bench'}.csv"
    return args




def main(argv=None) -> list[dict]:
    return measure.run_bench(parse_args(argv))


if __name__ == "__main__":
    main()
