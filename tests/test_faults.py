"""Faults a realistic user meets through the workflow: concurrent invocations on one results folder,
config holes found before any job, recovery after deleted outputs. (Bad images and masks:
test_faults_inputs.py; corrupt model and checkpoint files: test_faults_training.py.)"""
import os
import subprocess
import time

import pandas as pd
import pytest
import yaml
from test_workflow import CI_CONFIG

from helpers.workflow import REPO, SNAKEMAKE, planned_jobs, snakemake


def small_config(tmp_path, name="config.yaml", steps=4, train=None, **changes) -> str:
    """config/ci.yaml with two rows (classical and trained) and the given changes (`train`: keys of
    the train section)."""
    config = yaml.safe_load(yaml.safe_dump(CI_CONFIG))
    config["variants"] = {k: CI_CONFIG["variants"][k] for k in ("mean_fill", "pconv")}
    config["train"].update(steps=steps, **(train or {}))
    config.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def last_logged_step(workdir) -> int:
    log = pd.read_csv(workdir / "results" / "runs" / "mini_natural" / "pconv" / "seed0" / "train_log.csv")
    return int(log["step"].max())


def test_a_dry_run_with_another_config_does_not_change_a_running_dag(tmp_path):
    """A user checks another config (`-n`) while a run is going: the run must finish with its own
    settings, and afterwards be up to date for its own config."""
    # a long training job, its time spent in steps (ci.yaml checkpoints and validates every 2 steps)
    a = small_config(tmp_path, "a.yaml", steps=1000,
                     train={"checkpoint_every": 500, "validation": {"every": 500, "images": 2}})
    b = small_config(tmp_path, "b.yaml", steps=5)
    running = subprocess.Popen(SNAKEMAKE + ["--directory", str(tmp_path), "--cores", "1", "--configfile", a],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "results" / "logs" / "train" / "mini_natural" / "pconv" / "seed0.log"
    deadline = time.time() + 300
    while not log.exists() and time.time() < deadline and running.poll() is None:
        time.sleep(0.5)
    assert log.exists(), "the training job did not start"
    # while training runs: Snakemake either plans B's jobs or refuses (the files in progress are
    # incomplete); either way it must not touch the running jobs
    dry = snakemake(tmp_path, "-n", "--configfile", b, check=False)
    assert running.poll() is None, "the training ended before the dry run: make it longer"
    if dry.returncode:
        assert "incomplete" in (dry.stdout + dry.stderr).lower(), dry.stdout[-2000:]
    else:
        # Snakemake prints the wildcards in no fixed order
        planned = {(rule, frozenset(w.split(", "))) for rule, w in planned_jobs(dry.stdout)}
        assert ("train", frozenset({"dataset=mini_natural", "seed=0", "variant=pconv"})) in planned
    output, _ = running.communicate(timeout=600)
    assert running.returncode == 0, output[-3000:]
    assert last_logged_step(tmp_path) == 1000  # not the dry run's 5 steps
    assert planned_jobs(snakemake(tmp_path, "-n", "--configfile", a).stdout) == []


def test_a_deleted_run_folder_is_rebuilt_and_the_tables_follow(tmp_path):
    config = small_config(tmp_path)
    snakemake(tmp_path, "--cores", "2", "--configfile", config)
    run = tmp_path / "results" / "runs" / "mini_natural" / "pconv"
    subprocess.run(["rm", "-rf", str(run)], check=True)
    rules = {r for r, _ in planned_jobs(snakemake(tmp_path, "-n", "--configfile", config).stdout)}
    assert {"train", "evaluate", "aggregate", "tables", "plots"} <= rules
    snakemake(tmp_path, "--cores", "2", "--configfile", config)
    assert (run / "seed0" / "model.pt").is_file()
    summary = pd.read_csv(tmp_path / "results" / "summary.csv")
    assert (summary.variant == "pconv").any()


@pytest.mark.parametrize("change, named", [
    ({"seeds": [0, 0]}, "seeds"),
    ({"image_size": 32.0}, "image_size"),
    ({"masks": {"buckets": [[0.1, 0.4], [0.3, 0.6]], "count": 4}}, "overlap"),
    ({"masks": {"buckets": [[0.1, 0.3], [0.10, 0.30]], "count": 4}}, "same name"),
    ({"datasets": {"mini_natural": {"kind": "mini_natural", "root": "old/build", "train_count": 16,
                                    "test_count": 4}}}, "root"),
])
def test_config_holes_fail_at_a_dry_run_naming_the_key(tmp_path, change, named):
    config = small_config(tmp_path, **change)
    proc = snakemake(tmp_path, "-n", "--configfile", config, check=False)
    assert proc.returncode != 0
    assert named in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_a_repeated_yaml_key_fails_naming_file_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    text = (REPO / "config" / "ci.yaml").read_text()
    path.write_text(text.replace("image_size: 32\n", "image_size: 32\nimage_size: 64\n"))
    proc = snakemake(tmp_path, "-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "image_size" in out and "dup.yaml" in out and "line" in out


def test_a_real_dataset_that_cannot_be_read_fails_at_a_dry_run(tmp_path):
    """A missing root and an empty test split are found before any job, naming the dataset."""
    from PIL import Image

    (tmp_path / "photos" / "train").mkdir(parents=True)
    (tmp_path / "photos" / "test").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "photos" / "train" / "a.png")
    for datasets, named in [({"mine": {"kind": "folder", "root": str(tmp_path / "nowhere")}}, "nowhere"),
                            ({"mine": {"kind": "folder", "root": str(tmp_path / "photos")}}, "test split is empty")]:
        config = small_config(tmp_path, datasets=datasets)
        proc = snakemake(tmp_path, "-n", "--configfile", config, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "datasets.mine" in out and named in out, out[-2000:]
        assert not (tmp_path / "results").exists()


def test_a_deleted_or_damaged_mini_image_says_to_rebuild_the_set(tmp_path):
    from inpaint_bench.datasets import build_dataset, build_mini_dataset

    root = tmp_path / "mini"
    build_mini_dataset("mini_natural", str(root), size=32, train_count=4, test_count=2, seed=0)
    spec = {"kind": "mini_natural", "root": str(root)}
    images = build_dataset(spec, "test", 32)
    first = images.paths[0]
    with open(first, "wb") as f:
        f.write(b"not a png")
    with pytest.raises(ValueError, match="delete that folder and re-run snakemake"):
        images[0]
    os.remove(first)
    with pytest.raises(FileNotFoundError, match="delete that folder and re-run snakemake"):
        build_dataset(spec, "test", 32)
