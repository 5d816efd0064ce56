"""Atomic files: a file is written under a temporary name in its folder, then renamed over the target,
so a run killed at any moment leaves either the old or the new file, never a torn one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def _atomic(path: str | Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_torch_save(obj, path: str | Path) -> Path:
    return _atomic(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return _atomic(path, lambda f: f.write(text.encode()))


def load_model_file(path: str | Path, device="cpu"):
    """Reads a `model.pt` written by training: returns (model in eval mode, record)."""
    from models import build_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: train the variant first (python -m training.train ...)")
    record = torch.load(path, map_location=device, weights_only=False)
    model = build_model(record["spec"], record["width"])
    model.load_state_dict(record["state_dict"])
    return model.to(device).eval(), record
