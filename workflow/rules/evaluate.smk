# Evaluation of every variant (trained or classical) on the fixed test masks.


rule evaluate:
    """Scores the composites of one variant per hole-ratio bucket: per-image and summary CSVs."""
    input:
        data=dataset_manifest,
        masks=masks_manifest,
        model=trained_model,
        weights=eval_weights,
        job=lambda wc: workflow_job_file("eval", wc.dataset, wc.variant, wc.seed),
    output:
        summary=eval_file("summary.csv"),
        per_image=eval_file("per_image.csv"),
        samples=directory(eval_file("samples")),
        # what was scored and how long its model trained: read by the tables and plots (reporting.budget)
        provenance=eval_file("provenance.json"),
    log:
        str(R.log("evaluate", "{dataset}", "{variant}", "seed{seed}")),
    conda:
        CONDA_ENV
    threads: THREADS
    resources:
        **RESOURCES["evaluate"],
    params:
        job=lambda wc: as_param(eval_job(config, wc.dataset, wc.variant, int(wc.seed), listings)),
        cache=str(R.cache_dir()),
    script:
        "../scripts/evaluate.py"
