# Aggregation, paper-style tables (absolute and ablation, with paired bootstrap intervals), plots and
# the pages of the HTML report (snakemake --report): cheap, so they run on the submitting machine.
from inpaint_bench.reporting.budget import expected_schedule, planned_line
from inpaint_bench.reporting.phrases import images_per_bucket


localrules:
    aggregate,
    tables,
    paper_view,
    scorecard,
    plots,
    validation_plot,


report: "../report/workflow.rst"


rule aggregate:
    """All evaluation summaries in one long-format CSV (a row per seed), the mean and std over seeds,
    and the resolved config as a page of the report."""
    input:
        summaries=eval_summaries,
        job=workflow_job_file("summary"),
    output:
        summary=str(R.summary()),
        over_seeds=str(R.summary().with_name("summary_over_seeds.csv")),
        config=report(
            str(R.root / "report" / "config.html"),
            caption="../report/config.rst",
            category="Config",
            labels={"file": "resolved config"},
        ),
    log:
        str(R.log("report", "aggregate")),
    conda:
        CONDA_ENV
    params:
        config=as_param(config),
        trained=TRAINED,
    script:
        "../scripts/aggregate.py"


rule tables:
    """The absolute table (mean ± std over seeds, with the published values of report.published_table
    beside our cells when set) and the ablation table (Δ to the baseline row with hierarchical
    paired bootstrap intervals over the per-image scores) of one dataset."""
    input:
        summary=str(R.summary()),
        published=config["report"]["published_table"] or [],
        job=lambda wc: workflow_job_file("tables", wc.dataset),
        per_image=lambda wc: [
            str(R.eval_dir(wc.dataset, v, s) / "per_image.csv") for v in VARIANTS for s in SEEDS
        ],
        provenance=eval_provenances,
    # update(): Snakemake keeps the tables until the job replaces them, whole (reporting.tables); it
    # would otherwise delete them first, and a run killed meanwhile would leave none
    output:
        csv=update(str(R.table("{dataset}", "csv"))),
        md=update(str(R.table("{dataset}", "md"))),
        tex=update(str(R.table("{dataset}", "tex"))),
        html=update(
            report(
                str(R.table("{dataset}", "html")),
                caption="../report/tables.rst",
                category="Tables",
                subcategory="{dataset}",
                labels={"dataset": "{dataset}", "table": "absolute: mean ± std over seeds"},
            )
        ),
        ablation_csv=update(str(R.table("{dataset}_ablation", "csv"))),
        ablation_md=update(str(R.table("{dataset}_ablation", "md"))),
        ablation_tex=update(str(R.table("{dataset}_ablation", "tex"))),
        ablation_html=update(
            report(
                str(R.table("{dataset}_ablation", "html")),
                caption="../report/ablation.rst",
                category="Tables",
                subcategory="{dataset}",
                labels={"dataset": "{dataset}", "table": "ablation: Δ to the baseline row"},
            )
        ),
    log:
        str(R.log("report", "tables_{dataset}")),
    conda:
        CONDA_ENV
    params:
        variants=VARIANTS,
        seeds=SEEDS,
        baseline_row=config["report"]["baseline_row"],
        published_table=config["report"]["published_table"],
        note=config["report"]["note"],
        bootstrap=config["report"]["bootstrap"],
        n=lambda wc: images_per_bucket(dataset_spec(config, wc.dataset)),
        labels=row_labels(config),  # the config's labels, else generated (jobs.resolve.row_label)
        coinciding=lambda wc: coinciding(),
        pairing=config["masks"]["pairing"],
        expected=lambda wc: expected_schedule(config, wc.dataset, TRAINED),
        budget=lambda wc: planned_line(config, wc.dataset, TRAINED),
    script:
        "../scripts/tables.py"


rule paper_view:
    """A published table (report.paper_tables) in the paper's own shape: its rows, buckets, metrics and
    precision, our value and Δ = ours − published (with its bootstrap interval) under each row we have
    a variant for."""
    input:
        summary=str(R.summary()),
        published=lambda wc: PAPER_TABLES[wc.paper_table],
        per_image=every_per_image,
        job=workflow_job_file("paper"),
        provenance=every_provenance,
    output:
        csv=str(R.paper("{paper_table}", "csv")),
        md=str(R.paper("{paper_table}", "md")),
        tex=str(R.paper("{paper_table}", "tex")),
        html=report(
            str(R.paper("{paper_table}", "html")),
            caption="../report/paper.rst",
            category="Paper",
            labels={"table": "{paper_table}"},
        ),
    log:
        str(R.log("report", "paper_{paper_table}")),
    wildcard_constraints:
        paper_table="|".join(PAPER_TABLES) or "no-paper-table",
    conda:
        CONDA_ENV
    params:
        bootstrap=config["report"]["bootstrap"],
        variants=config["report"]["paper_variants"],
        rows=VARIANTS,
        expected={d: expected_schedule(config, d, TRAINED) for d in DATASETS},
    script:
        "../scripts/paper.py"


rule scorecard:
    """Every published cell of report.paper_tables that we have a variant for: published, ours, Δ,
    interval and a verdict in words, with a summary line per table row."""
    input:
        summary=str(R.summary()),
        published=list(PAPER_TABLES.values()),
        per_image=every_per_image,
        job=workflow_job_file("paper"),
        provenance=every_provenance,
    output:
        csv=str(R.paper(SCORECARD, "csv")),
        md=str(R.paper(SCORECARD, "md")),
        tex=str(R.paper(SCORECARD, "tex")),
        html=report(
            str(R.paper(SCORECARD, "html")),
            caption="../report/scorecard.rst",
            category="Paper",
            labels={"table": "reproduction scorecard"},
        ),
    log:
        str(R.log("report", "scorecard")),
    conda:
        CONDA_ENV
    params:
        bootstrap=config["report"]["bootstrap"],
        variants=config["report"]["paper_variants"],
        rows=VARIANTS,
        expected={d: expected_schedule(config, d, TRAINED) for d in DATASETS},
    script:
        "../scripts/paper.py"


rule plots:
    """Metrics against hole ratio (seed bands), differences to the baseline row with intervals,
    training loss curves over seeds and a qualitative grid (first seed)."""
    input:
        summary=str(R.summary()),
        ablation=str(R.table("{dataset}_ablation", "csv")),
        logs=lambda wc: [str(R.run_dir(wc.dataset, v, s) / "train_log.csv") for v in TRAINED for s in SEEDS],
        samples=lambda wc: [str(R.eval_dir(wc.dataset, v, SEEDS[0]) / "samples") for v in VARIANTS],
        job=lambda wc: workflow_job_file("plots", wc.dataset),
        provenance=eval_provenances,
    output:
        metrics=report(
            str(R.plot("{dataset}", "metrics")),
            caption="../report/metrics.rst",
            category="Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "plot": "metrics per bucket"},
        ),
        paired=report(
            str(R.plot("{dataset}", "paired")),
            caption="../report/paired.rst",
            category="Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "plot": "Δ to the baseline row"},
        ),
        loss=report(
            str(R.plot("{dataset}", "loss")),
            caption="../report/loss.rst",
            category="Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "plot": "training losses"},
        ),
        qualitative=report(
            str(R.plot("{dataset}", "qualitative")),
            caption="../report/qualitative.rst",
            category="Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "plot": "qualitative"},
        ),
    log:
        str(R.log("report", "plots_{dataset}")),
    conda:
        CONDA_ENV
    params:
        variants=VARIANTS,
        trained=TRAINED,
        seeds=SEEDS,
        seed=SEEDS[0],
        budget=lambda wc: planned_line(config, wc.dataset, TRAINED),
    script:
        "../scripts/plots.py"


rule validation_plot:
    """Validation scores against training images seen: a line per learned row with its seed band, the
    classical rows as classical lines."""
    input:
        runs=lambda wc: [str(R.run_dir(wc.dataset, v, s) / "validation.csv") for v in TRAINED for s in SEEDS],
        classical=lambda wc: [
            str(R.classical_validation(wc.dataset, v)) for v in validated_classical(wc.dataset)
        ],
        job=lambda wc: workflow_job_file("validation_plot", wc.dataset),
    output:
        plot=report(
            str(R.plot("{dataset}", "validation")),
            caption="../report/validation.rst",
            category="Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "plot": "validation during training"},
        ),
    log:
        str(R.log("report", "validation_plot_{dataset}")),
    conda:
        CONDA_ENV
    params:
        trained=TRAINED,
        classical=lambda wc: validated_classical(wc.dataset),
        variants=VARIANTS,
        seeds=SEEDS,
        images_per_step=lambda wc: {v: train_settings(config, wc.dataset, v)["batch_size"] for v in TRAINED},
    script:
        "../scripts/validation_plot.py"
