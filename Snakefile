# Inpainting ablation harness: data + masks -> training -> evaluation -> tables and plots.
#   snakemake --cores N                          embedded default (config/config.yaml, mini datasets)
#   snakemake --cores N --configfile config/ci.yaml
# A --configfile replaces the default config (it is not merged with it); --config key=value overrides.
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

REPO = Path(workflow.basedir)
# The Snakefile and the jobs (workflow/scripts/entry.py) import the harness packages from the
# repository root, whatever the working directory.
sys.path.insert(0, str(REPO))


if "variants" not in config:  # no --configfile given: the embedded default
    configfile: str(REPO / "config" / "config.yaml")


from training.config import ConfigError, validate_config  # noqa: E402

try:  # config/schema.yaml: unknown keys and wrong types fail here, naming the key, before any job
    validate_config(config, "snakemake config")
except ConfigError as err:
    raise WorkflowError(str(err))

if config["weights"]["download"]:  # where a network exists; failures are reported per file
    from metrics.weights import fetch_missing

    fetch_missing(config["weights"]["dir"])

if config["weights"]["required"]:  # strict configs fail here, before any job runs
    from metrics.weights import WeightsMissing, require_weights

    try:
        require_weights(["vgg16", "inception", "alexnet"], config["weights"]["dir"])
    except WeightsMissing as err:
        raise WorkflowError(f"{err}\n(weights.required is true; set it to false to report these metrics as missing)")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        f"{RESULTS}/summary.csv",
        expand(f"{RESULTS}/tables/{{dataset}}.{{ext}}", dataset=DATASETS, ext=["csv", "md", "tex"]),
        expand(f"{RESULTS}/plots/{{dataset}}_{{plot}}.png", dataset=DATASETS, plot=PLOTS),
    default_target: True
