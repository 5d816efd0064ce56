"""The SLURM profile end to end on a real one-node SLURM.

workflow/cluster/local-slurm.sh installs Debian's slurm-wlm and munge when missing and starts munged,
slurmctld and slurmd on this machine (nothing is mocked: sbatch, squeue and scontrol are the real
commands). The workflow then runs through the user-facing profile (workflow/profiles/slurm, i.e.
snakemake-executor-plugin-slurm) with only its placeholders filled in on the command line, and must give
byte for byte the summary.csv of a local run of the same config (the two run side by side); every
non-local job must have been an sbatch job with the CPUs, memory, time limit and GPUs of the config.
Skipped only when SLURM cannot be installed here. About 5 minutes on 2 cores.
"""
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import assert_same_weights, state_dict, toy_train_command
from helpers.workflow import REPO
from helpers.workflow import snakemake as run_snakemake

# slow on a busy 2-core machine: the waits below bound a hang, they do not time the work (pytest.ini's
# 900 s would cut a 1200 s Snakemake run short)
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(2700)]

LOCAL_SLURM = REPO / "workflow" / "cluster" / "local-slurm.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
LOCAL_RULES = {"describe_job", "aggregate", "tables", "plots", "validation_plot", "all"}  # run by Snakemake itself, never submitted
# config/ci.yaml with three of its rows: a classical one (evaluation only), a trained one and a DGI
# student (its teacher first). That is every rule of the workflow (dataset build, test masks, teacher,
# training, evaluation, aggregate, tables, plots), 8 sbatch jobs instead of the full config's 18: the
# other rows add more jobs of the same rules and nothing the comparison could catch.
VARIANTS = ["mean_fill", "baseline", "rfr_kca_dgi"]
# Distinct per-rule resources, so that the check below tells training from evaluation jobs (ci.yaml
# leaves both at the schema defaults). They do not change any result.
RESOURCES = {"train": {"mem_mb": 3000, "runtime": 30, "gpu": 0},
             "evaluate": {"mem_mb": 2000, "runtime": 20, "gpu": 0}}
# On top of the user's profile: its account/partition placeholders, squeue as the status command (no
# accounting database here; MinJobAge keeps finished jobs in squeue for an hour) and short intervals.
SLURM_ARGS = ["--profile", str(PROFILE), "--default-resources", "slurm_partition=local", "slurm_account=local",
              "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
              "--seconds-between-status-checks", "2"]


def run(cmd, env, timeout=900, check=True):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def snakemake(workdir, env, *args):
    proc = run_snakemake(workdir, *args, env=env, timeout=1200)
    return proc.stdout + proc.stderr


def job_stats(output: str) -> dict:
    """rule -> count from Snakemake's "Job stats" table."""
    stats, table = {}, output.split("Job stats:", 1)[1].splitlines()
    for line in table[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m or m.group(1) == "total":
            break
        stats[m.group(1)] = int(m.group(2))
    return stats


def slurm_jobs(env, workdir) -> dict:
    """SLURM job id -> `scontrol show job` fields, of every job that ran in workdir."""
    out = run(["scontrol", "-o", "show", "job"], env, check=False).stdout
    jobs = {}
    for line in out.splitlines():
        fields = dict(re.findall(r"(\S+?)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs[fields["JobId"]] = fields
    return jobs


def rule_of(job: dict) -> str:
    """The plugin's comment is rule_<rule> or rule_<rule>_wildcards_<values>."""
    return re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", job["Comment"]).group(1)


def time_limit(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def tres(job: dict) -> dict:
    return dict(item.split("=", 1) for item in job["TRES"].split(","))


@pytest.fixture(scope="module")
def slurm_env():
    """A running local SLURM (started here, and stopped again unless it was already running)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    was_running = run(["bash", LOCAL_SLURM, "status"], env, check=False).returncode == 0
    start = run(["bash", LOCAL_SLURM, "start"], env, check=False)
    if start.returncode == 3:
        pytest.skip(f"SLURM cannot be installed on this machine (apt-get install slurm-wlm munge failed): "
                    f"{start.stderr[-600:]}")
    assert start.returncode == 0, start.stdout + start.stderr
    line = run(["bash", LOCAL_SLURM, "env"], env).stdout.strip()
    env["SLURM_CONF"] = line.split("=", 1)[1]
    yield env
    if not was_running:
        stop = run(["bash", LOCAL_SLURM, "stop"], env, check=False)
        assert stop.returncode == 0, stop.stdout + stop.stderr


@pytest.fixture(scope="module")
def runs(slurm_env, tmp_path_factory):
    """The same config run locally and through the SLURM profile, each in its own folder."""
    base = tmp_path_factory.mktemp("slurm")
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["variants"] = {name: config["variants"][name] for name in VARIANTS}
    config["resources"] = RESOURCES
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    local, cluster = base / "local", base / "slurm"
    # side by side: the SLURM run spends much of its time waiting for sbatch and status checks
    with ThreadPoolExecutor(2) as pool:
        cluster_run = pool.submit(snakemake, cluster, slurm_env, "--configfile", path, *SLURM_ARGS)
        snakemake(local, slurm_env, "--cores", "2", "--configfile", path)
        output = cluster_run.result()
    return {"config": config, "path": path, "local": local, "slurm": cluster, "output": output}


def test_the_slurm_run_ends_with_the_summary_of_the_local_run(runs):
    local = (runs["local"] / "results" / "summary.csv").read_bytes()
    cluster = (runs["slurm"] / "results" / "summary.csv").read_bytes()
    if local != cluster:
        a, b = (pd.read_csv(runs[k] / "results" / "summary.csv") for k in ("local", "slurm"))
        diff = a.compare(b) if a.shape == b.shape else f"{a.shape} != {b.shape}"
        pytest.fail(f"summary.csv differs between the local and the SLURM run:\n{diff}")
    assert len(pd.read_csv(runs["slurm"] / "results" / "summary.csv")) > 0
    for table in ("mini_natural.csv", "mini_natural_ablation.csv"):
        assert (runs["slurm"] / "results" / "tables" / table).exists()


def test_every_non_local_job_was_an_sbatch_job_with_the_configs_resources(runs, slurm_env):
    expected = {rule: n for rule, n in job_stats(runs["output"]).items() if rule not in LOCAL_RULES}
    assert set(expected) == {"build_mini_dataset", "make_test_masks", "train_teacher", "train", "evaluate",
                             "validate_classical"}
    jobs = slurm_jobs(slurm_env, runs["slurm"])
    submitted = {}
    for job in jobs.values():
        submitted[rule_of(job)] = submitted.get(rule_of(job), 0) + 1
    assert submitted == expected, (submitted, expected)  # and none of the local rules

    threads = runs["config"]["threads_per_job"]
    for job in jobs.values():
        rule = rule_of(job)
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", job
        assert job["Partition"] == "local" and job["Account"] == "local", job
        assert int(job["NumCPUs"]) == (1 if rule in ("build_mini_dataset", "make_test_masks") else threads), job
        want = RESOURCES["evaluate" if rule == "evaluate" else "train"]
        if rule in ("train", "train_teacher", "evaluate"):
            assert tres(job)["mem"] == f"{want['mem_mb']}M", job
            assert job["TimeLimit"] == time_limit(want["runtime"]), job
        assert "gpu" not in job.get("TresPerJob", "") and "gpu" not in job["TRES"], job  # gpu: 0


def test_a_config_with_one_gpu_per_training_job_asks_slurm_for_it(runs, slurm_env):
    """`--gpus=1` from `resources.train.gpu: 1` (the local node declares one placeholder GPU), and the
    CPUs from threads_per_job: one training job, forced to run again through the profile."""
    config = {**runs["config"], "threads_per_job": 2,
              "resources": {**RESOURCES, "train": {"mem_mb": 2500, "runtime": 15, "gpu": 1}}}
    path = runs["path"].with_name("gpu.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    before = set(slurm_jobs(slurm_env, runs["slurm"]))
    target = "results/runs/mini_natural/baseline/seed0/model.pt"
    snakemake(runs["slurm"], slurm_env, "--configfile", path, *SLURM_ARGS, "--force", target)
    new = {k: v for k, v in slurm_jobs(slurm_env, runs["slurm"]).items() if k not in before}
    assert [rule_of(job) for job in new.values()] == ["train"], new
    job = next(iter(new.values()))
    assert job["JobState"] == "COMPLETED", job
    assert re.search(r"gpu:1$", job["TresPerJob"]), job  # gres:gpu:1 (SLURM 22.05) or gres/gpu:1
    assert int(job["NumCPUs"]) == 2 and tres(job)["mem"] == "2500M" and job["TimeLimit"] == "00:15:00", job


def test_a_training_job_past_its_slurm_time_limit_checkpoints_and_resumes_to_the_same_weights(
        slurm_env, tiny_config, tmp_path):
    """SLURM ends a job at its time limit with SIGTERM (then, KillWait later, SIGKILL). The job is
    submitted with room to start, and once it is training its limit is cut below the time it has
    run, so slurmctld's own time-limit check ends it: training must checkpoint, exit 75, and a re-run
    must end with the weights of an uninterrupted run."""
    import torch

    from inpaint_bench.training.preemption import EXIT_PREEMPTED

    path, config, write = tiny_config
    # about 2-3 minutes of training: the limit below is one minute, and slurmctld checks time limits
    # only periodically
    config["train"].update(steps=16000, checkpoint_every=500, log_every=100)
    write(config)
    cmd = toy_train_command(path, seed=0)
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    submit = run(["sbatch", "--parsable", "--partition", "local", "--time", "10", "--chdir", REPO,
                  "--output", tmp_path / "job.log", "--wrap", "exec " + " ".join(map(str, cmd + ["--out", stopped]))],
                 slurm_env)
    job = submit.stdout.strip().split(";")[0]
    # the uninterrupted run, on the other core meanwhile
    uninterrupted = subprocess.Popen(cmd + ["--out", str(straight)], cwd=REPO, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while not (stopped / "train_log.csv").exists():  # written with the first checkpoint
        assert time.time() < deadline, (tmp_path / "job.log").read_text()
        time.sleep(0.5)
    run(["scontrol", "update", f"JobId={job}", "TimeLimit=1"], slurm_env)  # one minute (SLURM's unit)
    while True:
        fields = slurm_jobs(slurm_env, REPO).get(job, {})
        if fields.get("JobState") in ("TIMEOUT", "COMPLETED", "FAILED", "CANCELLED"):
            break
        assert time.time() < deadline + 600, fields
        time.sleep(1)
    log = (tmp_path / "job.log").read_text()
    assert fields["JobState"] == "TIMEOUT", (fields, log[-2000:])
    assert fields["ExitCode"].split(":")[0] == str(EXIT_PREEMPTED), (fields, log[-2000:])
    assert "stopped by SIGTERM" in log and not (stopped / "model.pt").exists()
    step = torch.load(stopped / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < step < 16000

    subprocess.run(cmd + ["--out", str(stopped)], check=True, cwd=REPO, capture_output=True)  # the retry
    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.stderr.read()
    a = state_dict(straight / "model.pt")
    b = state_dict(stopped / "model.pt")
    assert_same_weights(a, b)
