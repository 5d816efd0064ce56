"""The log of a workflow job: everything the job prints, warnings and a failure's traceback go to
the log file Snakemake declared for it (and Snakemake shows it when the job fails)."""
from __future__ import annotations

import contextlib
import traceback
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            yield
        except BaseException:
            traceback.print_exc()
            raise
