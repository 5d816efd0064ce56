"""Rule aggregate: every evaluation summary in one long-format CSV."""
from harness.fileio import write_csv
from harness.joblog import job_log
from reporting.aggregate import aggregate

with job_log(snakemake.log[0]):  # noqa: F821 (snakemake is injected by Snakemake)
    write_csv(snakemake.output[0], aggregate(list(snakemake.input)))  # noqa: F821
