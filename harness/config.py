"""Reading and schema-validating the harness config: YAML files with their `base:` chain (maps merge
key by key; `variants` and `datasets` replace), the schema's defaults, the checks the schema cannot
express, and the resolved settings of a dataset, variant or run. The whole check, with what needs the
model registry or the dataset code, is `jobs.validate`: the Snakefile and every command-line tool go
through it, so a run started by hand sees exactly the checks a workflow run sees. No Snakemake import.
"""
from __future__ import annotations

import copy
import math
import re
import sys
from pathlib import Path

import yaml

from inpaint_bench.harness.buckets import Bucket
from inpaint_bench.harness.extensions import KEY as EXTENSIONS
from inpaint_bench.harness.extensions import resolve_paths
from inpaint_bench.harness.names import PROTOCOL_MIN_SIZE
from inpaint_bench.harness.paths import ResultsLayout
from inpaint_bench.harness.published import load_published, locate

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"


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
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder, not a file: name the YAML file in it")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path) as f:
            return yaml.load(f, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


REPLACED_BY_CHILD = ("variants", "datasets")  # top-level maps that a config replaces whole over its base


def merge_maps(base: dict, child: dict, replace_at_top: tuple[str, ...] = ()) -> dict:
    """`child` over `base`, neither modified: maps merge key by key at every level, except the top-level
    keys of `replace_at_top`, which the child replaces whole. Lists and other values replace."""
    def merge(a, b, top):
        out = copy.deepcopy(a)
        for key, value in b.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict) and not (top and key in replace_at_top):
                out[key] = merge(out[key], value, False)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return merge(base, child, True)


def merge_config(base: dict, child: dict) -> dict:
    """A config file over its `base:`: maps merge key by key, except the top-level `variants` and
    `datasets`, which the child replaces whole (a study names exactly its rows and datasets)."""
    return merge_maps(base, child, REPLACED_BY_CHILD)


def read_config_file(path: str | Path, _children: tuple[Path, ...] = ()) -> dict:
    """A config file's mapping with its `base:` chain resolved (each base path relative to the file that
    names it); ConfigError names the file at fault. `extensions` are taken relative to the file that
    names them, and a base's come before its child's (both are imported)."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    own = data.get(EXTENSIONS)
    if isinstance(own, list) and all(isinstance(p, str) and p for p in own):  # else the schema names the fault
        data[EXTENSIONS] = resolve_paths(own, path.resolve().parent)
    if "base" not in data:
        return data
    base = data.pop("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base: expected the path of another config file, relative to {path.parent}")
    base_path = (path.parent / base).resolve()
    if base_path in _children or base_path == path.resolve():
        chain = " -> ".join(str(p) for p in (*_children, path.resolve(), base_path))
        raise ConfigError(f"{path}: base: the chain of bases returns to a file it started from ({chain})")
    if not base_path.is_file():
        what = "is a folder, not a config file" if base_path.is_dir() else "does not exist"
        raise ConfigError(f"{path}: base: {base} ({base_path}) {what}")
    parent = read_config_file(base_path, (*_children, path.resolve()))
    merged = merge_config(parent, data)
    if isinstance(parent.get(EXTENSIONS), list) and isinstance(data.get(EXTENSIONS), list):
        merged[EXTENSIONS] = list(dict.fromkeys([*parent[EXTENSIONS], *data[EXTENSIONS]]))
    return merged


def _resolve_ref(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            break
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _alternatives(schema: dict, root: dict) -> list[dict]:
    schema = _resolve_ref(schema, root)
    options = [schema]
    for key in ("oneOf", "anyOf"):
        for sub in schema.get(key, []):
            options += _alternatives(sub, root)
    return options


INTEGER_TEXT = re.compile(r"[+-]?\d+")
NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _scalar_from_text(text: str, types: set[str]):
    """The value a text plainly means where the schema asks for one of `types`; the text itself if none."""
    word = text.strip()
    if "null" in types and word in ("null", "~"):
        return None
    if "string" in types:
        return text
    if "integer" in types and INTEGER_TEXT.fullmatch(word):
        return int(word)
    if "number" in types and NUMBER_TEXT.fullmatch(word):
        value = float(word)
        return int(value) if "integer" in types and value.is_integer() else value
    if "boolean" in types and word.lower() in ("true", "false"):
        return word.lower() == "true"
    return text


def coerce_to_schema(value, schema: dict, root: dict | None = None):
    """`value` with the texts that plainly are integers, numbers, booleans or null turned into them
    wherever the schema asks for such a value. Snakemake's `--config seeds=[0,1]` hands nested values
    over as strings ("0"), and PyYAML reads `1e-3` as a string; everything else is left for the schema
    to judge (and to name the key of)."""
    root = schema if root is None else root
    options = _alternatives(schema, root)
    if isinstance(value, str):
        types = set()
        for option in options:
            kinds = option.get("type", [])
            types.update([kinds] if isinstance(kinds, str) else kinds)
            if "enum" in option and value in option["enum"]:
                types.add("string")
        return _scalar_from_text(value, types)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = next((o["properties"][key] for o in options if key in o.get("properties", {})), None)
            if sub is None:
                sub = next((o["additionalProperties"] for o in options
                            if isinstance(o.get("additionalProperties"), dict)), None)
            out[key] = coerce_to_schema(item, sub, root) if sub is not None else item
        return out
    if isinstance(value, list):
        sub = next((o["items"] for o in options if isinstance(o.get("items"), dict)), None)
        return [coerce_to_schema(item, sub, root) for item in value] if sub is not None else value
    return value


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


def read_schema() -> dict:
    """config/schema.yaml as written; inpaint_bench.jobs.validate.config_schema fills in the registries'
    names and options, and validation uses that one."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _message(error) -> str:
    """jsonschema's message, except for a value that fits none of several forms ("is not valid under
    any of the given schemas"): what each form asks for instead."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return error.message
    wants = list(dict.fromkeys(sub.message for sub in error.context if not sub.relative_path))
    return f"{error.instance!r} is not allowed here: " + "; or ".join(wants)


def _error_line(error) -> str:
    """A schema violation with its key path, and the schema's `hint` (where valid names come from)."""
    hint = error.schema.get("hint") if isinstance(error.schema, dict) else None
    where = "/".join(map(str, error.absolute_path)) or "<top level>"
    return f"  at '{where}': {_message(error)}" + (f" ({hint})" if hint else "")


# Config keys renamed, old -> new (dotted paths): the old one still works for one release, with a
# message; giving both is an error.
RENAMED_KEYS = {
    "report.reference": "report.baseline_row",
    "report.reference_table": "report.published_table",
}


def rename_old_keys(config: dict, source: str = "config") -> dict:
    """Moves each old key of RENAMED_KEYS in `config` (in place) to its new name, saying so on stderr;
    ConfigError when a config gives both."""
    for old, new in RENAMED_KEYS.items():
        *parents, old_leaf = old.split(".")
        section = config
        for part in parents:
            section = section.get(part) if isinstance(section, dict) else None
        if not isinstance(section, dict) or old_leaf not in section:
            continue
        new_leaf = new.split(".")[-1]  # the renames keep a key in its section
        if new_leaf in section:
            raise ConfigError(f"{source}: {old} and {new} are both given; {old} is the old name of {new}: keep {new}")
        section[new_leaf] = section.pop(old_leaf)
        print(f"config: {old} is now {new}; it still works for this release", file=sys.stderr)
    return config


def validate_schema(config: dict, schema: dict, source: str = "config") -> dict:
    """Validates `config` in place against `schema` (config/schema.yaml as jobs.validate fills it in),
    fills in the schema's defaults and runs the checks that need no model or dataset code
    (inpaint_bench.jobs.validate adds those). Every violation is listed with its key path. Old names of
    renamed keys (RENAMED_KEYS) are read as the new ones first."""
    rename_old_keys(config, source)
    coerced = coerce_to_schema(config, schema)
    config.clear()
    config.update(coerced)
    errors = sorted(_validator()(schema).iter_errors(config),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = [_error_line(e) for e in errors]
        raise ConfigError(f"{source}: invalid config ({SCHEMA_PATH.name}):\n" + "\n".join(lines))
    _validator(defaults=True)(schema).validate(config)
    return config


def consistency_problems(config: dict) -> list[str]:
    """Checks the schema cannot express and that need no model or dataset code, as key-named lines."""
    problems = []
    results = Path(config["results_dir"]).expanduser()
    existing = next((p for p in (results, *results.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():  # Snakemake would fail inside its own code
        where = "is" if existing == results else f"lies under {existing}, which is"
        problems.append(f"results_dir: {results} {where} an existing file, not a folder; name a folder for the "
                        f"results")
    if len(set(config["seeds"])) != len(config["seeds"]):
        problems.append(f"seeds {config['seeds']} repeat a seed; each seed must appear once")
    buckets = []
    for pair in config["masks"]["buckets"]:
        try:
            buckets.append(Bucket.parse(pair))
        except ValueError as err:
            problems.append(f"masks.buckets: {err}")
    pixels = config["image_size"] ** 2
    for bucket in buckets:  # a mask's hole ratio is a multiple of 1 / pixels
        if math.floor(bucket.hi * pixels) <= math.floor(bucket.lo * pixels):
            problems.append(f"masks.buckets: {bucket.name} holds no hole ratio of a {config['image_size']}x"
                            f"{config['image_size']} mask (ratios are multiples of 1/{pixels}): widen it")
    names = [b.name for b in buckets]
    if len(set(names)) != len(names):
        problems.append(f"masks.buckets: two buckets have the same name ({', '.join(names)})")
    for a, b in zip(sorted(buckets), sorted(buckets)[1:]):
        if b.lo < a.hi:
            problems.append(f"masks.buckets: {a.name} and {b.name} overlap; buckets must be disjoint")
    if config["masks"]["source"] == "nvidia" and not config["masks"]["nvidia_dir"]:
        problems.append("masks.nvidia_dir must name NVIDIA's mask folder when masks.source is nvidia")
    if config["masks"]["count"] == "all" and config["masks"]["source"] != "nvidia":
        problems.append("masks.count: all takes every mask of an existing set; it needs masks.source: nvidia "
                        "(generated masks need a number)")
    if config["masks"]["count"] == "all" and config["masks"]["pairing"] == "cycle":
        problems.append("masks.pairing: cycle with masks.count: all would score test image i with mask i of each "
                        "bucket in file-name order, a slice of the set; set masks.pairing: every_mask (every mask "
                        "once, images cycled) or random_mask (one seeded random mask per image)")
    protocol = config["eval"]["protocol"]
    if PROTOCOL_MIN_SIZE[protocol] > config["image_size"]:
        problems.append(f"eval.protocol {protocol}: its SSIM window is {PROTOCOL_MIN_SIZE[protocol]} px, larger "
                        f"than the images (image_size {config['image_size']}); choose another protocol")
    train_masks = config["train"]["masks"]
    if train_masks["source"] == "folder" and not train_masks["dir"]:
        problems.append("train.masks.dir must name a folder of mask images when train.masks.source is folder")
    published = config["report"]["published_table"]
    if published:  # the tables rule reads it: a missing or malformed file fails now, not after training
        try:
            load_published(published)
        except OSError as err:
            problems.append(f"report.published_table: cannot read {published}: {err.strerror}")
        except ValueError as err:
            problems.append(f"report.published_table: {err}")
    for name, rows in config["report"]["paper_variants"].items():
        for where, row in (rows.items() if isinstance(rows, dict) else [("", rows)]):
            if row not in config["variants"]:
                key = ".".join(filter(None, ["report.paper_variants", name, where]))
                problems.append(f"{key}: {row!r} is no variant of this config")
    names = [Path(p).stem for p in config["report"]["paper_tables"]]
    for name in sorted({n for n in names if names.count(n) > 1}):  # each names its output files
        problems.append(f"report.paper_tables: two tables named {name!r}; their paper views would be one file")
    for i, published in enumerate(config["report"]["paper_tables"]):  # read by the paper rules
        try:
            load_published(locate(published))
        except OSError as err:
            problems.append(f"report.paper_tables[{i}]: cannot read {published}: {err.strerror}")
        except ValueError as err:
            problems.append(f"report.paper_tables[{i}]: {err}")
    return problems


def layout(config: dict) -> ResultsLayout:
    return ResultsLayout(config["results_dir"])


def _dataset_entry(config: dict, name: str) -> dict:
    """The dataset's spec as configured (its kind resolves its root: datasets.kinds.dataset_spec)."""
    if name not in config["datasets"]:
        raise ConfigError(f"dataset {name!r} is not in the config's datasets: {sorted(config['datasets'])}")
    return config["datasets"][name]


def variant_spec(config: dict, name: str) -> dict:
    if name not in config["variants"]:
        raise ConfigError(f"variant {name!r} is not in the config's variants: {sorted(config['variants'])}")
    return copy.deepcopy(config["variants"][name])


def train_settings(config: dict, dataset: str, variant: str | None = None) -> dict:
    """Global train settings, then the dataset's `train` overrides, then (for a variant) the variant's,
    each merged key by key (a row's `loss: {style: 60}` keeps every other global weight)."""
    settings = merge_maps(config["train"], _dataset_entry(config, dataset).get("train", {}))
    if variant is not None:
        settings = merge_maps(settings, variant_spec(config, variant).get("train", {}))
    return settings
