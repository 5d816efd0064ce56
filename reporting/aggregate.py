"""Concatenates per-run summaries into one long-format CSV.

    python -m reporting.aggregate --out results/summary.csv SUMMARY.csv [SUMMARY.csv ...]

Columns: dataset, variant, seed, bucket, metric, value, n, note, train_note (one row per
dataset, variant, seed, bucket and metric). Rows are sorted stably by dataset and variant in order
of first appearance in the inputs (Snakemake passes them in config order, so the tables keep the
config's variant order), then seed, bucket (by bounds, `harness.buckets`) and metric in paper
order. The same (dataset, variant, seed, bucket, metric) in two files is an error: it would be
counted twice. The output is written atomically (`harness.fileio.write_csv`).
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from harness.buckets import sort_bucket_names
from harness.fileio import write_csv
from metrics.names import SUMMARY_COLUMNS
from reporting import metric_order, read_summary

KEY = ["dataset", "variant", "seed", "bucket", "metric"]


def aggregate(paths) -> pd.DataFrame:
    """All rows of the given summary files, sorted (see module docstring)."""
    if not paths:
        raise ValueError("no summary files given")
    frames = []
    for path in paths:
        frame = read_summary(path)
        frame["_source"] = str(path)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)

    dup = rows[rows.duplicated(KEY, keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        sources = sorted(set(dup[(dup[KEY] == first[KEY]).all(axis=1)]["_source"]))
        raise ValueError(f"duplicate result {tuple(first[KEY])} in {', '.join(sources)}")

    # Rank columns for the sort: first appearance for names, bounds for buckets, paper order for metrics.
    rank = {
        "dataset": {d: i for i, d in enumerate(dict.fromkeys(rows["dataset"]))},
        "variant": {v: i for i, v in enumerate(dict.fromkeys(rows["variant"]))},
        "bucket": {b: i for i, b in enumerate(sort_bucket_names(rows["bucket"]))},
        "metric": {m: i for i, m in enumerate(metric_order(rows["metric"], spreads=True))},
    }
    keys = pd.DataFrame({c: rows[c].map(order) for c, order in rank.items()})
    keys["seed"] = rows["seed"]
    order = keys.sort_values(["dataset", "variant", "seed", "bucket", "metric"], kind="stable").index
    return rows.loc[order, SUMMARY_COLUMNS].reset_index(drop=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="combined long-format CSV to write")
    p.add_argument("summaries", nargs="+", help="per-run eval/summary.csv files")
    args = p.parse_args(argv)
    try:
        frame = aggregate(args.summaries)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    write_csv(args.out, frame)
    print(f"{args.out}: {len(frame)} rows from {len(args.summaries)} file(s)")


if __name__ == "__main__":
    main()
