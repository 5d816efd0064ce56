"""Trains one variant on one dataset with one seed, or a DGI teacher.

    inpaint-bench train --config FILE --dataset NAME --variant NAME --seed N --out DIR
    inpaint-bench train --config FILE --dataset NAME --teacher-arch ARCH --seed N --out DIR

The job is resolved by `jobs.resolve` as the workflow resolves it (its rule calls `train(job, out)`).
The weights depend on the torch thread count, so --threads defaults to the config's threads_per_job,
as in the workflow. Expected faults end with `error: <message>` and exit status 1 (HARNESS_DEBUG=1
shows the traceback). Files and resuming: training.checkpoint; stop signals: training.preemption;
several processes (torchrun): training.distributed.
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inpaint_bench.harness.checkout import source_record
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.harness.fileio import atomic_write_text, ensure_writable, write_csv
from inpaint_bench.harness.names import VALIDATION_COLUMNS
from inpaint_bench.harness.progress import progress
from inpaint_bench.harness.seeding import derive_seed
from inpaint_bench.jobs.resolve import init_seed_parts
from inpaint_bench.models import build_model
from inpaint_bench.models.losses import InpaintingLoss
from inpaint_bench.models.released_weights import weights_note
from inpaint_bench.training import distributed
from inpaint_bench.training.checkpoint import (
    CHECKPOINT,
    MODEL,
    VALIDATION,
    checkpoint_state,
    load_checkpoint,
    load_model_file,
    remove_checkpoints,
    restore_checkpoint,
    run_signature,
    save_checkpoint,
    save_model_file,
    threads_used_after_resume,
    write_train_log,
)
from inpaint_bench.training.precision import autocast, prepare_input, prepare_model, resolve_precision
from inpaint_bench.training.preemption import StopRequest, ignore_stop_signals, stop_signals_caught
from inpaint_bench.training.validation import TrainingImages, Validation, held_out_indices, validation_split

# A loss this many times the median of the last DIVERGENCE_WINDOW steps' is divergence (a too high lr):
# a normal batch moves the loss by a few times at most, a diverged run by thousands (lr 10: 1.4 to
# 1.2e4 in one step), and a finite loss would otherwise let it end "successfully" with useless weights.
DIVERGENCE_FACTOR, DIVERGENCE_WINDOW = 100.0, 50


class StepBatches(torch.utils.data.Sampler):
    """Yields, for every step from `start_step`, the batch's (global sample number, dataset index) pairs.

    Each epoch is a permutation seeded by (seed, epoch), so the batch of step s is the same whether or
    not the run was interrupted before s. With `world` processes, process `rank` takes the rank-th of
    `world` equal blocks of each batch."""

    def __init__(self, n_items: int, batch_size: int, seed: int, start_step: int, total_steps: int,
                 rank: int = 0, world: int = 1):
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} is not a multiple of the {world} processes")
        self.n, self.batch, self.seed = n_items, batch_size, seed
        self.start, self.total = start_step, total_steps
        self.rank, self.per_rank = rank, batch_size // world
        self._perm_epoch, self._perm = None, None

    def _index(self, g: int) -> int:
        epoch, pos = divmod(g, self.n)
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
            self._perm, self._perm_epoch = torch.randperm(self.n, generator=gen).tolist(), epoch
        return self._perm[pos]

    def __iter__(self):
        for step in range(self.start, self.total):
            first = step * self.batch + self.rank * self.per_rank
            yield [(g, self._index(g)) for g in range(first, first + self.per_rank)]

    def __len__(self):
        return self.total - self.start


class TrainingSamples(torch.utils.data.Dataset):
    """Pairs image `index`, as flipped in the epoch of global sample number `g`, with the training
    mask of sample `g`."""

    def __init__(self, images, mask_sampler):
        self.images, self.masks = images, mask_sampler

    def __len__(self):
        return len(self.images)

    def __getitem__(self, key):
        g, index = key
        return self.images.load(index, epoch=g // len(self.images))["image"], self.masks.sample(g)


def freeze_batchnorm_statistics(model: nn.Module) -> None:
    """Fine-tuning stage: BatchNorm layers use (and no longer update) their running statistics."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def environment_record() -> dict:
    # fp32 runs use TF32 where PyTorch enables it by default (cuDNN convolutions on Ampere and later)
    return {"python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "argv": sys.argv,
            "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.backends.cuda.matmul.allow_tf32}}


def forward_losses(model, loss, image, mask, dtype, device, distill=None, teacher=None):
    """The forward half of a training step (shared with bench.measure): the network and its losses
    under autocast, returning (total, unweighted terms). Distillation compares the student's features
    with the frozen teacher's on the uncorrupted image."""
    masked = prepare_input(image * (1 - mask), dtype)
    with autocast(dtype, device):
        if distill is not None:
            pred, s_feats = model.forward_features(masked, mask)
            with torch.no_grad():
                _, t_feats = teacher.forward_features(prepare_input(image, dtype), torch.zeros_like(mask))
        else:
            pred = model(masked, mask)
        # VGG features run under autocast too (about half of a bf16 step otherwise); the loss
        # terms themselves are reduced in float32 inside the loss modules
        total, terms = loss(pred, image, mask)
        if distill is not None:
            distill_total, distill_terms = distill(s_feats, t_feats, mask)
            total = total + distill_total.float()
            terms.update({f"distill_{k}": v for k, v in distill_terms.items()})
    return total, terms


class TrainedModules(nn.Module):
    """What DistributedDataParallel wraps: the modules being trained (network, distillation's meta
    networks); its forward is the training step's forward half. The frozen loss and teacher stay
    outside it."""

    def __init__(self, model: nn.Module, distill: nn.Module | None, forward):
        super().__init__()
        self.model, self.distill, self._forward = model, distill, forward

    def forward(self, image, mask):
        return self._forward(image, mask)


class Trainer:
    """Runs one resolved train or teacher job (see jobs.resolve) into the folder `out`."""

    def __init__(self, job: dict, out: Path, teacher: str | None = None, device: str | None = None):
        from inpaint_bench.datasets import build_dataset, build_train_masks
        from inpaint_bench.harness.weights import find_weight, missing_message
        from inpaint_bench.models.pretrained import vgg16_features

        self.job, self.out = job, Path(out)
        # several processes under torchrun (see training.distributed); rank 0 writes the files
        self.rank, self.world = distributed.rank(), distributed.world_size()
        if job["settings"]["batch_size"] % self.world:
            raise ConfigError(f"train.batch_size {job['settings']['batch_size']} is not a multiple of the "
                              f"{self.world} training processes: each takes an equal share of the batch; "
                              f"choose a batch size divisible by --nproc-per-node")
        ensure_writable(self.out)  # before any work: a read-only or full disk fails now, not at the end
        self.dataset, self.variant, self.seed = job["dataset"], job["name"], job["seed"]
        self.role, self.spec, self.settings = job["role"], job["spec"], job["settings"]
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = resolve_precision(self.settings["precision"], self.device)
        self.total_steps = self.settings["steps"] + self.settings["finetune_steps"]
        # Batches and masks depend on (seed, dataset) only, and initial weights on the architecture,
        # not on the variant's name: variants that differ only in their losses are paired exactly.
        self.data_seed = derive_seed(self.seed, self.dataset, "data")
        torch.manual_seed(derive_seed(*init_seed_parts(job)))
        self.model = prepare_model(build_model(self.spec, job["width"]).to(self.device), self.dtype)
        if distributed.active():  # BatchNorm statistics of the global batch
            self.model = distributed.convert_batchnorm(self.model, self.device)

        self.notes = [weights_note("init", self.spec["init"])] if self.spec.get("init") else []
        weights = job["weights"]
        vgg_file = find_weight("vgg16", weights["dir"])
        vgg = vgg16_features(vgg_file) if vgg_file is not None else None
        if vgg is None:
            msg = (f"{missing_message('vgg16', weights['dir'])[1]} The perceptual and style loss terms "
                   f"are dropped for this run")
            if weights["required"]:
                raise FileNotFoundError(msg + "; weights.required is true, so training stops here")
            warnings.warn(msg, stacklevel=1)
            self.notes.append("no_vgg: perceptual and style losses dropped (VGG16 weights missing)")
        self.vgg_file = str(vgg_file) if vgg is not None else None
        self.loss = prepare_model(InpaintingLoss(self.settings["loss"], vgg).to(self.device), self.dtype)

        images = build_dataset(job["dataset_spec"], "train", job["image_size"], self.seed,
                               crop=self.settings["crop"], resize=self.settings["resize"])
        self.validation = self._validation(images)
        masks = self.settings["masks"]
        self.mask_sampler = build_train_masks(masks["source"], job["image_size"],
                                              derive_seed(self.data_seed, "masks"), buckets=job["buckets"],
                                              mask_dir=masks["dir"], hole_is_white=masks["hole"] == "white",
                                              caps=masks["caps"], augment=masks["augment"])
        self.teacher = self.distill = None
        if job["teacher"] is not None:
            self._setup_distillation(teacher)
        self.optimizer = self.new_optimizer(self.settings["lr"])
        self.step, self.log_rows = 0, []
        self.recent = deque(maxlen=DIVERGENCE_WINDOW)  # the last steps' losses
        self.checkpoint_step = None  # the step of the checkpoint on disk, if any
        self.threads_used = [torch.get_num_threads()]
        self.ddp = None  # the DistributedDataParallel wrapper, made in fit()
        self.stop = StopRequest()

    def _validation(self, images) -> Validation:
        """Holds the validation images out of `images` (self.images is the rest) and prepares their
        split; a teacher (which sees no hole) is not validated."""
        every = self.settings["validation"]["every"] if self.role == "student" else 0
        held_out = held_out_indices(len(images), self.settings["validation"]["images"] if every else 0)
        self.images = TrainingImages(images, held_out)
        if not held_out:
            return Validation(None, 0)
        return Validation(validation_split(self.job, held_out), every)

    def _setup_distillation(self, teacher_path: str | None) -> None:
        from inpaint_bench.models.distill import build_distill_loss

        arch = self.job["teacher"]
        if teacher_path is None or not Path(teacher_path).is_file():
            raise ConfigError(f"variant {self.variant!r} distils from the teacher {arch!r}, whose model "
                              f"{teacher_path} is not trained yet; train it first: "
                              f"inpaint-bench train --config CONFIG --dataset {self.dataset} "
                              f"--teacher-arch {arch} --seed {self.seed}")
        self.teacher, _ = load_model_file(teacher_path, self.device, expect={
            "role": "teacher", "variant": arch, "code": self.job["teacher_code"],
            **{k: self.job[k] for k in ("dataset", "seed", "width", "image_size")}}, job=self.job["teacher_job"])
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.teacher = prepare_model(self.teacher, self.dtype)
        self.distill = build_distill_loss(self.spec["distill"], self.model).to(self.device)
        if distributed.active():
            self.distill = distributed.convert_batchnorm(self.distill, self.device)

    def new_optimizer(self, lr: float) -> torch.optim.Adam:
        """Adam over the student and its distillation modules (the frozen teacher is not trained)."""
        params = list(self.model.parameters()) + (list(self.distill.parameters()) if self.distill else [])
        return torch.optim.Adam(params, lr=lr)

    def resume(self) -> bool:
        """Goes on from the run's checkpoint if it has a usable one (see training.checkpoint)."""
        self.threads_used = [torch.get_num_threads()]
        # every process reads the same file: one moves it aside if it is unreadable
        found = load_checkpoint(self.out, run_signature(self.job, self.dtype), self.device,
                                move_corrupt=self.rank == 0, total_steps=self.total_steps)
        if found is None:
            return False
        path, state = found
        restore_checkpoint(path, state, self.model, self.optimizer, self.distill)
        self.step, self.log_rows = state["step"], state["log_rows"]
        self.checkpoint_step = state["step"]
        self.recent.extend(row["total"] for row in self.log_rows[-DIVERGENCE_WINDOW:])
        self.validation.rows = state["validation_rows"]
        self.threads_used = threads_used_after_resume(path, state, self.threads_used[0], self.world)
        return True

    def save_checkpoint(self) -> None:
        if self.rank == 0:  # every process holds the same state
            save_checkpoint(self.out, checkpoint_state(
                signature=run_signature(self.job, self.dtype), step=self.step, model=self.model,
                optimizer=self.optimizer, distill=self.distill, log_rows=self.log_rows,
                validation_rows=self.validation.rows,
                threads_used=self.threads_used, processes=self.world))
        self.checkpoint_step = self.step
        # no process goes on (or exits, which makes torchrun stop the others) before the file is whole
        distributed.barrier()

    def loader(self):
        sampler = StepBatches(len(self.images), self.settings["batch_size"], self.data_seed,
                              self.step, self.total_steps, rank=self.rank, world=self.world)
        workers = self.settings["num_workers"]
        return torch.utils.data.DataLoader(TrainingSamples(self.images, self.mask_sampler),
                                           batch_sampler=sampler, num_workers=workers,
                                           persistent_workers=workers > 0,
                                           worker_init_fn=ignore_stop_signals if workers else None)

    def set_phase(self) -> str:
        """The phase of the coming step, with its lr and BatchNorm mode. The first fine-tuning step
        starts from a fresh Adam (train.finetune_optimizer: fresh, as the official code, which builds
        a new optimiser at the fine-tuning lr), so the moments of the first stage do not carry over.
        It is a function of the step alone: a run resumed from the checkpoint written just before
        fine-tuning makes the same switch."""
        finetune = self.step >= self.settings["steps"]
        lr = self.settings["finetune_lr"] if finetune else self.settings["lr"]
        if (finetune and self.step == self.settings["steps"]
                and self.settings["finetune_optimizer"] == "fresh"):
            self.optimizer = self.new_optimizer(lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        if finetune:
            freeze_batchnorm_statistics(self.model)
        return "finetune" if finetune else "train"

    def train_step(self, image: torch.Tensor, mask: torch.Tensor) -> dict:
        if self.role == "teacher":
            mask = torch.zeros_like(mask)  # the teacher sees the uncorrupted image
        if self.ddp is not None:
            total, terms = self.ddp(image, mask)
            shown, terms = self.mean_over_processes(total, terms)
        else:
            total, terms = self.losses(image, mask)
            shown = total.detach()
        # under DDP, `shown` is the mean over processes: every process stops at the same step
        loss = float(shown)
        if not math.isfinite(loss):
            bad = {k: float(v) for k, v in terms.items()}
            raise self.stopped(f"non-finite loss {loss} at step {self.step + 1} (terms {bad})")
        median = float(np.median(self.recent)) if self.recent else math.nan
        if median > 0 and loss > DIVERGENCE_FACTOR * median:
            raise self.stopped(f"training diverged at step {self.step + 1}: loss {loss:.4g} is more than "
                               f"{DIVERGENCE_FACTOR:g} times the median {median:.4g} of the {len(self.recent)} "
                               f"step(s) before it")
        self.recent.append(loss)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return {"total": float(shown), **{k: float(v) for k, v in terms.items()}}

    def stopped(self, what: str) -> FloatingPointError:
        """The error of a run stopped by its loss, with only what is true of it: the lr and precision
        it ran at, and what is on disk (model.pt is not written)."""
        lr_key = "train.finetune_lr" if self.step >= self.settings["steps"] else "train.lr"
        precision = ("it ran in fp32 already" if self.dtype == torch.float32 else
                     f"it ran under {str(self.dtype).removeprefix('torch.')} autocast: train.precision fp32 may help")
        if self.checkpoint_step is None:
            disk = "No checkpoint was written"
        else:
            disk = (f"The checkpoint of step {self.checkpoint_step} ({self.out / CHECKPOINT}) is resumed only by a "
                    f"rerun with the same settings, which meets the same loss")
        return FloatingPointError(f"{what}. Lower {lr_key} (now {self.optimizer.param_groups[0]['lr']:g}); "
                                  f"{precision}. {disk}; no model.pt is written.")

    def losses(self, image: torch.Tensor, mask: torch.Tensor):
        return forward_losses(self.model, self.loss, image, mask, self.dtype, self.device,
                              self.distill, self.teacher)

    def mean_over_processes(self, total: torch.Tensor, terms: dict):
        """The loss and its terms averaged over the processes (the full batch's, as logged by a single
        process). The same all-reduce tells every process whether any of them got a stop signal, so
        that all stop after the same step."""
        names = list(terms)
        values = torch.stack([total.detach().float()] + [terms[k].float() for k in names]
                             + [total.new_tensor(float(self.stop.received))])
        values = distributed.sum_over_ranks(values)
        self.stop.anywhere = bool(values[-1] > 0)
        mean = values[:-1] / self.world
        return mean[0], dict(zip(names, mean[1:]))

    def wrap_for_ddp(self) -> None:
        """DistributedDataParallel over the trained modules: all processes start from rank 0's weights
        (identical anyway: same seed, or the same checkpoint) and average their gradients."""
        if not distributed.same_everywhere(self.step, self.device):
            raise ValueError(f"the training processes resumed from different steps (this one from "
                             f"{self.step}): {self.out} must be one folder that every node sees")
        modules = TrainedModules(self.model, self.distill, self.losses)
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.ddp = torch.nn.parallel.DistributedDataParallel(modules, device_ids=ids)

    def fit(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        with stop_signals_caught(self.stop):
            return self._fit()

    def _fit(self) -> Path:
        resumed = self.resume()
        if distributed.active():
            self.wrap_for_ddp()
        provenance = {"dataset": self.dataset, "variant": self.variant, "seed": self.seed, "role": self.role,
                      "spec": self.spec, "settings": self.settings, "job": self.job, "code": self.job["code"],
                      "precision": str(self.dtype), "device": str(self.device), "threads": torch.get_num_threads(),
                      "threads_used": self.threads_used,  # per segment, when resumed with another count
                      "processes": self.world,  # DDP: each holds batch_size / processes images
                      "vgg16_weights": self.vgg_file, "notes": self.notes,
                      "resumed_from_step": self.step if resumed else None,
                      "source": source_record(),  # the checkout: path, git commit, uncommitted changes
                      "environment": environment_record()}
        if self.rank == 0:
            atomic_write_text(self.out / "provenance.json", json.dumps(provenance, indent=2, default=str))
        every, log_every = self.settings["checkpoint_every"], self.settings["log_every"]
        bar = progress(self.total_steps, self.step, f"{self.dataset}/{self.variant}/{self.role}", unit="step",
                       disable=self.rank != 0)
        started = time.perf_counter()
        for image, mask in self.loader():
            phase = self.set_phase()
            image, mask = image.to(self.device), mask.to(self.device)
            values = self.train_step(image, mask)
            self.step += 1
            if self.step % log_every == 0 or self.step == self.total_steps:
                self.log_rows.append({"step": self.step, "phase": phase,
                                      "lr": self.optimizer.param_groups[0]["lr"], **values,
                                      "seconds": round(time.perf_counter() - started, 3)})
                bar.set_postfix(loss=f"{values['total']:.4f}")
            # every process scores (eval-mode BatchNorm needs no other process); rank 0 writes
            self.validation.maybe_score(self.model, self.step, self.total_steps, self.dtype, self.device)
            stop = self.stop.must_stop()
            if self.step % every == 0 or self.step == self.total_steps or stop:
                self.save_checkpoint()
            bar.update(1)
            if stop and self.step < self.total_steps:
                bar.close()
                raise self.stop.preempted(self.step, self.total_steps, self.out / CHECKPOINT,
                                          announce=self.rank == 0)
        bar.close()
        if self.step == 0 or self.step < self.total_steps:
            raise RuntimeError(f"training stopped at step {self.step} of {self.total_steps}")
        if self.rank == 0:
            write_train_log(self.out, self.log_rows)
            if self.role == "student":
                write_csv(self.out / VALIDATION, self.validation.rows, VALIDATION_COLUMNS)
            if self.validation.split is not None:
                spent = time.perf_counter() - started
                print(f"validation: {self.validation.seconds:.1f} s of this run's {spent:.1f} s "
                      f"({100 * self.validation.seconds / max(spent, 1e-9):.1f}%)", flush=True)
            save_model_file(self.out, self.model, self.job, self.step, self.notes, self.threads_used,
                            self.world)
        distributed.barrier()
        return self.out / MODEL


def train(job: dict, out: str | Path, teacher: str | None = None, device: str | None = None,
          keep_checkpoint: bool = True) -> Path:
    """Trains a resolved job (jobs.resolve) into `out`; returns the path of model.pt. Without
    `keep_checkpoint` (the config's train.keep_checkpoint), the checkpoints go once model.pt is written."""
    model = Trainer(job, Path(out), teacher=teacher, device=device).fit()
    if not keep_checkpoint and os.environ.get("RANK", "0") == "0":
        for path in remove_checkpoints(Path(out)):
            print(f"removed {path} (model.pt is final; train.keep_checkpoint: true keeps it)", flush=True)
    return model
