"""Loading, validating and resolving the harness config: the one place both Snakemake (the
Snakefile calls `validate_config`) and the command-line tools (`load_config`) go through, so a run
started by hand sees exactly the defaults and checks a workflow run sees. No Snakemake import.
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.paths import ResultsLayout
from inpaint_bench.harness.reference import load_reference

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"
MINI_KINDS = ("mini_natural", "mini_faces")  # datasets the workflow builds offline


class ConfigError(ValueError):
    """A config that cannot be run; the message names the file or key at fault."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key that appears twice in one mapping (YAML would silently
    keep the last value)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{key_node.start_mark.name}:{key_node.start_mark.line + 1}: key {key!r} "
                                  f"appears twice in one mapping (first on line {seen[key] + 1}); keep one")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path):
    """A YAML file's content; ConfigError names the file and line of a syntax error or a repeated key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path) as f:
            return yaml.load(f, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def _validator(defaults: bool = False):
    """jsonschema's Draft 2020-12 validator where an integer is an int (not 32.0), and that with
    `defaults` also fills in each property's `default` (the recipe of jsonschema's FAQ, which
    Snakemake's own `validate` follows)."""
    import jsonschema

    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
    base = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    if not defaults:
        return base
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def validate_schema(config: dict, source: str = "config") -> dict:
    """Validates `config` in place against config/schema.yaml, fills in the schema's defaults and runs
    the checks that need no model or dataset code (inpaint_bench.jobs.validate adds those). Every
    violation is listed with its key path."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    errors = sorted(_validator()(schema).iter_errors(config),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = [f"  at '{'/'.join(map(str, e.absolute_path)) or '<top level>'}': {e.message}" for e in errors]
        raise ConfigError(f"{source}: invalid config ({SCHEMA_PATH.name}):\n" + "\n".join(lines))
    _validator(defaults=True)(schema).validate(config)
    return config


def consistency_problems(config: dict) -> list[str]:
    """Checks the schema cannot express and that need no model or dataset code, as key-named lines."""
    problems = []
    if len(set(config["seeds"])) != len(config["seeds"]):
        problems.append(f"seeds {config['seeds']} repeat a seed; each seed must appear once")
    buckets = []
    for pair in config["masks"]["buckets"]:
        try:
            buckets.append(Bucket.parse(pair))
        except ValueError as err:
            problems.append(f"masks.buckets: {err}")
    names = [b.name for b in buckets]
    if len(set(names)) != len(names):
        problems.append(f"masks.buckets: two buckets have the same name ({', '.join(names)})")
    for a, b in zip(sorted(buckets), sorted(buckets)[1:]):
        if b.lo < a.hi:
            problems.append(f"masks.buckets: {a.name} and {b.name} overlap; buckets must be disjoint")
    for name, spec in config["datasets"].items():
        if spec["kind"] in MINI_KINDS:
            if "root" in spec:
                problems.append(f"datasets.{name}.root: a mini dataset is built and read under "
                                f"<results_dir>/data/{name}; remove root (kind: folder reads a folder of images)")
            for key in ("train_count", "test_count"):
                if key not in spec:
                    problems.append(f"datasets.{name}.{key} is required for kind {spec['kind']}")
        elif spec["kind"] not in ("folder", "filelist") and "root" not in spec:
            problems.append(f"datasets.{name}.root is required for kind {spec['kind']} "
                            f"(the folder that holds the dataset)")
    if config["masks"]["source"] == "nvidia" and not config["masks"]["nvidia_dir"]:
        problems.append("masks.nvidia_dir must name NVIDIA's mask folder when masks.source is nvidia")
    if config["masks"]["count"] == "all" and config["masks"]["source"] != "nvidia":
        problems.append("masks.count: all takes every mask of an existing set; it needs masks.source: nvidia "
                        "(generated masks need a number)")
    train_masks = config["train"]["masks"]
    if train_masks["source"] == "folder" and not train_masks["dir"]:
        problems.append("train.masks.dir must name a folder of mask images when train.masks.source is folder")
    published = config["report"]["reference_table"]
    if published:  # the tables rule reads it: a missing or malformed file fails now, not after training
        try:
            load_reference(published)
        except OSError as err:
            problems.append(f"report.reference_table: cannot read {published}: {err.strerror}")
        except ValueError as err:
            problems.append(f"report.reference_table: {err}")
    return problems


def layout(config: dict) -> ResultsLayout:
    return ResultsLayout(config["results_dir"])


def dataset_spec(config: dict, name: str) -> dict:
    """The dataset's spec with `root` resolved: a mini dataset is built at, and read from,
    <results_dir>/data/<name>."""
    if name not in config["datasets"]:
        raise ConfigError(f"dataset {name!r} is not in the config's datasets: {sorted(config['datasets'])}")
    spec = copy.deepcopy(config["datasets"][name])
    if spec["kind"] in MINI_KINDS:
        spec["root"] = str(layout(config).data_dir(name))
    return spec


def variant_spec(config: dict, name: str) -> dict:
    if name not in config["variants"]:
        raise ConfigError(f"variant {name!r} is not in the config's variants: {sorted(config['variants'])}")
    return copy.deepcopy(config["variants"][name])


def train_settings(config: dict, dataset: str, variant: str | None = None) -> dict:
    """Global train settings, then the dataset's `train` overrides, then (for a variant) the variant's."""
    settings = copy.deepcopy(config["train"])
    settings.update(config["datasets"][dataset].get("train", {}))
    if variant is not None:
        settings.update(config["variants"][variant].get("train", {}))
    return settings
