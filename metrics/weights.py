"""Offline lookup of the pretrained weight files the metrics and losses need.

Lookup order for every file (first hit wins): the configured folder (`weights.dir`; skipped when
None), then torch.hub's checkpoint folder, `torch.hub.get_dir()/checkpoints` (= `$TORCH_HOME/hub/
checkpoints`, where torchvision and pytorch-fid cache downloads). Nothing here downloads implicitly:
a missing file is reported with its exact name so that a user can place it by hand.

    inpaint-bench weights check [--dir D] [--strict]
    inpaint-bench weights fetch [--dir D]      # downloads the missing files where a network exists
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

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


def load_state_dict(path) -> dict:
    """Load a weight file on CPU; weights_only because these files come from outside."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_vgg16_features(weights_dir=None) -> torch.nn.Module | None:
    """torchvision VGG16 `.features` with the ImageNet weights, frozen and in eval mode.

    Returns None when the weight file is missing, so the caller can drop the VGG losses and
    warn; a randomly initialised VGG is never returned.
    """
    path = find_weight("vgg16", weights_dir)
    if path is None:
        return None
    import torchvision  # only now: its import costs a job about 1.7 s (torch._dynamo), for nothing without the file
    state = load_state_dict(path)
    # The file holds the whole classifier network; only the convolutional part is needed.
    features_state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    # Build on the meta device (no memory, no slow random init of the 120M-parameter classifier),
    # then materialise only `.features`; the strict load below overwrites every parameter.
    with torch.device("meta"):
        features = torchvision.models.vgg16(weights=None).features
    features = features.to_empty(device="cpu")
    features.load_state_dict(features_state, strict=True)  # every conv layer must come from the file
    features.eval()
    for param in features.parameters():
        param.requires_grad_(False)
    return features


def _check(weights_dir, strict: bool) -> int:
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="show which weight files are found offline")
    check.add_argument("--dir", default=None, help="folder searched first (weights.dir)")
    check.add_argument("--strict", action="store_true", help="exit 1 if any file is missing")
    fetch = sub.add_parser("fetch", help="download missing weight files (needs a network)")
    fetch.add_argument("--dir", default=None, help="download here instead of torch.hub's checkpoints folder")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.dir, args.strict)
    return fetch_missing(args.dir)


if __name__ == "__main__":
    sys.exit(main())
