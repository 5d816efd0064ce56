"""Evaluates one variant on the fixed test masks of every hole-ratio bucket.

    python -m training.evaluate --config FILE --dataset NAME --variant NAME --seed N --out DIR [--model model.pt]

Test image i meets mask i (mod masks.count) of each bucket; the metrics are computed on the composite
`pred * mask + image * (1 - mask)`. Writes `per_image.csv` (one row per image and bucket),
`summary.csv` (long format: dataset, variant, seed, bucket, metric, value, n, note) and a few
composites per bucket under `samples/` for the qualitative grid.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from models import build_model
from fileio import atomic_write_text, save_png
from metrics.names import SUMMARY_COLUMNS
from metrics.pixel import composite
from training.checkpoint import load_model_file
from training.config import (ConfigError, dataset_spec, is_trainable, load_config, masks_dir,
                             variant_spec)
from training.precision import autocast, prepare_input, prepare_model, resolve_precision



def save_image(tensor: torch.Tensor, path: Path) -> None:
    array = (tensor.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    save_png(path, array)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def load_variant(config: dict, variant: str, model_path: str | None, device):
    """The network to evaluate and the notes its training left (e.g. losses dropped)."""
    spec = variant_spec(config, variant)
    if not is_trainable(spec):
        return build_model(spec, config["width"]).eval(), []
    if model_path is None:
        raise ConfigError(f"variant {variant!r} is trained: pass --model DIR/model.pt")
    model, record = load_model_file(model_path, device)
    return model, list(record.get("notes", []))


def evaluate(config: dict, dataset: str, variant: str, seed: int, out: Path, model_path: str | None = None,
             masks_path: str | None = None, device: str | None = None) -> pd.DataFrame:
    from datasets import build_dataset, load_test_masks
    from metrics import MetricSuite

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, train_notes = load_variant(config, variant, model_path, device)
    dtype = resolve_precision(config["train"]["precision"], device)
    model = prepare_model(model, dtype) if any(True for _ in model.parameters()) else model
    images = build_dataset(dataset_spec(config, dataset), "test", config["image_size"], seed)
    masks = load_test_masks(masks_path or masks_dir(config, seed))
    settings = config["eval"]
    suite = MetricSuite(weights_dir=config["weights"]["dir"], device=device,
                        enable_lpips=settings["lpips"], enable_fid=settings["fid"])
    batch_size, keep = settings["batch_size"], settings["samples"]

    rows = []
    total = len(masks) * len(images)
    bar = tqdm(total=total, desc=f"eval {dataset}/{variant}", unit="img", dynamic_ncols=True, mininterval=2.0)
    for bucket, bucket_masks in masks.items():
        for start in range(0, len(images), batch_size):
            idx = list(range(start, min(start + batch_size, len(images))))
            items = [images[i] for i in idx]
            gt = torch.stack([it["image"] for it in items]).to(device)
            mask = torch.stack([bucket_masks[i % len(bucket_masks)][1] for i in idx]).to(device)
            with torch.no_grad(), autocast(dtype, device):
                pred = model(prepare_input(gt * (1 - mask), dtype), mask)
            pred = pred.float()
            comp = composite(pred, gt, mask).clamp(0, 1)
            scores = suite.per_image(comp, gt)
            suite.add_distribution(bucket, comp, gt)
            for j, i in enumerate(idx):
                rows.append({"dataset": dataset, "variant": variant, "seed": seed, "bucket": bucket,
                             "image": items[j]["name"], "mask": f"{bucket}/{bucket_masks[i % len(bucket_masks)][0]}.png",
                             "hole_ratio": float(mask[j].mean()),
                             **{k: float(v[j]) for k, v in scores.items()}})
                if i < keep:
                    base = out / "samples" / bucket / items[j]["name"]
                    save_image(comp[j], base.with_name(base.name + "_output.png"))
                    save_image(gt[j] * (1 - mask[j]) + mask[j], base.with_name(base.name + "_input.png"))
                    save_image(gt[j], base.with_name(base.name + "_gt.png"))
            bar.update(len(idx))
    bar.close()

    per_image = pd.DataFrame(rows)
    summary = summarise(per_image, suite, settings, dataset, variant, seed, list(masks), train_notes)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(per_image, out / "per_image.csv")
    write_csv(summary, out / "summary.csv")
    return summary


def summarise(per_image, suite, settings, dataset, variant, seed, buckets, train_notes) -> pd.DataFrame:
    metric_cols = [c for c in ("psnr", "ssim", "l1", "lpips") if c in per_image.columns]
    rows = []

    def add(bucket, metric, value, n, note=""):
        rows.append({"dataset": dataset, "variant": variant, "seed": seed, "bucket": bucket,
                     "metric": metric, "value": value, "n": n, "note": note,
                     "train_note": "; ".join(train_notes)})

    for bucket in buckets:
        part = per_image[per_image["bucket"] == bucket]
        for metric in metric_cols:
            add(bucket, metric, float(part[metric].mean()), len(part))
        if settings["lpips"] and "lpips" not in metric_cols:
            add(bucket, "lpips", math.nan, 0, suite.missing.get("lpips", "missing"))
        if settings["fid"]:
            dist = suite.distribution(bucket)
            for metric in ("fid", "kid"):
                if metric in dist:
                    add(bucket, metric, float(dist[metric]), suite.count(bucket))
                else:
                    add(bucket, metric, math.nan, 0, suite.missing.get(metric) or suite.notes.get(bucket, ""))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="output folder (per_image.csv, summary.csv, samples/)")
    p.add_argument("--model", help="model.pt of a trained variant")
    p.add_argument("--masks", help="test mask folder (default: <results_dir>/masks/<size>px_seed<seed>)")
    p.add_argument("--threads", type=int)
    p.add_argument("--device")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        config = load_config(args.config)
        summary = evaluate(config, args.dataset, args.variant, args.seed, Path(args.out), args.model,
                           args.masks, args.device)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
