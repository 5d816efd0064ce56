"""Atomic file writes, the one implementation every package uses.

A file is written under a unique temporary name in its own folder, then renamed over the target, so
a reader (or Snakemake, or a run killed at any moment) sees either the old file or the new one,
never a torn one, and parallel writers of different files never collide.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes, previous: str | os.PathLike | None = None) -> Path:
    """Writes `data` to `path` atomically; with `previous`, the file it replaces is kept under that name."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    except OSError as err:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        # the bare "[Errno 28] No space left on device" names no file
        raise OSError(err.errno, f"cannot write {path}: {err.strerror or err} (free space or fix the "
                                 f"folder's permissions, then run again)") from err
    except BaseException:
        if tmp:
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


def read_torch_file(path: str | os.PathLike, what: str, device="cpu"):
    """torch.load that names the file and what it was meant to be when it cannot be read."""
    import torch

    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # any failure to unpickle means the file is unusable, whatever torch raised
        raise ValueError(f"{path} is not a readable {what} (truncated or corrupt: {type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from err


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


def check_output_folder(folder: str | os.PathLike, is_ours, what: str, force: bool = False) -> Path:
    """Refuses an output folder that the user named and that holds an entry this tool does not write
    (`is_ours(name)` false, e.g. a folder of their own): its files are not ours to overwrite or to mix
    with ours. `force` writes there anyway. `what` names the option (`--out DIR`) in the message."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{what}: {folder} is a file, not a folder; name a folder")
    foreign = sorted(entry.name for entry in folder.iterdir() if not is_ours(entry.name)) if folder.is_dir() else []
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" ... ({len(foreign)} entries)" if len(foreign) > 5 else "")
        raise FileExistsError(f"{what}: {folder} holds files this tool did not write ({shown}); name a new or "
                              f"empty folder, or pass --force to write there anyway")
    return folder


def replace_folder(tmp: Path, folder: Path) -> None:
    """Puts the complete folder `tmp` (a sibling of `folder`) in the place of `folder`, whole: a
    reader sees the old folder or the new one, never a mix of their files."""
    if folder.is_dir() and any(folder.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old)
    else:
        if folder.is_dir():
            folder.rmdir()
        os.replace(tmp, folder)


def new_folder_beside(folder: str | os.PathLike) -> Path:
    """An empty temporary folder beside `folder` (same file system), to be filled and then put in
    its place by `replace_folder`."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial.", dir=folder.parent))


@contextlib.contextmanager
def updated_folder(folder: str | os.PathLike):
    """Yields a copy of `folder` beside it (its entries hard-linked: every writer here replaces a file
    by a rename, never in place) to write new files into. When the block ends, the copy takes the
    place of `folder` whole (replace_folder); on an exception, or a kill, `folder` stays as it was.
    Updates of one folder take turns (a lock on the file .<folder>.lock beside it), so that two
    writers (the tables of two datasets) never drop each other's files."""
    folder = Path(folder).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(folder.parent / f".{folder.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when `lock` is closed, or the process ends
        for left in folder.parent.glob(f".{folder.name}.old.*"):  # a writer killed between its renames
            if folder.exists():
                shutil.rmtree(left)
            else:
                os.replace(left, folder)
        for left in folder.parent.glob(f".{folder.name}.partial.*"):
            shutil.rmtree(left)
        tmp = new_folder_beside(folder)
        try:
            os.chmod(tmp, folder.stat().st_mode & 0o7777 if folder.is_dir() else 0o755)  # mkdtemp's is 0700
            for entry in folder.iterdir() if folder.is_dir() else []:
                if entry.is_dir():
                    shutil.copytree(entry, tmp / entry.name, copy_function=_link_or_copy)
                else:
                    _link_or_copy(entry, tmp / entry.name)
            yield tmp
            replace_folder(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        os.close(lock)


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(os.path.expanduser(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _content_sha256(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    # keyed by the whole stat, ctime and inode included, so that a file replaced in place within one
    # process (same name, size and mtime: os.utime can set the mtime, never the ctime) is read again
    return file_sha256(path)


def listing_digest(paths, what: str, content: bool = False) -> str:
    """A digest of files as listed, so that adding, removing or replacing a file changes it (what a job
    reading them records: jobs.resolve): each one's path and either its content (`content`: its
    SHA-256, read once per process) or its size and modification time (a stat: for millions of
    training images). An empty file (0 bytes: a failed copy or download) is refused here, naming it,
    before any job reads it."""
    digest = hashlib.sha256()
    for path in paths:
        stat = os.stat(path)
        if stat.st_size == 0:
            raise ValueError(f"{path} is an empty file (0 bytes) in {what}: replace it with the image or remove it")
        if content:
            sha = _content_sha256(os.fspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            digest.update(f"{path}\0{sha}\n".encode())
        else:
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
