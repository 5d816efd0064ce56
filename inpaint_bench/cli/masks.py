"""`inpaint-bench masks`: writes a test mask set, generated or from NVIDIA's masks (datasets.mask_sets)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.cli.common import expected_faults, seed_argument
from inpaint_bench.datasets.mask_conventions import DEFAULT_BUCKETS
from inpaint_bench.datasets.mask_sets import is_mask_set_entry, make_test_masks
from inpaint_bench.datasets.nvidia_masks import import_nvidia_masks
from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.fileio import check_output_folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write a test mask set (PNG, 255 = hole) with "
                                                 "a manifest of hole ratios.")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", default="12", help="masks per bucket (with --nvidia: or 'all')")
    parser.add_argument("--seed", type=seed_argument, default=0)
    parser.add_argument("--buckets", nargs="+", default=[Bucket.parse(b).name for b in DEFAULT_BUCKETS],
                        help="hole-ratio buckets as lo-hi, e.g. 0.1-0.2 0.2-0.3")
    parser.add_argument("--blobs", action="store_true", help="add elliptical blobs to strokes")
    parser.add_argument("--nvidia", metavar="DIR", help="import NVIDIA irregular masks from DIR "
                                                        "instead of generating masks")
    parser.add_argument("--hole-black", action="store_true",
                        help="with --nvidia: holes are black (NVIDIA's raw training set)")
    parser.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    args = parser.parse_args(argv)
    if args.count != "all" or not args.nvidia:
        try:
            args.count = int(args.count)
        except ValueError:
            parser.error(f"--count must be an integer{' or all' if args.nvidia else ''}, got {args.count!r}")
    with expected_faults(OSError, ValueError, RuntimeError):  # RuntimeError: a bucket too narrow to draw into
        check_output_folder(args.out, is_mask_set_entry, "--out", args.force)
        if args.nvidia:
            manifest = import_nvidia_masks(args.nvidia, args.out, args.size, args.buckets, args.count,
                                           args.seed, hole_is_white=not args.hole_black)
        else:
            manifest = make_test_masks(args.out, args.size, args.buckets, args.count, args.seed,
                                       blobs=args.blobs)
    print(f"wrote {args.count} mask(s) x {len(args.buckets)} buckets ({args.size}px); "
          f"manifest: {manifest}")


if __name__ == "__main__":
    sys.exit(main())
