"""Reading the result files and choosing what to show of them.

The summary and per-image CSVs (formats: docs/file-formats.md) are read with their schema checked,
errors naming the file; `metric_order` puts metrics in paper order, `select_variants` picks a
dataset's variants, `missing_metrics` finds the metrics that have no value anywhere,
`single_protocol` refuses rows scored under different protocols, `check_same_code` rows computed by
different code. A registered metric (harness.metric_registry) that a file has no value for, written
before the metric existed, reads as missing with the note NOT_COMPUTED, which the tables' footnotes
repeat; an old protocol name (harness) reads as the new one (default).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from inpaint_bench.harness.metric_registry import metric_names, per_image_metrics, spread_of
from inpaint_bench.harness.names import (
    DEFAULT_PROTOCOL,
    NOT_COMPUTED,
    PSNR_CAP_DB,
    SUMMARY_COLUMNS,
    per_image_columns,
    protocol_name,
)

STRING_COLUMNS = ["dataset", "variant", "bucket", "metric", "note", "train_note", "protocol"]


def single_protocol(rows: pd.DataFrame, what: str) -> str:
    """The one scoring protocol of `rows`; ValueError naming each protocol's runs when they differ:
    their numbers are not comparable (SSIM alone moves by whole points between protocols)."""
    found = list(dict.fromkeys(rows["protocol"]))
    if len(found) == 1:
        return found[0]
    if not found:
        return DEFAULT_PROTOCOL
    runs = {p: sorted(set(rows.loc[rows["protocol"] == p, "variant"])) for p in found}
    listed = "; ".join(f"{p}: {', '.join(v)}" for p, v in runs.items())
    raise ValueError(f"{what} mixes scoring protocols ({listed}); their numbers are not comparable: "
                     f"score every row under one protocol (eval.protocol, or `inpaint-bench evaluate "
                     f"--protocol`)")


def check_same_code(provenances, what: str) -> None:
    """Refuses evaluations (their provenance.json files) computed by different code: ValueError naming
    each file with two digests and the rows of each. The code of a row is its evaluation's, its
    model's training and that one's teacher (jobs.resolve, `code`); a file some rows are not computed
    by (another backbone's) is no difference."""
    digests: dict[str, dict[str, list[str]]] = {}  # file -> digest -> rows
    for path in provenances:
        try:
            job = json.loads(Path(path).read_text())["job"]
            parts = [("", job), (" (training)", job["train"])]
            parts.append((" (its teacher)", (job["train"] or {}).get("teacher_job")))
            for role, part in parts:
                for name, digest in (part or {}).get("code", {}).items():
                    row = f"{job['variant']} seed {job['seed']}{role}"
                    digests.setdefault(name, {}).setdefault(digest, []).append(row)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path} is no evaluation's provenance.json ({type(err).__name__}: {err})") from err
    mixed = {name: rows for name, rows in sorted(digests.items()) if len(rows) > 1}
    if mixed:
        listed = "; ".join(f"{name} ({' / '.join(f'{d}: ' + ', '.join(r) for d, r in rows.items())})"
                           for name, rows in mixed.items())
        raise ValueError(f"{what}: the results were computed by different code: {listed}. Re-run the older "
                         f"ones (snakemake), or, where the edit changes no number, accept them under the new "
                         f"code (inpaint-bench restamp --config CONFIG)")


def metric_order(names, spreads: bool = False) -> list[str]:
    """Registered metrics in paper order (harness.metric_registry), any others after them
    alphabetically. Rows that hold another metric's spread (kid_std) are not a metric of their own:
    left out unless `spreads`, else right after their metric."""
    names = set(names) if spreads else set(names) - set(spread_of())
    spreads_of = {metric: row for row, metric in spread_of().items()}
    known = [row for m in metric_names() for row in (m, spreads_of.get(m)) if row]
    return [m for m in known if m in names] + sorted(names - set(known))


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
    missing metric, whose reason is in `note`. `train_note` and `protocol` may be absent (older files):
    they are "" and "default". A metric that some (dataset, variant, seed, bucket) of the file has and
    another has not (a file aggregated from evaluations written before and after the metric existed)
    is added to the latter as missing (`not_computed_rows`).
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
    if "protocol" not in frame.columns:
        frame["protocol"] = DEFAULT_PROTOCOL
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
    infinite = frame[np.isinf(frame["value"])]
    if not infinite.empty:  # e.g. a mean over an uncapped PSNR: no table, mean or difference survives it
        row = infinite.iloc[0]
        why = (f"written before PSNR was capped at {PSNR_CAP_DB:g} dB per image" if row["metric"] == "psnr"
               else "a value is finite, or empty with a note")
        raise ValueError(f"{path}: {row['metric']} of {row['variant']} (seed {row['seed']}, bucket {row['bucket']}) "
                         f"is {row['value']}: {why}; evaluate that run again")
    frame["seed"] = frame["seed"].astype(int)
    frame["n"] = frame["n"].fillna(0).astype(int)
    for column in STRING_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    frame["protocol"] = frame["protocol"].map(protocol_name)
    return not_computed_rows(frame)


def not_computed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` (summary rows) with a missing row (value NaN, note NOT_COMPUTED) for every metric that
    some (dataset, variant, seed, bucket) has and another lacks: its evaluation was written before the
    metric existed. The added rows follow the ones of their (dataset, variant, seed, bucket)."""
    key = ["dataset", "variant", "seed", "bucket"]
    metrics = list(dict.fromkeys(rows["metric"]))
    if rows.empty or rows.groupby(key, sort=False)["metric"].nunique().eq(len(metrics)).all():
        return rows
    out = []
    for _, part in rows.groupby(key, sort=False):
        out.append(part)
        first, have = part.iloc[0], set(part["metric"])
        added = [{**{c: first[c] for c in key + ["train_note", "protocol"]}, "metric": m, "value": float("nan"),
                  "n": 0, "note": NOT_COMPUTED} for m in metrics if m not in have]
        if added:
            out.append(pd.DataFrame(added, columns=rows.columns))
    return pd.concat(out, ignore_index=True)


PER_IMAGE_STRINGS = ["dataset", "variant", "bucket", "image", "mask", "protocol"]


def read_per_image(path: str | Path) -> pd.DataFrame:
    """Loads a per-image CSV (`harness.names.per_image_columns`, written by every evaluation and by
    `metrics.score`) and checks its schema; errors name the file. Metric columns are float (NaN when
    the metric was not computed), seed is int; a file without `protocol` (older) was scored "default".
    A registered metric the file has no column for (written before the metric existed) is NaN, and
    named in `attrs["not_computed"]`; a column of a metric not registered here is left out."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such per-image file")
    try:
        frame = pd.read_csv(path, keep_default_na=False, dtype={c: str for c in PER_IMAGE_STRINGS},
                            na_values={m: ["", "nan", "NaN"] for m in per_image_metrics()})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    if "protocol" not in frame.columns:
        frame["protocol"] = DEFAULT_PROTOCOL
    not_computed = [m for m in per_image_metrics() if m not in frame.columns]
    for metric in not_computed:
        frame[metric] = np.nan
    columns = per_image_columns()
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{path}: missing column(s) {', '.join(absent)} (expected {', '.join(columns)})")
    frame = frame[columns].copy()
    frame["protocol"] = frame["protocol"].map(protocol_name)
    frame.attrs["not_computed"] = not_computed
    for column in ("seed", "hole_ratio", *per_image_metrics()):
        try:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: column {column!r} is not numeric ({err})") from err
    if frame["seed"].isna().any():
        raise ValueError(f"{path}: empty seed")
    frame["seed"] = frame["seed"].astype(int)
    # files written before the cap hold inf for an exact fill: the cap is per image, so it applies here too
    frame["psnr"] = frame["psnr"].clip(upper=PSNR_CAP_DB)
    return frame


def read_per_images(paths) -> pd.DataFrame:
    """Every row of the given per-image files; the same (dataset, variant, seed, bucket, image, mask)
    twice is an error (it would be counted twice)."""
    frames = [read_per_image(p) for p in paths]
    if not frames:
        return pd.DataFrame(columns=per_image_columns())
    rows = pd.concat(frames, ignore_index=True)
    key = ["dataset", "variant", "seed", "bucket", "image", "mask"]
    dup = rows[rows.duplicated(key, keep=False)]
    if not dup.empty:
        raise ValueError(f"per-image row {tuple(dup.iloc[0][key])} appears twice in "
                         f"{', '.join(map(str, paths))}")
    return rows


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
