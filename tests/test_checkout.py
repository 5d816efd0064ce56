"""The checkout that runs is the checkout you are in (harness/checkout.py): a second checkout run with an
environment whose editable install points at this one fails at once, naming both; training records the
checkout's path, commit and uncommitted changes."""
import json
import subprocess

import pytest
import yaml

from helpers.workflow import REPO, copy_checkout, snakemake
from inpaint_bench.harness import checkout
from inpaint_bench.harness.checkout import CheckoutMismatch, source_record
from inpaint_bench.harness.joblog import job_log


def test_snakemake_in_another_checkout_with_this_environment_fails_naming_both(tmp_path):
    other, env = copy_checkout(tmp_path / "other")  # this venv: inpaint_bench is this checkout's
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path / "work", "-n", "--configfile", tmp_path / "c.yaml", env=env, checkout=other,
                     check=False)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "rule train" not in out
    assert f"this workflow is the checkout {other.resolve()}, but the inpaint_bench it imports comes from the checkout {REPO}" in out
    assert f"run `pip install -e .` in {other.resolve()}" in out and "or `make` there" in out


def test_a_job_of_another_checkout_fails_before_any_work_and_says_so_in_its_log(tmp_path):
    script = tmp_path / "other" / "workflow" / "scripts" / "train.py"
    worked = []
    with pytest.raises(CheckoutMismatch, match=f"checkout {tmp_path / 'other'}, but .* from the checkout {REPO}"):
        with job_log(tmp_path / "job.log", script):
            worked.append(True)
    assert not worked and "CheckoutMismatch: this workflow is the checkout" in (tmp_path / "job.log").read_text()
    with job_log(tmp_path / "job.log", REPO / "workflow" / "scripts" / "train.py"):
        worked.append(True)
    assert worked


def test_the_source_record_names_the_checkout_its_commit_and_uncommitted_changes(tmp_path, monkeypatch):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    assert source_record()["path"] == str(REPO) and source_record()["commit"] == head

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    (repo / "a.py").write_text("A = 1\n")
    subprocess.run(git + ["add", "a.py"], check=True)
    subprocess.run(git + ["commit", "-qm", "a"], check=True)
    monkeypatch.setattr(checkout, "REPO_ROOT", repo)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert source_record() == {"path": str(repo), "commit": commit, "dirty": False}
    (repo / "new_module.py").write_text("B = 2\n")  # untracked code is a change too
    assert source_record() == {"path": str(repo), "commit": commit, "dirty": True}
    monkeypatch.setattr(checkout, "REPO_ROOT", tmp_path / "plain")
    (tmp_path / "plain").mkdir()
    assert source_record() == {"path": str(tmp_path / "plain"), "commit": None, "dirty": None}


def test_provenance_records_the_checkout_that_trained(tiny_config, tmp_path):
    from inpaint_bench.jobs.resolve import train_job
    from inpaint_bench.jobs.validate import load_config
    from inpaint_bench.training.train import Trainer

    path, config, write = tiny_config
    config["train"].update(steps=1)
    write(config)
    with pytest.warns(UserWarning):
        Trainer(train_job(load_config(path), "toy", "pconv", 0), tmp_path / "run").fit()
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["source"] == source_record() and provenance["source"]["path"] == str(REPO)
