"""`inpaint-bench rehearse` (`make rehearse`): a paper config run for real, every row at its own image size
and width, on generated trees in the official dataset layouts (datasets/fixture_trees.py), with a few
training steps at batch 1, through the tables and the report; any failing job fails it. One dataset
carries every row (both studies, every DGI teacher and student); the other two loaders run one row
each. What it proves and what it costs: docs/scale.md, "Rehearsing a paper run".

    inpaint-bench rehearse [--config config/paper.yaml] [--out results_rehearsal] [--cores 2]
        [--steps 1] [--finetune-steps 1] [--variants a b ...]
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

import yaml

from inpaint_bench.datasets.fixture_trees import write_trees
from inpaint_bench.harness.config import REPO_ROOT
from inpaint_bench.jobs.validate import load_config

ALL_ROWS_DATASET = "paris"  # the smallest real dataset of the papers carries every row
ONE_ROW = "rfr_kca"  # the row the other loaders run: RFR-Net itself


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO_ROOT / "config" / "paper.yaml"), help="the paper config to rehearse")
    p.add_argument("--out", default="results_rehearsal", help="folder of the trees, configs and results")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--steps", type=int, default=1, help="training steps of every row (then --finetune-steps)")
    p.add_argument("--finetune-steps", type=int, default=1)
    p.add_argument("--variants", nargs="+", help="only these rows (default: every row of the config)")
    return p.parse_args(argv)


def rehearsal_configs(paper: Path, out: Path, trees: dict, steps: int, finetune_steps: int,
                      variants: list[str] | None = None) -> list[Path]:
    """Two configs on `paper` (`base:`): every row on ALL_ROWS_DATASET, and ONE_ROW on the other datasets.
    Real image size and width; batch 1, a few steps, no pretrained weights required."""
    config = load_config(str(paper))
    rows = {name: spec for name, spec in config["variants"].items() if not variants or name in variants}
    schedule = {"steps": steps, "finetune_steps": finetune_steps}
    datasets = {name: {**{k: v for k, v in spec.items() if k not in ("root", "train")}, "root": str(trees[name]),
                       "train": schedule} for name, spec in config["datasets"].items()}
    common = {
        "base": str(paper.resolve()),
        "threads_per_job": 1,
        "resources": {job: {"gpu": 0, "mem_mb": 8000, "runtime": 60} for job in ("train", "evaluate")},
        "masks": {"nvidia_dir": str(trees["masks"])},
        # batch 1, a checkpoint at the last step only (at 256 px a row's checkpoint is 0.3-0.4 GB)
        "train": {"batch_size": 1, "log_every": 1, "num_workers": 0},
        "eval": {"batch_size": 2},
        "weights": {"dir": str(out / "weights"), "required": False, "download": False},
        "report": {"note": f"A rehearsal on generated trees ({steps} + {finetune_steps} steps at batch 1): "
                           f"it proves the jobs run, its numbers mean nothing.",
                   "schedule_of": str(paper.resolve())},  # its tables then say in their first line how short
    }
    one_row = ONE_ROW if ONE_ROW in rows else next(iter(rows))
    parts = {"all_rows": ({ALL_ROWS_DATASET: datasets[ALL_ROWS_DATASET]}, rows),
             "loaders": ({k: v for k, v in datasets.items() if k != ALL_ROWS_DATASET}, {one_row: rows[one_row]})}
    paths = []
    for name, (part_datasets, part_rows) in parts.items():
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**common, "results_dir": str(out / name), "datasets": part_datasets,
                                        "variants": part_rows}, sort_keys=False))
        paths.append(path)
    return paths


def missing_rows(config_path: Path) -> list[str]:
    """(dataset, variant) pairs of the config without a row in its summary.csv."""
    config = load_config(str(config_path))
    summary = Path(config["results_dir"]) / "summary.csv"
    with open(summary, newline="") as f:
        present = {(row["dataset"], row["variant"]) for row in csv.DictReader(f)}
    return [f"{d}/{v}" for d in config["datasets"] for v in config["variants"] if (d, v) not in present]


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"rehearse: writing dataset trees and an NVIDIA-style mask folder under {out / 'trees'}", flush=True)
    trees = write_trees(out / "trees", train=4, test=2, masks_per_bucket=1)
    configs = rehearsal_configs(Path(args.config), out, trees, args.steps, args.finetune_steps, args.variants)
    snakemake = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(out)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for config in configs:
        print(f"rehearse: {config.name}", flush=True)
        run = ["--cores", str(args.cores), "--rerun-incomplete"]
        for extra in (run, ["--report", str(config.with_suffix(".html"))]):
            if subprocess.run([*snakemake, "--configfile", str(config), *extra], env=env).returncode:
                print(f"rehearse: FAILED at {config} ({' '.join(extra)}); the job logs are under "
                      f"{out / config.stem / 'logs'}", file=sys.stderr)
                return 1
        missing = missing_rows(config)
        if missing:
            print(f"rehearse: FAILED: {config.name}: no scores for {', '.join(missing)}", file=sys.stderr)
            return 1
    print(f"rehearse: every row ran; tables under {out}/*/tables, reports {out}/*.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
