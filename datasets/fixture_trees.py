"""Small image trees in the official layouts of Places2 (Places365), CelebA and Paris StreetView, and a
mask folder laid out as NVIDIA's irregular test set, cut from the photographs the pinned packages ship
(the mini datasets' sources). The rehearsal of a paper config (`make rehearse`, docs/scale.md) runs on
them, so that every loader, every row and the report meet the paper's image size before a cluster does.
Deterministic from a seed; the photos' crops are real pictures (no flat image), the masks are free-form
strokes whose hole ratios fall in NVIDIA's six categories.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from inpaint_bench.datasets.mini import NATURAL_PHOTOS, mini_sources
from inpaint_bench.datasets.strokes import bucket_mask
from inpaint_bench.harness.fileio import atomic_write_text, save_png
from inpaint_bench.harness.names import NEAR_CONSTANT_STD

NVIDIA_BUCKETS = [[0.01, 0.1], [0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.4, 0.5], [0.5, 0.6]]
NVIDIA_MASK_SIDE = 512  # the side of the files of NVIDIA's mask.zip
CELEBA_SIZE = (178, 218)  # img_align_celeba's width x height
PARIS_TRAIN_SIZE, PARIS_TEST_SIZE = (936, 537), (227, 227)  # the release's originals and eval crops


def photo_crops(count: int, size: tuple[int, int], seed: int, stream: str) -> list[np.ndarray]:
    """`count` uint8 crops of `size` (width, height) from the bundled photographs, one photo after the
    other, each at a random position and scale; a near-constant crop is drawn again."""
    photos = mini_sources("mini_natural", "train")
    crops = []
    for i in range(count):
        name, photo = photos[i % len(NATURAL_PHOTOS)]
        rng = np.random.default_rng([seed, i, *map(ord, stream)])
        h, w = photo.shape[:2]
        for _ in range(100):
            scale = rng.uniform(0.5, 1.0) * min(w / size[0], h / size[1])
            cw, ch = max(1, int(size[0] * scale)), max(1, int(size[1] * scale))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            crop = np.asarray(Image.fromarray(photo[y:y + ch, x:x + cw]).resize(size, Image.BICUBIC))
            if crop.std() / 255 >= 2 * NEAR_CONSTANT_STD:
                break
        crops.append(crop)
    return crops


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        save_png(str(path), array)
    else:  # a JPEG, as the releases ship them
        tmp = path.with_name(f".{path.name}.tmp")
        Image.fromarray(array).save(tmp, format="JPEG", quality=95)
        os.replace(tmp, path)


def _write(root: Path, crops: list[np.ndarray], name_of) -> list[str]:
    """Saves crop i as root/name_of(i); returns the names written, in order."""
    names = [name_of(i) for i in range(len(crops))]
    for name, crop in zip(names, crops):
        _save(root / name.lstrip("/"), crop)
    return names


def write_places2(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """data_256/ with both training lists (Standard and Challenge name the same files here), val_256/
    and places365_val.txt, as the Places365 release lays them out."""
    train_names = _write(root / "data_256", photo_crops(train, (256, 256), seed, "places2-train"),
                         lambda i: f"/a/abbey/{i + 1:08d}.jpg")
    for listing in ("places365_train_standard.txt", "places365_train_challenge.txt"):
        atomic_write_text(root / listing, "".join(f"{name} 0\n" for name in train_names))
    val_names = _write(root / "val_256", photo_crops(test, (256, 256), seed, "places2-test"),
                       lambda i: f"Places365_val_{i + 1:08d}.jpg")
    atomic_write_text(root / "places365_val.txt", "".join(f"{name} 0\n" for name in val_names))
    return root


def write_celeba(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """img_align_celeba/ (178x218 JPEGs) and list_eval_partition.txt (0 train, 2 test)."""
    names = _write(root / "img_align_celeba", photo_crops(train + test, CELEBA_SIZE, seed, "celeba"),
                   lambda i: f"{i + 1:06d}.jpg")
    atomic_write_text(root / "list_eval_partition.txt",
                      "".join(f"{name} {0 if i < train else 2}\n" for i, name in enumerate(names)))
    return root


def write_paris(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """paris_train_original/ (936x537) and paris_eval_gt/ (227x227 PNGs)."""
    _write(root / "paris_train_original", photo_crops(train, PARIS_TRAIN_SIZE, seed, "paris-train"),
           lambda i: f"paris_{i + 1:04d}.JPG")
    _write(root / "paris_eval_gt", photo_crops(test, PARIS_TEST_SIZE, seed, "paris-test"),
           lambda i: f"{i + 1:03d}_im.png")
    return root


def write_nvidia_style_masks(folder: Path, per_bucket: int, seed: int = 0) -> Path:
    """`per_bucket` 512x512 PNGs (white = hole) in each of NVIDIA's six hole-ratio categories, numbered
    like mask.zip's files; the bucket of a file is what it measures, as for the real set."""
    index = 0
    for b, bucket in enumerate(NVIDIA_BUCKETS):
        rng = np.random.default_rng([seed, b])
        for _ in range(per_bucket):
            mask = bucket_mask(NVIDIA_MASK_SIDE, bucket, rng)
            save_png(str(folder / f"{index:05d}.png"), (mask > 0).astype(np.uint8) * 255)
            index += 1
    return folder


def write_trees(root: Path, train: int, test: int, masks_per_bucket: int, seed: int = 0) -> dict[str, Path]:
    """All three dataset trees and the mask folder under `root`: {"places2", "celeba", "paris", "masks"}."""
    root = Path(root)
    return {"places2": write_places2(root / "places365", train, test, seed),
            "celeba": write_celeba(root / "celeba", train, test, seed),
            "paris": write_paris(root / "paris_streetview", train, test, seed),
            "masks": write_nvidia_style_masks(root / "testing_mask_dataset", masks_per_bucket, seed)}
