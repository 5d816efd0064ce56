"""Thin entry point for Snakemake's `script:` directive: runs `python -m <params.module> <params.args>`
from the repository root's packages, with stdout and stderr going to the job's log."""
import contextlib
import importlib
import sys
import traceback
from pathlib import Path

snakemake = globals()["snakemake"]  # injected by Snakemake
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1]))

args = [str(a) for a in snakemake.params.args]
with open(snakemake.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
    print("python -m", snakemake.params.module, " ".join(args), flush=True)
    try:
        importlib.import_module(snakemake.params.module).main(args)
    except BaseException:  # the error belongs in the job's log too, not only on the console
        traceback.print_exc()
        raise
