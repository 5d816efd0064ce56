"""Everything random is seeded from named parts (config seed, dataset, architecture, step...)."""
from __future__ import annotations

import hashlib


def derive_seed(*parts) -> int:
    """A stable 63-bit seed from any parts, e.g. derive_seed(seed, dataset, "data")."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
