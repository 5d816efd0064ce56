"""The summary aggregation and the absolute table (md, tex, html, csv) from the fake results tree;
the tex of both tables."""
from __future__ import annotations

import math
import re
import shutil
import subprocess

import pandas as pd
import pytest

from helpers.fake_results import (
    DATASET,
    FID_NOTE,
    LPIPS_NOTE,
    TRAIN_NOTES,
    VARIANTS,
    N,
    make_results,
    md_cells,
    per_image_paths,
)
from inpaint_bench.cli.aggregate import main as aggregate_main
from inpaint_bench.cli.tables import main as tables_main
from inpaint_bench.reporting.ablation import build_ablation
from inpaint_bench.reporting.ablation import to_latex as ablation_latex
from inpaint_bench.reporting.absolute import build_table, footnotes, to_html, to_latex, to_markdown
from inpaint_bench.reporting.aggregate import aggregate, over_seeds
from inpaint_bench.reporting.results import read_per_images, read_summary
from inpaint_bench.reporting.stats import Bootstrap
from inpaint_bench.reporting.tables import write_tables

# ----------------------------------------------------------------------------------------------
# aggregate


def test_aggregate_concatenates_all_rows_and_writes_the_mean_over_seeds(results, tmp_path):
    root, paths, _ = results
    out, means = tmp_path / "summary.csv", tmp_path / "over_seeds.csv"
    aggregate_main(["--out", str(out), "--over-seeds", str(means), *map(str, reversed(paths))])
    combined = read_summary(out)
    inputs = pd.concat([read_summary(p) for p in paths])
    assert len(combined) == len(inputs) == 2 * 2 * 2 * 5  # one row per seed: nothing added to summary.csv
    key = ["dataset", "variant", "seed", "bucket", "metric"]
    assert set(map(tuple, combined[key].to_numpy())) == set(map(tuple, inputs[key].to_numpy()))
    # Sorted: variant by first appearance (reversed input -> rfr_full first), then seed, bucket, metric.
    assert list(dict.fromkeys(combined["variant"])) == ["rfr_full", "pconv_base"]
    first_run = combined[(combined["variant"] == "rfr_full") & (combined["seed"] == 0)]
    assert list(dict.fromkeys(first_run["bucket"])) == ["0.1-0.2", "0.2-0.3"]
    assert list(first_run["metric"][:5]) == ["psnr", "ssim", "l1", "lpips", "fid"]
    # NaN values and notes survive the round trip.
    fid = combined[combined["metric"] == "fid"]
    assert fid["value"].isna().all() and (fid["note"] == FID_NOTE).all()
    assert set(combined["train_note"]) == set(TRAIN_NOTES.values())
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind

    # The aggregated rows: one per (dataset, variant, bucket, metric), mean and sample std over seeds.
    agg = pd.read_csv(means, keep_default_na=False, na_values={"mean": [""], "std": [""]})
    assert len(agg) == 2 * 2 * 5
    row = agg[(agg["variant"] == "pconv_base") & (agg["bucket"] == "0.1-0.2") & (agg["metric"] == "psnr")].iloc[0]
    assert (row["mean"], row["std"], row["seeds"], row["seed_list"], row["n"]) == \
        (21.0, pytest.approx(math.sqrt(2)), 2, "0 1", N)
    fid = agg[agg["metric"] == "fid"]
    assert fid["mean"].isna().all() and (fid["note"] == FID_NOTE).all() and (fid["seeds"] == 0).all()
    single = over_seeds(combined[combined["seed"] == 0])
    assert single["std"].isna().all() and (single.loc[single["metric"] == "psnr", "seeds"] == 1).all()


def test_aggregate_errors_name_the_file(results, tmp_path):
    _, paths, _ = results
    absent = tmp_path / "nope" / "summary.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(absent))):
        aggregate([paths[0], absent])
    bad = tmp_path / "bad.csv"
    bad.write_text("dataset,variant\nmini,x\n")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        aggregate([paths[0], bad])
    with pytest.raises(ValueError, match="duplicate"):
        aggregate([paths[0], paths[0]])
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        read_per_images([bad])


# ----------------------------------------------------------------------------------------------
# the absolute table


def test_absolute_table_has_a_block_per_metric_with_buckets_as_columns(results):
    _, _, summary = results
    table = build_table(summary, DATASET, ["rfr_full", "pconv_base"])
    assert list(table.index) == ["rfr_full", "pconv_base"]
    assert list(dict.fromkeys(table.columns.get_level_values("bucket"))) == ["0.1-0.2", "0.2-0.3"]
    # FID has no value anywhere: it takes no column at all.
    assert list(dict.fromkeys(table.columns.get_level_values("metric"))) == ["psnr", "ssim", "l1", "lpips"]
    assert table.attrs["missing"] == {"fid": FID_NOTE}
    assert table.loc["pconv_base", ("0.1-0.2", "psnr", "mean")] == pytest.approx(21.0)
    assert table.loc["pconv_base", ("0.1-0.2", "psnr", "std")] == pytest.approx(math.sqrt(2))
    assert table.loc["pconv_base", ("0.1-0.2", "psnr", "seeds")] == 2
    assert list(build_table(summary, DATASET).index) == VARIANTS  # default order: first appearance

    md = to_markdown(table)
    headings = [line for line in md.splitlines() if line.startswith("**")]
    assert headings == ["**PSNR↑**", "**SSIM↑**", "**L1 (%)↓**", "**LPIPS↓**"]
    assert md.count("| Variant | 0.1-0.2 | 0.2-0.3 |") == 4  # narrow: variant + one column per bucket
    assert max(len(line) for line in md.splitlines() if line.startswith("|")) < 60
    block = md.split("**PSNR↑**")[1].split("**SSIM↑**")[0]
    rows = [line for line in block.splitlines() if line.startswith("| rfr_full") or line.startswith("| pconv_base")]
    assert [r.split(" | ")[0] for r in rows] == ["| rfr_full", "| pconv_base"]
    assert rows[1] == "| pconv_base | 21.00 ± 1.41 | **19.00 ± 0.00** |"  # mean ± std over the two seeds
    assert "| 5.00 ± 0.00 |" in md.split("**L1 (%)↓**")[1]  # L1 0.05 shown in percent


def test_best_cell_follows_metric_direction(results):
    _, _, summary = results
    table = build_table(summary, DATASET, VARIANTS)
    best = table.xs("best", level="field", axis=1)
    assert best[("0.1-0.2", "psnr")].to_dict() == {"pconv_base": False, "rfr_full": True}
    assert best[("0.2-0.3", "psnr")].to_dict() == {"pconv_base": True, "rfr_full": False}
    assert best[("0.1-0.2", "l1")].to_dict() == {"pconv_base": False, "rfr_full": True}  # lower wins
    assert best[("0.2-0.3", "l1")].to_dict() == {"pconv_base": True, "rfr_full": False}
    md = to_markdown(table)
    assert "**26.00 ± 1.41**" in md and "**21.00" not in md
    tex = to_latex(table)
    assert r"\textbf{26.00{\scriptsize\,$\pm$\,1.41}}" in tex and r"\textbf{21.00" not in tex
    # in HTML a cell breaks only before an interval: "mean ± std" is held together by no-break spaces
    assert '<td id="T_PSNR_row1_col0" class="data row1 col0 best" >26.00\u00a0±\u00a01.41</td>' in to_html(table)


def test_no_column_only_says_missing_and_a_footnote_names_the_weight_file(results, tmp_path):
    _, paths, summary = results
    out = write_tables(summary, DATASET, tmp_path, VARIANTS, per_image=read_per_images(per_image_paths(paths)),
                       baseline_row="pconv_base", bootstrap=Bootstrap(resamples=200))
    assert sorted(out) == sorted(["csv", "md", "tex", "html", "ablation_csv", "ablation_md", "ablation_tex",
                                  "ablation_html"])
    for key in ("md", "tex", "html", "ablation_md", "ablation_tex", "ablation_html"):
        text = out[key].read_text()
        assert "FID" not in text.split("Not computed")[0], key  # no FID column or block before the footnote
        assert "pt_inception-2015-12-05-6726825d.pth" in text or "pt\\_inception-2015-12-05-6726825d.pth" in text, key
        assert "Not computed, so not shown: FID" in text, key
    for key in ("md", "ablation_md"):
        assert not [c for c in md_cells(out[key].read_text()) if "missing" in c]  # no cell says "missing"
    csv = pd.read_csv(out["csv"], keep_default_na=False)
    assert not [c for c in csv.columns if "fid" in c]
    assert (csv["missing"] == f"fid: {FID_NOTE}").all()
    assert list(csv["0.1-0.2 psnr best"]) == [False, True]
    assert csv.loc[0, "0.1-0.2 psnr"] == pytest.approx(21.0)  # raw mean, full precision
    ablation = pd.read_csv(out["ablation_csv"], keep_default_na=False)
    assert set(ablation["metric"]) == {"psnr", "ssim", "l1", "lpips"}

    # A variant missing LPIPS while two others have it: "–" in its cells, a footnote says why, and the
    # lowest real value is best (a NaN treated as 0 would win a lower-is-better column).
    extra = summary.copy()
    extra.loc[(extra["variant"] == "rfr_full") & (extra["metric"] == "lpips"), "value"] -= 0.05
    third = extra[extra["variant"] == "rfr_full"].assign(variant="mat")
    third.loc[third["metric"] == "lpips", ["value", "note"]] = [math.nan, LPIPS_NOTE]
    table = build_table(pd.concat([extra, third]), DATASET)
    note, best = table[("0.1-0.2", "lpips", "note")], table[("0.1-0.2", "lpips", "best")]
    assert note["mat"] == LPIPS_NOTE
    assert best.to_dict() == {"pconv_base": False, "rfr_full": True, "mat": False}
    md = to_markdown(table)
    assert md.split("**LPIPS↓**")[1].split("\n- ")[0].count("| mat | – | – |") == 1
    assert f"– mat, LPIPS (0.1-0.2, 0.2-0.3): {LPIPS_NOTE}" in footnotes(table)
    assert not [c for c in md_cells(md) if "missing" in c]
    # The fixture's LPIPS is equal for every variant: nothing stands out, nothing is marked.
    assert not build_table(summary, DATASET).xs(("lpips", "best"), level=("metric", "field"), axis=1).any().any()


def test_footnotes_list_n_seeds_and_train_notes_with_variants(results):
    _, _, summary = results
    table = build_table(summary, DATASET, VARIANTS)
    notes = footnotes(table)
    # the pairing (masks.pairing) is stated when known, never assumed: n counts (image, mask) pairs
    assert notes[0] == f"n = {N} test pairs (image, mask) per bucket and seed."
    table.attrs["pairing"] = "cycle"
    assert footnotes(table)[0] == (f"n = {N} test images per bucket and seed, one mask each: image i meets mask i "
                                   f"of the bucket, mod its mask count (masks.pairing: cycle).")
    assert "Cells: mean ± sample std over 2 seeds (0, 1)." in notes
    assert "pconv_base, rfr_full: perceptual and style losses dropped (VGG16 weights missing)" in notes
    assert "rfr_full: trained for 10 steps only" in notes
    md = to_markdown(table)
    assert "- pconv_base, rfr_full: perceptual and style losses dropped (VGG16 weights missing)" in md
    # Restricting the rows restricts the variants named in the footnote.
    assert "pconv_base: perceptual and style losses dropped (VGG16 weights missing)" in \
        footnotes(build_table(summary, DATASET, ["pconv_base"]))


def _check_tabular(tex: str, buckets: int, tabulars: int = 1):
    parts = tex.split(r"\begin{tabular}")[1:]
    assert len(parts) == tabulars == tex.count(r"\end{tabular}")
    for part in parts:
        body = part.split(r"\end{tabular}")[0]
        assert body.startswith("{l" + "r" * buckets + "}")
        assert r"\toprule" in body and r"\midrule" in body and r"\bottomrule" in body
        assert body.index(r"\toprule") < body.index(r"\midrule") < body.index(r"\bottomrule")
        rows = [r for r in body.split("\n") if r.endswith(r"\\") and not r.startswith(r"\multicolumn")]
        assert rows and all(r.count(" & ") == buckets for r in rows), rows  # every row: 1 + buckets columns
    assert not re.search(r"(?<!\\)_", tex)  # every underscore escaped
    assert not re.search(r"(?<!\\)%", tex.split("\n", 1)[1])  # no stray comment character after line 1
    assert tex.count("{") == tex.count("}") and tex.count("$") % 2 == 0
    assert "±" not in tex and "Δ" not in tex and "–" not in tex and "▲" not in tex  # all escaped for LaTeX


def test_tex_is_an_escaped_booktabs_tabular(results, ablation, tmp_path):
    _, _, summary = results
    out = tmp_path / "summary.csv"
    summary.to_csv(out, index=False)
    tables_main(["--summary", str(out), "--dataset", DATASET, "--out-dir", str(tmp_path / "tables")])
    tex = (tmp_path / "tables" / f"{DATASET}.tex").read_text()
    _check_tabular(tex, 2)
    assert r"pconv\_base" in tex and r"rfr\_full" in tex
    assert r"\textit{PSNR$\uparrow$}" in tex and r"\textit{L1 (\%)$\downarrow$}" in tex
    assert {p.suffix for p in (tmp_path / "tables").iterdir()} == {".csv", ".md", ".tex", ".html"}
    tex = ablation_latex(ablation)
    _check_tabular(tex, 2, tabulars=4)  # one per metric: a long ablation breaks across pages between them
    assert r"$\mathbf{+5.00}$$^{\triangle}$" in tex and r"{\scriptsize $[" in tex


def test_tex_compiles_with_latex(results, ablation, tmp_path):
    latex = shutil.which("pdflatex")
    if latex is None:
        pytest.skip("pdflatex not installed (Debian: texlive-latex-recommended); the tabular structure is "
                    "checked by test_tex_is_an_escaped_booktabs_tabular")
    _, _, summary = results
    # Five buckets (as in the default config) with long variant names: both must fit the text width of
    # a page with 1-inch margins.
    paths = make_results(tmp_path / "five", variants=["rfr_kca_dgi", "baseline_dgi", "pconv_base"],
                         buckets=["0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6"], logs=False)
    five = aggregate(paths)
    wide = build_ablation(five, read_per_images(per_image_paths(paths)), DATASET, None, "pconv_base",
                          Bootstrap(resamples=100))
    (tmp_path / "absolute.tex").write_text(to_latex(build_table(summary, DATASET)))
    (tmp_path / "ablation.tex").write_text(ablation_latex(ablation))
    (tmp_path / "absolute5.tex").write_text(to_latex(build_table(five, DATASET)))
    (tmp_path / "ablation5.tex").write_text(ablation_latex(wide))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n"
                                      "\\usepackage{booktabs}\n\\usepackage[margin=1in]{geometry}\n"
                                      "\\begin{document}\n"
                                      "\\begin{table}\\centering\\input{absolute.tex}\\end{table}\n"
                                      "\\begin{table}\\centering\\input{absolute5.tex}\\end{table}\n"
                                      "{\\centering\\input{ablation.tex}\\par}\n"
                                      "{\\centering\\input{ablation5.tex}\\par}\n"
                                      "\\end{document}\n")
    proc = subprocess.run([latex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    assert "Overfull \\hbox" not in proc.stdout  # both tables fit the text width


def test_variant_labels_go_into_both_tables_footnotes_and_into_no_job(results, tmp_path):
    from inpaint_bench.jobs.resolve import eval_job, teacher_architectures, train_job
    from inpaint_bench.jobs.validate import validate_config

    root, paths, summary = results
    labels = {"pconv_base": "baseline row", "rfr_full": "DGI ablation on its own network: + fusion"}
    written = write_tables(summary, DATASET, tmp_path, per_image=read_per_images(per_image_paths(paths)),
                           baseline_row="pconv_base", labels=labels)
    for key in ("md", "html", "ablation_md", "ablation_html"):
        text = written[key].read_text()
        assert "pconv_base: baseline row" in text and "rfr_full: DGI ablation on its own network: + fusion" in text
    # a label is words for the tables: editing it changes no job (nothing re-runs)
    from conftest import write_images

    write_images(tmp_path / "train", 2)  # the jobs list the dataset's files
    write_images(tmp_path / "test", 2)
    config = {"datasets": {"d": {"kind": "folder", "root": str(tmp_path)}},
              "variants": {"v": {"backbone": "encdec", "attention": "dgi", "distill": {"cross": 0.1}}}}
    plain = validate_config(config)
    labelled = validate_config({**config, "variants": {"v": {**config["variants"]["v"], "label": "words"}}})
    assert train_job(labelled, "d", "v", 0) == train_job(plain, "d", "v", 0)
    assert eval_job(labelled, "d", "v", 0) == eval_job(plain, "d", "v", 0)
    assert teacher_architectures(labelled) == teacher_architectures(plain)


def test_an_unlabelled_row_is_described_by_how_its_jobs_differ_from_the_baseline_row(tmp_path):
    """Before, `encdec_lr1e3` showed only its key. Its label now comes from its resolved jobs against the
    baseline row's: written in both tables' footnotes; a given label wins, and a default written out
    (lr 2e-4, attention none) is no difference."""
    from inpaint_bench.jobs.resolve import row_labels
    from inpaint_bench.jobs.validate import validate_config

    base = {"backbone": "encdec"}
    config = validate_config({
        "datasets": {DATASET: {"kind": "folder", "root": str(tmp_path)}},
        "report": {"baseline_row": "baseline"},
        "variants": {"mean_fill": {"backbone": "mean_fill"}, "baseline": base,
                     "encdec_lr1e3": {**base, "train": {"lr": 1.0e-3}},
                     "encdec_no_style": {**base, "train": {"loss": {"style": 0}}},
                     "encdec_both": {**base, "train": {"lr": 1.0e-3, "loss": {"style": 0}}},
                     "encdec_written_out": {**base, "attention": "none", "train": {"lr": 2.0e-4}},
                     "rfr_kca": {"backbone": "rfr", "attention": "kca", "iterations": 2},
                     "named": {**base, "train": {"lr": 1.0e-3}, "label": "words"}}})
    labels = row_labels(config)
    assert labels == {"encdec_lr1e3": "lr 1e-3", "encdec_no_style": "loss.style 0",
                      "encdec_both": "lr 1e-3, loss.style 0",
                      "rfr_kca": "backbone rfr, attention kca, iterations 2", "named": "words"}
    variants = list(config["variants"])
    paths = make_results(tmp_path / "results", variants=variants, trained={})
    written = write_tables(aggregate(paths), DATASET, tmp_path / "tables",
                           per_image=read_per_images(per_image_paths(paths)), baseline_row="baseline", labels=labels)
    for key in ("md", "ablation_md"):
        text = written[key].read_text()
        assert "encdec_lr1e3: lr 1e-3" in text and "encdec_no_style: loss.style 0" in text, key
        assert "encdec_both: lr 1e-3, loss.style 0" in text and "named: words" in text, key
        # nothing to say: the defaults written out, and a classical row named after its backbone
        assert not re.search(r"encdec_written_out: (lr|attention)|mean_fill: backbone", text), key
