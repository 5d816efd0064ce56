"""Rule validation_plot: validation scores of every trained row (seed bands) and the classical lines."""
from inpaint_bench.harness.joblog import job_log
from inpaint_bench.reporting.plots import save_figure, validation_figure

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    params, inputs = snakemake.params, snakemake.input  # noqa: F821
    seeds = len(params.seeds)
    runs = {}
    for i, path in enumerate(inputs.runs):  # the rule lists them variant by variant, seed by seed
        runs.setdefault(params.trained[i // seeds], []).append(path)
    figure = validation_figure(runs, dict(zip(params.classical, inputs.classical)), params.images_per_step,
                               snakemake.wildcards.dataset, order=params.variants)  # noqa: F821
    save_figure(figure, snakemake.output.plot)  # noqa: F821
