"""`inpaint-bench weights`: finds (`check`) or downloads (`fetch`) the pretrained weight files
(harness.weights)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.harness import weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Find (check) or download (fetch) the pretrained weight files "
                                                 "the metrics and the training losses need.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="show which weight files are found offline")
    check.add_argument("--dir", default=None, help="folder searched first (weights.dir)")
    check.add_argument("--strict", action="store_true", help="exit 1 if any file is missing")
    fetch = sub.add_parser("fetch", help="download missing weight files (needs a network)")
    fetch.add_argument("--dir", default=None, help="download here instead of torch.hub's checkpoints folder")
    args = parser.parse_args(argv)
    if args.command == "check":
        return weights.check_weights(args.dir, args.strict)
    return weights.fetch_missing(args.dir)


if __name__ == "__main__":
    sys.exit(main())
