"""Accepts the existing results under the current code, for an edit known to change no number (a log
message, a refactor): the only way a result outlives a change of the code it was computed by.

    inpaint-bench restamp --config FILE [--dry-run]

Run it where `snakemake` runs (results_dir is relative to it). For every job of the config's workflow
(jobs.resolve.workflow_jobs) whose job file (results/jobs/<key>/<digest>.json) is not the current
description:
- the recorded description differs from the current one in code only: the result is re-stamped. The
  new job file replaces the old one (with its file time), and a record (when, the job digests, each
  file whose digest changed: old -> new) is appended to `<digest>.restamped.json` beside it and to
  the result's provenance.json (a model's, an evaluation's; model.pt takes the new code and job);
- it differs in anything else (config, the data's listing): refused, naming what differs; snakemake
  re-runs it.
Files keep their modification times, and Snakemake's records of the re-stamped outputs are cleared
(`snakemake --cleanup-metadata`, whose params would still hold the old code), so that `snakemake -n`
plans nothing for them. It holds the results folder's lock (harness.results_lock) while it writes:
a workflow run on the same results stops it, naming the run. Exit status 1 when a result was refused.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from inpaint_bench.harness.config import REPO_ROOT, layout
from inpaint_bench.harness.fileio import atomic_torch_save, atomic_write_text, read_torch_file
from inpaint_bench.harness.results_lock import acquire, release
from inpaint_bench.jobs.resolve import job_differences, job_digest, workflow_jobs
from inpaint_bench.jobs.validate import load_config

CODE_KEY = re.compile(r"(?:^|\.)(?:code|teacher_code)(?:\.|$)")
RECORDS = ".restamped.json"  # beside a job file: its result's re-stamps
MODEL, PROVENANCE = "model.pt", "provenance.json"  # a run's model file, a run's or an evaluation's record


def code_files(job) -> dict[str, str]:
    """Every file -> digest of a job description's code maps (its own, its training's, its teacher's)."""
    found = {}
    if isinstance(job, dict):
        for key, value in job.items():
            if key in ("code", "teacher_code") and isinstance(value, dict):
                found.update(value)
            else:
                found.update(code_files(value))
    return found


def compare(old: dict, new: dict) -> tuple[dict[str, list], list[str]]:
    """(file -> [old digest, new digest] of each file whose digest changed, the other keys that differ)."""
    other = [key for key in job_differences(old, new) if not CODE_KEY.search(key)]
    before, after = code_files(old), code_files(new)
    files = {f: [before.get(f), after.get(f)] for f in sorted({*before, *after}) if before.get(f) != after.get(f)}
    return files, other


def outputs(config: dict, kind: str, parts: tuple) -> list[Path]:
    """The files the workflow's rule for `kind` writes (as workflow/rules/*.smk declare them)."""
    r = layout(config)
    if kind == "train":
        return [r.run_dir(*parts) / name for name in (MODEL, "train_log.csv", "validation.csv")]
    if kind == "teacher":
        return [r.teacher_dir(*parts) / MODEL]
    if kind == "eval":
        return [r.eval_dir(*parts) / name for name in ("summary.csv", "per_image.csv", "samples", PROVENANCE)]
    if kind == "validation":
        return [r.classical_validation(*parts)]
    if kind == "masks":
        return [r.masks_dir(config["image_size"], *parts) / "manifest.csv"]
    if kind == "data":
        return [r.data_dir(*parts) / "manifest.csv"]
    if kind == "summary":
        return [r.summary(), r.summary().with_name("summary_over_seeds.csv"), r.root / "report" / "config.html"]
    if kind == "tables":
        return [r.table(t, ext) for t in (parts[0], f"{parts[0]}_ablation") for ext in ("csv", "md", "tex", "html")]
    if kind == "paper":  # the paper views and the scorecard, the folder's only files
        return sorted((r.root / "paper").glob("*.*"))
    if kind == "plots":
        return [r.plot(parts[0], k) for k in ("metrics", "paired", "loss", "qualitative")]
    return [r.plot(parts[0], "validation")]


def _keeping_time(path: Path, write) -> None:
    """Rewrites `path` with `write(path)`, keeping its modification time: the workflow sees it as it was."""
    stat = path.stat()
    write(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _stamp_provenance(path: Path, job: dict, record: dict) -> None:
    if not path.is_file():
        return
    provenance = json.loads(path.read_text())
    provenance["job"] = job
    if "code" in provenance:
        provenance["code"] = job["code"]
    provenance.setdefault("restamped", []).append(record)
    _keeping_time(path, lambda p: atomic_write_text(p, json.dumps(provenance, indent=2, default=str)))


def _stamp_model(path: Path, job: dict, record: dict) -> None:
    if not path.is_file():
        return
    saved = read_torch_file(path, "model file")
    saved.update(code=job["code"], job=job)
    saved.setdefault("restamped", []).append(record)
    _keeping_time(path, lambda p: atomic_torch_save(saved, p))


def restamp(config: dict, key: str, kind: str, old_file: Path, job: dict, record: dict) -> None:
    """Puts the result of `key` under the description `job`, recording `record` (see the module)."""
    results = layout(config)
    new_file = results.job_file(key, job_digest(job))
    old_records = old_file.with_name(old_file.stem + RECORDS)
    records = json.loads(old_records.read_text()) if old_records.is_file() else []
    atomic_write_text(new_file, json.dumps(job, indent=2, sort_keys=True))  # as rule describe_job writes it
    stat = old_file.stat()
    os.utime(new_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    atomic_write_text(new_file.with_name(new_file.stem + RECORDS), json.dumps(records + [record], indent=2))
    if kind in ("train", "teacher"):
        _stamp_model(results.root / key / MODEL, job, record)
    if kind in ("train", "teacher", "eval"):
        _stamp_provenance(results.root / key / PROVENANCE, job, record)
    for path in (old_file, old_records):
        path.unlink(missing_ok=True)


def clear_snakemake_records(config_path: str, paths: list[Path]) -> None:
    """Snakemake's records (params, input, code) of `paths`, which hold the old descriptions, removed
    with its documented --cleanup-metadata; a file it has no record of is no error."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--configfile",
               config_path, "--cleanup-metadata", *map(str, paths)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode and "because the metadata was not present" not in proc.stderr + proc.stdout:
        raise RuntimeError(f"snakemake --cleanup-metadata failed:\n{(proc.stderr or proc.stdout)[-2000:]}")


def _restamp_all(config: dict, now: str, dry_run: bool) -> tuple[list[str], list[str], list[Path]]:
    """(what was re-stamped, what was refused, the outputs whose Snakemake records must go)."""
    results = layout(config)
    stamped, refused, cleared = [], [], []
    for kind, parts, key, job in workflow_jobs(config, {}):
        digest = job_digest(job)
        folder = results.job_file(key, digest).parent
        recorded = sorted(p for p in folder.glob("*.json") if not p.name.endswith(RECORDS)) if folder.is_dir() else []
        if not recorded or any(p.stem == digest for p in recorded):
            continue  # never run, or up to date
        if len(recorded) > 1:
            refused.append(f"{key}: {len(recorded)} job files in {folder}; snakemake re-runs it")
            continue
        old = json.loads(recorded[0].read_text())
        files, other = compare(old, job)
        if other:
            refused.append(f"{key}: its job differs in {', '.join(other[:6])} besides its code; snakemake "
                           f"re-runs it")
            continue
        stamped.append(f"{key}: " + ", ".join(f"{f} {a or '(none)'} -> {b or '(none)'}" for f, (a, b) in files.items()))
        if not dry_run:
            restamp(config, key, kind, recorded[0], job,
                    {"at": now, "job": [recorded[0].stem, digest], "files": files})
            cleared += [p for p in outputs(config, kind, parts) if p.exists()]
    return stamped, refused, cleared


def run(config_path: str, dry_run: bool = False) -> int:
    config = load_config(config_path)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lock = layout(config).lock_file()
    if not dry_run:  # no workflow run writes these results meanwhile (harness.results_lock)
        acquire(lock, REPO_ROOT)
    try:
        stamped, refused, cleared = _restamp_all(config, now, dry_run)
    finally:
        if not dry_run:
            release(lock)
    if cleared:
        clear_snakemake_records(config_path, cleared)
    verb = "would re-stamp" if dry_run else "re-stamped"
    for line in stamped:
        print(f"{verb} {line}")
    if not stamped:
        print("nothing to re-stamp: no result's job differs from this code's in code only")
    for line in refused:
        print(f"not re-stamped {line}", file=sys.stderr)
    return 1 if refused else 0
