"""The whole config check: the schema and its defaults (inpaint_bench.harness.config), then what needs
the model registry or the dataset code: every variant builds from its spec, every dataset and mask
folder the workflow does not build can be listed. The Snakefile and every command-line tool go through
here, so a run started by hand sees exactly the checks a workflow run sees."""
from __future__ import annotations

from pathlib import Path

from inpaint_bench.datasets.images import SPLITS
from inpaint_bench.harness.config import (
    ConfigError,
    consistency_problems,
    read_config_file,
    validate_schema,
)
from inpaint_bench.jobs.resolve import MASK_FOLDERS, listing
from inpaint_bench.models.registry import SpecError, check_sizes, check_spec


def validate_config(config: dict, source: str = "config") -> dict:
    """Validates `config` in place, fills in the schema's defaults and runs the checks the schema cannot
    express; ConfigError lists every violation with its key path."""
    validate_schema(config, source)
    problems = consistency_problems(config)
    for name, spec in config["variants"].items():
        try:
            check_spec(spec)
            check_sizes(spec, config["width"], config["image_size"])
        except SpecError as err:
            problems.append(f"variants.{name}: {err}")
    if problems:
        raise ConfigError(f"{source}: invalid config:\n" + "\n".join(f"  {p}" for p in problems))
    return config


def check_datasets_readable(config: dict, source: str = "config") -> dict:
    """Lists both splits of every dataset the workflow does not build itself (real roots, folders,
    file lists), and the mask folders the config names, so a missing root, layout file, image or
    mask folder, an empty split or an empty file fails before any job, naming the dataset or key,
    instead of after training. Mini datasets are built by the workflow. Returns the listings
    ({key: digest}, keys as `jobs.resolve.listing` takes them), for the jobs that read them."""
    problems, listings = [], {}
    keys = [("datasets", name, split) for name in config["datasets"] for split in SPLITS] + \
        [(key,) for key in MASK_FOLDERS]
    failed = set()
    for key in keys:
        name = f"datasets.{key[1]}" if key[0] == "datasets" else key[0]
        if name in failed:
            continue  # one problem per dataset: a missing root fails both splits
        try:
            listings[key] = listing(config, key)
        except (FileNotFoundError, ValueError) as err:
            problems.append(f"  {name}: {err}")
            failed.add(name)
    if problems:
        raise ConfigError(f"{source}: dataset(s) cannot be read:\n" + "\n".join(problems))
    return listings


def load_config(path: str | Path) -> dict:
    """Reads a config YAML file (its `base:` chain resolved) and validates it; ConfigError names the file
    (and line) at fault."""
    return validate_config(read_config_file(path), str(path))
