"""Rule download_weights: the missing pretrained weight files, fetched where a network exists."""
from pathlib import Path

from inpaint_bench.harness.joblog import job_log
from inpaint_bench.harness.weights import fetch_file

with job_log(snakemake.log[0], __file__):  # noqa: F821 (snakemake is injected by Snakemake)
    for path in snakemake.output:  # noqa: F821
        fetch_file(Path(path))
