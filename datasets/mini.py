"""Offline, deterministic mini datasets built from images shipped inside scikit-image.

The real benchmark datasets cannot be downloaded on the build machines, so the default run uses
small datasets cut from photographs that are files inside the installed scikit-image wheel
(its `skimage/data/` folder). They are read straight from that folder with PIL/numpy, never
through `skimage.data`'s fetchers, so no download (pooch) can ever be attempted.

Kinds and their fixed train/test split (train and test never share a source photograph/face):

- `mini_natural`:
    train: astronaut.png, rocket.jpg, motorcycle_left.png, motorcycle_right.png, camera.png
           (camera is grayscale, replicated to RGB; the two motorcycle views show the same scene,
           so both stay on the train side)
    test:  chelsea.png, coffee.png
- `mini_faces`: the 100 faces of `lfw_subset.npy` (25x25 grayscale, the first 100 of its 200
  images; the rest are non-faces and unused): faces 0-79 train, faces 80-99 test.

Every output image is a random square crop (side = a random fraction of the source's shorter
side), resized to `size` (bicubic) and flipped horizontally with probability 0.5. Each image's
randomness comes from its own generator seeded by (seed, kind, split, index), so rebuilding with
the same arguments gives byte-identical files, and changing a count does not change the others.
Sources are used round-robin (image i comes from source i mod n_sources).

Layout written (every file atomically; the manifest last, so its presence marks a complete build):
    out_dir/train/00000.png ...   out_dir/test/00000.png ...
    out_dir/manifest.csv          columns: split, file (relative to out_dir), source,
                                  crop_x, crop_y, crop_size, flip

CLI: python -m datasets.mini --kind mini_natural --out DIR --size 64 --train 160 --test 12 --seed 0
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image

from datasets.images import remove_stale_numbered_pngs
from harness.config import MINI_KINDS
from harness.fileio import save_png as save_png_atomic, write_csv as write_csv_atomic

NATURAL_TRAIN = ("astronaut.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
                 "camera.png")
NATURAL_TEST = ("chelsea.png", "coffee.png")
LFW_FILE = "lfw_subset.npy"
FACES_TRAIN = range(0, 80)   # indices into lfw_subset (the first 100 entries are faces)
FACES_TEST = range(80, 100)

# Crop side as a fraction of the source's shorter side. Faces are already tight 25x25 crops,
# so they get only a mild zoom; photographs get a wide range of scales.
CROP_SCALE = {"mini_natural": (0.3, 1.0), "mini_faces": (0.8, 1.0)}  # one entry per MINI_KINDS
_KIND_CODE = {"mini_natural": 1, "mini_faces": 2}
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


def _read_bundled(filename: str) -> np.ndarray:
    """A bundled scikit-image photo as uint8 HxWx3 (grayscale replicated to RGB)."""
    path = os.path.join(skimage_data_dir(), filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: the installed scikit-image does not ship "
                                f"{filename}; install the scikit-image version pinned in "
                                f"requirements.txt")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


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


def mini_sources(kind: str, split: str) -> list[tuple[str, np.ndarray]]:
    """(source name, uint8 HxWx3 image) pairs that feed one split of one mini kind."""
    if kind == "mini_natural":
        files = NATURAL_TRAIN if split == "train" else NATURAL_TEST
        return [(f, _read_bundled(f)) for f in files]
    if kind == "mini_faces":
        return _read_faces(FACES_TRAIN if split == "train" else FACES_TEST)
    raise ValueError(f"unknown mini dataset kind {kind!r}; known: {', '.join(MINI_KINDS)}")


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
            crop, (x, y, side, flip) = _random_crop(image, size, rng, CROP_SCALE[kind])
            filename = f"{i:05d}.png"
            save_png_atomic(os.path.join(split_dir, filename), crop)
            written.add(filename)
            rows.append([split, f"{split}/{filename}", source_name, x, y, side, int(flip)])
        remove_stale_numbered_pngs(split_dir, keep=written)

    manifest = os.path.join(out_dir, "manifest.csv")
    write_csv_atomic(manifest, rows, MANIFEST_HEADER)
    return manifest


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Build an offline mini inpainting dataset "
                                                 "from images bundled with scikit-image.")
    parser.add_argument("--kind", required=True, choices=MINI_KINDS)
    parser.add_argument("--out", required=True, help="output folder (train/, test/, manifest.csv)")
    parser.add_argument("--size", type=int, default=64, help="output image side in pixels")
    parser.add_argument("--train", type=int, default=160, help="number of train images")
    parser.add_argument("--test", type=int, default=12, help="number of test images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    manifest = build_mini_dataset(args.kind, args.out, args.size, args.train, args.test, args.seed)
    print(f"wrote {args.train} train + {args.test} test {args.kind} images ({args.size}px); "
          f"manifest: {manifest}")


if __name__ == "__main__":
    main()
