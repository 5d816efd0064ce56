"""Renders a table model as markdown, LaTeX, HTML and csv: the one writer of both tables.

A `TableModel` (built by `reporting.absolute` and `reporting.ablation`) is a title, the bucket
columns, one block per metric (a heading and rows of cells, each cell already in every text style),
the footnotes and the csv frame. `write_table` writes `<name>.{csv,md,tex,html}` atomically; the
layouts of those files are in docs/file-formats.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from inpaint_bench.harness.fileio import atomic_write_text, write_csv
from inpaint_bench.harness.names import metric_format
from inpaint_bench.harness.paths import table_name
from inpaint_bench.reporting.html import page, styled_block
from inpaint_bench.reporting.phrases import arrow

ABSENT = "–"  # a cell without a value in a column that other variants have
NO_METRIC = "(no metric has a value)"


@dataclass
class Cell:
    md: str
    tex: str  # already LaTeX: escaped, with its own math and size commands
    plain: str  # the HTML page's text (escaped there)
    css: str = ""  # the HTML cell's class: best, better, worse, baseline_row
    tex_below: str = ""  # a second tex row under the cell, in small type (the ablation's interval)


@dataclass
class Row:
    label: str
    cells: list[Cell]
    tex_label: str | None = None  # a shorter label for the tex table (escaped there); default `label`


@dataclass
class Block:
    heading: str
    rows: list[Row]


@dataclass
class TableModel:
    title: str
    columns: list[str]  # the hole-ratio buckets, after the label column "Variant"
    blocks: list[Block]
    notes: list[str]  # plain-text footnotes, in every format
    csv: pd.DataFrame
    # A closing list (heading, items): a section after the md footnotes, one more html footnote, not in tex.
    closing: tuple[str, list[str]] | None = None
    tex_split: bool = False  # one tabular per block, so a long table can break across pages between them
    corner: str = "Variant"  # the heading of the row-label column
    # Said before everything else in every format (reporting.budget.under_trained_line): rows that
    # trained less than the config gives them
    warning: str = ""


def shown(metric: str, value: float, signed: bool = False) -> str:
    """A value at its table precision and scale (with its sign when `signed`: differences)."""
    fmt = metric_format(metric)
    return f"{value * fmt.scale:{'+' if signed else ''}.{fmt.decimals}f}"


def header(metric: str) -> str:
    """"PSNR↑", "L1 (%)↓": the label of a metric's block."""
    return metric_format(metric).table_label + arrow(metric)


def digits(x: float) -> float:
    # 10 significant digits: full precision for any metric, without float noise like 0.10500000000000001.
    return float(f"{x:.10g}")


# ----------------------------------------------------------------------------------------------
# Escaping

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "<": r"\textless{}",
                ">": r"\textgreater{}", "–": "--", "Δ": r"$\Delta$", "▲": r"$^{\triangle}$",
                "▼": r"$^{\nabla}$", "−": "-", "`": "", "†": r"\textsuperscript{\dag}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def md_escape(text: str) -> str:
    return str(text).replace("|", r"\|")


# ----------------------------------------------------------------------------------------------
# Markdown


def md_block(heading: str, columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = [f"**{heading}**", "", "| " + " | ".join(md_escape(c) for c in columns) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(columns) - 1)) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return lines + [""]


def as_markdown(model: TableModel) -> str:
    out = [f"**{model.warning}.**", ""] if model.warning else []
    out += [f"### {model.title}", ""]
    for block in model.blocks:
        rows = [[row.label] + [cell.md for cell in row.cells] for row in block.rows]
        out += md_block(block.heading, [model.corner, *model.columns], rows)
    if not model.blocks:
        out += [NO_METRIC, ""]
    out += [f"- {line}" for line in model.notes]
    if model.closing is not None:
        heading, items = model.closing
        out += ["", f"{heading}: none." if not items else f"{heading}:"]
        out += [f"- {line}" for line in items]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# LaTeX

TEX_SIZE = r"\footnotesize\setlength{\tabcolsep}{3pt}"  # five buckets fit a 6.5 in text width


def _tex_table(buckets: list[str], blocks: list[tuple[str, list[list[str]]]], corner: str = "Variant") -> list[str]:
    ncols = 1 + len(buckets)
    out = [rf"{{{TEX_SIZE}", r"\begin{tabular}{l" + "r" * len(buckets) + "}", r"\toprule"]
    out.append(" & ".join([tex_escape(corner)] + [tex_escape(b) for b in buckets]) + r" \\")
    for heading, rows in blocks:
        out.append(r"\midrule")
        out.append(rf"\multicolumn{{{ncols}}}{{l}}{{\textit{{{tex_escape(heading)}}}}} \\")
        out.append(r"\addlinespace[2pt]")
        out.extend(" & ".join(row) + r" \\" for row in rows)
    out += [r"\bottomrule", r"\end{tabular}}"]
    return out


def tex_tabular(buckets: list[str], blocks: list[tuple[str, list[list[str]]]], notes: list[str],
                split: bool = False, corner: str = "Variant", warning: str = "") -> str:
    """Booktabs tabulars (need \\usepackage{booktabs}) in footnote size: a header row of buckets, then
    one block per metric (an italic heading row, then its rows, already escaped); the footnotes in a
    paragraph under them. Columns: the variant, one right-aligned column per bucket. `split`: one
    tabular per block, stacked, so a long table can break across pages between metrics when the file
    is \\input outside a float."""
    # The comment names the modules of old; kept so that the files stay byte-identical.
    out = [r"% generated by reporting.tables / reporting.ablation; needs \usepackage{booktabs}"]
    if warning:
        out.append(rf"\noindent\textbf{{{tex_escape(warning)}.}}\par\smallskip")
    if split:
        for i, block in enumerate(blocks):
            if i:
                out.append(r"\par\medskip")
            out += _tex_table(buckets, [block], corner)
    else:
        out += _tex_table(buckets, blocks, corner)
    if notes:
        out.append("")
        out.append(r"\par\smallskip{\footnotesize")
        out.append((r" \\" + "\n").join(tex_escape(line) for line in notes))
        out.append(r"\par}")
    return "\n".join(out) + "\n"


def as_latex(model: TableModel) -> str:
    blocks = []
    for block in model.blocks:
        rows = []
        for row in block.rows:
            label = row.label if row.tex_label is None else row.tex_label
            rows.append([tex_escape(label)] + [cell.tex for cell in row.cells])
            below = [cell.tex_below for cell in row.cells]
            if any(below):
                rows.append([""] + below)
        blocks.append((block.heading, rows))
    return tex_tabular(model.columns, blocks, model.notes, split=model.tex_split, corner=model.corner,
                       warning=model.warning)


# ----------------------------------------------------------------------------------------------
# HTML (the report's pages: reporting.html)


def as_html(model: TableModel) -> str:
    """A standalone HTML page, one pandas Styler table per block, for the workflow's report."""
    blocks = []
    for block in model.blocks:
        index = pd.Index([row.label for row in block.rows])
        text = pd.DataFrame([[cell.plain for cell in row.cells] for row in block.rows], index=index,
                            columns=model.columns)
        classes = pd.DataFrame([[cell.css for cell in row.cells] for row in block.rows], index=index,
                               columns=model.columns)
        blocks.append(styled_block(block.heading, text, classes, corner=model.corner))
    notes = list(model.notes)
    if model.closing is not None:
        heading, items = model.closing
        notes.append(f"{heading}: " + ("; ".join(items) or "none") + ".")
    return page(f"{model.warning}. {model.title}" if model.warning else model.title, blocks, notes)


# ----------------------------------------------------------------------------------------------
# Files


def write_table(model: TableModel, out_dir: str | Path, name: str) -> dict[str, Path]:
    """Writes `<name>.{csv,md,tex,html}` into out_dir atomically; returns their paths by extension."""
    out_dir = Path(out_dir)
    return {
        "csv": write_csv(out_dir / table_name(name, "csv"), model.csv),
        "md": atomic_write_text(out_dir / table_name(name, "md"), as_markdown(model)),
        "tex": atomic_write_text(out_dir / table_name(name, "tex"), as_latex(model)),
        "html": atomic_write_text(out_dir / table_name(name, "html"), as_html(model)),
    }
