"""Writes both tables of one dataset: the absolute table (`reporting.absolute`) and, given the
per-image rows, the ablation table (`reporting.ablation`).

    inpaint-bench tables --summary results/summary.csv --dataset NAME --out-dir results/tables \
        [--variants v1 v2 ...] [--per-image PER_IMAGE.csv ...] [--baseline-row baseline] \
        [--resamples 2000] [--level 0.95] [--bootstrap-seed 0] [--published-table published/TABLE.csv] \
        [--pairing cycle|every_mask|random_mask]

Writes `<dataset>.{csv,md,tex,html}` and, with `--per-image` (the evaluations' per-image CSVs of that
dataset), `<dataset>_ablation.{csv,md,tex,html}`, as one update of the folder (harness.fileio.updated_folder);
their layouts: docs/file-formats.md. How long each row trained is read from the provenance.json beside
each per-image CSV (reporting.budget).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from inpaint_bench.harness.fileio import updated_folder
from inpaint_bench.harness.published import load_published
from inpaint_bench.reporting.ablation import build_ablation, write_ablation
from inpaint_bench.reporting.absolute import add_published, build_table, write_absolute


def write_tables(summary: pd.DataFrame, dataset: str, out_dir: str | Path, variants: list[str] | None = None,
                 per_image: pd.DataFrame | None = None, baseline_row: str | None = "baseline",
                 bootstrap=None, published_table: str | Path | None = None,
                 labels: dict[str, str] | None = None, coinciding: list[str] = (),
                 pairing: str | None = None, budgets: dict | None = None,
                 expected: dict | None = None) -> dict[str, Path]:
    """Writes <dataset>.{csv,md,tex,html} into out_dir (with the published values of
    `published_table`, a published/ CSV, beside our cells) and, when `per_image` rows are given, the
    ablation table <dataset>_ablation.{csv,md,tex,html}; returns their paths by key ("csv", ...,
    "ablation_csv", ...). `labels` ({variant: words}, the config's variant labels) and `coinciding`
    (sentences naming rows that train and score exactly as another, jobs.resolve.coinciding_line) go
    into both tables' footnotes, as does `pairing` (the config's masks.pairing: what n counts). `budgets`
    (reporting.budget.read_budgets: how long each row trained, as its evaluation recorded it) goes into
    both tables' footnotes; a row that trained less than `expected` ({variant: {"steps",
    "finetune_steps"}}, the config's) is named in their first line."""
    table = build_table(summary, dataset, variants)
    table.attrs["labels"] = {v: labels[v] for v in table.index if (labels or {}).get(v)}
    table.attrs["coinciding"] = list(coinciding)
    table.attrs["pairing"] = pairing
    if budgets is not None:
        table.attrs.update(budgets=budgets, expected=expected or {})
    if published_table:
        add_published(table, load_published(published_table), published_table)
    ablation = None
    if per_image is not None:
        ablation = build_ablation(summary, per_image, dataset, list(table.index), baseline_row, bootstrap)
        ablation.attrs.update(labels=table.attrs["labels"], coinciding=table.attrs["coinciding"], pairing=pairing,
                              **{k: table.attrs[k] for k in ("budgets", "expected") if k in table.attrs})
    # written into a copy of the folder that then replaces it whole: a run killed meanwhile leaves
    # the tables as they were, never some files of each version
    with updated_folder(out_dir) as folder:
        paths = write_absolute(table, folder, dataset)
        if ablation is not None:
            paths.update({f"ablation_{k}": p for k, p in write_ablation(ablation, folder, dataset).items()})
    return {key: Path(out_dir) / path.name for key, path in paths.items()}
