"""Everything random is seeded from named parts (config seed, dataset, architecture, step...)."""
from __future__ import annotations

import argparse
import hashlib


def derive_seed(*parts) -> int:
    """A stable 63-bit seed from any parts, e.g. derive_seed(seed, dataset, "data")."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def seed_argument(text: str) -> int:
    """argparse type of a `--seed`: an integer >= 0, as the config's seeds (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or str(text).strip().lstrip("+") != str(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: seeds are integers >= 0, as in the config's seeds")
    return value
