"""Test mask sets on disk (written, checked, read back), folders of mask images, and the CLI.

Layout (make_test_masks and nvidia_masks.import_nvidia_masks write the same thing):
    out_dir/<bucket_name>/00000.png ...
    out_dir/manifest.csv   columns: bucket, file (relative to out_dir), hole_ratio, source
hole_ratio is measured from the saved PNG; source is "generated" or the NVIDIA file name.
Every file is written atomically and the manifest last, so a manifest means a complete set.

CLI: python -m inpaint_bench.datasets.mask_sets --out DIR --size 64 --count 12 --seed 0 [--nvidia DIR]
"""

from __future__ import annotations

import argparse
import csv
import os

import numpy as np
import torch
from PIL import Image

from inpaint_bench.datasets.imagefile import read_mask
from inpaint_bench.datasets.images import remove_stale_numbered_pngs
from inpaint_bench.datasets.mask_conventions import (DEFAULT_BUCKETS, STREAM_TEST_MASKS, bucket_seed,
                                                     check_buckets, check_seed, check_size, hole_ratio)
from inpaint_bench.datasets.strokes import bucket_mask
from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.fileio import save_png as save_png_atomic, write_csv as write_csv_atomic

MANIFEST_HEADER = ["bucket", "file", "hole_ratio", "source"]


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def _to_png_array(mask: np.ndarray) -> np.ndarray:
    return np.where(mask > 0.5, 255, 0).astype(np.uint8)


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


# ----------------------------------------------------------------------------------------------
# Reading and checking
# ----------------------------------------------------------------------------------------------

def read_manifest(manifest, required=("bucket", "file")) -> list[dict[str, str]]:
    """The rows of a mask manifest; a missing required column is an error naming the manifest and
    the columns it has."""
    manifest = os.fspath(manifest)
    with open(manifest, newline="", encoding="utf-8") as f:
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


def load_test_masks(masks_dir, threshold: float | None = None
                    ) -> dict[str, list[tuple[str, torch.Tensor]]]:
    """Read a test mask set: {bucket_name: [(file_stem, FloatTensor(1, S, S)), ...]}.

    Buckets and files come in manifest order. Masks must be binary (0/255) unless `threshold`
    is given (datasets.imagefile.read_mask). A file whose measured hole ratio differs from the
    manifest by more than 1e-6 raises an error: the manifest holds the exact ratio of the saved
    PNG (masks are not resized on reading), so any difference means the set was modified.
    """
    masks_dir = os.fspath(masks_dir)
    manifest = os.path.join(masks_dir, "manifest.csv")
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"missing mask manifest {manifest}: generate the set with "
                                f"`python -m inpaint_bench.datasets.mask_sets --out {masks_dir} ...` "
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
        check_ratio(path, hole_ratio(mask), recorded, manifest, tolerance=1e-6)
        stem = os.path.splitext(os.path.basename(row["file"]))[0]
        out.setdefault(row["bucket"], []).append((stem, torch.from_numpy(mask)[None]))
    return out


# ----------------------------------------------------------------------------------------------
# Folders of mask images made elsewhere (NVIDIA's set, train.masks.dir)
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def main(argv=None) -> None:
    # Imported here: nvidia_masks writes its sets with this module's write_mask_set.
    from inpaint_bench.datasets.nvidia_masks import import_nvidia_masks

    parser = argparse.ArgumentParser(description="Write a test mask set (PNG, 255 = hole) with "
                                                 "a manifest of hole ratios.")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", default="12", help="masks per bucket (with --nvidia: or 'all')")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--buckets", nargs="+", default=[Bucket.parse(b).name for b in DEFAULT_BUCKETS],
                        help="hole-ratio buckets as lo-hi, e.g. 0.1-0.2 0.2-0.3")
    parser.add_argument("--blobs", action="store_true", help="add elliptical blobs to strokes")
    parser.add_argument("--nvidia", metavar="DIR", help="import NVIDIA irregular masks from DIR "
                                                        "instead of generating masks")
    parser.add_argument("--hole-black", action="store_true",
                        help="with --nvidia: holes are black (NVIDIA's raw training set)")
    args = parser.parse_args(argv)
    if args.count != "all" or not args.nvidia:
        try:
            args.count = int(args.count)
        except ValueError:
            parser.error(f"--count must be an integer{' or all' if args.nvidia else ''}, got {args.count!r}")
    if args.nvidia:
        manifest = import_nvidia_masks(args.nvidia, args.out, args.size, args.buckets, args.count,
                                       args.seed, hole_is_white=not args.hole_black)
    else:
        manifest = make_test_masks(args.out, args.size, args.buckets, args.count, args.seed,
                                   blobs=args.blobs)
    print(f"wrote {args.count} mask(s) x {len(args.buckets)} buckets ({args.size}px); "
          f"manifest: {manifest}")


if __name__ == "__main__":
    main()
