"""The absolute table of one dataset: every variant's metrics per hole-ratio bucket, mean ± std over seeds.

`build_table` gives the numbers (index variant, columns bucket x metric x field with fields mean,
std, seeds, n, note, best; attrs: the metrics not computed, training notes), the best value of each
column marked; `add_published` puts a published table's values (published/README.md) beside our
cells; `table_model` turns the numbers into what `reporting.render` writes (`write_absolute`).
Layout of the md, tex, html and csv files: docs/file-formats.md.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from inpaint_bench.harness.metric_registry import higher_is_better, set_level_rows
from inpaint_bench.harness.names import (
    DEFAULT_PROTOCOL,
    metric_format,
    protocol_line,
)
from inpaint_bench.reporting.budget import budget_lines, under_trained_line
from inpaint_bench.reporting.cells import FIELDS, buckets_of, cells_over_seeds, metrics_of, small_n
from inpaint_bench.reporting.phrases import (
    FEW_IMAGES_MARK,
    evidence_lines,
    label_lines,
    n_line,
    seed_phrase,
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

# ----------------------------------------------------------------------------------------------
# The numbers


def _mark_best(table: pd.DataFrame, buckets, metrics) -> None:
    for bucket in buckets:
        for metric in metrics:
            if higher_is_better(metric) is None or small_n(table.attrs, bucket, metric):
                continue  # unknown direction, or too few images to tell: nothing to mark
            means = table[(bucket, metric, "mean")].astype(float).dropna()
            if len(means) < 2:
                continue  # a lone value is not "best" of anything
            # Compare what the reader sees, so values that print the same are marked alike.
            fmt = metric_format(metric)
            rounded = (means * fmt.scale).round(fmt.decimals)
            if rounded.nunique() == 1:
                continue  # all equal: nothing stands out
            target = rounded.max() if higher_is_better(metric) else rounded.min()
            table.loc[rounded.index[rounded == target], (bucket, metric, "best")] = True


def build_table(summary: pd.DataFrame, dataset: str, variants: list[str] | None = None) -> pd.DataFrame:
    """Numeric absolute table of one dataset: index variant, columns (bucket, metric, field). Metrics
    without any value take no column; they are in `attrs["missing"]` ({metric: note})."""
    table = cells_over_seeds(summary, dataset, variants)
    _mark_best(table, buckets_of(table), metrics_of(table))
    return table


def add_published(table: pd.DataFrame, rows: list[dict], source: str | Path) -> None:
    """Puts beside our cells the published values of a published table (rows of
    `harness.published.load_published`) that match a cell on dataset, variant, bucket and metric:
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
        "and buckets, image size, metric implementation."
        + (" A published FID or KID gets no Δ: a set-level metric moves with n, and the paper's n is not ours."
           if any(metric in set_level_rows() for _, _, metric in table.attrs["published"]) else ""))


# ----------------------------------------------------------------------------------------------
# Footnotes


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
    text = n_line(per_bucket, table.attrs.get("pairing"))
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
    lines.extend(evidence_lines(table.attrs))
    if "budgets" in table.attrs:
        lines.extend(budget_lines(table.attrs["budgets"], table.index))
    lines.extend(train_note_lines(table.attrs.get("train_notes", {})))
    lines.extend(label_lines(table.attrs.get("labels", {})))
    lines.extend(f"{line}." for line in table.attrs.get("coinciding", []))
    lines.append(protocol_line(table.attrs.get("protocol", DEFAULT_PROTOCOL)))
    if table.attrs.get("published_note"):
        lines.append(table.attrs["published_note"])
    return lines


# ----------------------------------------------------------------------------------------------
# Cells and the table model


def published_text(table: pd.DataFrame, variant: str, bucket: str, metric: str) -> str:
    """"(pub. 26.50; Δ -0.50)": the published value of the cell and ours minus it, at the table's
    scale and precision; "" when the cell has no published counterpart. A set-level metric (FID, KID)
    gets no Δ: it depends on n, and the paper's n is not ours."""
    published = table.attrs.get("published", {}).get((variant, bucket, metric))
    if published is None:
        return ""
    mean = table.at[variant, (bucket, metric, "mean")]
    diff = ("" if math.isnan(mean) or metric in set_level_rows()
            else f"; Δ {shown(metric, mean - published, signed=True)}")
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
        if small_n(table.attrs, bucket, metric):
            text += tex_escape(FEW_IMAGES_MARK) if style == "tex" else FEW_IMAGES_MARK
    published = published_text(table, variant, bucket, metric)
    if published:
        text += rf"{{\scriptsize\,{tex_escape(published)}}}" if style == "tex" else " " + published
    return text


def _title(table: pd.DataFrame) -> str:
    dataset = table.attrs.get("dataset", "")
    return f"{dataset}: metrics per hole-ratio bucket" if dataset else "metrics per hole-ratio bucket"


def to_csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The machine-readable layout (docs/file-formats.md): one row per variant."""
    buckets, metrics = buckets_of(table), metrics_of(table)
    with_std = bool(metrics) and bool((table.xs("seeds", level="field", axis=1) > 1).to_numpy().any())
    columns = {"variant": list(table.index)}
    for metric in metrics:
        for bucket in buckets:
            cell = {field: table[(bucket, metric, field)] for field in FIELDS}
            columns[f"{bucket} {metric}"] = [digits(x) for x in cell["mean"]]
            if with_std:
                columns[f"{bucket} {metric} std"] = [digits(x) for x in cell["std"]]
            columns[f"{bucket} {metric} best"] = cell["best"].astype(bool).map({True: "true", False: "false"}).tolist()
            published = [table.attrs.get("published", {}).get((v, bucket, metric), math.nan) for v in table.index]
            if not all(math.isnan(x) for x in published):
                columns[f"{bucket} {metric} published"] = [digits(x) for x in published]
                columns[f"{bucket} {metric} diff"] = [math.nan if metric in set_level_rows() else digits(m - x)
                                                      for m, x in zip(cell["mean"], published)]
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


def table_model(table: pd.DataFrame) -> TableModel:
    """The absolute table as `reporting.render` writes it: a block per metric, a row per variant."""
    buckets = buckets_of(table)
    blocks = []
    for metric in metrics_of(table):
        rows = []
        for variant in table.index:
            cells = [Cell(md=cell_text(table, variant, b, metric, "md"),
                          tex=cell_text(table, variant, b, metric, "tex"),
                          plain=cell_text(table, variant, b, metric, "plain"),
                          css="best" if table.at[variant, (b, metric, "best")] else "")
                     for b in buckets]
            rows.append(Row(variant, cells))
        blocks.append(Block(header(metric), rows))
    return TableModel(_title(table), buckets, blocks, footnotes(table), to_csv_frame(table),
                      warning=under_trained_line(table.attrs.get("budgets", {}), table.attrs.get("expected", {})))


def to_markdown(table: pd.DataFrame) -> str:
    return as_markdown(table_model(table))


def to_latex(table: pd.DataFrame) -> str:
    return as_latex(table_model(table))


def to_html(table: pd.DataFrame) -> str:
    """A standalone HTML page (pandas Styler tables, one per metric) for the workflow's report."""
    return as_html(table_model(table))


def write_absolute(table: pd.DataFrame, out_dir: str | Path, name: str) -> dict[str, Path]:
    return write_table(table_model(table), out_dir, name)
