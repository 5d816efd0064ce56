"""Data-parallel training of one job over several processes (torchrun), one device each.

    torchrun --standalone --nproc-per-node N -m inpaint_bench.training.train --config ... --seed S

Process r of W takes block r of the global batch (train.batch_size must be a multiple of W), DDP
averages the gradients and BatchNorm uses global-batch statistics: a step is the single-process step on
the full batch up to the order of float sums (tests/test_ddp: 1.5e-8 on PConv's weights after 30 steps;
Adam can move a parameter whose true gradient is zero by up to lr per step on that rounding, as another
--threads does). Rank 0 alone writes files, into the output folder every node must share; the others
wait at a barrier. Stop signals: see training.preemption.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def init_from_env(device: str | None) -> str:
    """Joins the process group torchrun describes in the environment (nccl on CUDA, gloo on CPU)
    and returns this process's device: cuda:LOCAL_RANK on CUDA."""
    kind = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type
    if kind == "cuda":
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
        torch.cuda.set_device(device)
    else:
        device = kind
    dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    return device


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def barrier() -> None:
    if active():
        dist.barrier()


def destroy() -> None:
    dist.destroy_process_group()


def same_everywhere(value: int, device: torch.device) -> bool:
    """Whether every process holds the same integer `value`."""
    if world_size() == 1:
        return True
    both = torch.tensor([value, -value], dtype=torch.int64, device=device)
    dist.all_reduce(both, op=dist.ReduceOp.MAX)
    return int(both[0]) == -int(both[1])  # max == min


def sum_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """The sum over processes of a tensor without gradient (x itself when not distributed)."""
    if world_size() == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x


class SumOverRanks(torch.autograd.Function):
    """y = the sum over processes of x. Each process's loss depends on y, so the gradient for x is the
    sum over processes of their gradients for y."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class AllReduceBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the batch summed over all processes, for the
    CPU (gloo), where nn.SyncBatchNorm does not run. The all-reduces are autograd functions, so the
    backward pass also sums the gradients of the statistics over processes, as SyncBatchNorm does.
    Same parameters and buffers as nn.BatchNorm2d; without a process group, or in eval mode, it is
    exactly F.batch_norm."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and world_size() > 1):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = xf.numel() // xf.shape[1] * world_size()  # equal shards: the global count
        mean = SumOverRanks.apply(xf.sum(dims)) / count
        centred = xf - mean.view(shape)
        var = SumOverRanks.apply((centred * centred).sum(dims)) / count  # biased, as BatchNorm
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(factor * mean)
                self.running_var.mul_(1 - factor).add_(factor * var * count / (count - 1))  # unbiased
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm layer of `model` computes global-batch statistics: torch's SyncBatchNorm on
    CUDA; AllReduceBatchNorm on CPU (gloo), where SyncBatchNorm's kernels do not run. (The loss terms
    that pool over the batch, distillation's hole-weighted means, all-reduce their count likewise: see
    models.distill.)"""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, AllReduceBatchNorm):
            new = AllReduceBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                     child.track_running_stats).to(device)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(model, name, new)
        else:
            convert_batchnorm(child, device)
    return model
