"""Rules paper_view and scorecard: a published table in the paper's shape beside ours, or the
reproduction scorecard of them all (reporting.paper), from the summary, the per-image CSVs and the
published CSV (report.paper_tables) the rules declare as inputs; how long each row trained from
every evaluation's provenance.json."""
from pathlib import Path

from inpaint_bench.harness.joblog import job_log
from inpaint_bench.reporting.budget import read_budgets_by_dataset
from inpaint_bench.reporting.paper import write_scorecard, write_view
from inpaint_bench.reporting.results import read_per_images, read_summary
from inpaint_bench.reporting.stats import Bootstrap

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    inputs, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
    summary, per_image = read_summary(inputs.summary), read_per_images(inputs.per_image)
    bootstrap, folder = Bootstrap.from_config(params.bootstrap), Path(out.csv).parent
    budget = {"budgets": read_budgets_by_dataset(inputs.provenance), "expected": params.expected}
    if snakemake.rule == "scorecard":  # noqa: F821
        paths = write_scorecard(summary, per_image, list(inputs.published), folder, bootstrap,
                                params.variants, params.rows, **budget)
    else:
        paths = write_view(summary, per_image, inputs.published, folder, bootstrap, params.variants,
                           params.rows, **budget)
    expected = {str(Path(p)) for p in out}
    written = {str(Path(p)) for p in paths.values()}
    if written != expected:
        raise RuntimeError(f"{snakemake.rule} wrote {sorted(written)}, the rule declares {sorted(expected)}")  # noqa: F821
