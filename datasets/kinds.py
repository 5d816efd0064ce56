"""Dataset kinds: the one place that knows which dataset layouts exist and what a dataset spec means.

A kind is a listing function registered with ``@register_dataset_kind("name", ...)``:
``list_split(spec, root, split) -> (absolute image paths, names, description)``, sorted by relative
path, for `split` "train" or "test" (`root`: the spec's root, ~ expanded, or None). The registration
declares the spec keys the kind reads besides the common ones (`kind`, `root`, `max_train`,
`max_test`, `train`), as JSON schema with a description; which of them it requires; whether its
`root` is required, optional or "built" (the mini kinds: the workflow builds them under
<results_dir>/data/<name>, datasets/mini.py); one line saying what its root or files must hold;
and optionally ``check(spec) -> [problem, ...]`` for what the schema cannot say.

The config's schema takes the kind names and their keys from here (`jobs.validate.config_schema`),
the config check runs `spec_problems` for every dataset, and `datasets.images.build_dataset` reads
through the entry, so a new kind is one function with its ``@register_dataset_kind`` line, in a
module imported before the config is validated. The built-in kinds live in datasets/images.py and
datasets/mini.py, imported before any name is looked up.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from typing import Callable

from inpaint_bench.harness.config import ConfigError, layout

WHERE_DATASET_KINDS_ARE_REGISTERED = ("dataset kinds are listing functions registered with "
                                      "@register_dataset_kind(\"name\") (see datasets/kinds.py)")
ROOT_RULES = ("required", "optional", "built")
BUILTIN_MODULES = ("inpaint_bench.datasets.images", "inpaint_bench.datasets.mini")


@dataclass(frozen=True)
class DatasetKind:
    name: str
    list_split: Callable
    keys: dict = field(default_factory=dict)  # the kind's own spec keys -> JSON schema with a description
    required: tuple[str, ...] = ()
    root: str = "required"
    layout: str = ""  # what its root (or the files its keys name) must hold
    square_first: bool = False  # centre square before resizing (CelebA's aligned 178x218 faces)
    check: Callable | None = None  # spec -> list of problems, for what the schema cannot say

    @property
    def built(self) -> bool:
        """Built by the workflow under <results_dir>/data/<name> (datasets/mini.py), not read from a root."""
        return self.root == "built"


DATASET_KINDS: dict[str, DatasetKind] = {}


def _without_description(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "description"}


def register_dataset_kind(name: str, *, keys: dict | None = None, required: tuple[str, ...] = (),
                          root: str = "required", layout: str = "", square_first: bool = False,
                          check: Callable | None = None):
    """Registers the decorated listing function as dataset kind `name` (the module docstring says what
    each argument means). Usable at import time of any module, before the schema is built."""
    keys = copy.deepcopy(keys or {})
    if root not in ROOT_RULES:
        raise ValueError(f"dataset kind {name!r}: root must be one of {ROOT_RULES}, got {root!r}")
    if not set(required) <= set(keys):
        raise ValueError(f"dataset kind {name!r}: required keys {sorted(set(required) - set(keys))} are not "
                         f"among its keys {sorted(keys)}")

    def decorator(fn):
        if fn.__module__ not in BUILTIN_MODULES:
            _registered()  # the built-in kinds first, so that a clash names the new kind
        known = DATASET_KINDS.get(name)
        if known and (known.list_split.__module__, known.list_split.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"dataset kind {name!r} is registered twice")  # (the same function again: a reimport)
        for other in DATASET_KINDS.values():  # one key, one meaning in the schema
            for key in set(keys) & set(other.keys):
                if other.name != name and _without_description(keys[key]) != _without_description(other.keys[key]):
                    raise ValueError(f"dataset kind {name!r}: spec key {key!r} is also a key of kind "
                                     f"{other.name!r} with another schema; name it differently")
        DATASET_KINDS[name] = DatasetKind(name, fn, keys, tuple(required), root, layout, square_first, check)
        return fn
    return decorator


def _registered() -> dict[str, DatasetKind]:
    """Every registered kind, the built-in ones included (their modules imported here, by name: they
    import this module for the decorator)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return DATASET_KINDS


def available_dataset_kinds() -> list[str]:
    return sorted(_registered())


def dataset_kind(name) -> DatasetKind:
    kinds = _registered()
    if name not in kinds:
        raise ValueError(f"unknown dataset kind {name!r}; known kinds: {', '.join(sorted(kinds))} "
                         f"({WHERE_DATASET_KINDS_ARE_REGISTERED})")
    return kinds[name]


def spec_keys() -> dict[str, dict]:
    """Every kind's own spec keys as JSON schema, each description naming the kinds that read it (the
    config schema's datasets block: jobs.validate.config_schema)."""
    merged: dict[str, dict] = {}
    for name in available_dataset_kinds():
        for key, schema in DATASET_KINDS[name].keys.items():
            if key in merged:
                merged[key]["kinds"].append(name)
            else:
                merged[key] = {"kinds": [name], **copy.deepcopy(schema)}
    for schema in merged.values():
        kinds = schema.pop("kinds")
        schema["description"] = f"kind {', '.join(kinds)}: {schema.get('description', '')}".rstrip(": ")
    return merged


def spec_problems(name: str, spec: dict) -> list[str]:
    """A validated dataset spec's problems as its kind sees them, as key-named lines: its root (refused
    for a built kind, required where the kind reads one), its required keys, a key of another kind, and
    the kind's own check."""
    entry, problems = dataset_kind(spec["kind"]), []
    if entry.built and "root" in spec:
        problems.append(f"datasets.{name}.root: a {entry.name} dataset is built and read under "
                        f"<results_dir>/data/{name}; remove root (kind: folder reads a folder of images)")
    elif entry.root == "required" and "root" not in spec:
        problems.append(f"datasets.{name}.root is required for kind {entry.name} (the folder that holds the "
                        f"dataset{': ' + entry.layout if entry.layout else ''})")
    for key in entry.required:
        if key not in spec:
            problems.append(f"datasets.{name}.{key} is required for kind {entry.name}: "
                            f"{entry.keys[key].get('description', '')}".rstrip(": "))
    for key in spec:
        owners = [k for k in available_dataset_kinds() if key in DATASET_KINDS[k].keys]
        if owners and key not in entry.keys:
            problems.append(f"datasets.{name}.{key} is a key of kind {', '.join(owners)}, not of kind "
                            f"{entry.name}; remove it")
    if entry.check is not None:
        problems += [f"datasets.{name}: {p}" for p in entry.check(spec)]
    return problems


def dataset_spec(config: dict, name: str) -> dict:
    """The dataset's spec with `root` resolved: a built (mini) dataset is built at, and read from,
    <results_dir>/data/<name>."""
    if name not in config["datasets"]:
        raise ConfigError(f"dataset {name!r} is not in the config's datasets: {sorted(config['datasets'])}")
    spec = copy.deepcopy(config["datasets"][name])
    if dataset_kind(spec["kind"]).built:
        spec["root"] = str(layout(config).data_dir(name))
    return spec
