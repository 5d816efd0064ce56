"""Tests for metrics/: values against known answers and independent libraries, offline weight
lookup and loading, and the score CLI. No pretrained weights are needed: every network used here
is created with random weights inside the test."""

import csv
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure

from inpaint_bench.cli import score as score_cli
from inpaint_bench.cli import weights as weights_cli
from inpaint_bench.harness import weights
from inpaint_bench.harness.metric_registry import higher_is_better
from inpaint_bench.metrics import fid as fid_mod
from inpaint_bench.metrics import pixel, score
from inpaint_bench.metrics.evaluation import Evaluation
from inpaint_bench.metrics.lpips_metric import LPIPSMetric, build_lpips
from inpaint_bench.metrics.suite import MetricSuite
from inpaint_bench.models.pretrained import vgg16_features

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
VGG16_FILE = "vgg16-397923af.pth"


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """Point torch.hub at an empty folder so results never depend on the machine's cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


class TinyFeatures(nn.Module):
    """Small random CNN standing in for Inception: (N,3,H,W) -> (N,D)."""

    def __init__(self, dim=8):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(16, dim)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def images(n, seed, size=32):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=gen)


# ---------------------------------------------------------------- pixel metrics

def test_identical_images_give_ssim_one_and_the_psnr_cap():
    x = images(2, 0)
    assert torch.allclose(pixel.ssim(x, x), torch.ones(2))
    # torchmetrics gives inf; the harness caps every per-image PSNR (harness.names.PSNR_CAP_DB)
    assert torch.equal(pixel.psnr(x, x), torch.full((2,), 100.0))
    assert torch.equal(pixel.l1(x, x), torch.zeros(2))


def test_constant_offset_gives_l1_0p1_and_psnr_20db():
    gt = images(3, 1) * 0.8
    pred = gt + 0.1
    assert torch.allclose(pixel.l1(pred, gt), torch.full((3,), 0.1), atol=1e-6)
    assert torch.allclose(pixel.psnr(pred, gt), torch.full((3,), 20.0), atol=1e-3)


def test_metrics_are_per_image():
    gt = images(2, 2)
    pred = gt.clone()
    pred[1] = (pred[1] + 0.2).clamp(0, 1)  # only the second image differs
    out = pixel.pixel_metrics(pred, gt)
    assert all(v.shape == (2,) for v in out.values())
    assert out["psnr"][0] == 100.0 and out["psnr"][1] < 100.0  # the first: exact, capped
    assert out["ssim"][0] == pytest.approx(1.0) and out["ssim"][1] < 0.99
    assert out["l1"][0] == 0 and out["l1"][1] > 0


def test_ssim_uses_gaussian_11_sigma_1p5_window():
    gt = images(2, 3, size=48)
    pred = (gt + 0.15 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(4))).clamp(0, 1)
    ours = pixel.ssim(pred, gt)
    gaussian = structural_similarity_index_measure(pred, gt, gaussian_kernel=True, kernel_size=11, sigma=1.5,
                                                   data_range=1.0, reduction="none")
    uniform = structural_similarity_index_measure(pred, gt, gaussian_kernel=False, kernel_size=11,
                                                  data_range=1.0, reduction="none")
    assert torch.allclose(ours, gaussian)
    assert (ours - uniform).abs().min() > 1e-3


def test_metrics_stay_float32_under_autocast():
    gt = images(2, 5)
    pred = (gt * 0.9).clamp(0, 1)
    ref = pixel.pixel_metrics(pred, gt)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pixel.pixel_metrics(pred.bfloat16(), gt.bfloat16())
    assert all(v.dtype == torch.float32 for v in out.values())
    # bf16 inputs are rounded, but the computation itself must not be done in bf16
    assert torch.allclose(out["psnr"], ref["psnr"], atol=0.2)


def test_composite_takes_prediction_only_in_hole():
    gt, pred = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    comp = pixel.composite(pred, gt, mask)
    assert comp[..., :2, :].eq(1).all() and comp[..., 2:, :].eq(0).all()


# ---------------------------------------------------------------- FID / KID

def test_fid_matches_pytorch_fid_on_same_features():
    from pytorch_fid.fid_score import calculate_frechet_distance

    net = TinyFeatures(dim=8).eval()
    real, fake = images(64, 10), (images(64, 11) * 0.7 + 0.2)
    suite = MetricSuite(inception=net, enable_lpips=False)
    for sl in (slice(0, 30), slice(30, 64)):  # accumulate over batches, as evaluation does
        suite.add_distribution("b", fake[sl], real[sl])
    ours = suite.distribution("b")["fid"]
    assert suite.count("b") == 64

    with torch.no_grad():
        f_real, f_fake = net(real).double().numpy(), net(fake).double().numpy()
    theirs = calculate_frechet_distance(f_fake.mean(0), np.cov(f_fake, rowvar=False),
                                        f_real.mean(0), np.cov(f_real, rowvar=False))
    assert theirs > 1e-3  # the sets differ, so the comparison is not trivially 0 == 0
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6)


def test_fid_zero_for_identical_sets_and_grows_with_shift():
    net = TinyFeatures(dim=8).eval()
    real = images(48, 20) * 0.5
    f_real = fid_mod.extract_features(net, real)
    values = []
    for shift in (0.0, 0.15, 0.3):
        f_fake = fid_mod.extract_features(net, real + shift)
        values.append(fid_mod.frechet_distance(f_real, f_fake))
    assert abs(values[0]) < 1e-6
    assert 0 < values[1] < values[2]


def test_kid_near_zero_for_identical_sets_and_positive_for_shift():
    net = TinyFeatures(dim=8).eval()
    real = images(40, 30) * 0.5
    f_real = fid_mod.extract_features(net, real)
    same, _ = fid_mod.kernel_inception_distance(f_real, f_real.clone(), subsets=10)
    shifted, _ = fid_mod.kernel_inception_distance(f_real, fid_mod.extract_features(net, real + 0.3), subsets=10)
    assert shifted > 0
    assert abs(same) < shifted / 20
    # fixed seed: the same call gives the same subsets and value
    again = fid_mod.kernel_inception_distance(f_real, fid_mod.extract_features(net, real + 0.3), subsets=10)
    assert again[0] == shifted


def test_small_n_gives_nan_with_reason_and_caps_kid_subset():
    suite = MetricSuite(inception=TinyFeatures(), enable_lpips=False)
    suite.add_distribution("one", images(1, 40), images(1, 41))
    assert all(math.isnan(v) for v in suite.distribution("one").values())
    assert "n=1" in suite.notes["one"]
    suite.add_distribution("three", images(3, 42), images(3, 43))
    three = suite.distribution("three")  # KID subset_size would be 1000 > 3 without the cap
    assert set(three) == {"fid", "kid", "kid_std"} and all(math.isfinite(v) for v in three.values())
    assert math.isnan(suite.distribution("never-seen")["fid"])


@pytest.fixture(scope="module")
def random_fid_inception_file(tmp_path_factory):
    """A weight file with pytorch-fid's FID-Inception layout but random values."""
    from unittest import mock

    import pytorch_fid.inception as pfi

    # Build the library's FID structure while skipping its download-and-load step.
    with mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict", lambda *a, **k: None), \
            mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: {}):
        state = pfi.fid_inception_v3().state_dict()
    folder = tmp_path_factory.mktemp("inception_weights")
    torch.save(state, folder / INCEPTION_FILE)
    return folder, state


def test_fid_inception_loads_offline_from_found_file(random_fid_inception_file):
    folder, state = random_fid_inception_file
    net = fid_mod.build_inception(folder)
    blocks = net.inception.blocks
    assert torch.equal(blocks[0][0].conv.weight, state["Conv2d_1a_3x3.conv.weight"])
    assert torch.equal(blocks[3][2].branch_pool.bn.running_mean, state["Mixed_7c.branch_pool.bn.running_mean"])
    assert not any(p.requires_grad for p in net.parameters())
    feats = fid_mod.extract_features(net, images(1, 50, size=16))
    assert feats.shape == (1, 2048)


def test_inception_missing_is_reported_not_randomised(tmp_path):
    assert fid_mod.build_inception(tmp_path) is None
    with pytest.raises(weights.WeightsMissing, match=INCEPTION_FILE):
        fid_mod.build_inception(tmp_path, required=True)


# ---------------------------------------------------------------- LPIPS

@pytest.fixture(scope="module")
def random_alex_lpips():
    import lpips

    torch.manual_seed(0)
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=`
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)


def test_lpips_zero_for_identical_and_positive_for_different(random_alex_lpips):
    metric = LPIPSMetric(random_alex_lpips)
    x, y = images(2, 60, size=64), images(2, 61, size=64)
    same, diff = metric(x, x), metric(x, y)
    assert same.shape == (2,) and diff.shape == (2,)
    assert torch.allclose(same, torch.zeros(2), atol=1e-6)
    assert (diff > 0).all()
    # inputs are mapped [0,1] -> [-1,1] (normalize=True)
    assert torch.allclose(diff, random_alex_lpips(2 * x - 1, 2 * y - 1).flatten(), atol=1e-6)


def test_suite_reports_lpips_when_injected_and_missing_otherwise(random_alex_lpips, tmp_path):
    x, y = images(2, 62, size=64), images(2, 63, size=64)
    with_lpips = MetricSuite(weights_dir=tmp_path, lpips_net=random_alex_lpips, enable_fid=False)
    assert set(with_lpips.per_image(y, x)) == {"psnr", "ssim", "l1", "lpips"}
    without = MetricSuite(weights_dir=tmp_path)
    assert set(without.per_image(y, x)) == {"psnr", "ssim", "l1"}
    assert without.missing == {"lpips": f"missing: {ALEXNET_FILE}", "fid": f"missing: {INCEPTION_FILE}",
                               "kid": f"missing: {INCEPTION_FILE}"}
    without.add_distribution("b", y, x)  # no-op without Inception
    assert without.distribution("b") == {}


def test_build_lpips_loads_alexnet_trunk_from_found_file(tmp_path):
    import lpips

    torch.manual_seed(1)
    alex = torchvision.models.alexnet(weights=None)
    state = {f"features.{k}": v for k, v in alex.features.state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(3)  # real files hold the classifier too; it is ignored
    torch.save(state, tmp_path / ALEXNET_FILE)

    model = build_lpips(tmp_path)
    convs = [i for i, layer in enumerate(alex.features) if isinstance(layer, nn.Conv2d)]
    trunk = dict(model.net.named_modules())
    for index in convs:  # every torchvision conv must land in the lpips slice holding that index
        layer = next(m for name, m in trunk.items() if name.endswith(f".{index}") and name.startswith("slice"))
        assert torch.equal(layer.weight, alex.features[index].weight)
    shipped = torch.load(lpips.__path__[0] + "/weights/v0.1/alex.pth", map_location="cpu")
    assert torch.equal(model.lin0.model[1].weight, shipped["lin0.model.1.weight"])
    assert build_lpips(tmp_path / "empty") is None


# ---------------------------------------------------------------- weight lookup

def test_find_weight_in_configured_dir_then_torch_home(tmp_path):
    configured = tmp_path / "configured"
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    configured.mkdir()
    hub.mkdir(parents=True)
    assert weights.find_weight("vgg16", configured) is None
    (hub / VGG16_FILE).write_bytes(b"x")
    assert weights.find_weight("vgg16", configured) == hub / VGG16_FILE
    assert weights.find_weight("vgg16", None) == hub / VGG16_FILE
    (configured / VGG16_FILE).write_bytes(b"x")
    assert weights.find_weight("vgg16", configured) == configured / VGG16_FILE  # configured folder wins


def test_missing_weights_name_the_exact_file(tmp_path):
    assert weights.find_weight("alexnet", tmp_path) is None
    note, hint = weights.missing_message("alexnet", tmp_path)
    assert note == f"missing: {ALEXNET_FILE}"
    assert ALEXNET_FILE in hint and str(tmp_path) in hint
    (tmp_path / INCEPTION_FILE).write_bytes(b"x")
    with pytest.raises(weights.WeightsMissing) as err:
        weights.require_weights(["inception", "alexnet", "vgg16"], tmp_path)
    assert ALEXNET_FILE in str(err.value) and VGG16_FILE in str(err.value)
    assert INCEPTION_FILE not in str(err.value)
    assert weights.require_weights(["inception"], tmp_path) == {"inception": tmp_path / INCEPTION_FILE}


def test_weight_file_names_match_the_libraries():
    import pytorch_fid.inception as pfi

    assert weights.WEIGHT_FILES["inception"][1] == pfi.FID_WEIGHTS_URL
    assert weights.WEIGHT_FILES["alexnet"][1] == torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url
    assert weights.WEIGHT_FILES["vgg16"][1] == torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    assert all(url.endswith("/" + name) for name, url, _ in weights.WEIGHT_FILES.values())


def test_check_cli_strict_exit_code(tmp_path, capsys):
    for name, _, _ in weights.WEIGHT_FILES.values():
        (tmp_path / name).write_bytes(b"x")
    assert weights_cli.main(["check", "--dir", str(tmp_path), "--strict"]) == 0
    (tmp_path / VGG16_FILE).unlink()
    assert weights_cli.main(["check", "--dir", str(tmp_path), "--strict"]) == 1
    assert VGG16_FILE in capsys.readouterr().out


def test_load_vgg16_features_loads_saved_state(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(2)
    features = make_layers(cfgs["D"])  # vgg16's .features with random weights
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(3)
    torch.save(state, tmp_path / VGG16_FILE)

    loaded = vgg16_features(weights.find_weight("vgg16", tmp_path))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    for key, value in features.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert weights.find_weight("vgg16", tmp_path / "nothing") is None

    del state["features.28.weight"]  # an incomplete file must fail, not leave random layers
    torch.save(state, tmp_path / VGG16_FILE)
    with pytest.raises(RuntimeError):
        vgg16_features(tmp_path / VGG16_FILE)


def test_without_the_vgg16_file_torchvision_is_not_imported(tmp_path):
    """Importing torchvision costs a job about 1.7 s: a training job without the VGG16 weights (and no
    metric that needs it) must not pay for it."""
    code = ("import sys; from inpaint_bench.harness.weights import find_weight; "
            "import inpaint_bench.models.pretrained; "
            f"assert find_weight('vgg16', {str(tmp_path)!r}) is None; print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TORCH_HOME": str(tmp_path / "torch_home")})
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------- score CLI

def _save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def score_folders(tmp_path):
    """3 ground-truth images, masks in two buckets with a manifest, predictions all black.
    32x32: the smallest size AlexNet (LPIPS) accepts."""
    rng = np.random.default_rng(0)
    gt_dir, pred_dir, mask_dir = tmp_path / "gt", tmp_path / "pred", tmp_path / "masks"
    layout = {"a": "0.1-0.2", "b": "0.1-0.2", "c": "0.2-0.3"}
    gts, masks = {}, {}
    for stem, bucket in layout.items():
        gts[stem] = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        masks[stem] = np.zeros((32, 32), dtype=np.uint8)
        masks[stem][: 5 + 3 * (bucket == "0.2-0.3"), :] = 255  # top rows are the hole: 0.16 and 0.25, in their buckets
        _save_png(gt_dir / f"{stem}.png", gts[stem])
        _save_png(mask_dir / bucket / f"{stem}.png", masks[stem])
        _save_png(pred_dir / bucket / f"{stem}.png", np.zeros((32, 32, 3), dtype=np.uint8))
    with open(mask_dir / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["bucket", "file", "hole_ratio"])
        for stem, bucket in layout.items():
            writer.writerow([bucket, f"{stem}.png", (masks[stem] == 255).mean()])
    return tmp_path, gts, masks, layout


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_score_cli_end_to_end_without_weights(score_folders):
    root, gts, masks, layout = score_folders
    out = root / "res" / "scores.csv"
    argv = ["--pred", str(root / "pred"), "--gt", str(root / "gt"), "--masks", str(root / "masks"),
            "--out", str(out), "--weights-dir", str(root / "no_weights"), "--batch-size", "2"]
    assert score_cli.main(argv) == 0

    rows = {r["image"]: r for r in _read_csv(out)}
    assert set(rows) == {"a", "b", "c"}
    for stem, bucket in layout.items():
        row = rows[stem]
        assert row["mask"] == f"{bucket}/{stem}.png" and row["variant"] == "pred"
        assert row["bucket"] == bucket
        # black prediction composited: error only inside the hole, so L1 = mean(gt * mask)
        expected_l1 = (gts[stem] / 255.0 * (masks[stem][..., None] == 255)).mean()
        assert float(row["l1"]) == pytest.approx(expected_l1, abs=1e-5)
        assert row["lpips"] == ""  # NaN: written as an empty field

    summary = _read_csv(root / "res" / "scores_summary.csv")
    by_key = {(r["bucket"], r["metric"]): r for r in summary}
    assert {b for b, _ in by_key} == {"0.1-0.2", "0.2-0.3"}
    assert by_key[("0.1-0.2", "psnr")]["n"] == "2" and by_key[("0.2-0.3", "psnr")]["n"] == "1"
    mean_l1 = np.mean([float(rows[s]["l1"]) for s in ("a", "b")])
    assert float(by_key[("0.1-0.2", "l1")]["value"]) == pytest.approx(mean_l1)
    assert by_key[("0.1-0.2", "lpips")]["note"] == f"missing: {ALEXNET_FILE}"
    for metric in ("fid", "kid", "kid_std"):
        row = by_key[("0.1-0.2", metric)]
        assert row["value"] == "" and row["note"] == f"missing: {INCEPTION_FILE}"
    assert not list((root / "res").glob("*.tmp"))  # atomic writes leave no temporaries


def test_score_with_injected_networks_reports_fid_and_small_n(score_folders, random_alex_lpips):
    root, *_ = score_folders
    items, buckets, _ = score.pair_files(root / "pred", root / "gt", root / "masks")
    evaluation = Evaluation(MetricSuite(lpips_net=random_alex_lpips, inception=TinyFeatures()), "x", "y", 0)
    score.score(items, evaluation, batch_size=8)
    assert evaluation.per_image()["lpips"].notna().all()
    by_key = {(r["bucket"], r["metric"]): r for r in evaluation.summary().to_dict("records")}
    assert math.isfinite(by_key[("0.1-0.2", "fid")]["value"]) and by_key[("0.1-0.2", "fid")]["note"] == ""
    assert math.isnan(by_key[("0.2-0.3", "fid")]["value"]) and "n=1" in by_key[("0.2-0.3", "fid")]["note"]


def test_score_flat_masks_and_unmatched_names(tmp_path, capsys):
    img = np.full((8, 8, 3), 128, dtype=np.uint8)
    hole = np.zeros((8, 8), dtype=np.uint8)
    hole[:4] = 255
    for stem in ("x", "y"):
        _save_png(tmp_path / "gt" / f"{stem}.png", img)
        _save_png(tmp_path / "masks" / f"{stem}.png", hole)
    _save_png(tmp_path / "pred" / "x.png", img)
    _save_png(tmp_path / "pred" / "stray.png", img)
    argv = ["--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--masks", str(tmp_path / "masks"),
            "--out", str(tmp_path / "o.csv")]
    assert score_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "stray" in err and "ground-truth images without a prediction: y" in err
    assert not (tmp_path / "o.csv").exists()
    empty = tmp_path / "empty"
    for name in ("pred", "gt", "masks"):
        (empty / name).mkdir(parents=True)
    argv = ["--pred", str(empty / "pred"), "--gt", str(empty / "gt"), "--masks", str(tmp_path / "masks"),
            "--out", str(empty / "o.csv")]
    assert score_cli.main(argv) == 2  # nothing to score is an error, not "wrote ... (0 images)"
    assert "no prediction" in capsys.readouterr().err and not (empty / "o.csv").exists()
    argv[1] = str(empty / "missing")
    assert score_cli.main(argv) == 2 and "no such folder" in capsys.readouterr().err

    (tmp_path / "pred" / "stray.png").unlink()
    _save_png(tmp_path / "pred" / "y.png", img)
    items, buckets, _ = score.pair_files(tmp_path / "pred", tmp_path / "gt", tmp_path / "masks")
    assert buckets == ["all"] and [it.name for it in items] == ["x", "y"]


def test_higher_is_better_directions():
    expected = {"psnr": True, "ssim": True, "l1": False, "lpips": False, "fid": False, "kid": False}
    assert {metric: higher_is_better(metric) for metric in expected} == expected
