"""Offline lookup of the pretrained weight files the metrics and the training losses need, the messages
naming a missing one, and their download (`inpaint-bench weights`: inpaint_bench.cli.weights). Loading
them is torch's work: models.pretrained. torch is imported only inside the functions that ask torch.hub
for its folder or download, so that importing this module (the Snakefile does) stays cheap.

Lookup order for every file (first hit wins): the configured folder (`weights.dir`; skipped when
None), then torch.hub's checkpoint folder, `torch.hub.get_dir()/checkpoints` (= `$TORCH_HOME/hub/
checkpoints`, where torchvision and pytorch-fid cache downloads). Nothing here downloads implicitly:
a missing file is reported with its exact name so that a user can place it by hand.

    inpaint-bench weights check [--dir D] [--strict]
    inpaint-bench weights fetch [--dir D]      # downloads the missing files where a network exists
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# key -> (file name, url, what it is for). File names and URLs are the ones the libraries
# themselves download: pytorch_fid.inception.FID_WEIGHTS_URL and torchvision's
# AlexNet_Weights.IMAGENET1K_V1 / VGG16_Weights.IMAGENET1K_V1.
WEIGHT_FILES: dict[str, tuple[str, str, str]] = {
    "inception": (
        "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        "FID/KID Inception-v3 (pytorch-fid port of the TF FID network)",
    ),
    "alexnet": (
        "alexnet-owt-7be5be79.pth",
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "LPIPS AlexNet backbone (torchvision ImageNet weights; linear layers ship with lpips)",
    ),
    "vgg16": (
        "vgg16-397923af.pth",
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        "VGG16 features for the perceptual and style training losses (torchvision ImageNet weights)",
    ),
}


class WeightsMissing(FileNotFoundError):
    """One or more pretrained weight files could not be found offline."""


def hub_checkpoint_dir() -> Path:
    """torch.hub's cache folder for weights; read at call time so $TORCH_HOME changes apply."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def search_dirs(weights_dir=None) -> list[Path]:
    """Folders searched, in order."""
    dirs = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    dirs.append(hub_checkpoint_dir())
    return dirs


def _check_key(key: str) -> None:
    if key not in WEIGHT_FILES:
        raise KeyError(f"unknown weight {key!r}; known: {sorted(WEIGHT_FILES)}")


def find_weight(key: str, weights_dir=None) -> Path | None:
    """Path of the weight file for `key` ("inception", "alexnet", "vgg16"), or None if absent."""
    _check_key(key)
    file_name = WEIGHT_FILES[key][0]
    for folder in search_dirs(weights_dir):
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    return None


def missing_note(key: str) -> str:
    """Short note for tables, e.g. "missing: vgg16-397923af.pth"."""
    _check_key(key)
    return f"missing: {WEIGHT_FILES[key][0]}"


def missing_message(key: str, weights_dir=None) -> tuple[str, str]:
    """(short note, long hint naming the file, its URL and the folders to put it in)."""
    _check_key(key)
    file_name, url, purpose = WEIGHT_FILES[key]
    folders = " or ".join(str(d) for d in search_dirs(weights_dir))
    hint = (
        f"{purpose}: file {file_name} not found. Place it in {folders} "
        f"(set weights.dir in the config to use your own folder), "
        f"or run `inpaint-bench weights fetch` where a network exists (source: {url})."
    )
    return missing_note(key), hint


def require_weights(keys, weights_dir=None) -> dict[str, Path]:
    """Paths of all `keys`; raises WeightsMissing listing every missing file (weights.required)."""
    found, hints = {}, []
    for key in keys:
        path = find_weight(key, weights_dir)
        if path is None:
            hints.append(missing_message(key, weights_dir)[1])
        else:
            found[key] = path
    if hints:
        raise WeightsMissing("missing pretrained weights:\n  " + "\n  ".join(hints))
    return found


def _hash_prefix(key: str) -> str | None:
    """sha256 prefix encoded in torchvision's file names (torch.hub's name-<sha256>.ext convention).

    pytorch-fid does not document its suffix as a sha256 prefix, so that file is not checked.
    """
    if key == "inception":
        return None
    match = re.search(r"-([0-9a-f]{8,})\.", WEIGHT_FILES[key][0])
    return match.group(1) if match else None


def check_weights(weights_dir=None, strict: bool = False) -> int:
    """Prints which weight files are found offline (and where to put the missing ones); 1 when `strict`
    and one is missing."""
    rows = []
    for key, (file_name, _url, _purpose) in WEIGHT_FILES.items():
        path = find_weight(key, weights_dir)
        rows.append((key, file_name, "found" if path else "MISSING", str(path) if path else "-"))
    widths = [max(len(r[i]) for r in rows + [("weight", "file", "status", "path")]) for i in range(4)]
    for row in [("weight", "file", "status", "path")] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    missing = [r for r in rows if r[2] == "MISSING"]
    if missing:
        print("\nsearched: " + ", ".join(str(d) for d in search_dirs(weights_dir)))
        for key, *_ in missing:
            print(missing_message(key, weights_dir)[1])
    return 1 if (missing and strict) else 0


def download_target(key: str, weights_dir=None) -> Path:
    """Where the file for `key` is (if found offline) or where a download puts it: `weights_dir`,
    else torch.hub's checkpoints folder."""
    found = find_weight(key, weights_dir)
    if found is not None:
        return found
    target = Path(weights_dir).expanduser() if weights_dir else hub_checkpoint_dir()
    return target / WEIGHT_FILES[key][0]


def fetch_file(dst: Path) -> Path:
    """Downloads the weight file named like `dst` to `dst` (atomically, hash-checked where the
    name carries one); raises with the URL and the folder to place it in by hand."""
    dst = Path(dst)
    keys = [k for k, (name, _url, _purpose) in WEIGHT_FILES.items() if name == dst.name]
    if not keys:
        raise KeyError(f"{dst.name} is not a known weight file; known: "
                       f"{', '.join(name for name, _, _ in WEIGHT_FILES.values())}")
    url = WEIGHT_FILES[keys[0]][1]
    dst.parent.mkdir(parents=True, exist_ok=True)
    import torch

    try:
        # Writes to a temporary name in the same folder and renames: atomic.
        torch.hub.download_url_to_file(url, str(dst), hash_prefix=_hash_prefix(keys[0]), progress=True)
    except Exception as err:  # no network, HTTP error, hash mismatch
        raise OSError(f"could not download {dst.name} from {url} ({type(err).__name__}: {err}); "
                      f"place it by hand in {dst.parent}") from err
    return dst


def fetch_missing(weights_dir=None) -> int:
    """Downloads every weight file not found offline; returns 1 if any download failed."""
    failed = 0
    for key, (file_name, _url, _purpose) in WEIGHT_FILES.items():
        existing = find_weight(key, weights_dir)
        if existing is not None:
            print(f"{file_name}: already present at {existing}")
            continue
        try:
            print(f"{file_name}: downloaded to {fetch_file(download_target(key, weights_dir))}")
        except OSError as err:  # report per file, go on with the others
            failed += 1
            print(f"error: {err}", file=sys.stderr)
    return 1 if failed else 0
