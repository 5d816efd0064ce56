"""Validation during training: a held-out split scored every N steps, kept across a resume."""
import shutil
import warnings

import pandas as pd
import pytest
import torch

from inpaint_bench.jobs.resolve import train_job, validation_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training.train import Trainer
from inpaint_bench.training.validation import held_out_indices, validate_reference


def trainer(path, out) -> Trainer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no VGG16 weights here: perceptual and style terms dropped
        return Trainer(train_job(load_config(path), "toy", "pconv", 0), out)


@pytest.fixture
def validated(tiny_config):
    path, config, write = tiny_config
    config["train"]["validation"] = {"every": 2, "images": 3}
    write(config)
    return path, config, write


def test_held_out_images_are_spread_and_never_trained_on(validated, tmp_path):
    assert held_out_indices(12, 3) == [0, 6, 11] and held_out_indices(12, 0) == []
    with pytest.raises(ValueError, match="train.validation.images 12 leaves no training image of the 12"):
        held_out_indices(12, 12)
    run = trainer(validated[0], tmp_path / "run")
    assert len(run.images) == 12 - 3 and not {0, 6, 11} & set(run.images.keep)
    assert run.validation.split.image.shape == (3, 3, 32, 32)
    assert set(run.validation.split.masks) == {"0.1-0.3", "0.3-0.6"}
    for bucket, masks in run.validation.split.masks.items():
        lo, hi = map(float, bucket.split("-"))
        ratios = masks.mean(dim=(1, 2, 3))
        assert ((ratios > lo) & (ratios <= hi)).all(), (bucket, ratios)


def test_validation_csv_has_every_nth_step_and_the_last_per_bucket_and_metric(validated, tmp_path, capsys):
    run = trainer(validated[0], tmp_path / "run")
    run.fit()
    frame = pd.read_csv(tmp_path / "run" / "validation.csv")
    assert list(frame.columns) == ["step", "bucket", "metric", "value", "n"]
    assert sorted(frame.step.unique()) == [2, 4, 6]
    assert len(frame) == 3 * 2 * 3 and (frame.n == 3).all()
    assert set(frame.metric) == {"psnr", "ssim", "l1"} and frame.value.notna().all()
    assert "validation: " in capsys.readouterr().out  # its cost, in the job's log


def test_a_resumed_run_writes_the_validation_csv_of_an_uninterrupted_one(validated, tmp_path):
    trainer(validated[0], tmp_path / "straight").fit()
    # the checkpoint written at step 4 (kept as checkpoint.prev.pt), as a run stopped there leaves it
    (tmp_path / "resumed").mkdir()
    shutil.copy(tmp_path / "straight" / "checkpoint.prev.pt", tmp_path / "resumed" / "checkpoint.pt")
    trainer(validated[0], tmp_path / "resumed").fit()
    assert (tmp_path / "resumed" / "validation.csv").read_bytes() == \
        (tmp_path / "straight" / "validation.csv").read_bytes()


def test_without_validation_nothing_is_held_out(tiny_config, tmp_path):
    run = trainer(tiny_config[0], tmp_path / "run")
    assert len(run.images) == 12 and run.validation.split is None
    run.fit()
    assert pd.read_csv(tmp_path / "run" / "validation.csv").empty


def test_a_classical_row_is_scored_on_the_same_split_and_masks(validated, tmp_path):
    path = validated[0]
    config = load_config(path)
    validate_reference(validation_job(config, "toy", "mean_fill"), tmp_path / "mean_fill.csv")
    run = trainer(path, tmp_path / "run")
    split = run.validation.split
    reference = pd.read_csv(tmp_path / "mean_fill.csv")
    assert (reference.step == 0).all() and len(reference) == 2 * 3
    # recompute mean fill's PSNR on the trainer's own split: the same pairs give the same number
    from inpaint_bench.models import build_model

    rows = split.score(build_model({"backbone": "mean_fill"}, 4), 0, torch.float32, "cpu")
    assert [round(r["value"], 6) for r in rows] == [round(v, 6) for v in reference.value]
