"""One workflow run at a time on a results folder, whichever checkout or working directory it runs
from (Snakemake's own lock covers one working directory only). The run holds <results>/.lock
(harness.paths), a file naming its host, process id and checkout, from before its first job until it
ends; a second run stops at once, naming the first. A lock whose process is gone (same host, pid no
longer alive: a run killed with SIGKILL) is taken over, saying so. A dry run takes no lock.
"""
from __future__ import annotations

import atexit
import json
import os
import socket
import time
import uuid
from pathlib import Path


class ResultsLocked(RuntimeError):
    """Another live workflow run holds the results folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # torn or unreadable: being written this instant, or damaged


def describe(holder: dict) -> str:
    return (f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, checkout {holder.get('checkout', '?')}, "
            f"since {holder.get('started', '?')}")


def acquire(path: str | Path, checkout: str | Path) -> str | None:
    """Takes the lock file `path` for this process (released at its exit, or by `release`). Raises
    ResultsLocked naming the holder when a live process holds it; returns a message when it took
    over a stale lock, else None."""
    path = Path(path)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "checkout": str(checkout),
          "started": time.strftime("%Y-%m-%d %H:%M:%S"), "token": uuid.uuid4().hex}
    path.parent.mkdir(parents=True, exist_ok=True)
    note = None
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder.get("host") == me["host"] and holder.get("pid") == me["pid"]:
                return None  # this process holds it already
            stale = holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) \
                and not _alive(holder["pid"])
            if not stale:
                raise ResultsLocked(
                    f"the results folder {path.parent.resolve()} is in use by another workflow run "
                    f"({describe(holder)}): wait for it to end or set another results_dir (if that run is gone, "
                    f"delete {path})")
            note = (f"took over the lock {path} of a run that ended without releasing it ({describe(holder)}: "
                    f"that process is gone)")
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
            f.flush()
            os.fsync(f.fileno())
        if _read(path).get("token") != me["token"]:  # another run took it over at the same instant
            raise ResultsLocked(f"the results folder {path.parent.resolve()} is in use by another workflow run "
                                f"({describe(_read(path))})")
        atexit.register(release, path, me["token"])
        return note
    raise ResultsLocked(f"cannot take the lock {path}: other runs keep taking it")


def release(path: str | Path, token: str | None = None) -> None:
    """Removes the lock file if this process holds it (`token`: the one it wrote)."""
    path = Path(path)
    holder = _read(path)
    if holder.get("host") == socket.gethostname() and holder.get("pid") == os.getpid() \
            and (token is None or holder.get("token") == token):
        path.unlink(missing_ok=True)
