# Names and input functions shared by the rules (the rule files hold only rules). Paths come from
# harness.paths, job descriptions from harness.jobs: the same code the command-line tools use.
from pathlib import Path

from inpaint_bench.harness.config import MINI_KINDS, dataset_spec, layout, train_settings
from inpaint_bench.harness.reference import locate
from inpaint_bench.jobs.resolve import as_param, eval_job, job_digest, masks_job, teacher_architectures
from inpaint_bench.jobs.resolve import teacher_job, teacher_slug, train_job, validation_job
from inpaint_bench.metrics.weights import WEIGHT_FILES, download_target, find_weight
from inpaint_bench.models.registry import is_trainable, uses_distillation
from inpaint_bench.reporting.paper import SCORECARD

R = layout(config)
DATASETS = list(config["datasets"])
VARIANTS = list(config["variants"])
SEEDS = config["seeds"]
SIZE = config["image_size"]
PLOTS = ["metrics", "paired", "loss", "qualitative", "validation"]
TABLES = ["{dataset}", "{dataset}_ablation"]  # absolute and ablation table of each dataset
THREADS = config["threads_per_job"]
RESOURCES = config["resources"]
CONDA_ENV = "../../environment.yml"
TEACHERS = teacher_architectures(config)  # slug -> architecture of every DGI teacher needed
TRAINED = [v for v in VARIANTS if is_trainable(config["variants"][v])]
CLASSICAL = [v for v in VARIANTS if v not in TRAINED]
# weights.download: the files not found offline, made by rule download_weights
MISSING_WEIGHTS = [
    str(download_target(key, config["weights"]["dir"]))
    for key in WEIGHT_FILES
    if config["weights"]["download"] and find_weight(key, config["weights"]["dir"]) is None
]


JOB_FILES = {}  # job file -> the description it holds; filled by job_file(), written by rule describe_job


def job_file(key, job):
    """The input that ties the outputs of `key` (their folder under results_dir) to what they are
    computed from: the job's description (its config slice, the listing of the files it reads) in a
    file named by its digest (harness.paths). A changed description is a missing file; the default
    target asks for every job file (every_job_output), so the job runs again whatever Snakemake's
    metadata holds (.snakemake/ deleted, another checkout on the same results_dir)."""
    path = str(R.job_file(key, job_digest(job)))
    JOB_FILES[path] = job
    return path


def run_key(dataset, variant, seed, *more):
    run = R.run_dir(dataset, variant, seed).relative_to(R.root)
    return str(run.joinpath(*more))


def train_job_file(dataset, variant, seed):
    return job_file(run_key(dataset, variant, seed), train_job(config, dataset, variant, int(seed), listings))


def teacher_job_file(dataset, arch, seed):
    job = teacher_job(config, dataset, arch, int(seed), listings)
    return job_file(str(R.teacher_dir(dataset, arch, seed).relative_to(R.root)), job)


def eval_job_file(dataset, variant, seed):
    job = eval_job(config, dataset, variant, int(seed), listings)
    return job_file(run_key(dataset, variant, seed, "eval"), job)


def validation_job_file(dataset, variant):
    job = validation_job(config, dataset, variant, listings)
    # key runs/<dataset>/<classical>/validation, beside the seed folders
    return job_file(str(R.reference_validation(dataset, variant).relative_to(R.root).with_suffix("")), job)


def validated_classical(dataset):
    """The classical rows scored on the dataset's validation split: none when its validation is off
    (train.validation.every 0), so no job is planned, or sent to a cluster, for nothing."""
    return CLASSICAL if train_settings(config, dataset)["validation"]["every"] else []


def masks_job_file(seed):
    return job_file(str(R.masks_dir(SIZE, seed).relative_to(R.root)), masks_job(config, listings))


def data_job_file(dataset):
    job = {"spec": dataset_spec(config, dataset), "size": SIZE}
    return job_file(str(R.data_dir(dataset).relative_to(R.root)), job)


# what the report's rules compute from besides their input files
TABLE_SETTINGS = {"variants": VARIANTS, "seeds": SEEDS, "report": config["report"]}
PLOT_SETTINGS = {"variants": VARIANTS, "trained": TRAINED, "seeds": SEEDS}

# report.paper_tables: {name (the CSV's stem): its path, found as harness.reference.locate finds it},
# each written in the paper's shape (rule paper_view), and the scorecard of them all (rule scorecard)
PAPER_TABLES = {Path(p).stem: str(locate(p)) for p in config["report"]["paper_tables"]}
PAPER_OUTPUTS = [
    str(R.paper(name, ext))
    for name in ([*PAPER_TABLES, SCORECARD] if PAPER_TABLES else [])
    for ext in ("csv", "md", "tex", "html")
]
PAPER_SETTINGS = {
    "variants": VARIANTS,
    "seeds": SEEDS,
    "paper_tables": config["report"]["paper_tables"],  # as named: the same job from any checkout
    "report": config["report"],
}


def every_per_image(wildcards=None):
    return [str(R.eval_dir(d, v, s) / "per_image.csv") for d in DATASETS for v in VARIANTS for s in SEEDS]


def every_provenance(wildcards=None):
    return [str(R.eval_dir(d, v, s) / "provenance.json") for d in DATASETS for v in VARIANTS for s in SEEDS]


def report_job_files(dataset):
    return [
        job_file(f"tables/{dataset}", {**TABLE_SETTINGS, "dataset": dataset}),
        job_file(f"plots/{dataset}", {**PLOT_SETTINGS, "dataset": dataset}),
    ]


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    classical="|".join(CLASSICAL) or "no-classical-row",
    arch="|".join(TEACHERS) or "no-teacher",
    seed=r"\d+",


def run_file(name):
    return str(R.run_dir("{dataset}", "{variant}", "{seed}") / name)


def eval_file(name):
    return str(R.eval_dir("{dataset}", "{variant}", "{seed}") / name)


def dataset_manifest(wildcards):
    """A built mini dataset's manifest (the mark of a complete build); nothing for real datasets."""
    spec = dataset_spec(config, wildcards.dataset)
    return os.path.join(spec["root"], "manifest.csv") if spec["kind"] in MINI_KINDS else []


def weight_files(*keys):
    """The pretrained weight files a job reads, as inputs when the workflow downloads them."""
    if not config["weights"]["download"]:
        return []
    return [str(download_target(key, config["weights"]["dir"])) for key in keys]


def trained_model(wildcards):
    """What evaluation scores: the run's model.pt, a released weights file (`weights:`), or nothing."""
    spec = config["variants"][wildcards.variant]
    if spec.get("weights"):
        return os.path.expanduser(spec["weights"]["path"])
    if is_trainable(spec):
        return str(R.run_dir(wildcards.dataset, wildcards.variant, wildcards.seed) / "model.pt")
    return []


def init_weights(wildcards):
    """The weights file a variant's training starts from (`init:`), if any."""
    init = config["variants"][wildcards.variant].get("init")
    return os.path.expanduser(init["path"]) if init else []


def teacher_model(wildcards):
    """A distilled student needs its teacher's model.pt; other variants need nothing."""
    spec = config["variants"][wildcards.variant]
    if uses_distillation(spec):
        slug = teacher_slug(spec)
        return str(R.teacher_dir(wildcards.dataset, slug, wildcards.seed) / "model.pt")
    return []


def masks_manifest(wildcards):
    """The one test mask set (masks.seed), whatever the training seed: differences are paired."""
    return str(R.masks_dir(SIZE, config["masks"]["seed"]) / "manifest.csv")


def eval_weights(wildcards):
    keys = (["inception"] if config["eval"]["fid"] else []) + (["alexnet"] if config["eval"]["lpips"] else [])
    return weight_files(*keys)


def eval_summaries(wildcards=None):
    return [str(R.eval_dir(d, v, s) / "summary.csv") for d in DATASETS for v in VARIANTS for s in SEEDS]


def every_job_output():
    """Each model and evaluation, asked for by the default target. Snakemake rebuilds a missing file only
    when something asks for it, so a deleted run folder would otherwise leave "Nothing to be done"
    (the tables being newer than the summary) while the tables keep the deleted rows."""
    models = [str(R.run_dir(d, v, s) / "model.pt") for d in DATASETS for v in TRAINED for s in SEEDS]
    teachers = [str(R.teacher_dir(d, a, s) / "model.pt") for d in DATASETS for a in TEACHERS for s in SEEDS]
    return models + teachers + eval_summaries() + every_job_file()


def every_job_file():
    """The description of every job (job_file), asked for by the default target: Snakemake runs a job
    for a missing file only when something asks for it, so a changed description of a job whose
    outputs exist would otherwise not reach it."""
    files = [train_job_file(d, v, s) for d in DATASETS for v in TRAINED for s in SEEDS]
    files += [teacher_job_file(d, a, s) for d in DATASETS for a in TEACHERS for s in SEEDS]
    files += [eval_job_file(d, v, s) for d in DATASETS for v in VARIANTS for s in SEEDS]
    files += [validation_job_file(d, v) for d in DATASETS for v in validated_classical(d)]
    files += [data_job_file(d) for d in DATASETS if config["datasets"][d]["kind"] in MINI_KINDS]
    files += [masks_job_file(config["masks"]["seed"]), job_file("summary", config)]
    return files + [f for d in DATASETS for f in report_job_files(d)]
