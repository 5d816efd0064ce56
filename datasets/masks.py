"""Irregular inpainting masks: generation, hole-ratio buckets, test mask sets, NVIDIA's mask set.

Conventions: in memory a mask is float32 with 1 = hole, 0 = known (numpy (S, S) or torch
(1, S, S)); on disk it is a single-channel uint8 PNG with 255 = hole, 0 = known.

A bucket is a half-open hole-ratio interval (lo, hi]: a mask with hole ratio r belongs to it when
lo < r <= hi (RFR-Net's convention; its default buckets are (0.1, 0.2] ... (0.5, 0.6]). A bucket
is written as a tuple (lo, hi) or a string "lo-hi"; its folder name is e.g. "0.1-0.2".

Test mask set layout (make_test_masks and import_nvidia_masks write the same thing):
    out_dir/<bucket_name>/00000.png ...
    out_dir/manifest.csv   columns: bucket, file (relative to out_dir), hole_ratio, source
hole_ratio is measured from the saved PNG; source is "generated" or the NVIDIA file name.
Every file is written atomically and the manifest last, so a manifest means a complete set.

Free-form strokes follow the idea of the free-form masks of Yu et al., "Free-Form Image
Inpainting with Gated Convolution" (DeepFill v2): a brush of random width moves through random
vertices with random angles and segment lengths; joints are rounded. Lengths and widths scale
with the mask size, so a mask set looks alike at 64 px and at 256 px.

Training masks (`build_train_masks`, the config's train.masks.source): "strokes", the official
RFR-Net generator at any hole ratio (`official_stroke_mask`); "folder", mask images drawn at random;
"test_buckets", the free-form strokes above restricted to the test buckets. Each is a function of
(seed, sample number), so a resumed run draws the same masks.

NVIDIA irregular mask set (Liu et al., "Image Inpainting for Irregular Holes Using Partial
Convolutions", 2018): its testing set (mask.zip, 12,000 512x512 PNGs in six hole-ratio
categories, (0.01, 0.1] ... (0.5, 0.6]; README.md) has WHITE holes on a black background, which is
why `hole_is_white` defaults to True. Masks are bucketed by their measured ratio, never by file
name or order. (EdgeConnect's maintainers,
knazeri/edge-connect issues #20 and #24, train on that set with white = hole; the raw *training*
set of that release is the other way round, black holes on white: pass hole_is_white=False.)
"""

from __future__ import annotations

import argparse
import csv
import math
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from inpaint_bench.datasets.imagefile import read_mask
from inpaint_bench.datasets.images import remove_stale_numbered_pngs
from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.fileio import save_png as save_png_atomic, write_csv as write_csv_atomic

DEFAULT_BUCKETS = ((0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
MANIFEST_HEADER = ["bucket", "file", "hole_ratio", "source"]

# Stroke shape, as fractions of the mask side (DeepFill v2-like proportions at 256 px).
MAX_VERTICES = 12          # vertices per stroke: uniform in [4, MAX_VERTICES]
SEGMENT_LENGTH = (0.04, 0.2)
BRUSH_WIDTH = (0.03, 0.12)
MAX_TURN = 0.6 * math.pi   # heading change at each vertex, uniform in [-MAX_TURN, MAX_TURN]
BLOB_AXIS = (0.04, 0.16)   # ellipse semi-axes
MAX_SEGMENTS_PER_TRY = 4000  # bound on one growth attempt in bucket_mask

# Distinct streams for the different uses of the same seed.
_TAG_TEST, _TAG_TRAIN, _TAG_NVIDIA, _TAG_STROKES, _TAG_FOLDER = 1, 2, 3, 4, 5

# The official RFR-Net code's training mask generator (its dataset.py, mask_mode 1), in pixels of a
# 256 x 256 mask; other sizes scale lengths and widths by size / 256.
OFFICIAL_STROKES = {"max_parts": 15, "max_vertices": 25, "max_length": 100,
                    "brush_width": (10, 24), "max_angle_degrees": 360, "reference_size": 256}


# ----------------------------------------------------------------------------------------------
# Buckets
# ----------------------------------------------------------------------------------------------

def hole_ratio(mask) -> float:
    """Fraction of hole pixels (mask values > 0.5) in a numpy array or tensor."""
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    return float(np.count_nonzero(arr > 0.5)) / arr.size


def _bucket_seed(seed: int, size: int, bucket, *extra: int) -> list[int]:
    """Integer entropy for a bucket's generators: independent of the other buckets in a list."""
    b = Bucket.parse(bucket)
    return [int(seed), int(size), round(b.lo * 1_000_000), round(b.hi * 1_000_000), *extra]


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"mask size must be an integer >= 8, got {size!r}")
    return int(size)


# ----------------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------------

class _Brush:
    """Draws strokes and blobs on a uint8 canvas (255 = hole) one segment at a time."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size = size
        self.rng = rng
        self.canvas = Image.new("L", (size, size), 0)
        self.draw = ImageDraw.Draw(self.canvas)

    def ratio(self) -> float:
        return float(np.count_nonzero(np.asarray(self.canvas))) / (self.size * self.size)

    def _dot(self, x: float, y: float, width: int) -> None:
        r = width / 2.0
        self.draw.ellipse([x - r, y - r, x + r, y + r], fill=255)

    def stroke_segments(self):
        """Generator: draws one stroke, yielding after each segment so callers can stop early."""
        s, rng = self.size, self.rng
        n_vertices = int(rng.integers(4, MAX_VERTICES + 1))
        width = max(1, round(rng.uniform(*BRUSH_WIDTH) * s))
        x, y = rng.uniform(0, s - 1), rng.uniform(0, s - 1)
        heading = rng.uniform(0, 2 * math.pi)
        self._dot(x, y, width)
        for _ in range(n_vertices):
            heading += rng.uniform(-MAX_TURN, MAX_TURN)
            length = rng.uniform(*SEGMENT_LENGTH) * s
            # Clamp to the canvas so every segment adds visible hole area.
            nx = float(np.clip(x + length * math.cos(heading), 0, s - 1))
            ny = float(np.clip(y + length * math.sin(heading), 0, s - 1))
            self.draw.line([(x, y), (nx, ny)], fill=255, width=width)
            self._dot(nx, ny, width)  # round joint, as a brush would leave
            x, y = nx, ny
            yield

    def blob(self) -> None:
        """A filled, randomly rotated ellipse."""
        s, rng = self.size, self.rng
        cx, cy = rng.uniform(0, s - 1), rng.uniform(0, s - 1)
        a, b = rng.uniform(*BLOB_AXIS) * s, rng.uniform(*BLOB_AXIS) * s
        rot = rng.uniform(0, math.pi)
        pts = []
        for k in range(48):
            t = 2 * math.pi * k / 48
            px, py = a * math.cos(t), b * math.sin(t)
            pts.append((cx + px * math.cos(rot) - py * math.sin(rot),
                        cy + px * math.sin(rot) + py * math.cos(rot)))
        self.draw.polygon(pts, fill=255)

    def array(self) -> np.ndarray:
        return (np.asarray(self.canvas) > 127).astype(np.float32)


def free_form_mask(size: int, rng: np.random.Generator, blobs: bool = False,
                   max_strokes: int = 4) -> np.ndarray:
    """A free-form brush-stroke mask (size, size) float32, 1 = hole.

    1..max_strokes strokes; with blobs=True also 1..3 rotated elliptical blobs.
    """
    size = _check_size(size)
    brush = _Brush(size, rng)
    for _ in range(int(rng.integers(1, max_strokes + 1))):
        for _segment in brush.stroke_segments():
            pass
    if blobs:
        for _ in range(int(rng.integers(1, 4))):
            brush.blob()
    return brush.array()


def bucket_mask(size: int, bucket, rng: np.random.Generator, max_tries: int = 100,
                blobs: bool = False) -> np.ndarray:
    """A free-form mask whose hole ratio r satisfies lo < r <= hi.

    Each try draws a target ratio t uniformly in (lo, hi] (so ratios spread over the whole
    bucket rather than piling up just above lo), grows a mask segment by segment (new strokes,
    and blobs if enabled) until r >= t, and is accepted if lo < r <= hi; an overshoot is
    discarded and a new try starts. Segments are small relative to a bucket's width, so few
    tries are needed.
    """
    size = _check_size(size)
    bucket = Bucket.parse(bucket)
    lo, hi = bucket.lo, bucket.hi
    for _ in range(max_tries):
        brush = _Brush(size, rng)
        target = hi - rng.uniform(0.0, hi - lo)  # in (lo, hi]
        r, segments = 0.0, 0
        while r < target and segments < MAX_SEGMENTS_PER_TRY:
            if blobs and rng.random() < 0.15:
                brush.blob()
                r = brush.ratio()
                segments += 1
                continue
            for _segment in brush.stroke_segments():
                r = brush.ratio()
                segments += 1
                if r >= target:
                    break
        if lo < r <= hi:
            return brush.array()
    raise RuntimeError(f"could not draw a {size}x{size} mask with hole ratio in bucket "
                       f"{bucket.name} (lo < r <= hi) within {max_tries} tries; use a "
                       f"wider bucket, a larger mask size or a larger max_tries")


# ----------------------------------------------------------------------------------------------
# Test mask sets on disk
# ----------------------------------------------------------------------------------------------

def _to_png_array(mask: np.ndarray) -> np.ndarray:
    return np.where(mask > 0.5, 255, 0).astype(np.uint8)


def _write_set(out_dir, per_bucket: dict[str, list[tuple[np.ndarray, str]]]) -> str:
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


def _check_buckets(buckets) -> list[Bucket]:
    parsed = [Bucket.parse(b) for b in buckets]
    if not parsed:
        raise ValueError("buckets is empty: give at least one hole-ratio bucket, e.g. 0.1-0.2")
    names = [b.name for b in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"buckets {names} contain duplicates")
    return parsed


def make_test_masks(out_dir, size: int, buckets, count: int, seed: int,
                    blobs: bool = False) -> str:
    """Generate `count` masks per bucket; returns the manifest path.

    Mask i of a bucket is drawn from a generator seeded by (seed, size, bucket, i), so adding a
    bucket or raising count leaves the existing files unchanged, and regeneration is
    byte-identical.
    """
    size, seed = _check_size(size), _check_seed(seed)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    per_bucket = {}
    for b in _check_buckets(buckets):
        items = []
        for i in range(int(count)):
            rng = np.random.default_rng(_bucket_seed(seed, size, b, i, _TAG_TEST))
            items.append((_to_png_array(bucket_mask(size, b, rng, blobs=blobs)), "generated"))
        per_bucket[b.name] = items
    return _write_set(out_dir, per_bucket)


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
                                f"`python -m inpaint_bench.datasets.masks --out {masks_dir} ...` "
                                f"(or datasets.masks.make_test_masks / import_nvidia_masks)")
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
# NVIDIA irregular mask set
# ----------------------------------------------------------------------------------------------

def _load_external_mask(path: str, size: int, hole_is_white: bool) -> np.ndarray:
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
    size = _check_size(size)
    mask_dir = os.fspath(mask_dir)
    parsed = _check_buckets(buckets)
    groups: dict[str, list[tuple[str, float]]] = {b.name: [] for b in parsed}
    for f in _list_pngs(mask_dir):
        r = hole_ratio(_load_external_mask(os.path.join(mask_dir, f), size, hole_is_white))
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
    size, seed = _check_size(size), _check_seed(seed)
    take_all = count is None or count == "all"
    if not take_all and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"count must be a positive integer or 'all', got {count!r}")
    mask_dir = os.fspath(mask_dir)
    parsed = _check_buckets(buckets)
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
            rng = np.random.default_rng(_bucket_seed(seed, size, b, _TAG_NVIDIA))
            chosen = sorted(rng.choice(len(candidates), size=count, replace=False).tolist())
        per_bucket[b.name] = [
            (_load_external_mask(os.path.join(mask_dir, candidates[j][0]), size, hole_is_white),
             candidates[j][0])
            for j in chosen]
    return _write_set(out_dir, per_bucket)


# ----------------------------------------------------------------------------------------------
# Training masks
# ----------------------------------------------------------------------------------------------

TRAIN_MASK_SOURCES = ("strokes", "folder", "test_buckets")


def official_stroke_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """A mask (size, size) float32, 1 = hole, drawn as the official RFR-Net training generator draws
    it, at any hole ratio: 1..15 parts; each part a polyline of 0..25 vertices from a uniform start,
    each segment of integer length 0..100 px at an integer angle of 0..360 degrees (mirrored on
    every other vertex), clipped to the image, drawn with an even brush width in [10, 24] px, and a
    1-px ring of radius width/2 at each joint. Lengths and widths scale by size / 256.
    """
    size = _check_size(size)
    p = OFFICIAL_STROKES
    scale = size / p["reference_size"]
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    thin = max(1, round(scale))

    def ring(a: float, b: float, width: int) -> None:
        r = width // 2 * scale
        draw.ellipse([a - r, b - r, a + r, b + r], outline=255, width=thin)

    # The official code moves "Y" by cos and "X" by sin and hands (Y, X) to OpenCV as (x, y):
    # the same here, so the first coordinate is horizontal.
    for _ in range(int(rng.integers(1, p["max_parts"] + 1))):
        y, x = int(rng.integers(size)), int(rng.integers(size))
        width = 0
        for i in range(int(rng.integers(p["max_vertices"] + 1))):
            angle = int(rng.integers(p["max_angle_degrees"] + 1)) / 360.0 * 2 * math.pi
            if i % 2 == 0:
                angle = 2 * math.pi - angle
            length = int(rng.integers(p["max_length"] + 1)) * scale
            lo, hi = p["brush_width"]
            width = int(rng.integers(lo, hi + 1)) // 2 * 2
            ny = int(np.clip(y + length * math.cos(angle), 0, size - 1))
            nx = int(np.clip(x + length * math.sin(angle), 0, size - 1))
            draw.line([(y, x), (ny, nx)], fill=255, width=max(1, round(width * scale)))
            ring(y, x, width)
            y, x = ny, nx
        ring(y, x, width)
    return (np.asarray(canvas) > 127).astype(np.float32)


class StrokeMaskSampler:
    """Training masks of the official RFR-Net generator (`official_stroke_mask`), any hole ratio.

    sample(g) is a function of (seed, size, g) only, so a resumed run draws the same masks."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = _check_size(size), _check_seed(seed)

    def sample(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.size, int(index), _TAG_STROKES])
        return torch.from_numpy(official_stroke_mask(self.size, rng))[None]

    __call__ = sample


class FolderMaskSampler:
    """Training masks drawn at random from a folder of mask images (the official code's mask_mode
    0, e.g. NVIDIA's irregular masks): mask `index` is a file chosen uniformly by (seed, index),
    resized to size x size (nearest) and flipped horizontally with probability 0.5 by its own draw
    (the official code flips image and mask independently)."""

    def __init__(self, size: int, seed: int, mask_dir, hole_is_white: bool = True):
        self.size, self.seed = _check_size(size), _check_seed(seed)
        self.mask_dir = os.path.expanduser(os.fspath(mask_dir))
        self.files = list_mask_images(self.mask_dir)
        self.hole_is_white = hole_is_white

    def choice(self, index: int) -> tuple[str, bool]:
        """(file name, flipped) of training mask `index`."""
        rng = np.random.default_rng([self.seed, self.size, int(index), _TAG_FOLDER])
        return self.files[int(rng.integers(len(self.files)))], bool(rng.random() < 0.5)

    def sample(self, index: int) -> torch.Tensor:
        name, flip = self.choice(index)
        png = _load_external_mask(os.path.join(self.mask_dir, name), self.size, self.hole_is_white)
        mask = (png > 127).astype(np.float32)
        if flip:
            mask = np.ascontiguousarray(mask[:, ::-1])
        return torch.from_numpy(mask)[None]

    __call__ = sample


def build_train_masks(source: str, size: int, seed: int, buckets=None, mask_dir=None,
                      hole_is_white: bool = True):
    """The training mask sampler of `train.masks.source`: "strokes" (the official generator),
    "folder" (random files of `mask_dir`) or "test_buckets" (free-form strokes with hole ratios in
    the test buckets, the mini configs' masks). Every sampler has sample(g) -> (1, S, S) float32."""
    if source == "strokes":
        return StrokeMaskSampler(size, seed)
    if source == "folder":
        if not mask_dir:
            raise ValueError("train.masks.source is folder: set train.masks.dir to a folder of mask images")
        return FolderMaskSampler(size, seed, mask_dir, hole_is_white)
    if source == "test_buckets":
        return TrainMaskSampler(size, seed, buckets=buckets)
    raise ValueError(f"unknown training mask source {source!r}; known: {', '.join(TRAIN_MASK_SOURCES)}")


class TrainMaskSampler:
    """Deterministic training masks: sample(index) depends only on (seed, size, index).

    Drawing a mask into a bucket costs milliseconds (rejection sampling), as much as a training
    step of a small network, so the sampler draws a pool of `pool_size` base masks once (lazily;
    each picks one of the buckets uniformly, so hole ratios spread over the buckets' whole range)
    and serves sample(index) as base mask `index % pool_size` under a random flip, transpose and
    cyclic shift seeded by (seed, index). These keep the hole ratio exactly and make repeats rare.
    """

    def __init__(self, size: int, seed: int, buckets=None, blobs: bool = False, pool_size: int = 1024):
        self.size = _check_size(size)
        self.seed = _check_seed(seed)
        self.buckets = _check_buckets(DEFAULT_BUCKETS if buckets is None else buckets)
        self.blobs = blobs
        self.pool_size = int(pool_size)
        self._pool: dict[int, np.ndarray] = {}

    def _base(self, slot: int) -> np.ndarray:
        if slot not in self._pool:
            rng = np.random.default_rng([self.seed, self.size, slot, _TAG_TRAIN])
            bucket = self.buckets[int(rng.integers(len(self.buckets)))]
            self._pool[slot] = bucket_mask(self.size, bucket, rng, blobs=self.blobs)
        return self._pool[slot]

    def sample(self, index: int) -> torch.Tensor:
        index = int(index)
        mask = self._base(index % self.pool_size)
        rng = np.random.default_rng([self.seed, self.size, index, _TAG_TRAIN, 1])
        flip, transpose = rng.integers(2, size=2)
        if flip:
            mask = mask[:, ::-1]
        if transpose:
            mask = mask.T
        mask = np.roll(mask, tuple(rng.integers(self.size, size=2)), axis=(0, 1))
        return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]

    __call__ = sample


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------

def main(argv=None) -> None:
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
