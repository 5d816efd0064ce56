"""The plots (metric curves, paired differences, training losses, qualitative grid) and their CLI
from the fake results tree; tables and plots take labels and precision from harness.names."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.fake_results import DATASET, FID_NOTE, VARIANTS, make_results, run_files
from inpaint_bench.cli.plots import main as plots_main
from inpaint_bench.harness import metric_registry
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.names import (
    SUMMARY_COLUMNS,
    VALIDATION_COLUMNS,
    MetricFormat,
    metric_format,
)
from inpaint_bench.reporting.absolute import build_table, footnotes, to_latex, to_markdown
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.plots import (
    loss_figure,
    metrics_figure,
    paired_figure,
    qualitative_figure,
    read_ablation,
    validation_figure,
    write_plots,
)

PLOTS = ("loss", "metrics", "paired", "qualitative")


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

    # Change only the metric's registry entry: the tables and the plots follow, label and precision alike.
    registered = metric_registry._METRICS
    monkeypatch.setitem(registered, "psnr", dataclasses.replace(
        registered["psnr"], format=MetricFormat("Peak SNR", unit="decibel", decimals=3)))
    monkeypatch.setitem(registered, "ssim", dataclasses.replace(
        registered["ssim"], format=MetricFormat("SSIM", scale=100.0, decimals=1)))
    table = build_table(summary, DATASET, VARIANTS)
    assert headings(table)[:2] == ["Peak SNR↑", "SSIM (%)↑"]
    md = to_markdown(table)
    assert "| **26.000 ± 1.414** |" in md and "| 21.000 ± 1.414 |" in md and "| 80.0 ± 0.0 | 80.0 ± 0.0 |" in md
    assert "Peak SNR$\\uparrow$" in to_latex(table)
    assert titles(metrics_figure(summary, DATASET, VARIANTS))[:2] == ["Peak SNR (decibel) ↑", "SSIM ↑"]


def test_the_validation_plot_gives_each_row_the_colour_of_the_other_plots(tmp_path):
    """The validation figure lists learned rows before classical ones; its colours must still follow
    the run's row order, as every other figure's do (a reader matches lines across figures by colour)."""
    order = ["mean_fill", "baseline", "rfr_kca"]  # the config's order: a classical row first
    runs, summary = {}, []
    for variant in order:
        for seed in (0, 1):
            summary += [["d", variant, seed, "0.1-0.2", m, v, 4, "", "", "default"]
                        for m, v in (("psnr", 25.0 + seed), ("ssim", 0.8), ("l1", 0.02))]
    for variant in order[1:]:
        for seed in (0, 1):
            path = tmp_path / variant / f"seed{seed}.csv"
            rows = [{"step": step, "bucket": "0.1-0.2", "metric": m, "value": 20.0 + step, "n": 2}
                    for step in (2, 4) for m in ("psnr", "ssim", "l1")]
            write_csv(path, pd.DataFrame(rows, columns=VALIDATION_COLUMNS))
            runs.setdefault(variant, []).append(path)
    classical = tmp_path / "mean_fill.csv"
    write_csv(classical, pd.DataFrame([{"step": 0, "bucket": "0.1-0.2", "metric": m, "value": 21.0, "n": 2}
                                       for m in ("psnr", "ssim", "l1")], columns=VALIDATION_COLUMNS))

    def colours(fig):
        return {line.get_label(): line.get_color() for line in fig.axes[0].get_lines()
                if not line.get_label().startswith("_")}

    metrics = colours(metrics_figure(pd.DataFrame(summary, columns=SUMMARY_COLUMNS), "d", order))
    validation = colours(validation_figure(runs, {"mean_fill": classical}, {v: 8 for v in order}, "d", order=order))
    assert set(validation) == set(order) and validation == {v: metrics[v] for v in validation}
    assert len(set(validation.values())) == 3


def test_a_collapsed_validation_point_is_marked_at_the_edge_not_setting_the_scale(tmp_path):
    """Before: rfr's point at PSNR -30.7 dB (L1 92,499) stretched the axis until every curve was flat."""
    runs = {}
    for variant, values in (("rfr", {"psnr": [14.0, -30.7, 17.0], "l1": [0.08, 92499.0, 0.05]}),
                            ("baseline", {"psnr": [13.0, 15.0, 16.0], "l1": [0.09, 0.07, 0.06]})):
        path = tmp_path / variant / "seed0.csv"
        rows = [{"step": step, "bucket": "0.1-0.2", "metric": metric, "value": value, "n": 2}
                for metric, series in {**values, "ssim": [0.5, 0.6, 0.7]}.items()
                for step, value in zip((200, 400, 600), series)]
        write_csv(path, pd.DataFrame(rows, columns=VALIDATION_COLUMNS))
        runs[variant] = [path]
    classical = tmp_path / "mean_fill.csv"
    write_csv(classical, pd.DataFrame([{"step": 0, "bucket": "0.1-0.2", "metric": m, "value": v, "n": 2}
                                       for m, v in (("psnr", 12.0), ("ssim", 0.4), ("l1", 0.1))],
                                      columns=VALIDATION_COLUMNS))
    fig = validation_figure(runs, {"mean_fill": classical}, {"rfr": 4, "baseline": 4}, "d")
    psnr, ssim, l1 = fig.axes[:3]
    assert 10 < psnr.get_ylim()[0] < 12 and 17 < psnr.get_ylim()[1] < 19  # the bulk, the classical line in view
    assert l1.get_ylim()[1] < 0.2
    assert [t.get_text() for t in psnr.texts] == ["-30.7"] and [t.get_text() for t in l1.texts] == ["9.25e+04"]
    assert not ssim.texts and "a collapsed point" in fig._suptitle.get_text()
    edge = [line for line in psnr.get_lines() if line.get_marker() == "v"]
    assert len(edge) == 1 and edge[0].get_ydata()[0] == psnr.get_ylim()[0]
