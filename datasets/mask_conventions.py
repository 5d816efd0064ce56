"""What every mask module of datasets/ agrees on: encodings, hole ratio, buckets, checks, seeds.

A mask in memory is float32 with 1 = hole, 0 = known (numpy (S, S) or torch (1, S, S)); on disk it
is a single-channel uint8 PNG with 255 = hole, 0 = known. A bucket is a half-open hole-ratio
interval (lo, hi]: ratio r belongs to it when lo < r <= hi (RFR-Net's convention); it is written as
a tuple (lo, hi) or a string "lo-hi", and its folder name is e.g. "0.1-0.2".

Every random mask comes from a generator seeded by a list of integers ending in one of the stream
tags below, so the different uses of one seed draw independent streams.
"""

from __future__ import annotations

import numpy as np
import torch

from inpaint_bench.harness.buckets import Bucket

# RFR-Net's default test buckets.
DEFAULT_BUCKETS = ((0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))

# Seed stream tags. The values are part of every seed derivation: changing one changes the masks.
STREAM_TEST_MASKS = 1        # mask_sets.make_test_masks
STREAM_BUCKET_STROKES = 2    # train_masks.BucketStrokeSampler
STREAM_NVIDIA_CHOICE = 3     # nvidia_masks.import_nvidia_masks
STREAM_OFFICIAL_STROKES = 4  # train_masks.OfficialStrokeSampler
STREAM_MASK_FOLDER = 5       # train_masks.MaskFolderSampler
STREAM_MASK_FOLDER_CHECK = 6  # mask_files.check_mask_folder (the files it samples)
STREAM_TEST_PAIRING = 7      # mask_sets.bucket_pairs (masks.pairing: random_mask)


def hole_ratio(mask) -> float:
    """Fraction of hole pixels (mask values > 0.5) in a numpy array or tensor."""
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    return float(np.count_nonzero(arr > 0.5)) / arr.size


def bucket_seed(seed: int, size: int, bucket, *extra: int) -> list[int]:
    """Integer entropy for a bucket's generators: independent of the other buckets in a list."""
    b = Bucket.parse(bucket)
    return [int(seed), int(size), round(b.lo * 1_000_000), round(b.hi * 1_000_000), *extra]


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"mask size must be an integer >= 8, got {size!r}")
    return int(size)


def check_buckets(buckets) -> list[Bucket]:
    parsed = [Bucket.parse(b) for b in buckets]
    if not parsed:
        raise ValueError("buckets is empty: give at least one hole-ratio bucket, e.g. 0.1-0.2")
    names = [b.name for b in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"buckets {names} contain duplicates")
    return parsed
