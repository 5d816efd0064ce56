"""Validation during training: a held-out split scored every N steps, kept across a resume."""
import shutil
import warnings

import pandas as pd
import pytest
import torch

from inpaint_bench.jobs.resolve import train_job, validation_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training.train import Trainer
from inpaint_bench.training.validation import held_out_indices, validate_classical


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
    validate_classical(validation_job(config, "toy", "mean_fill"), tmp_path / "mean_fill.csv")
    run = trainer(path, tmp_path / "run")
    split = run.validation.split
    classical = pd.read_csv(tmp_path / "mean_fill.csv")
    assert (classical.step == 0).all() and len(classical) == 2 * 3
    # recompute mean fill's PSNR on the trainer's own split: the same pairs give the same number
    from inpaint_bench.models import build_model

    rows = split.score(build_model({"backbone": "mean_fill"}, 4), 0, torch.float32, "cpu")
    assert [round(r["value"], 6) for r in rows] == [round(v, 6) for v in classical.value]


class Blowup(torch.nn.Module):
    """A network whose eval-mode output leaves [0, 1] by orders of magnitude (issue 25: rfr's
    validation at step 200 read PSNR -30.7 dB and L1 92,499)."""

    def forward(self, image, mask):
        return image * 0 + torch.linspace(-4e3, 9e4, image.shape[-1])


@pytest.mark.parametrize("protocol", ["default", "skimage_rgb"])
def test_validation_scores_as_the_test_set_does_and_says_when_the_output_leaves_0_1(validated, tmp_path, capsys,
                                                                                   protocol):
    """Before: the validation composite was not clamped (PSNR far below 0 dB, L1 in the thousands), where
    evaluation clamps it. Now it goes through evaluation's own code, under the default protocol whatever
    eval.protocol is (a training job must not depend on how the test set is scored: no retraining)."""
    from inpaint_bench.metrics.evaluation import Evaluation
    from inpaint_bench.metrics.suite import MetricSuite
    from inpaint_bench.training.validation import VALIDATION_PROTOCOL

    path, config, write = validated
    before = train_job(load_config(path), "toy", "pconv", 0)
    config["eval"]["protocol"] = protocol
    write(config)
    assert train_job(load_config(path), "toy", "pconv", 0) == before
    split = trainer(path, tmp_path / "run").validation.split
    rows = pd.DataFrame(split.score(Blowup(), 2, torch.float32, "cpu"))
    assert "validation at step 2 (eval mode): the model's output in the holes spans [-4000, 9e+04], outside " \
           "the valid [0, 1]" in capsys.readouterr().err
    for bucket, mask in split.masks.items():  # the same images and masks through the evaluation
        evaluation = Evaluation(MetricSuite(enable_lpips=False, enable_fid=False, protocol=VALIDATION_PROTOCOL),
                                "toy", "blowup", 0)
        evaluation.add(bucket, Blowup()(split.image, mask), split.image, mask, ["a", "b", "c"], ["m"] * 3)
        assert evaluation.range_check() and "spans [-4000, 9e+04]" in evaluation.range_check()[0]
        scored = evaluation.per_image()
        for metric in ("psnr", "ssim", "l1"):
            value = rows[(rows.bucket == bucket) & (rows.metric == metric)].value.item()
            assert value == pytest.approx(scored[metric].mean(), abs=1e-9), (bucket, metric)
    assert rows[rows.metric == "psnr"].value.min() > 0 and rows[rows.metric == "l1"].value.max() <= 1


def test_a_collapsed_validation_point_is_said_in_the_job_log(capsys):
    from inpaint_bench.training.validation import Validation

    validation = Validation(None, 2)
    for step, value in ((2, 14.0), (4, 16.0), (6, 17.0), (8, 3.0)):
        validation.rows += [{"step": step, "bucket": "b", "metric": "psnr", "value": value, "n": 3}]
        validation.report_collapse(step)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert "validation at step 8: PSNR 3.00 dB (mean over buckets) lies far below the run's other points " \
           "(14.00, 16.00, 17.00 dB)" in err
