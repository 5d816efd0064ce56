"""Evaluates one variant on the fixed test masks of every hole-ratio bucket.

    inpaint-bench evaluate --config FILE --dataset NAME --variant NAME --seed N
        [--out DIR] [--model model.pt]

The test images meet each bucket's masks as masks.pairing says (datasets.mask_sets.bucket_pairs, as
`export` writes them; recorded in provenance.json's job); the metrics are computed on the composite
`pred * mask + image * (1 - mask)` by the loop shared with `metrics.score` (metrics.evaluation).
Writes `per_image.csv`, `summary.csv` (long format: dataset, variant, seed, bucket, metric, value, n,
note, train_note) and a few composites per bucket under `samples/`. A killed evaluation (a time limit,
a preempted node) resumes: what it scored is saved in chunks under `.resume/` (at the end of each
bucket and every RESUME_EVERY_S seconds) and a rerun of the same job and model file restores them
and scores only the rest; the folder goes when the results are written. The defaults are the workflow's; a
model file of another job or spec is refused (training.checkpoint). Expected faults end with
`error: <message>` and exit status 1 (HARNESS_DEBUG=1 shows the traceback).
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from inpaint_bench.harness.config import ConfigError
from inpaint_bench.harness.fileio import (
    atomic_torch_save,
    atomic_write_text,
    ensure_writable,
    replace_folder,
    save_png,
)
from inpaint_bench.harness.metric_registry import selected_metrics
from inpaint_bench.harness.progress import progress
from inpaint_bench.metrics.evaluation import Evaluation, mask_id
from inpaint_bench.metrics.pixel import composite
from inpaint_bench.models import build_model
from inpaint_bench.models.registry import is_trainable
from inpaint_bench.models.released_weights import weights_note
from inpaint_bench.training.checkpoint import load_model_file
from inpaint_bench.training.precision import autocast, prepare_input, prepare_model, resolve_precision

SAMPLES, PROVENANCE, RESUME = "samples", "provenance.json", ".resume"
EVAL_FILES = ("per_image.csv", "summary.csv", SAMPLES, PROVENANCE)  # what an evaluation writes in its folder
# How often a running evaluation saves what it scored (besides at the end of each bucket): a kill loses
# at most this much work. Saving a chunk costs little next to scoring for this long.
RESUME_EVERY_S = 300.0


def save_image(tensor: torch.Tensor, path: Path) -> None:
    array = (tensor.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    save_png(path, array)


def load_variant(job: dict, model_path: str | Path | None, device):
    """The network to evaluate, the notes its training left (e.g. losses dropped; for released
    weights, which file: its SHA-256 is checked against the job's) and how long it trained as its
    model.pt recorded it (`trained_schedule`; None for a row not trained here)."""
    if not is_trainable(job["spec"]):
        weights = job["spec"].get("weights")
        notes = [weights_note("weights", weights)] if weights else []
        return build_model(job["spec"], job["width"]).to(device).eval(), notes, None
    if model_path is None:
        raise ConfigError(f"variant {job['variant']!r} is trained: pass its model file (--model DIR/model.pt)")
    # a model of another job would be scored and labelled as this one: its identity must match
    expect = {"role": "student", "variant": job["variant"], "code": job["train"]["code"],
              **{k: job[k] for k in ("dataset", "seed", "spec", "width", "image_size")}}
    model, record = load_model_file(model_path, device, expect=expect, job=job["train"])
    return model, list(record.get("notes", [])), trained_schedule(record)


def trained_schedule(record: dict) -> dict:
    """The steps a model.pt recorded, split at its job's `steps` into steps and fine-tuning steps,
    with the batch size: what the reports say each row trained (reporting.budget)."""
    settings, total = record["job"]["settings"], int(record["steps"])
    steps = min(total, settings["steps"])
    return {"steps": steps, "finetune_steps": total - steps, "batch_size": settings["batch_size"]}


def resume_key(job: dict, model_path: str | Path | None, masks_dir: str | Path, device: torch.device) -> str:
    """What saved chunks must have been scored by to be resumed: the same job, model file (its size
    and modification time: a retrained model is another) and test masks, on the same kind of device."""
    model = None
    if model_path is not None:
        stat = Path(model_path).stat()
        model = [str(Path(model_path).resolve()), stat.st_size, stat.st_mtime_ns]
    return json.dumps({"job": job, "model": model, "masks": str(Path(masks_dir).resolve()), "device": device.type},
                      sort_keys=True)


def restore_chunks(folder: Path, key: str, evaluation: Evaluation) -> dict[str, int]:
    """Restores, in order, the chunks an interrupted evaluation of the same `key` saved in `folder`
    and returns how many pairs of each bucket they hold; chunks of another key are removed."""
    key_file = folder / "key.json"
    if key_file.is_file() and key_file.read_text() == key:
        done = {}
        for path in sorted(folder.glob("chunk_*.pt")):
            part = torch.load(path, weights_only=True)
            evaluation.restore(part)
            done = part["done"]
        return dict(done)
    if folder.exists():
        print(f"discarding the saved chunks in {folder}: they are of another job, model file or mask set", flush=True)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    atomic_write_text(key_file, key)
    return {}


def save_chunk(folder: Path, evaluation: Evaluation, done: dict[str, int]) -> None:
    index = len(list(folder.glob("chunk_*.pt")))
    atomic_torch_save({**evaluation.chunk(), "done": dict(done)}, folder / f"chunk_{index:05d}.pt")


def evaluate(job: dict, out: str | Path, model_path: str | Path | None = None, masks_dir: str | Path = None,
             device: str | None = None, cache_dir: str | Path | None = None,
             resume_every: float = RESUME_EVERY_S) -> pd.DataFrame:
    """Scores the eval job (harness.jobs.eval_job) into `out`; returns the summary. Resumes from the
    chunks an interrupted run of the same job left in `out/.resume` (saved every `resume_every` s and
    at the end of each bucket)."""
    from inpaint_bench.datasets import bucket_pairs, build_dataset, load_test_masks
    from inpaint_bench.metrics.suite import MetricSuite

    out = ensure_writable(out)  # before any work: the results are written only at the end
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, train_notes, trained = load_variant(job, model_path, device)
    dtype = resolve_precision(job["precision"], device)
    model = prepare_model(model, dtype) if any(True for _ in model.parameters()) else model
    dataset, size, seed = job["dataset"], job["image_size"], job["seed"]
    images = build_dataset(job["dataset_spec"], "test", size, seed)
    masks = load_test_masks(masks_dir)
    settings = job["eval"]
    cache = Path(cache_dir) / f"inception_{dataset}_{size}px_seed{seed}.pt" if cache_dir else None
    suite = MetricSuite(weights_dir=job["weights"]["dir"], device=device, enable_lpips=settings["lpips"],
                        enable_fid=settings["fid"], feature_cache=cache, protocol=settings["protocol"],
                        metrics=selected_metrics(settings))
    evaluation = Evaluation(suite, dataset, job["variant"], seed, train_note="; ".join(train_notes))
    batch_size, keep = settings["batch_size"], settings["samples"]
    pairing = job["pairing"]
    pairs = {bucket: bucket_pairs(pairing["pairing"], len(images), len(bucket_masks), pairing["seed"], bucket)
             for bucket, bucket_masks in masks.items()}
    resume = out / RESUME
    done = restore_chunks(resume, resume_key(job, model_path, masks_dir, device), evaluation)
    total, scored = sum(map(len, pairs.values())), sum(done.values())
    if scored:
        print(f"resuming: {scored} of {total} test pairs were scored before this evaluation stopped "
              f"(saved in {resume}); scoring the other {total - scored}", flush=True)
    # the composites go to a folder that replaces samples/ whole at the end: no image of an earlier
    # evaluation (another model, more samples) stays beside this one's
    samples = resume / SAMPLES
    bar = progress(total, initial=scored, desc=f"eval {dataset}/{job['variant']}", unit="img")
    saved = time.monotonic()
    for bucket, bucket_masks in masks.items():
        # a resumed bucket goes on from the batch it stopped before: the same batches as in one run
        for start in range(done.get(bucket, 0), len(pairs[bucket]), batch_size):
            batch = pairs[bucket][start:start + batch_size]
            idx = [i for i, _ in batch]
            items = [images[i] for i in idx]
            chosen = [bucket_masks[m] for _, m in batch]
            gt = torch.stack([it["image"] for it in items]).to(device)
            mask = torch.stack([m for _, m in chosen]).to(device)
            with torch.no_grad(), autocast(dtype, device):
                pred = model(prepare_input(gt * (1 - mask), dtype), mask)
            # a network's output is its composite (as the official test scripts save it), so a
            # protocol that scores outputs as they are scores the composite
            comp = evaluation.add(bucket, composite(pred, gt, mask), gt, mask, [it["name"] for it in items],
                                  [mask_id(bucket, stem) for stem, _ in chosen])
            for j, i in enumerate(idx):
                if i < keep and start + j == i:  # an image's samples show its first pair
                    base = samples / bucket / items[j]["name"]
                    save_image(comp[j], base.with_name(base.name + "_output.png"))
                    save_image(gt[j] * (1 - mask[j]) + mask[j], base.with_name(base.name + "_input.png"))
                    save_image(gt[j], base.with_name(base.name + "_gt.png"))
            bar.update(len(idx))
            done[bucket] = start + len(batch)
            if done[bucket] == len(pairs[bucket]) or time.monotonic() - saved >= resume_every:
                save_chunk(resume, evaluation, done)
                saved = time.monotonic()
    bar.close()
    for warning in evaluation.test_set_check() + evaluation.range_check() + evaluation.colour_check():
        print(f"warning: {warning}", file=sys.stderr)
    summary = evaluation.write(out / "per_image.csv", out / "summary.csv")
    # what these numbers were computed from: the eval job (its model's train job, the test files'
    # listing, the protocol), the model file and the steps it trained
    atomic_write_text(out / PROVENANCE, json.dumps({"job": job, "model": str(model_path) if model_path else None,
                                                    "trained": trained}, indent=2))
    samples.mkdir(exist_ok=True)  # no sample kept (eval.samples: 0): an empty folder
    replace_folder(samples, out / SAMPLES)
    shutil.rmtree(resume)
    return summary
