"""Metrics as a registry (harness.metric_registry), the `extensions:` config key that imports a user's
module, result files written before a metric existed, and the protocol once called `harness`."""
from __future__ import annotations

import math
import textwrap

import pandas as pd
import pytest
import torch
import yaml

from helpers.fake_results import DATASET, VARIANTS, make_results, per_image_paths
from helpers.workflow import snakemake
from inpaint_bench.cli import score as score_cli
from inpaint_bench.harness import metric_registry
from inpaint_bench.harness.config import ConfigError, read_config_file
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.metric_registry import higher_is_better, metric_format, per_image_metrics
from inpaint_bench.harness.names import NOT_COMPUTED
from inpaint_bench.jobs.resolve import eval_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.metrics.evaluation import Evaluation
from inpaint_bench.metrics.suite import MetricSuite
from inpaint_bench.reporting import ablation, absolute
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.results import read_per_image, read_per_images, read_summary

# A toy per-image metric, in one module of the user's: PSNR over the hole only (it uses the mask).
PSNR_HOLE = textwrap.dedent('''
    import torch

    from inpaint_bench.harness.metric_registry import metric


    @metric("psnr_hole", higher_is_better=True, label="PSNR hole", unit="dB", decimals=2)
    def psnr_hole(pred, gt, mask):
        hole = mask.expand_as(pred)
        mse = ((pred - gt) ** 2 * hole).sum(dim=(1, 2, 3)) / hole.sum(dim=(1, 2, 3)).clamp(min=1)
        return 10 * torch.log10(1 / mse.clamp(min=1e-10))
''')


@pytest.fixture
def registry(monkeypatch):
    """The registry as it is, restored after the test (a metric the test registers is gone after it)."""
    monkeypatch.setattr(metric_registry, "_METRICS", dict(metric_registry._METRICS))
    return metric_registry


def test_extensions_add_a_metric_and_a_dataset_kind_that_a_workflow_run_shows_in_its_tables(tmp_path):
    """issue 28, "Done when": a metric in one new module and a dataset kind in another, named in the
    config's `extensions:` (relative to the config file), reach a Snakemake run's tables, no other file
    edited: the kind validates and its jobs list its images, the evaluation jobs compute the metric given
    the mask, and both tables have its column with its direction. Before: no such key (the schema
    refused it), and neither a metric nor a kind could be added without editing the package."""
    from test_dataset_kinds import TOY_KIND_MODULE

    from conftest import write_images

    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "psnr_hole.py").write_text(PSNR_HOLE)
    (tmp_path / "ext" / "toy_kind.py").write_text(TOY_KIND_MODULE)
    flat = tmp_path / "flat"  # the toy kind's layout: one folder, split by the names' prefix
    for split, count in (("train", 2), ("test", 4)):
        write_images(tmp_path / split, count, seed=len(split))
        flat.mkdir(exist_ok=True)
        for image in sorted((tmp_path / split).iterdir()):
            image.rename(flat / f"{split}_{image.name}")
    config = {"results_dir": "results", "image_size": 32, "width": 4, "seeds": [0],
              "extensions": ["ext/psnr_hole.py", "ext/toy_kind.py"],
              "datasets": {"flat": {"kind": "toy_prefix", "root": str(flat), "test_prefix": "test_"}},
              "masks": {"buckets": [[0.1, 0.3]], "count": 4}, "eval": {"batch_size": 4, "samples": 1},
              "weights": {"dir": None, "required": False},
              "report": {"baseline_row": "mean_fill"},
              "variants": {"mean_fill": {"backbone": "mean_fill"}, "biharmonic": {"backbone": "biharmonic"}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    snakemake(work, "results/tables/flat.md", "--cores", "1", "--configfile", str(path))

    per_image = pd.read_csv(work / "results/runs/flat/mean_fill/seed0/eval/per_image.csv")
    assert sorted(per_image["image"]) == [f"test_img{i:03d}" for i in range(4)]  # the kind's listing
    # The mask reached the metric: the hole alone is filled worse than the whole image (known pixels exact).
    assert (per_image["psnr_hole"] < per_image["psnr"]).all()
    summary = read_summary(work / "results/summary.csv")
    assert set(summary.loc[summary.metric == "psnr_hole", "variant"]) == {"mean_fill", "biharmonic"}
    assert set(summary["dataset"]) == {"flat"}
    tables = work / "results" / "tables"  # its column in both, with its label and direction
    assert "**PSNR hole↑**" in (tables / "flat.md").read_text().splitlines()
    assert "**PSNR hole↑ Δ**" in (tables / "flat_ablation.md").read_text().splitlines()


def test_a_missing_or_failing_extension_is_one_line_naming_the_file_and_the_key(tiny_config, tmp_path):
    path, config, write = tiny_config
    write({**config, "extensions": ["nowhere.py"]})
    with pytest.raises(ConfigError, match=rf"extensions: {tmp_path / 'nowhere.py'} is not a file") as err:
        load_config(path)
    assert "\n" not in str(err.value)
    (tmp_path / "broken.py").write_text("raise RuntimeError('no luck')\n")
    write({**config, "extensions": ["broken.py"]})
    with pytest.raises(ConfigError, match=r"extensions: importing .*broken.py failed: RuntimeError: no luck"):
        load_config(path)


def test_an_extension_is_part_of_every_jobs_code_and_an_edit_changes_it(tiny_config, tmp_path, registry):
    path, config, write = tiny_config
    module = tmp_path / "metric_a.py"
    module.write_text(PSNR_HOLE)
    write({**config, "extensions": [module.name]})
    loaded = load_config(path)
    assert loaded["extensions"] == [str(module)]
    assert "psnr_hole" in per_image_metrics() and higher_is_better("psnr_hole") is True
    before = eval_job(loaded, "toy", "mean_fill", 0)["code"]
    assert str(module) in before
    module.write_text(PSNR_HOLE.replace("1e-10", "1e-8"))
    assert eval_job(loaded, "toy", "mean_fill", 0)["code"][str(module)] != before[str(module)]


def test_extensions_are_relative_to_the_file_that_names_them_and_a_base_keeps_its_own(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text(yaml.safe_dump({"extensions": ["a.py"], "seeds": [0]}))
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({"base": "sub/base.yaml", "extensions": ["b.py", "/x/c.py"]}))
    assert read_config_file(tmp_path / "child.yaml")["extensions"] == [
        str(tmp_path / "sub" / "a.py"), str(tmp_path / "b.py"), "/x/c.py"]


def test_eval_metrics_chooses_the_metrics_from_the_registry(tiny_config, tmp_path, registry):
    path, config, write = tiny_config
    write({**config, "eval": {**config["eval"], "metrics": ["psnr", "psnr_typo"]}})
    with pytest.raises(ConfigError, match=r"eval/metrics/1.*psnr_typo.*metric_registry"):
        load_config(path)
    write({**config, "eval": {**config["eval"], "metrics": ["psnr", "l1"]}})
    settings = load_config(path)["eval"]
    suite = MetricSuite(metrics=metric_registry.selected_metrics(settings))
    assert suite.metrics == ["psnr", "l1"]
    # what a metric needs: a smallest image side, checked against the config's image_size
    registry.register_metric("wide", higher_is_better=True, min_size=64, compute=lambda pred, gt, mask: pred[:, 0, 0, 0])
    write(config)
    with pytest.raises(ConfigError, match="eval.metrics: wide needs images of at least 64 px, larger than image_size 32"):
        load_config(path)


def test_a_per_image_metric_receives_the_mask_under_every_protocol(registry):
    """Protocols keep computing PSNR, SSIM and L1 their way; a registered metric is computed alike in
    each, on the protocol's images (8-bit where the protocol is)."""
    seen = []

    @registry.metric("hole_fraction", higher_is_better=False)
    def hole_fraction(pred, gt, mask):
        seen.append(pred)
        return mask.mean(dim=(1, 2, 3))

    gt = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, :8], mask[1, :, :16] = 1, 1
    for protocol in ("default", "skimage_rgb"):
        evaluation = Evaluation(MetricSuite(enable_lpips=False, enable_fid=False, protocol=protocol), "d", "v", 0)
        evaluation.add("b", gt.flip(0), gt, mask, ["x", "y"], ["m0", "m1"])
        assert evaluation.per_image()["hole_fraction"].tolist() == [0.25, 0.5]
        assert set(evaluation.summary()["metric"]) == {"psnr", "ssim", "l1", "hole_fraction"}
    eight_bit = seen[1] * 255
    assert torch.allclose(eight_bit, eight_bit.round(), atol=1e-3)  # skimage_rgb scores 8-bit images, so does the metric
    with pytest.raises(ValueError, match="metric 'hole_fraction' is registered twice"):
        registry.register_metric("hole_fraction", higher_is_better=True, compute=hole_fraction)


def test_result_files_written_before_a_metric_existed_read_it_as_missing_with_a_footnote(tmp_path):
    """Before: a per-image file without a registered metric's column was refused ("missing column(s)
    lpips"), and a run whose summary had no row for it showed "missing: no result"."""
    paths = make_results(tmp_path)
    old = [p for p in paths if "rfr_full" in str(p)]  # rfr_full's evaluations predate LPIPS
    for summary_path in old:
        rows = pd.read_csv(summary_path)
        write_csv(summary_path, rows[rows.metric != "lpips"])
        per_image = pd.read_csv(summary_path.with_name("per_image.csv"))
        write_csv(summary_path.with_name("per_image.csv"), per_image.drop(columns=["lpips"]))

    rows = read_per_image(old[0].with_name("per_image.csv"))
    assert rows["lpips"].isna().all() and rows.attrs["not_computed"] == ["lpips"]
    summary = aggregate(paths)
    added = summary[(summary.variant == "rfr_full") & (summary.metric == "lpips")]
    assert len(added) == 4 and added["value"].isna().all() and set(added["note"]) == {NOT_COMPUTED}

    line = f"rfr_full, LPIPS (0.1-0.2, 0.2-0.3): {NOT_COMPUTED}"
    table = absolute.build_table(summary, DATASET, VARIANTS)
    assert any(line in note for note in absolute.footnotes(table))
    frame = ablation.build_ablation(summary, read_per_images(per_image_paths(paths)), DATASET, VARIANTS,
                                    baseline_row="pconv_base")
    assert any(line in note for note in ablation.footnotes(frame))
    assert math.isnan(frame[(frame.variant == "rfr_full") & (frame.metric == "lpips")]["delta"].iloc[0])


def test_protocol_harness_loads_as_default_with_a_message(tiny_config, tmp_path, capsys):
    path, config, write = tiny_config
    write({**config, "eval": {**config["eval"], "protocol": "harness"}})
    assert load_config(path)["eval"]["protocol"] == "default"
    err = capsys.readouterr().err
    assert "eval.protocol: protocol 'harness' is now called 'default'" in err and err.count("\n") == 1

    # result files that recorded `harness` read as `default`, "+as-is" kept
    summary = tmp_path / "summary.csv"
    pd.DataFrame([["d", "v", 0, "0.1-0.2", "psnr", 20.0, 4, "", "", "harness+as-is"]],
                 columns=["dataset", "variant", "seed", "bucket", "metric", "value", "n", "note", "train_note",
                          "protocol"]).to_csv(summary, index=False)
    assert set(read_summary(summary)["protocol"]) == {"default+as-is"}


def test_score_takes_the_old_protocol_name_with_a_message(tmp_path, capsys):
    from PIL import Image

    for folder in ("pred", "gt", "masks"):
        (tmp_path / folder).mkdir()
    rng = torch.Generator().manual_seed(1)
    for name in ("a", "b"):
        for folder in ("pred", "gt"):
            pixels = (torch.rand(32, 32, 3, generator=rng) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / folder / f"{name}.png")
        hole = torch.zeros(32, 32, dtype=torch.uint8)
        hole[:10] = 255
        Image.fromarray(hole.numpy()).save(tmp_path / "masks" / f"{name}.png")
    out = tmp_path / "scores.csv"
    assert score_cli.main(["--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--masks",
                       str(tmp_path / "masks"), "--out", str(out), "--protocol", "harness"]) == 0
    assert "--protocol: protocol 'harness' is now called 'default'" in capsys.readouterr().err
    assert set(pd.read_csv(out)["protocol"]) == {"default"}


def test_every_metric_has_its_metadata_in_one_torch_free_entry():
    assert [metric_format(m).label for m in ("psnr", "l1", "kid")] == ["PSNR", "L1", "KID"]
    assert metric_format("l1").table_label == "L1 (%)"
    assert metric_registry.spread_of() == {"kid_std": "kid"}
    assert metric_registry.get_metric("lpips").weights == "alexnet"


def test_tables_by_hand_import_the_extensions_that_label_a_metric(tmp_path, registry):
    """`inpaint-bench tables --extensions FILE`: a run's results tabled by hand know the extension's
    metric (its label and direction) as the workflow's tables job does; without it, the metric has no
    registered label."""
    from inpaint_bench.cli import tables as tables_cli
    from inpaint_bench.harness.names import SUMMARY_COLUMNS

    (tmp_path / "psnr_hole.py").write_text(PSNR_HOLE)
    rows = [["d", variant, 0, "0.1-0.3", metric, value, 4, "", "", "default"]
            for variant, shift in (("baseline", 0.0), ("rfr", 1.0))
            for metric, value in (("psnr", 25.0 + shift), ("psnr_hole", 15.0 + shift))]
    write_csv(tmp_path / "summary.csv", pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    args = ["--summary", str(tmp_path / "summary.csv"), "--dataset", "d"]
    tables_cli.main([*args, "--out-dir", str(tmp_path / "plain")])
    assert "**PSNR hole↑**" not in (tmp_path / "plain" / "d.md").read_text()
    tables_cli.main([*args, "--out-dir", str(tmp_path / "ext"), "--extensions", str(tmp_path / "psnr_hole.py")])
    assert "**PSNR hole↑**" in (tmp_path / "ext" / "d.md").read_text().splitlines()
    with pytest.raises(SystemExit, match=r"error: --extensions: .*nowhere.py is not a file"):
        tables_cli.main([*args, "--out-dir", str(tmp_path / "x"), "--extensions", str(tmp_path / "nowhere.py")])
