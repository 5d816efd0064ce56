"""`inpaint-bench compare`: the paired analysis of any two result files (reporting.compare)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.cli.common import add_extensions_argument, expected_faults, import_extensions
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.reporting import compare
from inpaint_bench.reporting.stats import Bootstrap


def main(argv=None):
    p = argparse.ArgumentParser(description=compare.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="the base: per-image or summary CSV")
    p.add_argument("b", help="compared: per-image or summary CSV (Δ = B − A)")
    p.add_argument("--dataset", help="the dataset to compare, when a file holds several")
    p.add_argument("--a-variant", help="A's variant, when A holds several")
    p.add_argument("--b-variant", help="B's variant, when B holds several")
    p.add_argument("--metrics", nargs="+", help="metrics to compare (default: all with a value in both)")
    p.add_argument("--resamples", type=int, default=Bootstrap.resamples)
    p.add_argument("--level", type=float, default=Bootstrap.level)
    p.add_argument("--seed", type=int, default=Bootstrap.seed, help="the bootstrap's numpy seed")
    p.add_argument("--out", help="also write the rows as CSV")
    p.add_argument("--common-only", action="store_true",
                   help="two per-image files of other test pairs: compare the pairs both hold (said under the table)")
    add_extensions_argument(p)
    args = p.parse_args(argv)
    notes = []
    with expected_faults(FileNotFoundError, ValueError):
        import_extensions(args)
        bootstrap = Bootstrap(args.resamples, args.level, args.seed)
        rows, label_a, label_b = compare.compare_files(args.a, args.b, args.dataset, args.a_variant, args.b_variant,
                                                       args.metrics, bootstrap, warn=notes.append,
                                                       common_only=args.common_only)
    print(compare.to_markdown(rows, label_a, label_b, notes), end="")
    if args.out:
        write_csv(args.out, rows)


if __name__ == "__main__":
    sys.exit(main())
