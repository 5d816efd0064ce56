"""Progress of long work: a tqdm bar on a terminal, plain periodic lines elsewhere (a Snakemake job's log,
a cluster job's output), each with the rate and the time left."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class PlainProgress:
    """tqdm's update/set_postfix/close, written as one line at every tenth of the work and at least every
    `interval` seconds: `desc: 120/400 steps (30%), 2.10 steps/s, ETA 2m13s, loss=0.1234`."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "it", interval: float = 60.0,
                 stream=None):
        self.total, self.n, self.desc, self.unit, self.interval = total, initial, desc, unit, interval
        self.first, self.stream, self.postfix = initial, stream or sys.stderr, ""
        self.started = self.last_time = time.perf_counter()
        self.last_tenth = self._tenth(initial)

    def _tenth(self, n: int) -> int:
        return n * 10 // self.total if self.total else 10

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def update(self, count: int = 1) -> None:
        self.n += count
        now = time.perf_counter()
        tenth = self._tenth(self.n)
        if tenth > self.last_tenth or now - self.last_time >= self.interval:
            self.last_tenth, self.last_time = tenth, now
            self.write(now)

    def write(self, now: float) -> None:
        done = self.n - self.first
        rate = done / (now - self.started) if now > self.started and done else 0.0
        eta = duration((self.total - self.n) / rate) if rate else "?"
        percent = 100 * self.n // self.total if self.total else 100
        line = f"{self.desc}: {self.n}/{self.total} {self.unit}s ({percent}%), {rate:.2f} {self.unit}s/s, ETA {eta}"
        print(line + (f", {self.postfix}" if self.postfix else ""), file=self.stream, flush=True)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int, initial: int = 0, desc: str = "", unit: str = "it", disable: bool = False,
             stream=None):
    """A tqdm bar when `stream` (stderr by default) is a terminal, else a PlainProgress."""
    stream = stream or sys.stderr
    if disable:
        return tqdm(total=total, disable=True)
    if stream.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, mininterval=1.0,
                    file=stream)
    return PlainProgress(total, initial, desc, unit, stream=stream)
