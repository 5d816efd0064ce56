"""The log of a workflow job: everything the job prints, warnings and a failure's traceback go to
the log file Snakemake declared for it (and Snakemake shows it when the job fails). Before any work,
the job checks that the inpaint_bench it imported is its own workflow's checkout (harness.checkout)
and imports the config's `extensions` (harness.extensions).
An expected fault (a bad file or setting: ValueError, OSError, FloatingPointError, whose messages name
the culprit) ends the job with `error: <message>`, one line in the log and on the terminal, as the
command-line tools do; other exceptions, and every one with HARNESS_DEBUG=1, show their traceback."""
from __future__ import annotations

import contextlib
import os
import traceback
from pathlib import Path

from inpaint_bench.harness.checkout import check_checkout
from inpaint_bench.harness.extensions import load_extensions


@contextlib.contextmanager
def job_log(path: str | Path, script: str | Path, extensions=()):
    """`script`: the job script's `__file__` (<checkout>/workflow/scripts/<rule>.py); `extensions`: the
    config's extension files, imported before the job's work (a missing or failing one: one line)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            check_checkout(Path(script).resolve().parents[2])
            load_extensions(extensions)
            yield
        except (ValueError, OSError, FloatingPointError) as err:
            if os.environ.get("HARNESS_DEBUG") == "1":
                traceback.print_exc()
                raise
            print(f"error: {err}", flush=True)
            raise SystemExit(f"error: {err}") from None  # printed on the terminal, exit status 1
        except BaseException:
            traceback.print_exc()
            raise
