"""Rule aggregate: every evaluation summary in one long-format CSV (a row per seed), the mean and std
over seeds in a second file, and the resolved config as a page of the HTML report."""
import json

from inpaint_bench.harness.fileio import atomic_write_text, write_csv
from inpaint_bench.harness.joblog import job_log
from inpaint_bench.reporting.aggregate import aggregate, over_seeds
from inpaint_bench.reporting.budget import config_page
from inpaint_bench.reporting.html import preformatted

CONFIG_PAGE = ("The config the workflow ran with: the config file, any --config overrides and the schema's defaults "
               "(config/schema.yaml), as validated before the first job. First, the training settings each "
               "dataset's jobs used (top-level `train` keys that every dataset or row sets for itself are no "
               "job's and are not shown).")

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    out = snakemake.output  # noqa: F821
    summary = aggregate(list(snakemake.input.summaries))  # noqa: F821
    write_csv(out.summary, summary)
    write_csv(out.over_seeds, over_seeds(summary))
    config = json.loads(snakemake.params.config)  # noqa: F821
    atomic_write_text(out.config, preformatted("Config of this run", config_page(config, snakemake.params.trained),  # noqa: F821
                                               CONFIG_PAGE))
