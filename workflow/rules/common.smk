# Shared names and input/param functions of the rules (the rule files hold only rules).
import yaml

from fileio import atomic_write_text
from training.config import (MINI_KINDS, is_trainable, spec_slug, teacher_architecture,
                             uses_distillation)

RESULTS = config["results_dir"]
DATASETS = list(config["datasets"])
VARIANTS = list(config["variants"])
SEEDS = config["seeds"]
SIZE = config["image_size"]
PLOTS = ["metrics", "loss", "qualitative"]
THREADS = config["threads_per_job"]
ENTRY = "../scripts/entry.py"
CONDA_ENV = "../../environment.yml"

# DGI teachers: one per (dataset, teacher architecture, seed), shared by all students of that backbone.
# TEACHERS maps the architecture's name to one student variant that uses it (the job reads the
# backbone spec from it; any of them gives the same teacher).
TEACHERS = {}
for _name, _spec in config["variants"].items():
    if uses_distillation(_spec):
        TEACHERS.setdefault(spec_slug(teacher_architecture(_spec)), _name)

# The jobs read the resolved config (defaults filled in, --config overrides applied) from this file.
# It is rewritten only when its content changes and is not an input of any rule: the params of each
# rule carry exactly the parts of the config that job depends on, so editing one variant's spec
# re-runs only that variant's jobs (Snakemake's params rerun trigger).
RUN_CONFIG = str(Path(RESULTS) / "run_config.yaml")
_text = yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False)
if not os.path.exists(RUN_CONFIG) or Path(RUN_CONFIG).read_text() != _text:
    atomic_write_text(RUN_CONFIG, _text)


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    arch="|".join(TEACHERS) or "no-teacher",
    seed=r"\d+",


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def folder_of(path):
    return os.path.dirname(str(path))


def run_folder(dataset, variant, seed):
    return os.path.join(RESULTS, "runs", dataset, variant, f"seed{seed}")


def dataset_ready(wildcards):
    """The file that says a dataset can be read: the built mini dataset's manifest; nothing for real ones."""
    if config["datasets"][wildcards.dataset]["kind"] in MINI_KINDS:
        return os.path.join(RESULTS, "data", wildcards.dataset, "manifest.csv")
    return []


def trained_model(wildcards):
    if is_trainable(config["variants"][wildcards.variant]):
        return os.path.join(run_folder(wildcards.dataset, wildcards.variant, wildcards.seed), "model.pt")
    return []


def teacher_path(dataset, variant, seed):
    slug = spec_slug(teacher_architecture(config["variants"][variant]))
    return os.path.join(RESULTS, "teachers", dataset, slug, f"seed{seed}", "model.pt")


def teacher_model(wildcards):
    """A distilled student needs its teacher's model.pt; other variants need nothing."""
    if uses_distillation(config["variants"][wildcards.variant]):
        return teacher_path(wildcards.dataset, wildcards.variant, wildcards.seed)
    return []


def masks_manifest(wildcards):
    return os.path.join(RESULTS, "masks", f"{SIZE}px_seed{wildcards.seed}", "manifest.csv")


def eval_summaries(wildcards=None):
    return [os.path.join(run_folder(d, v, s), "eval", "summary.csv")
            for d in DATASETS for v in VARIANTS for s in SEEDS]


def trained_models_of_dataset(wildcards):
    """The first seed's trained models: the plots show their loss curves."""
    return [os.path.join(run_folder(wildcards.dataset, v, SEEDS[0]), "model.pt")
            for v in VARIANTS if is_trainable(config["variants"][v])]


def bucket_names():
    return [f"{lo:g}-{hi:g}" for lo, hi in config["masks"]["buckets"]]


def nvidia_mask_args():
    """masks.source = nvidia: bucket NVIDIA's irregular masks by measured ratio instead of generating."""
    masks = config["masks"]
    if masks["source"] != "nvidia":
        return []
    return ["--nvidia", masks["nvidia_dir"]] + (["--hole-black"] if masks["nvidia_hole"] == "black" else [])


def train_job_params(wildcards):
    """Everything a training job's result depends on; a change here re-runs that job only."""
    return as_json({
        "variant": config["variants"][wildcards.variant],
        "dataset": config["datasets"][wildcards.dataset],
        "train": config["train"],
        "buckets": config["masks"]["buckets"],
        "width": config["width"],
        "image_size": SIZE,
        "weights": config["weights"],
    })


def teacher_job_params(wildcards):
    variant = TEACHERS[wildcards.arch]
    return as_json({
        "architecture": teacher_architecture(config["variants"][variant]),
        "dataset": config["datasets"][wildcards.dataset],
        "train": config["train"],
        "buckets": config["masks"]["buckets"],
        "width": config["width"],
        "image_size": SIZE,
        "weights": config["weights"],
    })


def eval_job_params(wildcards):
    return as_json({
        "variant": config["variants"][wildcards.variant],
        "eval": config["eval"],
        "weights": config["weights"],
        "precision": config["train"]["precision"],
    })
