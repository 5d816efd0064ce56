"""Rule plots: metric curves, loss curves and the qualitative grid of one dataset, from the files
the rule declares as inputs (the first seed's training logs and evaluation samples)."""
from pathlib import Path

from harness.joblog import job_log
from reporting.plots import write_plots

with job_log(snakemake.log[0]):  # noqa: F821 (snakemake is injected by Snakemake)
    params, inputs = snakemake.params, snakemake.input  # noqa: F821
    write_plots(inputs.summary, snakemake.wildcards.dataset, params.variants,  # noqa: F821
                Path(snakemake.output.metrics).parent,  # noqa: F821
                train_logs=dict(zip(params.trained, inputs.logs)),
                samples=dict(zip(params.variants, inputs.samples)), seed=params.seed)
