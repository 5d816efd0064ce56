"""Dataset kinds as a registry (datasets/kinds.py): the schema's kind names and per-kind keys come from it,
the per-kind checks are each entry's, and a kind registered in a new module (no other file edited) can be
named in a config, validates and reaches a table; README names every kind."""
import importlib.util
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import write_images
from inpaint_bench.datasets import kinds
from inpaint_bench.datasets.kinds import available_dataset_kinds, dataset_kind, register_dataset_kind
from inpaint_bench.harness.config import ConfigError

REPO = Path(__file__).resolve().parent.parent

# A new dataset kind as a user writes it: one module, one decorator. Self-contained, so that it can be
# written anywhere (tmp_path here; a config's extension module elsewhere) and imported before validation.
TOY_KIND_MODULE = '''
"""A toy dataset kind: the PNG images of one flat folder, split by their names' prefix."""
import os

from inpaint_bench.datasets.kinds import register_dataset_kind


@register_dataset_kind(
    "toy_prefix", required=("test_prefix",),
    layout="PNG images named <train_prefix>* (train) and <test_prefix>* (test)",
    keys={"train_prefix": {"type": "string", "description": "the training images' name prefix (default train_)"},
          "test_prefix": {"type": "string", "description": "the test images' name prefix"}})
def list_prefix(spec, root, split):
    prefix = spec["test_prefix"] if split == "test" else spec.get("train_prefix", "train_")
    files = sorted(f for f in os.listdir(root) if f.startswith(prefix) and f.endswith(".png"))
    return [os.path.join(root, f) for f in files], [f[:-4] for f in files], f"toy_prefix {root}"
'''


@pytest.fixture
def registry(monkeypatch):
    """The registry as it is, restored after the test (a kind registered in a test stays in it)."""
    available_dataset_kinds()  # the built-in kinds registered before the copy
    monkeypatch.setattr(kinds, "DATASET_KINDS", dict(kinds.DATASET_KINDS))


@pytest.fixture
def toy_kind(registry, tmp_path):
    """TOY_KIND_MODULE written as a new module in tmp_path and imported."""
    path = tmp_path / "toy_kind.py"
    path.write_text(TOY_KIND_MODULE)
    spec = importlib.util.spec_from_file_location("toy_kind", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return "toy_prefix"


def _datasets_schema():
    from inpaint_bench.jobs.validate import config_schema

    return config_schema()["properties"]["datasets"]["additionalProperties"]["properties"]


def test_the_schema_takes_the_kind_names_and_their_keys_from_the_registry():
    schema = _datasets_schema()
    assert schema["kind"]["enum"] == available_dataset_kinds()
    assert {"mini_natural", "places2", "folder", "filelist", "csv"} <= set(schema["kind"]["enum"])
    assert schema["train_count"]["description"].startswith("kind mini_faces, mini_natural:")
    assert schema["train_set"]["enum"] == ["standard", "challenge"]
    assert schema["file"]["description"].startswith("kind csv:")
    raw = kinds.DATASET_KINDS  # every key of every kind is in the schema, none is written in schema.yaml
    written = (REPO / "config" / "schema.yaml").read_text()
    for entry in raw.values():
        for key in entry.keys:
            assert key in schema and f"        {key}:" not in written


def test_readme_names_every_dataset_kind_in_one_line():
    lines = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("Dataset kinds:")]
    assert len(lines) == 1
    assert sorted(re.findall(r"`([a-z0-9_]+)`", lines[0])) == available_dataset_kinds()


def test_a_kind_from_a_new_module_is_named_in_a_config_validates_and_reaches_a_table(toy_kind, tiny_config,
                                                                                     tmp_path):
    from inpaint_bench.datasets import make_test_masks
    from inpaint_bench.evaluation.evaluate import evaluate
    from inpaint_bench.jobs.resolve import eval_job
    from inpaint_bench.jobs.validate import check_datasets_readable, load_config
    from inpaint_bench.reporting.aggregate import aggregate
    from inpaint_bench.reporting.results import read_per_images
    from inpaint_bench.reporting.stats import Bootstrap
    from inpaint_bench.reporting.tables import write_tables

    root = tmp_path / "flat"
    for split, count in (("train", 6), ("test", 3)):
        write_images(tmp_path / split, count, seed=len(split))
        for image in sorted((tmp_path / split).iterdir()):
            root.mkdir(exist_ok=True)
            shutil.move(image, root / f"{split}_{image.name}")
    path, config, write = tiny_config
    config["datasets"] = {"toy": {"kind": toy_kind, "root": str(root), "test_prefix": "test_"}}
    config["variants"] = {"mean_fill": {"backbone": "mean_fill"}, "biharmonic": {"backbone": "biharmonic"}}
    write(config)
    assert _datasets_schema()["test_prefix"]["description"] == "kind toy_prefix: the test images' name prefix"
    config = load_config(path)
    listings = check_datasets_readable(config)
    assert listings[("datasets", "toy", "test")] and listings[("datasets", "toy", "train")]

    masks = tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=3, seed=0)
    for variant in config["variants"]:
        evaluate(eval_job(config, "toy", variant, 0, listings), tmp_path / "eval" / variant, masks_dir=masks)
    folders = [tmp_path / "eval" / v for v in config["variants"]]
    per_image = read_per_images([f / "per_image.csv" for f in folders])
    assert sorted(set(per_image["image"])) == ["test_img000", "test_img001", "test_img002"]
    paths = write_tables(aggregate([f / "summary.csv" for f in folders]), "toy", tmp_path / "tables",
                         list(config["variants"]), per_image=per_image, baseline_row="mean_fill",
                         bootstrap=Bootstrap(resamples=20))
    table = pd.read_csv(paths["csv"])
    assert set(table.iloc[:, 0]) >= {"mean_fill", "biharmonic"}
    assert Path(paths["ablation_csv"]).is_file()


def test_the_kinds_own_checks_name_the_key_at_fault(toy_kind, tiny_config, tmp_path):
    from inpaint_bench.jobs.validate import load_config

    path, config, write = tiny_config
    config["datasets"] = {"a": {"kind": toy_kind, "root": str(tmp_path)},  # no test_prefix
                          "b": {"kind": toy_kind, "test_prefix": "t", "train_count": 4},  # no root; a mini key
                          "c": {"kind": "folder", "train_dir": str(tmp_path)},  # no root, no test_dir
                          "d": {"kind": "mini_faces", "train_count": 2, "test_count": 2, "root": "x"},
                          "e": {"kind": "csv"}}
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "datasets.a.test_prefix is required for kind toy_prefix: the test images' name prefix" in message
    assert "datasets.b.root is required for kind toy_prefix" in message
    assert "datasets.b.train_count is a key of kind mini_faces, mini_natural, not of kind toy_prefix" in message
    assert "datasets.c: kind folder reads root/train and root/test: set root, or test_dir" in message
    assert "datasets.d.root: a mini_faces dataset is built and read under" in message
    assert "datasets.e.file is required for kind csv" in message


def test_an_unregistered_kind_is_refused_naming_where_kinds_come_from(tiny_config):
    from inpaint_bench.jobs.validate import load_config

    path, config, write = tiny_config
    config["datasets"]["toy"]["kind"] = "toy_prefix"  # its module not imported
    write(config)
    with pytest.raises(ConfigError, match=r"at 'datasets/toy/kind'.*register_dataset_kind"):
        load_config(path)


def test_a_key_registered_twice_with_another_meaning_is_refused(registry):
    def lister(spec, root, split):
        return [], [], ""

    register_dataset_kind("one", keys={"depth": {"type": "integer"}})(lister)
    with pytest.raises(ValueError, match="spec key 'depth' is also a key of kind 'one'"):
        register_dataset_kind("two", keys={"depth": {"type": "string"}})(lister)
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset_kind("one")(lambda spec, root, split: None)
    assert dataset_kind("one").root == "required"


def test_a_csv_dataset_trains_evaluates_and_exports_like_a_folder(tiny_config, tmp_path):
    """The csv kind through every path that reads a dataset: the config check and its listings, training,
    evaluation (the mask pairing) and export."""
    from inpaint_bench.datasets import make_test_masks
    from inpaint_bench.evaluation.evaluate import evaluate
    from inpaint_bench.evaluation.export import export
    from inpaint_bench.jobs.resolve import eval_job, train_job
    from inpaint_bench.jobs.validate import check_datasets_readable, load_config
    from inpaint_bench.training.train import train

    path, config, write = tiny_config
    data = Path(config["datasets"]["toy"]["root"])
    rows = [f"{split}/{p.name},{split}" for split in ("train", "test") for p in sorted((data / split).iterdir())]
    (data / "splits.csv").write_text("path,split\n" + "\n".join(rows) + "\n")
    config["datasets"]["toy"] = {"kind": "csv", "file": str(data / "splits.csv")}
    config["train"]["steps"] = 2
    write(config)
    config = load_config(path)
    listings = check_datasets_readable(config)
    masks = tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=4, seed=0)
    model = train(train_job(config, "toy", "pconv", 0, listings), tmp_path / "run")
    summary = evaluate(eval_job(config, "toy", "pconv", 0, listings), tmp_path / "eval", model_path=model,
                       masks_dir=masks)
    assert summary[summary.metric == "psnr"].value.notna().all()
    per_image = pd.read_csv(tmp_path / "eval" / "per_image.csv")
    assert sorted(set(per_image["image"])) == [f"test_img{i:03d}" for i in range(4)]
    export(config, "toy", 0, tmp_path / "pairs", masks_path=str(masks))
    assert len(list((tmp_path / "pairs" / "input").rglob("*.png"))) == len(per_image)


def test_a_kind_may_not_redefine_a_key_every_kind_has(registry):
    from inpaint_bench.jobs.validate import config_schema

    register_dataset_kind("three", keys={"max_test": {"type": "string"}})(lambda spec, root, split: None)
    with pytest.raises(ValueError, match="spec key 'max_test' of kind three is a key of every kind"):
        config_schema()
