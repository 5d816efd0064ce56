"""Standalone HTML pages of the tables, for the workflow's report (`snakemake --report`).

Snakemake's report shows an HTML result in an iframe and offers every other text file only as a
download, so the tables the report shows are these pages: one pandas Styler table per metric block
(the same cell text as the md table), the footnotes under them, no script and no external resource.
CSS classes mark cells: "best" (absolute table), "better"/"worse" (ablation table: the interval
excludes 0), "baseline_row" (the ablation's baseline row).
"""
from __future__ import annotations

import html
import re

import pandas as pd

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.2em; color: #222; }
h1 { font-size: 1.25em; margin: 0 0 0.6em 0; }
h2 { font-size: 1.05em; margin: 1.1em 0 0.3em 0; }
/* compact; a cell breaks only before an interval "[lo, hi]" (its other spaces are non-breaking), so a
   five-bucket ablation table fits beside the report's side panel */
table { border-collapse: collapse; font-size: 0.82em; }
th, td { padding: 0.2em 0.4em; border-bottom: 1px solid #ddd; text-align: right; }
th { white-space: nowrap; }
th.row_heading, td.row_heading { text-align: left; }
thead th { border-bottom: 2px solid #444; }
td.best { font-weight: bold; }
td.better { font-weight: bold; background: #e3f4e1; }
td.worse { background: #fbe3e1; }
td.baseline_row { color: #555; font-style: italic; }
th.index_name { text-align: left; }
ul.notes { font-size: 0.85em; color: #333; max-width: 60em; padding-left: 1.2em; }
p.subtitle { font-size: 0.9em; color: #444; max-width: 60em; }
"""


def _inline(text: str) -> str:
    """Escaped text, `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _break_before_interval(cell) -> str:
    """A cell's text whose only breakable space is the one before an interval: "Δ [lo, hi] ▲" may
    wrap to two lines, "mean ± std" and everything else stays on one."""
    return str(cell).replace(" ", "\u00a0").replace("\u00a0[", " [")


def styled_block(heading: str, text: pd.DataFrame, classes: pd.DataFrame | None = None,
                 corner: str = "Variant") -> str:
    """A heading and one table (pandas Styler): `text` holds the cells as shown, `classes` a CSS
    class per cell ("" for none). The index is the row label column, headed `corner`."""
    text = text.rename_axis(index=None, columns=corner).map(_break_before_interval)
    styler = text.style.set_uuid(re.sub(r"[^A-Za-z0-9]+", "_", heading).strip("_") or "t")
    styler = styler.format(escape="html").format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if classes is not None:
        styler = styler.set_td_classes(classes.rename_axis(index=None, columns=corner))
    table = styler.to_html(table_attributes='class="result"')
    return f"<h2>{html.escape(heading)}</h2>\n{table}"


def page(title: str, blocks: list[str], notes: list[str], subtitle: str = "") -> str:
    """A complete HTML document: title, optional subtitle, the blocks, the footnotes."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
             f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="subtitle">{_inline(subtitle)}</p>')
    parts.extend(blocks)
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_inline(n)}</li>" for n in notes) + "</ul>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def preformatted(title: str, text: str, subtitle: str = "") -> str:
    """A page showing `text` (e.g. the resolved config as YAML) verbatim."""
    return page(title, [f"<pre>{html.escape(text)}</pre>"], [], subtitle)
