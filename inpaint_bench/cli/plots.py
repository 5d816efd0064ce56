"""`inpaint-bench plots`: a dataset's plots (reporting.plots)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.cli.common import add_extensions_argument, expected_faults, import_extensions
from inpaint_bench.reporting import plots
from inpaint_bench.reporting.budget import read_budgets


def _variant_paths(p: argparse.ArgumentParser, items, flag: str, repeat: bool = False) -> dict:
    """{variant: path} from VARIANT=PATH arguments ({variant: [paths]} when `repeat`)."""
    paths = {}
    for item in items or []:
        variant, sep, path = item.partition("=")
        if not sep or not variant or not path:
            p.error(f"{flag} {item}: expected VARIANT=PATH")
        if repeat:
            paths.setdefault(variant, []).append(path)
            continue
        if variant in paths:
            p.error(f"{flag}: variant {variant} given twice")
        paths[variant] = path
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(description=plots.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", required=True, help="combined long-format summary (reporting.aggregate)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", nargs="+", help="variant order (default: first appearance in the summary)")
    p.add_argument("--ablation", help="the ablation table's csv: also write the paired-difference plot")
    p.add_argument("--log", action="append", metavar="VARIANT=PATH",
                   help="a variant's train_log.csv (repeat; several for one variant: one per seed)")
    p.add_argument("--samples", action="append", metavar="VARIANT=DIR",
                   help="a variant's eval/samples folder (repeat)")
    p.add_argument("--seed", type=int, help="the run the samples come from, shown in the titles")
    p.add_argument("--provenance", nargs="+", metavar="JSON", help="evaluations' provenance.json: every title says "
                   "how long each row trained, the paired plot draws classical rows as dashed lines")
    add_extensions_argument(p)
    args = p.parse_args(argv)
    logs = _variant_paths(p, args.log, "--log", repeat=True)
    samples = _variant_paths(p, args.samples, "--samples")
    with expected_faults(FileNotFoundError, ValueError):
        import_extensions(args)
        budgets = read_budgets(args.provenance) if args.provenance else None
        paths = plots.write_plots(args.summary, args.dataset, args.variants, args.out_dir, logs, samples, args.seed,
                                  args.ablation, budgets=budgets)
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    sys.exit(main())
