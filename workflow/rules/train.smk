# Training: one job per (dataset, trainable variant, seed).


rule train:
    """Trains a variant; re-running after an interruption resumes from its last checkpoint."""
    input:
        data=dataset_ready,
    output:
        model=os.path.join(RESULTS, "runs", "{dataset}", "{variant}", "seed{seed}", "model.pt"),
    params:
        job=train_job_params,
        module="training.train",
        args=lambda wc, output, threads: [
            "--config", RUN_CONFIG, "--dataset", wc.dataset, "--variant", wc.variant,
            "--seed", wc.seed, "--out", folder_of(output.model), "--threads", threads,
        ],
    log:
        os.path.join(RESULTS, "logs", "train", "{dataset}", "{variant}", "seed{seed}.log"),
    threads: THREADS
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        ENTRY
