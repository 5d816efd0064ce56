"""Reading the files training writes (the atomic writers live in harness.fileio).

A `model.pt` records what it is (role, name under the key "variant", dataset, seed, spec, width,
image size), so that a model is never scored or distilled from under another job's name.
"""
from __future__ import annotations

from pathlib import Path

import torch

# the fields that say which job a model.pt comes from ("variant" holds the job's name: the variant,
# or the teacher's architecture slug), and those a changed config makes stale
WHO = ("role", "variant", "dataset", "seed")
HOW = ("spec", "width", "image_size")


def read_torch_file(path: str | Path, what: str, device="cpu"):
    """torch.load that names the file and what it was meant to be when it cannot be read."""
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # any failure to unpickle means the file is unusable, whatever torch raised
        raise ValueError(f"{path} is not a readable {what} (truncated or corrupt: {type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from err


def describe(identity: dict) -> str:
    kind = "the DGI teacher" if identity.get("role") == "teacher" else "the variant"
    return (f"{kind} {identity.get('variant')!r} (dataset {identity.get('dataset')!r}, "
            f"seed {identity.get('seed')})")


def check_identity(path: Path, record: dict, expect: dict) -> None:
    """Refuses a model whose identity (fields of WHO and HOW) differs from `expect`."""
    missing = [k for k in expect if k not in record]
    if missing:
        # older files cannot be checked; scoring them under a guessed name is the silent error we avoid
        raise ValueError(f"{path} records no {', '.join(missing)}: it was written by an older "
                         f"inpaint_bench.training.train and cannot be checked against this job; retrain it")
    wrong = [k for k in expect if record[k] != expect[k]]
    if any(k in WHO for k in wrong):
        raise ValueError(f"{path} is {describe(record)}, not {describe({**record, **expect})} as asked: "
                         f"pass that one's model.pt")
    if wrong:
        changes = "; ".join(f"{k} {record[k]} (the config now gives {expect[k]})" for k in wrong)
        raise ValueError(f"{path} ({describe(record)}) was trained with {changes}: retrain it")


def load_model_file(path: str | Path, device="cpu", expect: dict | None = None):
    """Reads a `model.pt` written by training: returns (model in eval mode, record). `expect` (fields of
    WHO and HOW) is checked against the record before any weight is used."""
    from inpaint_bench.models import build_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: train the variant first (python -m inpaint_bench.training.train ...)")
    record = read_torch_file(path, "model file", device)
    if isinstance(record, dict) and "signature" in record and "optimizer" in record:
        raise ValueError(f"{path} is a training checkpoint, not a model file: pass the run's model.pt "
                         f"(written when training finishes)")
    if not isinstance(record, dict) or not {"spec", "width", "state_dict"} <= record.keys():
        raise ValueError(f"{path} is not a model file written by training.train")
    if expect:
        check_identity(path, record, expect)
    model = build_model(record["spec"], record["width"])
    try:
        model.load_state_dict(record["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path}: its weights do not fit the architecture {record['spec']} (written by "
                         f"other code?): retrain it ({str(err).splitlines()[0]})") from err
    return model.to(device).eval(), record
