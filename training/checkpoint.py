"""The files a training run writes and reads back (the atomic writers live in harness.fileio).

`checkpoint.pt`: the resumable state, written every `train.checkpoint_every` steps (the one before it
is kept as `checkpoint.prev.pt`) together with `train_log.csv` (every loss term). Re-running a killed
run resumes from it to the weights of an uninterrupted run; an unreadable one is moved aside
(`*.corrupt`) and the run resumes from the previous one, or from step 0. `model.pt`, written at the
end: the final weights and what they are (role, name under the key "variant", dataset, seed, spec,
width, image size, `code`: the digests of the source files it was trained by (jobs.probe), and the
whole job it was trained for, dataset listing included), so that a model is never scored or
distilled from under another job's name, nor after its code changed, nor for a job it is older
than. A checkpoint is resumed only by the same job, at the same precision, with the same code
(`code_digest`), and never once the run is complete: a forced rerun starts from step 0.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import os
import warnings
from pathlib import Path

import torch

from inpaint_bench.harness.fileio import atomic_torch_save, read_torch_file, write_csv
from inpaint_bench.jobs.resolve import job_differences
from inpaint_bench.packages import FLOORS

CHECKPOINT, PREVIOUS_CHECKPOINT = "checkpoint.pt", "checkpoint.prev.pt"
TRAIN_LOG, MODEL, PROVENANCE, VALIDATION = "train_log.csv", "model.pt", "provenance.json", "validation.csv"
EVAL_DIR = "eval"  # a run's evaluation (harness.paths)


def is_run_file(name: str) -> bool:
    """Whether a run folder's entry is one that training (or the run's evaluation) writes; temporary
    files of atomic writes start with a dot, unreadable checkpoints end in .corrupt."""
    return (name in (CHECKPOINT, PREVIOUS_CHECKPOINT, TRAIN_LOG, MODEL, PROVENANCE, VALIDATION, EVAL_DIR)
            or name.startswith(".") or name.endswith(".corrupt"))

# the fields that say which job a model.pt comes from ("variant" holds the job's name: the variant,
# or the teacher's arch), and those a changed config makes stale
WHO = ("role", "variant", "dataset", "seed")
HOW = ("spec", "width", "image_size", "code")


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
    if "code" in wrong:  # name the files that changed, not two maps of digests
        changed = sorted(f for f in {*record["code"], *expect["code"]}
                         if record["code"].get(f) != expect["code"].get(f))
        raise ValueError(f"{path} ({describe(record)}) was trained by other code: {', '.join(changed)} "
                         f"changed since (or the model was trained in another checkout): retrain it, or where "
                         f"the edit changes no number, accept it (inpaint-bench restamp --config CONFIG)")
    if wrong:
        changes = "; ".join(f"{k} {record[k]} (the config now gives {expect[k]})" for k in wrong)
        raise ValueError(f"{path} ({describe(record)}) was trained with {changes}: retrain it")


def check_job(path: Path, record: dict, job: dict) -> None:
    """Refuses a model trained for another job than `job` (jobs.resolve): other settings, another
    listing of the dataset's files, another teacher. It would be a result older than what it is said
    to be computed from."""
    if "job" not in record:
        raise ValueError(f"{path} records no job description: it was written by an older "
                         f"inpaint_bench.training.train and cannot be checked against this job; retrain it")
    changed = job_differences(record["job"], job)
    if changed:
        files = any(key.startswith(("listing", "teacher_job.listing")) for key in changed)
        raise ValueError(f"{path} ({describe(record)}) was trained for another job: {', '.join(changed[:6])} "
                         f"differ{' (the dataset or mask files changed since)' if files else ''}; retrain it")


def load_model_file(path: str | Path, device="cpu", expect: dict | None = None, job: dict | None = None):
    """Reads a `model.pt` written by training: returns (model in eval mode, record). `expect` (fields of
    WHO and HOW) and `job` (the whole train job: `check_job`) are checked against the record before
    any weight is used."""
    from inpaint_bench.models import build_model

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a model file: pass the model.pt inside it "
                         f"(e.g. {path / MODEL})")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: train the variant first "
                                f"(inpaint-bench train ...)")
    record = read_torch_file(path, "model file", device)
    if isinstance(record, dict) and "signature" in record and "optimizer" in record:
        raise ValueError(f"{path} is a training checkpoint, not a model file: pass the run's model.pt "
                         f"(written when training finishes)")
    if not isinstance(record, dict) or not {"spec", "width", "state_dict"} <= record.keys():
        raise ValueError(f"{path} is not a model file written by training.train")
    if expect:
        check_identity(path, record, expect)
    if job:
        check_job(path, record, job)
    # the spec's `init` file was the start of training: the trained weights follow, so it is not read
    model = build_model({k: v for k, v in record["spec"].items() if k != "init"}, record["width"])
    try:
        model.load_state_dict(record["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path}: its weights do not fit the architecture {record['spec']} (written by "
                         f"other code?): retrain it ({str(err).splitlines()[0]})") from err
    return model.to(device).eval(), record


@functools.cache
def code_digest() -> str:
    """A digest of the harness's source that training runs (every .py file of training/ and the packages
    below it): a checkpoint written by other code, e.g. before a fix in models/, is not resumed."""
    digest = hashlib.sha256()
    for package in [p for p, floor in FLOORS.items() if floor <= FLOORS["training"]]:
        folder = Path(importlib.import_module(f"inpaint_bench.{package}").__path__[0])
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{package}/{path.name}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def run_signature(job: dict, dtype: torch.dtype) -> dict:
    """What a checkpoint must have been written for to be resumed: the same job at the same precision,
    by the same code."""
    return {"job": job, "precision": str(dtype), "code": code_digest()}


def _other(state, signature: dict) -> str:
    """What differs between a checkpoint's signature and this run's, in words."""
    recorded = state.get("signature") if isinstance(state, dict) else None
    if not isinstance(recorded, dict):
        return "written for other settings"
    parts = [what for key, what in (("job", "another job description"), ("precision", "another precision"),
                                    ("code", "other code (the harness's source changed since)"))
             if recorded.get(key) != signature[key]]
    return "written for " + ", ".join(parts)


def checkpoint_state(*, signature: dict, step: int, model, optimizer, distill, log_rows: list,
                     validation_rows: list, threads_used: list, processes: int) -> dict:
    """Everything a resumed run needs to go on as if it had never stopped, the torch RNG included."""
    return {"signature": signature, "step": step, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "log_rows": log_rows, "validation_rows": validation_rows,
            "distill": distill.state_dict() if distill else None,
            "torch_rng": torch.get_rng_state(), "threads_used": threads_used, "processes": processes}


def save_checkpoint(out: Path, state: dict) -> None:
    """Writes checkpoint.pt atomically, keeping the one it replaces as checkpoint.prev.pt, then the log
    up to its step (so that a stopped run's log ends where its checkpoint does)."""
    atomic_torch_save(state, out / CHECKPOINT, previous=out / PREVIOUS_CHECKPOINT)
    write_train_log(out, state["log_rows"])


def write_train_log(out: Path, rows: list) -> None:
    if rows:
        write_csv(out / TRAIN_LOG, rows)


def load_checkpoint(out: Path, signature: dict, device, move_corrupt: bool,
                    total_steps: int | None = None) -> tuple[Path, dict] | None:
    """The newest usable checkpoint of `out` and its path: checkpoint.pt, else checkpoint.prev.pt; None
    if neither is. An unreadable file is moved aside (*.corrupt, by the process given `move_corrupt`)
    so that the next run does not fail on it again; one written for another signature is skipped, and
    so is one of a complete run (`total_steps` reached): running a finished job again (snakemake
    --forcerun, a new model.pt wanted) trains it again, from step 0."""
    corrupt = False
    for path in (out / CHECKPOINT, out / PREVIOUS_CHECKPOINT):
        if not path.exists():
            continue
        try:
            state = read_torch_file(path, "training checkpoint", device)
        except ValueError as err:
            aside = path.with_name(path.name + ".corrupt")
            if move_corrupt:
                os.replace(path, aside)
            warnings.warn(f"{err}; moved it to {aside}", stacklevel=1)
            corrupt = True
            continue
        if not isinstance(state, dict) or state.get("signature") != signature:
            warnings.warn(f"{path} was {_other(state, signature)}; not resuming from it", stacklevel=1)
            continue
        if total_steps is not None and state.get("step", 0) >= total_steps:
            warnings.warn(f"{path} is of a complete run (step {state['step']} of {total_steps}): training this "
                          f"job again starts from step 0", stacklevel=1)
            return None
        return path, state
    if corrupt:
        warnings.warn(f"no usable checkpoint in {out}: training starts from step 0", stacklevel=1)
    return None


def restore_checkpoint(path: Path, state: dict, model, optimizer, distill) -> None:
    """Puts the checkpoint's weights, optimiser moments and torch RNG state back in place."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if distill:
        distill.load_state_dict(state["distill"])
    torch.set_rng_state(state["torch_rng"])
    if path.name == PREVIOUS_CHECKPOINT:
        warnings.warn(f"resuming from the previous checkpoint {path} (step {state['step']})", stacklevel=1)


def threads_used_after_resume(path: Path, state: dict, threads: int, processes: int) -> list[int]:
    """The torch thread count of each segment of a resumed run, this one's last. Float sums are ordered
    by the thread and process counts, so a resume with other counts is allowed, with a warning."""
    before = state.get("threads_used", [])
    if before and before[-1] != threads:
        warnings.warn(f"{path} was written with {before[-1]} torch threads, this run uses "
                      f"{threads}: the final weights will differ slightly from an "
                      f"uninterrupted run (pass --threads {before[-1]} to match it)", stacklevel=1)
        used = before + [threads]
    else:
        used = before or [threads]
    if state.get("processes", 1) != processes:
        warnings.warn(f"{path} was written by {state.get('processes', 1)} training processes, this "
                      f"run has {processes}: the same batches, but float sums are ordered otherwise "
                      f"and the final weights will differ slightly from an uninterrupted run",
                      stacklevel=1)
    return used


def remove_checkpoints(out: Path) -> list[Path]:
    """Removes the resumable state of a finished run (model.pt written): checkpoint.pt and
    checkpoint.prev.pt hold the model and Adam's moments, about twice model.pt's size, and a finished job
    trained again starts from step 0 anyway. Returns what it removed."""
    if not (out / MODEL).is_file():
        raise FileNotFoundError(f"{out / MODEL} is not there: the checkpoints of an unfinished run are kept")
    removed = [out / name for name in (CHECKPOINT, PREVIOUS_CHECKPOINT) if (out / name).is_file()]
    for path in removed:
        path.unlink()
    return removed


def save_model_file(out: Path, model, job: dict, steps: int, notes: list, threads_used: list,
                    processes: int) -> Path:
    """Writes model.pt: the final weights with the job's identity (WHO and HOW, as load_model_file
    checks it) and how they were trained."""
    record = {"state_dict": model.state_dict(), "spec": job["spec"], "width": job["width"], "code": job["code"],
              "image_size": job["image_size"], "dataset": job["dataset"], "variant": job["name"],
              "seed": job["seed"], "role": job["role"], "job": job, "steps": steps, "notes": notes,
              "threads_used": threads_used, "processes": processes}
    return atomic_torch_save(record, out / MODEL)
