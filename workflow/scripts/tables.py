"""Rule tables: the paper-style table of one dataset (csv, md, tex)."""
from pathlib import Path

from harness.joblog import job_log
from reporting import read_summary
from reporting.tables import write_tables

with job_log(snakemake.log[0]):  # noqa: F821 (snakemake is injected by Snakemake)
    write_tables(read_summary(snakemake.input[0]), snakemake.wildcards.dataset,  # noqa: F821
                 Path(snakemake.output.csv).parent, snakemake.params.variants)  # noqa: F821
