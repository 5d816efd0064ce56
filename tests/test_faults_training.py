"""Faults and bad input in training and evaluation: a named error (or a named recovery), never a
silent wrong number or a nameless traceback."""
import errno
import json

import pytest
import torch

from conftest import assert_same_weights, state_dict
from inpaint_bench.cli.evaluate import main as eval_main
from inpaint_bench.cli.train import main as train_main
from inpaint_bench.cli.train import parse_args
from inpaint_bench.datasets import make_test_masks
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.jobs.resolve import eval_job, teacher_job, train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training.train import Trainer


def fit(config_path, out, variant="pconv", seed=0):
    with pytest.warns(UserWarning):  # at least: VGG16 weights missing
        return Trainer(train_job(load_config(config_path), "toy", variant, seed), out).fit()


@pytest.fixture
def threads():
    """Restores torch's thread count, which the CLIs set."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_evaluation_refuses_the_model_of_another_variant_teacher_seed_or_spec(tiny_config, tmp_path, threads):
    path, config, write = tiny_config
    config["width"] = 8  # encdec needs a multiple of 8
    config["train"].update(steps=1, checkpoint_every=1)
    config["variants"].update(pconv_copy={"backbone": "pconv", "layers": 3},  # same network, other name
                              dgi={"backbone": "encdec", "attention": "dgi",
                                   "distill": {"cross": 1, "self": 1, "attention": 1}})
    write(config)
    model = fit(path, tmp_path / "pconv")
    with pytest.warns(UserWarning):
        teacher = Trainer(teacher_job(load_config(path), "toy", "encdec_attention-dgi", 0), tmp_path / "t").fit()
    record = torch.load(model, weights_only=False)
    assert {k: record[k] for k in ("role", "variant", "dataset", "seed")} == \
        {"role": "student", "variant": "pconv", "dataset": "toy", "seed": 0}
    cfg, out, masks = load_config(path), tmp_path / "eval", tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=2, seed=0)

    with pytest.raises(ValueError, match=r"pconv/model.pt is the variant 'pconv' .*not the variant 'pconv_copy'"):
        evaluate(eval_job(cfg, "toy", "pconv_copy", 0), out, model_path=model, masks_dir=masks)
    with pytest.raises(ValueError, match=r"is the DGI teacher 'encdec_attention-dgi' .*not the variant 'dgi'"):
        evaluate(eval_job(cfg, "toy", "dgi", 0), out, model_path=teacher, masks_dir=masks)
    with pytest.raises(ValueError, match=r"seed 0\), not the variant 'pconv' \(dataset 'toy', seed 1\)"):
        evaluate(eval_job(cfg, "toy", "pconv", 1), out, model_path=model, masks_dir=masks)
    config["variants"]["pconv"]["layers"] = 2  # the config changed since training
    write(config)
    with pytest.raises(SystemExit, match=r"^error: .*was trained with spec .*'layers': 3.*'layers': 2.*retrain it"):
        eval_main(["--config", str(path), "--dataset", "toy", "--variant", "pconv", "--seed", "0",
                   "--model", str(model), "--out", str(out), "--masks", str(masks), "--threads", "1"])
    assert not (out / "summary.csv").exists()


def test_truncated_model_and_a_checkpoint_given_as_model_are_named(tiny_config, tmp_path, monkeypatch, threads):
    path, config, write = tiny_config
    config["train"].update(steps=2)
    write(config)
    model = fit(path, tmp_path / "run")
    masks = tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=2, seed=0)
    job = eval_job(load_config(path), "toy", "pconv", 0)
    evaluate(job, tmp_path / "ok", model_path=model, masks_dir=masks)  # the intact file is accepted

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"truncated.pt is not a readable model file \(truncated or corrupt"):
        evaluate(job, tmp_path / "e", model_path=truncated, masks_dir=masks)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.pt is not a readable model file"):
        evaluate(job, tmp_path / "e", model_path=tmp_path / "empty.pt", masks_dir=masks)

    cli = ["--config", str(path), "--dataset", "toy", "--variant", "pconv", "--seed", "0", "--threads", "1",
           "--out", str(tmp_path / "e"), "--masks", str(masks), "--model", str(tmp_path / "run" / "checkpoint.pt")]
    with pytest.raises(SystemExit, match=r"^error: .*checkpoint.pt is a training checkpoint, not a model file: "
                                         r"pass the run's model.pt"):
        eval_main(cli)
    monkeypatch.setenv("HARNESS_DEBUG", "1")  # the traceback, on request
    with pytest.raises(ValueError, match="is a training checkpoint"):
        eval_main(cli)


def test_corrupt_checkpoint_resumes_from_the_previous_one_else_from_step_0(tiny_config, tmp_path):
    path, _, _ = tiny_config  # 6 steps, a checkpoint every 2
    run = tmp_path / "run"
    straight = state_dict(fit(path, run))  # an uninterrupted run
    assert torch.load(run / "checkpoint.prev.pt", weights_only=False)["step"] == 4

    # checkpoint.pt torn (copied, disk full, ...): resume from checkpoint.prev.pt, same final weights
    (run / "model.pt").unlink()
    ckpt = run / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    with pytest.warns(UserWarning) as caught:
        Trainer(train_job(load_config(path), "toy", "pconv", 0), run).fit()
    messages = [str(w.message) for w in caught]
    assert any("checkpoint.pt is not a readable training checkpoint" in m and "checkpoint.pt.corrupt" in m
               for m in messages)
    assert any("resuming from the previous checkpoint" in m and "(step 4)" in m for m in messages)
    assert (run / "checkpoint.pt.corrupt").exists()
    assert json.loads((run / "provenance.json").read_text())["resumed_from_step"] == 4
    assert_same_weights(straight, state_dict(run / "model.pt"))

    # both unreadable: moved aside, the run starts again from step 0 (no failure on every re-run)
    (run / "model.pt").unlink()
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (run / name).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="training starts from step 0"):
        Trainer(train_job(load_config(path), "toy", "pconv", 0), run).fit()
    assert (run / "checkpoint.prev.pt.corrupt").read_bytes() == b"not a checkpoint"
    assert json.loads((run / "provenance.json").read_text())["resumed_from_step"] is None
    assert_same_weights(straight, state_dict(run / "model.pt"))


def test_unwritable_output_folder_fails_before_any_work(tiny_config, tmp_path, monkeypatch, threads):
    # a folder under a regular file cannot be created, even by root (for whom chmod does not stop writes)
    path, config, _ = tiny_config
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "sub"
    cfg = load_config(path)
    monkeypatch.setattr("inpaint_bench.training.train.build_model", lambda *a: pytest.fail("training started"))
    monkeypatch.setattr("inpaint_bench.evaluation.evaluate.load_variant", lambda *a: pytest.fail("evaluation started"))
    with pytest.raises(OSError, match=r"cannot write to the output folder .*afile/sub: Not a directory"):
        Trainer(train_job(cfg, "toy", "pconv", 0), out)
    with pytest.raises(SystemExit, match=r"^error: .*cannot write to the output folder .*afile/sub"):
        train_main(["--config", str(path), "--dataset", "toy", "--variant", "pconv", "--seed", "0",
                    "--out", str(out), "--threads", "1"])
    with pytest.raises(OSError, match=r"cannot write to the output folder .*afile/sub"):
        evaluate(eval_job(cfg, "toy", "mean_fill", 0), out, masks_dir=tmp_path / "masks")

    def full(fd):  # a full disk: the probe file cannot be flushed
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("inpaint_bench.harness.fileio.os.fsync", full)
    with pytest.raises(OSError, match=r"cannot write to the output folder .*ok: No space left on device"):
        Trainer(train_job(cfg, "toy", "pconv", 0), tmp_path / "ok")
    assert list((tmp_path / "ok").iterdir()) == []  # the probe is removed


def test_thread_count_is_recorded_and_a_resume_with_another_count_warns(tiny_config, tmp_path, capsys, threads):
    path, _, _ = tiny_config
    out = tmp_path / "run"
    cmd = ["--config", str(path), "--dataset", "toy", "--variant", "pconv", "--seed", "0", "--out", str(out)]
    with pytest.warns(UserWarning):
        train_main(cmd + ["--threads", "1"])
    assert json.loads((out / "provenance.json").read_text())["threads"] == 1
    assert torch.load(out / "model.pt", weights_only=False)["threads_used"] == [1]

    # interrupted after step 4 (the last checkpoint lost), resumed with 2 threads: said and recorded
    (out / "model.pt").unlink()
    (out / "checkpoint.pt").unlink()
    with pytest.warns(UserWarning, match="written with 1 torch threads, this run uses 2"):
        train_main(cmd + ["--threads", "2"])
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["threads"] == 2 and provenance["threads_used"] == [1, 2]
    assert torch.load(out / "model.pt", weights_only=False)["threads_used"] == [1, 2]

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "The weights depend on it; it is recorded in provenance.json" in help_text
    assert "HARNESS_DEBUG=1" in help_text
