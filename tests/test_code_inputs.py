"""Issue 25, class 1: a result is never older than any code it was computed by. Every job's `code` is
its workflow script's import closure (jobs/code.py) and its row's model files; tables and plots refuse
rows computed by different code; `inpaint-bench restamp` is the one way a result outlives an edit of
its code; a setting has one default."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
import yaml

from helpers.workflow import REPO, copy_checkout, planned_jobs, snakemake
from inpaint_bench.jobs import validate
from inpaint_bench.jobs.resolve import eval_job, masks_job, train_job
from inpaint_bench.jobs.validate import load_config

CONFIG = {"results_dir": "results", "seeds": [0], "image_size": 32, "width": 8, "threads_per_job": 1,
          "datasets": {"mini_natural": {"kind": "mini_natural", "train_count": 16, "test_count": 4}},
          "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 4},
          "train": {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "precision": "fp32",
                    "masks": {"source": "test_buckets"}, "validation": {"every": 2, "images": 2}},
          "eval": {"batch_size": 4, "samples": 1, "fid": False, "lpips": False},
          "variants": {"mean_fill": {"backbone": "mean_fill"}, "biharmonic": {"backbone": "biharmonic"},
                       "pconv": {"backbone": "pconv", "layers": 4}}}


def test_every_job_holds_the_code_its_script_runs_and_a_row_only_its_own_model_files():
    """Before: only the model files of a row were in its jobs; metrics, training, masks and reporting
    code were in none."""
    ci = load_config(REPO / "config" / "ci.yaml")
    evaluation = eval_job(ci, "mini_natural", "mean_fill", 0)["code"]
    assert {"workflow/scripts/evaluate.py", "evaluation/evaluate.py", "metrics/pixel.py", "metrics/protocols.py",
            "metrics/suite.py", "datasets/images.py", "models/classical.py"} <= set(evaluation)
    training = train_job(ci, "mini_natural", "pconv", 0)["code"]
    assert {"workflow/scripts/train.py", "training/train.py", "datasets/strokes.py", "datasets/images.py",
            "models/losses.py", "models/pconv_unet.py"} <= set(training)
    assert "datasets/strokes.py" in masks_job(ci)["code"]
    from inpaint_bench.jobs.resolve import report_job  # (new: the report's jobs had no code)

    assert "reporting/tables.py" in report_job(ci, "tables", "mini_natural")["code"]
    # the backbones and blocks a row is built from are its own (jobs/probe.py), not every row's
    for row in ("mean_fill", "pconv", "baseline"):
        files = set(eval_job(ci, "mini_natural", row, 0)["code"])
        assert not files & {"models/dgi_blocks.py", "models/rfr.py"} if row != "baseline" else "models/rfr.py" in files
    assert "models/pconv_unet.py" not in evaluation and "models/dgi_blocks.py" not in training


def test_one_default_per_loss_weight(monkeypatch):
    """Before: config/schema.yaml held its own hole weight 6.0, which won over models/losses.py's."""
    from inpaint_bench.models import losses

    monkeypatch.setitem(losses.DEFAULT_LOSS_WEIGHTS, "hole", 5.0)
    monkeypatch.setitem(losses.LOSS_OPTIONS, "tv_region", "dilated_hole")
    config = validate.load_config(REPO / "config" / "ci.yaml")
    assert config["train"]["loss"]["hole"] == 5.0 and config["train"]["loss"]["tv_region"] == "dilated_hole"
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    loss = schema["properties"]["train"]["properties"]["loss"]["properties"]
    assert not [k for k, v in loss.items() if "default" in v]


def provenance(path, variant, code, train_code=None):
    job = {"variant": variant, "seed": 0, "code": code,
           "train": {"code": train_code, "teacher_job": None} if train_code else None}
    path.write_text(json.dumps({"job": job}))
    return path


def test_tables_refuse_results_computed_by_different_code_naming_the_file(tmp_path):
    """Before: a row added after an edit of metrics/pixel.py sat beside rows scored by the old formula."""
    from inpaint_bench.reporting.results import check_same_code

    ok = [provenance(tmp_path / "a.json", "mean_fill", {"metrics/pixel.py": "aaaa", "models/classical.py": "c"}),
          provenance(tmp_path / "b.json", "pconv", {"metrics/pixel.py": "aaaa", "models/pconv_unet.py": "p"},
                     {"training/train.py": "t"})]
    check_same_code(ok, "the tables of toy")  # other model files per row are no difference
    late = provenance(tmp_path / "c.json", "biharmonic", {"metrics/pixel.py": "bbbb", "models/classical.py": "c"})
    with pytest.raises(ValueError, match=r"^the tables of toy: the results were computed by different code: "
                                         r"metrics/pixel.py \(aaaa: mean_fill seed 0, pconv seed 0 / "
                                         r"bbbb: biharmonic seed 0\)\. .*inpaint-bench restamp"):
        check_same_code([*ok, late], "the tables of toy")


def test_the_tables_command_refuses_evaluations_of_different_code(tmp_path, capsys):
    from helpers.fake_results import DATASET, make_results, per_image_paths
    from inpaint_bench.cli.tables import main as tables_main
    from inpaint_bench.reporting.aggregate import aggregate

    summaries = make_results(tmp_path, seeds=(0,), logs=False)
    per_image = per_image_paths(summaries)
    for path, digest in zip(per_image, ("aaaa", "bbbb")):
        variant = path.parent.parent.parent.name
        provenance(path.with_name("provenance.json"), variant, {"metrics/pixel.py": digest})
    summary = tmp_path / "summary.csv"
    aggregate([str(p) for p in summaries]).to_csv(summary, index=False)
    with pytest.raises(SystemExit) as caught:
        tables_main(["--summary", str(summary), "--dataset", DATASET, "--out-dir", str(tmp_path / "t"),
                     "--per-image", *map(str, per_image)])
    assert str(caught.value).startswith(f"error: the tables of {DATASET}: the results were computed by "
                                        f"different code: metrics/pixel.py (aaaa: pconv_base seed 0 / "
                                        f"bbbb: rfr_full seed 0)")


# ------------------------------------------------------------------ a checkout of its own, dry runs

AGES = {"data": 100, "masks": 90, "train": 80, "validation": 80, "eval": 50, "summary": 30, "tables": 20,
        "plots": 10, "validation_plot": 10}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A copy of the checkout and a results folder up to date with it: the job files written by the
    workflow (its describe_job rule), each result a placeholder newer than its inputs."""
    from inpaint_bench.jobs.resolve import workflow_jobs
    from inpaint_bench.jobs.restamp import outputs

    root = tmp_path_factory.mktemp("code")
    checkout, env = copy_checkout(root / "checkout", importable=True)
    work = root / "work"
    work.mkdir()
    (work / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    snakemake(work, "--until", "describe_job", "--cores", "1", "--configfile", work / "c.yaml", env=env,
              checkout=checkout)
    now = time.time()
    for path in (work / "results" / "jobs").rglob("*.json"):
        os.utime(path, (now - 200, now - 200))
    config = load_config(work / "c.yaml")
    for kind, parts, _, job in workflow_jobs(config, {}):
        for path in outputs(config, kind, parts):
            path = work / path
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.name == "samples":
                path.mkdir()
            elif path.name == "model.pt":
                torch.save({"code": job["code"], "job": job}, path)
            elif path.name == "provenance.json":
                path.write_text(json.dumps({"job": job}))
            else:
                path.write_text("")
            os.utime(path, (now - AGES[kind], now - AGES[kind]))
    shutil.rmtree(work / ".snakemake")  # the job files alone decide
    return checkout, env, work


@pytest.fixture
def results(workspace, tmp_path):
    """The workspace's results in a folder of this test's; the checkout's files put back afterwards."""
    checkout, env, work = workspace
    mine = tmp_path / "work"
    shutil.copytree(work, mine)
    saved = {p: p.read_text() for p in (checkout / "metrics" / "pixel.py", checkout / "datasets" / "strokes.py",
                                         checkout / "reporting" / "tables.py")}
    yield checkout, env, mine
    for path, text in saved.items():
        path.write_text(text)


def dry_run(checkout, env, work) -> set[str]:
    out = snakemake(work, "-n", "--configfile", work / "c.yaml", env=env, checkout=checkout).stdout
    return {f"{rule} {wildcards}".strip() for rule, wildcards in planned_jobs(out) if rule not in ("all", "describe_job")}


def edit(path, old, new):
    text = path.read_text()
    assert old in text, path
    path.write_text(text.replace(old, new, 1))


EVALS = {f"evaluate dataset=mini_natural, variant={v}, seed=0" for v in ("mean_fill", "biharmonic", "pconv")}
REPORT = {"aggregate", "tables dataset=mini_natural", "plots dataset=mini_natural"}
# training scores its validation split with the same metrics, and so do the classical rows
VALIDATION = {"train dataset=mini_natural, variant=pconv, seed=0", "validation_plot dataset=mini_natural",
              *(f"validate_classical dataset=mini_natural, classical={v}" for v in ("mean_fill", "biharmonic"))}


def test_an_edit_of_the_metric_reruns_the_evaluations_and_a_comment_nothing(results):
    """Before: editing the PSNR formula in metrics/pixel.py gave "Nothing to be done"."""
    checkout, env, work = results
    assert dry_run(checkout, env, work) == set()
    pixel = checkout / "metrics" / "pixel.py"
    edit(pixel, "    return values.clamp(max=PSNR_CAP_DB)", "    return values.clamp(max=PSNR_CAP_DB)  # why: a comment")
    assert dry_run(checkout, env, work) == set()
    edit(pixel, "    return values.clamp(max=PSNR_CAP_DB)", "    return (values + 0.0).clamp(max=PSNR_CAP_DB)")
    assert dry_run(checkout, env, work) == EVALS | REPORT | VALIDATION


def test_an_edit_of_the_strokes_reruns_masks_and_training_and_of_reporting_the_tables(results):
    """Before: the stroke width in datasets/strokes.py and the table code in reporting/ ran nothing."""
    checkout, env, work = results
    edit(checkout / "datasets" / "strokes.py", '"brush_width": (10, 24)', '"brush_width": (12, 24)')
    planned = dry_run(checkout, env, work)
    assert {"make_test_masks seed=0", "train dataset=mini_natural, variant=pconv, seed=0"} <= planned
    assert EVALS <= planned
    (checkout / "datasets" / "strokes.py").write_text((REPO / "datasets" / "strokes.py").read_text())
    with open(checkout / "reporting" / "tables.py", "a") as f:
        f.write("\nTABLES_NOTE = 1\n")
    # the plots read the ablation table's csv
    assert dry_run(checkout, env, work) == {"tables dataset=mini_natural", "plots dataset=mini_natural"}


def restamp(checkout, env, work, *args):
    return subprocess.run([sys.executable, "-m", "inpaint_bench.cli", "restamp", "--config", "c.yaml", *args],
                          cwd=work, env=env, capture_output=True, text=True)


def test_restamp_accepts_the_results_under_the_new_code_and_says_what_it_did(results):
    """The honest way out: after an edit known to change no number, one command, and nothing re-runs,
    Snakemake's own records (params: the old job) notwithstanding."""
    checkout, env, work = results
    snakemake(work, "--touch", "--forceall", "--cores", "1", "--configfile", work / "c.yaml", env=env,
              checkout=checkout)  # Snakemake's metadata of every output: params, input, code
    edit(checkout / "metrics" / "pixel.py", "    return values.clamp(max=PSNR_CAP_DB)",
         "    capped = values.clamp(max=PSNR_CAP_DB)\n    return capped")
    assert dry_run(checkout, env, work) == EVALS | REPORT | VALIDATION
    proc = restamp(checkout, env, work)
    assert proc.returncode == 0, proc.stderr
    stamped = [line for line in proc.stdout.splitlines() if line.startswith("re-stamped ")]
    assert {line.split(":")[0].split()[1] for line in stamped} == {
        *(f"runs/mini_natural/{v}/seed0/eval" for v in ("mean_fill", "biharmonic", "pconv")),
        "runs/mini_natural/pconv/seed0", "runs/mini_natural/mean_fill/validation",
        "runs/mini_natural/biharmonic/validation"}
    assert all(line.endswith(" -> " + line.split(" -> ")[-1]) and "metrics/pixel.py" in line for line in stamped)
    assert dry_run(checkout, env, work) == set()
    record = json.loads((work / "results/runs/mini_natural/pconv/seed0/eval/provenance.json").read_text())
    assert list(record["restamped"][0]["files"]) == ["metrics/pixel.py"]
    assert record["job"]["code"]["metrics/pixel.py"] == record["restamped"][0]["files"]["metrics/pixel.py"][1]
    model = torch.load(work / "results/runs/mini_natural/pconv/seed0/model.pt", weights_only=False)
    assert model["code"] == model["job"]["code"] and "metrics/pixel.py" in model["restamped"][0]["files"]
    assert restamp(checkout, env, work).stdout.startswith("nothing to re-stamp")


def test_restamp_refuses_a_result_whose_job_differs_in_more_than_code(results):
    checkout, env, work = results
    with open(checkout / "datasets" / "strokes.py", "a") as f:
        f.write("\nSTROKES_NOTE = 1\n")
    (work / "c.yaml").write_text(yaml.safe_dump({**CONFIG, "train": {**CONFIG["train"], "lr": 1e-3}}))
    proc = restamp(checkout, env, work)
    assert proc.returncode == 1
    assert ("not re-stamped runs/mini_natural/pconv/seed0: its job differs in settings.lr besides its code; "
            "snakemake re-runs it") in proc.stderr
    assert "re-stamped masks/32px_seed0: datasets/strokes.py" in proc.stdout  # code only: accepted
    model = torch.load(work / "results/runs/mini_natural/pconv/seed0/model.pt", weights_only=False)
    assert "restamped" not in model
