"""Reading the files training writes (the atomic writers live in harness.fileio)."""
from __future__ import annotations

from pathlib import Path

import torch


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
