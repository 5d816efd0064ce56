"""`inpaint-bench tables`: both tables of one dataset (reporting.tables)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inpaint_bench.cli.common import add_extensions_argument, expected_faults, import_extensions
from inpaint_bench.reporting import tables
from inpaint_bench.reporting.budget import PROVENANCE, read_budgets
from inpaint_bench.reporting.phrases import PAIRING_PHRASES
from inpaint_bench.reporting.results import check_same_code, read_per_images, read_summary
from inpaint_bench.reporting.stats import Bootstrap


def main(argv=None):
    p = argparse.ArgumentParser(description=tables.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", required=True, help="combined long-format summary (reporting.aggregate)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", nargs="+", help="row order (default: order of first appearance)")
    p.add_argument("--per-image", nargs="+", metavar="CSV", help="per-image CSVs: also write the ablation table")
    p.add_argument("--baseline-row", default="baseline", help="the ablation's baseline row (default: baseline, "
                   "else the first variant)")
    p.add_argument("--published-table", metavar="CSV", help="a published table (published/README.md) to show "
                   "beside our cells, with our difference to it")
    p.add_argument("--resamples", type=int, default=Bootstrap.resamples)
    p.add_argument("--level", type=float, default=Bootstrap.level)
    p.add_argument("--bootstrap-seed", type=int, default=Bootstrap.seed)
    p.add_argument("--pairing", choices=list(PAIRING_PHRASES), help="the evaluations' masks.pairing, said in the "
                   "footnotes (default: not said)")
    add_extensions_argument(p)
    args = p.parse_args(argv)
    with expected_faults(FileNotFoundError, ValueError):
        import_extensions(args)
        per_image = read_per_images(args.per_image) if args.per_image else None
        # our evaluations record their code beside their per-image CSV: rows of different code are refused
        provenances = [Path(p).with_name("provenance.json") for p in args.per_image or []]
        check_same_code([p for p in provenances if p.is_file()], f"the tables of {args.dataset}")
        paths = tables.write_tables(read_summary(args.summary), args.dataset, args.out_dir, args.variants, per_image,
                                    args.baseline_row, Bootstrap(args.resamples, args.level, args.bootstrap_seed),
                                    args.published_table, pairing=args.pairing,
                                    budgets=read_budgets(Path(p).with_name(PROVENANCE) for p in args.per_image)
                                    if args.per_image else None)
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    sys.exit(main())
