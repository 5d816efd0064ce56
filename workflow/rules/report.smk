# Aggregation, paper-style tables and plots: cheap, so they run on the submitting machine.


localrules:
    aggregate,
    tables,
    plots,


rule aggregate:
    """All evaluation summaries in one long-format CSV."""
    input:
        eval_summaries,
    output:
        str(R.summary()),
    log:
        str(R.log("report", "aggregate")),
    conda:
        CONDA_ENV
    script:
        "../scripts/aggregate.py"


rule tables:
    """Rows variants, columns bucket x metric, best per column marked."""
    input:
        str(R.summary()),
    output:
        csv=str(R.table("{dataset}", "csv")),
        md=report(
            str(R.table("{dataset}", "md")),
            caption="../report/tables.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
        tex=str(R.table("{dataset}", "tex")),
    log:
        str(R.log("report", "tables_{dataset}")),
    conda:
        CONDA_ENV
    params:
        variants=VARIANTS,
    script:
        "../scripts/tables.py"


rule plots:
    """Metrics against hole ratio, training loss curves and a qualitative grid."""
    input:
        unpack(plot_inputs),
    output:
        **{
            plot: report(
                str(R.plot("{dataset}", plot)),
                caption="../report/plots.rst",
                category="Plots",
                subcategory="{dataset}",
            )
            for plot in PLOTS
        },
    log:
        str(R.log("report", "plots_{dataset}")),
    conda:
        CONDA_ENV
    params:
        variants=VARIANTS,
        trained=TRAINED,
        seed=SEEDS[0],
    script:
        "../scripts/plots.py"
