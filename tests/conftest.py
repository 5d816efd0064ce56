import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

# the fake results tree's fixtures (results, ablation), for every test module that asks for them
pytest_plugins = ["helpers.fake_results"]

# The files that take minutes, longest first, collected before the others: pytest-xdist (`make test`:
# `--dist loadfile`) hands whole files to its workers in collection order, so a long file collected
# last (test_slurm, test_workflow: alphabetical) kept one worker busy for minutes while the other idled.
LONG_FILES = ("test_slurm.py", "test_workflow.py", "test_colour_prior.py", "test_faults.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: LONG_FILES.index(item.path.name) if item.path.name in LONG_FILES
               else len(LONG_FILES))  # stable: every file keeps its own order



def tree_bytes(root) -> dict:
    """Relative path -> bytes of every file under root: equal trees are byte-identical builds."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = open(p, "rb").read()
    return out


def state_dict(path) -> dict:
    """The weights stored in a model.pt or checkpoint.pt."""
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    """Two state dicts with the same keys and bit-identical tensors (the failing key is named)."""
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def toy_train_command(config_path, seed: int, variant: str = "pconv") -> list[str]:
    """The training CLI on the `toy` dataset of `tiny_config`, one thread (append --out DIR)."""
    return [sys.executable, "-m", "inpaint_bench.cli", "train", "--config", str(config_path), "--dataset", "toy",
            "--variant", variant, "--seed", str(seed), "--threads", "1"]


def write_images(folder: Path, count: int, size: int = 40, seed: int = 0) -> None:
    """Smooth random colour images (so that inpainting is learnable), as PNG files."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        a, b, c = rng.uniform(0, 1, 3), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
        img = np.clip(a + b * xx[..., None] * 0.5 + c * yy[..., None] * 0.5, 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"img{i:03d}.png")


@pytest.fixture
def tiny_config(tmp_path):
    """A config file for a 32x32 folder dataset and tiny networks; returns (path, dict)."""
    data = tmp_path / "data"
    write_images(data / "train", 12, seed=1)
    write_images(data / "test", 4, seed=2)
    config = {
        "results_dir": str(tmp_path / "results"),
        "seeds": [0],
        "image_size": 32,
        "width": 4,
        "datasets": {"toy": {"kind": "folder", "root": str(data)}},
        "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 4},
        "train": {"steps": 6, "batch_size": 2, "checkpoint_every": 2, "log_every": 1, "precision": "fp32",
                  "keep_checkpoint": True},  # the tests of resuming read the checkpoints of finished runs
        "eval": {"batch_size": 4, "samples": 1},
        "variants": {
            "pconv": {"backbone": "pconv", "layers": 3},
            "mean_fill": {"backbone": "mean_fill"},
        },
    }
    path = tmp_path / "config.yaml"

    def write(cfg=config):
        path.write_text(yaml.safe_dump(cfg))
        return path

    write()
    return path, config, write
