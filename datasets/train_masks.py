"""Training mask samplers, one per value of the config's `train.masks.source` (`build_train_masks`).

- "strokes": OfficialStrokeSampler, the official RFR-Net stroke generator at any hole ratio;
- "folder": MaskFolderSampler, mask images drawn at random from a folder (with `augment: pconv`,
  randomly dilated, cropped, flipped and resized, as RFR-Net's author describes Table 1's training);
- "test_buckets": BucketStrokeSampler, free-form strokes with hole ratios in the test buckets.
Every sampler has sample(index) -> FloatTensor(1, S, S), 1 = hole, a function of
(seed, size, index) only, so a resumed run draws the same masks.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from inpaint_bench.datasets.mask_conventions import (
    DEFAULT_BUCKETS,
    STREAM_BUCKET_STROKES,
    STREAM_MASK_FOLDER,
    STREAM_OFFICIAL_STROKES,
    check_buckets,
    check_seed,
    check_size,
)
from inpaint_bench.datasets.mask_files import list_mask_images, load_external_mask
from inpaint_bench.datasets.strokes import bucket_mask, official_stroke_mask

TRAIN_MASK_SOURCES = ("strokes", "folder", "test_buckets")


class OfficialStrokeSampler:
    """Training masks of the official RFR-Net generator (`official_stroke_mask`), any hole ratio."""

    def __init__(self, size: int, seed: int, caps: str = "round"):
        self.size, self.seed, self.caps = check_size(size), check_seed(seed), caps

    def sample(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.size, int(index), STREAM_OFFICIAL_STROKES])
        return torch.from_numpy(official_stroke_mask(self.size, rng, self.caps))[None]

    __call__ = sample


class MaskFolderSampler:
    """Training masks drawn at random from a folder of mask images (the official code's mask_mode
    0, e.g. NVIDIA's irregular masks): mask `index` is a file chosen uniformly by (seed, index),
    resized to size x size (nearest) and flipped horizontally with probability 0.5 by its own draw
    (the official code flips image and mask independently). A file that is not square or has no hole
    is refused when drawn (mask_files.read_external_mask); the config check reads a sample of the
    folder before any job (mask_files.check_mask_folder)."""

    AUGMENTS = ("none", "pconv")
    MAX_DILATION = 3  # pixels per 256 px of the file's side: a hole grows by 0 to this on every side
    MIN_CROP = 0.6  # the crop's side, as a fraction of the file's shorter side: uniform in [MIN_CROP, 1]

    def __init__(self, size: int, seed: int, mask_dir, hole_is_white: bool = True, augment: str = "none"):
        self.size, self.seed = check_size(size), check_seed(seed)
        self.mask_dir = os.path.expanduser(os.fspath(mask_dir))
        self.files = list_mask_images(self.mask_dir)
        self.hole_is_white = hole_is_white
        if augment not in self.AUGMENTS:
            raise ValueError(f"train.masks.augment {augment!r}: one of {', '.join(self.AUGMENTS)}")
        self.augment = augment

    def choice(self, index: int) -> tuple[str, bool]:
        """(file name, flipped) of training mask `index`."""
        rng = np.random.default_rng([self.seed, self.size, int(index), STREAM_MASK_FOLDER])
        return self.files[int(rng.integers(len(self.files)))], bool(rng.random() < 0.5)

    def augmented(self, index: int) -> torch.Tensor:
        """augment "pconv": the file at its own size, its hole dilated by a random 0 to MAX_DILATION
        pixels per 256 px, a random square crop (side uniform in [MIN_CROP, 1] of the shorter side,
        uniform position), resized to size x size (nearest) and flipped horizontally with probability
        0.5: the partial-convolution paper's mask augmentation as RFR-Net's author describes it."""
        name, flip = self.choice(index)
        rng = np.random.default_rng([self.seed, self.size, int(index), STREAM_MASK_FOLDER, 1])
        hole = torch.from_numpy(_native_mask(os.path.join(self.mask_dir, name), self.hole_is_white))
        hole = hole.float()[None, None]
        side = min(hole.shape[2:])
        k = int(rng.integers(0, self.MAX_DILATION * max(1, round(side / 256)) + 1))
        if k:
            hole = torch.nn.functional.max_pool2d(hole, 2 * k + 1, stride=1, padding=k)
        crop = max(1, int(round(side * rng.uniform(self.MIN_CROP, 1.0))))
        top = int(rng.integers(0, hole.shape[2] - crop + 1))
        left = int(rng.integers(0, hole.shape[3] - crop + 1))
        hole = hole[:, :, top:top + crop, left:left + crop]
        hole = torch.nn.functional.interpolate(hole, size=(self.size, self.size), mode="nearest")[0]
        return hole.flip(-1).contiguous() if flip else hole

    def sample(self, index: int) -> torch.Tensor:
        if self.augment == "pconv":
            return self.augmented(index)
        name, flip = self.choice(index)
        png = load_external_mask(os.path.join(self.mask_dir, name), self.size, self.hole_is_white, "train.masks.hole")
        mask = (png > 127).astype(np.float32)
        if flip:
            mask = np.ascontiguousarray(mask[:, ::-1])
        return torch.from_numpy(mask)[None]

    __call__ = sample


class BucketStrokeSampler:
    """Free-form stroke masks (`bucket_mask`) with hole ratios in the given buckets.

    Drawing a mask into a bucket costs milliseconds (rejection sampling), as much as a training
    step of a small network, so the sampler draws a pool of `pool_size` base masks once (lazily;
    each picks one of the buckets uniformly, so hole ratios spread over the buckets' whole range)
    and serves sample(index) as base mask `index % pool_size` under a random flip, transpose and
    cyclic shift seeded by (seed, index). These keep the hole ratio exactly and make repeats rare.
    """

    def __init__(self, size: int, seed: int, buckets=None, blobs: bool = False, pool_size: int = 1024):
        self.size = check_size(size)
        self.seed = check_seed(seed)
        self.buckets = check_buckets(DEFAULT_BUCKETS if buckets is None else buckets)
        self.blobs = blobs
        self.pool_size = int(pool_size)
        self._pool: dict[int, np.ndarray] = {}

    def _base(self, slot: int) -> np.ndarray:
        if slot not in self._pool:
            rng = np.random.default_rng([self.seed, self.size, slot, STREAM_BUCKET_STROKES])
            bucket = self.buckets[int(rng.integers(len(self.buckets)))]
            self._pool[slot] = bucket_mask(self.size, bucket, rng, blobs=self.blobs)
        return self._pool[slot]

    def sample(self, index: int) -> torch.Tensor:
        index = int(index)
        mask = self._base(index % self.pool_size)
        rng = np.random.default_rng([self.seed, self.size, index, STREAM_BUCKET_STROKES, 1])
        flip, transpose = rng.integers(2, size=2)
        if flip:
            mask = mask[:, ::-1]
        if transpose:
            mask = mask.T
        mask = np.roll(mask, tuple(rng.integers(self.size, size=2)), axis=(0, 1))
        return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]

    __call__ = sample


def _native_mask(path: str, hole_is_white: bool) -> np.ndarray:
    """A mask file at its own size, True = hole; ValueError names a file that cannot be decoded."""
    try:
        with Image.open(path) as im:
            white = np.asarray(im.convert("L")) > 127
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"cannot decode mask {path}: {e}; remove or replace the file") from e
    return white if hole_is_white else ~white


def build_train_masks(source: str, size: int, seed: int, buckets=None, mask_dir=None,
                      hole_is_white: bool = True, caps: str = "round", augment: str = "none"):
    """The training mask sampler of `train.masks.source`: "strokes" (the official generator, its
    segments drawn with `caps`), "folder" (random files of `mask_dir`) or "test_buckets" (free-form
    strokes with hole ratios in the test buckets, the mini configs' masks). Every sampler has
    sample(g) -> (1, S, S) float32."""
    if source == "strokes":
        return OfficialStrokeSampler(size, seed, caps)
    if source == "folder":
        if not mask_dir:
            raise ValueError("train.masks.source is folder: set train.masks.dir to a folder of mask images")
        return MaskFolderSampler(size, seed, mask_dir, hole_is_white, augment)
    if source == "test_buckets":
        return BucketStrokeSampler(size, seed, buckets=buckets)
    raise ValueError(f"unknown training mask source {source!r}; known: {', '.join(TRAIN_MASK_SOURCES)}")
