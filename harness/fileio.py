"""Atomic file writes, the one implementation every package uses.

A file is written under a unique temporary name in its own folder, then renamed over the target, so
a reader (or Snakemake, or a run killed at any moment) sees either the old file or the new one,
never a torn one, and parallel writers of different files never collide.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes, previous: str | os.PathLike | None = None) -> Path:
    """Writes `data` to `path` atomically; with `previous`, the file it replaces is kept under that name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        if previous is not None and path.exists():
            # rotated only once the new file is complete: a kill between the two renames leaves
            # `previous`, which readers fall back to
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Creates `folder` and writes (then removes) a small probe file in it, so that a read-only, full or
    misplaced output folder is found before the work starts rather than when its results are saved."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_probe.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"probe")
                f.flush()
                os.fsync(f.fileno())
        finally:
            Path(probe).unlink(missing_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"cannot write to the output folder {folder}: {err.strerror or err} "
                                 f"(fix its permissions, free space, or choose another output folder)") from err
    return folder


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj, path: str | os.PathLike, previous: str | os.PathLike | None = None) -> Path:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue(), previous)


def save_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """A uint8 HxW or HxWx3 array as PNG (PIL writes no timestamp: same pixels, same bytes)."""
    from PIL import Image

    if array.dtype != np.uint8:
        raise TypeError(f"save_png({path}): expected a uint8 array, got {array.dtype}")
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def write_csv(path: str | os.PathLike, rows, columns: list[str] | None = None) -> Path:
    """A table as CSV: a pandas DataFrame, or rows (dicts or sequences) in `columns` order. NaN is
    written as an empty field."""
    import pandas as pd

    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=columns)
    return atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
