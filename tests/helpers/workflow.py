"""The repository's paths and the Snakemake command line, as the tests run them."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from inpaint_bench.packages import FLOORS

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
PACKAGES = tuple(FLOORS)  # the folders installed as inpaint_bench.<package> (setup.py)


def venv_env(**extra) -> dict:
    """The environment with this interpreter's bin folder first on PATH (Snakemake's jobs run `python`)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra}


def snakemake(workdir, *args, check=True, env=None, timeout=None, checkout=REPO):
    """Snakemake on the Snakefile of `checkout` (the repository's; another one's is run from its folder,
    as a researcher would) in `workdir`; on failure (with `check`) the assertion shows the ends of its
    output and of every job log."""
    command = [*SNAKEMAKE[:-1], str(Path(checkout) / "Snakefile")]
    proc = subprocess.run(command + ["--directory", str(workdir), *map(str, args)], capture_output=True,
                          text=True, env=env or venv_env(), timeout=timeout,
                          cwd=None if Path(checkout) == REPO else checkout)
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


def copy_checkout(dest: Path, importable: bool = False) -> tuple[Path, dict]:
    """A copy of this checkout's files (tracked and untracked, not ignored) at `dest`, and the environment
    to run it with. With `importable`, that environment imports `inpaint_bench` from the copy, as its own
    `pip install -e .` would (links in its inpaint_bench/ laid out as setup.py's package-dir
    mapping, the copy first on PYTHONPATH); without, from this checkout, as this venv does."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    if not importable:
        return dest, venv_env()
    for name in PACKAGES:
        (dest / "inpaint_bench" / name).symlink_to(dest / name)
    return dest, venv_env(PYTHONPATH=str(dest))
