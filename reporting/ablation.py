"""The ablation table of one dataset: each variant's difference to a baseline row, with an interval.

Rows are the variants in config order; the baseline row (config `report.baseline_row`, default
"baseline"; the first variant when the run has no such row) shows its own mean ± std, every other
row Δ = variant − baseline row. One block per metric, one column per hole-ratio bucket. `build_ablation`
gives the tidy frame (how each Δ is estimated: its docstring), `table_model` what `reporting.render`
writes (`write_ablation`). Layout of the md, tex, html and csv files: docs/file-formats.md.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from inpaint_bench.harness.metric_registry import higher_is_better, per_image_metrics
from inpaint_bench.harness.names import metric_format, protocol_line
from inpaint_bench.reporting.budget import budget_lines, under_trained_line
from inpaint_bench.reporting.cells import buckets_of, cells_over_seeds, small_n
from inpaint_bench.reporting.phrases import (
    FEW_IMAGES_MARK,
    evidence_lines,
    label_lines,
    n_line,
    train_note_lines,
)
from inpaint_bench.reporting.render import (
    ABSENT,
    Block,
    Cell,
    Row,
    TableModel,
    as_html,
    as_latex,
    as_markdown,
    digits,
    header,
    shown,
    tex_escape,
    write_table,
)
from inpaint_bench.reporting.results import single_protocol
from inpaint_bench.reporting.stats import (
    Bootstrap,
    Interval,
    image_cluster,
    mark,
    pair_rows,
    paired_interval,
    seed_spread,
)

COLUMNS = ["dataset", "metric", "bucket", "variant", "baseline_row", "mean", "std", "seeds", "delta", "lo", "hi",
           "delta_std", "mark", "method", "level", "n", "note", "interval_note"]
SYMBOL = {"better": "▲", "worse": "▼", "": ""}


def ablation_name(dataset: str) -> str:
    """The file stem of a dataset's ablation table (`harness.paths.table_name` adds the extension)."""
    return f"{dataset}_ablation"


# ----------------------------------------------------------------------------------------------
# The numbers


def resolve_baseline_row(variants, wanted: str | None) -> tuple[str, str]:
    """The ablation's baseline row among `variants` (config order): `wanted` when it is one of
    them, else the first variant. Returns (baseline row, note); the note says why it is not `wanted`
    ("" when it is)."""
    variants = list(variants)
    if not variants:
        raise ValueError("no variants to compare")
    if wanted in variants:
        return wanted, ""
    return variants[0], (f"report.baseline_row {wanted!r} is not a variant of this run: "
                         f"the first row, {variants[0]}, is the baseline row")


def _per_seed(summary: pd.DataFrame, variant: str, bucket: str, metric: str) -> pd.Series:
    rows = summary[(summary["variant"] == variant) & (summary["bucket"] == bucket) & (summary["metric"] == metric)]
    rows = rows[rows["value"].notna()]
    return rows.groupby("seed")["value"].mean()


def _seed_difference(summary: pd.DataFrame, variant: str, base_row: str, bucket: str, metric: str) -> Interval | None:
    base, other = _per_seed(summary, base_row, bucket, metric), _per_seed(summary, variant, bucket, metric)
    common = base.index.intersection(other.index)
    if common.empty:
        return None
    return seed_spread((other[common] - base[common]).to_numpy())


def build_ablation(summary: pd.DataFrame, per_image: pd.DataFrame | None, dataset: str, variants=None,
                   baseline_row: str | None = "baseline", bootstrap: Bootstrap | None = None) -> pd.DataFrame:
    """The tidy ablation frame (columns COLUMNS; docs/file-formats.md), rows by metric, bucket, variant.

    - Per-image metrics (PSNR, SSIM, L1, LPIPS): the differences are paired image by image (same
      seed, bucket, image and mask; `stats.pair_rows`) and the cell is the estimate with the
      percentile interval of the hierarchical paired bootstrap (`stats.hierarchical_bootstrap`:
      resample seeds, then images within each seed). A difference whose interval excludes 0 is
      marked (▲ and bold: better, ▼: worse) by the metric's direction (lower L1 is better);
      unmarked cells are not distinguishable from the baseline row at this n and number of seeds. Too
      little evidence (fewer than `stats.MIN_PAIRED_VALUES` pairs, or equal differences) gives Δ
      alone, method "paired", with the reason in `interval_note`: no interval, no mark.
    - Set-level metrics (FID, KID): Δ mean ± sample std over seeds of the per-seed difference (the
      Inception features are not kept per image, so there is nothing to resample), never marked.
    - Without per-image rows (`per_image=None`) every metric is treated like a set-level one.

    `per_image`: the per-image rows of the run (any datasets; this one's are used). Every variant's
    rows must pair with the baseline row's (same seeds, images and masks): a row without a partner is
    an error naming the variant. attrs: dataset, baseline_row, baseline_note, bootstrap, missing
    metrics, train notes, n per bucket, seeds."""
    bootstrap = bootstrap or Bootstrap()
    table = cells_over_seeds(summary, dataset, variants)
    variants, buckets = list(table.index), buckets_of(table)
    metrics = list(dict.fromkeys(table.columns.get_level_values("metric")))
    base, base_note = resolve_baseline_row(variants, baseline_row)
    rows_of = summary[(summary["dataset"] == dataset) & summary["variant"].isin(variants)]

    images = None
    if per_image is not None:
        images = per_image[(per_image["dataset"] == dataset) & per_image["variant"].isin(variants)]
        if single_protocol(images, f"the per-image rows of {dataset}") != table.attrs["protocol"]:
            raise ValueError(f"the per-image rows of {dataset} were scored under protocol "
                             f"{images['protocol'].iloc[0]}, the summary under {table.attrs['protocol']}: "
                             f"their numbers are not comparable; pass the files of one evaluation")
        absent = [v for v in variants if not (images["variant"] == v).any()]
        if absent:
            raise ValueError(f"no per-image rows for {', '.join(absent)} on {dataset}: the ablation pairs images")

    out = []
    unused = {}  # (variant, metric, bucket) -> (pairs used, pairs) where some value was missing
    for metric in metrics:
        per_bucket: dict[str, dict[str, Interval | str]] = {b: {} for b in buckets}
        paired = images is not None and metric in per_image_metrics() and images[metric].notna().any()
        for variant in variants:
            if variant == base:
                continue
            if paired:
                pairs = pair_rows(images[images["variant"] == base], images[images["variant"] == variant], metric)
                if pairs.attrs["unmatched"]:
                    raise ValueError(f"{dataset}: {pairs.attrs['unmatched']} per-image row(s) of {variant} and "
                                     f"{base} have no partner (same seed, bucket, image and mask): the variants "
                                     "were not scored on the same test pairs")
                base_rows = images[images["variant"] == base]
                for bucket in buckets:
                    part = pairs[pairs["bucket"] == bucket]
                    per_bucket[bucket][variant] = (
                        paired_interval(part, bootstrap, (dataset, bucket, metric, variant, base), image_cluster(part))
                        if len(part) else "no paired images")
                    left_out = int((base_rows["bucket"] == bucket).sum()) - len(part)
                    if left_out and len(part):  # said in a footnote: every n shown is the n used
                        unused[(variant, metric, bucket)] = (len(part), len(part) + left_out)
            else:
                for bucket in buckets:
                    found = _seed_difference(rows_of, variant, base, bucket, metric)
                    per_bucket[bucket][variant] = found if found is not None else "no common seed"
        for bucket in buckets:
            for variant in variants:
                cell = {f: table.at[variant, (bucket, metric, f)] for f in ("mean", "std", "seeds", "note")}
                base_note_cell = table.at[base, (bucket, metric, "note")]
                row = {"dataset": dataset, "metric": metric, "bucket": bucket, "variant": variant, "baseline_row": base,
                       "mean": cell["mean"], "std": cell["std"], "seeds": int(cell["seeds"]), "delta": math.nan,
                       "lo": math.nan, "hi": math.nan, "delta_std": math.nan, "mark": "", "method": "",
                       "level": math.nan, "n": 0, "note": cell["note"], "interval_note": ""}
                if variant == base:
                    row.update(delta=0.0 if not cell["note"] else math.nan, method="baseline_row")
                elif cell["note"] or base_note_cell:
                    row["note"] = cell["note"] or f"baseline row {base_note_cell}"
                else:
                    found = per_bucket[bucket][variant]
                    if isinstance(found, str):
                        row["note"] = found
                    else:
                        row.update(delta=found.estimate, lo=found.lo, hi=found.hi, delta_std=found.std,
                                   mark=mark(metric, found), method=found.method, n=found.n,
                                   level=bootstrap.level if found.method == "bootstrap" else math.nan,
                                   interval_note=found.why)
                out.append(row)
    frame = pd.DataFrame(out, columns=COLUMNS)
    ns = {b: set() for b in buckets}
    for (bucket, metric, field) in table.columns:
        if field == "n":
            ns[bucket] |= {int(n) for n in table[(bucket, metric, field)] if n > 0}
    frame.attrs.update(dataset=dataset, baseline_row=base, baseline_note=base_note, bootstrap=bootstrap,
                       missing=table.attrs["missing"], train_notes=table.attrs["train_notes"], n=ns,
                       seeds=table.attrs["seeds"], variants=variants, buckets=buckets, metrics=metrics,
                       capped=table.attrs["capped"],
                       near_constant=table.attrs["near_constant"], unused=unused, protocol=table.attrs["protocol"],
                       few_images=table.attrs["few_images"], influential=table.attrs["influential"],
                       one_mask_each=images is not None
                       and not images.duplicated(["variant", "seed", "bucket", "image"]).any())
    return frame


def significant(frame: pd.DataFrame) -> list[str]:
    """"rfr_kca: PSNR ▲ 0.1-0.2, 0.2-0.3; L1 ▲ 0.1-0.2": every marked difference, by variant."""
    lines = []
    for variant in frame.attrs.get("variants", list(dict.fromkeys(frame["variant"]))):
        parts = []
        for metric in dict.fromkeys(frame["metric"]):
            for which in ("better", "worse"):
                hit = frame[(frame["variant"] == variant) & (frame["metric"] == metric) & (frame["mark"] == which)]
                if len(hit):
                    parts.append(f"{metric_format(metric).label} {SYMBOL[which]} {', '.join(hit['bucket'])}")
        if parts:
            lines.append(f"{variant}: {'; '.join(parts)}")
    return lines


# ----------------------------------------------------------------------------------------------
# Text


def footnotes(frame: pd.DataFrame) -> list[str]:
    base, bootstrap = frame.attrs["baseline_row"], frame.attrs["bootstrap"]
    seeds = frame.attrs.get("seeds", [])
    methods = set(frame["method"])
    own = "its own mean ± std over seeds" if len(seeds) > 1 else "its own value"
    lines = [f"Δ = variant − {base} (the baseline row, which shows {own}), in each metric's table units.",
             n_line(frame.attrs.get("n", {}), frame.attrs.get("pairing"), frame.attrs.get("one_mask_each", False))
             + f" Seeds: {', '.join(map(str, seeds)) or '-'}"
             + (" (one seed: no seed spread)." if len(seeds) == 1 else ".")]
    if "bootstrap" in methods:
        used = set(frame.loc[frame["method"] == "bootstrap", "metric"])
        per_image = [metric_format(m).label for m in frame.attrs["metrics"] if m in used]
        lines.append(f"{', '.join(per_image)}: Δ [{bootstrap.describe(len(seeds))[:-1]}].")
        higher = [metric_format(m).label for m in frame.attrs["metrics"] if higher_is_better(m) is True]
        lower = [metric_format(m).label for m in frame.attrs["metrics"] if higher_is_better(m) is False]
        direction = "; ".join(part for part in ("higher " + "/".join(higher) if higher else "",
                                                "lower " + "/".join(lower) if lower else "") if part)
        lines.append(f"▲ (bold) = better than the baseline row, ▼ = worse: the interval excludes 0 ({direction} is "
                     "better). Unmarked: the interval includes 0, not distinguishable at this n and number of seeds.")
    lines.extend(no_interval_lines(frame))
    used = set(frame.loc[frame["method"].isin(["seeds", "none"]), "metric"])
    set_level = [metric_format(m).label for m in frame.attrs["metrics"] if m in used]
    if set_level:
        lines.append(f"{', '.join(set_level)}: Δ mean ± sample std over seeds of the per-seed difference "
                     "(no interval, never marked" + ("; one seed: no ±" if len(seeds) <= 1 else "") + ").")
    absent = frame[(frame["note"] != "") & (frame["method"] != "baseline_row")]
    for (variant, metric, note), part in absent.groupby(["variant", "metric", "note"], sort=False):
        lines.append(f"{ABSENT} {variant}, {metric_format(metric).label} ({', '.join(part['bucket'])}): {note}")
    for (variant, metric, bucket), (used, total) in frame.attrs.get("unused", {}).items():
        lines.append(f"{variant}, {metric_format(metric).label} ({bucket}): Δ from {used} of {total} image pairs; "
                     f"the other {total - used} have no value.")
    if frame.attrs.get("baseline_note"):
        lines.append(frame.attrs["baseline_note"] + ".")
    lines.extend(evidence_lines(frame.attrs))
    if "l1" in set(frame["metric"]):
        lines.append("L1 in %.")
    if "budgets" in frame.attrs:
        lines.extend(budget_lines(frame.attrs["budgets"], frame.attrs["variants"]))
    lines.extend(train_note_lines(frame.attrs.get("train_notes", {})))
    lines.extend(label_lines(frame.attrs.get("labels", {})))
    lines.extend(f"{line}." for line in frame.attrs.get("coinciding", []))
    lines.append(protocol_line(frame.attrs["protocol"]))
    return lines


def no_interval_lines(frame: pd.DataFrame) -> list[str]:
    """Footnotes of the paired differences shown without an interval or mark, grouped by the reason."""
    paired = frame[frame["method"] == "paired"]
    if paired.empty:
        return []
    lines = []
    if "bootstrap" not in set(frame["method"]):
        labels = [metric_format(m).label for m in frame.attrs["metrics"] if m in set(paired["metric"])]
        lines.append(f"{', '.join(labels)}: Δ = the mean over seeds of the mean paired difference (same image and "
                     "mask).")
    paired_cells = frame["method"].isin(["bootstrap", "paired"]).sum()
    for why, part in paired.groupby("interval_note", sort=False):
        if len(part) == paired_cells:
            labels = [metric_format(m).label for m in frame.attrs["metrics"] if m in set(part["metric"])]
            cells = f"every Δ of {', '.join(labels)}"
        else:
            cells = "; ".join(f"{variant}, {metric_format(metric).label} ({', '.join(cell['bucket'])})"
                              for (variant, metric), cell in part.groupby(["variant", "metric"], sort=False))
        lines.append(f"No interval and no mark, too little evidence ({why}): {cells}.")
    return lines


def cell_text(row, style: str, few: bool = False) -> str:
    """One cell: "plain" (html), "md" or "tex" (the tex cell's interval goes on a second row:
    `interval_text`); `few`: a set-level metric from too few images, marked (FEW_IMAGES_MARK)."""
    if few and not row["note"]:
        return cell_text(row, style) + (tex_escape(FEW_IMAGES_MARK) if style == "tex" else FEW_IMAGES_MARK)
    metric = row["metric"]
    if row["note"]:
        return "--" if style == "tex" else ABSENT
    pm = r" $\pm$ " if style == "tex" else " ± "
    if row["method"] == "baseline_row":
        text = shown(metric, row["mean"])
        if row["seeds"] <= 1:
            return text
        if style == "tex":
            return text + rf"{{\scriptsize\,$\pm$\,{shown(metric, row['std'])}}}"
        return text + pm + shown(metric, row["std"])
    delta = shown(metric, row["delta"], signed=True)
    if style == "tex":
        delta = f"${delta}$"
    if row["method"] == "seeds":
        return delta + pm + shown(metric, row["delta_std"])
    if row["method"] != "bootstrap":
        return delta
    symbol = SYMBOL[row["mark"]]
    if style == "tex":
        if row["mark"] == "better":
            delta = rf"$\mathbf{{{delta[1:-1]}}}$"
        return delta + tex_escape(symbol)
    interval = f"[{shown(metric, row['lo'], True)}, {shown(metric, row['hi'], True)}]"
    if style == "md" and row["mark"] == "better":
        delta = f"**{delta}**"
    return f"{delta} {interval}" + (f" {symbol}" if symbol else "")


def interval_text(row) -> str:
    """The tex table's second row: the interval (bootstrap) or ± std (seeds), in small type."""
    metric = row["metric"]
    if row["note"] or row["method"] not in ("bootstrap",):
        return ""
    return rf"{{\scriptsize $[{shown(metric, row['lo'], True)}, {shown(metric, row['hi'], True)}]$}}"


def _label(variant: str, baseline_row: str, short: bool = False) -> str:
    return f"{variant} ({'base' if short else 'baseline row'})" if variant == baseline_row else variant


def _title(frame: pd.DataFrame) -> str:
    return f"{frame.attrs['dataset']}: Δ to {frame.attrs['baseline_row']} per hole-ratio bucket"


def _grid(frame: pd.DataFrame, metric: str):
    part = frame[frame["metric"] == metric]
    return {(r["variant"], r["bucket"]): r for _, r in part.iterrows()}


def to_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("mean", "std", "delta", "lo", "hi", "delta_std"):
        out[column] = [digits(x) if np.isfinite(x) else math.nan for x in out[column]]
    return out


def table_model(frame: pd.DataFrame) -> TableModel:
    """The ablation table as `reporting.render` writes it: a block per metric, a row per variant
    (the baseline row labelled), the significant differences closing the md and html."""
    base, buckets, variants = frame.attrs["baseline_row"], frame.attrs["buckets"], frame.attrs["variants"]
    blocks = []
    for metric in frame.attrs["metrics"]:
        grid = _grid(frame, metric)
        rows = []
        for v in variants:
            few = {b: small_n(frame.attrs, b, metric) for b in buckets}
            cells = [Cell(md=cell_text(grid[(v, b)], "md", few[b]), tex=cell_text(grid[(v, b)], "tex", few[b]),
                          plain=cell_text(grid[(v, b)], "plain", few[b]), tex_below=interval_text(grid[(v, b)]),
                          css="baseline_row" if v == base else grid[(v, b)]["mark"])
                     for b in buckets]
            rows.append(Row(_label(v, base), cells, tex_label=_label(v, base, short=True)))
        blocks.append(Block(f"{header(metric)} Δ", rows))
    return TableModel(_title(frame), buckets, blocks, footnotes(frame), to_csv_frame(frame),
                      closing=("Significant differences (interval excludes 0)", significant(frame)),
                      tex_split=True,
                      warning=under_trained_line(frame.attrs.get("budgets", {}), frame.attrs.get("expected", {})))


def to_markdown(frame: pd.DataFrame) -> str:
    return as_markdown(table_model(frame))


def to_latex(frame: pd.DataFrame) -> str:
    return as_latex(table_model(frame))


def to_html(frame: pd.DataFrame) -> str:
    return as_html(table_model(frame))


def write_ablation(frame: pd.DataFrame, out_dir: str | Path, dataset: str) -> dict[str, Path]:
    return write_table(table_model(frame), out_dir, ablation_name(dataset))
