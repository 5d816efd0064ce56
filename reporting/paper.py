"""The paper's view and the reproduction scorecard: our numbers beside a paper's published tables.

For each published table (a CSV of published/, `harness.published`), `compare` puts every published
cell beside ours: the mean over seeds of the matching cell of our summary (dataset, variant, bucket,
metric), Δ = ours − published, and, where the run has per-image scores for it, the hierarchical
bootstrap interval of Δ (`reporting.stats`: resample seeds, then images; the published value is a
constant, so this is the interval of our mean moved by it). `verdict` says in plain words how close
the cell came. `paper_view` lays one table out in the paper's own shape (its rows in its order, its
buckets as columns, one block per metric, values at the precision printed); `scorecard` lists every
published cell we have a variant for, with a summary line per table row. Both are written by
`reporting.render` (md, tex, html, csv): `write_view`, `write_scorecard`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.metric_registry import higher_is_better, per_image_metrics
from inpaint_bench.harness.published import load_published
from inpaint_bench.reporting.budget import budget_lines, short_rows, under_trained
from inpaint_bench.reporting.render import Block, Cell, Row, TableModel, digits, tex_escape, write_table
from inpaint_bench.reporting.stats import Bootstrap, hierarchical_bootstrap

SCORECARD = "scorecard"  # the scorecard's file name; each paper view is named after its published CSV
DATASET_NAMES = {"places2": "Places2", "celeba": "CelebA", "paris": "Paris StreetView"}
METRIC_NAMES = {"ssim": "SSIM↑", "psnr": "PSNR (dB)↑", "l1": "Mean l1 (fraction)↓"}
PUBLISHED_ONLY = " (published only)"
NOT_PRINTED = "—"  # a cell the paper prints no number for (GatedConv on Places2)
NO_RESULT = "–"  # a published cell our run has no value for
PSNR_SUMMARY_DB = 0.3  # the summary line also counts the PSNR cells within this many dB

# The verdicts, in plain words
ROUNDING = "within the published rounding"
INTERVAL = "within our interval"
OFF = "off by more"
NOT_RUN = "no result of ours"
UNSTATED = "not compared: the paper does not state the mask ratio"
CLOSE = (ROUNDING, INTERVAL)

COLUMNS = ["table", "row", "variant", "dataset", "bucket", "metric", "published", "printed", "ours", "diff",
           "diff_lo", "diff_hi", "seeds", "images", "interval_note", "verdict", "source"]


def decimals(printed: str) -> int:
    """The digits after the point of a number as printed: its precision."""
    return len(printed.split(".")[1]) if "." in printed else 0


def verdict(diff: float, printed: str, lo: float = math.nan, hi: float = math.nan, metric: str = "") -> str:
    """How close ours came, in plain words: within the published rounding (ours rounds to the printed
    number: |Δ| at most half its last digit), within our interval (the interval on Δ holds 0), or off by
    more (with the better side where the metric has one)."""
    if math.isnan(diff):
        return NOT_RUN
    if abs(diff) <= 0.5 * 10 ** -decimals(printed) * (1 + 1e-9):
        return ROUNDING
    has_interval = not (math.isnan(lo) or math.isnan(hi))
    if has_interval and lo <= 0 <= hi:
        return INTERVAL
    words = []
    if higher_is_better(metric) is not None:
        words.append("ours better" if (diff > 0) == higher_is_better(metric) else "ours worse")
    if not has_interval:
        words.append("no interval")
    return f"{OFF} ({'; '.join(words)})" if words else OFF


def _ours(summary: pd.DataFrame, row: dict) -> tuple[float, int]:
    """The mean over seeds of our cell and the number of seeds with a value; NaN, 0 when none."""
    hit = summary[(summary["dataset"] == row["dataset"]) & (summary["variant"] == row["variant"])
                  & (summary["bucket"] == row["bucket"]) & (summary["metric"] == row["metric"])]
    values = hit["value"].dropna()
    return (float(values.mean()), int(values.size)) if values.size else (math.nan, 0)


def our_variant(variant: str, dataset: str, variants: dict | None) -> str:
    """The row of ours a published variant is compared with: `variants` (report.paper_variants) maps a
    published CSV's variant to another row of the run, or per dataset ({dataset: row}); else itself."""
    mapped = (variants or {}).get(variant, variant)
    return mapped.get(dataset, variant) if isinstance(mapped, dict) else mapped


def compare(published: list[dict], summary: pd.DataFrame, per_image: pd.DataFrame | None = None,
            bootstrap: Bootstrap | None = None, variants: dict | None = None,
            rows: list[str] | None = None) -> pd.DataFrame:
    """One row per published number (columns COLUMNS, the file's order): ours, Δ, its interval and the
    verdict. Rows without a variant (published only) keep ours empty and the verdict "". `variants`:
    report.paper_variants (our_variant); `rows`: the config's variants, when given a published row
    whose variant is none of them is published only in this run (e.g. PConv beside the released
    checkpoints)."""
    bootstrap = bootstrap or Bootstrap()
    out = []
    for row in published:
        if row["variant"]:
            mine = our_variant(row["variant"], row["dataset"], variants)
            row = {**row, "variant": "" if rows is not None and mine not in rows else mine}
        record = {c: row[c] for c in ("table", "row", "variant", "dataset", "bucket", "metric", "printed",
                                      "source")}
        record.update(published=row["value"], ours=math.nan, diff=math.nan, diff_lo=math.nan,
                      diff_hi=math.nan, seeds=0, images=0, interval_note="", verdict="")
        if row["variant"] and row["bucket"] == "unstated":
            record["verdict"] = UNSTATED
        elif row["variant"]:
            ours, seeds = _ours(summary, row)
            record.update(ours=ours, diff=ours - row["value"], seeds=seeds)
            if not math.isnan(ours):
                record.update(_interval(row, per_image, bootstrap))
            record["verdict"] = verdict(record["diff"], row["printed"], record["diff_lo"], record["diff_hi"],
                                        row["metric"])
        out.append(record)
    frame = pd.DataFrame(out, columns=COLUMNS)
    for column in ("published", "ours", "diff", "diff_lo", "diff_hi"):
        frame[column] = frame[column].map(digits)
    return frame


def interval_words(bootstrap: Bootstrap) -> str:
    """What the interval on Δ is, for the footnotes."""
    return (f"the {bootstrap.percent} percentile interval of a hierarchical bootstrap of ours − published "
            f"(resample seeds, then images within each seed; {bootstrap.resamples} resamples, numpy seed "
            f"{bootstrap.seed}), where the run has at least 10 per-image scores of the cell")


def _interval(row: dict, per_image: pd.DataFrame | None, bootstrap: Bootstrap) -> dict:
    """The bootstrap interval of ours − published from the per-image scores of the cell."""
    if row["metric"] not in per_image_metrics():
        return {"interval_note": f"{row['metric']} is one value per seed: no per-image interval"}
    rows = pd.DataFrame() if per_image is None else per_image[
        (per_image["dataset"] == row["dataset"]) & (per_image["variant"] == row["variant"])
        & (per_image["bucket"] == row["bucket"])]
    groups = [g[row["metric"]].to_numpy(float) - row["value"] for _, g in rows.groupby("seed", sort=True)] \
        if not rows.empty else []
    if not any(np.isfinite(g).any() for g in groups):
        return {"interval_note": "no per-image scores of this cell"}
    interval = hierarchical_bootstrap(groups, bootstrap.resamples, bootstrap.level, bootstrap.seed,
                                      salt=("published", row["table"], row["dataset"], row["bucket"],
                                            row["metric"], row["variant"]))
    return {"diff_lo": interval.lo, "diff_hi": interval.hi, "images": interval.n, "interval_note": interval.why}


# ----------------------------------------------------------------------------------------------
# Text of one cell


def _at(value: float, printed: str, signed: bool = False) -> str:
    return NO_RESULT if math.isnan(value) else f"{value:{'+' if signed else ''}.{decimals(printed)}f}"


def _interval_text(record) -> str:
    if math.isnan(record["diff_lo"]):
        return ""
    return f"[{_at(record['diff_lo'], record['printed'], True)}, {_at(record['diff_hi'], record['printed'], True)}]"


def _delta_text(record) -> str:
    if math.isnan(record["diff"]):
        return NO_RESULT
    return " ".join(filter(None, [_at(record["diff"], record["printed"], True), _interval_text(record)]))


def _cell(text: str) -> Cell:
    return Cell(md=text, tex=tex_escape(text), plain=text)


def bucket_words(bucket: str) -> str:
    """"10%-20%" as the paper prints a bucket; "ratio not stated", "all ratios"."""
    if bucket == "unstated":
        return "ratio not stated"
    if bucket == "all":
        return "all ratios"
    b = Bucket.parse(bucket)
    return f"{b.lo * 100:g}%-{b.hi * 100:g}%"


def column_name(dataset: str, bucket: str) -> str:
    return f"{DATASET_NAMES.get(dataset, dataset)} {bucket_words(bucket)}"


# ----------------------------------------------------------------------------------------------
# The paper's view of one table


def paper_view(cells: pd.DataFrame, published: str, bootstrap: Bootstrap | None = None) -> TableModel:
    """One published table in its own shape, our values and Δ under each row we have a variant for."""
    bootstrap = bootstrap or Bootstrap()
    table = cells["table"].iloc[0]
    columns = list(dict.fromkeys(zip(cells["dataset"], cells["bucket"])))
    blocks = []
    for metric in dict.fromkeys(cells["metric"]):
        of_metric = cells[cells["metric"] == metric]
        rows = []
        for name in dict.fromkeys(of_metric["row"]):
            mine = of_metric[of_metric["row"] == name]
            by_column = {(r["dataset"], r["bucket"]): r for _, r in mine.iterrows()}
            variant = ", ".join(dict.fromkeys(v for v in mine["variant"] if v))  # one row, or one per dataset
            rows.append(Row(name + ("" if variant else PUBLISHED_ONLY),
                            [_cell(by_column[c]["printed"] if c in by_column else NOT_PRINTED) for c in columns]))
            if variant:
                rows.append(Row(f"ours: {variant}", [
                    _cell(_at(by_column[c]["ours"], by_column[c]["printed"]) if c in by_column else NO_RESULT)
                    for c in columns]))
                rows.append(Row(f"Δ ours − published ({variant})", [
                    _cell(_delta_text(by_column[c]) if c in by_column else NO_RESULT) for c in columns]))
        blocks.append(Block(METRIC_NAMES.get(metric, metric.upper()), rows))
    source = cells["source"].iloc[0]
    notes = [f"Published: {source} ({published}); every number as printed, at its precision.",
             f"Rows marked{PUBLISHED_ONLY} are the paper's numbers for a method we have no variant of: never "
             f"ours. {NOT_PRINTED}: the paper prints no number there.",
             f"ours: the mean over seeds of our run's cell (the run's summary.csv), at the paper's precision; "
             f"{NO_RESULT}: our run has no value for it. Δ = ours − published; in brackets, where the run has "
             f"the per-image scores, {interval_words(bootstrap)}."]
    if (cells["bucket"] == "unstated").any():
        notes.append("The paper does not state this table's mask ratio: its numbers are beside no bucket of "
                     "ours and are not compared.")
    frame = cells.drop(columns=["source"])
    return TableModel(title=f"{table} of the paper, beside ours", columns=[column_name(*c) for c in columns],
                      blocks=blocks, notes=notes, csv=frame, corner=table)


# ----------------------------------------------------------------------------------------------
# The scorecard


def summary_lines(cells: pd.DataFrame) -> list[str]:
    """One line per (table, published row with a variant): how many of its cells came close."""
    lines = []
    mapped = cells[cells["variant"] != ""]
    for (table, name), rows in mapped.groupby(["table", "row"], sort=False):
        variant = ", ".join(dict.fromkeys(rows["variant"]))
        if (rows["verdict"] == UNSTATED).all():
            lines.append(f"{table}, {name} row ({variant}): {len(rows)} cells not compared (the paper does not "
                         f"state the mask ratio).")
            continue
        counts = rows["verdict"].str.split(" \\(").str[0].value_counts()
        close = int(sum(counts.get(v, 0) for v in CLOSE))
        line = (f"{table}, {name} row ({variant}): {close} of {len(rows)} cells within the published rounding or "
                f"our interval ({counts.get(ROUNDING, 0)} within the rounding, {counts.get(INTERVAL, 0)} within "
                f"our interval, {counts.get(OFF, 0)} off by more, {counts.get(NOT_RUN, 0)} without a result of ours)")
        psnr = rows[(rows["metric"] == "psnr") & rows["diff"].notna()]
        if not psnr.empty:
            within = int((psnr["diff"].abs() <= PSNR_SUMMARY_DB + 1e-9).sum())
            line += f"; {within} of {len(psnr)} PSNR cells within {PSNR_SUMMARY_DB:g} dB"
        lines.append(line + ".")
    return lines


def scorecard(tables: dict[str, pd.DataFrame], bootstrap: Bootstrap | None = None) -> TableModel:
    """Every published cell we have a variant for (tables: {published table name: `compare` frame}), one
    block per table, with the summary lines as the footnotes."""
    bootstrap = bootstrap or Bootstrap()
    blocks, frames, lines = [], [], []
    for cells in tables.values():
        mapped = cells[cells["variant"] != ""]
        if mapped.empty:
            continue
        rows = [Row(f"{r['row']} → {r['variant']}, {column_name(r['dataset'], r['bucket'])}, "
                    f"{METRIC_NAMES.get(r['metric'], r['metric'])}",
                    [_cell(r["printed"]), _cell(_at(r["ours"], r["printed"])),
                     _cell(_at(r["diff"], r["printed"], True)), _cell(_interval_text(r) or NO_RESULT),
                     _cell(r["verdict"])]) for _, r in mapped.iterrows()]
        blocks.append(Block(f"{mapped['table'].iloc[0]} ({mapped['source'].iloc[0]})", rows))
        frames.append(mapped)
        lines += summary_lines(cells)
    notes = lines + [
        f"Verdict: {ROUNDING!r} when ours rounds to the printed number (|Δ| at most half its last digit); "
        f"{INTERVAL!r} when the interval on Δ holds 0 ({interval_words(bootstrap)}); else {OFF!r}, with "
        f"the side where the metric has a better direction.",
        "Rows of the paper without a variant of ours are in the paper's view only."]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return TableModel(title="Reproduction scorecard: every published cell we have a variant for",
                      columns=["published", "ours", "Δ ours − published", "interval on Δ", "verdict"],
                      blocks=blocks, notes=notes, csv=frame.drop(columns=["source"]), corner="cell")


def compare_file(path: str | Path, summary: pd.DataFrame, per_image: pd.DataFrame | None,
                 bootstrap: Bootstrap | None = None, variants: dict | None = None,
                 rows: list[str] | None = None) -> pd.DataFrame:
    """`compare` of one published CSV (read and checked by harness.published)."""
    return compare(load_published(path), summary, per_image, bootstrap, variants, rows)


def with_budget(model: TableModel, cells: pd.DataFrame, budgets: dict | None, expected: dict | None) -> TableModel:
    """`model` with how long our rows of `cells` trained in its footnotes, per dataset (`budgets`:
    `read_budgets_by_dataset`), and the rows that trained less than the config gives them
    (`expected`: {dataset: {variant: schedule}}) in its first line; unchanged without `budgets`."""
    if budgets is None:
        return model
    short = []
    for dataset in dict.fromkeys(cells["dataset"]):
        ours = list(dict.fromkeys(v for v in cells.loc[cells["dataset"] == dataset, "variant"] if v))
        if not ours:
            continue
        model.notes += [f"{dataset}: {line}" for line in budget_lines(budgets.get(dataset, {}), ours)]
        wanted = {v: s for v, s in (expected or {}).get(dataset, {}).items() if v in ours}
        short += [f"{dataset} {row}" for row in short_rows(budgets.get(dataset, {}), wanted)]
    if short:
        model.warning = under_trained(short)
    return model


def write_view(summary: pd.DataFrame, per_image: pd.DataFrame | None, published: str | Path, out_dir: str | Path,
               bootstrap: Bootstrap | None = None, variants: dict | None = None,
               rows: list[str] | None = None, budgets: dict | None = None,
               expected: dict | None = None) -> dict[str, Path]:
    """The paper's view of one published CSV: `<its stem>.{csv,md,tex,html}` in out_dir (`budgets`,
    `expected`: `with_budget`)."""
    cells = compare_file(published, summary, per_image, bootstrap, variants, rows)
    model = with_budget(paper_view(cells, Path(published).name, bootstrap), cells, budgets, expected)
    return write_table(model, out_dir, Path(published).stem)


def write_scorecard(summary: pd.DataFrame, per_image: pd.DataFrame | None, published: list[str | Path],
                    out_dir: str | Path, bootstrap: Bootstrap | None = None,
                    variants: dict | None = None, rows: list[str] | None = None, budgets: dict | None = None,
                    expected: dict | None = None) -> dict[str, Path]:
    """The scorecard of the published CSVs: `scorecard.{csv,md,tex,html}` in out_dir (`budgets`,
    `expected`: `with_budget`)."""
    tables = {Path(p).stem: compare_file(p, summary, per_image, bootstrap, variants, rows) for p in published}
    cells = pd.concat(tables.values(), ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
    return write_table(with_budget(scorecard(tables, bootstrap), cells, budgets, expected), out_dir, SCORECARD)
