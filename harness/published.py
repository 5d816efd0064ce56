"""Published numbers of the papers' tables (`published/*.csv`), read and checked in one place so that
reporting can put them beside ours. The format is described in published/README.md; every row is one
number of one table cell, with where it was read.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.metric_registry import metric_format, metric_names

PUBLISHED_DIR = Path(__file__).resolve().parent.parent / "published"
PUBLISHED_COLUMNS = ["paper", "table", "dataset", "mask_protocol", "row", "variant", "bucket", "metric",
                     "value", "printed", "source"]
# Buckets that are no hole-ratio interval: every ratio at once, or one the paper does not state (such a
# number is shown in the paper's view but is beside no cell of ours).
UNBUCKETED = ("all", "unstated")
REQUIRED = ("paper", "table", "dataset", "mask_protocol", "row", "bucket", "metric", "value", "printed", "source")


def load_published(path: str | Path) -> list[dict]:
    """The rows of one published CSV, `value` as a float; ValueError names the file, the line and the
    column of anything that does not follow published/README.md."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != PUBLISHED_COLUMNS:
            raise ValueError(f"{path}: columns {reader.fieldnames} must be exactly {PUBLISHED_COLUMNS}")
        rows = []
        for row in reader:
            where = f"{path}:{reader.line_num}"
            empty = [c for c in REQUIRED if not (row[c] or "").strip()]
            if empty:
                raise ValueError(f"{where}: empty {', '.join(empty)}")
            if row["metric"] not in metric_names():
                raise ValueError(f"{where}: metric {row['metric']!r} is not one of {metric_names()}")
            try:
                Bucket.parse(row["bucket"])
            except ValueError as err:
                if row["bucket"] not in UNBUCKETED:
                    raise ValueError(f"{where}: {err} (or 'all' for a cell over every hole ratio, 'unstated' "
                                     f"where the paper does not say)") from None
            try:
                value = float(row["value"])
            except ValueError:
                raise ValueError(f"{where}: value {row['value']!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: value {row['value']!r} is not finite")
            check_published(row, value, where)
            if key(row) in {key(r) for r in rows}:
                raise ValueError(f"{where}: a second value for {key(row)}")
            if row["variant"] and cell(row) in {cell(r) for r in rows if r["variant"]}:
                raise ValueError(f"{where}: a second row for variant {row['variant']!r} in the cell {cell(row)}")
            rows.append({**row, "value": value})
    return rows


# The range a published value may take, in the harness's unit (a mean over a test set: PSNR in dB,
# SSIM, L1 as a fraction, LPIPS and KID raw), and the scales a paper may print it at: as is, or under
# a scaled header ("L1 (%)": 2.50 for 0.025; KID x10^3). A printed "%" means a scale of 1/100 only.
PUBLISHED_RANGE = {"psnr": (10.0, 60.0), "ssim": (0.0, 1.0), "l1": (0.0, 1.0), "lpips": (0.0, 1.0),
                   "fid": (0.0, math.inf), "kid": (0.0, 1.0)}
PRINTED_SCALES = {"ssim": (1, 0.01), "l1": (1, 0.01), "lpips": (1, 0.01), "kid": (1, 0.01, 0.001)}
_PRINTED = re.compile(r"[-+]?(\d+(?:\.(\d*))?|\.(\d+))\s*(%?)")


def check_published(row: dict, value: float, where: str) -> None:
    """ValueError naming the line and the row when `value` lies outside its metric's range
    (PUBLISHED_RANGE) or does not agree with `printed` at the printed precision (PRINTED_SCALES)."""
    metric, what = row["metric"], f"{where} (row {row['row']!r}, bucket {row['bucket']}, {row['metric']})"
    lo, hi = PUBLISHED_RANGE[metric]
    label = metric_format(metric).label
    if not lo <= value <= hi:
        unit = {"psnr": " dB", "l1": " (a fraction: a printed 2.50% is 0.025)"}.get(metric, "")
        raise ValueError(f"{what}: value {row['value']} is outside the range of a published {label}, "
                         f"{lo:g} to {hi:g}{unit}")
    found = _PRINTED.search(row["printed"].replace(",", ""))
    if not found:
        raise ValueError(f"{what}: printed {row['printed']!r} holds no number")
    printed = float(found.group(0).rstrip("% \t"))
    decimals = len(found.group(2) or found.group(3) or "")
    scales = (0.01,) if found.group(4) else PRINTED_SCALES.get(metric, (1,))
    # agreement up to the printed rounding: half a unit of its last digit, at the scale
    if not any(abs(value - printed * s) <= (0.5 * 10 ** -decimals + 1e-9 * abs(printed)) * s for s in scales):
        expected = " or ".join(f"{printed * s:g}" for s in scales)
        raise ValueError(f"{what}: value {row['value']} does not agree with printed {row['printed']!r} "
                         f"(expected {expected}, in the harness's unit: published/README.md)")


def key(row: dict) -> tuple:
    """What one published number is of: (paper, table, dataset, row, bucket, metric)."""
    return tuple(row[c] for c in ("paper", "table", "dataset", "row", "bucket", "metric"))


def cell(row: dict) -> tuple:
    """The cell of our tables a published number is beside: (dataset, variant, bucket, metric)."""
    return tuple(row[c] for c in ("dataset", "variant", "bucket", "metric"))


def locate(path: str | Path) -> Path:
    """A published table named in a config: the path as given (relative to the working directory) when
    it is there, else this checkout's own copy (`published/...` under the repository), so a config can
    name the shipped tables from any working directory."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    shipped = PUBLISHED_DIR.parent / path
    return shipped if shipped.exists() else path


def published_tables(folder: str | Path = PUBLISHED_DIR) -> dict[str, list[dict]]:
    """{file stem: rows} of every CSV in the published folder, each checked by load_published."""
    return {p.stem: load_published(p) for p in sorted(Path(folder).glob("*.csv"))}
