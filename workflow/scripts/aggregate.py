"""Rule aggregate: every evaluation summary in one long-format CSV."""
from harness.joblog import job_log
from reporting.aggregate import aggregate, write_summary

with job_log(snakemake.log[0]):  # noqa: F821 (snakemake is injected by Snakemake)
    write_summary(aggregate(list(snakemake.input)), snakemake.output[0])  # noqa: F821
