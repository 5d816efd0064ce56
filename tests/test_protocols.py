"""Scoring protocols (metrics/protocols.py, harness.names.PROTOCOLS): each equals independent
implementations called directly on the same files; the protocol is recorded in every result file, named in
every table, and rows of different protocols are never aggregated, tabulated or compared together."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from skimage.color import rgb2gray
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import peak_signal_noise_ratio as tm_psnr
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

from inpaint_bench.cli import score as score_cli
from inpaint_bench.evaluation.evaluate import save_image
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.metrics import score
from inpaint_bench.metrics.evaluation import Evaluation
from inpaint_bench.metrics.suite import MetricSuite
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.compare import compare_files
from inpaint_bench.reporting.results import read_per_images, read_summary
from inpaint_bench.reporting.tables import write_tables

SIZE = 64  # at least EdgeConnect's 51 px SSIM window


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """No LPIPS or Inception weights: only the protocol's own metrics are computed."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def files(root, size=SIZE, count=3):
    """8-bit gt, composites (pred: gt outside the hole) and masks; returns the folders."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        gt = np.clip(rng.uniform(0, 1, 3) + xx[..., None] * rng.uniform(-1, 1, 3) * 0.5
                     + 0.1 * rng.normal(size=(size, size, 3)), 0, 1)
        mask = np.zeros((size, size), np.uint8)
        mask[size // 4: size // 2 + 8 * i, size // 5: size * 3 // 4] = 255
        pred = np.where(mask[..., None] > 0, np.clip(gt + rng.normal(0, 0.15, gt.shape), 0, 1), gt)
        for folder, array in (("gt", gt), ("pred", pred)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray((array * 255).round().astype(np.uint8)).save(root / folder / f"im{i}.png")
        (root / "masks").mkdir(exist_ok=True)
        Image.fromarray(mask).save(root / "masks" / f"im{i}.png")
    return root / "pred", root / "gt", root / "masks"


def independent(protocol: str, pred_file, gt_file) -> dict[str, float]:
    """The protocol's independent implementations (libraries, formulas), called directly on the two files."""
    pred, gt = (np.asarray(Image.open(f).convert("RGB")) for f in (pred_file, gt_file))
    if protocol == "edgeconnect":  # EdgeConnect's scripts/metrics.py, line by line
        img_gt = rgb2gray((gt / 255.0).astype(np.float32))
        img_pred = rgb2gray((pred / 255.0).astype(np.float32))
        return {"psnr": peak_signal_noise_ratio(img_gt, img_pred, data_range=1),
                "ssim": structural_similarity(img_gt, img_pred, data_range=1, win_size=51),
                "l1": np.sum(np.abs(img_gt.astype(np.float32) - img_pred.astype(np.float32)))
                / np.sum(img_gt.astype(np.float32) + img_pred.astype(np.float32))}
    if protocol == "skimage_rgb":
        return {"psnr": peak_signal_noise_ratio(gt, pred, data_range=255),
                "ssim": structural_similarity(gt, pred, channel_axis=2),
                "l1": np.abs(gt / 255.0 - pred / 255.0).mean()}
    p, g = (torch.from_numpy(x / 255.0).float().permute(2, 0, 1)[None] for x in (pred, gt))
    return {"psnr": float(tm_psnr(p, g, data_range=1.0)),
            "ssim": float(tm_ssim(p, g, gaussian_kernel=True, kernel_size=11, sigma=1.5, data_range=1.0)),
            "l1": float((p - g).abs().mean())}


@pytest.mark.parametrize("protocol", ["default", "edgeconnect", "skimage_rgb"])
def test_score_equals_the_protocols_independent_implementations_on_the_same_files(tmp_path, protocol):
    pred, gt, masks = files(tmp_path)
    out = tmp_path / "scores.csv"
    assert score_cli.main(["--pred", str(pred), "--gt", str(gt), "--masks", str(masks), "--out", str(out),
                       "--protocol", protocol]) == 0
    rows = pd.read_csv(out)
    assert set(rows["protocol"]) == {protocol}
    assert set(pd.read_csv(score.summary_path(out))["protocol"]) == {protocol}
    for _, row in rows.iterrows():
        expected = independent(protocol, pred / f"{row['image']}.png", gt / f"{row['image']}.png")
        for metric, value in expected.items():
            assert row[metric] == pytest.approx(float(value), abs=1e-6), (row["image"], metric)


def test_the_protocols_differ_by_the_size_the_tables_show():
    pred, gt, masks = files_in_memory()
    values = {}
    for protocol in ("default", "edgeconnect", "skimage_rgb"):
        evaluation = Evaluation(MetricSuite(enable_lpips=False, enable_fid=False, protocol=protocol), "d", "v", 0)
        evaluation.add("b", pred, gt, masks, ["a", "b"], ["m", "m"])
        values[protocol] = evaluation.per_image()["ssim"].mean()
    assert abs(values["edgeconnect"] - values["skimage_rgb"]) > 0.01  # whole points of SSIM apart


def files_in_memory():
    g = torch.Generator().manual_seed(1)
    gt = torch.nn.functional.avg_pool2d(torch.rand(2, 3, SIZE, SIZE, generator=g), 5, 1, 2)
    masks = torch.zeros(2, 1, SIZE, SIZE)
    masks[:, :, 10:40, 12:50] = 1
    pred = (gt + 0.2 * torch.randn(2, 3, SIZE, SIZE, generator=g)).clamp(0, 1)
    return pred, gt, masks


@pytest.mark.parametrize("protocol", ["edgeconnect", "skimage_rgb"])
def test_an_evaluation_scores_its_composites_as_the_8_bit_files_it_would_write(tmp_path, protocol):
    pred, gt, masks = files_in_memory()  # float values between the 8-bit levels
    evaluation = Evaluation(MetricSuite(enable_lpips=False, enable_fid=False, protocol=protocol), "d", "v", 0)
    comp = evaluation.add("b", pred, gt, masks, ["a", "b"], ["m", "m"])
    rows = evaluation.per_image()
    for j in range(2):
        save_image(comp[j], tmp_path / "comp.png")  # the harness's own PNG writer
        save_image(gt[j], tmp_path / "gt.png")
        expected = independent(protocol, tmp_path / "comp.png", tmp_path / "gt.png")
        for metric, value in expected.items():
            assert rows.loc[j, metric] == pytest.approx(float(value), abs=1e-6), (j, metric)
    assert set(rows["protocol"]) == {protocol}
    assert set(evaluation.summary()["protocol"]) == {protocol}


def test_a_protocol_that_cannot_apply_fails_before_any_work(tmp_path, capsys, tiny_config):
    pred, gt, masks = files(tmp_path, size=48, count=1)
    out = tmp_path / "scores.csv"
    code = score_cli.main(["--pred", str(pred), "--gt", str(gt), "--masks", str(masks), "--out", str(out),
                       "--protocol", "edgeconnect"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "protocol edgeconnect: its SSIM window is 51x51 pixels, larger than" in err
    assert str(gt / "im0.png") in err and "48x48" in err
    path, config, write = tiny_config  # 32 px images
    config["eval"]["protocol"] = "edgeconnect"
    write(config)
    with pytest.raises(ConfigError, match=r"eval.protocol edgeconnect: its SSIM window is 51 px, larger than "
                                          r"the images \(image_size 32\)"):
        load_config(path)


def scored_files(tmp_path, protocol: str, variant: str):
    pred, gt, masks = files(tmp_path / "files")
    out = tmp_path / f"{variant}_{protocol}.csv"
    assert score_cli.main(["--pred", str(pred), "--gt", str(gt), "--masks", str(masks), "--out", str(out),
                       "--protocol", protocol, "--variant", variant, "--dataset", "d"]) == 0
    return out, score.summary_path(out)


def test_rows_of_different_protocols_are_never_put_together(tmp_path, capsys):
    a_rows, a_summary = scored_files(tmp_path, "default", "a")
    b_rows, b_summary = scored_files(tmp_path, "edgeconnect", "b")
    with pytest.raises(ValueError, match=r"aggregating 2 summary file\(s\) mixes scoring protocols "
                                         r"\(default: a; edgeconnect: b\)"):
        aggregate([a_summary, b_summary])
    mixed = pd.concat([read_summary(a_summary), read_summary(b_summary)])
    with pytest.raises(ValueError, match="the table of d mixes scoring protocols"):
        write_tables(mixed, "d", tmp_path / "tables")
    with pytest.raises(ValueError, match="A .* was scored under protocol default, B .* under edgeconnect"):
        compare_files(a_rows, b_rows, warn=lambda m: None)
    c_rows, c_summary = scored_files(tmp_path, "edgeconnect", "c")
    found, _, _ = compare_files(b_rows, c_rows, warn=lambda m: None)
    assert found.attrs["protocol"] == "edgeconnect"


def test_every_table_names_its_protocol(tmp_path):
    _, b_summary = scored_files(tmp_path, "skimage_rgb", "b")
    b_rows, _ = scored_files(tmp_path, "skimage_rgb", "c")
    summary = aggregate([b_summary, score.summary_path(b_rows)])
    per_image = read_per_images([b_summary.with_name("b_skimage_rgb.csv"), b_rows])
    paths = write_tables(summary, "d", tmp_path / "tables", per_image=per_image, baseline_row="b")
    for key in ("md", "html", "ablation_md", "ablation_html"):
        assert "Scoring protocol skimage_rgb: scikit-image defaults on 8-bit images" in paths[key].read_text(), key
    for key in ("tex", "ablation_tex"):
        assert r"Scoring protocol skimage\_rgb: scikit-image defaults" in paths[key].read_text(), key
