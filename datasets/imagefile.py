"""Reading image and mask files: the one place where pixels are decoded (datasets, metrics.score).

Every file is turned upright by its EXIF Orientation tag (a camera JPEG), here and only here, so
training, evaluation, `score` and `export` see the same pixels.

8-bit files are read exactly as Pillow's `convert("RGB")`; 16-bit files by their real range
(value / 65535) and float files as they are when in [0, 1] (Pillow's own conversion whitens or
blackens them). Masks must be binary (0 = known, full scale = hole) unless a threshold is given.
Every problem with a file is a ValueError (FileNotFoundError when missing) naming the file. The
details: datasets/README.md.
"""

from __future__ import annotations

import os
import struct
import zlib
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps

SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
FULL_16 = 65535
# What Pillow raises on a missing, truncated, corrupt or unsupported file (UnidentifiedImageError is
# an OSError); zlib/struct errors can escape some decoders.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                  Image.DecompressionBombError)


@contextmanager
def opened(path, what: str = "image"):
    """A fully decoded PIL image of `path` (closed on exit); decoding errors name the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    im = None
    try:
        im = Image.open(path)
        im.load()  # full decode: a truncated file fails here, not in a later step
        # the pixels as the file means them to be seen: a camera JPEG stores them as the sensor lay and
        # an EXIF Orientation tag says how to turn them upright (read here only, for every reader)
        ImageOps.exif_transpose(im, in_place=True)
    except _DECODE_ERRORS as e:
        if im is not None:
            im.close()
        raise ValueError(f"cannot decode {what} {path}: {e}. Replace it with a valid image file "
                         f"or remove it.") from None  # the message names the file and the cause
    try:
        yield im
    finally:
        im.close()


def _deep_gray(im: Image.Image, path: str, what: str) -> tuple[np.ndarray, float] | None:
    """A 16-bit or float image as (values, full scale); None for the 8-bit modes."""
    if im.mode in SIXTEEN_BIT_MODES:
        values, full = np.asarray(im), FULL_16
        if im.mode == "I" and values.size and (values.min() < 0 or values.max() > FULL_16):
            raise ValueError(f"{what} {path}: 32-bit integer image with values in "
                             f"[{values.min()}, {values.max()}]; only 16-bit data (0..65535) "
                             f"has a known range. Save it as an 8- or 16-bit PNG.")
        return values, full
    if im.mode == "F":
        values = np.asarray(im)
        if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
            raise ValueError(f"{what} {path}: float image with values in "
                             f"[{np.nanmin(values):g}, {np.nanmax(values):g}]"
                             f"{' and NaN/inf' if not np.isfinite(values).all() else ''}; float "
                             f"images must hold values in [0, 1]. Rescale it or save it as a PNG.")
        return values, 1.0
    return None


def decode_rgb(path, what: str = "image") -> Image.Image:
    """The image as a PIL image ready for resizing: mode "RGB" for 8-bit files (exactly Pillow's
    convert("RGB")), mode "F" (one gray plane in [0, 1]) for 16-bit and float files."""
    path = os.fspath(path)
    with opened(path, what) as im:
        deep = _deep_gray(im, path, what)
        if deep is not None:
            values, full = deep
            return Image.fromarray(np.asarray(values, dtype=np.float32) / np.float32(full))  # mode F
        try:
            return im.convert("RGB")
        except ValueError as e:  # a mode Pillow cannot convert (e.g. La)
            raise ValueError(f"cannot convert {what} {path} (mode {im.mode}) to RGB: {e}") from e


def rgb_array(im: Image.Image) -> np.ndarray:
    """A decode_rgb image (possibly resized) -> float32 (H, W, 3) in [0, 1]."""
    if im.mode == "F":
        gray = np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)  # bicubic resizing overshoots
        return np.repeat(gray[:, :, None], 3, axis=2)
    if im.mode != "RGB":
        raise ValueError(f"rgb_array expects a mode RGB or F image, got mode {im.mode}")
    return np.asarray(im, dtype=np.float32) / 255.0


def read_rgb(path) -> np.ndarray:
    """An image file as float32 (H, W, 3) in [0, 1]."""
    return rgb_array(decode_rgb(path))


def show_values(values: np.ndarray, limit: int = 8) -> str:
    """The distinct values of an array, the first `limit` of them, for a message."""
    distinct = np.unique(values)
    shown = ", ".join(f"{v:g}" for v in distinct[:limit].tolist())
    return shown + (f", ... ({len(distinct)} distinct values)" if len(distinct) > limit else "")


def mask_levels(path) -> tuple[np.ndarray, float]:
    """A mask file's gray values (H, W) as stored and their full scale: 255 for 8-bit files (Pillow's
    convert("L")), 65535 for 16-bit, 1.0 for float files."""
    path = os.fspath(path)
    with opened(path, "mask") as im:
        deep = _deep_gray(im, path, "mask")
        if deep is not None:
            return deep
        try:
            return np.asarray(im.convert("L")), 255
        except ValueError as e:
            raise ValueError(f"cannot convert mask {path} (mode {im.mode}) to gray: {e}") from e


def read_mask(path, threshold: float | None = None) -> np.ndarray:
    """A mask file as float32 (H, W), 1 = hole. Without a threshold every value must be 0 or full
    scale (255 for 8-bit, 65535 for 16-bit, 1.0 for float files); with one, hole = value / full
    scale > threshold."""
    path = os.fspath(path)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"mask threshold must be in [0, 1], got {threshold!r}")
    values, full = mask_levels(path)
    if threshold is not None:
        return (values.astype(np.float64) / full > threshold).astype(np.float32)
    binary = (values == 0) | (values == full)
    if not binary.all():
        raise ValueError(f"mask {path} is not binary: it holds the values {show_values(values)}; "
                         f"expected only 0 (known) and {full:g} (hole). Pass a threshold in [0, 1] "
                         f"(metrics.score --mask-threshold T: hole = value/{full:g} > T) to binarize it.")
    return (values == full).astype(np.float32)
