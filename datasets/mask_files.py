"""Mask files on disk: the test mask set layout and its manifest, and mask images made elsewhere.

Layout (mask_sets.make_test_masks and nvidia_masks.import_nvidia_masks both write it here):
    out_dir/<bucket_name>/00000.png ...
    out_dir/manifest.csv   columns: bucket, file (relative to out_dir), hole_ratio, source
hole_ratio is measured from the saved PNG; source is "generated" or the NVIDIA file name.
Every file is written atomically and the manifest last, so a manifest means a complete set.
Mask images made elsewhere (NVIDIA's set, train.masks.dir) are read into the 255 = hole encoding.
"""

from __future__ import annotations

import csv
import os

import numpy as np
from PIL import Image

from inpaint_bench.datasets.images import remove_stale_numbered_pngs
from inpaint_bench.datasets.mask_conventions import hole_ratio
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


def load_external_mask(path: str, size: int, hole_is_white: bool) -> np.ndarray:
    """An external mask file -> uint8 (size, size), 255 = hole (nearest-neighbour resize)."""
    try:
        with Image.open(path) as im:
            im.load()
            gray = im.convert("L")
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"cannot decode mask {path}: {e}; remove or replace the file") from e
    if gray.size != (size, size):
        gray = gray.resize((size, size), Image.NEAREST)
    white = np.asarray(gray) > 127
    return np.where(white if hole_is_white else ~white, 255, 0).astype(np.uint8)


def list_mask_images(mask_dir: str, extensions=(".png", ".jpg", ".jpeg", ".bmp")) -> list[str]:
    """Mask image files with one of `extensions` directly in mask_dir, sorted by name."""
    if not os.path.isdir(mask_dir):
        raise FileNotFoundError(f"missing mask folder {mask_dir}: expected a folder of mask images")
    files = sorted(f for f in os.listdir(mask_dir) if not f.startswith(".") and f.lower().endswith(extensions))
    if not files:
        raise ValueError(f"no mask images ({', '.join(extensions)}) in {mask_dir}")
    return files
