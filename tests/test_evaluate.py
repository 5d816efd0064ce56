import numpy as np
import pandas as pd
import pytest
from PIL import Image
from torchmetrics.functional.image import peak_signal_noise_ratio

from inpaint_bench.datasets import build_dataset, load_test_masks, make_test_masks
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.harness.config import dataset_spec
from inpaint_bench.jobs.resolve import eval_job
from inpaint_bench.jobs.validate import load_config


def test_evaluation_scores_the_composite_of_each_image_with_its_fixed_mask(tiny_config, tmp_path):
    path, _, _ = tiny_config
    config = load_config(path)
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=3, seed=0)
    out = tmp_path / "eval"
    summary = evaluate(eval_job(config, "toy", "mean_fill", 0), out, masks_dir=masks_dir)

    per_image = pd.read_csv(out / "per_image.csv")
    images = build_dataset(dataset_spec(config, "toy"), "test", 32)
    masks = load_test_masks(masks_dir)
    assert len(per_image) == len(images) * len(masks)  # every image x every bucket
    for bucket, bucket_masks in masks.items():
        for i in range(len(images)):
            row = per_image[(per_image.bucket == bucket) & (per_image.image == images[i]["name"])].iloc[0]
            stem, mask = bucket_masks[i % len(bucket_masks)]  # image i meets mask i (mod count)
            assert row["mask"] == f"{bucket}/{stem}.png"  # as in the mask set's manifest
            gt = images[i]["image"][None]
            known = 1 - mask[None]
            mean = (gt * known).sum((2, 3), keepdim=True) / known.sum()
            comp = gt * known + mean * mask[None]
            assert row.psnr == pytest.approx(float(peak_signal_noise_ratio(comp, gt, data_range=1.0)), rel=1e-5)
            assert row.hole_ratio == pytest.approx(float(mask.mean()))

    psnr = summary[(summary.metric == "psnr")].set_index("bucket").value
    for bucket in masks:
        assert psnr[bucket] == pytest.approx(per_image[per_image.bucket == bucket].psnr.mean())
    fid = summary[summary.metric == "fid"]
    assert (fid.note.str.startswith("missing: pt_inception") | fid.value.notna()).all()
    sample = next((out / "samples").rglob("*_output.png"))
    assert np.asarray(Image.open(sample)).shape == (32, 32, 3)


def test_trained_variant_needs_its_model_file(tiny_config, tmp_path):
    path, _, _ = tiny_config
    config = load_config(path)
    make_test_masks(tmp_path / "m", 32, config["masks"]["buckets"], count=2, seed=0)
    with pytest.raises(FileNotFoundError, match="model.pt does not exist"):
        evaluate(eval_job(config, "toy", "pconv", 0), tmp_path / "e", model_path=tmp_path / "model.pt",
                 masks_dir=tmp_path / "m")


@pytest.mark.parametrize("pairing", ["cycle", "every_mask"])
def test_exported_pairs_scored_by_metrics_score_match_the_evaluation(tiny_config, tmp_path, pairing):
    """Another method's outputs, scored by `metrics.score` on the exported pairs, get exactly the
    numbers the harness's own evaluation gives the same predictions; also where an image meets
    several masks of a bucket (every_mask: 6 masks, 4 images)."""
    from inpaint_bench.cli.score import main as score_main
    from inpaint_bench.evaluation.export import export

    path, config, write = tiny_config
    config["masks"]["pairing"] = pairing
    write(config)
    config = load_config(path)
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=3 if pairing == "cycle" else 6, seed=0)
    evaluate(eval_job(config, "toy", "mean_fill", 0), tmp_path / "eval", masks_dir=masks_dir)
    export(config, "toy", 0, tmp_path / "pairs", masks_path=str(masks_dir))

    # "another method": mean fill, run on the exported inputs and masks only
    pred_dir = tmp_path / "pred"
    for mask_path in (tmp_path / "pairs" / "masks").rglob("*.png"):
        bucket, name = mask_path.parent.name, mask_path.stem
        hole = np.asarray(Image.open(mask_path))[..., None] > 127
        image = np.asarray(Image.open(tmp_path / "pairs" / "input" / bucket / f"{name}.png")).astype(float)
        mean = image[~hole[..., 0]].mean(0)
        out = np.where(hole, mean, image)
        (pred_dir / bucket).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(out).astype(np.uint8)).save(pred_dir / bucket / f"{name}.png")
    assert score_main(["--pred", str(pred_dir), "--gt", str(tmp_path / "pairs" / "gt"),
                       "--masks", str(tmp_path / "pairs" / "masks"), "--out", str(tmp_path / "scores.csv"),
                       "--dataset", "toy", "--variant", "mean_fill", "--weights-dir", str(tmp_path / "none")]) == 0

    # one loop, one format: same columns, same rows, same labels
    ours = pd.read_csv(tmp_path / "eval" / "per_image.csv")
    theirs = pd.read_csv(tmp_path / "scores.csv")
    assert list(theirs.columns) == list(ours.columns)
    ours, theirs = ours.set_index(["bucket", "image", "mask"]), theirs.set_index(["bucket", "image", "mask"])
    assert sorted(theirs.index) == sorted(ours.index)
    assert len(ours) == 2 * (4 if pairing == "cycle" else 6)
    for key in ours.index:  # equal up to the 8-bit rounding of the exported PNGs
        assert theirs.psnr[key] == pytest.approx(ours.psnr[key], abs=0.2), key
        assert theirs.hole_ratio[key] == ours.hole_ratio[key]  # the exported copy of the same mask
        assert (theirs.dataset[key], theirs.variant[key]) == ("toy", "mean_fill")
    summary_ours = pd.read_csv(tmp_path / "eval" / "summary.csv")
    summary_theirs = pd.read_csv(tmp_path / "scores_summary.csv")
    assert list(summary_theirs.columns) == list(summary_ours.columns)


def test_ground_truth_features_are_computed_once_per_dataset_and_reused_by_every_variant(tmp_path):
    """The second evaluation of the same test images reads the cached ground-truth features: the
    Inception stand-in sees only the composites, and the FID is the one a fresh computation gives."""
    import torch

    from inpaint_bench.metrics.evaluation import Evaluation
    from inpaint_bench.metrics.fid import FeatureCache
    from inpaint_bench.metrics.suite import MetricSuite

    class CountingFeatures(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3, 4)
            self.seen = 0

        def forward(self, x):
            self.seen += x.shape[0]
            return self.proj(x.mean((2, 3)))

    torch.manual_seed(0)
    gt = torch.rand(6, 3, 8, 8)
    mask = torch.zeros(6, 1, 8, 8)
    mask[:, :, :4] = 1
    net, cache = CountingFeatures(), tmp_path / "cache" / "gt.pt"

    def run(pred, cache_file):
        suite = MetricSuite(lpips_net=None, inception=net, enable_lpips=False, feature_cache=cache_file,
                            inception_tag="counting")
        evaluation = Evaluation(suite, "toy", "v", 0)
        evaluation.add("0.1-0.6", pred, gt, mask, [str(i) for i in range(6)], ["m.png"] * 6)
        return evaluation.write(tmp_path / "p.csv", tmp_path / "s.csv").set_index("metric").value

    first = run(torch.zeros_like(gt), cache)
    assert net.seen == 12 and cache.is_file()  # composites and ground truth
    net.seen = 0
    second = run(torch.ones_like(gt), cache)
    assert net.seen == 6  # only the composites: ground truth came from the cache
    fresh = run(torch.ones_like(gt), None)
    assert second["fid"] == pytest.approx(fresh["fid"]) and second["fid"] != pytest.approx(first["fid"])
    # another network (tag) does not read those features
    assert FeatureCache(cache, "other").features == {}
    assert len(FeatureCache(cache, "counting").features) == 6
