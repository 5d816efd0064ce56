"""`inpaint-bench mini`: builds an offline mini dataset (datasets.mini)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.cli.common import expected_faults, seed_argument
from inpaint_bench.datasets.mini import MINI_KINDS, build_mini_dataset
from inpaint_bench.harness.fileio import check_output_folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Build an offline mini inpainting dataset "
                                                 "from images bundled with scikit-image.")
    parser.add_argument("--kind", required=True, choices=MINI_KINDS)
    parser.add_argument("--out", required=True, help="output folder (train/, test/, manifest.csv)")
    parser.add_argument("--size", type=int, default=64, help="output image side in pixels")
    parser.add_argument("--train", type=int, default=160, help="number of train images")
    parser.add_argument("--test", type=int, default=12, help="number of test images")
    parser.add_argument("--seed", type=seed_argument, default=0)
    parser.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    args = parser.parse_args(argv)
    with expected_faults(OSError, ValueError):
        check_output_folder(args.out, lambda name: name in ("train", "test", "manifest.csv") or name.startswith("."),
                            "--out", args.force)
        manifest = build_mini_dataset(args.kind, args.out, args.size, args.train, args.test, args.seed)
    print(f"wrote {args.train} train + {args.test} test {args.kind} images ({args.size}px); "
          f"manifest: {manifest}")


if __name__ == "__main__":
    sys.exit(main())
