"""Exports the exact test pairs of an evaluation, so that another method can be run on them and
scored with the same code (`python -m inpaint_bench.metrics.score`).

    python -m inpaint_bench.training.export_inputs --config FILE --dataset NAME --seed N --out DIR

Writes DIR/gt/<image>.png, DIR/input/<bucket>/<image>.png (the masked input, hole painted white) and
DIR/masks/<bucket>/<image>.png (255 = hole) with DIR/masks/manifest.csv: test image i meets mask i
(mod masks.count) of each bucket, as in training.evaluate. Then, with the other method's outputs in
PRED/<bucket>/<image>.png:

    python -m inpaint_bench.metrics.score --pred PRED --gt DIR/gt --masks DIR/masks --out scores.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from inpaint_bench.harness.config import ConfigError, dataset_spec, layout
from inpaint_bench.harness.fileio import save_png, write_csv
from inpaint_bench.jobs.validate import load_config


def to_uint8(tensor) -> np.ndarray:
    array = tensor.float().clamp(0, 1).permute(1, 2, 0).numpy()
    return (array * 255 + 0.5).astype(np.uint8).squeeze(-1) if array.shape[-1] == 1 else \
        (array * 255 + 0.5).astype(np.uint8)


def export(config: dict, dataset: str, seed: int, out: Path, masks_path: str | None = None) -> Path:
    from inpaint_bench.datasets import build_dataset, load_test_masks

    images = build_dataset(dataset_spec(config, dataset), "test", config["image_size"], seed)
    masks = load_test_masks(masks_path or layout(config).masks_dir(config["image_size"], config["masks"]["seed"]))
    rows = []
    for i in tqdm(range(len(images)), desc=f"export {dataset}", unit="img"):
        item = images[i]
        name, image = item["name"], item["image"]
        save_png(out / "gt" / f"{name}.png", to_uint8(image))
        for bucket, bucket_masks in masks.items():
            mask = bucket_masks[i % len(bucket_masks)][1]
            save_png(out / "masks" / bucket / f"{name}.png", to_uint8(mask))
            save_png(out / "input" / bucket / f"{name}.png", to_uint8(image * (1 - mask) + mask))
            rows.append([bucket, f"{bucket}/{name}.png", float(mask.mean())])
    return write_csv(out / "masks" / "manifest.csv", rows, ["bucket", "file", "hole_ratio"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--masks", help="test mask folder (default: <results_dir>/masks/<size>px_seed<masks.seed>)")
    args = p.parse_args(argv)
    try:
        manifest = export(load_config(args.config), args.dataset, args.seed, Path(args.out), args.masks)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(f"wrote {manifest.parent.parent}")


if __name__ == "__main__":
    main()
