"""Rule tables: the absolute and the ablation table of one dataset (csv, md, tex, html), from the
summary, the per-image CSVs (their evaluations' provenance.json: rows computed by different code are
refused; how long each row trained) and the published table (report.published_table, when set) the
rule declares as inputs."""
from pathlib import Path

from inpaint_bench.harness.joblog import job_log
from inpaint_bench.reporting.budget import read_budgets
from inpaint_bench.reporting.results import check_same_code, read_per_images, read_summary
from inpaint_bench.reporting.stats import Bootstrap
from inpaint_bench.reporting.tables import write_tables

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    inputs, params, out = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
    check_same_code(inputs.provenance, f"the tables of {snakemake.wildcards.dataset}")  # noqa: F821
    paths = write_tables(read_summary(inputs.summary), snakemake.wildcards.dataset,  # noqa: F821
                         Path(out.csv).parent, params.variants, per_image=read_per_images(inputs.per_image),
                         baseline_row=params.baseline_row, bootstrap=Bootstrap.from_config(params.bootstrap),
                         published_table=inputs.published or None, labels=params.labels,
                         coinciding=params.coinciding, pairing=params.pairing,
                         budgets=read_budgets(inputs.provenance), expected=params.expected)
    expected = {str(Path(p)) for p in out}
    written = {str(Path(p)) for p in paths.values()}
    if written != expected:
        raise RuntimeError(f"tables wrote {sorted(written)}, the rule declares {sorted(expected)}")
