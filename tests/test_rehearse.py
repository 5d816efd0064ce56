"""The rehearsal of config/paper.yaml (`make rehearse`): its trees in the official layouts and the configs
it runs, checked by a dry run (the real run is `make rehearse`)."""
import numpy as np
import yaml
from PIL import Image

from helpers.workflow import REPO, planned_jobs, snakemake
from inpaint_bench.cli.rehearse import ALL_ROWS_DATASET, ONE_ROW, rehearsal_configs
from inpaint_bench.datasets.fixture_trees import NVIDIA_BUCKETS, write_trees
from inpaint_bench.datasets.images import build_dataset
from inpaint_bench.datasets.nvidia_masks import nvidia_mask_set
from inpaint_bench.models.registry import is_trainable

PAPER = REPO / "config" / "paper.yaml"


def test_trees_read_through_every_official_loader_and_masks_fill_every_nvidia_bucket(tmp_path):
    trees = write_trees(tmp_path, train=3, test=2, masks_per_bucket=1)
    specs = {"places2": {"kind": "places2", "train_set": "challenge"}, "celeba": {"kind": "celeba"},
             "paris": {"kind": "paris"}}
    for name, spec in specs.items():
        for split, count in (("train", 3), ("test", 2)):
            images = build_dataset({**spec, "root": str(trees[name])}, split, 256)
            assert len(images) == count, (name, split)
            picture = images[0]["image"]
            assert picture.shape == (3, 256, 256) and picture.std() > 0.04, (name, split)  # a real photo
    groups = nvidia_mask_set(trees["masks"], NVIDIA_BUCKETS, 256)
    assert [len(files) for files in groups.values()] == [1] * 6
    assert Image.open(trees["masks"] / "00000.png").size == (512, 512)


def test_the_rehearsal_plans_every_row_on_one_dataset_and_one_row_on_the_other_loaders(tmp_path):
    trees = write_trees(tmp_path / "trees", train=2, test=1, masks_per_bucket=1)
    all_rows, loaders = rehearsal_configs(PAPER, tmp_path, trees, steps=2, finetune_steps=1)
    paper = yaml.safe_load(PAPER.read_text())
    trainable = {v for v, spec in paper["variants"].items() if is_trainable(spec)}
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--configfile", str(all_rows)).stdout)
    trained = {w for r, w in jobs if r == "train"}
    assert trained == {f"dataset={ALL_ROWS_DATASET}, variant={v}, seed=0" for v in trainable}
    assert {w.split("variant=")[1].split(",")[0] for r, w in jobs if r == "evaluate"} == set(paper["variants"])
    assert any(r == "train_teacher" for r, _ in jobs)
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--configfile", str(loaders)).stdout)
    assert {w for r, w in jobs if r == "train"} == {
        f"dataset={d}, variant={ONE_ROW}, seed=0" for d in paper["datasets"] if d != ALL_ROWS_DATASET}
    # the paper's size and width, batch 1, the rehearsal's steps, no weights needed
    written = yaml.safe_load(all_rows.read_text())
    assert written["base"] == str(PAPER.resolve()) and "image_size" not in written and "width" not in written
    assert written["train"]["batch_size"] == 1 and written["weights"]["required"] is False
    assert written["datasets"][ALL_ROWS_DATASET]["train"] == {"steps": 2, "finetune_steps": 1}
    assert np.isclose(paper["image_size"], 256) and paper["width"] == 64
