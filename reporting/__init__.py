"""Paper-style tables and plots from the long-format result files.

This package reads only files under `results/` (summary CSVs, per-run samples and training logs);
it never imports `training/` or `models/`. The helpers here are shared by `aggregate`, `tables`
and `plots`: the summary schema, metric directions, bucket parsing, CSV loading and atomic writes.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from metrics.names import HIGHER_IS_BETTER, METRICS, SUMMARY_COLUMNS  # noqa: F401  (used by the modules)

STRING_COLUMNS = ["dataset", "variant", "bucket", "metric", "note", "train_note"]

_FLOAT = r"(\d+(?:\.\d*)?|\.\d+)"
_BUCKET = re.compile(rf"^\s*[\(\[]?\s*{_FLOAT}\s*[-,_]\s*{_FLOAT}\s*[\)\]]?\s*$")


def bucket_bounds(name: str) -> tuple[float, float]:
    """(lower, upper) hole ratio of a bucket named like "0.1-0.2"; (inf, inf) if the name has no bounds."""
    match = _BUCKET.match(str(name))
    if not match:
        return math.inf, math.inf
    return float(match.group(1)), float(match.group(2))


def sort_buckets(names) -> list[str]:
    """Buckets by lower bound (then upper bound, then name), unparseable names last."""
    return sorted(dict.fromkeys(names), key=lambda b: (*bucket_bounds(b), str(b)))


def metric_order(names) -> list[str]:
    """Known metrics in paper order, any others after them alphabetically."""
    names = set(names)
    return [m for m in METRICS if m in names] + sorted(names - set(METRICS))


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


