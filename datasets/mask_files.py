"""Mask files on disk: the test mask set layout and its manifest, and mask images made elsewhere.

Layout (mask_sets.make_test_masks and nvidia_masks.import_nvidia_masks both write it here):
    out_dir/<bucket_name>/00000.png ...
    out_dir/manifest.csv   columns: bucket, file (relative to out_dir), hole_ratio, source
hole_ratio is measured from the saved PNG; source is "generated" or the NVIDIA file name.
Every file is written atomically and the manifest last, so a manifest means a complete set.
Mask images made elsewhere (NVIDIA's set, train.masks.dir) are read into the 255 = hole encoding,
refused when not square or without hole (read_external_mask); a folder of them is checked on a sample
(check_mask_folder). A mask listed in a bucket whose range its hole ratio is outside is refused
(check_bucket).
"""

from __future__ import annotations

import csv
import os

import numpy as np
from PIL import Image

from inpaint_bench.datasets.imagefile import mask_levels, show_values
from inpaint_bench.datasets.images import remove_stale_numbered_pngs
from inpaint_bench.datasets.mask_conventions import STREAM_MASK_FOLDER_CHECK, hole_ratio
from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.fileio import save_png as save_png_atomic
from inpaint_bench.harness.fileio import write_csv as write_csv_atomic

MANIFEST_HEADER = ["bucket", "file", "hole_ratio", "source"]


def write_mask_set(out_dir, per_bucket: dict[str, list[tuple[np.ndarray, str]]]) -> str:
    """Write {bucket_name: [(uint8 png array, source), ...]} in the test mask set layout."""
    out_dir = os.fspath(out_dir)
    rows = []
    for name, items in per_bucket.items():
        folder = os.path.join(out_dir, name)
        written = set()
        for i, (png, source) in enumerate(items):
            filename = f"{i:05d}.png"
            save_png_atomic(os.path.join(folder, filename), png)
            written.add(filename)
            # Ratio of the saved pixels (PNG is lossless, so re-reading gives the same value).
            rows.append([name, f"{name}/{filename}", repr(hole_ratio(png)), source])
        remove_stale_numbered_pngs(folder, keep=written)
    manifest = os.path.join(out_dir, "manifest.csv")
    write_csv_atomic(manifest, rows, MANIFEST_HEADER)
    return manifest


def read_manifest(manifest, required=("bucket", "file")) -> list[dict[str, str]]:
    """The rows of a mask manifest; a missing required column is an error naming the manifest and
    the columns it has."""
    manifest = os.fspath(manifest)
    with open(manifest, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            raise ValueError(f"{manifest}: missing column(s) {', '.join(missing)}; it has "
                             f"{', '.join(columns) if columns else 'no header'}, expected "
                             f"{', '.join(MANIFEST_HEADER)}")
        rows = []
        for row in reader:
            empty = [c for c in required if not (row.get(c) or "").strip()]
            if empty:
                raise ValueError(f"{manifest}:{reader.line_num}: no {', '.join(empty)} in this row")
            rows.append(row)
        return rows


def recorded_ratio(row: dict[str, str], manifest) -> float | None:
    """The hole_ratio a manifest row lists (None when it lists none); a bad value names the file."""
    value = (row.get("hole_ratio") or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{manifest}: hole_ratio {value!r} of {row.get('file')} is not a "
                         f"number") from None


def check_ratio(path, measured: float, recorded: float | None, manifest, tolerance: float) -> None:
    """Refuse a mask file whose hole ratio differs from its manifest's by more than tolerance."""
    if recorded is not None and not abs(measured - recorded) <= tolerance:
        raise ValueError(f"mask {os.fspath(path)} has hole ratio {measured:.6f} but {manifest} "
                         f"says {recorded:g} (tolerance {tolerance:g}); the mask or the manifest "
                         f"was modified, regenerate the set or fix the manifest")


def check_bucket(path, measured: float, bucket: str, manifest=None) -> None:
    """Refuse a mask listed in a bucket (a folder named "lo-hi") whose measured hole ratio lies outside
    it: it would be scored as a mask of that bucket. The bounds are taken as closed, [lo, hi], so a set
    bucketed with the other convention at the edges is accepted. A bucket not named "lo-hi" (e.g. "all")
    names no range."""
    try:
        named = Bucket.parse(bucket)
    except ValueError:
        return
    if not named.lo <= measured <= named.hi:
        listed = f" by {os.fspath(manifest)}" if manifest else ""
        raise ValueError(f"mask {os.fspath(path)} has hole ratio {measured:.4f}, outside the bucket {bucket} "
                         f"({named.lo:g} to {named.hi:g}) it is listed in{listed}: move it to the bucket of its "
                         f"hole ratio, or regenerate the set")


# An external mask's pixel is white when its value is above half its file's full scale (127 of 255).
WHITE_ABOVE = 0.5
# The largest mean hole ratio a folder of training masks may have over its checked sample: RFR-Net's
# largest test bucket ends at 0.6, and a folder read with the wrong hole colour is mostly hole (70-90%).
MAX_MEAN_HOLE_RATIO = 0.6
CHECK_SAMPLE = 20  # files checked besides the first (check_mask_folder)


def read_external_mask(path, hole_is_white: bool, hole_key: str) -> np.ndarray:
    """A mask file made elsewhere (NVIDIA's set, train.masks.dir) at its own size as bool (H, W), True =
    hole. Refuses, naming the file: a mask that is not square (resized to the square mask size, it would
    be squashed), and one that is hole nowhere or everywhere as read (a PNG of 0/1 values read with
    white holes has no hole at all); `hole_key` names the option of the hole's colour."""
    path = os.fspath(path)
    values, full = mask_levels(path)
    height, width = values.shape
    if height != width:
        raise ValueError(f"mask {path} is {width}x{height}, not square: resized to the square mask size it "
                         f"would be squashed; crop it to a square or remove it")
    white = values.astype(np.float64) / full > WHITE_ABOVE
    hole = white if hole_is_white else ~white
    if not hole.any() or hole.all():
        colour = "white" if hole_is_white else "black"
        hint = f". A mask of 0/1 values must be saved as 0/{full:g}" if 1 < full and values.max() <= 1 else ""
        raise ValueError(f"mask {path} is {'hole nowhere' if not hole.any() else 'all hole'} when read with "
                         f"{colour} holes ({hole_key}; white: above {WHITE_ABOVE * full:g} of {full:g}): its "
                         f"values are {show_values(values)}{hint}")
    return hole


def load_external_mask(path: str, size: int, hole_is_white: bool, hole_key: str = "the hole colour") -> np.ndarray:
    """An external mask file (read_external_mask) -> uint8 (size, size), 255 = hole (nearest-neighbour resize)."""
    png = np.where(read_external_mask(path, hole_is_white, hole_key), 255, 0).astype(np.uint8)
    if png.shape != (size, size):
        png = np.asarray(Image.fromarray(png).resize((size, size), Image.NEAREST))
    return png


def check_mask_folder(folder, hole_is_white: bool, hole_key: str) -> float:
    """Reads a fixed sample of a folder of external masks (the first file and CHECK_SAMPLE more, drawn
    by a fixed seed) as training reads them (read_external_mask: errors name the file), and refuses a
    folder whose masks are more than MAX_MEAN_HOLE_RATIO hole on average (holes of the other colour,
    `hole_key`). Returns that mean hole ratio."""
    folder = os.fspath(folder)
    files = list_mask_images(folder)
    rng = np.random.default_rng(STREAM_MASK_FOLDER_CHECK)
    rest = rng.choice(np.arange(1, len(files)), size=min(CHECK_SAMPLE, len(files) - 1), replace=False)
    picked = [files[0]] + [files[i] for i in sorted(rest.tolist())]
    ratios = [float(read_external_mask(os.path.join(folder, f), hole_is_white, hole_key).mean()) for f in picked]
    mean = float(np.mean(ratios))
    if mean > MAX_MEAN_HOLE_RATIO:
        worst, name = max(zip(ratios, picked))
        colour, other = ("white", "black") if hole_is_white else ("black", "white")
        raise ValueError(f"the masks in {folder} are {mean:.0%} hole on average ({len(picked)} files checked; "
                         f"{name}: {worst:.0%}), more than {MAX_MEAN_HOLE_RATIO:.0%}: their holes are probably "
                         f"{other}, not {colour}; set {hole_key}: {other}")
    return mean


def list_mask_images(mask_dir: str, extensions=(".png", ".jpg", ".jpeg", ".bmp")) -> list[str]:
    """Mask image files with one of `extensions` directly in mask_dir, sorted by name."""
    if not os.path.isdir(mask_dir):
        raise FileNotFoundError(f"missing mask folder {mask_dir}: expected a folder of mask images")
    files = sorted(f for f in os.listdir(mask_dir) if not f.startswith(".") and f.lower().endswith(extensions))
    if not files:
        raise ValueError(f"no mask images ({', '.join(extensions)}) in {mask_dir}")
    return files
