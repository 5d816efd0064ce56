# Training: one job per (dataset, trainable variant, seed), and one DGI teacher job per
# (dataset, teacher architecture, seed) that every distilled student of that architecture needs.


rule train_teacher:
    """DGI's auxiliary network: the student's backbone trained to reconstruct uncorrupted images."""
    input:
        data=dataset_ready,
    output:
        model=os.path.join(RESULTS, "teachers", "{dataset}", "{arch}", "seed{seed}", "model.pt"),
    params:
        job=teacher_job_params,
        module="training.train",
        args=lambda wc, output, threads: [
            "--config", RUN_CONFIG, "--dataset", wc.dataset, "--variant", TEACHERS[wc.arch],
            "--role", "teacher", "--seed", wc.seed, "--out", folder_of(output.model), "--threads", threads,
        ],
    log:
        os.path.join(RESULTS, "logs", "teachers", "{dataset}", "{arch}", "seed{seed}.log"),
    threads: THREADS
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        ENTRY


rule train:
    """Trains a variant; re-running after an interruption resumes from its last checkpoint."""
    input:
        data=dataset_ready,
        teacher=teacher_model,
    output:
        model=os.path.join(RESULTS, "runs", "{dataset}", "{variant}", "seed{seed}", "model.pt"),
    params:
        job=train_job_params,
        module="training.train",
        args=lambda wc, input, output, threads: [
            "--config", RUN_CONFIG, "--dataset", wc.dataset, "--variant", wc.variant,
            "--seed", wc.seed, "--out", folder_of(output.model), "--threads", threads,
            *(["--teacher", input.teacher] if input.teacher else []),
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
