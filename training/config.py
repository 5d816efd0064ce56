"""Loading, validating and resolving the harness config (the same schema Snakemake validates with).

The command-line entry points (training, evaluation, bench) read the config through `load_config`,
so a run started by hand sees exactly the defaults and checks a Snakemake run sees.
"""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"
MINI_KINDS = ("mini_natural", "mini_faces")
CLASSICAL_BACKBONES = ("biharmonic", "mean_fill")  # rows that need no training


class ConfigError(ValueError):
    pass


def validate_config(config: dict, source: str = "config") -> dict:
    """Validates in place against config/schema.yaml and fills in the schema's defaults.

    Every violation is listed with the path of the key at fault (Snakemake's own message prints
    the whole schema); Snakemake's `validate` then fills in the defaults."""
    import jsonschema
    from snakemake.utils import validate

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = [f"  at '{'/'.join(map(str, e.absolute_path)) or '<top level>'}': {e.message}" for e in errors]
        raise ConfigError(f"{source}: invalid config ({SCHEMA_PATH.name}):\n" + "\n".join(lines))
    validate(config, str(SCHEMA_PATH))
    check_consistency(config, source)
    return config


def check_consistency(config: dict, source: str = "config") -> None:
    """Checks the schema cannot express."""
    for lo, hi in config["masks"]["buckets"]:
        if not lo < hi:
            raise ConfigError(f"{source}: masks.buckets entry [{lo}, {hi}] must have lower < upper")
    for name, spec in config["datasets"].items():
        if spec["kind"] in MINI_KINDS:
            for key in ("train_count", "test_count"):
                if key not in spec:
                    raise ConfigError(f"{source}: datasets.{name}.{key} is required for kind {spec['kind']}")
        elif "root" not in spec:
            raise ConfigError(f"{source}: datasets.{name}.root is required for kind {spec['kind']} "
                              f"(the folder that holds the dataset)")
    if config["masks"]["source"] == "nvidia" and not config["masks"]["nvidia_dir"]:
        raise ConfigError(f"{source}: masks.nvidia_dir must name NVIDIA's mask folder when masks.source is nvidia")


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    return validate_config(config, str(path))


def dataset_spec(config: dict, name: str) -> dict:
    """The dataset's spec with `root` resolved (mini datasets live under <results_dir>/data/<name>)."""
    if name not in config["datasets"]:
        raise ConfigError(f"dataset {name!r} is not in the config's datasets: {sorted(config['datasets'])}")
    spec = copy.deepcopy(config["datasets"][name])
    if spec["kind"] in MINI_KINDS:
        spec.setdefault("root", str(Path(config["results_dir"]) / "data" / name))
    return spec


def variant_spec(config: dict, name: str) -> dict:
    if name not in config["variants"]:
        raise ConfigError(f"variant {name!r} is not in the config's variants: {sorted(config['variants'])}")
    return copy.deepcopy(config["variants"][name])


def train_settings(config: dict, variant: str, dataset: str) -> dict:
    """Global train settings, then the dataset's `train` overrides, then the variant's."""
    settings = copy.deepcopy(config["train"])
    settings.update(config["datasets"][dataset].get("train", {}))
    settings.update(config["variants"][variant].get("train", {}))
    return settings


def is_trainable(spec: dict) -> bool:
    return spec["backbone"] not in CLASSICAL_BACKBONES


def masks_dir(config: dict, seed: int) -> Path:
    return Path(config["results_dir"]) / "masks" / f"{config['image_size']}px_seed{seed}"


def run_dir(config: dict, dataset: str, variant: str, seed: int) -> Path:
    return Path(config["results_dir"]) / "runs" / dataset / variant / f"seed{seed}"


def derive_seed(*parts) -> int:
    """A stable 63-bit seed from any parts (config seed, dataset, variant, index...)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


# Keys of a variant spec that do not change the network's architecture.
TRAINING_ONLY_KEYS = ("distill", "train")
# DGI blocks that act on holes only or on the student's decoder: the auxiliary network (teacher)
# sees no hole, so it is built without them and one teacher serves every student of a backbone.
STUDENT_ONLY_BLOCKS = ("completion_block", "fusion")


def architecture(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k not in TRAINING_ONLY_KEYS}


def teacher_architecture(spec: dict) -> dict:
    return {k: v for k, v in architecture(spec).items() if k not in STUDENT_ONLY_BLOCKS}


def spec_slug(spec: dict) -> str:
    """A readable, stable name of an architecture, e.g. 'rfr_attention-kca_iterations-6'."""
    parts = [str(spec["backbone"])] + [f"{k}-{spec[k]}" for k in sorted(spec) if k != "backbone"]
    return "_".join(parts).replace("/", "-").replace(" ", "")


def uses_distillation(spec: dict) -> bool:
    """True when some distillation weight is non-zero (all zero trains exactly like no distillation)."""
    distill = spec.get("distill") or {}
    weight = lambda v: v.get("weight", 0) if isinstance(v, dict) else v  # noqa: E731
    return any(weight(v) for v in distill.values())


def teacher_dir(config: dict, dataset: str, spec: dict, seed: int) -> Path:
    return (Path(config["results_dir"]) / "teachers" / dataset / spec_slug(teacher_architecture(spec))
            / f"seed{seed}")
