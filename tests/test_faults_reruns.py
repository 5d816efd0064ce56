"""Issue 18: a result is never older than what it was computed from (a forced or re-specified job
starts clean, a model trained for another job is refused, a changed config or dataset reruns its
jobs without Snakemake's metadata), and training that diverges or meets a NaN stops saying only what
is true."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml

from conftest import write_images
from helpers.workflow import planned_jobs, snakemake
from inpaint_bench.datasets import make_test_masks
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.jobs.resolve import eval_job, teacher_job, train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training import checkpoint
from inpaint_bench.training.train import Trainer


def trainer(path, out, variant="pconv"):
    with pytest.warns(UserWarning):  # at least: VGG16 weights missing
        return Trainer(train_job(load_config(path), "toy", variant, 0), out)


# ------------------------------------------------------------------ 4. reruns that miss changed inputs


def test_a_forced_rerun_of_a_finished_job_trains_again_from_step_0(tiny_config, tmp_path):
    """Before: `--forcerun model.pt` "resumed" from the final checkpoint, trained nothing and wrote the
    old weights again (after a fix in models/, say)."""
    path, _, _ = tiny_config
    out = tmp_path / "run"
    trainer(path, out).fit()
    (out / "model.pt").unlink()  # what Snakemake does to a forced job's outputs
    again = trainer(path, out)
    steps = []
    real_step = again.train_step
    again.train_step = lambda image, mask: steps.append(again.step) or real_step(image, mask)
    with pytest.warns(UserWarning, match=r"checkpoint.pt is of a complete run \(step 6 of 6\): training this job "
                                         r"again starts from step 0"):
        again.fit()
    assert steps == list(range(6))
    assert json.loads((out / "provenance.json").read_text())["resumed_from_step"] is None


def test_a_checkpoint_written_by_other_code_is_not_resumed(tiny_config, tmp_path, monkeypatch):
    path, _, _ = tiny_config
    out = tmp_path / "run"
    trainer(path, out).fit()
    (out / "model.pt").unlink()
    (out / "checkpoint.pt").unlink()  # killed after step 4: checkpoint.prev.pt would be resumed
    monkeypatch.setattr(checkpoint, "code_digest", lambda: "after-a-fix")  # e.g. a bug fixed in models/
    with pytest.warns(UserWarning, match=r"checkpoint.prev.pt was written for other code \(the harness's source "
                                         r"changed since\); not resuming from it"):
        trainer(path, out).fit()
    assert json.loads((out / "provenance.json").read_text())["resumed_from_step"] is None


def test_evaluation_refuses_a_model_trained_for_another_job(tiny_config, tmp_path):
    path, config, write = tiny_config
    model = trainer(path, tmp_path / "run").fit()
    masks = tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=2, seed=0)
    assert torch.load(model, weights_only=False)["job"] == train_job(load_config(path), "toy", "pconv", 0)
    evaluate(eval_job(load_config(path), "toy", "pconv", 0), tmp_path / "ok", model_path=model, masks_dir=masks)
    provenance = json.loads((tmp_path / "ok" / "provenance.json").read_text())
    assert provenance["job"]["train"]["name"] == "pconv"
    # how long the model trained, as its model.pt recorded it: what the tables say (reporting.budget)
    assert provenance["trained"] == {"steps": 6, "finetune_steps": 0, "batch_size": 2}

    config["train"]["lr"] = 1e-3  # a setting changed since training
    write(config)
    with pytest.raises(ValueError, match=r"run/model.pt \(the variant 'pconv' .*\) was trained for another job: "
                                         r"settings.lr differ; retrain it"):
        evaluate(eval_job(load_config(path), "toy", "pconv", 0), tmp_path / "e", model_path=model, masks_dir=masks)
    config["train"]["lr"] = 2e-4
    write(config)
    write_images(tmp_path / "data" / "train", 13, seed=1)  # an image added to the training set
    with pytest.raises(ValueError, match=r"listing.images differ \(the dataset or mask files changed since\)"):
        evaluate(eval_job(load_config(path), "toy", "pconv", 0), tmp_path / "e", model_path=model, masks_dir=masks)
    assert not (tmp_path / "e" / "summary.csv").exists()


def test_a_student_refuses_a_teacher_trained_for_another_job(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["width"] = 8
    config["variants"] = {"dgi": {"backbone": "encdec", "attention": "dgi", "distill": {"cross": 1.0}}}
    write(config)
    with pytest.warns(UserWarning):
        teacher = Trainer(teacher_job(load_config(path), "toy", "encdec_attention-dgi", 0), tmp_path / "t").fit()
    config["train"]["teacher_steps"] = 3  # the teacher's schedule changed since
    write(config)
    with pytest.raises(ValueError, match=r"t/model.pt \(the DGI teacher .*\) was trained for another job: "
                                         r"settings.steps differ; retrain it"):
        with pytest.warns(UserWarning):
            Trainer(train_job(load_config(path), "toy", "dgi", 0), tmp_path / "s", teacher=str(teacher))


@pytest.mark.slow  # a real run of the default target first: about half a minute
def test_a_changed_config_or_dataset_reruns_without_snakemakes_metadata(tmp_path):
    """Before: with .snakemake/ deleted (or another checkout on the same results), `width: 4 -> 8`
    and a test image added both gave "Nothing to be done", keeping the old models and numbers."""
    write_images(tmp_path / "data" / "train", 8, seed=1)
    write_images(tmp_path / "data" / "test", 2, seed=2)
    config = {"results_dir": "results", "image_size": 32, "width": 4,
              "datasets": {"toy": {"kind": "folder", "root": "data"}},
              "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 2},
              "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "precision": "fp32"},
              "eval": {"batch_size": 4, "samples": 1, "fid": False, "lpips": False},
              "variants": {"mean_fill": {"backbone": "mean_fill"}, "pconv": {"backbone": "pconv", "layers": 3}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--cores", "2", "--configfile", path)

    def planned():
        shutil.rmtree(tmp_path / ".snakemake")  # no metadata: file times and the job files only
        return {(rule, wildcards) for rule, wildcards in planned_jobs(snakemake(tmp_path, "-n", "--configfile",
                                                                                path).stdout)}

    assert planned() == set()
    path.write_text(yaml.safe_dump({**config, "width": 8}))
    jobs = planned()
    assert ("train", "dataset=toy, variant=pconv, seed=0") in jobs
    # (validation is off in this config: no validate_classical job is planned for the classical row)
    assert {rule for rule, _ in jobs} == {"describe_job", "train", "evaluate", "aggregate", "tables", "plots",
                                         "validation_plot", "all"}
    path.write_text(yaml.safe_dump(config))
    write_images(tmp_path / "data" / "test", 3, seed=2)  # a test image added: the evaluations only
    jobs = planned()
    assert {rule for rule, _ in jobs} == {"describe_job", "evaluate", "aggregate", "tables", "plots", "all"}
    assert {w for r, w in jobs if r == "evaluate"} == {"dataset=toy, variant=mean_fill, seed=0",
                                                       "dataset=toy, variant=pconv, seed=0"}


# ------------------------------------------------------------------ 6. training that fails quietly


def test_a_diverging_loss_stops_training_naming_the_step_and_the_loss(tiny_config, tmp_path):
    """Before: with lr 10 the loss went from 1.4 to 1e4 and more, stayed finite, and the run ended
    "successfully" with a model that paints every hole one colour."""
    path, config, write = tiny_config
    config["train"]["lr"] = 10.0
    write(config)
    out = tmp_path / "run"
    with pytest.raises(FloatingPointError) as caught:
        trainer(path, out).fit()
    message = str(caught.value)
    assert message.startswith("training diverged at step 2: loss ")
    assert "is more than 100 times the median" in message and "Lower train.lr (now 10)" in message
    assert "it ran in fp32 already" in message and "No checkpoint was written; no model.pt is written." in message
    assert not (out / "model.pt").exists()


@pytest.mark.parametrize("bad_step, disk", [(1, "No checkpoint was written"),
                                            (3, "The checkpoint of step 2 (")])
def test_a_nan_loss_says_only_what_is_true(tiny_config, tmp_path, bad_step, disk):
    """Before: "the last good checkpoint .../checkpoint.pt is kept ... try precision fp32", with no
    checkpoint on disk and a run already in fp32."""
    path, _, _ = tiny_config
    run = trainer(path, tmp_path / "run")
    real_forward, calls = run.loss.forward, []

    def poisoned(pred, gt, mask):
        calls.append(1)
        total, terms = real_forward(pred, gt, mask)
        return (total * float("nan") if len(calls) == bad_step else total), terms

    run.loss.forward = poisoned
    with pytest.raises(FloatingPointError) as caught:
        run.fit()
    message = str(caught.value)
    assert message.startswith(f"non-finite loss nan at step {bad_step}") and disk in message
    assert "it ran in fp32 already" in message and "last good" not in message and "try precision" not in message
