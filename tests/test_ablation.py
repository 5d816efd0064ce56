"""The ablation table (Δ to the baseline row with paired bootstrap intervals) and the comparison
CLI, from the fake results tree."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from helpers.fake_results import DATASET, VARIANTS, N, make_results, per_image_paths
from inpaint_bench.cli.compare import main as compare_main
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.reporting.ablation import build_ablation
from inpaint_bench.reporting.ablation import to_markdown as ablation_markdown
from inpaint_bench.reporting.absolute import build_table
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.compare import compare_files
from inpaint_bench.reporting.results import read_per_images
from inpaint_bench.reporting.stats import Bootstrap

# ----------------------------------------------------------------------------------------------
# the ablation table


def test_ablation_deltas_intervals_and_marks(results, ablation):
    _, _, summary = results
    frame = ablation
    assert list(dict.fromkeys(frame["variant"])) == ["rfr_full", "pconv_base"]  # the given (config) order
    assert set(frame["baseline_row"]) == {"pconv_base"}
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
    assert (ref["method"], ref["delta"], ref["mean"]) == ("baseline_row", 0.0, 21.0)

    md = ablation_markdown(frame)
    block = md.split("**PSNR↑ Δ**")[1].split("**SSIM↑ Δ**")[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| Variant")]
    assert [r.split(" | ")[0] for r in rows] == ["| rfr_full", "| pconv_base (baseline row)"]
    assert re.match(r"\| rfr_full \| \*\*\+5\.00\*\* \[\+\d\.\d\d, \+\d\.\d\d\] ▲ \| -1\.00 \[-\d\.\d\d, -\d\.\d\d\] ▼ \|$",
                    rows[0]), rows[0]
    assert rows[1] == "| pconv_base (baseline row) | 21.00 ± 1.41 | 19.00 ± 0.00 |"
    assert "hierarchical paired bootstrap (resample seeds, then images within each seed; 1000 resamples, numpy seed 0)" in md
    assert "- rfr_full: PSNR ▲ 0.1-0.2; PSNR ▼ 0.2-0.3; SSIM ▲ 0.1-0.2, 0.2-0.3; L1 ▲ 0.1-0.2; L1 ▼ 0.2-0.3" in md


def test_ablation_baseline_row_fallback_single_seed_and_set_level_metrics(tmp_path):
    paths = make_results(tmp_path, seeds=(0,), fid={"pconv_base": 40.0, "rfr_full": 30.0})
    summary, images = aggregate(paths), read_per_images(per_image_paths(paths))
    frame = build_ablation(summary, images, DATASET, VARIANTS, baseline_row="baseline", bootstrap=Bootstrap(resamples=200))
    assert set(frame["baseline_row"]) == {"pconv_base"}  # no "baseline" row: the first variant
    md = ablation_markdown(frame)
    assert "report.baseline_row 'baseline' is not a variant of this run: the first row, pconv_base, is the baseline row" in md
    assert "Seeds: 0 (one seed: no seed spread)." in md and "one seed: images are resampled, there is no seed spread" in md
    fid = frame[(frame["metric"] == "fid") & (frame["variant"] == "rfr_full")]
    assert list(fid["method"]) == ["none", "none"] and list(fid["mark"]) == ["", ""]
    assert list(fid["delta"]) == [pytest.approx(-10.0)] * 2
    assert "FID: Δ mean ± sample std over seeds of the per-seed difference (no interval, never marked; one seed: no ±)." in md

    paths = make_results(tmp_path / "two", seeds=(0, 1), fid={"pconv_base": 40.0, "rfr_full": 30.0})
    frame = build_ablation(aggregate(paths), read_per_images(per_image_paths(paths)), DATASET, VARIANTS,
                           baseline_row="pconv_base", bootstrap=Bootstrap(resamples=200))
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
                     rf"\[\+\d\.\d\d, \+\d\.\d\d\] \| better \| 2 \| {2 * N} \|", printed), printed
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
