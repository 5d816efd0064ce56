"""`inpaint-bench aggregate`: per-run summaries into one long-format CSV, and the mean and std over seeds
(reporting.aggregate)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.cli.common import add_extensions_argument, expected_faults, import_extensions
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.reporting import aggregate


def main(argv=None):
    p = argparse.ArgumentParser(description=aggregate.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="combined long-format CSV to write")
    p.add_argument("--over-seeds", help="also write the mean and std over seeds here")
    p.add_argument("summaries", nargs="+", help="per-run eval/summary.csv files")
    add_extensions_argument(p)
    args = p.parse_args(argv)
    with expected_faults(FileNotFoundError, ValueError):
        import_extensions(args)
        frame = aggregate.aggregate(args.summaries)
    write_csv(args.out, frame)
    if args.over_seeds:
        write_csv(args.over_seeds, aggregate.over_seeds(frame))
    print(f"{args.out}: {len(frame)} rows from {len(args.summaries)} file(s)")


if __name__ == "__main__":
    sys.exit(main())
