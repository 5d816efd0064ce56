"""The whole config check: the schema with the registries' names and options filled in, and its defaults
(inpaint_bench.harness.config), then what needs the model registry or the dataset code: every variant
builds from its spec and provides what its distillation reads (jobs.probe), every dataset and mask
folder the workflow does not build can be listed. The Snakefile and every command-line tool go through
here, so a run started by hand sees exactly the checks a workflow run sees."""
from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

from inpaint_bench.datasets.images import SPLITS
from inpaint_bench.datasets.kinds import (
    WHERE_DATASET_KINDS_ARE_REGISTERED,
    available_dataset_kinds,
    spec_keys,
    spec_problems,
)
from inpaint_bench.datasets.mask_files import check_mask_folder
from inpaint_bench.harness.config import (
    ConfigError,
    consistency_problems,
    read_config_file,
    read_schema,
    validate_schema,
)
from inpaint_bench.harness.extensions import KEY as EXTENSIONS
from inpaint_bench.harness.extensions import load_extensions, resolve_paths
from inpaint_bench.harness.metric_registry import get_metric, metric_names, selected_metrics
from inpaint_bench.harness.names import RENAMED_PROTOCOLS, renamed_protocol_message
from inpaint_bench.jobs.probe import capability_problems
from inpaint_bench.jobs.resolve import MASK_FOLDERS, listing
from inpaint_bench.models.attention import WHERE_ATTENTIONS_ARE_REGISTERED, available_attentions
from inpaint_bench.models.losses import DEFAULT_LOSS_WEIGHTS, LOSS_OPTIONS
from inpaint_bench.models.registry import (
    WHERE_BACKBONES_ARE_REGISTERED,
    SpecError,
    available_backbones,
    backbone,
    check_sizes,
    check_spec,
)
from inpaint_bench.models.registry import backbone as backbone_entry
from inpaint_bench.models.released_weights import WEIGHT_KEYS

JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def config_schema() -> dict:
    """config/schema.yaml with the registries' knowledge filled in, so that the two cannot disagree: the
    backbone names, the attention names, every backbone's options (its constructor's keyword
    arguments), each with its default's type and the bounds `backbone_options` gives it, and the
    defaults of the loss's weights and options (models/losses.py); the dataset kinds and their spec keys
    (datasets/kinds.py)."""
    schema = read_schema()
    dataset = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    dataset["kind"].update(enum=available_dataset_kinds(), hint=WHERE_DATASET_KINDS_ARE_REGISTERED)
    for key, entry in spec_keys().items():
        if key in dataset:  # the schema's own keys are every kind's
            raise ValueError(f"the spec key {key!r} of {entry['description'].split(':')[0]} is a key of every "
                             f"kind (config/schema.yaml); name it differently")
        dataset[key] = entry
    variant, described = schema["$defs"]["variant"], schema["$defs"]["backbone_options"]["properties"]
    variant["properties"]["backbone"].update(enum=available_backbones(), hint=WHERE_BACKBONES_ARE_REGISTERED)
    options: dict[str, dict] = {}
    for name in available_backbones():
        for option, default in backbone(name).options().items():
            entry = options.setdefault(option, {"types": set(), **described.get(option, {})})
            if type(default) in JSON_TYPES:
                entry["types"].add(JSON_TYPES[type(default)])
    for option, entry in options.items():
        types = sorted(entry.pop("types"))
        if "type" not in entry and "enum" not in entry and types:
            entry["type"] = types if len(types) > 1 else types[0]
        if option == "attention":
            entry.update(enum=available_attentions(), hint=WHERE_ATTENTIONS_ARE_REGISTERED)
        variant["properties"][option] = entry
    loss = schema["properties"]["train"]["properties"]["loss"]["properties"]
    for key, default in {**DEFAULT_LOSS_WEIGHTS, **LOSS_OPTIONS}.items():
        loss[key]["default"] = default  # the loss's own defaults: one default, one place
    schema["properties"]["eval"]["properties"]["metrics"]["items"].update(
        enum=metric_names(), hint="metrics are registered in harness.metric_registry, or by an extensions: module")
    return schema


def load_config_extensions(config: dict) -> None:
    """Imports the config's `extensions` (absolute paths from here on: a relative one is the working
    directory's, e.g. of a --config override), before the schema is filled from the registries."""
    paths = config.get(EXTENSIONS)
    if isinstance(paths, list) and all(isinstance(p, str) and p for p in paths):  # else the schema names it
        config[EXTENSIONS] = resolve_paths(paths)
        load_extensions(config[EXTENSIONS])


def renamed_protocol(config: dict) -> None:
    """eval.protocol under an old name (harness): the new one (default), said in one line on stderr."""
    settings = config.get("eval")
    old = settings.get("protocol") if isinstance(settings, dict) else None
    if isinstance(old, str) and old in RENAMED_PROTOCOLS:
        print(f"note: {renamed_protocol_message(old, 'eval.protocol')}", file=sys.stderr)
        settings["protocol"] = RENAMED_PROTOCOLS[old]


def validate_config(config: dict, source: str = "config") -> dict:
    """Validates `config` in place, fills in the schema's defaults and runs the checks the schema cannot
    express; ConfigError lists every violation with its key path. The config's `extensions` are
    imported first: what they register is in the schema."""
    try:
        load_config_extensions(config)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    renamed_protocol(config)
    schema = config_schema()
    validate_schema(config, schema, source)
    problems = consistency_problems(config) + name_problems(config, schema) + metric_problems(config)
    for name, spec in config["datasets"].items():
        problems += spec_problems(name, spec)
    buildable = {}
    for name, spec in config["variants"].items():
        try:
            check_spec(spec)
            check_sizes(spec, config["width"], config["image_size"])
            buildable[name] = spec
        except SpecError as err:
            problems.append(f"variants.{name}: {err}")
        else:
            problems.extend(weight_file_problems(name, spec))
    problems += capability_problems(buildable, config["width"], config["image_size"])
    if problems:
        raise ConfigError(f"{source}: invalid config:\n" + "\n".join(f"  {p}" for p in problems))
    return config


def name_problems(config: dict, schema: dict) -> list[str]:
    """Names that would make a table say something else than what ran: a variant named after a backbone
    it does not use (`biharmonic: {backbone: encdec}` would be a network labelled biharmonic), and a
    `report.baseline_row` that names no row (a misspelt one would silently fall back to the first row; only
    the default, absent from a run, does)."""
    problems = []
    for name, spec in config["variants"].items():
        if name in available_backbones() and isinstance(spec, dict) and spec.get("backbone") != name:
            problems.append(f"variants.{name}.backbone: {spec.get('backbone')!r}, but {name} is the name of the "
                            f"backbone {name!r}: its rows would be read as that method; rename the variant "
                            f"(e.g. {name}_{spec.get('backbone')}) or use backbone: {name}")
    wanted, rows = config["report"]["baseline_row"], list(config["variants"])
    default = schema["properties"]["report"]["properties"]["baseline_row"]["default"]
    if wanted not in rows and wanted != default:
        close = difflib.get_close_matches(wanted, rows, n=1)
        problems.append(f"report.baseline_row: {wanted!r} is not a variant of this config"
                        f"{f' (did you mean {close[0]!r}?)' if close else ''}; its variants: {', '.join(rows)}")
    return problems


def metric_problems(config: dict) -> list[str]:
    """A metric that cannot score images of the config's size (its `min_size`)."""
    return [f"eval.metrics: {name} needs images of at least {get_metric(name).min_size} px, larger than "
            f"image_size {config['image_size']}; leave it out of eval.metrics"
            for name in selected_metrics(config["eval"]) if get_metric(name).min_size > config["image_size"]]


def weight_file_problems(name: str, spec: dict) -> list[str]:
    """A variant's `weights` / `init` file must exist, on a backbone that has weights, one of the two."""
    given = [key for key in WEIGHT_KEYS if spec.get(key)]
    problems = []
    if len(given) > 1:
        problems.append(f"variants.{name}: weights (a row scored as released) and init (the start of "
                        f"training) exclude each other; keep one")
    for key in given:
        if not backbone_entry(spec).trainable:
            problems.append(f"variants.{name}.{key}: backbone {spec['backbone']!r} has no weights to load")
        elif not Path(os.path.expanduser(spec[key]["path"])).is_file():
            problems.append(f"variants.{name}.{key}.path: {spec[key]['path']} is not a file (relative paths "
                            f"are read from the working directory, {os.getcwd()})")
    return problems


def check_datasets_readable(config: dict, source: str = "config") -> dict:
    """Lists both splits of every dataset the workflow does not build itself (real roots, folders,
    file lists), and the mask folders the config names, so a missing root, layout file, image or
    mask folder, an empty split or an empty file fails before any job, naming the dataset or key,
    instead of after training; a folder of training masks is also checked on a sample of its files.
    Mini datasets are built by the workflow. Returns the listings
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
    train_masks = config["train"]["masks"]
    if train_masks["source"] == "folder" and "train.masks.dir" not in failed:
        try:  # a sample read as training reads it: values, hole colour, shape (mask_files.check_mask_folder)
            check_mask_folder(os.path.expanduser(train_masks["dir"]), train_masks["hole"] == "white",
                              "train.masks.hole")
        except (FileNotFoundError, ValueError) as err:
            problems.append(f"  train.masks.dir: {err}")
    if problems:
        raise ConfigError(f"{source}: dataset(s) cannot be read:\n" + "\n".join(problems))
    return listings


def load_config(path: str | Path) -> dict:
    """Reads a config YAML file (its `base:` chain resolved) and validates it; ConfigError names the file
    (and line) at fault."""
    return validate_config(read_config_file(path), str(path))
