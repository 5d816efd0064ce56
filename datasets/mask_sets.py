"""Test mask sets: generating one, loading one for evaluation (`inpaint-bench masks` writes one).

A set is the layout of datasets.mask_files: a folder per hole-ratio bucket and a manifest.csv.
`make_test_masks` draws free-form strokes into each bucket; `masks --nvidia` imports NVIDIA's
masks instead (datasets.nvidia_masks). Which test image meets which mask of a bucket
(masks.pairing) is `bucket_pairs`, the one place evaluation and `export` take it from.

    inpaint-bench masks --out DIR --size 64 --count 12 --seed 0 [--nvidia DIR]
"""

from __future__ import annotations

import os

import numpy as np
import torch

from inpaint_bench.datasets.imagefile import read_mask
from inpaint_bench.datasets.mask_conventions import (
    STREAM_TEST_MASKS,
    STREAM_TEST_PAIRING,
    bucket_seed,
    check_buckets,
    check_seed,
    check_size,
    hole_ratio,
)
from inpaint_bench.datasets.mask_files import (
    check_bucket,
    check_ratio,
    read_manifest,
    recorded_ratio,
    write_mask_set,
)
from inpaint_bench.datasets.strokes import bucket_mask
from inpaint_bench.harness.buckets import Bucket


def _to_png_array(mask: np.ndarray) -> np.ndarray:
    return np.where(mask > 0.5, 255, 0).astype(np.uint8)


def make_test_masks(out_dir, size: int, buckets, count: int, seed: int,
                    blobs: bool = False) -> str:
    """Generate `count` masks per bucket; returns the manifest path.

    Mask i of a bucket is drawn from a generator seeded by (seed, size, bucket, i), so adding a
    bucket or raising count leaves the existing files unchanged, and regeneration is
    byte-identical.
    """
    size, seed = check_size(size), check_seed(seed)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    per_bucket = {}
    for b in check_buckets(buckets):
        items = []
        for i in range(int(count)):
            rng = np.random.default_rng(bucket_seed(seed, size, b, i, STREAM_TEST_MASKS))
            items.append((_to_png_array(bucket_mask(size, b, rng, blobs=blobs)), "generated"))
        per_bucket[b.name] = items
    return write_mask_set(out_dir, per_bucket)


# masks.pairing: how a bucket's test pairs (image, mask) are formed; the first is the schema's default
PAIRINGS = ("cycle", "every_mask", "random_mask")


def bucket_pairs(pairing: str, images: int, masks: int, seed: int, bucket) -> list[tuple[int, int]]:
    """The (image index, mask index) pairs one bucket is scored on, in order, for `images` test images
    and a bucket of `masks` masks (masks.pairing):

    - cycle: image i meets mask i mod masks, one pair per image (generated masks are random draws,
      so the first ones are as good as any; with NVIDIA's set in name order it would be a slice);
    - every_mask: pair k is image k mod images and mask k mod masks, for k < max(images, masks):
      every mask of the bucket once and the images cycled over them (every image at least once, so
      a bucket with fewer masks than images is cycle);
    - random_mask: one mask per image, drawn by a generator seeded by (seed, bucket): shuffled
      rounds of all the masks, so no mask is used twice before every mask is used once.

    Every variant and training seed gets the same pairs (`seed` is masks.seed)."""
    if images < 1 or masks < 1:
        raise ValueError(f"bucket {bucket}: {images} test images and {masks} masks, nothing to pair")
    if pairing == "cycle":
        return [(i, i % masks) for i in range(images)]
    if pairing == "every_mask":
        return [(k % images, k % masks) for k in range(max(images, masks))]
    if pairing == "random_mask":
        b = Bucket.parse(bucket)
        rng = np.random.default_rng([check_seed(seed), round(b.lo * 1_000_000), round(b.hi * 1_000_000),
                                     STREAM_TEST_PAIRING])
        rounds = [rng.permutation(masks) for _ in range(-(-images // masks))]
        return [(i, int(m)) for i, m in enumerate(np.concatenate(rounds)[:images])]
    raise ValueError(f"masks.pairing: {pairing!r} is not one of {', '.join(PAIRINGS)}")


def load_test_masks(masks_dir, threshold: float | None = None
                    ) -> dict[str, list[tuple[str, torch.Tensor]]]:
    """Read a test mask set: {bucket_name: [(file_stem, FloatTensor(1, S, S)), ...]}.

    Buckets and files come in manifest order. Masks must be binary (0/255) unless `threshold`
    is given (datasets.imagefile.read_mask). A file whose measured hole ratio differs from the
    manifest by more than 1e-6 raises an error: the manifest holds the exact ratio of the saved
    PNG (masks are not resized on reading), so any difference means the set was modified; so does
    one whose hole ratio lies outside its bucket (mask_files.check_bucket).
    """
    masks_dir = os.fspath(masks_dir)
    manifest = os.path.join(masks_dir, "manifest.csv")
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"missing mask manifest {manifest}: generate the set with "
                                f"`inpaint-bench masks --out {masks_dir} ...` "
                                f"(or datasets.mask_sets.make_test_masks / "
                                f"datasets.nvidia_masks.import_nvidia_masks)")
    rows = read_manifest(manifest, required=("bucket", "file", "hole_ratio"))
    if not rows:
        raise ValueError(f"{manifest} lists no masks; regenerate the mask set")
    out: dict[str, list[tuple[str, torch.Tensor]]] = {}
    for row in rows:
        path = os.path.join(masks_dir, row["file"])
        if not os.path.isfile(path):
            raise FileNotFoundError(f"mask file {path} listed in {manifest} does not exist; "
                                    f"regenerate the mask set")
        mask = read_mask(path, threshold)
        recorded = recorded_ratio(row, manifest)
        if recorded is None:
            raise ValueError(f"{manifest}: no hole_ratio for {row['file']}; regenerate the mask set")
        measured = hole_ratio(mask)
        check_ratio(path, measured, recorded, manifest, tolerance=1e-6)
        check_bucket(path, measured, row["bucket"], manifest)
        stem = os.path.splitext(os.path.basename(row["file"]))[0]
        out.setdefault(row["bucket"], []).append((stem, torch.from_numpy(mask)[None]))
    return out


def is_mask_set_entry(name: str) -> bool:
    """A mask set's own entries: its manifest, its bucket folders, temporary files."""
    try:
        Bucket.parse(name)
    except ValueError:
        return name in ("manifest.csv",) or name.startswith(".")
    return True
