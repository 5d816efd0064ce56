"""Concatenates per-run summaries into one long-format CSV, and the mean and std over seeds.

    inpaint-bench aggregate --out results/summary.csv [--over-seeds results/summary_over_seeds.csv] \
        SUMMARY.csv [SUMMARY.csv ...]

The same (dataset, variant, seed, bucket, metric) in two files is an error: it would be counted
twice; so are files scored under different protocols (their numbers are not comparable). A metric
some files have and others, written before it existed, have not is a missing row in the latter's
runs (note: harness.names.NOT_COMPUTED).
`--over-seeds` rows are a file of their own, so that summary.csv keeps exactly one row per seed and
every reader of it counts each run once. Both are written atomically; their columns and
row order: docs/file-formats.md.
"""
from __future__ import annotations

import math

import pandas as pd

from inpaint_bench.harness.buckets import sort_bucket_names
from inpaint_bench.harness.names import SUMMARY_COLUMNS
from inpaint_bench.reporting.results import metric_order, not_computed_rows, read_summary, single_protocol

KEY = ["dataset", "variant", "seed", "bucket", "metric"]
OVER_SEEDS_COLUMNS = ["dataset", "variant", "bucket", "metric", "mean", "std", "seeds", "seed_list", "n", "note",
                      "train_note", "protocol"]


def aggregate(paths) -> pd.DataFrame:
    """All rows of the given summary files, sorted stably by dataset and variant in order of first
    appearance in the inputs (Snakemake passes them in config order, so the tables keep the config's
    variant order), then seed, bucket (by bounds, `harness.buckets`) and metric in paper order."""
    if not paths:
        raise ValueError("no summary files given")
    frames = []
    for path in paths:
        frame = read_summary(path)
        frame["_source"] = str(path)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    single_protocol(rows, f"aggregating {len(frames)} summary file(s)")

    dup = rows[rows.duplicated(KEY, keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        sources = sorted(set(dup[(dup[KEY] == first[KEY]).all(axis=1)]["_source"]))
        raise ValueError(f"duplicate result {tuple(first[KEY])} in {', '.join(sources)}")
    rows = not_computed_rows(rows)  # a metric an older evaluation did not compute: missing, with a note

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


def over_seeds(summary: pd.DataFrame) -> pd.DataFrame:
    """The aggregated rows of a (sorted) summary, one per (dataset, variant, bucket, metric): mean and
    sample std over seeds (ddof=1; NaN with one seed), the seeds with a value, n, notes."""
    out = []
    for key, rows in summary.groupby(["dataset", "variant", "bucket", "metric"], sort=False):
        ok = rows[rows["value"].notna()]
        values = ok["value"].astype(float)
        notes = list(dict.fromkeys(n for n in rows["note"] if n))
        out.append({**dict(zip(["dataset", "variant", "bucket", "metric"], key)),
                    "mean": float(values.mean()) if len(values) else math.nan,
                    "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                    "seeds": len(values), "seed_list": " ".join(map(str, sorted(ok["seed"]))),
                    "n": int(ok["n"].max()) if len(ok) else 0, "note": "" if len(values) else "; ".join(notes),
                    "train_note": "; ".join(dict.fromkeys(n for n in rows["train_note"] if n)),
                    "protocol": rows["protocol"].iloc[0]})
    return pd.DataFrame(out, columns=OVER_SEEDS_COLUMNS)
