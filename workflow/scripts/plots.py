"""Rule plots: metric curves with seed bands, differences to the baseline row, loss curves over seeds
and the qualitative grid of one dataset, from the files the rule declares as inputs (every seed's
training logs, the first seed's evaluation samples, the ablation table's csv, every evaluation's
provenance.json: how long each row trained); rows computed by different code are refused (their
evaluations' provenance.json)."""
from pathlib import Path

from inpaint_bench.harness.joblog import job_log
from inpaint_bench.reporting.budget import read_budgets
from inpaint_bench.reporting.plots import write_plots
from inpaint_bench.reporting.results import check_same_code

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    params, inputs = snakemake.params, snakemake.input  # noqa: F821
    check_same_code(inputs.provenance, f"the plots of {snakemake.wildcards.dataset}")  # noqa: F821
    seeds = list(params.seeds)
    logs = {}
    for i, path in enumerate(inputs.logs):  # the rule lists them variant by variant, seed by seed
        logs.setdefault(params.trained[i // len(seeds)], []).append(path)
    write_plots(inputs.summary, snakemake.wildcards.dataset, params.variants,  # noqa: F821
                Path(snakemake.output.metrics).parent,  # noqa: F821
                train_logs=logs, samples=dict(zip(params.variants, inputs.samples)), seed=params.seed,
                ablation_path=inputs.ablation, seeds=seeds, budgets=read_budgets(inputs.provenance))
