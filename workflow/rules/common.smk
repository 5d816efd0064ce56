# Names and input functions shared by the rules (the rule files hold only rules). Paths come from
# harness.paths, job descriptions from harness.jobs: the same code the command-line tools use.
import functools
import sys
from pathlib import Path

from inpaint_bench.datasets.kinds import dataset_kind, dataset_spec
from inpaint_bench.harness.config import layout, train_settings
from inpaint_bench.harness.published import locate
from inpaint_bench.jobs.resolve import as_param, coinciding_line, coinciding_rows, eval_job, job_digest
from inpaint_bench.jobs.resolve import teacher_architectures, teacher_job
from inpaint_bench.jobs.resolve import teacher_arch, train_job, validation_job, workflow_job, workflow_jobs
from inpaint_bench.jobs.resolve import row_labels
from inpaint_bench.jobs.resolve import validated_classical as resolve_validated_classical
from inpaint_bench.harness.weights import WEIGHT_FILES, download_target, find_weight
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
TEACHERS = teacher_architectures(config)  # arch -> architecture of every DGI teacher needed
TRAINED = [v for v in VARIANTS if is_trainable(config["variants"][v])]
CLASSICAL = [v for v in VARIANTS if v not in TRAINED]
# weights.download: the files not found offline, made by rule download_weights
MISSING_WEIGHTS = [
    str(download_target(key, config["weights"]["dir"]))
    for key in WEIGHT_FILES
    if config["weights"]["download"] and find_weight(key, config["weights"]["dir"]) is None
]


JOB_FILES = {}  # job file -> the description it holds; filled by job_file(), written by rule describe_job


@functools.cache
def coinciding():
    """Rows that train and score exactly as an earlier row (jobs.resolve.coinciding_rows): said before
    any job, and in the tables' footnotes. Whether the VGG16 weights will be there decides the loss terms."""
    vgg16 = config["weights"]["download"] or find_weight("vgg16", config["weights"]["dir"]) is not None
    return [coinciding_line(*row) for row in coinciding_rows(config, vgg16, listings)]


if workflow.is_main_process:
    for line in coinciding():
        print(f"warning: {line}", file=sys.stderr)


def job_file(key, job):
    """The input that ties the outputs of `key` (their folder under results_dir) to what they are
    computed from: the job's description (its config slice, the listing of the files it reads) in a
    file named by its digest (harness.paths). A changed description is a missing file; the default
    target asks for every job file (every_job_output), so the job runs again whatever Snakemake's
    metadata holds (.snakemake/ deleted, another checkout on the same results_dir)."""
    path = str(R.job_file(key, job_digest(job)))
    JOB_FILES[path] = job
    return path


def workflow_job_file(kind, *parts):
    """The job file of one job of the workflow (jobs.resolve.workflow_job: its key and description)."""
    return job_file(*workflow_job(config, kind, *parts, listings=listings))


def validated_classical(dataset):
    """The classical rows scored on the dataset's validation split (jobs.resolve.validated_classical)."""
    return resolve_validated_classical(config, dataset)


# report.paper_tables: {name (the CSV's stem): its path, found as harness.published.locate finds it},
# each written in the paper's shape (rule paper_view), and the scorecard of them all (rule scorecard)
PAPER_TABLES = {Path(p).stem: str(locate(p)) for p in config["report"]["paper_tables"]}
PAPER_OUTPUTS = [
    str(R.paper(name, ext))
    for name in ([*PAPER_TABLES, SCORECARD] if PAPER_TABLES else [])
    for ext in ("csv", "md", "tex", "html")
]


def every_per_image(wildcards=None):
    return [str(R.eval_dir(d, v, s) / "per_image.csv") for d in DATASETS for v in VARIANTS for s in SEEDS]


def every_provenance(wildcards=None):
    return [str(R.eval_dir(d, v, s) / "provenance.json") for d in DATASETS for v in VARIANTS for s in SEEDS]


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
    return os.path.join(spec["root"], "manifest.csv") if dataset_kind(spec["kind"]).built else []


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
        arch = teacher_arch(spec)
        return str(R.teacher_dir(wildcards.dataset, arch, wildcards.seed) / "model.pt")
    return []


def masks_manifest(wildcards):
    """The one test mask set (masks.seed), whatever the training seed: differences are paired."""
    return str(R.masks_dir(SIZE, config["masks"]["seed"]) / "manifest.csv")


def eval_weights(wildcards):
    keys = (["inception"] if config["eval"]["fid"] else []) + (["alexnet"] if config["eval"]["lpips"] else [])
    return weight_files(*keys)


def eval_summaries(wildcards=None):
    return [str(R.eval_dir(d, v, s) / "summary.csv") for d in DATASETS for v in VARIANTS for s in SEEDS]


def eval_provenances(wildcards):
    """What each evaluation of a dataset was computed from, its code included: the tables and plots
    refuse rows computed by different code (reporting.results.check_same_code)."""
    return [str(R.eval_dir(wildcards.dataset, v, s) / "provenance.json") for v in VARIANTS for s in SEEDS]


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
    return [job_file(key, job) for _, _, key, job in workflow_jobs(config, listings)]
