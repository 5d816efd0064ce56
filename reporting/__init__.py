"""Paper-style tables, paired statistics and plots from the long-format result files.

This package reads only result files (summary and per-image CSVs, training logs, sample images); it
never imports `training/` or `models/`. Modules: `aggregate` (eval summaries -> summary.csv and the
over-seeds summary), `stats` (the hierarchical paired bootstrap), `tables` (the absolute table),
`ablation` (differences to the reference row with intervals), `html` (the report's HTML tables),
`plots`, `compare` (the paired analysis of any two result files). The helpers here are shared by
them: loading the summary and per-image files, the order of metrics, the variants of a dataset, the
reference row, the metrics that were not computed and the better-direction arrow. Bucket names are
parsed by `harness.buckets`, metric labels and precisions come from `harness.names`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from inpaint_bench.harness.names import HIGHER_IS_BETTER, METRICS, PER_IMAGE_COLUMNS, PER_IMAGE_METRICS, SPREAD_OF, SUMMARY_COLUMNS

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


PER_IMAGE_STRINGS = ["dataset", "variant", "bucket", "image", "mask"]


def read_per_image(path: str | Path) -> pd.DataFrame:
    """Loads a per-image CSV (`metrics.names.PER_IMAGE_COLUMNS`, written by every evaluation and by
    `metrics.score`) and checks its schema; errors name the file. Metric columns are float (NaN when
    the metric was not computed), seed is int."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such per-image file")
    try:
        frame = pd.read_csv(path, keep_default_na=False, dtype={c: str for c in PER_IMAGE_STRINGS},
                            na_values={m: ["", "nan", "NaN"] for m in PER_IMAGE_METRICS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    absent = [c for c in PER_IMAGE_COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(f"{path}: missing column(s) {', '.join(absent)} (expected {', '.join(PER_IMAGE_COLUMNS)})")
    frame = frame[PER_IMAGE_COLUMNS].copy()
    for column in ("seed", "hole_ratio", *PER_IMAGE_METRICS):
        try:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: column {column!r} is not numeric ({err})") from err
    if frame["seed"].isna().any():
        raise ValueError(f"{path}: empty seed")
    frame["seed"] = frame["seed"].astype(int)
    return frame


def read_per_images(paths) -> pd.DataFrame:
    """Every row of the given per-image files; the same (dataset, variant, seed, bucket, image, mask)
    twice is an error (it would be counted twice)."""
    frames = [read_per_image(p) for p in paths]
    if not frames:
        return pd.DataFrame(columns=PER_IMAGE_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    key = ["dataset", "variant", "seed", "bucket", "image", "mask"]
    dup = rows[rows.duplicated(key, keep=False)]
    if not dup.empty:
        raise ValueError(f"per-image row {tuple(dup.iloc[0][key])} appears twice in "
                         f"{', '.join(map(str, paths))}")
    return rows


def resolve_reference(variants, wanted: str | None) -> tuple[str, str]:
    """The ablation's reference row among `variants` (config order): `wanted` when it is one of
    them, else the first variant. Returns (reference, note); the note says why it is not `wanted`
    ("" when it is)."""
    variants = list(variants)
    if not variants:
        raise ValueError("no variants to compare")
    if wanted in variants:
        return wanted, ""
    return variants[0], (f"report.reference {wanted!r} is not a variant of this run: "
                         f"the first row, {variants[0]}, is the reference")


def missing_metrics(summary: pd.DataFrame) -> dict[str, str]:
    """{metric: note} of the metrics (spread rows excluded) that have no value in any row of
    `summary`: they take no column in the tables and no panel in the plots; the note says why
    ("missing: <weight file>")."""
    out = {}
    for metric in metric_order(summary["metric"]):
        rows = summary[summary["metric"] == metric]
        if rows["value"].notna().any():
            continue
        notes = list(dict.fromkeys(n for n in rows["note"] if n))
        out[metric] = "; ".join(notes) if notes else "missing: no value"
    return out


def seed_phrase(seeds: int) -> str:
    """How the spread over seeds is shown, for captions and footnotes."""
    if seeds <= 1:
        return "one seed: no seed spread (values are that seed's)"
    return f"mean ± sample std over {seeds} seeds"


def images_per_bucket(spec: dict) -> str:
    """What the config says about n, the test images per bucket and seed, for the report's captions
    (a dataset spec of the config): "16" for a mini dataset of 16 test crops, "at most 500" with
    max_test, else "every test image" (the tables' footnotes give the number found)."""
    if spec.get("test_count"):
        return str(spec["test_count"])
    if spec.get("max_test"):
        return f"at most {spec['max_test']}"
    return "every test image"
