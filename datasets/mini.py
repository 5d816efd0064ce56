"""Offline, deterministic mini datasets cut from photographs shipped inside the pinned packages.

- `mini_natural`: every colour photograph scikit-image and matplotlib ship; each photo's right band
  gives the test crops and the part left of it (minus a margin) the training crops, so both splits
  share every photo's colours but never a pixel.
- `mini_faces`: the faces of scikit-image's LFW subset, faces 0-79 train, 80-99 test.
Each image is seeded by (seed, kind, split, index): a rebuild is byte-identical. The manifest is written
last and marks a complete build. The details and the reasons: datasets/README.md.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from inpaint_bench.datasets.imagefile import decode_rgb
from inpaint_bench.datasets.images import list_manifest, remove_stale_numbered_pngs
from inpaint_bench.datasets.kinds import register_dataset_kind
from inpaint_bench.harness.fileio import save_png as save_png_atomic
from inpaint_bench.harness.fileio import write_csv as write_csv_atomic
from inpaint_bench.harness.names import NEAR_CONSTANT_STD

NATURAL_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "hubble_deep_field.jpg", "ihc.png", "retina.jpg", "grace_hopper.jpg")
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg",)  # in matplotlib's sample_data, the others in skimage/data
TEST_BAND = 0.2  # the right fifth of every photograph is the test region
MAX_REDRAWS = 100  # crops drawn for one image before a source is declared flat
# A crop must measure something where a hole falls, not only somewhere: of its PATCHES x PATCHES
# patches (quadrants, each the size of a large hole) at most MAX_FLAT_FRACTION may be flat (every
# channel's pixel std < NEAR_CONSTANT_STD). The whole crop's std let through a near-black crop with
# one bright edge (mean 0.006, std 0.0285), whose holes measure nothing. Smaller patches would refuse
# every crop of the smooth photographs (retina, grace_hopper); a hole that still falls on a flat
# patch is named by the evaluation (metrics/evaluation.py).
PATCHES = 2
MAX_FLAT_FRACTION = 0.25
WINDOW = 1.5  # a window of 1.5 x size is resized to size: some context, a mild zoom out
LFW_FILE = "lfw_subset.npy"
FACES_TRAIN = range(0, 80)   # indices into lfw_subset (the first 100 entries are faces)
FACES_TEST = range(80, 100)

# Faces are already tight 25x25 crops: the crop side is a random fraction of the face's side.
FACE_CROP_SCALE = (0.8, 1.0)
_KIND_CODE = {"mini_natural": 1, "mini_faces": 2}
MINI_KINDS = tuple(_KIND_CODE)  # the kinds this module builds: the workflow builds them, never reads a root
for _kind in MINI_KINDS:
    register_dataset_kind(
        _kind, root="built", required=("train_count", "test_count"),
        layout="built by the workflow under <results_dir>/data/<name> (train/, test/, manifest.csv)",
        keys={"train_count": {"type": "integer", "minimum": 1, "description": "number of training crops"},
              "test_count": {"type": "integer", "minimum": 1, "description": "number of test crops"}})(list_manifest)
_SPLIT_CODE = {"train": 0, "test": 1}
MANIFEST_HEADER = ["split", "file", "source", "crop_x", "crop_y", "crop_size", "flip"]


def skimage_data_dir() -> str:
    """The data folder inside the installed scikit-image package."""
    try:
        import skimage
    except ImportError as e:
        raise ImportError("the mini datasets need scikit-image (pip install scikit-image); "
                          "it provides the bundled photographs") from e
    return os.path.join(os.path.dirname(skimage.__file__), "data")


def _photo_path(filename: str) -> str:
    if filename in MATPLOTLIB_PHOTOS:
        import matplotlib

        return os.path.join(matplotlib.get_data_path(), "sample_data", filename)
    return os.path.join(skimage_data_dir(), filename)


def _read_bundled(filename: str) -> np.ndarray:
    """A photo shipped with scikit-image or matplotlib as uint8 HxWx3."""
    path = _photo_path(filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: the installed package does not ship "
                                f"{filename}; install the versions pinned in requirements.txt")
    return np.asarray(decode_rgb(path), dtype=np.uint8)  # 8-bit photos: Pillow's convert("RGB")


def _read_faces(indices) -> list[tuple[str, np.ndarray]]:
    """LFW subset faces as uint8 25x25x3 arrays with names like 'lfw_subset[3]'."""
    path = os.path.join(skimage_data_dir(), LFW_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: the installed scikit-image does not ship "
                                f"the LFW subset; install the pinned scikit-image version")
    faces = np.load(path)
    if faces.ndim != 3 or faces.shape[0] < 100:
        raise ValueError(f"{path}: expected an array of shape (200, 25, 25), got {faces.shape}")
    if faces.dtype != np.uint8:  # stored as floats in [0, 1] by current scikit-image
        faces = np.clip(np.rint(faces * 255.0), 0, 255).astype(np.uint8)
    return [(f"{LFW_FILE}[{i}]", np.repeat(faces[i][:, :, None], 3, axis=2)) for i in indices]


def photo_regions(image: np.ndarray, window: int) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """The photograph (enlarged if needed) and the column range [lo, hi) where each split's windows
    may start: test windows lie in the right band, training windows end one window left of it."""
    h, w = image.shape[:2]
    scale = max(1.0, 4 * window / w, window / h)  # room for train, margin and test windows
    if scale > 1:
        size = (int(np.ceil(w * scale)), int(np.ceil(h * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC), dtype=np.uint8)
        h, w = image.shape[:2]
    band = max(int(round(TEST_BAND * w)), window)
    return image, {"test": (w - band, w - window + 1), "train": (0, w - band - 2 * window + 1)}


def mini_sources(kind: str, split: str) -> list[tuple[str, np.ndarray]]:
    """(source name, uint8 HxWx3 image) pairs that feed one split of one mini kind (mini_natural:
    the whole photographs, for both splits; see photo_regions)."""
    if kind == "mini_natural":
        return [(f, _read_bundled(f)) for f in NATURAL_PHOTOS]
    if kind == "mini_faces":
        return _read_faces(FACES_TRAIN if split == "train" else FACES_TEST)
    raise ValueError(f"unknown mini dataset kind {kind!r}; known: {', '.join(MINI_KINDS)}")


def _window_crop(image: np.ndarray, size: int, split: str, rng: np.random.Generator):
    """A window of side WINDOW x size at a random position of the split's region of a photograph,
    resized to size, random flip."""
    window = int(round(WINDOW * size))
    image, regions = photo_regions(image, window)
    lo, hi = regions[split]
    x = int(rng.integers(lo, hi))
    y = int(rng.integers(0, image.shape[0] - window + 1))
    flip = bool(rng.random() < 0.5)
    im = Image.fromarray(image[y:y + window, x:x + window]).resize((size, size), Image.BICUBIC)
    if flip:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(im, dtype=np.uint8), (x, y, window, flip)


def _random_crop(image: np.ndarray, size: int, rng: np.random.Generator, scale: tuple[float, float]):
    """Random square crop (random scale and position), resized to size, random flip."""
    h, w = image.shape[:2]
    short = min(h, w)
    side = int(np.clip(round(rng.uniform(*scale) * short), 1, short))
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    flip = bool(rng.random() < 0.5)
    im = Image.fromarray(image[y:y + side, x:x + side])
    if side != size:
        im = im.resize((size, size), Image.BICUBIC)
    if flip:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(im, dtype=np.uint8), (x, y, side, flip)


def flat_fraction(crop: np.ndarray) -> float:
    """The fraction of a uint8 HxWx3 crop's PATCHES x PATCHES patches that are flat: every channel's
    pixel std (on [0, 1]) below NEAR_CONSTANT_STD."""
    side = max(1, min(crop.shape[:2]) // PATCHES)
    pixels = crop.astype(float) / 255
    stds = [pixels[y:y + side, x:x + side].reshape(-1, pixels.shape[2]).std(axis=0).max()
            for y in range(0, side * PATCHES, side) for x in range(0, side * PATCHES, side)]
    return float(np.mean(np.asarray(stds) < NEAR_CONSTANT_STD))


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def build_mini_dataset(kind: str, out_dir, size: int, train_count: int, test_count: int,
                       seed: int) -> str:
    """Build (or rebuild identically) a mini dataset in out_dir; returns the manifest path."""
    if kind not in MINI_KINDS:
        raise ValueError(f"unknown mini dataset kind {kind!r}; known: {', '.join(MINI_KINDS)}")
    size = _check_int("size", size, 8)
    counts = {"train": _check_int("train_count", train_count, 1),
              "test": _check_int("test_count", test_count, 1)}
    seed = _check_int("seed", seed, 0)
    out_dir = os.fspath(out_dir)

    rows = []
    for split, count in counts.items():
        sources = mini_sources(kind, split)
        split_dir = os.path.join(out_dir, split)
        written = set()
        for i in range(count):
            source_name, image = sources[i % len(sources)]
            # One generator per image: reproducible and independent of the other counts.
            rng = np.random.default_rng([seed, _KIND_CODE[kind], _SPLIT_CODE[split], i])
            for _ in range(MAX_REDRAWS):  # a crop with flat regions measures little there: draw another
                if kind == "mini_natural":
                    crop, (x, y, side, flip) = _window_crop(image, size, split, rng)
                else:
                    crop, (x, y, side, flip) = _random_crop(image, size, rng, FACE_CROP_SCALE)
                if flat_fraction(crop) <= MAX_FLAT_FRACTION:
                    break
            else:
                raise ValueError(f"{kind} {split} image {i}: {MAX_REDRAWS} crops of {source_name} in a row were "
                                 f"near-constant in more than {MAX_FLAT_FRACTION:.0%} of their {PATCHES}x{PATCHES} "
                                 f"patches (pixel std < {NEAR_CONSTANT_STD})")
            filename = f"{i:05d}.png"
            save_png_atomic(os.path.join(split_dir, filename), crop)
            written.add(filename)
            rows.append([split, f"{split}/{filename}", source_name, x, y, side, int(flip)])
        remove_stale_numbered_pngs(split_dir, keep=written)

    manifest = os.path.join(out_dir, "manifest.csv")
    write_csv_atomic(manifest, rows, MANIFEST_HEADER)
    return manifest
