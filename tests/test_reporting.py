"""Tables and plots from a tiny fake results tree (2 variants, 2 buckets, 2 seeds)."""
from __future__ import annotations

import contextlib
import math
import os
import re
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.fileio import write_csv
from metrics.names import METRIC_FORMATS, MetricFormat, metric_format
from reporting import read_summary
from reporting.aggregate import aggregate
from reporting.aggregate import main as aggregate_main
from reporting.plots import loss_figure, metrics_figure, qualitative_figure, write_plots
from reporting.plots import main as plots_main
from reporting.tables import build_table, footnotes, to_latex, to_markdown, write_tables
from reporting.tables import main as tables_main

DATASET = "mini"
VARIANTS = ["pconv_base", "rfr_full"]
BUCKETS = ["0.2-0.3", "0.1-0.2"]  # written out of order on purpose: tables sort by lower bound
FID_NOTE = "missing: pt_inception-2015-12-05-6726825d.pth"
NO_VGG = "no_vgg: perceptual and style losses dropped (VGG16 weights missing)"
TRAIN_NOTES = {"pconv_base": NO_VGG, "rfr_full": f"{NO_VGG}; short: trained for 10 steps only"}

# (variant, bucket) -> per-seed values. PSNR: rfr best at 0.1-0.2, pconv best at 0.2-0.3.
# L1 (lower is better): rfr best at 0.1-0.2, pconv best at 0.2-0.3; a higher-is-better bug flips both.
PSNR = {("pconv_base", "0.1-0.2"): [20.0, 22.0], ("rfr_full", "0.1-0.2"): [25.0, 27.0],
        ("pconv_base", "0.2-0.3"): [19.0, 19.0], ("rfr_full", "0.2-0.3"): [18.0, 18.0]}
L1 = {("pconv_base", "0.1-0.2"): [0.05, 0.05], ("rfr_full", "0.1-0.2"): [0.03, 0.03],
      ("pconv_base", "0.2-0.3"): [0.04, 0.04], ("rfr_full", "0.2-0.3"): [0.06, 0.06]}
N = 4
PLOTS = ("loss", "metrics", "qualitative")


def _png(path, hole_colour=None, size=16):
    """A gradient picture; hole_colour paints the centre square (white = masked input)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    image = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 128, np.uint8)], -1)
    if hole_colour is not None:
        image[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = hole_colour
    Image.fromarray(image).save(path)


def make_results(root, variants=VARIANTS, buckets=BUCKETS, seeds=(0, 1), logs=True):
    """A results tree like training.evaluate / training.train write it; returns the summary paths."""
    paths = []
    for vi, variant in enumerate(variants):
        for seed in seeds:
            run = root / "runs" / DATASET / variant / f"seed{seed}"
            rows = []
            for bucket in buckets:
                psnr = PSNR.get((variant, bucket), [20.0, 21.0])[seed % 2]
                l1 = L1.get((variant, bucket), [0.05, 0.05])[seed % 2]
                for metric, value in [("psnr", psnr), ("ssim", 0.8 + 0.01 * vi), ("l1", l1),
                                      ("lpips", 0.1 + 0.01 * seed)]:
                    rows.append([DATASET, variant, seed, bucket, metric, value, N, ""])
                rows.append([DATASET, variant, seed, bucket, "fid", math.nan, 0, FID_NOTE])
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
            paths.append(run / "eval" / "summary.csv")
            if logs:
                steps = np.arange(0, 50, 10)
                log = pd.DataFrame({"step": steps, "phase": ["train"] * 3 + ["finetune"] * 2,
                                    "lr": [2e-4] * 3 + [5e-5] * 2, "total": 10.0 / (steps + 1 + vi),
                                    "hole": 6.0 / (steps + 1), "valid": 1.0 / (steps + 1), "tv": 0.01 + 0 * steps,
                                    "seconds": steps * 0.1})
                if variant == "rfr_full":
                    log["distill_cross"] = 0.5 / (steps + 1)
                log.to_csv(run / "train_log.csv", index=False)
    return paths


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


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    paths = make_results(root)
    summary = aggregate(paths)
    write_csv(root / "summary.csv", summary)
    return root, paths, summary


# ----------------------------------------------------------------------------------------------
# aggregate


def test_aggregate_concatenates_all_rows(results, tmp_path):
    root, paths, _ = results
    out = tmp_path / "summary.csv"
    aggregate_main(["--out", str(out), *map(str, reversed(paths))])
    combined = read_summary(out)
    inputs = pd.concat([read_summary(p) for p in paths])
    assert len(combined) == len(inputs) == 2 * 2 * 2 * 5
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


# ----------------------------------------------------------------------------------------------
# tables


def test_table_rows_columns_and_means(results):
    _, _, summary = results
    table = build_table(summary, DATASET, ["rfr_full", "pconv_base"])
    assert list(table.index) == ["rfr_full", "pconv_base"]
    assert list(dict.fromkeys(table.columns.get_level_values("bucket"))) == ["0.1-0.2", "0.2-0.3"]
    assert list(dict.fromkeys(table.columns.get_level_values("metric"))) == ["psnr", "ssim", "l1", "lpips", "fid"]
    assert table.loc["pconv_base", ("0.1-0.2", "psnr", "mean")] == pytest.approx(21.0)
    assert table.loc["pconv_base", ("0.1-0.2", "psnr", "std")] == pytest.approx(math.sqrt(2))
    assert table.loc["pconv_base", ("0.1-0.2", "psnr", "seeds")] == 2
    # Default order: first appearance.
    assert list(build_table(summary, DATASET).index) == VARIANTS

    md = to_markdown(table)
    header = md.splitlines()[2]
    assert header.startswith("| Variant | 0.1-0.2 PSNR↑ | 0.1-0.2 SSIM↑ | 0.1-0.2 L1 (%)↓ | 0.1-0.2 LPIPS↓ | 0.1-0.2 FID↓")
    rows = [line for line in md.splitlines() if line.startswith("| rfr_full") or line.startswith("| pconv_base")]
    assert [r.split(" | ")[0] for r in rows] == ["| rfr_full", "| pconv_base"]
    assert "| 21.00 ± 1.41 |" in rows[1]  # mean ± std over the two seeds
    assert "5.00" in rows[1]  # L1 0.05 shown in percent


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
    assert r"\textbf{26.00 $\pm$ 1.41}" in tex and r"\textbf{21.00" not in tex


def test_missing_cells_show_note_and_are_never_best(results, tmp_path):
    _, _, summary = results
    table = build_table(summary, DATASET, VARIANTS)
    assert (table.xs(("fid", "note"), level=("metric", "field"), axis=1) == FID_NOTE).all().all()
    assert not table.xs(("fid", "best"), level=("metric", "field"), axis=1).any().any()
    paths = write_tables(summary, DATASET, tmp_path, VARIANTS)
    md_rows = [line for line in paths["md"].read_text().splitlines() if line.startswith("| pconv_base")]
    assert md_rows[0].count(FID_NOTE) == 2  # one per bucket
    csv = pd.read_csv(paths["csv"], keep_default_na=False)
    assert (csv["0.1-0.2 fid"] == FID_NOTE).all()
    assert list(csv["0.1-0.2 fid best"]) == [False, False]
    assert list(csv["0.1-0.2 psnr best"]) == [False, True]
    assert csv.loc[0, "0.1-0.2 psnr"] == pytest.approx(21.0)  # raw mean, full precision
    assert "missing: pt\\_inception-2015-12-05-6726825d.pth" in paths["tex"].read_text()

    # A variant missing LPIPS while two others have it: the lowest real value is best, the hole is not
    # (a NaN treated as 0 would win a lower-is-better column).
    extra = summary.copy()
    extra.loc[(extra["variant"] == "rfr_full") & (extra["metric"] == "lpips"), "value"] -= 0.05
    third = extra[extra["variant"] == "rfr_full"].assign(variant="mat")
    third.loc[third["metric"] == "lpips", ["value", "note"]] = [math.nan, "missing: alexnet-owt-7be5be79.pth"]
    table = build_table(pd.concat([extra, third]), DATASET)
    note, best = table[("0.1-0.2", "lpips", "note")], table[("0.1-0.2", "lpips", "best")]
    assert note["mat"] == "missing: alexnet-owt-7be5be79.pth"
    assert best.to_dict() == {"pconv_base": False, "rfr_full": True, "mat": False}
    # The fixture's LPIPS is equal for every variant: nothing stands out, nothing is marked.
    assert not build_table(summary, DATASET).xs(("lpips", "best"), level=("metric", "field"), axis=1).any().any()
    assert "missing: alexnet-owt-7be5be79.pth" in to_markdown(table)


def test_footnotes_list_n_and_train_notes_with_variants(results):
    _, _, summary = results
    table = build_table(summary, DATASET, VARIANTS)
    notes = footnotes(table)
    assert any(line.startswith(f"n = {N} test images per bucket") and "FID and KID are biased" in line
               for line in notes)
    assert "pconv_base, rfr_full: perceptual and style losses dropped (VGG16 weights missing)" in notes
    assert "rfr_full: trained for 10 steps only" in notes
    md = to_markdown(table)
    assert "- pconv_base, rfr_full: perceptual and style losses dropped (VGG16 weights missing)" in md
    # Restricting the rows restricts the variants named in the footnote.
    assert "pconv_base: perceptual and style losses dropped (VGG16 weights missing)" in \
        footnotes(build_table(summary, DATASET, ["pconv_base"]))


def test_tex_is_an_escaped_booktabs_tabular(results, tmp_path):
    _, _, summary = results
    out = tmp_path / "summary.csv"
    summary.to_csv(out, index=False)
    tables_main(["--summary", str(out), "--dataset", DATASET, "--out-dir", str(tmp_path / "tables")])
    tex = (tmp_path / "tables" / f"{DATASET}.tex").read_text()
    assert tex.startswith(r"\begin{tabular}{l" + "r" * 10 + "}") and tex.rstrip().endswith(r"\end{tabular}")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"pconv\_base" in tex and r"rfr\_full" in tex
    assert not re.search(r"(?<!\\)_", tex)  # every underscore escaped
    assert "PSNR$\\uparrow$" in tex and "L1 (\\%)$\\downarrow$" in tex
    assert tex.count("{") == tex.count("}")
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == 2 and all(row.count(" & ") == 10 for row in body)  # 1 + 2 buckets x 5 metrics columns
    assert {p.suffix for p in (tmp_path / "tables").iterdir()} == {".csv", ".md", ".tex"}


# ----------------------------------------------------------------------------------------------
# plots


def test_plots_are_written_as_pngs(results, tmp_path):
    root, _, _ = results
    logs, samples = run_files(root)
    paths = write_plots(root / "summary.csv", DATASET, VARIANTS, tmp_path, logs, samples, seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{DATASET}_{k}.png" for k in PLOTS]
    for path in paths.values():
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
            # Not a blank canvas: something was drawn.
            assert np.asarray(im.convert("L")).std() > 5


def test_figures_have_expected_panels(results):
    root, _, summary = results
    logs, samples = run_files(root)
    grid = qualitative_figure(samples, DATASET, VARIANTS, seed=0)
    assert grid.get_suptitle() == f"{DATASET}: qualitative comparison (seed 0)"
    spec = grid.axes[0].get_subplotspec().get_gridspec()
    assert (spec.nrows, spec.ncols) == (2, len(VARIANTS) + 2)  # one row per bucket
    assert len(grid.axes) == 2 * (len(VARIANTS) + 2)
    assert [ax.get_title() for ax in grid.axes[:4]] == ["masked input", *VARIANTS, "ground truth"]
    assert grid.axes[1].images  # the variant's output image is shown
    # one row per bucket, each showing a different kept image
    assert [grid.axes[i].get_ylabel() for i in (0, 4)] == ["hole 0.1-0.2\nimg_000", "hole 0.2-0.3\nimg_001"]

    metrics = metrics_figure(summary, DATASET, VARIANTS)
    assert [ax.get_title() for ax in metrics.axes] == ["PSNR (dB) ↑", "SSIM ↑", "L1 ↓", "LPIPS ↓", "FID ↓"]
    fid = metrics.axes[4]
    assert not fid.lines and any(FID_NOTE in t.get_text() for t in fid.texts)
    assert len(metrics.axes[0].lines) >= 2  # one line per variant

    loss = loss_figure(logs, DATASET, VARIANTS, seed=0)
    assert titles(loss) == ["total loss", "hole", "valid", "tv", "distill_cross"]
    assert loss.axes[0].get_yscale() == "log"
    assert loss.get_suptitle() == f"{DATASET}: training losses (seed 0)"


def test_single_bucket_without_train_logs(tmp_path):
    paths = make_results(tmp_path, variants=["biharmonic", "mean_fill"], buckets=["0.3-0.4"], seeds=(0,), logs=False)
    summary = aggregate(paths)
    table = build_table(summary, DATASET)
    assert "±" not in to_markdown(table) and "One seed per variant." in footnotes(table)
    assert not any(line.startswith("biharmonic") for line in footnotes(table))  # no train notes
    logs, samples = run_files(tmp_path, ["biharmonic", "mean_fill"])
    assert logs == {}
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


def test_plots_cli_takes_a_path_per_variant(results, tmp_path, capsys):
    root, _, _ = results
    logs, samples = run_files(root)
    args = ["--summary", str(root / "summary.csv"), "--dataset", DATASET, "--out-dir", str(tmp_path),
            "--variants", *VARIANTS, "--seed", "0"]
    args += [a for v, path in samples.items() for a in ("--samples", f"{v}={path}")]
    plots_main(args + [a for v, path in logs.items() for a in ("--log", f"{v}={path}")])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{DATASET}_{k}.png" for k in PLOTS]
    assert capsys.readouterr().out.count(".png") == 3
    with pytest.raises(SystemExit):
        plots_main([*args, "--log", "rfr_full"])  # no path
    with pytest.raises(SystemExit, match=re.escape(str(tmp_path / "absent.csv"))):
        plots_main([*args, "--log", f"rfr_full={tmp_path / 'absent.csv'}"])


# ----------------------------------------------------------------------------------------------
# metric labels and precision: defined once, in metrics.names


def test_tables_and_plots_take_labels_and_precision_from_metrics_names(results, monkeypatch):
    _, _, summary = results
    metrics = ["psnr", "ssim", "l1", "lpips", "fid"]

    def headers(table):
        return to_markdown(table).splitlines()[2].split(" | ")[1:6]

    table, figure = build_table(summary, DATASET, VARIANTS), metrics_figure(summary, DATASET, VARIANTS)
    assert headers(table) == ["0.1-0.2 PSNR↑", "0.1-0.2 SSIM↑", "0.1-0.2 L1 (%)↓", "0.1-0.2 LPIPS↓", "0.1-0.2 FID↓"]
    assert titles(figure) == ["PSNR (dB) ↑", "SSIM ↑", "L1 ↓", "LPIPS ↓", "FID ↓"]
    # Both name each metric by the same label from metrics.names.
    for header, title, metric in zip(headers(table), titles(figure), metrics):
        assert header.split(" ", 1)[1].startswith(metric_format(metric).label)
        assert title.startswith(metric_format(metric).label)
    assert metric_format("made_up") == MetricFormat("MADE_UP")  # unknown: upper-case, 4 decimals

    # Change only metrics.names: the tables and the plots follow, label and precision alike.
    monkeypatch.setitem(METRIC_FORMATS, "psnr", MetricFormat("Peak SNR", unit="decibel", decimals=3))
    monkeypatch.setitem(METRIC_FORMATS, "ssim", MetricFormat("SSIM", scale=100.0, decimals=1))
    table = build_table(summary, DATASET, VARIANTS)
    assert headers(table)[:2] == ["0.1-0.2 Peak SNR↑", "0.1-0.2 SSIM (%)↑"]
    md = to_markdown(table)
    assert "| **26.000 ± 1.414** |" in md and "| 21.000 ± 1.414 |" in md and "| 80.0 ± 0.0 | 5.00 ± 0.00 |" in md
    assert "Peak SNR$\\uparrow$" in to_latex(table)
    assert titles(metrics_figure(summary, DATASET, VARIANTS))[:2] == ["Peak SNR (decibel) ↑", "SSIM ↑"]
