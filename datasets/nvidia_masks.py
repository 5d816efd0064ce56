"""NVIDIA's irregular mask set (Liu et al., "Image Inpainting for Irregular Holes Using Partial
Convolutions", 2018) imported as a test mask set (the layout of datasets.mask_files).

Its testing set (mask.zip, 12,000 512x512 PNGs in six hole-ratio categories, (0.01, 0.1] ...
(0.5, 0.6]; README.md) has WHITE holes on a black background, hence hole_is_white=True by default
(EdgeConnect's maintainers, knazeri/edge-connect issues #20 and #24, train on it with white = hole).
The raw *training* set of that release is the other way round, black holes on white: pass
hole_is_white=False. Masks are bucketed by their measured hole ratio, never by file name or order.
"""

from __future__ import annotations

import os

import numpy as np

from inpaint_bench.datasets.mask_conventions import (
    STREAM_NVIDIA_CHOICE,
    bucket_seed,
    check_buckets,
    check_seed,
    check_size,
    hole_ratio,
)
from inpaint_bench.datasets.mask_files import load_external_mask, write_mask_set

HOLE_KEY = "masks.nvidia_hole"  # the option of the holes' colour (the CLI's --hole-black)


def _list_pngs(mask_dir: str) -> list[str]:
    if not os.path.isdir(mask_dir):
        raise FileNotFoundError(f"missing mask folder {mask_dir}: expected a folder of PNG masks "
                                f"(for NVIDIA's testing set, the unzipped testing_mask_dataset/)")
    files = sorted(f for f in os.listdir(mask_dir) if f.lower().endswith(".png"))
    if not files:
        raise ValueError(f"no PNG files in {mask_dir}: expected NVIDIA irregular masks (*.png) "
                         f"directly in this folder")
    return files


def nvidia_mask_set(mask_dir, buckets, size: int, hole_is_white: bool = True
                    ) -> dict[str, list[tuple[str, float]]]:
    """Group every PNG in mask_dir by its measured hole ratio after a nearest resize to size.

    Returns {bucket_name: [(file name, hole ratio), ...]} sorted by file name, with every bucket
    present (possibly empty). Files are bucketed by what they contain, never by their names or
    order. Masks whose ratio falls in no bucket are left out of every bucket.
    """
    size = check_size(size)
    mask_dir = os.fspath(mask_dir)
    parsed = check_buckets(buckets)
    groups: dict[str, list[tuple[str, float]]] = {b.name: [] for b in parsed}
    for f in _list_pngs(mask_dir):
        r = hole_ratio(load_external_mask(os.path.join(mask_dir, f), size, hole_is_white, HOLE_KEY))
        for b in parsed:
            if b.contains(r):
                groups[b.name].append((f, r))
    return groups


def import_nvidia_masks(mask_dir, out_dir, size: int, buckets, count, seed: int,
                        hole_is_white: bool = True) -> str:
    """Pick `count` NVIDIA masks per bucket (deterministically) and write them as a test set;
    count "all" (or None) takes every mask of each bucket, in file-name order.

    The output has exactly the layout and manifest of make_test_masks (source = NVIDIA file
    name), so evaluation treats both the same. The choice per bucket is seeded by
    (seed, size, bucket) over the files sorted by name. A bucket with fewer masks than asked (or,
    with "all", with none) is an error naming the bucket and how many it has.
    """
    size, seed = check_size(size), check_seed(seed)
    take_all = count is None or count == "all"
    if not take_all and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"count must be a positive integer or 'all', got {count!r}")
    mask_dir = os.fspath(mask_dir)
    parsed = check_buckets(buckets)
    groups = nvidia_mask_set(mask_dir, parsed, size, hole_is_white)
    colour = "white" if hole_is_white else "black"
    short = [f"bucket {b.name} has {len(groups[b.name])}" for b in parsed
             if len(groups[b.name]) < (1 if take_all else count)]
    if short:
        wanted = "at least 1" if take_all else f"{count} needed"
        raise ValueError(f"{mask_dir}: too few masks at {size}px (holes read as {colour}; {wanted}): "
                         f"{'; '.join(short)}. Lower masks.count, set masks.count: all to use every "
                         f"mask that exists, or check masks.nvidia_hole")
    per_bucket = {}
    for b in parsed:
        candidates = groups[b.name]
        if take_all:
            chosen = range(len(candidates))
        else:
            rng = np.random.default_rng(bucket_seed(seed, size, b, STREAM_NVIDIA_CHOICE))
            chosen = sorted(rng.choice(len(candidates), size=count, replace=False).tolist())
        per_bucket[b.name] = [
            (load_external_mask(os.path.join(mask_dir, candidates[j][0]), size, hole_is_white, HOLE_KEY),
             candidates[j][0])
            for j in chosen]
    return write_mask_set(out_dir, per_bucket)
