"""Image datasets: Places2, CelebA, Paris StreetView, plain folders, file lists and CSV files of splits
(the mini datasets' kinds: datasets/mini.py); each kind registered in datasets/kinds.py.

`build_dataset(spec, split, image_size, seed)` returns a torch Dataset of
`{"image": FloatTensor(3, S, S) in [0, 1], "name": stable stem unique within the split}`.
Test images: shorter side resized to S, centre crop. Training images: the official RFR-Net crop (a
square of random side, resized) and a horizontal flip, drawn from (seed, epoch, index), so a resumed
run sees the same pixels. The details: datasets/README.md.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from inpaint_bench.datasets.imagefile import decode_rgb, rgb_array
from inpaint_bench.datasets.kinds import dataset_kind, register_dataset_kind
from inpaint_bench.harness.fileio import listing_digest

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
SPLITS = ("train", "test")


def remove_stale_numbered_pngs(folder, keep: set[str]) -> None:
    """Delete `NNNNN.png` files in `folder` that a rebuild no longer produces.

    Only files matching the numbered pattern we write ourselves are touched, so a shrunken
    rebuild (smaller count) leaves no leftovers that a folder scan could pick up.
    """
    if not os.path.isdir(folder):
        return
    for entry in os.listdir(folder):
        stem, ext = os.path.splitext(entry)
        if ext == ".png" and len(stem) == 5 and stem.isdigit() and entry not in keep:
            os.remove(os.path.join(folder, entry))


# ----------------------------------------------------------------------------------------------
# Image decoding and preprocessing
# ----------------------------------------------------------------------------------------------

def load_rgb(path) -> Image.Image:
    """Decode an image file fully, errors naming the file: mode "RGB" for 8-bit files, mode "F"
    (one gray plane in [0, 1]) for 16-bit and float ones, so resizing keeps their precision
    (see datasets.imagefile)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path} (it was listed when the dataset "
                                f"was built; was it moved or deleted?)")
    return decode_rgb(path)


def centre_square(im: Image.Image) -> Image.Image:
    """Centred square crop of side min(w, h) (CelebA: 178x178 at offset 20 of 178x218)."""
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return im.crop((left, top, left + side, top + side))


def resize_centre_crop(im: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to `size` (bicubic, antialiased by PIL) and centre crop."""
    w, h = im.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    if (new_w, new_h) != (w, h):
        im = im.resize((new_w, new_h), Image.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return im.crop((left, top, left + size, top + size))


def random_square(width: int, height: int, size: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """(left, top, side) of the official RFR-Net training crop: side uniform in [size, short side)
    (the short side when it is `size` or less), position uniform over the positions that keep the
    square inside the image (the official code's randrange, which leaves out the last one)."""
    short = min(width, height)
    side = short if short <= size else int(rng.integers(size, short))
    left = int(rng.integers(0, width - side)) if width > side else 0
    top = int(rng.integers(0, height - side)) if height > side else 0
    return left, top, side


def to_tensor(im: Image.Image) -> torch.Tensor:
    """load_rgb image (after cropping/resizing) -> float32 CHW tensor in [0, 1]."""
    return torch.from_numpy(rgb_array(im)).permute(2, 0, 1)


# ----------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------

TRAIN_CROPS = ("random", "centre")
# Resampling of the random training crop to the image size: "bicubic" is what the official code gets
# from PIL's default (`Image.resize` without a filter: bicubic for RGB since Pillow 7.0); "bilinear"
# was the harness's earlier choice.
TRAIN_RESIZES = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


class ImageDataset(Dataset):
    """A fixed, ordered list of image files with names; see the module docstring."""

    def __init__(self, paths: list[str], names: list[str], image_size: int, train: bool,
                 seed: int = 0, square_first: bool = False, description: str = "", repair: str = "",
                 crop: str = "random", resize: str = "bicubic"):
        assert len(paths) == len(names)
        if crop not in TRAIN_CROPS:
            raise ValueError(f"train crop must be one of {TRAIN_CROPS}, got {crop!r}")
        if resize not in TRAIN_RESIZES:
            raise ValueError(f"train.resize must be one of {tuple(TRAIN_RESIZES)}, got {resize!r}")
        self.crop, self.resize = crop, resize
        self.paths = list(paths)
        self.names = list(names)
        self.image_size = int(image_size)
        self.train = bool(train)
        self.seed = int(seed)
        self.square_first = square_first
        self.description = description
        self.repair = repair  # what to do when a file is missing or unreadable (e.g. rebuild a mini set)

    def __len__(self) -> int:
        return len(self.paths)

    def _augmentation_rng(self, index: int, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(epoch), int(index)])

    def flips(self, index: int, epoch: int = 0) -> bool:
        """Whether item `index` is horizontally flipped in `epoch` (train split only)."""
        if not self.train:
            return False
        return bool(self._augmentation_rng(index, epoch).random() < 0.5)

    def __getitem__(self, index: int) -> dict:
        return self.load(index)

    def load(self, index: int, epoch: int = 0) -> dict:
        """Item `index` as seen in `epoch`: the training flips change from epoch to epoch, and stay
        a function of (seed, epoch, index), so a resumed run sees the same pixels."""
        if not 0 <= index < len(self.paths):
            raise IndexError(f"index {index} out of range for {len(self.paths)} images "
                             f"({self.description})")
        try:
            im = load_rgb(self.paths[index])
        except (FileNotFoundError, ValueError) as err:
            if not self.repair:
                raise
            raise type(err)(f"{err}\n{self.repair}") from err
        flip = False
        if self.train:
            rng = self._augmentation_rng(index, epoch)
            flip = bool(rng.random() < 0.5)  # first draw: the same as flips(index, epoch)
        if self.train and self.crop == "random":
            left, top, side = random_square(*im.size, self.image_size, rng)
            im = im.crop((left, top, left + side, top + side))
            if side != self.image_size:
                im = im.resize((self.image_size, self.image_size), TRAIN_RESIZES[self.resize])
        else:
            if self.square_first:
                im = centre_square(im)
            im = resize_centre_crop(im, self.image_size)
        if flip:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return {"image": to_tensor(im), "name": self.names[index]}

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"ImageDataset({self.description}, split={split}, n={len(self)}, size={self.image_size})"


# ----------------------------------------------------------------------------------------------
# Listing helpers
# ----------------------------------------------------------------------------------------------

def _is_image(filename: str) -> bool:
    return filename.lower().endswith(IMAGE_EXTENSIONS)


def _scan_images(folder: str) -> list[str]:
    """Image files under `folder` (recursively, hidden entries skipped), as sorted relative paths."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and _is_image(f):
                found.append(os.path.relpath(os.path.join(dirpath, f), folder).replace(os.sep, "/"))
    return sorted(found)


def _safe_name(relpath: str, keep_ext: bool) -> str:
    """Turn a relative path into a flat file stem: 'a/airfield/0001.jpg' -> 'a_airfield_0001'."""
    rel = relpath.strip("/").replace("\\", "/")
    if not keep_ext:
        rel = os.path.splitext(rel)[0]
    out = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in rel.replace("/", "_"))
    return out.replace(".", "_") if keep_ext else out


def _unique_names(relpaths: list[str], where: str) -> list[str]:
    """Stems from relative paths; fall back to keeping the extension if stems collide."""
    names = [_safe_name(p, keep_ext=False) for p in relpaths]
    if len(set(names)) == len(names):
        return names
    names = [_safe_name(p, keep_ext=True) for p in relpaths]
    seen: dict[str, str] = {}
    for name, p in zip(names, relpaths):
        if name in seen:
            raise ValueError(f"{where}: files {seen[name]!r} and {p!r} map to the same output "
                             f"name {name!r}; rename one of them")
        seen[name] = p
    return names


def _limit(items: list, spec: dict, split: str) -> list:
    """Apply max_train / max_test: the first N entries after sorting (deterministic)."""
    key = f"max_{split}"
    n = spec.get(key)
    if n is None:
        return items
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"dataset spec key {key!r} must be a positive integer, got {n!r}")
    return items[:n]


def _require_dir(path: str, what: str) -> None:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"missing folder {path}: {what}")


def _require_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"missing file {path}: {what}")


def _check_exist(paths: list[str], where: str) -> None:
    """Fail early (at build time) if listed image files are missing."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise FileNotFoundError(f"{where}: {len(missing)} listed image file(s) do not exist: {shown}")


def _read_list(path: str) -> list[tuple[int, str]]:
    """Non-empty, non-comment lines of a list file, with their 1-based line numbers."""
    with open(path, encoding="utf-8-sig") as f:
        return [(i, line.strip()) for i, line in enumerate(f, 1)
                if line.strip() and not line.lstrip().startswith("#")]


# ----------------------------------------------------------------------------------------------
# Per-kind listings: each returns (absolute paths, names, description), sorted by path
# ----------------------------------------------------------------------------------------------

def mini_repair(kind: str, root: str) -> str:
    """What to do when a file of a built mini dataset is missing or damaged: rebuild it (its files
    are generated, never edited by hand)."""
    return (f"{root} is a built {kind} dataset: delete that folder and re-run snakemake, which rebuilds "
            f"it identically (by hand: inpaint-bench mini --kind {kind} --out {root})")


def list_manifest(spec: dict, root: str, split: str):
    """Mini datasets built by datasets.mini (which registers their kinds): files listed in root/manifest.csv."""
    kind = spec["kind"]
    how = f"build it with: inpaint-bench mini --kind {kind} --out {root}"
    _require_dir(root, f"expected a {kind} dataset folder with train/, test/ and manifest.csv; {how}")
    manifest = os.path.join(root, "manifest.csv")
    _require_file(manifest, f"the manifest is written last by datasets.mini, so an incomplete "
                            f"build lacks it; {how}")
    with open(manifest, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"split", "file"} <= set(rows[0]):
        raise ValueError(f"{manifest}: expected columns 'split' and 'file'; {how}")
    rel = sorted(r["file"] for r in rows if r["split"] == split)
    return [os.path.join(root, p) for p in rel], \
        [os.path.splitext(os.path.basename(p))[0] for p in rel], f"{kind} at {root}"


PLACES2_TRAIN_SETS = ("standard", "challenge")  # Places365-Standard (1.8 M) or -Challenge (8 M) training images


@register_dataset_kind(
    "places2", layout="data_256/ + places365_train_standard.txt (train), val_256/ + places365_val.txt (test)",
    keys={"train_set": {"enum": list(PLACES2_TRAIN_SETS), "description": (
        "the training list, places365_train_standard.txt (Places365-Standard, the default) or "
        "places365_train_challenge.txt (Places365-Challenge, 8 M images, which the official RFR-Net README "
        "trains on); both read data_256/")}})
def _list_places2(spec: dict, root: str, split: str):
    train_set = spec.get("train_set", "standard")
    if train_set not in PLACES2_TRAIN_SETS:
        raise ValueError(f"places2 train_set must be one of {PLACES2_TRAIN_SETS}, got {train_set!r}")
    train_list = f"places365_train_{train_set}.txt"
    layout = (f"expected Places365 layout under {root}: data_256/ and {train_list} (train, "
              f"Places365-{train_set.capitalize()}), val_256/ and places365_val.txt (test)")
    _require_dir(root, layout)
    if split == "train":
        img_dir, list_file = os.path.join(root, "data_256"), os.path.join(root, train_list)
    else:
        img_dir, list_file = os.path.join(root, "val_256"), os.path.join(root, "places365_val.txt")
    _require_dir(img_dir, layout)
    _require_file(list_file, layout)
    rel = []
    for lineno, line in _read_list(list_file):
        # Lines are "<path> <label>"; Places paths contain no spaces.
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(f"{list_file}:{lineno}: expected '<image path> <class index>', got {line!r}")
        rel.append(parts[0].lstrip("/"))
    rel = sorted(rel)
    return [os.path.join(img_dir, p) for p in rel], _unique_names(rel, list_file), \
        f"places2 at {root}"


@register_dataset_kind("celeba", square_first=True,
                       layout="img_align_celeba/ + list_eval_partition.txt (test = partition 2)")
def _list_celeba(spec: dict, root: str, split: str):
    layout = (f"expected CelebA layout under {root}: img_align_celeba/*.jpg and "
              f"list_eval_partition.txt (lines '000001.jpg 0'; 0 train, 1 val, 2 test)")
    _require_dir(root, layout)
    img_dir = os.path.join(root, "img_align_celeba")
    part_file = os.path.join(root, "list_eval_partition.txt")
    _require_dir(img_dir, layout)
    _require_file(part_file, layout)
    # The official partitions: 0 train, 1 val (unused), 2 test.
    wanted = {0} if split == "train" else {2}
    rel = []
    for lineno, line in _read_list(part_file):
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise ValueError(f"{part_file}:{lineno}: expected '<file> <0|1|2>', got {line!r}")
        if int(parts[1]) in wanted:
            rel.append(parts[0])
    rel = sorted(rel)
    return [os.path.join(img_dir, p) for p in rel], _unique_names(rel, part_file), \
        f"celeba at {root}"


def _list_folder_split(folder: str, what: str, desc: str):
    _require_dir(folder, what)
    rel = _scan_images(folder)
    return [os.path.join(folder, p) for p in rel], _unique_names(rel, folder), desc


@register_dataset_kind("paris", layout="paris_train_original/ (train), paris_eval_gt/ (test)")
def _list_paris(spec: dict, root: str, split: str):
    layout = (f"expected Paris StreetView layout under {root}: paris_train_original/ (train) and "
              f"paris_eval_gt/ (test)")
    _require_dir(root, layout)
    sub = "paris_train_original" if split == "train" else "paris_eval_gt"
    return _list_folder_split(os.path.join(root, sub), layout, f"paris at {root}")


def _folder_problems(spec: dict) -> list[str]:
    missing = [key for key in ("train_dir", "test_dir") if key not in spec]
    return [f"kind folder reads root/train and root/test: set root, or {' and '.join(missing)}"] \
        if "root" not in spec and missing else []


@register_dataset_kind(
    "folder", root="optional", check=_folder_problems,
    layout=f"train/ and test/ (or train_dir, test_dir): image files ending in {', '.join(IMAGE_EXTENSIONS)}",
    keys={f"{split}_dir": {"type": "string", "description": f"the {split} images' folder (default root/{split}; "
                                                          f"relative to root when root is set)"} for split in SPLITS})
def _list_folder(spec: dict, root: str | None, split: str):
    key = f"{split}_dir"
    if spec.get(key):
        folder = _resolve(spec[key], root)
    elif root:
        folder = os.path.join(root, split)
    else:
        raise ValueError(f"dataset kind 'folder' needs spec key 'root' (with {split}/ inside) "
                         f"or {key!r}")
    what = (f"expected the {split} images for kind 'folder' there (files ending in "
            f"{'/'.join(IMAGE_EXTENSIONS)}); set spec key {key!r} to use another folder")
    return _list_folder_split(folder, what, f"folder {folder}")


@register_dataset_kind(
    "filelist", root="optional", required=("train_list", "test_list"),
    layout="train_list, test_list: text files with one image path per line (relative to root, else to the "
           "list's folder)",
    keys={f"{split}_list": {"type": "string", "description": f"a text file listing the {split} images, one path per "
                                                           f"line (relative to root, else to the list's folder); "
                                                           f"the file itself relative to root when root is set"}
          for split in SPLITS})
def _list_filelist(spec: dict, root: str | None, split: str):
    key = f"{split}_list"
    if not spec.get(key):
        raise ValueError(f"dataset kind 'filelist' needs spec key {key!r}: a text file with one "
                         f"image path per line (relative to 'root' or absolute)")
    list_file = _resolve(spec[key], root)
    _require_file(list_file, f"spec key {key!r} must name a text file with one image path per line")
    base = root or os.path.dirname(list_file)
    entries, seen = [], {}
    for lineno, line in _read_list(list_file):
        if line in seen:
            raise ValueError(f"{list_file}:{lineno}: {line!r} is listed twice (first at line "
                             f"{seen[line]}); remove the duplicate")
        seen[line] = lineno
        entries.append((line, line if os.path.isabs(line) else os.path.join(base, line)))
    entries.sort()
    rel = [e[0] for e in entries]
    return [e[1] for e in entries], _unique_names(rel, list_file), f"filelist {list_file}"


CSV_COLUMNS = ("path", "split")  # the columns the csv kind reads; any others are left alone
CSV_IGNORED_SPLITS = ("val",)  # listed, not used: the harness has a train and a test split


@register_dataset_kind(
    "csv", root="optional", required=("file",),
    layout="file: a CSV file with a header naming the columns path and split (train, test; val rows are "
           "skipped), image paths relative to root, else to the CSV file's folder",
    keys={"file": {"type": "string", "description": "a CSV file with the columns path (an image, relative to root, "
                                                    "else to the CSV file's folder) and split (train, test, or val: "
                                                    "skipped); the file itself relative to root when root is set"}})
def _list_csv(spec: dict, root: str | None, split: str):
    """The images of a CSV file's rows whose `split` is `split`; every row is checked (a known split,
    an existing image, each path once across the splits), so both splits fail alike on a bad row."""
    if not spec.get("file"):
        raise ValueError("dataset kind 'csv' needs spec key 'file': a CSV file with the columns path and split")
    csv_file = _resolve(spec["file"], root)
    _require_file(csv_file, "spec key 'file' must name a CSV file with the columns path and split")
    base = root or os.path.dirname(csv_file)
    with open(csv_file, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in CSV_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{csv_file}:1: no column {' or '.join(map(repr, missing))} in the header "
                             f"({', '.join(columns) or 'an empty file'}); the csv kind reads the columns path "
                             f"and split")
        reader.fieldnames = columns
        entries, seen = [], {}
        for row in reader:
            lineno = reader.line_num
            path, row_split = (str(row.get(c) or "").strip() for c in CSV_COLUMNS)
            if not path:
                raise ValueError(f"{csv_file}:{lineno}: column 'path' is empty")
            if row_split not in (*SPLITS, *CSV_IGNORED_SPLITS):
                raise ValueError(f"{csv_file}:{lineno}: column 'split': {row_split!r} is not one of "
                                 f"{', '.join((*SPLITS, *CSV_IGNORED_SPLITS))} (val rows are skipped)")
            if path in seen:
                raise ValueError(f"{csv_file}:{lineno}: column 'path': {path!r} is listed twice (first at line "
                                 f"{seen[path][0]}, split {seen[path][1]}); keep one row")
            seen[path] = (lineno, row_split)
            full = path if os.path.isabs(path) else os.path.join(base, path)
            if row_split in SPLITS and not os.path.isfile(full):
                raise FileNotFoundError(f"{csv_file}:{lineno}: column 'path': image {full} does not exist")
            if row_split == split:
                entries.append((path, full))
    entries.sort()
    rel = [e[0] for e in entries]
    return [e[1] for e in entries], _unique_names(rel, csv_file), f"csv {csv_file}"


def _resolve(path: str, root: str | None) -> str:
    """Expand ~ and make relative spec paths relative to root (if given)."""
    path = os.path.expanduser(str(path))
    if not os.path.isabs(path) and root:
        path = os.path.join(root, path)
    return path


def build_dataset(spec: dict, split: str, image_size: int, seed: int = 0,
                  crop: str = "random", resize: str = "bicubic") -> ImageDataset:
    """Build the train or test split of one configured dataset.

    spec keys: `kind` (a registered kind: datasets.kinds), `root`, optional `max_train` / `max_test`,
    and the kind's own keys (kind 'folder': optional `train_dir` / `test_dir`; 'filelist': `train_list`
    / `test_list`; 'csv': `file`).
    `crop`: the training crop, "random" (official RFR-Net) or "centre" (the test crop); `resize`: the
    random crop's resampling, "bicubic" (official: PIL's default) or "bilinear".
    """
    if not isinstance(spec, dict):
        raise TypeError(f"dataset spec must be a dict, got {type(spec).__name__}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    kind = spec.get("kind")
    entry = dataset_kind(kind)
    root = spec.get("root")
    if root is not None:
        root = os.path.expanduser(str(root))
    elif entry.root != "optional":
        raise ValueError(f"dataset kind {kind!r} needs spec key 'root' (the dataset folder)")

    paths, names, desc = entry.list_split(spec, root, split)
    if not paths:
        raise ValueError(f"{desc}: the {split} split is empty; expected image files there "
                         f"(see the layout for kind {kind!r})")
    # Listers return entries sorted by relative path, so max_train/max_test cut deterministically.
    paths, names = _limit(paths, spec, split), _limit(names, spec, split)
    repair = mini_repair(kind, root) if entry.built else ""
    try:
        _check_exist(paths, desc)
    except FileNotFoundError as err:
        if not repair:
            raise
        raise FileNotFoundError(f"{err}\n{repair}") from err
    return ImageDataset(paths, names, image_size, train=(split == "train"), seed=seed,
                        square_first=entry.square_first, description=desc, repair=repair, crop=crop,
                        resize=resize)


def file_listing(spec: dict, split: str) -> str:
    """The digest of a split's files as listed (harness.fileio.listing_digest): it changes when an image
    is added, removed or replaced. Lists the split as training and evaluation will (root, layout files,
    every listed file, non-empty split); an empty file is an error naming it. The test split is
    digested by content (few files, and every number depends on them), the training split by path,
    size and modification time (millions of files: a stat each)."""
    images = build_dataset(spec, split, 16)  # the size does not change what is listed
    return listing_digest(images.paths, f"the {split} split of {images.description}", content=split == "test")


def check_dataset(spec: dict, image_size: int) -> dict[str, str]:
    """Lists both splits (`file_listing`), so a dataset that cannot be read fails before any job;
    returns {split: listing digest}."""
    return {split: file_listing(spec, split) for split in SPLITS}
