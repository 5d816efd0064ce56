# Aggregation, paper-style tables and plots.


rule aggregate:
    """All evaluation summaries in one long-format CSV."""
    input:
        eval_summaries,
    output:
        os.path.join(RESULTS, "summary.csv"),
    params:
        module="reporting.aggregate",
        args=lambda wc, input, output: ["--out", output[0], *input],
    log:
        os.path.join(RESULTS, "logs", "report", "aggregate.log"),
    threads: 1
    conda:
        CONDA_ENV
    script:
        ENTRY


rule tables:
    """Rows variants, columns bucket x metric, best per column marked."""
    input:
        os.path.join(RESULTS, "summary.csv"),
    output:
        os.path.join(RESULTS, "tables", "{dataset}.csv"),
        report(os.path.join(RESULTS, "tables", "{dataset}.md"), caption="../report/tables.rst",
               category="Tables", subcategory="{dataset}"),
        os.path.join(RESULTS, "tables", "{dataset}.tex"),
    params:
        module="reporting.tables",
        args=lambda wc, input, output: [
            "--summary", input[0], "--dataset", wc.dataset, "--out-dir", folder_of(output[0]),
            "--variants", *VARIANTS,
        ],
    log:
        os.path.join(RESULTS, "logs", "report", "tables_{dataset}.log"),
    threads: 1
    conda:
        CONDA_ENV
    script:
        ENTRY


rule plots:
    """Metrics against hole ratio, training loss curves and a qualitative grid."""
    input:
        summary=os.path.join(RESULTS, "summary.csv"),
        models=trained_models_of_dataset,
    output:
        [report(os.path.join(RESULTS, "plots", f"{{dataset}}_{plot}.png"), caption="../report/plots.rst",
                category="Plots", subcategory="{dataset}") for plot in PLOTS],
    params:
        module="reporting.plots",
        args=lambda wc, input, output: [
            "--summary", input.summary, "--runs", os.path.join(RESULTS, "runs"), "--dataset", wc.dataset,
            "--seed", SEEDS[0], "--out-dir", folder_of(output[0]), "--variants", *VARIANTS,
        ],
    log:
        os.path.join(RESULTS, "logs", "report", "plots_{dataset}.log"),
    threads: 1
    conda:
        CONDA_ENV
    script:
        ENTRY
