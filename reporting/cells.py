"""The numbers both tables are built from: for one dataset, the mean ± std over seeds of every
(variant, bucket, metric) cell, with the note of a cell that has no value."""
from __future__ import annotations

import math

import pandas as pd

from inpaint_bench.harness.buckets import sort_bucket_names
from inpaint_bench.harness.metric_registry import set_level_rows
from inpaint_bench.harness.names import (
    MIN_SET_LEVEL_N,
    capped_count,
    influential_count,
    near_constant_count,
)
from inpaint_bench.reporting.phrases import NO_RESULT
from inpaint_bench.reporting.results import metric_order, missing_metrics, select_variants, single_protocol

FIELDS = ["mean", "std", "seeds", "n", "note", "best"]  # "best" is False here; the absolute table marks it


def _missing(note: str) -> dict:
    return {"mean": math.nan, "std": math.nan, "seeds": 0, "n": 0, "note": note, "best": False}


def _cell(rows: pd.DataFrame) -> dict:
    """Mean over the seeds that have a value; a cell with no value carries its note instead."""
    ok = rows[rows["value"].notna()]
    if ok.empty:
        notes = [n for n in rows["note"] if n]
        return _missing(notes[0] if notes else "missing")
    values = ok["value"].astype(float)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
            "seeds": len(values), "n": int(ok["n"].max()), "note": "", "best": False}


def train_notes_of(rows: pd.DataFrame, variants) -> dict[str, str]:
    notes = rows.groupby("variant", sort=False)["train_note"].agg(lambda s: "; ".join(dict.fromkeys(x for x in s if x)))
    return {v: notes.get(v, "") for v in variants}


def cells_over_seeds(summary: pd.DataFrame, dataset: str, variants: list[str] | None = None) -> pd.DataFrame:
    """Index variant, columns (bucket, metric, field) with FIELDS. Metrics without any value take no
    column; they are in `attrs["missing"]` ({metric: note}). attrs also: train_notes, dataset,
    buckets (sorted by bounds), seeds, protocol (rows of different protocols are refused)."""
    variants = select_variants(summary, dataset, variants)
    rows = summary[(summary["dataset"] == dataset) & summary["variant"].isin(variants)]
    protocol = single_protocol(rows, f"the table of {dataset}")
    buckets = sort_bucket_names(rows["bucket"])
    missing = missing_metrics(rows)
    metrics = [m for m in metric_order(rows["metric"]) if m not in missing]

    groups = {key: group for key, group in rows.groupby(["variant", "bucket", "metric"], sort=False)}
    data = {}
    for metric in metrics:
        for bucket in buckets:
            cells = []
            for variant in variants:
                group = groups.get((variant, bucket, metric))
                cells.append(_cell(group) if group is not None else _missing(NO_RESULT))
            for field in FIELDS:
                data[(bucket, metric, field)] = [c[field] for c in cells]
    columns = pd.MultiIndex.from_tuples(list(data), names=["bucket", "metric", "field"])
    table = pd.DataFrame(data, index=pd.Index(variants, name="variant"), columns=columns)
    table.attrs["train_notes"] = train_notes_of(rows, variants)
    table.attrs["dataset"] = dataset
    table.attrs["missing"] = missing
    table.attrs["buckets"] = buckets
    table.attrs["seeds"] = sorted(set(rows["seed"]))
    table.attrs["capped"] = capped_images(rows)
    table.attrs["near_constant"] = near_constant_images(rows)
    table.attrs["influential"] = influential_images(rows)
    table.attrs["few_images"] = few_images(table)
    table.attrs["protocol"] = protocol
    return table


def capped_images(rows: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """{(variant, bucket): (capped, images)} over the seeds, where some PSNR was capped (the notes of
    the summary rows, harness.names.capped_note)."""
    out = {}
    psnr = rows[(rows["metric"] == "psnr") & rows["value"].notna()]
    for (variant, bucket), part in psnr.groupby(["variant", "bucket"], sort=False):
        capped = sum(capped_count(note) for note in part["note"])
        if capped:
            out[(variant, bucket)] = (capped, int(part["n"].sum()))
    return out


def influential_images(rows: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int, float]]:
    """{(variant, bucket): (images, images over the seeds, largest shift in dB)} where one image moves
    a seed's mean PSNR by more than INFLUENCE_DB (the notes of the summary rows,
    harness.names.influential_note)."""
    out = {}
    psnr = rows[(rows["metric"] == "psnr") & rows["value"].notna()]
    for (variant, bucket), part in psnr.groupby(["variant", "bucket"], sort=False):
        found = [influential_count(note) for note in part["note"]]
        count = sum(f[0] for f in found)
        if count:
            out[(variant, bucket)] = (count, int(part["n"].sum()), max(f[2] for f in found))
    return out


def buckets_of(table: pd.DataFrame) -> list[str]:
    return table.attrs.get("buckets") or list(dict.fromkeys(table.columns.get_level_values("bucket")))


def metrics_of(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.columns.get_level_values("metric")))


def few_images(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{metric: {bucket: n}} of the set-level metrics (FID, KID) whose cells of a bucket rest on fewer
    than MIN_SET_LEVEL_N images: the tables mark them (phrases.few_images_line)."""
    out = {}
    for bucket, metric, field in table.columns:
        if field == "n" and metric in set_level_rows():
            ns = [int(n) for n in table[(bucket, metric, field)] if n > 0]
            if ns and max(ns) < MIN_SET_LEVEL_N:
                out.setdefault(metric, {})[bucket] = max(ns)
    return out


def small_n(table_attrs: dict, bucket: str, metric: str) -> bool:
    """Whether a set-level cell rests on too few images (`few_images`)."""
    return bucket in table_attrs.get("few_images", {}).get(metric, {})


def near_constant_images(rows: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """{bucket: (near-constant test images, test images)} where the PSNR rows' notes count some
    (harness.names.near_constant_note); every row of a bucket scores the same test images."""
    out = {}
    psnr = rows[rows["metric"] == "psnr"]
    for bucket, part in psnr.groupby("bucket", sort=False):
        counted = max((near_constant_count(note) for note in part["note"]), default=(0, 0))
        if counted[0]:
            out[bucket] = counted
    return out
