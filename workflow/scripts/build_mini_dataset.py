"""Rule build_mini_dataset: a mini dataset built offline into its root."""
import json
from pathlib import Path

from inpaint_bench.datasets.mini import build_mini_dataset
from inpaint_bench.harness.joblog import job_log

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    spec = json.loads(snakemake.params.spec)  # noqa: F821
    build_mini_dataset(spec["kind"], Path(snakemake.output[0]).parent, snakemake.params.size,  # noqa: F821
                       spec["train_count"], spec["test_count"], seed=0)
