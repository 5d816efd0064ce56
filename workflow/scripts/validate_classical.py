"""Rule validate_classical: a classical row scored on the validation split (training.validation)."""
import json

import torch

from inpaint_bench.harness.joblog import job_log
from inpaint_bench.training.validation import validate_classical

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    validate_classical(json.loads(snakemake.params.job), snakemake.output.validation)  # noqa: F821
