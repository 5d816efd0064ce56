"""One job trained by several processes (torchrun, DistributedDataParallel) on the CPU with gloo: the
step is the single-process step on the full batch, and resuming works as in one process.

Tolerance of the DDP-vs-single comparison: 1e-5 absolute on every tensor. The two runs compute the
same sums in another order (each process reduces over its half of the batch, then gloo adds the
halves), so float32 results differ by a few ulps per step; measured after 30 steps: 1.5e-8 on the
weights and 9e-8 on the BatchNorm running variances (values near 1). Any real mistake is far larger:
one Adam step moves a weight by up to lr = 2e-4, and with per-process BatchNorm statistics (no
synchronisation) the same runs differ by 4e-3 on the weights and 0.1 on the running variances."""
import csv
import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch
import yaml

from conftest import state_dict, write_images
from helpers.workflow import REPO
from inpaint_bench.training.train import StepBatches

pytestmark = pytest.mark.slow  # several training processes (gloo) per test

TOLERANCE = 1e-5
STEPS = 30


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny config (a network with BatchNorm, batch 4), its single-process run and its 2-process run."""
    root = tmp_path_factory.mktemp("ddp")
    write_images(root / "data" / "train", 12, seed=1)
    write_images(root / "data" / "test", 4, seed=2)
    config = {
        "results_dir": str(root / "results"), "seeds": [0], "image_size": 32, "width": 4,
        "datasets": {"toy": {"kind": "folder", "root": str(root / "data")}},
        "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 4},
        "train": {"steps": STEPS, "batch_size": 4, "checkpoint_every": 10, "log_every": 5,
                  "precision": "fp32"},
        "variants": {"pconv": {"backbone": "pconv", "layers": 3}},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    args = ["-m", "inpaint_bench.cli", "train", "--config", str(path), "--dataset", "toy", "--variant", "pconv",
            "--seed", "0", "--threads", "1", "--device", "cpu"]
    single = [sys.executable] + args
    ddp = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"] + args
    subprocess.run(single + ["--out", str(root / "single")], check=True, cwd=REPO, capture_output=True)
    subprocess.run(ddp + ["--out", str(root / "ddp")], check=True, cwd=REPO, capture_output=True)
    return {"root": root, "config": config, "ddp": ddp}


def test_two_gloo_processes_give_the_single_process_weights_within_the_tolerance(runs):
    root = runs["root"]
    single, ddp = state_dict(root / "single" / "model.pt"), state_dict(root / "ddp" / "model.pt")
    assert single.keys() == ddp.keys()
    worst = max((single[k].double() - ddp[k].double()).abs().max().item() for k in single)
    assert worst <= TOLERANCE, f"max abs difference {worst}"
    assert any(k.endswith("running_var") for k in single)  # BatchNorm statistics are compared too
    # the log holds the full batch's loss (the mean over processes), as a single process logs it
    rows = {name: list(csv.DictReader(open(root / name / "train_log.csv"))) for name in ("single", "ddp")}
    assert [r["step"] for r in rows["single"]] == [r["step"] for r in rows["ddp"]]
    for a, b in zip(rows["single"], rows["ddp"]):
        assert float(a["total"]) == pytest.approx(float(b["total"]), rel=1e-5)
    assert json.loads((root / "ddp" / "provenance.json").read_text())["processes"] == 2
    assert torch.load(root / "ddp" / "model.pt", weights_only=False)["processes"] == 2


@pytest.mark.parametrize("how", ["SIGKILL-to-all", "SIGTERM-to-torchrun"])
def test_ddp_resumed_after_a_kill_gives_the_uninterrupted_ddp_weights(runs, how):
    out = runs["root"] / f"killed-{how}"
    proc = subprocess.Popen(runs["ddp"] + ["--out", str(out)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 600  # bounds a hang on a busy machine
    while not (out / "checkpoint.pt").exists():  # some steps done (the first is at step 10)
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline
        time.sleep(0.01)
    if how == "SIGKILL-to-all":  # a node lost: torchrun and both workers die at once
        for p in psutil.Process(proc.pid).children(recursive=True) + [psutil.Process(proc.pid)]:
            p.kill()  # one by one: torchrun starts each worker in a session of its own
    else:  # SLURM's time limit: torchrun passes SIGTERM on to its workers
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert not (out / "model.pt").exists(), "the run finished before it could be stopped"
    step = torch.load(out / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < step < STEPS
    if how == "SIGTERM-to-torchrun":
        assert f"stopped by SIGTERM after step {step} of {STEPS}" in err

    subprocess.run(runs["ddp"] + ["--out", str(out)], check=True, cwd=REPO, capture_output=True)
    straight, resumed = state_dict(runs["root"] / "ddp" / "model.pt"), state_dict(out / "model.pt")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    steps = [int(r["step"]) for r in csv.DictReader(open(out / "train_log.csv"))]
    assert steps == list(range(5, STEPS + 1, 5))


def test_a_batch_size_that_the_processes_cannot_share_is_refused(runs, tmp_path):
    config = dict(runs["config"], train={**runs["config"]["train"], "batch_size": 3})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [c if c != str(runs["root"] / "config.yaml") else str(path) for c in runs["ddp"]]
    done = subprocess.run(cmd + ["--out", str(tmp_path / "run")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0
    assert "error: train.batch_size 3 is not a multiple of the 2 training processes" in done.stderr


def test_each_process_takes_its_block_of_the_global_batch():
    full = list(StepBatches(10, 4, seed=5, start_step=2, total_steps=9))
    shards = [list(StepBatches(10, 4, seed=5, start_step=2, total_steps=9, rank=r, world=2)) for r in (0, 1)]
    assert [a + b for a, b in zip(*shards)] == full
    with pytest.raises(ValueError, match="batch size 4 is not a multiple of the 3 processes"):
        StepBatches(10, 4, seed=5, start_step=0, total_steps=9, rank=0, world=3)


def _on_one_shard(rank, port, x, grad_out, hole, results):
    """One of two gloo processes: AllReduceBatchNorm and a hole-pooled distillation mean on its half of
    the batch."""
    import torch.distributed as dist

    from inpaint_bench.models.distill import _masked_weighted_l1
    from inpaint_bench.training.distributed import AllReduceBatchNorm

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    bn = AllReduceBatchNorm(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, -1.0, 0.3]))
    half = x[2 * rank: 2 * rank + 2].clone().requires_grad_(True)
    y = bn(half)
    y.backward(grad_out[2 * rank: 2 * rank + 2])
    grads = [half.grad, bn.weight.grad.clone(), bn.bias.grad.clone()]
    dist.all_reduce(grads[1])  # the sum over processes: the whole batch's gradient
    dist.all_reduce(grads[2])
    pooled = _masked_weighted_l1(x[2 * rank: 2 * rank + 2].abs(), None, hole[2 * rank: 2 * rank + 2])
    results[rank] = (y.detach(), grads, bn.running_mean.clone(), bn.running_var.clone(), pooled)
    dist.destroy_process_group()


def test_batchnorm_and_pooled_loss_means_on_two_shards_are_those_of_the_whole_batch():
    import socket

    import torch.multiprocessing as mp

    from inpaint_bench.models.distill import _masked_weighted_l1

    torch.manual_seed(0)
    x, grad_out = torch.randn(4, 3, 5, 5) * 3 + 1, torch.randn(4, 3, 5, 5)
    hole = torch.zeros(4, 1, 5, 5)
    hole[0, :, :1], hole[2:, :, :4] = 1, 1  # the first shard has far less hole than the second
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(_on_one_shard, args=(port, x, grad_out, hole, results), nprocs=2)

    bn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, -1.0, 0.3]))
    whole = x.clone().requires_grad_(True)
    y = bn(whole)
    y.backward(grad_out)
    (y0, g0, mean0, var0, pooled0), (y1, g1, mean1, var1, pooled1) = results[0], results[1]
    close = {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(torch.cat([y0, y1]), y.detach(), **close)
    torch.testing.assert_close(torch.cat([g0[0], g1[0]]), whole.grad, **close)
    torch.testing.assert_close(g0[1], bn.weight.grad, **close)
    torch.testing.assert_close(g0[2], bn.bias.grad, **close)
    for mean, var in ((mean0, var0), (mean1, var1)):
        torch.testing.assert_close(mean, bn.running_mean, **close)
        torch.testing.assert_close(var, bn.running_var, **close)
    # DDP averages the processes' losses: that average is the whole batch's hole-pooled mean
    whole_pooled = _masked_weighted_l1(x.abs(), None, hole)
    torch.testing.assert_close((pooled0 + pooled1) / 2, whole_pooled, **close)
    # per-process statistics or per-shard pooling would be visibly different: the test can tell
    assert (torch.nn.functional.batch_norm(x[:2], None, None, training=True) -
            torch.nn.functional.batch_norm(x, None, None, training=True)[:2]).abs().max() > 1e-2
    per_shard = sum(_masked_weighted_l1(x[i:i + 2].abs(), None, hole[i:i + 2]) for i in (0, 2)) / 2
    assert abs(per_shard - whole_pooled) > 1e-2
