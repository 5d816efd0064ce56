"""masks.pairing: which test image meets which mask of a bucket (datasets.mask_sets.bucket_pairs), as
evaluation scores, `export` writes, provenance records and the tables' footnotes state it."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inpaint_bench.datasets import bucket_pairs, build_dataset, load_test_masks, make_test_masks
from inpaint_bench.datasets.kinds import dataset_spec
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs.resolve import eval_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.reporting.stats import Bootstrap, image_cluster, pair_rows, paired_interval

BUCKET = "0.1-0.2"


def test_cycle_pairs_image_i_with_mask_i_mod_count_as_before():
    assert bucket_pairs("cycle", 5, 3, 0, BUCKET) == [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1)]
    assert bucket_pairs("cycle", 3, 2000, 0, BUCKET) == [(0, 0), (1, 1), (2, 2)]  # the slice cycle is


def test_every_mask_uses_every_mask_once_with_the_images_cycled():
    pairs = bucket_pairs("every_mask", 4, 10, 0, BUCKET)
    assert pairs == [(k % 4, k) for k in range(10)]
    assert sorted(m for _, m in pairs) == list(range(10))  # every mask exactly once
    assert Counter(i for i, _ in pairs) == {0: 3, 1: 3, 2: 2, 3: 2}  # each image meets several masks
    # fewer masks than images: every image still scored once, the masks cycled (no image slice either)
    assert bucket_pairs("every_mask", 5, 3, 0, BUCKET) == [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1)]


def test_random_mask_draws_one_seeded_mask_per_image_reproducibly():
    pairs = bucket_pairs("random_mask", 6, 2000, 0, BUCKET)
    assert [i for i, _ in pairs] == list(range(6))  # one pair per image
    masks = [m for _, m in pairs]
    assert len(set(masks)) == 6 and all(0 <= m < 2000 for m in masks)
    assert masks != list(range(6))  # not a name-order slice
    assert bucket_pairs("random_mask", 6, 2000, 0, BUCKET) == pairs  # reproducible
    assert bucket_pairs("random_mask", 6, 2000, 1, BUCKET) != pairs  # masks.seed draws another
    assert bucket_pairs("random_mask", 6, 2000, 0, "0.2-0.3") != pairs  # each bucket its own
    assert bucket_pairs("random_mask", 10, 2000, 0, BUCKET)[:6] == pairs  # more images: the same first pairs
    # more images than masks: every mask used before any is used again
    counts = Counter(m for _, m in bucket_pairs("random_mask", 7, 3, 0, BUCKET))
    assert sorted(counts) == [0, 1, 2] and max(counts.values()) == 3 and min(counts.values()) == 2


def test_count_all_with_cycle_is_refused_at_config_time(tiny_config, tmp_path):
    path, config, write = tiny_config
    folder = tmp_path / "nvidia"
    folder.mkdir()
    config["masks"].update(count="all", source="nvidia", nvidia_dir=str(folder))
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = next(line for line in str(err.value).splitlines() if "masks.pairing" in line)
    assert "masks.pairing: cycle with masks.count: all" in line
    assert "every_mask" in line and "random_mask" in line
    config["masks"]["pairing"] = "every_mask"
    write(config)
    assert "masks.pairing" not in _problems(path)


def _problems(path) -> str:
    try:
        load_config(path)
    except ConfigError as err:
        return str(err)
    return ""


@pytest.fixture
def every_mask_eval(tiny_config, tmp_path):
    """mean_fill scored on the tiny fixture (4 test images) with 6 generated masks per bucket, every_mask."""
    path, config, write = tiny_config
    config["masks"]["pairing"] = "every_mask"
    write(config)
    config = load_config(path)
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=6, seed=0)
    out = tmp_path / "eval"
    summary = evaluate(eval_job(config, "toy", "mean_fill", 0), out, masks_dir=masks_dir)
    return config, masks_dir, out, summary


def test_an_every_mask_evaluation_scores_every_mask_and_its_footnote_says_what_n_counts(every_mask_eval, tmp_path):
    from inpaint_bench.reporting.tables import write_tables

    config, masks_dir, out, summary = every_mask_eval
    images = [item["name"] for item in build_dataset(dataset_spec(config, "toy"), "test", 32)]
    per_image = pd.read_csv(out / "per_image.csv")
    for bucket, bucket_masks in load_test_masks(masks_dir).items():
        rows = per_image[per_image.bucket == bucket]
        assert sorted(rows["mask"]) == sorted(f"{bucket}/{stem}.png" for stem, _ in bucket_masks)  # each once
        assert list(rows["image"]) == [images[k % len(images)] for k in range(6)]  # the 4 images cycled
    assert set(summary.loc[summary.metric == "psnr", "n"]) == {6}  # n = masks per bucket
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["job"]["pairing"] == {"pairing": "every_mask", "seed": 0}

    paths = write_tables(summary, "toy", tmp_path / "tables", per_image=per_image, pairing="every_mask")
    for key in ("md", "ablation_md"):
        text = paths[key].read_text()
        assert "n = 6 image-mask pairs per bucket and seed: every mask and every test image at least once" in text
        assert "masks.pairing: every_mask" in text
        assert "one fixed mask each" not in text


def test_the_pairing_is_part_of_the_eval_job_and_not_of_the_train_job(tiny_config):
    path, config, write = tiny_config
    before = eval_job(load_config(path), "toy", "pconv", 0)
    config["masks"]["pairing"] = "random_mask"
    write(config)
    after = eval_job(load_config(path), "toy", "pconv", 0)
    assert before["pairing"] != after["pairing"]
    assert before["train"] == after["train"]  # re-scores, never re-trains


@pytest.mark.parametrize("pairing", ["cycle", "every_mask", "random_mask"])
def test_export_writes_the_pairs_evaluation_scores(tiny_config, tmp_path, pairing):
    from inpaint_bench.evaluation.export import export

    path, config, write = tiny_config
    config["masks"]["pairing"] = pairing
    write(config)
    config = load_config(path)
    masks_dir = tmp_path / "masks"
    make_test_masks(masks_dir, 32, config["masks"]["buckets"], count=6, seed=0)
    evaluate(eval_job(config, "toy", "mean_fill", 0), tmp_path / "eval", masks_dir=masks_dir)
    manifest = export(config, "toy", 0, tmp_path / "pairs", masks_path=str(masks_dir))
    exported = pd.read_csv(manifest)
    scored = pd.read_csv(tmp_path / "eval" / "per_image.csv")
    key = ["bucket", "image", "mask"]
    assert list(exported[key].itertuples(index=False)) == list(scored[key].itertuples(index=False))
    assert len(exported) == len(set(exported["file"]))  # one copy per pair
    for row in exported.itertuples():  # each copy is the mask it names
        assert row.hole_ratio == pytest.approx(float(scored.loc[(scored["mask"] == row.mask), "hole_ratio"].iloc[0]))


def test_intervals_resample_an_image_met_with_several_masks_as_one_unit():
    """Where every_mask pairs an image with several masks, the ablation's interval draws the image
    with all its pairs (stats' cluster option), not each pair as an independent value."""
    from inpaint_bench.reporting.ablation import build_ablation

    rng = np.random.default_rng(0)
    images = [f"img{i}" for i in range(12) for _ in range(3)]
    masks = [f"{BUCKET}/{k:05d}.png" for k in range(36)]
    effect = np.repeat(rng.normal(0, 1, 12), 3)  # the image, not the mask, carries the difference
    frames, summary = [], []
    for variant, shift in (("baseline", 0.0), ("rfr", 1.0)):
        psnr = 20 + shift * (1 + effect) + rng.normal(0, 0.01, 36)
        frames.append(pd.DataFrame({"dataset": "d", "variant": variant, "seed": 0, "bucket": BUCKET,
                                    "image": images, "mask": masks, "hole_ratio": 0.15, "psnr": psnr,
                                    "protocol": "default"}))
        summary.append({"dataset": "d", "variant": variant, "seed": 0, "bucket": BUCKET, "metric": "psnr",
                        "value": psnr.mean(), "n": 36, "note": "", "train_note": "", "protocol": "default"})
    per_image, summary = pd.concat(frames, ignore_index=True), pd.DataFrame(summary)
    bootstrap = Bootstrap(resamples=500)
    frame = build_ablation(summary, per_image, "d", baseline_row="baseline", bootstrap=bootstrap)
    row = frame[frame.variant == "rfr"].iloc[0]
    pairs = pair_rows(frames[0], frames[1], "psnr")
    assert image_cluster(pairs) == "image" and image_cluster(pairs.drop_duplicates("image")) is None
    salt = ("d", BUCKET, "psnr", "rfr", "baseline")
    clustered = paired_interval(pairs, bootstrap, salt, cluster="image")
    independent = paired_interval(pairs, bootstrap, salt)
    assert row["method"] == "bootstrap"
    assert (row["lo"], row["hi"]) == pytest.approx((clustered.lo, clustered.hi))
    assert clustered.hi - clustered.lo > 1.3 * (independent.hi - independent.lo)  # 12 images, not 36 values


@pytest.mark.parametrize("name", ["paper.yaml", "paper_text.yaml", "paper_iternum.yaml", "rfr_released.yaml"])
def test_the_paper_configs_score_every_nvidia_mask(name):
    from inpaint_bench.harness.config import consistency_problems, read_config_file

    folder = Path(__file__).parents[1] / "config"
    config = read_config_file(folder / name)
    assert config["masks"]["count"] == "all" and config["masks"]["pairing"] == "every_mask"
    paper = load_config(folder / "paper.yaml")
    paper["masks"]["pairing"] = "cycle"  # what the paper configs said before: a name-order slice on Paris
    assert any(p.startswith("masks.pairing: cycle with masks.count: all") for p in consistency_problems(paper))
