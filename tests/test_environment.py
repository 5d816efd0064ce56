"""At home in a researcher's environment: Hugging Face's `datasets` installed beside the harness, and
every command-line tool run from a folder outside the repository."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers.workflow import REPO, venv_env
from inpaint_bench.cli import COMMANDS
from inpaint_bench.cli import main as cli_main

CLI = str(Path(sys.executable).parent / "inpaint-bench")


def run(cwd, *args):
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=venv_env())
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_hugging_face_datasets_and_ours_coexist(tmp_path):
    """Both import from any folder: `datasets` is Hugging Face's, ours is inpaint_bench.datasets."""
    out = run(tmp_path, sys.executable, "-c",
              "import datasets, inpaint_bench.datasets as ours; print(datasets.__file__); print(ours.__file__);"
              "print(hasattr(datasets, 'load_dataset'), hasattr(ours, 'build_dataset'))")
    theirs, ours, attributes = out.splitlines()
    assert Path(theirs).parent.parent.name == "site-packages", theirs
    assert ours == str(REPO / "datasets" / "__init__.py")
    assert attributes == "True True"


def test_every_command_answers_help_from_outside_the_repository(tmp_path, monkeypatch, capsys):
    assert run(tmp_path, CLI).startswith("usage: inpaint-bench COMMAND")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["inpaint-bench"])  # the dispatcher names each command in argv[0]
    for command in COMMANDS:  # in this process: each tool's own parser behind the dispatcher
        with pytest.raises(SystemExit) as done:
            cli_main([command, "--help"])
        assert done.value.code == 0 and f"usage: inpaint-bench {command}" in capsys.readouterr().out, command
    # `python -m inpaint_bench.cli COMMAND` is the same dispatcher, without the installed script
    assert "usage: inpaint-bench train" in run(tmp_path, sys.executable, "-m", "inpaint_bench.cli", "train", "--help")
    unknown = subprocess.run([CLI, "trian"], cwd=tmp_path, capture_output=True, text=True, env=venv_env())
    assert unknown.returncode == 2 and "unknown command 'trian'" in unknown.stderr


def test_the_tools_work_together_from_outside_the_repository(tiny_config, tmp_path):
    """masks -> train -> evaluate -> export -> score -> compare, each started in a folder of its own."""
    path, config, _ = tiny_config
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    masks = tmp_path / "masks"
    run(elsewhere, CLI, "masks", "--out", masks, "--size", 32, "--count", 4, "--seed", 0,
        "--buckets", "0.1-0.3", "0.3-0.6")
    job = ["--config", path, "--dataset", "toy", "--seed", 0]
    run(elsewhere, CLI, "train", *job, "--variant", "pconv", "--threads", 1)
    assert (Path(config["results_dir"]) / "runs" / "toy" / "pconv" / "seed0" / "model.pt").is_file()
    run(elsewhere, CLI, "evaluate", *job, "--variant", "pconv", "--masks", masks, "--out", tmp_path / "eval")
    run(elsewhere, CLI, "export", *job, "--masks", masks, "--out", tmp_path / "pairs")
    scores = tmp_path / "scores.csv"
    run(elsewhere, CLI, "score", "--pred", tmp_path / "pairs" / "input", "--gt", tmp_path / "pairs" / "gt",
        "--masks", tmp_path / "pairs" / "masks", "--out", scores)
    ours, theirs = pd.read_csv(tmp_path / "eval" / "per_image.csv"), pd.read_csv(scores)
    assert len(ours) == len(theirs) == 4 * 2  # 4 test images x 2 buckets
    assert "| 0.1-0.3 | PSNR |" in run(elsewhere, CLI, "compare", scores, scores)
