"""A tiny fake results tree (2 variants, 2 buckets, 2 seeds, per-image and summary files, training
logs, sample images), the `results` and `ablation` fixtures built on it, and `md_cells` to read a
markdown table back."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.reporting.ablation import build_ablation
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.results import read_per_images
from inpaint_bench.reporting.stats import Bootstrap

DATASET = "mini"
VARIANTS = ["pconv_base", "rfr_full"]
BUCKETS = ["0.2-0.3", "0.1-0.2"]  # written out of order on purpose: tables sort by lower bound
FID_NOTE = "missing: pt_inception-2015-12-05-6726825d.pth"
LPIPS_NOTE = "missing: alexnet-owt-7be5be79.pth"
NO_VGG = "no_vgg: perceptual and style losses dropped (VGG16 weights missing)"
# How long each row trained, as its evaluation's provenance.json records it (reporting.budget): None is
# a classical row; a variant not named has no provenance.json
SCHEDULE = {"steps": 300, "finetune_steps": 100, "batch_size": 8}
TRAINED = {"pconv_base": SCHEDULE, "rfr_full": SCHEDULE}
TRAIN_NOTES = {"pconv_base": NO_VGG, "rfr_full": f"{NO_VGG}; short: trained for 10 steps only"}

# (variant, bucket) -> per-seed values. PSNR: rfr best at 0.1-0.2, pconv best at 0.2-0.3.
# L1 (lower is better): rfr best at 0.1-0.2, pconv best at 0.2-0.3; a higher-is-better bug flips both.
PSNR = {("pconv_base", "0.1-0.2"): [20.0, 22.0], ("rfr_full", "0.1-0.2"): [25.0, 27.0],
        ("pconv_base", "0.2-0.3"): [19.0, 19.0], ("rfr_full", "0.2-0.3"): [18.0, 18.0]}
L1 = {("pconv_base", "0.1-0.2"): [0.05, 0.05], ("rfr_full", "0.1-0.2"): [0.03, 0.03],
      ("pconv_base", "0.2-0.3"): [0.04, 0.04], ("rfr_full", "0.2-0.3"): [0.06, 0.06]}
N = 10  # even one seed gives an interval: 10 paired values are the least the tables take (reporting.stats)
# Per-image spread around each mean (mean 0: the summary is the mean of the per-image rows); the
# variant part differs between variants, so paired differences vary a little from image to image.
IMAGE_OFFSETS = np.tile([-0.3, 0.1, -0.1, 0.3, 0.0], 2)
VARIANT_OFFSETS = np.tile([0.05, -0.05, 0.05, -0.05, 0.0], 2)


def _png(path, hole_colour=None, size=16):
    """A gradient picture; hole_colour paints the centre square (white = masked input)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    image = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 128, np.uint8)], -1)
    if hole_colour is not None:
        image[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = hole_colour
    Image.fromarray(image).save(path)


def make_results(root, variants=VARIANTS, buckets=BUCKETS, seeds=(0, 1), logs=True, fid=None, trained=None):
    """A results tree like evaluation.evaluate / training.train write it (summary.csv, per_image.csv and
    provenance.json per run, consistent with each other); returns the summary paths. fid: {variant:
    value} makes FID a computed metric (else it is missing); trained: {variant: schedule or None
    (classical)} recorded in the provenance (default TRAINED; a schedule may be {seed: schedule})."""
    trained = TRAINED if trained is None else trained
    paths = []
    for vi, variant in enumerate(variants):
        for seed in seeds:
            run = root / "runs" / DATASET / variant / f"seed{seed}"
            rows, images = [], []
            for bi, bucket in enumerate(buckets):
                means = {"psnr": PSNR.get((variant, bucket), [20.0, 21.0])[seed % 2],
                         "ssim": 0.8 + 0.01 * vi, "l1": L1.get((variant, bucket), [0.05, 0.05])[seed % 2],
                         "lpips": 0.1 + 0.01 * seed}
                spread = {"psnr": 1.0, "ssim": 0.01, "l1": 0.001, "lpips": 0.001}
                for i in range(N):
                    lo = float(bucket.split("-")[0])
                    images.append({"dataset": DATASET, "variant": variant, "seed": seed, "bucket": bucket,
                                   "image": f"img_{i:03d}.png", "mask": f"{bucket}/{i:03d}.png",
                                   "hole_ratio": lo + 0.01 + 0.001 * i + 0.0001 * seed,
                                   **{m: means[m] + spread[m] * (IMAGE_OFFSETS[i] + vi * VARIANT_OFFSETS[i])
                                      for m in means}})
                for metric, value in means.items():
                    rows.append([DATASET, variant, seed, bucket, metric, value, N, ""])
                if fid is None:
                    rows.append([DATASET, variant, seed, bucket, "fid", math.nan, 0, FID_NOTE])
                else:
                    rows.append([DATASET, variant, seed, bucket, "fid", fid[variant] + seed + bi, N, ""])
                if seed == 0:
                    for i, name in enumerate(["img_000", "img_001"]):
                        folder = run / "eval" / "samples" / bucket
                        _png(folder / f"{name}_input.png", (255, 255, 255))
                        _png(folder / f"{name}_output.png", (80 * vi % 256, 100, 50 * i))
                        _png(folder / f"{name}_gt.png")
            summary = pd.DataFrame(rows, columns=["dataset", "variant", "seed", "bucket", "metric", "value", "n", "note"])
            summary["train_note"] = TRAIN_NOTES.get(variant, "")
            (run / "eval").mkdir(parents=True, exist_ok=True)
            summary.to_csv(run / "eval" / "summary.csv", index=False)
            pd.DataFrame(images).to_csv(run / "eval" / "per_image.csv", index=False)
            if variant in trained:
                write_provenance(run / "eval", variant, seed, trained[variant])
            paths.append(run / "eval" / "summary.csv")
            if logs:
                steps = np.arange(0, 50, 10)
                log = pd.DataFrame({"step": steps, "phase": ["train"] * 3 + ["finetune"] * 2,
                                    "lr": [2e-4] * 3 + [5e-5] * 2, "total": (10.0 + seed) / (steps + 1 + vi),
                                    "hole": 6.0 / (steps + 1), "valid": 1.0 / (steps + 1), "tv": 0.01 + 0 * steps,
                                    "seconds": steps * 0.1})
                if variant == "rfr_full":
                    log["distill_cross"] = 0.5 / (steps + 1)
                log.to_csv(run / "train_log.csv", index=False)
    return paths


def write_provenance(folder, variant, seed, schedule):
    """An evaluation's provenance.json as evaluation.evaluate writes it, with what a fake table reads:
    the eval job's variant, seed, spec and train job, and the steps its model recorded."""
    if schedule and "steps" not in schedule:
        schedule = schedule[seed]
    train = None if schedule is None else {"settings": {**schedule, "lr": 2e-4}}
    record = {"job": {"dataset": DATASET, "variant": variant, "seed": seed, "spec": {"arch": variant}, "train": train},
              "model": None, "trained": schedule}
    (folder / "provenance.json").write_text(json.dumps(record))


def per_image_paths(summary_paths):
    return [p.with_name("per_image.csv") for p in summary_paths]


def run_files(root, variants=VARIANTS, seed=0):
    """({variant: train_log.csv}, {variant: eval/samples}) of the runs that have them, as the plots
    rule passes them."""
    runs = {v: root / "runs" / DATASET / v / f"seed{seed}" for v in variants}
    logs = {v: run / "train_log.csv" for v, run in runs.items() if (run / "train_log.csv").is_file()}
    samples = {v: run / "eval" / "samples" for v, run in runs.items() if (run / "eval" / "samples").is_dir()}
    return logs, samples


def md_cells(md: str) -> list[str]:
    """Every cell of every markdown table row (header and separator rows excluded)."""
    cells = []
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| Variant"):
            cells += [c.strip() for c in line.strip("|").split(" | ")]
    return cells


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    paths = make_results(root)
    summary = aggregate(paths)
    write_csv(root / "summary.csv", summary)
    return root, paths, summary


@pytest.fixture(scope="module")
def ablation(results):
    _, paths, summary = results
    return build_ablation(summary, read_per_images(per_image_paths(paths)), DATASET, ["rfr_full", "pconv_base"],
                          baseline_row="pconv_base", bootstrap=Bootstrap(resamples=1000))
