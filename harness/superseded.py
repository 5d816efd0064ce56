"""Finished work is not overwritten by a job for another description.

When the workflow is about to run a job whose outputs folder (`key`: runs/<dataset>/<variant>/seed<n>,
its eval/, a teacher's folder) holds the outputs of another job description (a changed `train.steps`,
say), the folder first moves to <results>/superseded/<key>/<old digest>/ (harness.paths), with the old
description (<old digest>.json) and the old job's log (<old digest>.log) beside it; a training run is
days of GPU time at paper scale. `keep_superseded: false` deletes it instead.

Which description the outputs were computed for is read from results/jobs/<key>/, the file of the
last description the workflow ran the job for (rule describe_job removes the older ones). A job run
again for the same description (resuming after an interruption, --forcerun) keeps its folder, and so
do outputs whose description is unknown (results/jobs/ deleted).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from inpaint_bench.harness.paths import ResultsLayout


def _free(dest: Path) -> Path:
    """`dest`, or `dest`-2, -3 ... when an earlier run of the same description was kept already."""
    n, free = 1, dest
    while free.exists() or free.with_name(free.name + ".json").exists():
        n += 1
        free = dest.with_name(f"{dest.name}-{n}")
    return free


def set_aside(layout: ResultsLayout, key: str, digest: str, logs=(), keep: bool = True) -> str | None:
    """Before a job for the description `digest` replaces the outputs `key` names: moves them aside
    (or deletes them, `keep` false) when they were computed for another description; `logs` are the
    job's log files. Returns what was done, in words, or None when nothing was to be done."""
    current = layout.job_file(key, digest)
    folder = layout.root / key
    if current.exists() or not folder.is_dir() or not any(folder.iterdir()):
        return None
    described = sorted(current.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not described:
        return None
    old = described[-1]
    if not keep:
        shutil.rmtree(folder)
        return f"deleted {folder}, the outputs of its earlier job {old.stem} (keep_superseded: false)"
    dest = _free(layout.superseded(key, old.stem))
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(folder, dest)  # a rename, within results_dir
    shutil.copy2(old, dest.with_name(dest.name + ".json"))
    for log in map(Path, logs):
        if log.is_file():
            shutil.move(log, dest.with_name(dest.name + ".log"))
    return (f"kept the outputs of {key} computed for its earlier job {old.stem} in {dest} (the job now runs "
            f"for {digest}); delete that folder when you no longer need it")


def superseded_note(layout: ResultsLayout, job_file: str | Path) -> str | None:
    """For a job's log: where the earlier outputs of its folder, for other descriptions, are kept."""
    folder = layout.superseded(layout.job_key(job_file)[0])
    kept = sorted(p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f]{16}(-\d+)?", p.name)) \
        if folder.is_dir() else []
    if not kept:
        return None
    return f"earlier outputs of this job's folder, computed for other job descriptions, are kept in {folder}: " \
           f"{', '.join(kept)}"
