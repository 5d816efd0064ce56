# Inpainting ablation harness: data + masks -> training -> evaluation -> tables and plots.
#   snakemake --cores N                          embedded default (config/config.yaml, mini datasets)
#   snakemake --cores N --configfile config/ci.yaml
# A --configfile replaces the default config (it is not merged with it; a file merges with another
# through its `base:` key); --config key=value overrides.
# The harness packages are installed into the environment (`pip install -e .`, done by the Makefile),
# one environment per checkout: the workflow and every job refuse another checkout's code.
import os

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, update_config

from inpaint_bench.harness.checkout import CheckoutMismatch, check_checkout
from inpaint_bench.harness.config import ConfigError, read_config_file
from inpaint_bench.harness.results_lock import ResultsLocked, acquire, release
from inpaint_bench.harness.superseded import set_aside
from inpaint_bench.jobs.validate import check_datasets_readable, validate_config
from inpaint_bench.harness.weights import WeightsMissing, require_weights
from inpaint_bench.bench.measure import memory_warnings

min_version("9.0")

try:  # this checkout's code, not the one the environment's editable install points at
    check_checkout(workflow.basedir)
except CheckoutMismatch as err:
    raise WorkflowError(str(err))


if not workflow.configfiles:  # no --configfile given: the embedded default

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


listings = {}  # the files jobs read from outside results_dir, listed once per run (jobs.resolve)
try:  # config/schema.yaml: unknown keys and wrong types fail here, naming the key, before any job
    # Each config file again through our reader: it refuses a repeated key (Snakemake's loader keeps
    # the last) and resolves `base:` chains; then the --config values on top, as Snakemake applies them.
    resolved = {}
    for path in workflow.configfiles:
        update_config(resolved, read_config_file(path))
    # (config_settings.overwrite_config holds the --configfile contents too; .config only --config's)
    update_config(resolved, dict(workflow.config_settings.config))
    config.clear()
    config.update(resolved)
    validate_config(config, "snakemake config")
    if workflow.is_main_process:  # listing a real dataset once per run, not once per cluster job
        listings.update(check_datasets_readable(config, "snakemake config"))
except ConfigError as err:
    raise WorkflowError(str(err))

# Strict configs fail here, before any job, naming every missing file (unless the workflow's
# download_weights rule is to fetch them).
if config["weights"]["required"] and not config["weights"]["download"]:
    try:
        require_weights(["vgg16", "inception", "alexnet"], config["weights"]["dir"])
    except WeightsMissing as err:
        raise WorkflowError(
            f"{err}\n(weights.required is true; set it to false to report these metrics as missing)"
        )


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Rows whose training step, measured by `inpaint-bench bench --memory`, needs more than their jobs ask for.
if workflow.is_main_process:
    for line in memory_warnings(config, R.root / "bench" / "memory.csv"):
        logger.warning(f"memory: {line}")


rule all:
    default_target: True
    input:
        every_job_output(),
        str(R.summary()),
        expand(
            [str(R.table(table, "{ext}")) for table in TABLES],
            dataset=DATASETS,
            ext=["csv", "md", "tex", "html"],
        ),
        expand(str(R.plot("{dataset}", "{plot}")), dataset=DATASETS, plot=PLOTS),
        PAPER_OUTPUTS,


# Run by the main process only (Snakemake starts jobs with --no-hooks), once the jobs to run are
# known and before any of them removes its outputs; not by a dry run.
onstart:
    try:  # one run at a time on results_dir, whatever its checkout (harness.results_lock)
        took_over = acquire(R.lock_file(), workflow.basedir)
    except ResultsLocked as err:
        raise WorkflowError(str(err))
    if took_over:
        logger.warning(took_over)
    # finished work is not overwritten by a job for another description (harness.superseded); with
    # --touch the outputs stay, as the ones of the new description
    rules = ("train", "train_teacher", "evaluate")
    kept = [job for job in workflow.dag.needrun_jobs() if job.rule.name in rules and not workflow.touch]
    for job in sorted(kept, key=lambda job: R.job_key(job.input.job)):  # a run folder before its eval/
        done = set_aside(R, *R.job_key(job.input.job), job.log, config["keep_superseded"])
        if done:
            logger.warning(done)


onsuccess:
    release(R.lock_file())


onerror:
    release(R.lock_file())
