"""Which checkout's code runs. An environment's editable install (`pip install -e .`) binds
`inpaint_bench` to one checkout, so a second checkout run with that environment would run the first
one's code in every job, silently: the Snakefile and every workflow job refuse that at once, naming
both folders. Training records the checkout it ran (path, git commit, uncommitted changes) in
provenance.json.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from inpaint_bench.harness.config import REPO_ROOT


class CheckoutMismatch(RuntimeError):
    """The workflow's folder is not the checkout `inpaint_bench` is imported from."""


def check_checkout(workflow_dir: str | Path) -> None:
    """Raises CheckoutMismatch unless `inpaint_bench` is imported from `workflow_dir`."""
    workflow_dir = Path(workflow_dir).resolve()
    if workflow_dir != REPO_ROOT:
        raise CheckoutMismatch(
            f"this workflow is the checkout {workflow_dir}, but the inpaint_bench it imports comes from the "
            f"checkout {REPO_ROOT}, whose code every job would run. Give each checkout its own environment: "
            f"run `pip install -e .` in {workflow_dir} with the Python you run it with, or `make` there "
            f"(it creates {workflow_dir / '.venv'}), and run that environment's snakemake")


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def source_record() -> dict:
    """The checkout this code comes from: its path, git commit and whether its work tree has changes
    (tracked or untracked files: a new module of models/ is code too); commit and dirty are None outside
    a git repository."""
    commit, status = _git("rev-parse", "HEAD"), _git("status", "--porcelain")
    return {"path": str(REPO_ROOT), "commit": commit.strip() if commit else None,
            "dirty": bool(status.strip()) if status is not None else None}
