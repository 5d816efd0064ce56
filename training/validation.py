"""Validation during training: a small fixed split held out from the training images, one fixed mask per
bucket and image, scored (PSNR, SSIM, L1 of the composite) every `train.validation.every` steps into
validation.csv (columns: docs/file-formats.md). The split never touches the test set, and the held-out
images are not trained on. Classical rows are scored on the same split once, as classical lines.
Each point is scored by the test set's code (metrics.evaluation.scoring_pair: the composite clamped to
[0, 1]) under the `default` protocol whatever `eval.protocol` says, so that scoring the test set under
another protocol never retrains a row; an eval-mode output far outside [0, 1] and a point that collapses
are said in the job log."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from inpaint_bench.datasets.strokes import bucket_mask
from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.names import VALIDATION_COLUMNS, collapsed_points
from inpaint_bench.harness.seeding import derive_seed

from .precision import autocast, prepare_input


def held_out_indices(n_images: int, count: int) -> list[int]:
    """`count` indices spread evenly over the training split (every source of a mini dataset, which
    cycles through its photographs, is met); none when validation is off."""
    if count <= 0:
        return []
    if count >= n_images:
        raise ValueError(f"train.validation.images {count} leaves no training image of the {n_images}")
    return sorted({int(round(i)) for i in np.linspace(0, n_images - 1, count)})


class TrainingImages:
    """The training split without the held-out validation images (`load` as the dataset's)."""

    def __init__(self, images, held_out: list[int]):
        skip = set(held_out)
        self.images, self.keep = images, [i for i in range(len(images)) if i not in skip]

    def __len__(self) -> int:
        return len(self.keep)

    def load(self, index: int, epoch: int = 0) -> dict:
        return self.images.load(self.keep[index], epoch)


VALIDATION_PROTOCOL = "default"  # not eval.protocol: a training job's scores must not depend on it


def validation_split(job: dict, held_out: list[int], protocol: str = VALIDATION_PROTOCOL) -> "ValidationSplit":
    """The split of a training or validation job: the held-out images as test crops (seed 0, so every
    training seed is validated on the same pixels), scored under `protocol`."""
    from inpaint_bench.datasets import build_dataset

    images = build_dataset(job["dataset_spec"], "train", job["image_size"], 0, crop="centre")
    return ValidationSplit(images, held_out, job["buckets"], job["image_size"], job["dataset"], protocol)


def validate_classical(job: dict, out: str | Path) -> Path:
    """A classical row (no training) scored once on the validation split, as step 0 of validation.csv:
    the classical lines of the validation plot."""
    from inpaint_bench.datasets import build_dataset
    from inpaint_bench.models import build_model

    if not job["validation"]["every"]:  # validation off: the training jobs hold nothing out either
        return write_csv(Path(out), [], VALIDATION_COLUMNS)
    count = len(build_dataset(job["dataset_spec"], "train", job["image_size"], 0, crop="centre"))
    split = validation_split(job, held_out_indices(count, job["validation"]["images"]))
    rows = split.score(build_model(job["spec"], job["width"]), 0, torch.float32, "cpu")
    return write_csv(Path(out), rows, VALIDATION_COLUMNS)


class ValidationSplit:
    """The held-out images (the test crop, no flip) and one mask per (bucket, image), drawn from a seed of
    the dataset alone: every variant and every seed is validated on the same pairs."""

    def __init__(self, images, held_out: list[int], buckets, size: int, dataset: str, protocol: str):
        self.protocol = protocol
        self.image = torch.stack([images[i]["image"] for i in held_out])
        self.masks = {}
        for bucket in buckets:
            name = Bucket.parse(bucket).name
            rng = np.random.default_rng(derive_seed(0, dataset, "validation-masks", name))
            self.masks[name] = torch.from_numpy(
                np.stack([bucket_mask(size, bucket, rng) for _ in held_out])[:, None].astype(np.float32))

    def score(self, model, step: int, dtype: torch.dtype, device) -> list[dict]:
        """Mean PSNR, SSIM and L1 per bucket of `model`'s composites (eval mode; the caller restores the
        training mode), scored as the test set is. An output far outside [0, 1] is said on stderr (the
        job log)."""
        # torchmetrics: seconds to import
        from inpaint_bench.metrics.evaluation import output_range, range_warning, scoring_pair
        from inpaint_bench.metrics.protocols import protocol_metrics

        rows, gt, low, high = [], self.image.to(device), 0.0, 1.0
        model.eval()
        with torch.no_grad():
            for bucket, mask in self.masks.items():
                mask = mask.to(device)
                with autocast(dtype, device):
                    pred = model(prepare_input(gt * (1 - mask), dtype), mask)
                low, high = min(low, output_range(pred, mask)[0]), max(high, output_range(pred, mask)[1])
                values = protocol_metrics(self.protocol, *scoring_pair(pred, gt, mask, self.protocol))
                rows += [{"step": step, "bucket": bucket, "metric": metric, "value": float(v.mean()),
                          "n": len(v)} for metric, v in values.items()]
        warning = range_warning(low, high, f"validation at step {step} (eval mode)")
        if warning:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        return rows


class Validation:
    """The schedule and the record: `maybe_score` after each step, rows kept in the checkpoint so that a
    resumed run writes the validation.csv of an uninterrupted one."""

    def __init__(self, split: ValidationSplit | None, every: int):
        self.split, self.every = split, every
        self.rows: list[dict] = []
        self.seconds = 0.0

    def due(self, step: int, total_steps: int) -> bool:
        return self.split is not None and self.every > 0 and (step % self.every == 0 or step == total_steps)

    def maybe_score(self, model, step: int, total_steps: int, dtype, device) -> None:
        if self.due(step, total_steps):
            started = time.perf_counter()
            self.rows += self.split.score(model, step, dtype, device)
            self.seconds += time.perf_counter() - started
            self.report_collapse(step)

    def report_collapse(self, step: int) -> None:
        """Says on stderr (the job log) when this step's point (PSNR, mean over buckets) lies far below
        the run's other points (harness.names.collapsed_points, the rule the validation plot marks by)."""
        psnr = {}
        for row in self.rows:
            if row["metric"] == "psnr":
                psnr.setdefault(row["step"], []).append(row["value"])
        steps = sorted(psnr)
        means = [float(np.mean(psnr[s])) for s in steps]
        if steps and steps[-1] == step and collapsed_points(means, higher_is_better=True)[-1]:
            print(f"warning: validation at step {step}: PSNR {means[-1]:.2f} dB (mean over buckets) lies far "
                  f"below the run's other points ({', '.join(f'{m:.2f}' for m in means[:-1])} dB): the "
                  f"network collapsed at this step; the validation plot marks the point", file=sys.stderr,
                  flush=True)

