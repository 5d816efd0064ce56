"""Hole-ratio buckets: one small type for the interval (lo, hi] and its name "lo-hi"."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Bucket:
    """The hole-ratio interval (lo, hi], named "lo-hi" (e.g. "0.1-0.2") in folders, CSVs and tables."""

    lo: float
    hi: float

    def __post_init__(self):
        if not 0.0 <= self.lo < self.hi <= 1.0:
            raise ValueError(f"bucket ({self.lo}, {self.hi}]: need 0 <= lo < hi <= 1")

    @classmethod
    def parse(cls, value) -> "Bucket":
        """From a Bucket, a pair (lo, hi) or a name "lo-hi"; ValueError names the bad value."""
        if isinstance(value, Bucket):
            return value
        if isinstance(value, str):
            parts = value.split("-")
            try:
                lo, hi = (float(p) for p in parts)
            except ValueError:
                raise ValueError(f"bucket {value!r}: expected 'lo-hi' with two numbers, e.g. '0.1-0.2'") from None
        else:
            try:
                lo, hi = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(f"bucket {value!r}: expected a pair (lo, hi) or a name 'lo-hi'") from None
        try:
            return cls(lo, hi)
        except ValueError:
            raise ValueError(f"bucket {value!r}: need 0 <= lo < hi <= 1 (hole ratio interval (lo, hi])") from None

    @property
    def name(self) -> str:
        return f"{self.lo:g}-{self.hi:g}"

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2

    def contains(self, ratio: float) -> bool:
        return self.lo < ratio <= self.hi

    def __str__(self) -> str:
        return self.name


def bucket_sort_key(name: str) -> tuple:
    """Sort key of a bucket name: by bounds; names that are not "lo-hi" (e.g. "all") last, by name."""
    try:
        bucket = Bucket.parse(name)
        return (bucket.lo, bucket.hi, str(name))
    except ValueError:
        return (math.inf, math.inf, str(name))


def sort_bucket_names(names) -> list[str]:
    return sorted(dict.fromkeys(names), key=bucket_sort_key)
