import csv
import signal
import subprocess
import time

import pytest
import torch

from conftest import assert_same_weights, state_dict, toy_train_command
from helpers.workflow import REPO
from inpaint_bench.cli.train import main as train_main
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs.resolve import train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training.train import StepBatches, Trainer


def test_step_batches_do_not_depend_on_the_start_step():
    full = list(StepBatches(10, 3, seed=5, start_step=0, total_steps=8))
    resumed = list(StepBatches(10, 3, seed=5, start_step=4, total_steps=8))
    assert resumed == full[4:]
    # every epoch is a permutation: the first 10 samples cover the dataset once
    first_epoch = [idx for batch in full for g, idx in batch if g < 10]
    assert sorted(first_epoch) == list(range(10))


def test_training_writes_outputs_and_logs_every_term(tiny_config, tmp_path):
    path, _, _ = tiny_config
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="vgg16-397923af.pth not found"):
        train_main(["--config", str(path), "--dataset", "toy", "--variant", "pconv", "--seed", "0",
                    "--out", str(out), "--threads", "1"])
    record = torch.load(out / "model.pt", weights_only=False)
    assert record["spec"] == {"backbone": "pconv", "layers": 3} and record["steps"] == 6
    assert any("no_vgg" in n for n in record["notes"])
    rows = list(csv.DictReader(open(out / "train_log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    for term in ("total", "hole", "valid", "tv"):
        assert all(float(r[term]) >= 0 for r in rows), term
    assert "perceptual" not in rows[0]  # dropped without VGG weights, never faked


def test_kill_9_then_rerun_gives_the_weights_of_an_uninterrupted_run(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["train"].update(steps=300, checkpoint_every=20, log_every=10)
    write(config)
    cmd = toy_train_command(path, seed=3)

    straight = tmp_path / "straight"
    subprocess.run(cmd + ["--out", str(straight)], check=True, cwd=REPO, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(killed)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # bounds a hang on a busy machine
    while not (killed / "checkpoint.pt").exists():
        assert proc.poll() is None, "training ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model.pt").exists(), "the run finished before it could be killed"
    step_at_kill = torch.load(killed / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < step_at_kill < 300

    subprocess.run(cmd + ["--out", str(killed)], check=True, cwd=REPO, capture_output=True)
    assert_same_weights(state_dict(straight / "model.pt"), state_dict(killed / "model.pt"))
    steps = [int(r["step"]) for r in csv.DictReader(open(killed / "train_log.csv"))]
    assert steps == list(range(10, 301, 10))  # the log has no gap and no duplicate across the resume


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    path, _, _ = tiny_config
    out = tmp_path / "nan"
    with pytest.warns(UserWarning):
        trainer = Trainer(train_job(load_config(path), "toy", "pconv", 0), out)
    real_forward = trainer.loss.forward
    calls = {"n": 0}

    def poisoned(pred, gt, mask):
        calls["n"] += 1
        total, terms = real_forward(pred, gt, mask)
        return (total * float("nan") if calls["n"] == 3 else total), terms

    trainer.loss.forward = poisoned
    with pytest.raises(FloatingPointError, match="step 3"):
        trainer.fit()
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 2
    assert not (out / "model.pt").exists()


def test_finetune_stage_freezes_batchnorm_statistics_and_lowers_lr(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["train"].update(steps=2, finetune_steps=2, finetune_lr=1e-5)
    write(config)
    with pytest.warns(UserWarning):
        trainer = Trainer(train_job(load_config(path), "toy", "pconv", 0), tmp_path / "ft")
    bn = [m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    image = torch.rand(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.7).float()

    assert trainer.set_phase() == "train"
    before = [m.running_mean.clone() for m in bn]
    trainer.train_step(image, mask)
    assert any(not torch.equal(b, m.running_mean) for b, m in zip(before, bn))  # statistics update

    trainer.step = 2
    assert trainer.set_phase() == "finetune"
    assert trainer.optimizer.param_groups[0]["lr"] == 1e-5
    frozen = [m.running_mean.clone() for m in bn]
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train_step(image, mask)
    assert all(torch.equal(f, m.running_mean) for f, m in zip(frozen, bn))
    assert any(not torch.equal(w, p) for w, p in zip(weights, trainer.model.parameters()))  # still learning


def test_classical_variant_refuses_training(tiny_config, tmp_path):
    path, _, _ = tiny_config
    with pytest.raises(ConfigError, match="needs no training"):
        train_job(load_config(path), "toy", "mean_fill", 0)


def test_misspelt_config_key_is_named(tiny_config):
    path, config, write = tiny_config
    config["train"]["setps"] = 5
    write(config)
    with pytest.raises(ConfigError, match="setps"):
        load_config(path)


def test_an_option_of_another_backbone_fails_config_validation_naming_variant_and_key(tiny_config):
    path, config, write = tiny_config
    config["variants"]["odd"] = {"backbone": "encdec", "iterations": 6}
    config["seeds"] = [0, 0]
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "variants.odd: option 'iterations' does not belong to backbone 'encdec'" in str(err.value)
    assert "seeds [0, 0] repeat a seed" in str(err.value)  # every problem is listed at once


def test_config_integers_are_integers_and_keys_appear_once(tiny_config):
    path, config, write = tiny_config
    config["image_size"] = 32.0
    write(config)
    with pytest.raises(ConfigError, match="'image_size': 32.0 is not of type 'integer'"):
        load_config(path)
    config["image_size"] = 32
    path.write_text(path.read_text() + "width: 8\n")  # a second `width:` key
    with pytest.raises(ConfigError, match=r"config.yaml:\d+: key 'width' appears twice"):
        load_config(path)


def test_distillation_with_all_weights_zero_trains_exactly_like_no_distillation(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["width"] = 8
    config["train"]["steps"] = 3
    config["variants"] = {"plain": {"backbone": "encdec", "attention": "dgi"},
                          "zero": {"backbone": "encdec", "attention": "dgi",
                                   "distill": {"cross": 0.0, "self": 0, "attention": 0}}}
    write(config)
    for name in ("plain", "zero"):
        with pytest.warns(UserWarning):
            train_main(["--config", str(path), "--dataset", "toy", "--variant", name, "--seed", "0",
                        "--out", str(tmp_path / name), "--threads", "1"])
    assert_same_weights(state_dict(tmp_path / "plain" / "model.pt"), state_dict(tmp_path / "zero" / "model.pt"))


def test_student_trains_against_a_frozen_teacher(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["width"] = 8
    config["train"]["steps"] = 2
    config["variants"] = {"dgi": {"backbone": "encdec", "attention": "dgi", "completion_block": True,
                                  "fusion": "global_local", "distill": {"cross": 1, "self": 1, "attention": 1}}}
    write(config)
    with pytest.warns(UserWarning):
        train_main(["--config", str(path), "--dataset", "toy", "--teacher-arch", "encdec_attention-dgi",
                    "--seed", "0", "--out", str(tmp_path / "teacher"), "--threads", "1"])
    teacher = torch.load(tmp_path / "teacher" / "model.pt", weights_only=False)
    assert teacher["role"] == "teacher" and "distill" not in teacher["spec"]
    assert "completion_block" not in teacher["spec"]  # the teacher sees no hole
    with pytest.raises(SystemExit, match="teacher 'encdec_attention-dgi', whose model .* is not trained yet.*--teacher-arch encdec_attention-dgi"):
        train_main(["--config", str(path), "--dataset", "toy", "--variant", "dgi", "--seed", "0",
                    "--out", str(tmp_path / "orphan"), "--threads", "1"])
    with pytest.warns(UserWarning):
        trainer = Trainer(train_job(load_config(path), "toy", "dgi", 0), tmp_path / "student",
                          teacher=str(tmp_path / "teacher" / "model.pt"))
    before = {k: v.clone() for k, v in trainer.teacher.state_dict().items()}
    trainer.fit()
    rows = list(csv.DictReader(open(tmp_path / "student" / "train_log.csv")))
    for term in ("distill_cross", "distill_self", "distill_attention"):
        assert float(rows[-1][term]) > 0, term
    assert_same_weights(before, trainer.teacher.state_dict())  # frozen: no update, no BN statistics
    assert all(p.grad is None for p in trainer.teacher.parameters())
    assert any(p.grad is not None for p in trainer.distill.parameters())  # meta networks do learn


def test_finetuning_starts_from_a_fresh_adam_unless_asked_to_keep_it(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["train"].update(steps=2, finetune_steps=2, finetune_lr=1e-5)
    write(config)
    image = torch.rand(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.7).float()

    def adam_steps(trainer):
        return {int(s["step"]) for s in trainer.optimizer.state_dict()["state"].values()}

    moments = {}
    for choice in ("fresh", "keep"):
        config["train"]["finetune_optimizer"] = choice
        write(config)
        with pytest.warns(UserWarning):
            trainer = Trainer(train_job(load_config(path), "toy", "pconv", 0), tmp_path / choice)
        first_stage = trainer.optimizer
        for step in range(3):
            trainer.step = step
            trainer.set_phase()
            trainer.train_step(image, mask)
        moments[choice] = (adam_steps(trainer), trainer.optimizer is first_stage,
                           trainer.optimizer.param_groups[0]["lr"])
    # fresh: the first fine-tuning step is step 1 of a new Adam; keep: the third step of the old one
    assert moments["fresh"] == ({1}, False, 1e-5)
    assert moments["keep"] == ({3}, True, 1e-5)


def test_resuming_at_the_start_of_finetuning_gives_the_uninterrupted_weights(tiny_config, tmp_path):
    """The fresh optimiser is a function of the step: a run resumed from the checkpoint written at
    the last step of the first stage switches exactly as the uninterrupted run did."""
    import shutil

    path, config, write = tiny_config
    config["train"].update(steps=3, finetune_steps=3, checkpoint_every=3)
    write(config)
    job = train_job(load_config(path), "toy", "pconv", 0)
    with pytest.warns(UserWarning):
        Trainer(job, tmp_path / "straight").fit()
    at_switch = torch.load(tmp_path / "straight" / "checkpoint.prev.pt", weights_only=False)
    assert at_switch["step"] == 3
    (tmp_path / "resumed").mkdir()
    shutil.copy(tmp_path / "straight" / "checkpoint.prev.pt", tmp_path / "resumed" / "checkpoint.pt")
    with pytest.warns(UserWarning):
        Trainer(job, tmp_path / "resumed").fit()
    assert_same_weights(state_dict(tmp_path / "straight" / "model.pt"), state_dict(tmp_path / "resumed" / "model.pt"))


def test_a_loss_ablation_row_trains_with_its_weight_and_every_other_global_one(tiny_config, tmp_path):
    """`train: {loss: {style: 60}}`: the loss the row minimises has style 60 and the global hole weight,
    and provenance.json records the resolved weights."""
    import json

    path, config, write = tiny_config
    config["train"].update(steps=1, loss={"hole": 3.0})
    config["variants"]["style60"] = {"backbone": "pconv", "layers": 3, "train": {"loss": {"style": 60}}}
    write(config)
    with pytest.warns(UserWarning):
        trainer = Trainer(train_job(load_config(path), "toy", "style60", 0), tmp_path / "run")
    assert trainer.loss.weights == {"hole": 3.0, "valid": 1.0, "perceptual": 0.05, "style": 60, "tv": 0.1}
    trainer.fit()
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["settings"]["loss"] == {"hole": 3.0, "valid": 1.0, "perceptual": 0.05, "style": 60,
                                              "tv": 0.1, "vgg_input": "unit", "tv_region": "composite_hole"}


def test_the_checkpoints_go_once_model_pt_is_final_unless_kept(tiny_config, tmp_path, recwarn):
    """train.keep_checkpoint false (the default): checkpoint.pt and checkpoint.prev.pt (about twice model.pt)
    are removed once model.pt is written; kept with true; and the setting is no part of the job (changes no
    number, so toggling it re-runs nothing)."""
    from inpaint_bench.training.checkpoint import remove_checkpoints
    from inpaint_bench.training.train import train

    path, config, write = tiny_config
    job = train_job(load_config(path), "toy", "pconv", 0)
    config["train"]["keep_checkpoint"] = False
    write(config)
    assert train_job(load_config(path), "toy", "pconv", 0) == job
    train(job, tmp_path / "dropped", keep_checkpoint=False)
    assert sorted(p.name for p in (tmp_path / "dropped").glob("*.pt")) == ["model.pt"]
    train(job, tmp_path / "kept", keep_checkpoint=True)
    assert sorted(p.name for p in (tmp_path / "kept").glob("*.pt")) == ["checkpoint.prev.pt", "checkpoint.pt",
                                                                      "model.pt"]
    (tmp_path / "kept" / "model.pt").unlink()
    with pytest.raises(FileNotFoundError, match="checkpoints of an unfinished run are kept"):
        remove_checkpoints(tmp_path / "kept")
