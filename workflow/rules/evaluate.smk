# Evaluation of every variant (trained or classical) on the fixed test masks.


rule evaluate:
    """Scores the composites of one variant per hole-ratio bucket: per-image and summary CSVs."""
    input:
        data=dataset_ready,
        masks=masks_manifest,
        model=trained_model,
    output:
        summary=os.path.join(RESULTS, "runs", "{dataset}", "{variant}", "seed{seed}", "eval", "summary.csv"),
        per_image=os.path.join(RESULTS, "runs", "{dataset}", "{variant}", "seed{seed}", "eval", "per_image.csv"),
    params:
        job=eval_job_params,
        module="training.evaluate",
        args=lambda wc, input, output, threads: [
            "--config", RUN_CONFIG, "--dataset", wc.dataset, "--variant", wc.variant, "--seed", wc.seed,
            *(["--model", input.model] if input.model else []),
            "--masks", folder_of(input.masks), "--out", folder_of(output.summary), "--threads", threads,
        ],
    log:
        os.path.join(RESULTS, "logs", "evaluate", "{dataset}", "{variant}", "seed{seed}.log"),
    threads: THREADS
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        ENTRY
