"""Preemption and time limits, with real signals: SIGTERM / SIGUSR1 (what SLURM sends) make training
write a checkpoint at the end of the step it is in and exit with status 75; the re-run resumes to the
weights of an uninterrupted run. SIGINT keeps Python's behaviour: KeyboardInterrupt, status 1."""
import csv
import os
import signal
import subprocess
import time

import pytest
import torch

from conftest import assert_same_weights, state_dict, toy_train_command
from helpers.workflow import REPO
from inpaint_bench.training.preemption import EXIT_PREEMPTED


def start_and_signal(cmd, out, sig, whole_group=False):
    """Starts training, waits until some steps are logged (the first periodic checkpoint writes the
    log), sends `sig`; returns (exit status, stderr)."""
    proc = subprocess.Popen(cmd + ["--out", str(out)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # SIGINT as in a terminal: a shell starts background jobs with it ignored,
                            # and Python then leaves it ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 600  # bounds a hang on a busy machine
    while not (out / "train_log.csv").exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline
        time.sleep(0.01)
    if whole_group:  # as SLURM does: every process of the job, DataLoader workers included
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


# SIGTERM goes to every process of the group, as SLURM sends it: a DataLoader worker must not die of it
# (torch's worker handler would end it, and the main process would fail before its checkpoint)
@pytest.mark.parametrize("sig, workers", [(signal.SIGTERM, 1), (signal.SIGUSR1, 0)],
                         ids=["SIGTERM-whole-group-with-a-loader-worker", "SIGUSR1"])
def test_stop_signal_checkpoints_at_once_exits_75_and_the_rerun_gives_uninterrupted_weights(
        tiny_config, tmp_path, sig, workers):
    path, config, write = tiny_config
    config["train"].update(steps=150, checkpoint_every=25, log_every=5, num_workers=workers)
    write(config)
    cmd = toy_train_command(path, seed=3)
    straight = tmp_path / "straight"
    subprocess.run(cmd + ["--out", str(straight)], check=True, cwd=REPO, capture_output=True)

    stopped = tmp_path / "stopped"
    status, err = start_and_signal(cmd, stopped, sig, whole_group=workers > 0)
    assert status == EXIT_PREEMPTED == 75, err
    assert not (stopped / "model.pt").exists()
    step = torch.load(stopped / "checkpoint.pt", weights_only=False)["step"]
    assert 25 <= step < 150  # written at the step it stopped after, as the message says
    assert f"stopped by {sig.name} after step {step} of 150" in err and "Traceback" not in err
    logged = [int(r["step"]) for r in csv.DictReader(open(stopped / "train_log.csv"))]
    assert logged == list(range(5, step + 1, 5))  # the log written with the checkpoint

    subprocess.run(cmd + ["--out", str(stopped)], check=True, cwd=REPO, capture_output=True)
    assert_same_weights(state_dict(straight / "model.pt"), state_dict(stopped / "model.pt"))
    logged = [int(r["step"]) for r in csv.DictReader(open(stopped / "train_log.csv"))]
    assert logged == list(range(5, 151, 5))


def test_sigint_is_not_caught_it_stops_at_once_keeping_the_last_periodic_checkpoint(tiny_config, tmp_path):
    path, config, write = tiny_config
    config["train"].update(steps=150, checkpoint_every=25)
    write(config)
    cmd = toy_train_command(path, seed=3)
    status, err = start_and_signal(cmd, tmp_path / "run", signal.SIGINT)
    assert status == 1 and "KeyboardInterrupt" in err
    step = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"]
    assert step % 25 == 0 and step < 150 and not (tmp_path / "run" / "model.pt").exists()


def test_the_handlers_are_restored_after_training(tiny_config, tmp_path):
    from inpaint_bench.jobs.resolve import train_job
    from inpaint_bench.jobs.validate import load_config
    from inpaint_bench.training.train import Trainer

    path, config, write = tiny_config
    config["train"].update(steps=1)
    write(config)
    before = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)]
    with pytest.warns(UserWarning):
        Trainer(train_job(load_config(path), "toy", "pconv", 0), tmp_path / "run").fit()
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)] == before
