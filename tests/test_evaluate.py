import numpy as np
import pandas as pd
import pytest
from PIL import Image
from torchmetrics.functional.image import peak_signal_noise_ratio

from inpaint_bench.datasets import build_dataset, load_test_masks, make_test_masks
from inpaint_bench.datasets.kinds import dataset_spec
from inpaint_bench.evaluation.evaluate import evaluate
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


def test_a_killed_evaluation_resumes_without_rescoring_what_it_saved(tiny_config, tmp_path, monkeypatch):
    """An evaluation stopped in its second bucket (a time limit) resumes from its saved chunks: the
    rerun scores only the pairs not saved, and its files equal those of one uninterrupted run."""
    from inpaint_bench.metrics.evaluation import Evaluation

    path, config_dict, write = tiny_config
    config_dict["eval"]["batch_size"] = 1  # 4 pairs a bucket, one chunk each (resume_every=0)
    config = load_config(write())
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=4, seed=0)
    job = eval_job(config, "toy", "mean_fill", 0)
    evaluate(job, tmp_path / "whole", masks_dir=masks_dir)

    scored, add = [], Evaluation.add

    def counting_add(self, bucket, pred, gt, mask, images, masks):
        if len(scored) == stop_after:
            raise KeyboardInterrupt("the job's time limit")
        scored.append((bucket, *images))
        return add(self, bucket, pred, gt, mask, images, masks)

    monkeypatch.setattr(Evaluation, "add", counting_add)
    out, stop_after = tmp_path / "eval", 6  # every pair of the first bucket and 2 of the second
    with pytest.raises(KeyboardInterrupt):
        evaluate(job, out, masks_dir=masks_dir, resume_every=0)
    assert not (out / "summary.csv").exists() and len(list((out / ".resume").glob("chunk_*.pt"))) == 6
    first_run, scored[:], stop_after = list(scored), [], None
    evaluate(job, out, masks_dir=masks_dir, resume_every=0)
    assert len(scored) == 2 and not set(scored) & set(first_run)  # only the two pairs never saved
    for name in ("per_image.csv", "summary.csv"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    assert sorted(p.name for p in (out / "samples").rglob("*.png")) == \
        sorted(p.name for p in (tmp_path / "whole" / "samples").rglob("*.png"))
    assert not (out / ".resume").exists()

    # chunks of another job (here: another protocol) are not resumed
    with pytest.raises(KeyboardInterrupt):
        scored[:], stop_after = [], 3
        evaluate(job, out, masks_dir=masks_dir, resume_every=0)
    other = {**job, "eval": {**job["eval"], "protocol": "skimage_rgb"}}
    scored[:], stop_after = [], None
    evaluate(other, out, masks_dir=masks_dir, resume_every=0)
    assert len(scored) == 8


def test_chunked_and_restored_evaluation_gives_the_uninterrupted_scores_fid_included():
    """Evaluation.chunk / restore carry the per-image rows, the hole stds behind the test-set notes and
    the Inception features behind FID and KID: a restored evaluation writes the same summary."""
    import torch

    from inpaint_bench.metrics.evaluation import Evaluation
    from inpaint_bench.metrics.suite import MetricSuite

    torch.manual_seed(0)
    features = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5))
    gt, pred = torch.rand(8, 3, 8, 8), torch.rand(8, 3, 8, 8)
    mask = torch.zeros(8, 1, 8, 8)
    mask[:, :, 2:6] = 1

    def evaluation():
        return Evaluation(MetricSuite(inception=features, enable_lpips=False), "toy", "v", 0)

    def add(ev, bucket, part):
        ev.add(bucket, pred[part], gt[part], mask[part], [str(i) for i in range(8)][part], ["m.png"] * 4)

    whole = evaluation()
    for bucket, part in (("0.1-0.3", slice(0, 4)), ("0.1-0.3", slice(4, 8)), ("0.3-0.6", slice(0, 4))):
        add(whole, bucket, part)
    first = evaluation()
    add(first, "0.1-0.3", slice(0, 4))
    chunks = [first.chunk()]
    add(first, "0.1-0.3", slice(4, 8))
    chunks.append(first.chunk())
    resumed = evaluation()
    for chunk in chunks:
        resumed.restore(chunk)
    add(resumed, "0.3-0.6", slice(0, 4))
    expect, got = whole.summary(), resumed.summary()
    assert got["n"].tolist() == expect["n"].tolist()
    assert got["value"].tolist() == pytest.approx(expect["value"].tolist(), nan_ok=True)
    assert got[got.metric == "fid"]["value"].notna().all() and resumed.per_image().equals(whole.per_image())


def test_an_evaluation_killed_by_sigkill_resumes_from_its_chunks(tiny_config, tmp_path, capsys):
    """A real SIGKILL (no handler runs) in the second bucket: the chunks saved before it are restored,
    and the rerun writes the files of an uninterrupted run."""
    import json
    import subprocess
    import sys

    path, config_dict, write = tiny_config
    config_dict["eval"]["batch_size"] = 1
    config = load_config(write())
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=4, seed=0)
    job = eval_job(config, "toy", "mean_fill", 0)
    (tmp_path / "job.json").write_text(json.dumps(job))
    out = tmp_path / "eval"
    killed = subprocess.run([sys.executable, "-c", f"""
import json, os, signal
from inpaint_bench.metrics.evaluation import Evaluation
from inpaint_bench.evaluation.evaluate import evaluate
add, calls = Evaluation.add, []
def add_then_die(self, *args):
    if len(calls) == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    calls.append(1)
    return add(self, *args)
Evaluation.add = add_then_die
evaluate(json.load(open({str(tmp_path / 'job.json')!r})), {str(out)!r}, masks_dir={str(masks_dir)!r}, resume_every=0)
"""], capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr
    assert len(list((out / ".resume").glob("chunk_*.pt"))) == 5 and not (out / "per_image.csv").exists()
    evaluate(job, out, masks_dir=masks_dir)
    assert "resuming: 5 of 8 test pairs were scored" in capsys.readouterr().out
    evaluate(job, tmp_path / "whole", masks_dir=masks_dir)
    for name in ("per_image.csv", "summary.csv"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
