"""Tables, ablation tables, plots and the comparison CLI from a tiny fake results tree (2 variants,
2 buckets, 2 seeds, per-image and summary files); the HTML report of a tiny real workflow run,
opened in headless Chromium."""
from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import math
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.names import METRIC_FORMATS, MetricFormat, metric_format
from inpaint_bench.reporting import read_per_images, read_summary
from inpaint_bench.reporting.ablation import build_ablation
from inpaint_bench.reporting.ablation import to_latex as ablation_latex
from inpaint_bench.reporting.ablation import to_markdown as ablation_markdown
from inpaint_bench.reporting.aggregate import aggregate, over_seeds
from inpaint_bench.reporting.aggregate import main as aggregate_main
from inpaint_bench.reporting.compare import compare_files
from inpaint_bench.reporting.compare import main as compare_main
from inpaint_bench.reporting.plots import loss_figure, metrics_figure, paired_figure, qualitative_figure, read_ablation, write_plots
from inpaint_bench.reporting.plots import main as plots_main
from inpaint_bench.reporting.stats import Bootstrap
from inpaint_bench.reporting.tables import build_table, footnotes, to_html, to_latex, to_markdown, write_tables
from inpaint_bench.reporting.tables import main as tables_main

REPO = Path(__file__).resolve().parent.parent
DATASET = "mini"
VARIANTS = ["pconv_base", "rfr_full"]
BUCKETS = ["0.2-0.3", "0.1-0.2"]  # written out of order on purpose: tables sort by lower bound
FID_NOTE = "missing: pt_inception-2015-12-05-6726825d.pth"
LPIPS_NOTE = "missing: alexnet-owt-7be5be79.pth"
NO_VGG = "no_vgg: perceptual and style losses dropped (VGG16 weights missing)"
TRAIN_NOTES = {"pconv_base": NO_VGG, "rfr_full": f"{NO_VGG}; short: trained for 10 steps only"}

# (variant, bucket) -> per-seed values. PSNR: rfr best at 0.1-0.2, pconv best at 0.2-0.3.
# L1 (lower is better): rfr best at 0.1-0.2, pconv best at 0.2-0.3; a higher-is-better bug flips both.
PSNR = {("pconv_base", "0.1-0.2"): [20.0, 22.0], ("rfr_full", "0.1-0.2"): [25.0, 27.0],
        ("pconv_base", "0.2-0.3"): [19.0, 19.0], ("rfr_full", "0.2-0.3"): [18.0, 18.0]}
L1 = {("pconv_base", "0.1-0.2"): [0.05, 0.05], ("rfr_full", "0.1-0.2"): [0.03, 0.03],
      ("pconv_base", "0.2-0.3"): [0.04, 0.04], ("rfr_full", "0.2-0.3"): [0.06, 0.06]}
N = 4
# Per-image spread around each mean (mean 0: the summary is the mean of the per-image rows); the
# variant part differs between variants, so paired differences vary a little from image to image.
IMAGE_OFFSETS = np.array([-0.3, 0.1, -0.1, 0.3])
VARIANT_OFFSETS = np.array([0.05, -0.05, 0.05, -0.05])
PLOTS = ("loss", "metrics", "paired", "qualitative")


def _png(path, hole_colour=None, size=16):
    """A gradient picture; hole_colour paints the centre square (white = masked input)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    image = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 128, np.uint8)], -1)
    if hole_colour is not None:
        image[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = hole_colour
    Image.fromarray(image).save(path)


def make_results(root, variants=VARIANTS, buckets=BUCKETS, seeds=(0, 1), logs=True, fid=None):
    """A results tree like training.evaluate / training.train write it (summary.csv and per_image.csv
    per run, consistent with each other); returns the summary paths. fid: {variant: value} makes FID
    a computed metric (else it is missing)."""
    paths = []
    for vi, variant in enumerate(variants):
        for seed in seeds:
            run = root / "runs" / DATASET / variant / f"seed{seed}"
            rows, images = [], []
            for bi, bucket in enumerate(buckets):
                means = {"psnr": PSNR.get((variant, bucket), [20.0, 21.0])[seed % 2],
                         "ssim": 0.8 + 0.01 * vi, "l1": L1.get((variant, bucket), [0.05, 0.05])[seed % 2],
                         "lpips": 0.1 + 0.01 * seed}
                spread = {"psnr": 1.0, "ssim": 0.01, "l1": 0.001, "lpips": 0.0}
                for i in range(N):
                    lo = float(bucket.split("-")[0])
                    images.append({"dataset": DATASET, "variant": variant, "seed": seed, "bucket": bucket,
                                   "image": f"img_{i:03d}.png", "mask": f"{bucket}/{i:03d}.png",
                                   "hole_ratio": lo + 0.01 + 0.001 * i + 0.0001 * seed,
                                   **{m: means[m] + spread[m] * (IMAGE_OFFSETS[i] + vi * VARIANT_OFFSETS[i])
                                      for m in means}})
                for metric, value in means.items():
                    rows.append([DATASET, variant, seed, bucket, metric, value, N, ""])
                if fid is None:
                    rows.append([DATASET, variant, seed, bucket, "fid", math.nan, 0, FID_NOTE])
                else:
                    rows.append([DATASET, variant, seed, bucket, "fid", fid[variant] + seed + bi, N, ""])
                if seed == 0:
                    for i, name in enumerate(["img_000", "img_001"]):
                        folder = run / "eval" / "samples" / bucket
                        _png(folder / f"{name}_input.png", (255, 255, 255))
                        _png(folder / f"{name}_output.png", (80 * vi, 100, 50 * i))
                        _png(folder / f"{name}_gt.png")
            summary = pd.DataFrame(rows, columns=["dataset", "variant", "seed", "bucket", "metric", "value", "n", "note"])
            summary["train_note"] = TRAIN_NOTES.get(variant, "")
            (run / "eval").mkdir(parents=True, exist_ok=True)
            summary.to_csv(run / "eval" / "summary.csv", index=False)
            pd.DataFrame(images).to_csv(run / "eval" / "per_image.csv", index=False)
            paths.append(run / "eval" / "summary.csv")
            if logs:
                steps = np.arange(0, 50, 10)
                log = pd.DataFrame({"step": steps, "phase": ["train"] * 3 + ["finetune"] * 2,
                                    "lr": [2e-4] * 3 + [5e-5] * 2, "total": (10.0 + seed) / (steps + 1 + vi),
                                    "hole": 6.0 / (steps + 1), "valid": 1.0 / (steps + 1), "tv": 0.01 + 0 * steps,
                                    "seconds": steps * 0.1})
                if variant == "rfr_full":
                    log["distill_cross"] = 0.5 / (steps + 1)
                log.to_csv(run / "train_log.csv", index=False)
    return paths


def per_image_paths(summary_paths):
    return [p.with_name("per_image.csv") for p in summary_paths]


def run_files(root, variants=VARIANTS, seed=0):
    """({variant: train_log.csv}, {variant: eval/samples}) of the runs that have them, as the plots
    rule passes them."""
    runs = {v: root / "runs" / DATASET / v / f"seed{seed}" for v in variants}
    logs = {v: run / "train_log.csv" for v, run in runs.items() if (run / "train_log.csv").is_file()}
    samples = {v: run / "eval" / "samples" for v, run in runs.items() if (run / "eval" / "samples").is_dir()}
    return logs, samples


@contextlib.contextmanager
def reads_under(root):
    """Records the files opened for reading and the folders listed under root while active."""
    seen = {"files": set(), "dirs": set()}
    active = [True]

    def hook(event, args):
        if not active or event not in ("open", "os.scandir", "os.listdir"):
            return
        if not isinstance(args[0], (str, os.PathLike)) or not os.path.abspath(args[0]).startswith(str(root)):
            return
        path = os.path.abspath(args[0])
        if event != "open":
            seen["dirs"].add(path)
            return
        # builtins.open gives a mode, os.open only flags: keep the read-only opens of either kind.
        mode, flags = args[1], args[2]
        if ("r" in mode and "+" not in mode) if mode else (flags & os.O_ACCMODE) == os.O_RDONLY:
            seen["files"].add(path)

    sys.addaudithook(hook)  # an audit hook stays for the whole process: it records only while active
    try:
        yield seen
    finally:
        active.clear()


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


def md_cells(md: str) -> list[str]:
    """Every cell of every markdown table row (header and separator rows excluded)."""
    cells = []
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| Variant"):
            cells += [c.strip() for c in line.strip("|").split(" | ")]
    return cells


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    paths = make_results(root)
    summary = aggregate(paths)
    write_csv(root / "summary.csv", summary)
    return root, paths, summary


@pytest.fixture(scope="module")
def ablation(results):
    _, paths, summary = results
    return build_ablation(summary, read_per_images(per_image_paths(paths)), DATASET, ["rfr_full", "pconv_base"],
                          reference="pconv_base", bootstrap=Bootstrap(resamples=1000))


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
                       reference="pconv_base", bootstrap=Bootstrap(resamples=200))
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
    assert notes[0] == f"n = {N} test images per bucket and seed (one fixed mask each)."
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


# ----------------------------------------------------------------------------------------------
# the ablation table


def test_ablation_deltas_intervals_and_marks(results, ablation):
    _, _, summary = results
    frame = ablation
    assert list(dict.fromkeys(frame["variant"])) == ["rfr_full", "pconv_base"]  # the given (config) order
    assert set(frame["reference"]) == {"pconv_base"}
    assert list(dict.fromkeys(frame["metric"])) == ["psnr", "ssim", "l1", "lpips"]

    def cell(metric, bucket, variant="rfr_full"):
        return frame[(frame["metric"] == metric) & (frame["bucket"] == bucket) & (frame["variant"] == variant)].iloc[0]

    # Δ is the difference of the absolute means; the interval lies around it.
    table = build_table(summary, DATASET)
    for metric in ("psnr", "ssim", "l1", "lpips"):
        for bucket in ("0.1-0.2", "0.2-0.3"):
            row = cell(metric, bucket)
            expected = table.loc["rfr_full", (bucket, metric, "mean")] - table.loc["pconv_base", (bucket, metric, "mean")]
            assert row["delta"] == pytest.approx(expected, abs=1e-12)
            assert row["lo"] <= row["delta"] <= row["hi"] and row["method"] == "bootstrap"
            assert (row["seeds"], row["n"], row["level"]) == (2, 2 * N, 0.95)
    assert (cell("psnr", "0.1-0.2")["delta"], cell("psnr", "0.1-0.2")["mark"]) == (pytest.approx(5.0), "better")
    assert (cell("psnr", "0.2-0.3")["delta"], cell("psnr", "0.2-0.3")["mark"]) == (pytest.approx(-1.0), "worse")
    assert cell("l1", "0.1-0.2")["mark"] == "better" and cell("l1", "0.2-0.3")["mark"] == "worse"  # lower wins
    assert cell("ssim", "0.1-0.2")["mark"] == "better"
    assert cell("lpips", "0.1-0.2")["mark"] == "" and cell("lpips", "0.1-0.2")["delta"] == pytest.approx(0.0)
    ref = cell("psnr", "0.1-0.2", "pconv_base")
    assert (ref["method"], ref["delta"], ref["mean"]) == ("reference", 0.0, 21.0)

    md = ablation_markdown(frame)
    block = md.split("**PSNR↑ Δ**")[1].split("**SSIM↑ Δ**")[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| Variant")]
    assert [r.split(" | ")[0] for r in rows] == ["| rfr_full", "| pconv_base (reference)"]
    assert re.match(r"\| rfr_full \| \*\*\+5\.00\*\* \[\+\d\.\d\d, \+\d\.\d\d\] ▲ \| -1\.00 \[-\d\.\d\d, -\d\.\d\d\] ▼ \|$",
                    rows[0]), rows[0]
    assert rows[1] == "| pconv_base (reference) | 21.00 ± 1.41 | 19.00 ± 0.00 |"
    assert "hierarchical paired bootstrap (resample seeds, then images within each seed; 1000 resamples, numpy seed 0)" in md
    assert "- rfr_full: PSNR ▲ 0.1-0.2; PSNR ▼ 0.2-0.3; SSIM ▲ 0.1-0.2, 0.2-0.3; L1 ▲ 0.1-0.2; L1 ▼ 0.2-0.3" in md


def test_ablation_reference_fallback_single_seed_and_set_level_metrics(tmp_path):
    paths = make_results(tmp_path, seeds=(0,), fid={"pconv_base": 40.0, "rfr_full": 30.0})
    summary, images = aggregate(paths), read_per_images(per_image_paths(paths))
    frame = build_ablation(summary, images, DATASET, VARIANTS, reference="baseline", bootstrap=Bootstrap(resamples=200))
    assert set(frame["reference"]) == {"pconv_base"}  # no "baseline" row: the first variant
    md = ablation_markdown(frame)
    assert "report.reference 'baseline' is not a variant of this run: the first row, pconv_base, is the reference" in md
    assert "Seeds: 0 (one seed: no seed spread)." in md and "one seed: images are resampled, there is no seed spread" in md
    fid = frame[(frame["metric"] == "fid") & (frame["variant"] == "rfr_full")]
    assert list(fid["method"]) == ["none", "none"] and list(fid["mark"]) == ["", ""]
    assert list(fid["delta"]) == [pytest.approx(-10.0)] * 2
    assert "FID: Δ mean ± sample std over seeds of the per-seed difference (no interval, never marked; one seed: no ±)." in md

    paths = make_results(tmp_path / "two", seeds=(0, 1), fid={"pconv_base": 40.0, "rfr_full": 30.0})
    frame = build_ablation(aggregate(paths), read_per_images(per_image_paths(paths)), DATASET, VARIANTS,
                           reference="pconv_base", bootstrap=Bootstrap(resamples=200))
    fid = frame[(frame["metric"] == "fid") & (frame["variant"] == "rfr_full")]
    assert list(fid["method"]) == ["seeds", "seeds"] and list(fid["delta_std"]) == [0.0, 0.0]
    assert "| **FID↓ Δ** |" not in ablation_markdown(frame) and "-10.00 ± 0.00" in ablation_markdown(frame)


def test_ablation_refuses_rows_that_do_not_pair(results):
    _, paths, summary = results
    images = read_per_images(per_image_paths(paths))
    with pytest.raises(ValueError, match="no partner"):
        build_ablation(summary, images.drop(index=images.index[-1]), DATASET, VARIANTS, "pconv_base")
    moved = images.copy()
    moved.loc[moved["variant"] == "rfr_full", "hole_ratio"] += 0.05
    with pytest.raises(ValueError, match="same masks"):
        build_ablation(summary, moved, DATASET, VARIANTS, "pconv_base")
    with pytest.raises(ValueError, match="no per-image rows for rfr_full"):
        build_ablation(summary, images[images["variant"] != "rfr_full"], DATASET, VARIANTS, "pconv_base")


# ----------------------------------------------------------------------------------------------
# plots


def test_plots_are_written_as_pngs(results, ablation, tmp_path):
    root, _, _ = results
    logs, samples = run_files(root)
    ablation_csv = write_csv(tmp_path / "ablation.csv", ablation)
    paths = write_plots(root / "summary.csv", DATASET, VARIANTS, tmp_path / "plots", logs, samples, seed=0,
                        ablation_path=ablation_csv)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [f"{DATASET}_{k}.png" for k in PLOTS]
    for path in paths.values():
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
            # Not a blank canvas: something was drawn.
            assert np.asarray(im.convert("L")).std() > 5


def test_figures_have_no_empty_panel_and_show_the_seed_spread(results, ablation):
    root, _, summary = results
    logs, samples = run_files(root)
    grid = qualitative_figure(samples, DATASET, VARIANTS, seed=0)
    assert grid.get_suptitle() == f"{DATASET}: qualitative comparison (seed 0)"
    spec = grid.axes[0].get_subplotspec().get_gridspec()
    assert (spec.nrows, spec.ncols) == (2, len(VARIANTS) + 2)  # one row per bucket
    assert [ax.get_title() for ax in grid.axes[:4]] == ["masked input", *VARIANTS, "ground truth"]
    assert [grid.axes[i].get_ylabel() for i in (0, 4)] == ["hole 0.1-0.2\nimg_000", "hole 0.2-0.3\nimg_001"]

    metrics = metrics_figure(summary, DATASET, VARIANTS)
    assert titles(metrics) == ["PSNR (dB) ↑", "SSIM ↑", "L1 ↓", "LPIPS ↓"]  # no FID panel
    assert all(ax.lines for ax in metrics.axes)  # every panel has data
    assert f"not computed: FID ({FID_NOTE})" in metrics.get_suptitle()  # named in the title
    assert "mean ± sample std over 2 seeds" in metrics.get_suptitle()
    assert len(metrics.axes[0].collections) == 2  # a band per variant (two seeds)
    band = metrics.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() == pytest.approx(21.0 + math.sqrt(2))  # pconv_base: mean + std at 0.1-0.2

    paired = paired_figure(ablation, DATASET, ["rfr_full", "pconv_base"])
    assert titles(paired) == ["Δ PSNR (dB) ↑", "Δ SSIM ↑", "Δ L1 ↓", "Δ LPIPS ↓"]
    assert "difference to pconv_base" in paired.get_suptitle() and "95% hierarchical paired bootstrap" in paired.get_suptitle()
    psnr = paired.axes[0]
    filled, hollow = psnr.collections[-2], psnr.collections[-1]  # significant: filled, else hollow
    assert len(filled.get_offsets()) == 2 and len(hollow.get_offsets()) == 0
    assert sorted(np.asarray(filled.get_offsets())[:, 1]) == [pytest.approx(-1.0), pytest.approx(5.0)]
    lpips = paired.axes[3]
    assert len(lpips.collections[-2].get_offsets()) == 0 and len(lpips.collections[-1].get_offsets()) == 2

    loss = loss_figure(logs, DATASET, VARIANTS, seed=0)
    assert titles(loss) == ["total loss", "hole", "valid", "tv", "distill_cross"]
    assert loss.axes[0].get_yscale() == "log" and not loss.axes[0].collections  # one log each: no band
    assert loss.get_suptitle() == f"{DATASET}: training losses (seed 0)"
    both = {v: [root / "runs" / DATASET / v / f"seed{s}" / "train_log.csv" for s in (0, 1)] for v in VARIANTS}
    loss = loss_figure(both, DATASET, VARIANTS, seed=[0, 1])
    assert "(seeds 0, 1); line = mean over 2 seeds' logs, band = lowest to highest" in loss.get_suptitle()
    assert len(loss.axes[0].collections) == 2  # a band per variant
    curve = [line for line in loss.axes[0].lines if line.get_label() == "pconv_base"][0]
    assert curve.get_ydata()[0] == pytest.approx((10.0 + 11.0) / 2)  # mean of the two seeds' first step


def test_single_bucket_single_seed_without_train_logs(tmp_path):
    paths = make_results(tmp_path, variants=["biharmonic", "mean_fill"], buckets=["0.3-0.4"], seeds=(0,), logs=False)
    summary = aggregate(paths)
    table = build_table(summary, DATASET)
    assert "±" not in to_markdown(table) and "One seed (0): no seed spread; values are that seed's." in footnotes(table)
    assert not any(line.startswith("biharmonic") for line in footnotes(table))  # no train notes
    logs, samples = run_files(tmp_path, ["biharmonic", "mean_fill"])
    assert logs == {}
    metrics = metrics_figure(summary, DATASET)
    assert "one seed: no seed spread" in metrics.get_suptitle() and not metrics.axes[0].collections
    out = write_plots(write_csv(tmp_path / "summary.csv", summary), DATASET, None, tmp_path / "plots", logs, samples)
    assert all(p.stat().st_size > 5000 for p in out.values())
    loss = loss_figure(logs, DATASET, ["biharmonic", "mean_fill"])
    assert any("no train_log.csv" in t.get_text() for t in loss.axes[0].texts)
    grid = qualitative_figure(samples, DATASET, ["biharmonic", "mean_fill"])
    assert grid.axes[0].get_subplotspec().get_gridspec().ncols == 4


def test_plots_read_exactly_the_files_passed(tmp_path):
    # Every variant has a log and samples at the usual place; only some are passed, one from elsewhere.
    root = tmp_path / "results"
    summary = write_csv(root / "summary.csv", aggregate(make_results(root)))
    moved_log = root / "moved" / "rfr.csv"  # any name, any folder: the path is used as given
    log = pd.read_csv(root / "runs" / DATASET / "rfr_full" / "seed0" / "train_log.csv")
    write_csv(moved_log, log.assign(total=[5.0, 4.0, 3.0, 2.0, 1.0]))
    samples = {"pconv_base": root / "runs" / DATASET / "pconv_base" / "seed0" / "eval" / "samples"}

    with reads_under(root) as seen:
        write_plots(summary, DATASET, VARIANTS, tmp_path / "plots", {"rfr_full": moved_log}, samples)
    inside = {str(p) for p in samples["pconv_base"].rglob("*")}
    assert seen["files"] - inside == {str(summary), str(moved_log)}
    assert seen["files"] & inside  # the sample images were read ...
    assert all(d == str(samples["pconv_base"]) or d in inside for d in seen["dirs"])  # ... and nothing else listed

    loss = loss_figure({"rfr_full": moved_log}, DATASET, VARIANTS)
    assert loss.get_suptitle() == f"{DATASET}: training losses\nno training log: pconv_base"
    curves = [line for line in loss.axes[0].lines if not line.get_label().startswith("_")]
    assert [line.get_label() for line in curves] == ["rfr_full"]
    assert list(curves[0].get_ydata()) == [5.0, 4.0, 3.0, 2.0, 1.0]  # the moved log, not the run's own

    grid = qualitative_figure(samples, DATASET, VARIANTS)
    assert titles(grid)[:4] == ["masked input", *VARIANTS, "ground truth"]
    assert not any(t.get_text() == "no sample" for t in grid.axes[1].texts)  # pconv_base: passed
    assert any(t.get_text() == "no sample" for t in grid.axes[2].texts)  # rfr_full: not passed

    # A file passed but absent, or passed for a variant that is not plotted, is an error naming it.
    absent = root / "nope" / "train_log.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(absent))):
        loss_figure({"rfr_full": absent}, DATASET, VARIANTS)
    with pytest.raises(FileNotFoundError, match=re.escape(str(absent.parent))):
        qualitative_figure({"rfr_full": absent.parent}, DATASET, VARIANTS)
    with pytest.raises(ValueError, match="mat"):
        loss_figure({"mat": moved_log}, DATASET, VARIANTS)
    with pytest.raises(FileNotFoundError, match="ablation"):
        read_ablation(root / "nope.csv")


def test_plots_cli_takes_a_path_per_variant_and_seed(results, ablation, tmp_path, capsys):
    root, _, _ = results
    logs, samples = run_files(root)
    ablation_csv = write_csv(tmp_path / "ablation.csv", ablation)
    out = tmp_path / "plots"
    args = ["--summary", str(root / "summary.csv"), "--dataset", DATASET, "--out-dir", str(out),
            "--variants", *VARIANTS, "--seed", "0", "--ablation", str(ablation_csv)]
    args += [a for v, path in samples.items() for a in ("--samples", f"{v}={path}")]
    seed1 = [a for v in VARIANTS for a in ("--log", f"{v}={root / 'runs' / DATASET / v / 'seed1' / 'train_log.csv'}")]
    plots_main(args + [a for v, path in logs.items() for a in ("--log", f"{v}={path}")] + seed1)
    assert sorted(p.name for p in out.iterdir()) == [f"{DATASET}_{k}.png" for k in PLOTS]
    assert capsys.readouterr().out.count(".png") == 4
    with pytest.raises(SystemExit):
        plots_main([*args, "--log", "rfr_full"])  # no path
    with pytest.raises(SystemExit, match=re.escape(str(tmp_path / "absent.csv"))):
        plots_main([*args, "--log", f"rfr_full={tmp_path / 'absent.csv'}"])


# ----------------------------------------------------------------------------------------------
# metric labels and precision: defined once, in metrics.names


def test_tables_and_plots_take_labels_and_precision_from_metrics_names(results, monkeypatch):
    _, _, summary = results
    metrics = ["psnr", "ssim", "l1", "lpips"]

    def headings(table):
        return [line.strip("*") for line in to_markdown(table).splitlines() if line.startswith("**")]

    table, figure = build_table(summary, DATASET, VARIANTS), metrics_figure(summary, DATASET, VARIANTS)
    assert headings(table) == ["PSNR↑", "SSIM↑", "L1 (%)↓", "LPIPS↓"]
    assert titles(figure) == ["PSNR (dB) ↑", "SSIM ↑", "L1 ↓", "LPIPS ↓"]
    # Both name each metric by the same label from metrics.names.
    for heading, title, metric in zip(headings(table), titles(figure), metrics):
        assert heading.startswith(metric_format(metric).label)
        assert title.startswith(metric_format(metric).label)
    assert metric_format("made_up") == MetricFormat("MADE_UP")  # unknown: upper-case, 4 decimals

    # Change only metrics.names: the tables and the plots follow, label and precision alike.
    monkeypatch.setitem(METRIC_FORMATS, "psnr", MetricFormat("Peak SNR", unit="decibel", decimals=3))
    monkeypatch.setitem(METRIC_FORMATS, "ssim", MetricFormat("SSIM", scale=100.0, decimals=1))
    table = build_table(summary, DATASET, VARIANTS)
    assert headings(table)[:2] == ["Peak SNR↑", "SSIM (%)↑"]
    md = to_markdown(table)
    assert "| **26.000 ± 1.414** |" in md and "| 21.000 ± 1.414 |" in md and "| 80.0 ± 0.0 | 80.0 ± 0.0 |" in md
    assert "Peak SNR$\\uparrow$" in to_latex(table)
    assert titles(metrics_figure(summary, DATASET, VARIANTS))[:2] == ["Peak SNR (decibel) ↑", "SSIM ↑"]


# ----------------------------------------------------------------------------------------------
# reporting.compare


def test_compare_two_per_image_files_gives_paired_intervals(results, tmp_path, capsys):
    root, paths, _ = results
    images = read_per_images(per_image_paths(paths))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(a, images[images["variant"] == "pconv_base"])
    write_csv(b, images[images["variant"] == "rfr_full"])
    compare_main([str(a), str(b), "--metrics", "psnr", "l1", "--resamples", "500", "--out", str(tmp_path / "d.csv")])
    printed = capsys.readouterr().out
    assert "Δ = B − A; A = mini/pconv_base, B = mini/rfr_full" in printed
    assert re.search(r"\| 0\.1-0\.2 \| PSNR \| 21\.00 ± 1\.41 \| 26\.00 ± 1\.41 \| \+5\.00 \| "
                     r"\[\+\d\.\d\d, \+\d\.\d\d\] \| better \| 2 \| 8 \|", printed), printed
    rows = pd.read_csv(tmp_path / "d.csv", keep_default_na=False)
    assert list(rows["bucket"]) == ["0.1-0.2", "0.2-0.3", "all"] * 2
    l1 = rows[(rows["metric"] == "l1") & (rows["bucket"] == "0.2-0.3")].iloc[0]
    assert (l1["delta"], l1["mark"], l1["method"]) == (pytest.approx(0.02), "worse", "bootstrap")

    # An external method scored once (seed 0) against our run's seed 1: paired by image and mask file,
    # refused when the masks differ (hole ratios do).
    notes = []
    seed1 = tmp_path / "seed1.csv"
    write_csv(seed1, images[(images["variant"] == "rfr_full") & (images["seed"] == 1)])
    external = tmp_path / "external.csv"
    write_csv(external, images[(images["variant"] == "pconv_base") & (images["seed"] == 0)]
              .assign(variant="other_method", hole_ratio=lambda f: f["hole_ratio"] + 0.0001))
    found, label_a, label_b = compare_files(external, seed1, metrics=["psnr"], bootstrap=Bootstrap(resamples=200),
                                            warn=notes.append)
    assert (label_a, label_b) == ("mini/other_method", "mini/rfr_full")
    assert "different seeds" in notes[0] and found.iloc[0]["delta"] == pytest.approx(27.0 - 20.0)
    seed0 = write_csv(tmp_path / "seed0.csv", images[(images["variant"] == "pconv_base") & (images["seed"] == 0)])
    with pytest.raises(ValueError, match="same masks"):  # seed 0's masks are not seed 1's
        compare_files(seed0, seed1, metrics=["psnr"], bootstrap=Bootstrap(resamples=200), warn=notes.append)


def test_compare_summaries_gives_mean_and_std_over_seeds(results, tmp_path, capsys):
    root, paths, _ = results
    summary = root / "summary.csv"
    with pytest.raises(SystemExit, match="several runs"):
        compare_main([str(summary), str(summary)])
    compare_main([str(summary), str(summary), "--dataset", DATASET, "--a-variant", "pconv_base",
                  "--b-variant", "rfr_full", "--metrics", "psnr"])
    printed = capsys.readouterr().out
    assert "| 0.1-0.2 | PSNR | 21.00 ± 1.41 | 26.00 ± 1.41 | +5.00 | ± 0.00 |  | 2 | 2 |" in printed
    assert "[" not in printed.split("|:---|")[-1]  # no interval from summaries
    # A per-image file against a summary: the per-image side is reduced to its means.
    found, _, _ = compare_files(per_image_paths(paths)[0], summary, a_variant="pconv_base", b_variant="rfr_full",
                                dataset=DATASET, metrics=["psnr"], warn=lambda m: None)
    first = found.iloc[0]  # A holds seed 0 only, B seeds 0 and 1: the difference on the shared seed 0
    assert (first["bucket"], first["method"], first["seeds"]) == ("0.1-0.2", "none", 1)
    assert first["delta"] == pytest.approx(25.0 - 20.0) and first["b_mean"] == pytest.approx(26.0)


# ----------------------------------------------------------------------------------------------
# The report's captions: reStructuredText templates that Snakemake renders with Jinja2


@pytest.mark.parametrize("reference_table", [None, "reference/published.csv"])
@pytest.mark.parametrize("seeds", [[0], [0, 1, 2]])
def test_every_report_caption_renders_as_restructuredtext_without_a_system_message(reference_table, seeds):
    """A caption line that starts with a space after a false {% if %} became an "Unexpected
    indentation" error box in the report."""
    from types import SimpleNamespace

    import docutils.core
    import docutils.nodes
    import jinja2

    params = SimpleNamespace(seeds=seeds, seed=seeds[0], n=36, reference="baseline", variants=["baseline", "rfr"],
                             bootstrap={"level": 0.95, "resamples": 2000, "seed": 0}, reference_table=reference_table)
    config = {"datasets": {"mini_natural": {}}, "seeds": seeds,
              "report": {"reference": "baseline", "bootstrap": {"level": 0.95, "resamples": 2000}}}
    snakemake = SimpleNamespace(params=params, wildcards=SimpleNamespace(dataset="mini_natural"), config=config)
    captions = sorted((REPO / "workflow" / "report").glob("*.rst"))
    assert len(captions) >= 8
    for path in captions:
        text = jinja2.Template(path.read_text()).render(snakemake=snakemake)
        doctree = docutils.core.publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
        messages = [m.astext() for m in doctree.findall(docutils.nodes.system_message)]
        assert not messages, (path.name, messages)


# The workflow's report, opened in headless Chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPORT_CONFIG = {
    "results_dir": "results", "seeds": [0, 1], "image_size": 32, "width": 8, "threads_per_job": 1,
    "datasets": {"mini_natural": {"kind": "mini_natural", "train_count": 8, "test_count": 4}},
    "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 4},
    "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "log_every": 1, "precision": "fp32"},
    "eval": {"batch_size": 4, "samples": 1},
    "variants": {"mean_fill": {"backbone": "mean_fill"}, "baseline": {"backbone": "encdec"}},
    "report": {"reference_table": "published.csv"},  # written by report_run, relative to the workdir
}
# A made-up published value (the format of reference/README.md) for one cell of the report run.
PUBLISHED = ("paper,table,dataset,mask_protocol,row,variant,bucket,metric,value,printed,source\n"
             "test_paper,Table 1,mini_natural,nvidia_test,Baseline,baseline,0.1-0.3,psnr,20.0,20.00,made up\n")


def snakemake(workdir, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                           str(workdir), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in Path(workdir).glob("results/logs/**/*.log"))
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}")
    return proc


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """A tiny real run (a classical row and a trained one, two seeds, LPIPS/FID weights absent) and its
    `snakemake --report`: half a minute to a minute on two cores."""
    workdir = tmp_path_factory.mktemp("report_dag")
    config = workdir / "report.yaml"
    config.write_text(yaml.safe_dump(REPORT_CONFIG, sort_keys=False))
    (workdir / "published.csv").write_text(PUBLISHED)
    snakemake(workdir, "--cores", "2", "--configfile", str(config))
    snakemake(workdir, "--configfile", str(config), "--report", str(workdir / "report.html"))
    return workdir, config


def test_tables_rule_declares_the_per_image_files_and_writes_both_tables(report_run):
    workdir, config = report_run
    proc = snakemake(workdir, "-n", "-f", "results/tables/mini_natural.csv", "results/plots/mini_natural_paired.png",
                     "--configfile", str(config))
    dry = proc.stdout + proc.stderr
    found = re.search(r"rule tables:\n\s+input: (.*)\n", dry)
    assert found, dry
    inputs = found.group(1).split(", ")
    assert "results/summary.csv" in inputs and "published.csv" in inputs  # report.reference_table
    expected = [f"results/runs/mini_natural/{v}/seed{s}/eval/per_image.csv"
                for v in REPORT_CONFIG["variants"] for s in (0, 1)]
    assert [i for i in inputs if i.endswith("per_image.csv")] == expected
    plots = re.search(r"rule plots:\n\s+input: (.*)\n", dry).group(1).split(", ")
    assert "results/tables/mini_natural_ablation.csv" in plots
    assert {f"results/runs/mini_natural/baseline/seed{s}/train_log.csv" for s in (0, 1)} <= set(plots)

    tables = workdir / "results" / "tables"
    md = (tables / "mini_natural_ablation.md").read_text()
    assert "### mini_natural: Δ to baseline per hole-ratio bucket" in md and "| baseline (reference) |" in md
    rows = [line.split(" | ")[0] for line in md.split("**PSNR↑ Δ**")[1].split("**SSIM")[0].splitlines()
            if line.startswith("| ") and not line.startswith("| Variant")]
    assert rows == ["| mean_fill", "| baseline (reference)"]  # config order
    for name in ("mini_natural.md", "mini_natural_ablation.md"):
        text = (tables / name).read_text()
        assert not [c for c in md_cells(text) if "missing" in c], name
        assert "LPIPS (missing: alexnet-owt-7be5be79.pth)" in text and "pt_inception-2015-12-05-6726825d.pth" in text
    # the published value beside our one cell that has it, nowhere else
    published = [c for c in md_cells((tables / "mini_natural.md").read_text()) if "pub." in c]
    assert len(published) == 1 and re.fullmatch(r"[*]*\d+\.\d\d ± \d+\.\d\d[*]* \(pub\. 20\.00; Δ [+-]\d+\.\d\d\)",
                                                 published[0]), published
    assert "pub." not in (tables / "mini_natural_ablation.md").read_text()
    over = pd.read_csv(workdir / "results" / "summary_over_seeds.csv")
    assert set(over.loc[over["metric"] == "psnr", "seeds"]) == {2}


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: the
    browser reads commands on fd 3 and answers on fd 4, each message JSON ending in a NUL byte)."""

    def __init__(self, binary, user_data_dir, width=1400, height=900, log=None):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # runs in the child before exec: put the pipe ends on fds 3 and 4
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
                                      f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}",
                                      "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=log or subprocess.DEVNULL, preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf, self._id = b"", 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read(self, timeout):
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_chrome], [], [], timeout)
            if not ready:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=False, timeout=30, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(max(0.1, deadline - time.monotonic()))
            if reply.get("id") == self._id:  # anything else is an event: not needed here
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression, context=None):
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context is not None:
            params["contextId"] = context
        result = self.call("Runtime.evaluate", session=True, **params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:100]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=20, context=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression, context)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"never true: {expression}")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return path

    def frame_context(self, url_prefix):
        """A JavaScript context inside the (first) frame whose URL starts with url_prefix."""
        frames, todo = [], [self.call("Page.getFrameTree", session=True)["frameTree"]]
        while todo:
            node = todo.pop()
            frames.append(node["frame"])
            todo.extend(node.get("childFrames", []))
        for frame in frames:
            if frame.get("url", "").startswith(url_prefix):
                return self.call("Page.createIsolatedWorld", session=True, frameId=frame["id"])["executionContextId"]
        raise AssertionError(f"no frame with a URL starting {url_prefix!r}: {[f.get('url', '')[:40] for f in frames]}")

    def close(self):
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def _click_nav(browser, text):
    """Back to the report's menu, then a click on the menu entry `text` (a result category)."""
    browser.evaluate("(() => { const home = document.querySelector('nav ol a'); if (home) home.click(); })()")
    time.sleep(0.2)
    assert browser.evaluate("(t => { const a = [...document.querySelectorAll('nav a')].find(a => a.innerText.trim() == t);"
                            " if (!a) return false; a.click(); return true; })(%s)" % json.dumps(text)), text
    time.sleep(0.3)


def _press(browser, label, icon):
    """Presses the `icon` button ("eye": show, "information-circle": caption) of the result labelled
    `label` in the results list: the report shows a label with few values as a toggle above a
    single row, one with more values as a column of the rows."""
    browser.evaluate("(v => { const i = [...document.querySelectorAll('input[type=radio]')].find(i => i.value == v);"
                     " if (i) i.click(); })(%s)" % json.dumps(label))
    time.sleep(0.2)
    assert browser.evaluate(
        "(([v, icon]) => { const rows = [...document.querySelectorAll('nav tbody tr')];"
        " const row = rows.find(r => [...r.querySelectorAll('td')].some(td => td.innerText.trim() == v))"
        " || (rows.length == 1 ? rows[0] : null);"
        " const button = row && row.querySelector(`a[iconname=\"${icon}\"]`);"
        " if (!button) return false; button.click(); return true; })(%s)" % json.dumps([label, icon])), label
    time.sleep(0.4)


def _view(browser, label):
    _press(browser, label, "eye")


def _caption(browser, label):
    """The side panel's text (with the caption) after pressing the result's info button."""
    _press(browser, label, "information-circle")
    return browser.evaluate("document.querySelector('nav').innerText")


def test_report_renders_tables_plots_and_config_in_headless_chromium(report_run, tmp_path):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    workdir, _ = report_run
    shots = Path(os.environ.get("REPORT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with open(tmp_path / "chromium.log", "wb") as log:
        browser = Chromium(binary, tmp_path / "profile", log=log)
        try:
            browser.call("Page.navigate", session=True, url=(workdir / "report.html").as_uri())
            browser.wait_for("typeof app !== 'undefined' && document.querySelector('nav') !== null")
            menu = browser.evaluate("document.querySelector('nav').innerText")
            assert all(word in menu for word in ("Tables", "Plots", "Config")), menu

            # The ablation table: Δ with intervals and marks, rendered as tables in the report's frame.
            _click_nav(browser, "Tables")
            _view(browser, "ablation: Δ to the reference")
            browser.wait_for("document.querySelector('iframe') !== null")
            frame = browser.frame_context("data:text/html")
            tables = browser.wait_for("document.readyState == 'complete' && document.querySelectorAll('table').length",
                                      context=frame)
            assert tables == 3  # PSNR, SSIM, L1: LPIPS/FID/KID were not computed
            text = browser.evaluate("document.body.innerText", context=frame)
            assert "mini_natural: Δ to baseline per hole-ratio bucket" in text and "baseline (reference)" in text
            # "Δ [lo, hi]": breakable before the interval only (no-break space inside it)
            assert re.search(r"[+-]\d+\.\d\d \[[+-]\d+\.\d\d,\u00a0[+-]\d+\.\d\d\]", text), text
            assert "hierarchical paired bootstrap" in text and "Seeds: 0, 1." in text
            assert "missing: pt_inception-2015-12-05-6726825d.pth" in text.split("Not computed")[1]
            cells = browser.evaluate("[...document.querySelectorAll('td')].map(td => td.innerText)", context=frame)
            assert len(cells) == 3 * len(REPORT_CONFIG["variants"]) * 2 and not [c for c in cells if "missing" in c]
            width = browser.evaluate("document.querySelector('table').getBoundingClientRect().width", context=frame)
            assert 200 < width < 1000  # laid out as a table, narrow enough for the page
            browser.screenshot(shots / "report_ablation.png")
            caption = _caption(browser, "ablation: Δ to the reference")
            assert "n = 4 test images per bucket and seed; 2 seed(s) (0, 1)" in caption
            assert "2000 resamples" in caption and "resample the seeds, then the images" in caption

            # The absolute table.
            _click_nav(browser, "Tables")
            _view(browser, "absolute: mean ± std over seeds")
            frame = browser.frame_context("data:text/html")
            text = browser.wait_for("document.readyState == 'complete' && document.body.innerText", context=frame)
            assert "mini_natural: metrics per hole-ratio bucket" in text
            assert re.search(r"\d\.\d\d\u00a0±\u00a0\d\.\d\d", text), text  # a cell, unbroken
            assert "Cells: mean ± sample std over 2 seeds (0, 1)." in text
            cells = text.replace("\u00a0", " ")
            assert "(pub. 20.00; Δ " in cells and "test_paper Table 1 (mask protocol nvidia_test" in cells
            caption = _caption(browser, "absolute: mean ± std over seeds")
            assert "mean ± sample standard deviation over 2 seeds" in caption and "published.csv" in caption

            # Every plot is an image that decoded.
            for label in ("metrics per bucket", "Δ to the reference", "training losses", "qualitative"):
                _click_nav(browser, "Plots")
                _view(browser, label)
                size = browser.wait_for("(() => { const i = document.querySelector('img[src^=\"data:image/png\"]');"
                                        " return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null })()")
                assert size[0] > 300 and size[1] > 200, (label, size)
                if label == "Δ to the reference":
                    browser.screenshot(shots / "report_paired.png")
                    assert "hierarchical paired bootstrap" in _caption(browser, label)

            # The resolved config.
            _click_nav(browser, "Config")
            _view(browser, "resolved config")
            frame = browser.frame_context("data:text/html")
            text = browser.wait_for("document.readyState == 'complete' && document.body.innerText", context=frame)
            assert "seeds:" in text and "reference: baseline" in text and "resamples: 2000" in text
        finally:
            browser.close()
    with Image.open(shots / "report_ablation.png") as im:
        assert im.size == (1400, 900) and np.asarray(im.convert("L")).std() > 10  # not a blank page
