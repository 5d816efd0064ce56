import numpy as np
import pandas as pd
import pytest
from PIL import Image
from torchmetrics.functional.image import peak_signal_noise_ratio

from datasets import build_dataset, load_test_masks, make_test_masks
from training.config import dataset_spec, load_config
from training.evaluate import evaluate


def test_evaluation_scores_the_composite_of_each_image_with_its_fixed_mask(tiny_config, tmp_path):
    path, _, _ = tiny_config
    config = load_config(path)
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=3, seed=0)
    out = tmp_path / "eval"
    summary = evaluate(config, "toy", "mean_fill", 0, out, masks_path=str(masks_dir))

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
        evaluate(config, "toy", "pconv", 0, tmp_path / "e", model_path=str(tmp_path / "model.pt"),
                 masks_path=str(tmp_path / "m"))


def test_exported_pairs_scored_by_metrics_score_match_the_evaluation(tiny_config, tmp_path):
    """Another method's outputs, scored by `metrics.score` on the exported pairs, get exactly the
    numbers the harness's own evaluation gives the same predictions."""
    from metrics.score import main as score_main
    from training.export_inputs import export

    path, _, _ = tiny_config
    config = load_config(path)
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=3, seed=0)
    evaluate(config, "toy", "mean_fill", 0, tmp_path / "eval", masks_path=str(masks_dir))
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
    score_main(["--pred", str(pred_dir), "--gt", str(tmp_path / "pairs" / "gt"),
                "--masks", str(tmp_path / "pairs" / "masks"), "--out", str(tmp_path / "scores.csv")])

    ours = pd.read_csv(tmp_path / "eval" / "per_image.csv").set_index(["bucket", "image"]).psnr
    theirs = pd.read_csv(tmp_path / "scores.csv")
    theirs["image"] = theirs["name"].str.split("/").str[-1].str.replace(".png", "", regex=False)
    theirs = theirs.set_index(["bucket", "image"]).psnr
    assert len(theirs) == len(ours)
    for key, value in ours.items():  # equal up to the 8-bit rounding of the exported PNGs
        assert theirs[key] == pytest.approx(value, abs=0.2), key
