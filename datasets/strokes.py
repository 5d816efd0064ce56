"""Drawing irregular masks: free-form brush strokes and blobs, and the official RFR-Net strokes.

Free-form strokes follow the free-form masks of Yu et al., "Free-Form Image Inpainting with Gated
Convolution" (DeepFill v2): a brush of random width moves through random vertices with random
angles and segment lengths; joints are rounded. Lengths and widths scale with the mask size, so a
mask set looks alike at 64 px and at 256 px; `bucket_mask` grows such a mask into a hole-ratio
bucket. `official_stroke_mask` draws as the official RFR-Net training code does, at any hole
ratio. Every function draws only from the generator it is given.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from inpaint_bench.datasets.mask_conventions import check_size
from inpaint_bench.harness.buckets import Bucket

# Stroke shape, as fractions of the mask side (DeepFill v2-like proportions at 256 px).
MAX_VERTICES = 12          # vertices per stroke: uniform in [4, MAX_VERTICES]
SEGMENT_LENGTH = (0.04, 0.2)
BRUSH_WIDTH = (0.03, 0.12)
MAX_TURN = 0.6 * math.pi   # heading change at each vertex, uniform in [-MAX_TURN, MAX_TURN]
BLOB_AXIS = (0.04, 0.16)   # ellipse semi-axes
MAX_SEGMENTS_PER_TRY = 4000  # bound on one growth attempt in bucket_mask

# The official RFR-Net code's training mask generator (its dataset.py, mask_mode 1), in pixels of a
# 256 x 256 mask; other sizes scale lengths and widths by size / 256.
OFFICIAL_STROKES = {"max_parts": 15, "max_vertices": 25, "max_length": 100,
                    "brush_width": (10, 24), "max_angle_degrees": 360, "base_size": 256}
# How a segment is drawn: "round", as OpenCV's thick lines of the official code (round ends of
# radius width/2, and a band one pixel wider than the nominal width: measured against cv2.line,
# docs/results.md); "flat", Pillow's line of the nominal width with flat ends (the harness before).
STROKE_CAPS = ("round", "flat")


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
    size = check_size(size)
    brush = _Brush(size, rng)
    for _ in range(int(rng.integers(1, max_strokes + 1))):
        for _segment in brush.stroke_segments():
            pass
    if blobs:
        for _ in range(int(rng.integers(1, 4))):
            brush.blob()
    return brush.array()


def bucket_mask(size: int, bucket, rng: np.random.Generator, max_tries: int = 1000,
                blobs: bool = False) -> np.ndarray:
    """A free-form mask whose hole ratio r satisfies lo < r <= hi.

    Each try draws a target ratio t uniformly in (lo, hi] (so ratios spread over the whole
    bucket rather than piling up just above lo), grows a mask segment by segment (new strokes,
    and blobs if enabled) until r >= t, and is accepted if lo < r <= hi; an overshoot is
    discarded and a new try starts. Segments are small relative to a bucket's width, so few
    tries are needed: a bucket 0.001 wide takes about one try in 13 at 32-256 px, so max_tries only
    stops a bucket that holds no ratio of a size x size mask (the config check refuses those).
    """
    size = check_size(size)
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
                       f"{bucket.name} (lo < r <= hi) within {max_tries} tries: the bucket is too narrow "
                       f"for free-form strokes; widen it (config masks.buckets, or --buckets of "
                       f"inpaint-bench masks) or raise the mask size (image_size)")


def draw_segment(draw: ImageDraw.ImageDraw, start, end, width: int, caps: str) -> None:
    """One brush segment of `width` px between two points, with round or flat ends (STROKE_CAPS)."""
    if caps == "flat":
        draw.line([start, end], fill=255, width=width)
        return
    draw.line([start, end], fill=255, width=width + 1)
    for a, b in (start, end):  # a bounding box of side `width` fills width + 1 pixels
        draw.ellipse([a - width / 2, b - width / 2, a + width / 2, b + width / 2], fill=255)


def official_stroke_mask(size: int, rng: np.random.Generator, caps: str = "round") -> np.ndarray:
    """A mask (size, size) float32, 1 = hole, drawn as the official RFR-Net training generator draws
    it, at any hole ratio: 1..15 parts; each part a polyline of 0..25 vertices from a uniform start,
    each segment of integer length 0..100 px at an integer angle of 0..360 degrees (mirrored on
    every other vertex), clipped to the image, drawn with an even brush width in [10, 24] px (with
    `caps`, STROKE_CAPS), and a 1-px ring of radius width/2 at each joint. Lengths and widths scale
    by size / 256.
    """
    if caps not in STROKE_CAPS:
        raise ValueError(f"train.masks.caps must be one of {STROKE_CAPS}, got {caps!r}")
    size = check_size(size)
    p = OFFICIAL_STROKES
    scale = size / p["base_size"]
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
            draw_segment(draw, (y, x), (ny, nx), max(1, round(width * scale)), caps)
            ring(y, x, width)
            y, x = ny, nx
        ring(y, x, width)
    return (np.asarray(canvas) > 127).astype(np.float32)
