"""The repository's paths and the Snakemake command line, as the tests run them."""
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def venv_env(**extra) -> dict:
    """The environment with this interpreter's bin folder first on PATH (Snakemake's jobs run `python`)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra}


def snakemake(workdir, *args, check=True, env=None, timeout=None):
    """Snakemake on the repository's Snakefile in `workdir`; on failure (with `check`) the assertion shows
    the ends of its output and of every job log."""
    proc = subprocess.run(SNAKEMAKE + ["--directory", str(workdir), *map(str, args)], capture_output=True,
                          text=True, env=env or venv_env(), timeout=timeout)
    if check and proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for pattern in ("results/logs/**/*.log",
                                                                            ".snakemake/slurm_logs/**/*.log")
                         for p in Path(workdir).glob(pattern))
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}")
    return proc


def planned_jobs(output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job in a dry run's output."""
    jobs = []
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            jobs.append((m.group(1), ""))
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and jobs:
            jobs[-1] = (jobs[-1][0], m.group(1))
    return jobs
