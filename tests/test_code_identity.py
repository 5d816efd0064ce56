"""Code is an input: a job's identity holds the digests of the source files its row is built from
(jobs/probe.py), so an edit of a module re-runs exactly the rows that use it, and model.pt's identity
check refuses a model trained by other code."""
import os
import time

import pytest
import torch
import yaml

from helpers.workflow import REPO, copy_checkout, planned_jobs, snakemake
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.jobs.probe import code_digests, source_digest
from inpaint_bench.jobs.resolve import eval_job, teacher_job, train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training.train import Trainer


def test_a_row_depends_on_the_files_it_is_built_from_and_no_other():
    ci = load_config(REPO / "config" / "ci.yaml")
    files = {name: set(code_digests(spec, 8)) for name, spec in ci["variants"].items()}
    assert files["mean_fill"] == {"models/classical.py"}
    assert files["pconv"] == {"models/pconv_unet.py", "models/partial_conv.py", "models/losses.py"}
    assert files["baseline"] == {"models/rfr.py", "models/partial_conv.py", "models/losses.py"}  # no attention
    assert files["rfr_kca"] == files["baseline"] | {"models/attention.py"}
    assert files["rfr_kca_dgi"] == files["rfr_kca"] | {"models/dgi_blocks.py", "models/distill.py"}
    job = train_job(ci, "mini_natural", "rfr_kca_dgi", 0)
    # the row's model files, beside the code its training script runs (tests/test_code_inputs.py)
    assert code_digests(ci["variants"]["rfr_kca_dgi"], 8).items() <= job["code"].items()
    teacher = teacher_job(ci, "mini_natural", job["teacher"], 0)
    assert job["teacher_code"] == teacher["code"] and "models/dgi_blocks.py" not in teacher["code"]
    evaluation = eval_job(ci, "mini_natural", "rfr_kca_dgi", 0)
    assert evaluation["train"]["code"] == job["code"]  # what its model.pt must have been trained by
    assert code_digests(ci["variants"]["rfr_kca_dgi"], 8).items() <= evaluation["code"].items()


def test_torch_is_no_file_of_a_row_even_inside_the_checkout(monkeypatch):
    """`make` puts .venv (torch included) inside the checkout: its files are not the row's code."""
    from pathlib import Path

    from inpaint_bench.jobs import probe

    root = Path(*Path(torch.__file__).resolve().parts[:2])  # a folder that holds torch and this checkout
    assert REPO.is_relative_to(root)
    monkeypatch.setattr(probe, "REPO_ROOT", root)
    probe._code_digests.cache_clear()
    try:
        files = code_digests({"backbone": "encdec"}, 8)
    finally:
        probe._code_digests.cache_clear()
    assert {Path(f).name for f in files} == {"rfr.py", "partial_conv.py", "losses.py"}, files


def test_comments_docstrings_and_layout_change_no_digest_and_code_does(tmp_path):
    path = tmp_path / "block.py"
    path.write_text('"""A block."""\nSCALE = 2\n\n\ndef f(x):\n    """Doubles."""\n    return x * SCALE\n')
    before = source_digest(path)
    path.write_text('"""A block, redone."""\nSCALE = 2  # why\n\ndef f(x):\n    """Twice x."""\n    return (x *\n            SCALE)\n')
    source_digest.cache_clear()
    assert source_digest(path) == before
    path.write_text('"""A block."""\nSCALE = 3\n\n\ndef f(x):\n    return x * SCALE\n')
    source_digest.cache_clear()
    assert source_digest(path) != before


def test_a_model_trained_by_other_code_is_refused_naming_the_files(tiny_config, tmp_path):
    from inpaint_bench.datasets import make_test_masks

    path, config, write = tiny_config
    config["train"].update(steps=1, checkpoint_every=1)
    write(config)
    cfg = load_config(path)
    with pytest.warns(UserWarning):
        model = Trainer(train_job(cfg, "toy", "pconv", 0), tmp_path / "run").fit()
    assert torch.load(model, weights_only=False)["code"] == train_job(cfg, "toy", "pconv", 0)["code"]
    make_test_masks(tmp_path / "masks", 32, config["masks"]["buckets"], count=2, seed=0)
    job = eval_job(cfg, "toy", "pconv", 0)
    job["train"]["code"]["models/pconv_unet.py"] = "0" * 16  # as if the file had been edited since training
    with pytest.raises(ValueError, match=r"run/model.pt \(the variant 'pconv' .*\) was trained by other code: "
                                         r"models/pconv_unet.py changed since .*retrain it"):
        evaluate(job, tmp_path / "eval", model_path=model, masks_dir=tmp_path / "masks")


def test_editing_a_module_makes_snakemake_rerun_exactly_the_rows_built_from_it(tmp_path):
    """In a checkout of its own: every model up to date, then a code edit of the PConv backbone and of
    the DGI blocks, and a comment in RFR-Net's file (which every other trained row is built from)."""
    checkout, env = copy_checkout(tmp_path / "checkout", importable=True)
    work = tmp_path / "work"
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["variants"] = {k: config["variants"][k] for k in ("mean_fill", "pconv", "baseline", "rfr_kca",
                                                              "rfr_kca_dgi")}
    work.mkdir()
    (work / "c.yaml").write_text(yaml.safe_dump(config))
    teacher = "results/teachers/mini_natural/rfr_attention-kca_iterations-2/seed0/model.pt"
    runs = [f"results/runs/mini_natural/{v}/seed0/{f}" for v in ("pconv", "baseline", "rfr_kca", "rfr_kca_dgi")
            for f in ("model.pt", "train_log.csv")]
    targets = [teacher, *runs]
    # as if every model had been trained by this code: the jobs' params recorded (--touch records them
    # for outputs that do not exist yet), then the outputs, each newer than its inputs
    snakemake(work, *targets, "--touch", "--cores", "1", "--configfile", work / "c.yaml", env=env,
              checkout=checkout)
    ages = [(100, "results/data/mini_natural/manifest.csv"), (50, teacher)] + [(0, run) for run in runs]
    for age, name in ages:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text("")
        os.utime(work / name, (time.time() - age, time.time() - age))

    for name, line in (("pconv_unet.py", "LAYERS_NOTE = 1\n"), ("dgi_blocks.py", "BLOCKS_NOTE = 1\n"),
                       ("rfr.py", "# a comment changes no result\n")):
        with open(checkout / "models" / name, "a") as f:
            f.write(line)
    dry = snakemake(work, *targets, "-n", "--configfile", work / "c.yaml", env=env, checkout=checkout)
    jobs = planned_jobs(dry.stdout)
    assert sorted(w for r, w in jobs if r in ("train", "train_teacher")) == [
        "dataset=mini_natural, variant=pconv, seed=0", "dataset=mini_natural, variant=rfr_kca_dgi, seed=0"], \
        dry.stdout[-3000:]
