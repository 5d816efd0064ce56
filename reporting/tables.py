"""Paper-style ablation tables (csv, md, tex) from the combined long-format summary.

    python -m reporting.tables --summary results/summary.csv --dataset NAME --out-dir results/tables \
        [--variants v1 v2 ...]

Writes `<dataset>.csv`, `<dataset>.md` and `<dataset>.tex` (atomically). Layout, as in the RFR-Net
and DGI ablation tables:

- one row per variant, in `--variants` order (default: order of first appearance in the summary);
- columns bucket x metric: buckets by hole ratio (`harness.buckets`), metrics in the order PSNR, SSIM,
  L1, LPIPS, FID, KID (any other metric after them); the header carries the better direction (PSNR↑, L1↓);
- a cell is the mean over seeds, followed by "± std" (sample standard deviation, ddof=1) when
  more than one seed has a value;
- labels, scale and precision from `metrics.names.METRIC_FORMATS`: PSNR 2 decimals, SSIM 4, L1 in
  percent with 2 decimals (header "L1 (%)"), LPIPS 4, FID 2, KID 4 (raw, not x1000);
- the best value of each column is bold (`**x**` in md, `\\textbf{x}` in tex). Values are compared
  at the precision shown, so ties that look equal are all bold; a column is marked only when at
  least two variants have a value and they are not all equal, and a missing cell is never marked;
- a metric without a value shows its note, e.g. "missing: pt_inception-2015-12-05-6726825d.pth"
  (never a blank or a number);
- footnotes under the md/tex tables: n (test images per bucket) and the small-n bias of FID/KID,
  the number of seeds, what a "missing" cell means, and every distinct training note with the
  variants it applies to ("pconv, rfr: perceptual and style losses dropped (VGG16 weights
  missing)"; the machine tag in front of a note, e.g. "no_vgg:", is left out).

The csv is for machines, in the same row/column layout but raw numbers: `variant`, then per bucket
and metric `<bucket> <metric>` (the mean in the metric's own units, 10 significant digits, or the note
text when missing), `<bucket> <metric> std` (only when some cell has more than one seed; empty for
single-seed cells) and `<bucket> <metric> best` (true/false); then `<bucket> n` per bucket,
`seeds` (most seeds behind any cell of the row) and `train_note`.

API: `build_table(summary, dataset, variants)` returns the numeric table (index variant, columns
bucket x metric x field with fields mean, std, seeds, n, note, best); `write_tables(...)` renders it.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

from harness.buckets import sort_bucket_names
from harness.fileio import atomic_write_text, write_csv
from harness.paths import table_name
from metrics.names import HIGHER_IS_BETTER, metric_format
from reporting import arrow, metric_order, read_summary, select_variants

FIELDS = ["mean", "std", "seeds", "n", "note", "best"]
NO_RESULT = "missing: no result"


def shown(metric: str, value: float) -> str:
    """A value at its table precision and scale."""
    fmt = metric_format(metric)
    return f"{value * fmt.scale:.{fmt.decimals}f}"


# ----------------------------------------------------------------------------------------------
# The numeric table


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


def _mark_best(table: pd.DataFrame, buckets, metrics) -> None:
    for bucket in buckets:
        for metric in metrics:
            if metric not in HIGHER_IS_BETTER:
                continue  # unknown direction: nothing to mark
            means = table[(bucket, metric, "mean")].astype(float).dropna()
            if len(means) < 2:
                continue  # a lone value is not "best" of anything
            # Compare what the reader sees, so values that print the same are marked alike.
            fmt = metric_format(metric)
            rounded = (means * fmt.scale).round(fmt.decimals)
            if rounded.nunique() == 1:
                continue  # all equal: nothing stands out
            target = rounded.max() if HIGHER_IS_BETTER[metric] else rounded.min()
            table.loc[rounded.index[rounded == target], (bucket, metric, "best")] = True


def build_table(summary: pd.DataFrame, dataset: str, variants: list[str] | None = None) -> pd.DataFrame:
    """Numeric ablation table of one dataset: index variant, columns (bucket, metric, field)."""
    variants = select_variants(summary, dataset, variants)
    rows = summary[(summary["dataset"] == dataset) & summary["variant"].isin(variants)]
    buckets = sort_bucket_names(rows["bucket"])
    metrics = metric_order(rows["metric"])

    groups = {key: group for key, group in rows.groupby(["variant", "bucket", "metric"], sort=False)}
    data = {}
    for bucket in buckets:
        for metric in metrics:
            cells = []
            for variant in variants:
                group = groups.get((variant, bucket, metric))
                cells.append(_cell(group) if group is not None else _missing(NO_RESULT))
            for field in FIELDS:
                data[(bucket, metric, field)] = [c[field] for c in cells]
    columns = pd.MultiIndex.from_tuples(list(data), names=["bucket", "metric", "field"])
    table = pd.DataFrame(data, index=pd.Index(variants, name="variant"), columns=columns)
    _mark_best(table, buckets, metrics)

    # Training notes per variant, kept on the frame for the footnotes.
    notes = rows.groupby("variant", sort=False)["train_note"].agg(lambda s: "; ".join(dict.fromkeys(x for x in s if x)))
    table.attrs["train_notes"] = {v: notes.get(v, "") for v in variants}
    table.attrs["dataset"] = dataset
    return table


def buckets_of(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.columns.get_level_values("bucket")))


def metrics_of(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.columns.get_level_values("metric")))


# ----------------------------------------------------------------------------------------------
# Footnotes


def _strip_tag(note: str) -> str:
    # Training notes start with a machine tag ("no_vgg: ..."); the reader needs only the text.
    return re.sub(r"^[a-z0-9_]+:\s*", "", note.strip())


def train_note_lines(table: pd.DataFrame) -> list[str]:
    """"v1, v2: note" for every distinct training note, variants in table order."""
    by_note: dict[str, list[str]] = {}
    for variant, joined in table.attrs.get("train_notes", {}).items():
        for note in (n.strip() for n in joined.split(";")):
            if note:
                by_note.setdefault(_strip_tag(note), []).append(variant)
    return [f"{', '.join(dict.fromkeys(vs))}: {note}" for note, vs in by_note.items()]


def footnotes(table: pd.DataFrame) -> list[str]:
    """Plain-text footnotes (rendered by the md and tex writers)."""
    buckets, metrics = buckets_of(table), metrics_of(table)
    lines = []

    # n per bucket over the cells that have a value (missing cells have n = 0).
    per_bucket = {}
    for bucket in buckets:
        ns = table.xs((bucket, "n"), level=("bucket", "field"), axis=1).to_numpy().ravel()
        per_bucket[bucket] = sorted(set(int(n) for n in ns if n > 0))
    all_n = sorted(set(n for ns in per_bucket.values() for n in ns))
    if len(all_n) == 1:
        text = f"n = {all_n[0]} test images per bucket (one fixed mask each)."
    else:
        spans = [f"{b}: " + ("-" if not ns else str(ns[0]) if len(ns) == 1 else f"{ns[0]}-{ns[-1]}")
                 for b, ns in per_bucket.items()]
        text = f"n (test images) per bucket: {'; '.join(spans)}."
    if {"fid", "kid"} & set(metrics):
        text += " FID and KID are biased at small n: compare them only at equal n, not with published numbers."
    lines.append(text)

    seeds = table.xs("seeds", level="field", axis=1).max(axis=1).astype(int).to_dict()
    counts = set(seeds.values())
    if counts == {1} or counts == {0, 1}:
        lines.append("One seed per variant.")
    elif len(counts) == 1:
        lines.append(f"Mean ± sample std over {counts.pop()} seeds.")
    else:
        lines.append("Mean ± sample std over seeds (" + ", ".join(f"{v}: {s}" for v, s in seeds.items()) + ").")

    marked = "Best per column in bold (compared at the precision shown)."
    if "l1" in metrics:
        marked += " L1 in %."
    lines.append(marked)
    notes = set(table.xs("note", level="field", axis=1).to_numpy().ravel()) - {""}
    if notes - {NO_RESULT}:
        lines.append("missing: <file> = metric not computed because that pretrained weight file was not found.")
    if NO_RESULT in notes:
        lines.append(f"{NO_RESULT} = the run's summary has no row for this metric and bucket.")
    lines.extend(train_note_lines(table))
    return lines


# ----------------------------------------------------------------------------------------------
# Renderers

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "<": r"\textless{}",
                ">": r"\textgreater{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def _header(metric: str) -> str:
    return metric_format(metric).table_label + arrow(metric)


def cell_text(table: pd.DataFrame, variant: str, bucket: str, metric: str, style: str) -> str:
    """One cell as shown in style "md" or "tex": note if missing, else mean [± std], bold when best."""
    cell = {field: table.at[variant, (bucket, metric, field)] for field in FIELDS}
    if cell["note"]:
        return tex_escape(cell["note"]) if style == "tex" else cell["note"]
    text = shown(metric, cell["mean"])
    if cell["seeds"] > 1:
        text += (r" $\pm$ " if style == "tex" else " ± ") + shown(metric, cell["std"])
    if cell["best"]:
        text = rf"\textbf{{{text}}}" if style == "tex" else f"**{text}**"
    return text


def to_markdown(table: pd.DataFrame) -> str:
    buckets, metrics = buckets_of(table), metrics_of(table)
    header = ["Variant"] + [f"{b} {_header(m)}" for b in buckets for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    for variant in table.index:
        cells = [variant] + [cell_text(table, variant, b, m, "md") for b in buckets for m in metrics]
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    dataset = table.attrs.get("dataset", "")
    title = f"**{dataset}**: mean over seeds per hole-ratio bucket.\n\n" if dataset else ""
    notes = "\n".join(f"- {line}" for line in footnotes(table))
    return f"{title}" + "\n".join(lines) + "\n\n" + notes + "\n"


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs `tabular` fragment (needs \\usepackage{booktabs}); footnotes as rows under it."""
    buckets, metrics = buckets_of(table), metrics_of(table)
    k, ncols = len(metrics), 1 + len(buckets) * len(metrics)
    out = [r"\begin{tabular}{l" + ("r" * k) * len(buckets) + "}", r"\toprule"]
    out.append(" & ".join([""] + [rf"\multicolumn{{{k}}}{{c}}{{{tex_escape(b)}}}" for b in buckets]) + r" \\")
    out.append(" ".join(rf"\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}" for i in range(len(buckets))))
    out.append(" & ".join(["Variant"] + [tex_escape(_header(m)) for _ in buckets for m in metrics]) + r" \\")
    out.append(r"\midrule")
    for variant in table.index:
        cells = [tex_escape(variant)] + [cell_text(table, variant, b, m, "tex") for b in buckets for m in metrics]
        out.append(" & ".join(cells) + r" \\")
    out.append(r"\bottomrule")
    for line in footnotes(table):
        out.append(rf"\multicolumn{{{ncols}}}{{l}}{{\footnotesize {tex_escape(line)}}} \\")
    out.append(r"\end{tabular}")
    return "\n".join(out) + "\n"


def _digits(x: float) -> float:
    # 10 significant digits: full precision for any metric, without float noise like 0.10500000000000001.
    return float(f"{x:.10g}")


def to_csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The machine-readable layout described in the module docstring."""
    buckets, metrics = buckets_of(table), metrics_of(table)
    with_std = bool((table.xs("seeds", level="field", axis=1) > 1).to_numpy().any())
    out = pd.DataFrame(index=table.index)
    for bucket in buckets:
        for metric in metrics:
            cell = {field: table[(bucket, metric, field)] for field in FIELDS}
            # Missing cells carry their note in place of a number: never blank, never fake.
            out[f"{bucket} {metric}"] = [note if note else _digits(mean)
                                         for mean, note in zip(cell["mean"], cell["note"])]
            if with_std:
                out[f"{bucket} {metric} std"] = [_digits(x) for x in cell["std"]]
            out[f"{bucket} {metric} best"] = cell["best"].astype(bool).map({True: "true", False: "false"})
    for bucket in buckets:
        out[f"{bucket} n"] = table.xs((bucket, "n"), level=("bucket", "field"), axis=1).max(axis=1).astype(int)
    out["seeds"] = table.xs("seeds", level="field", axis=1).max(axis=1).astype(int)
    out["train_note"] = [table.attrs.get("train_notes", {}).get(v, "") for v in table.index]
    return out.reset_index()


def write_tables(summary: pd.DataFrame, dataset: str, out_dir: str | Path,
                 variants: list[str] | None = None) -> dict[str, Path]:
    """Writes <dataset>.csv/.md/.tex into out_dir; returns their paths by extension."""
    table = build_table(summary, dataset, variants)
    out_dir = Path(out_dir)
    return {
        "csv": write_csv(out_dir / table_name(dataset, "csv"), to_csv_frame(table)),
        "md": atomic_write_text(out_dir / table_name(dataset, "md"), to_markdown(table)),
        "tex": atomic_write_text(out_dir / table_name(dataset, "tex"), to_latex(table)),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", required=True, help="combined long-format summary (reporting.aggregate)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", nargs="+", help="row order (default: order of first appearance)")
    args = p.parse_args(argv)
    try:
        paths = write_tables(read_summary(args.summary), args.dataset, args.out_dir, args.variants)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    main()
