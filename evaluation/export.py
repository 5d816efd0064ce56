"""Exports the exact test pairs of an evaluation, so that another method can be run on them and
scored with the same code (`inpaint-bench score`).

    inpaint-bench export --config FILE --dataset NAME --seed N --out DIR

Writes DIR/gt/<image>.png, DIR/input/<bucket>/<image>.png (the masked input, hole painted white) and
DIR/masks/<bucket>/<image>.png (255 = hole) with DIR/masks/manifest.csv: the pairs of each bucket
that evaluation.evaluate scores (masks.pairing, datasets.mask_sets.bucket_pairs); where an image meets
several masks of a bucket (every_mask), each copy is <image>__<mask stem>.png. The manifest's `mask`
column names the mask set's file each copy is of and `image` its test image, which `score` records
as evaluation does (metrics.evaluation.mask_id).
Then, with the other method's outputs in PRED/<bucket>/<copy's name>.png:

    inpaint-bench score --pred PRED --gt DIR/gt --masks DIR/masks --out scores.csv

DIR is written whole (built beside it, then put in its place): a folder that holds anything but an
earlier export (DIR/export.json) is refused unless --force, which replaces it with its content.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from inpaint_bench.datasets.kinds import dataset_spec
from inpaint_bench.harness.config import layout
from inpaint_bench.harness.fileio import (
    atomic_write_text,
    check_output_folder,
    new_folder_beside,
    replace_folder,
    save_png,
    write_csv,
)
from inpaint_bench.metrics.evaluation import mask_id


def to_uint8(tensor) -> np.ndarray:
    array = tensor.float().clamp(0, 1).permute(1, 2, 0).numpy()
    return (array * 255 + 0.5).astype(np.uint8).squeeze(-1) if array.shape[-1] == 1 else \
        (array * 255 + 0.5).astype(np.uint8)


MARKER = "export.json"  # what an export was made from; it marks a folder this tool wrote
PAIR_SEPARATOR = "__"  # <image>__<mask stem>: a copy's name where an image meets several masks of a bucket


def export(config: dict, dataset: str, seed: int, out: Path, masks_path: str | None = None,
           force: bool = False) -> Path:
    """Writes the test pairs into `out`, replacing it whole (see the module docstring)."""
    from inpaint_bench.datasets import build_dataset, load_test_masks

    earlier_export = (Path(out) / MARKER).is_file()  # ours: replaced whole without --force
    out = check_output_folder(out, lambda name: earlier_export, "--out", force)
    masks_dir = masks_path or layout(config).masks_dir(config["image_size"], config["masks"]["seed"])
    images = build_dataset(dataset_spec(config, dataset), "test", config["image_size"], seed)
    masks = load_test_masks(masks_dir)
    tmp = new_folder_beside(out)
    try:
        pairing = config["masks"]["pairing"]
        _write(images, masks, tmp, dataset, pairing, config["masks"]["seed"])
        atomic_write_text(tmp / MARKER, json.dumps({"dataset": dataset, "seed": seed, "masks": str(masks_dir),
                                                    "images": len(images), "pairing": pairing}, indent=2))
        replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "masks" / "manifest.csv"


def _write(images, masks, out: Path, dataset: str, pairing: str, seed: int) -> Path:
    from inpaint_bench.datasets import bucket_pairs

    rows = []
    for i in tqdm(range(len(images)), desc=f"export {dataset}", unit="img"):
        save_png(out / "gt" / f"{images[i]['name']}.png", to_uint8(images[i]["image"]))
    for bucket, bucket_masks in masks.items():
        pairs = bucket_pairs(pairing, len(images), len(bucket_masks), seed, bucket)  # as evaluation scores them
        repeated = len({i for i, _ in pairs}) < len(pairs)
        for i, m in tqdm(pairs, desc=f"export {dataset} {bucket}", unit="pair"):
            name, image = images[i]["name"], images[i]["image"]
            stem, mask = bucket_masks[m]
            # the copy is named after its image (and its mask where an image meets several); `image` and
            # `mask` name the test image and the mask set's file, as evaluation does
            file = f"{name}{PAIR_SEPARATOR}{stem}" if repeated else name
            save_png(out / "masks" / bucket / f"{file}.png", to_uint8(mask))
            save_png(out / "input" / bucket / f"{file}.png", to_uint8(image * (1 - mask) + mask))
            rows.append([bucket, f"{bucket}/{file}.png", float(mask.mean()), mask_id(bucket, stem), name])
    return write_csv(out / "masks" / "manifest.csv", rows, ["bucket", "file", "hole_ratio", "mask", "image"])
