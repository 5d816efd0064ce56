"""The absolute table of one dataset: every variant's metrics per hole-ratio bucket, mean ± std over seeds.

    python -m inpaint_bench.reporting.tables --summary results/summary.csv --dataset NAME --out-dir results/tables \
        [--variants v1 v2 ...] [--per-image PER_IMAGE.csv ...] [--reference baseline] \
        [--resamples 2000] [--level 0.95] [--bootstrap-seed 0] [--reference-table reference/TABLE.csv]

Writes `<dataset>.{csv,md,tex,html}` (this module) and, with `--per-image` (the evaluations'
per-image CSVs of that dataset), the ablation table `<dataset>_ablation.{csv,md,tex,html}`
(`reporting.ablation`: differences to the reference row with paired bootstrap intervals). All files
are written atomically.

Layout of the absolute table (made to fit a page):

- one block per metric (PSNR, SSIM, L1, LPIPS, FID, KID, then any other), the header carrying the
  better direction (PSNR↑, L1 (%)↓); within a block one row per variant (`--variants` order, by
  default the order of first appearance, i.e. the config's) and one column per hole-ratio bucket;
- a cell is the mean over seeds, followed by "± std" (sample std, ddof=1) when more than one seed has
  a value; labels, scale and precision come from `metrics.names.METRIC_FORMATS` (PSNR 2 decimals,
  SSIM 4, L1 in percent with 2, LPIPS 4, FID 2, KID 4 raw);
- the best value of each column is bold, compared at the precision shown (ties all bold); a column
  is marked only when at least two variants have a value and they are not all equal;
- a metric without any value (its pretrained weights were not found) takes no block: one footnote
  names it and the file to provide. A single variant without a value in a column that others have
  shows "–" and a footnote says why;
- with `--reference-table` (a published table, reference/README.md), a cell that has a published
  counterpart (same dataset, variant, bucket and metric) ends in "(pub. 26.50; Δ -0.50)": the published
  value and ours − published at the cell's scale and precision; other cells are unchanged;
- footnotes: n (test images per bucket), the seeds and what ± means, the best marking, the metrics
  not computed, every training note with the variants it applies to, the reference table (paper,
  table, mask protocol, file) and that the difference needs the same protocol.

The csv is for machines, one row per variant: `variant`, then per metric and bucket
`<bucket> <metric>` (the mean in the metric's own units, 10 significant digits, empty when missing),
`<bucket> <metric> std` (only when some cell has more than one seed) and `<bucket> <metric> best`
(true/false), and where some row has a published counterpart `<bucket> <metric> published` and
`<bucket> <metric> diff` (ours − published, raw units; empty for the other rows); then
`<bucket> n` per bucket, `seeds`, `train_note` and `missing` (why a metric has no value for this
row, "metric: note; ...").

API: `build_table(summary, dataset, variants)` returns the numeric table (index variant, columns
bucket x metric x field with fields mean, std, seeds, n, note, best; attrs: the metrics not computed,
training notes); `add_published(table, rows, source)` attaches a reference table's values;
`write_tables(...)` renders it, and the ablation table when given per-image rows.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

from inpaint_bench.harness.buckets import sort_bucket_names
from inpaint_bench.harness.fileio import atomic_write_text, write_csv
from inpaint_bench.harness.paths import table_name
from inpaint_bench.harness.names import HIGHER_IS_BETTER, metric_format
from inpaint_bench.reporting import arrow, metric_order, missing_metrics, read_per_images, read_summary, seed_phrase
from inpaint_bench.reporting import select_variants

FIELDS = ["mean", "std", "seeds", "n", "note", "best"]
NO_RESULT = "missing: no result"
ABSENT = "–"  # a cell without a value in a column that other variants have
WEIGHTS_HINT = "`python -m inpaint_bench.metrics.weights check` says where to put it"


def shown(metric: str, value: float, signed: bool = False) -> str:
    """A value at its table precision and scale (with its sign when `signed`: differences)."""
    fmt = metric_format(metric)
    return f"{value * fmt.scale:{'+' if signed else ''}.{fmt.decimals}f}"


def header(metric: str) -> str:
    """"PSNR↑", "L1 (%)↓": the label of a metric's block."""
    return metric_format(metric).table_label + arrow(metric)


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


def train_notes_of(rows: pd.DataFrame, variants) -> dict[str, str]:
    notes = rows.groupby("variant", sort=False)["train_note"].agg(lambda s: "; ".join(dict.fromkeys(x for x in s if x)))
    return {v: notes.get(v, "") for v in variants}


def build_table(summary: pd.DataFrame, dataset: str, variants: list[str] | None = None) -> pd.DataFrame:
    """Numeric absolute table of one dataset: index variant, columns (bucket, metric, field). Metrics
    without any value take no column; they are in `attrs["missing"]` ({metric: note})."""
    variants = select_variants(summary, dataset, variants)
    rows = summary[(summary["dataset"] == dataset) & summary["variant"].isin(variants)]
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
    _mark_best(table, buckets, metrics)
    table.attrs["train_notes"] = train_notes_of(rows, variants)
    table.attrs["dataset"] = dataset
    table.attrs["missing"] = missing
    table.attrs["buckets"] = buckets
    table.attrs["seeds"] = sorted(set(rows["seed"]))
    return table


def add_published(table: pd.DataFrame, rows: list[dict], source: str | Path) -> None:
    """Puts beside our cells the published values of a reference table (rows of
    `harness.reference.load_reference`) that match a cell on dataset, variant, bucket and metric:
    attrs["published"] = {(variant, bucket, metric): value}, and a footnote naming the table."""
    dataset = table.attrs.get("dataset")
    mine = [r for r in rows if r["dataset"] == dataset]
    table.attrs["published"] = {
        (r["variant"], r["bucket"], r["metric"]): r["value"] for r in mine
        if r["variant"] in table.index and (r["bucket"], r["metric"], "mean") in table.columns}
    named = {c: ", ".join(dict.fromkeys(r[c] for r in mine or rows)) for c in ("paper", "table", "mask_protocol")}
    table.attrs["published_note"] = (
        f"(pub. x; Δ y): the published value of {named['paper']} {named['table']} (mask protocol "
        f"{named['mask_protocol']}; `{source}`) and ours − published, in the table's units; "
        f"{len(table.attrs['published'])} of its {len(mine)} values for {dataset} have a cell here. "
        "The difference means something only when the protocols match: dataset and split, test masks "
        "and buckets, image size, metric implementation.")


def buckets_of(table: pd.DataFrame) -> list[str]:
    return table.attrs.get("buckets") or list(dict.fromkeys(table.columns.get_level_values("bucket")))


def metrics_of(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.columns.get_level_values("metric")))


# ----------------------------------------------------------------------------------------------
# Footnotes (shared with the ablation table)


def _strip_tag(note: str) -> str:
    # Training notes start with a machine tag ("no_vgg: ..."); the reader needs only the text.
    return re.sub(r"^[a-z0-9_]+:\s*", "", note.strip())


def train_note_lines(train_notes: dict[str, str]) -> list[str]:
    """"v1, v2: note" for every distinct training note, variants in table order."""
    by_note: dict[str, list[str]] = {}
    for variant, joined in train_notes.items():
        for note in (n.strip() for n in joined.split(";")):
            if note:
                by_note.setdefault(_strip_tag(note), []).append(variant)
    return [f"{', '.join(dict.fromkeys(vs))}: {note}" for note, vs in by_note.items()]


def missing_line(missing: dict[str, str]) -> str | None:
    """One footnote for the metrics not computed: which, and which file to provide."""
    if not missing:
        return None
    by_note: dict[str, list[str]] = {}
    for metric, note in missing.items():
        by_note.setdefault(note, []).append(metric_format(metric).label)
    parts = [f"{', '.join(labels)} ({note})" for note, labels in by_note.items()]
    files = [n for n in by_note if n.startswith("missing: ") and n != NO_RESULT]
    text = "Not computed, so not shown: " + "; ".join(parts) + "."
    if files:
        text += f" Provide the weight file named to get them ({WEIGHTS_HINT})."
    return text


def n_line(ns_by_bucket: dict[str, set]) -> str:
    all_n = sorted(set(n for ns in ns_by_bucket.values() for n in ns))
    if len(all_n) == 1:
        return f"n = {all_n[0]} test images per bucket and seed (one fixed mask each)."
    spans = [f"{b}: " + ("-" if not ns else str(min(ns)) if len(ns) == 1 else f"{min(ns)}-{max(ns)}")
             for b, ns in ns_by_bucket.items()]
    return f"n (test images per seed) per bucket: {'; '.join(spans)}."


def seeds_line(seeds_per_variant: dict[str, int], seed_ids) -> str:
    counts = set(seeds_per_variant.values()) - {0}
    ids = ", ".join(map(str, seed_ids))
    if counts <= {1}:
        return f"One seed ({ids}): no seed spread; values are that seed's."
    if len(counts) == 1:
        return f"Cells: {seed_phrase(counts.pop())} ({ids})."
    return ("Cells: mean ± sample std over seeds (" + ", ".join(f"{v}: {s}" for v, s in seeds_per_variant.items())
            + "); one seed: no ±.")


def absent_lines(table: pd.DataFrame) -> list[str]:
    """Footnotes for single cells without a value in a column that others have."""
    lines = {}
    for (bucket, metric, field) in table.columns:
        if field != "note":
            continue
        for variant, note in table[(bucket, metric, field)].items():
            if note:
                lines.setdefault((variant, metric, note), []).append(bucket)
    return [f"{ABSENT} {variant}, {metric_format(metric).label} ({', '.join(buckets)}): {note}"
            for (variant, metric, note), buckets in lines.items()]


def footnotes(table: pd.DataFrame) -> list[str]:
    """Plain-text footnotes (rendered by the md, tex and html writers)."""
    buckets, metrics = buckets_of(table), metrics_of(table)
    per_bucket = {}
    for bucket in buckets:
        if not metrics:
            per_bucket[bucket] = set()
            continue
        ns = table.xs((bucket, "n"), level=("bucket", "field"), axis=1).to_numpy().ravel()
        per_bucket[bucket] = set(int(n) for n in ns if n > 0)
    text = n_line(per_bucket)
    if {"fid", "kid"} & set(metrics):
        text += " FID and KID are biased at small n: compare them only at equal n, not with published numbers."
    lines = [text]
    if metrics:
        seeds = table.xs("seeds", level="field", axis=1).max(axis=1).astype(int).to_dict()
        lines.append(seeds_line(seeds, table.attrs.get("seeds", [])))
        marked = "Best per column in bold (compared at the precision shown)."
        if "l1" in metrics:
            marked += " L1 in %."
        lines.append(marked)
    lines.extend(absent_lines(table))
    line = missing_line(table.attrs.get("missing", {}))
    if line:
        lines.append(line)
    lines.extend(train_note_lines(table.attrs.get("train_notes", {})))
    if table.attrs.get("published_note"):
        lines.append(table.attrs["published_note"])
    return lines


# ----------------------------------------------------------------------------------------------
# Renderers

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "<": r"\textless{}",
                ">": r"\textgreater{}", "–": "--", "Δ": r"$\Delta$", "▲": r"$^{\triangle}$",
                "▼": r"$^{\nabla}$", "−": "-", "`": ""}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def md_escape(text: str) -> str:
    return str(text).replace("|", r"\|")


def published_text(table: pd.DataFrame, variant: str, bucket: str, metric: str) -> str:
    """"(pub. 26.50; Δ -0.50)": the published value of the cell and ours minus it, at the table's
    scale and precision; "" when the cell has no published counterpart."""
    published = table.attrs.get("published", {}).get((variant, bucket, metric))
    if published is None:
        return ""
    mean = table.at[variant, (bucket, metric, "mean")]
    diff = "" if math.isnan(mean) else f"; Δ {shown(metric, mean - published, signed=True)}"
    return f"(pub. {shown(metric, published)}{diff})"


def cell_text(table: pd.DataFrame, variant: str, bucket: str, metric: str, style: str) -> str:
    """One cell as shown in style "md", "tex" or "plain": "–" if missing, else mean [± std], bold
    when best (md, tex); then the published value and our difference to it, if the cell has one."""
    cell = {field: table.at[variant, (bucket, metric, field)] for field in FIELDS}
    if cell["note"]:
        text = "--" if style == "tex" else ABSENT
    else:
        text = shown(metric, cell["mean"])
        if cell["seeds"] > 1:
            text += (rf"{{\scriptsize\,$\pm$\,{shown(metric, cell['std'])}}}" if style == "tex"
                     else " ± " + shown(metric, cell["std"]))
        if cell["best"]:
            text = {"tex": rf"\textbf{{{text}}}", "md": f"**{text}**"}.get(style, text)
    published = published_text(table, variant, bucket, metric)
    if published:
        text += rf"{{\scriptsize\,{tex_escape(published)}}}" if style == "tex" else " " + published
    return text


def _title(table: pd.DataFrame) -> str:
    dataset = table.attrs.get("dataset", "")
    return f"{dataset}: metrics per hole-ratio bucket" if dataset else "metrics per hole-ratio bucket"


def md_block(heading: str, columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = [f"**{heading}**", "", "| " + " | ".join(md_escape(c) for c in columns) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(columns) - 1)) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return lines + [""]


def to_markdown(table: pd.DataFrame) -> str:
    buckets, metrics = buckets_of(table), metrics_of(table)
    out = [f"### {_title(table)}", ""]
    for metric in metrics:
        rows = [[variant] + [cell_text(table, variant, b, metric, "md") for b in buckets] for variant in table.index]
        out += md_block(header(metric), ["Variant", *buckets], rows)
    if not metrics:
        out += ["(no metric has a value)", ""]
    out += [f"- {line}" for line in footnotes(table)]
    return "\n".join(out) + "\n"


TEX_SIZE = r"\footnotesize\setlength{\tabcolsep}{3pt}"  # five buckets fit a 6.5 in text width


def _tex_table(buckets: list[str], blocks: list[tuple[str, list[list[str]]]]) -> list[str]:
    ncols = 1 + len(buckets)
    out = [rf"{{{TEX_SIZE}", r"\begin{tabular}{l" + "r" * len(buckets) + "}", r"\toprule"]
    out.append(" & ".join(["Variant"] + [tex_escape(b) for b in buckets]) + r" \\")
    for heading, rows in blocks:
        out.append(r"\midrule")
        out.append(rf"\multicolumn{{{ncols}}}{{l}}{{\textit{{{tex_escape(heading)}}}}} \\")
        out.append(r"\addlinespace[2pt]")
        out.extend(" & ".join(row) + r" \\" for row in rows)
    out += [r"\bottomrule", r"\end{tabular}}"]
    return out


def tex_tabular(buckets: list[str], blocks: list[tuple[str, list[list[str]]]], notes: list[str],
                split: bool = False) -> str:
    """Booktabs tabulars (need \\usepackage{booktabs}) in footnote size: a header row of buckets, then
    one block per metric (an italic heading row, then its rows, already escaped); the footnotes in a
    paragraph under them. Columns: the variant, one right-aligned column per bucket. `split`: one
    tabular per block, stacked, so a long table can break across pages between metrics when the file
    is \\input outside a float."""
    out = [r"% generated by reporting.tables / reporting.ablation; needs \usepackage{booktabs}"]
    if split:
        for i, block in enumerate(blocks):
            if i:
                out.append(r"\par\medskip")
            out += _tex_table(buckets, [block])
    else:
        out += _tex_table(buckets, blocks)
    if notes:
        out.append("")
        out.append(r"\par\smallskip{\footnotesize")
        out.append((r" \\" + "\n").join(tex_escape(line) for line in notes))
        out.append(r"\par}")
    return "\n".join(out) + "\n"


def to_latex(table: pd.DataFrame) -> str:
    buckets, metrics = buckets_of(table), metrics_of(table)
    blocks = []
    for metric in metrics:
        rows = [[tex_escape(variant)] + [cell_text(table, variant, b, metric, "tex") for b in buckets]
                for variant in table.index]
        blocks.append((header(metric), rows))
    return tex_tabular(buckets, blocks, footnotes(table))


def to_html(table: pd.DataFrame) -> str:
    """A standalone HTML page (pandas Styler tables, one per metric) for the workflow's report."""
    from inpaint_bench.reporting.html import page, styled_block

    buckets, metrics = buckets_of(table), metrics_of(table)
    blocks = []
    for metric in metrics:
        text = pd.DataFrame([[cell_text(table, v, b, metric, "plain") for b in buckets] for v in table.index],
                            index=pd.Index(table.index, name="variant"), columns=buckets)
        classes = pd.DataFrame([["best" if table.at[v, (b, metric, "best")] else "" for b in buckets]
                                for v in table.index], index=text.index, columns=buckets)
        blocks.append(styled_block(header(metric), text, classes))
    return page(_title(table), blocks, footnotes(table))


def _digits(x: float) -> float:
    # 10 significant digits: full precision for any metric, without float noise like 0.10500000000000001.
    return float(f"{x:.10g}")


def to_csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The machine-readable layout described in the module docstring."""
    buckets, metrics = buckets_of(table), metrics_of(table)
    with_std = bool(metrics) and bool((table.xs("seeds", level="field", axis=1) > 1).to_numpy().any())
    columns = {"variant": list(table.index)}
    for metric in metrics:
        for bucket in buckets:
            cell = {field: table[(bucket, metric, field)] for field in FIELDS}
            columns[f"{bucket} {metric}"] = [_digits(x) for x in cell["mean"]]
            if with_std:
                columns[f"{bucket} {metric} std"] = [_digits(x) for x in cell["std"]]
            columns[f"{bucket} {metric} best"] = cell["best"].astype(bool).map({True: "true", False: "false"}).tolist()
            published = [table.attrs.get("published", {}).get((v, bucket, metric), math.nan) for v in table.index]
            if not all(math.isnan(x) for x in published):
                columns[f"{bucket} {metric} published"] = [_digits(x) for x in published]
                columns[f"{bucket} {metric} diff"] = [_digits(m - x) for m, x in zip(cell["mean"], published)]
    for bucket in buckets:
        ns = table.xs((bucket, "n"), level=("bucket", "field"), axis=1) if metrics else None
        columns[f"{bucket} n"] = ns.max(axis=1).astype(int).tolist() if metrics else [0] * len(table)
    columns["seeds"] = (table.xs("seeds", level="field", axis=1).max(axis=1).astype(int).tolist()
                        if metrics else [0] * len(table))
    columns["train_note"] = [table.attrs.get("train_notes", {}).get(v, "") for v in table.index]
    missing = table.attrs.get("missing", {})
    why = []
    for variant in table.index:
        notes = {f"{m}: {n}": None for m, n in missing.items()}
        for metric in metrics:
            for bucket in buckets:
                note = table.at[variant, (bucket, metric, "note")]
                if note:
                    notes[f"{metric} {bucket}: {note}"] = None
        why.append("; ".join(notes))
    columns["missing"] = why
    return pd.DataFrame(columns)


def write_absolute(table: pd.DataFrame, out_dir: str | Path, name: str) -> dict[str, Path]:
    out_dir = Path(out_dir)
    return {
        "csv": write_csv(out_dir / table_name(name, "csv"), to_csv_frame(table)),
        "md": atomic_write_text(out_dir / table_name(name, "md"), to_markdown(table)),
        "tex": atomic_write_text(out_dir / table_name(name, "tex"), to_latex(table)),
        "html": atomic_write_text(out_dir / table_name(name, "html"), to_html(table)),
    }


def write_tables(summary: pd.DataFrame, dataset: str, out_dir: str | Path, variants: list[str] | None = None,
                 per_image: pd.DataFrame | None = None, reference: str | None = "baseline",
                 bootstrap=None, reference_table: str | Path | None = None) -> dict[str, Path]:
    """Writes <dataset>.{csv,md,tex,html} into out_dir (with the published values of
    `reference_table`, a reference/ CSV, beside our cells) and, when `per_image` rows are given, the
    ablation table <dataset>_ablation.{csv,md,tex,html}; returns their paths by key ("csv", ...,
    "ablation_csv", ...)."""
    table = build_table(summary, dataset, variants)
    if reference_table:
        from inpaint_bench.harness.reference import load_reference

        add_published(table, load_reference(reference_table), reference_table)
    paths = write_absolute(table, out_dir, dataset)
    if per_image is not None:
        from inpaint_bench.reporting.ablation import build_ablation, write_ablation

        ablation = build_ablation(summary, per_image, dataset, list(table.index), reference, bootstrap)
        paths.update({f"ablation_{k}": p for k, p in write_ablation(ablation, out_dir, dataset).items()})
    return paths


def main(argv=None):
    from inpaint_bench.reporting.stats import Bootstrap

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", required=True, help="combined long-format summary (reporting.aggregate)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", nargs="+", help="row order (default: order of first appearance)")
    p.add_argument("--per-image", nargs="+", metavar="CSV", help="per-image CSVs: also write the ablation table")
    p.add_argument("--reference", default="baseline", help="the ablation's reference row (default: baseline, "
                   "else the first variant)")
    p.add_argument("--reference-table", metavar="CSV", help="a published table (reference/README.md) to show "
                   "beside our cells, with our difference to it")
    p.add_argument("--resamples", type=int, default=Bootstrap.resamples)
    p.add_argument("--level", type=float, default=Bootstrap.level)
    p.add_argument("--bootstrap-seed", type=int, default=Bootstrap.seed)
    args = p.parse_args(argv)
    try:
        per_image = read_per_images(args.per_image) if args.per_image else None
        paths = write_tables(read_summary(args.summary), args.dataset, args.out_dir, args.variants, per_image,
                             args.reference, Bootstrap(args.resamples, args.level, args.bootstrap_seed),
                             args.reference_table)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    main()
