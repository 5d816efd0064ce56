"""Paper-style tables and plots from the long-format result files.

This package reads only result files (summary CSVs, training logs, sample images); it never imports
`training/` or `models/`. The helpers here are shared by `aggregate`, `tables` and `plots`: loading
the summary, the order of metrics, the variants of a dataset and the better-direction arrow. Bucket
names are parsed by `harness.buckets`, metric labels and precisions come from `metrics.names`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from metrics.names import HIGHER_IS_BETTER, METRICS, SPREAD_OF, SUMMARY_COLUMNS

STRING_COLUMNS = ["dataset", "variant", "bucket", "metric", "note", "train_note"]


def metric_order(names, spreads: bool = False) -> list[str]:
    """Known metrics in paper order, any others after them alphabetically. Rows that hold another
    metric's spread (kid_std) are not a metric of their own: left out unless `spreads`."""
    names = set(names) if spreads else set(names) - set(SPREAD_OF)
    return [m for m in METRICS if m in names] + sorted(names - set(METRICS))


def arrow(metric: str) -> str:
    """"↑" or "↓": the better direction of a metric; "" when unknown."""
    return {True: "↑", False: "↓"}.get(HIGHER_IS_BETTER.get(metric), "")


def select_variants(summary: pd.DataFrame, dataset: str, variants=None) -> list[str]:
    """The variants to show for a dataset: `variants` (each must have results), or by default every
    variant in order of first appearance in the summary."""
    rows = summary[summary["dataset"] == dataset]
    if rows.empty:
        have = ", ".join(dict.fromkeys(summary["dataset"])) or "none"
        raise ValueError(f"no results for dataset {dataset!r} (datasets in the summary: {have})")
    present = list(dict.fromkeys(rows["variant"]))
    if not variants:
        return present
    unknown = [v for v in variants if v not in present]
    if unknown:
        raise ValueError(f"no results for variant(s) {', '.join(unknown)} on {dataset} (present: {', '.join(present)})")
    return list(dict.fromkeys(variants))


def read_summary(path: str | Path) -> pd.DataFrame:
    """Loads a long-format summary CSV and checks its schema; errors name the file.

    Empty strings stay empty strings (notes), only `value` and `n` are numeric: a NaN value is a
    missing metric, whose reason is in `note`. `train_note` may be absent (older files): it is "".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such summary file")
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values={"value": ["", "nan", "NaN"], "n": [""]},
                            dtype={c: str for c in STRING_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    if "train_note" not in frame.columns:
        frame["train_note"] = ""
    absent = [c for c in SUMMARY_COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(f"{path}: missing column(s) {', '.join(absent)} (expected {', '.join(SUMMARY_COLUMNS)})")
    frame = frame[SUMMARY_COLUMNS].copy()
    for column in ("value", "n", "seed"):
        try:
            frame[column] = pd.to_numeric(frame[column], errors="raise")
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: column {column!r} is not numeric ({err})") from err
    if frame["seed"].isna().any():
        raise ValueError(f"{path}: empty seed")
    frame["seed"] = frame["seed"].astype(int)
    frame["n"] = frame["n"].fillna(0).astype(int)
    for column in STRING_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    return frame


