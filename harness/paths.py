"""The layout of the results folder, defined once: the workflow's rules, the command-line tools and
the tests all ask this module where a file goes (every file's format: docs/file-formats.md).

    <results>/data/<dataset>/                      built mini datasets (manifest.csv marks a complete build)
    <results>/masks/<size>px_seed<seed>/           fixed test masks + manifest.csv
    <results>/runs/<dataset>/<variant>/seed<seed>/ model.pt, checkpoint.pt, train_log.csv, provenance.json, eval/
    <results>/teachers/<dataset>/<arch>/seed<seed>/ DGI teachers
    <results>/cache/                               ground-truth Inception features
    <results>/summary.csv, summary_over_seeds.csv, tables/, plots/, report/, logs/
    <results>/jobs/<outputs>/<digest>.json          what the outputs of <outputs> were computed from
    <results>/superseded/<outputs>/<digest>/       outputs of an earlier description, kept (harness.superseded)
    <results>/.lock                                held by the workflow run using the folder (harness.results_lock)
"""
from __future__ import annotations

from pathlib import Path


def table_name(dataset: str, ext: str) -> str:
    """A dataset's table file in a tables folder (also for reporting's command-line tools)."""
    return f"{dataset}.{ext}"


def plot_name(dataset: str, kind: str) -> str:
    """A dataset's plot file in a plots folder (also for reporting's command-line tools)."""
    return f"{dataset}_{kind}.png"


class ResultsLayout:
    def __init__(self, results_dir: str | Path):
        self.root = Path(results_dir)

    def data_dir(self, dataset: str) -> Path:
        return self.root / "data" / dataset

    def masks_dir(self, size: int, mask_seed: int) -> Path:
        """The test mask set drawn with `masks.seed` (one set for every training seed)."""
        return self.root / "masks" / f"{size}px_seed{mask_seed}"

    def run_dir(self, dataset: str, variant: str, seed: int) -> Path:
        return self.root / "runs" / dataset / variant / f"seed{seed}"

    def classical_validation(self, dataset: str, variant: str) -> Path:
        """A classical row's scores on the validation split (one for every seed: nothing is trained)."""
        return self.root / "runs" / dataset / variant / "validation.csv"

    def eval_dir(self, dataset: str, variant: str, seed: int) -> Path:
        return self.run_dir(dataset, variant, seed) / "eval"

    def teacher_dir(self, dataset: str, arch: str, seed: int) -> Path:
        return self.root / "teachers" / dataset / arch / f"seed{seed}"

    def cache_dir(self) -> Path:
        return self.root / "cache"

    def summary(self) -> Path:
        return self.root / "summary.csv"

    def table(self, dataset: str, ext: str) -> Path:
        return self.root / "tables" / table_name(dataset, ext)

    def paper(self, name: str, ext: str) -> Path:
        """A published table in the paper's shape beside ours, or the scorecard (reporting.paper)."""
        return self.root / "paper" / table_name(name, ext)

    def plot(self, dataset: str, kind: str) -> Path:
        return self.root / "plots" / plot_name(dataset, kind)

    def job_file(self, key: str, digest: str) -> Path:
        """The description of the job whose outputs `key` names (e.g. runs/<dataset>/<variant>/seed0),
        under its digest: the workflow's input that makes a changed job run again."""
        return self.root / "jobs" / key / f"{digest}.json"

    def job_key(self, job_file: str | Path) -> tuple[str, str]:
        """(key, digest) of a job file (the inverse of `job_file`)."""
        path = Path(job_file).relative_to(self.root / "jobs")
        return str(path.parent), path.stem

    def superseded(self, key: str, digest: str | None = None) -> Path:
        """Where the outputs `key` names are kept once a job for another description replaces them:
        superseded/<key>/<digest>/ (beside it <digest>.json, the description, and <digest>.log)."""
        folder = self.root / "superseded" / key
        return folder / digest if digest else folder

    def lock_file(self) -> Path:
        return self.root / ".lock"

    def log(self, *parts: str) -> Path:
        """<results>/logs/<parts...>.log"""
        return (self.root / "logs").joinpath(*parts[:-1]) / f"{parts[-1]}.log"
