"""Weights from a file named in a variant spec: `weights:` (a row scored as released) or `init:` (the
start of fine-tuning), each ``{format, path}``. Formats: ``rfr_official``, a checkpoint written by the
official RFR-Net code's ``utils/io.py::save_ckpt`` (the generator's state dict under "generator"),
whose names are mapped to ours; ``state_dict``, a bare state dict of our network (or a dict holding
one under "state_dict", as our model.pt). The import is strict: a missing, unexpected or misshaped
key is refused, naming the file and the official and our names. The only file read of `models/`.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch
from torch import nn

FORMATS = ("rfr_official", "state_dict")
WEIGHT_KEYS = ("weights", "init")  # spec keys naming a weights file

# official RFR-Net (modules/RFRNet.py) module prefix -> ours (models/rfr.py); the rest of a name is kept
_OFFICIAL_PREFIXES = [
    ("Pconv1.", "stem.pconv1."), ("bn1.", "stem.bn1."), ("Pconv2.", "stem.pconv2."), ("bn20.", "stem.bn2."),
    ("Pconv21.", "area.pconv1."), ("Pconv22.", "area.pconv2."), ("bn2.", "area.bn."),
    *[(f"RFRModule.enc_{i + 1}.", f"reasoning.down.{i}.") for i in range(3)],
    *[(f"RFRModule.enc_{i + 4}.", f"reasoning.dilated.{i}.") for i in range(3)],
    ("RFRModule.dec_5.", "reasoning.dec_dilated.0."), ("RFRModule.dec_4.", "reasoning.dec_dilated.1."),
    ("RFRModule.dec_3.", "reasoning.up3."), ("RFRModule.dec_2.", "reasoning.up2."),
    ("RFRModule.dec_1.", "reasoning.up1."),
    ("RFRModule.att.att.ratio", "reasoning.attention.lam"), ("RFRModule.att.combiner.", "reasoning.attention.merge."),
    ("Tconv.", "tail.up."), ("bn3.", "tail.bn."), ("tail1.", "tail.pconv."),
    # the tail's bottleneck: conv1 bn1 conv2 bn2 conv3 bn3 are our body.0 .1 .3 .4 .6 .7 (ReLUs between)
    *[(f"tail2.{name}.", f"tail.block.body.{i}.") for name, i in
      (("conv1", 0), ("bn1", 1), ("conv2", 3), ("bn2", 4), ("conv3", 6), ("bn3", 7))],
    ("out.", "tail.out."),
]


def _rename(name: str, pairs) -> str | None:
    for old, new in pairs:
        if name == old or (old.endswith(".") and name.startswith(old)):
            return new + name[len(old):]
    return None


def official_to_ours(name: str) -> str | None:
    """Our name of an official RFR-Net state-dict key (None: no such official module)."""
    return _rename(name, _OFFICIAL_PREFIXES)


def ours_to_official(name: str) -> str | None:
    """The official RFR-Net name of one of our keys (None: the official network has no such module)."""
    return _rename(name, [(new, old) for old, new in _OFFICIAL_PREFIXES])


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a weights file (models/ imports nothing of the harness's file helpers, whose
    harness.fileio.file_sha256 digests the dataset and mask files)."""
    digest = hashlib.sha256()
    with open(os.path.expanduser(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_note(key: str, entry: dict) -> str:
    """The line a row's notes carry about its weights file (tables print it under the row)."""
    return f"{key}: {entry['format']} {entry['path']} (SHA-256 {entry.get('sha256') or file_sha256(entry['path'])})"


def read_state_dict(path: str | Path, fmt: str) -> dict[str, torch.Tensor]:
    """The file's state dict under our names."""
    if fmt not in FORMATS:
        raise ValueError(f"weights format {fmt!r} is unknown; formats: {', '.join(FORMATS)}")
    path = Path(os.path.expanduser(path))
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure: the file is unusable, whatever torch raised
        raise ValueError(f"{path} is not a readable {fmt} weights file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from err
    if fmt == "rfr_official":
        if not isinstance(stored, dict) or "generator" not in stored:
            raise ValueError(f"{path} is not an official RFR-Net checkpoint: no 'generator' key (save_ckpt "
                             f"writes the generator's state dict there); keys: {_keys(stored)}")
        state, unknown = {}, []
        for name, tensor in stored["generator"].items():
            ours = official_to_ours(name)
            if ours is None:
                unknown.append(name)
            else:
                state[ours] = tensor
        if unknown:
            raise ValueError(f"{path}: official key(s) {', '.join(map(repr, unknown))} belong to no module of "
                             f"the official RFR-Net (modules/RFRNet.py); is this an RFR-Net generator?")
        return state
    if isinstance(stored, dict) and isinstance(stored.get("state_dict"), dict):
        stored = stored["state_dict"]
    if not isinstance(stored, dict) or not all(isinstance(v, torch.Tensor) for v in stored.values()):
        raise ValueError(f"{path} is not a state dict (a dict of tensor names to tensors); keys: {_keys(stored)}")
    return dict(stored)


def _keys(obj) -> str:
    return ", ".join(map(repr, list(obj)[:8])) if isinstance(obj, dict) else type(obj).__name__


def _label(name: str, fmt: str) -> str:
    """A key as the user can find it: our name, with the official one for official files."""
    if fmt != "rfr_official":
        return repr(name)
    official = ours_to_official(name)
    return f"{official!r} (ours: {name!r})" if official else f"ours: {name!r} (no official module)"


def load_weights(model: nn.Module, path: str | Path, format: str, sha256: str | None = None) -> nn.Module:
    """Loads the file's weights into `model`, strictly: every key of the model and no other, each of
    its shape (BatchNorm's step counters aside: they change nothing). `sha256`, when given (jobs
    record it when they are planned), must be the file's."""
    fmt = format
    state = read_state_dict(path, fmt)
    if sha256 is not None and file_sha256(path) != sha256:
        raise ValueError(f"weights file {path} has changed since its job was planned (SHA-256 "
                         f"{file_sha256(path)}, the job recorded {sha256}): plan the jobs again")
    expected = model.state_dict()
    counters = re.compile(r".*num_batches_tracked$")
    missing = [k for k in expected if k not in state and not counters.match(k)]
    unexpected = [k for k in state if k not in expected]
    misshaped = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(_label(k, fmt) for k in missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(_label(k, fmt) for k in unexpected))
    if misshaped:
        problems.append("misshaped " + ", ".join(f"{_label(k, fmt)} {tuple(state[k].shape)} where the network "
                                                 f"has {tuple(expected[k].shape)}" for k in misshaped))
    if problems:
        raise ValueError(f"{path} ({fmt}) does not fit the network: " + "; ".join(problems)
                         + ". Check the variant's backbone, options and the config's width")
    model.load_state_dict({**expected, **state})
    return model
