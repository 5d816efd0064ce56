# Training: one job per (dataset, trainable variant, seed), and one DGI teacher job per
# (dataset, teacher architecture, seed) that every distilled student of that architecture needs.
# Each job's params hold its whole resolved description (jobs.resolve), and its job file input the
# same under its digest (common.smk): a change re-runs it, with or without Snakemake's metadata.


rule train_teacher:
    """A DGI teacher: the students' architecture trained on uncorrupted images."""
    input:
        data=dataset_manifest,
        weights=weight_files("vgg16"),
        job=lambda wc: workflow_job_file("teacher", wc.dataset, wc.arch, wc.seed),
    output:
        model=str(R.teacher_dir("{dataset}", "{arch}", "{seed}") / "model.pt"),
    log:
        str(R.log("teachers", "{dataset}", "{arch}", "seed{seed}")),
    conda:
        CONDA_ENV
    threads: THREADS
    resources:
        **RESOURCES["train"],
    params:
        job=lambda wc: as_param(teacher_job(config, wc.dataset, wc.arch, int(wc.seed), listings)),
    script:
        "../scripts/train.py"


rule train:
    """Trains a variant; re-running after an interruption resumes from its last checkpoint."""
    input:
        data=dataset_manifest,
        teacher=teacher_model,
        init=init_weights,
        weights=weight_files("vgg16"),
        job=lambda wc: workflow_job_file("train", wc.dataset, wc.variant, wc.seed),
    output:
        model=run_file("model.pt"),
        train_log=run_file("train_log.csv"),
        validation=run_file("validation.csv"),
    log:
        str(R.log("train", "{dataset}", "{variant}", "seed{seed}")),
    conda:
        CONDA_ENV
    threads: THREADS
    resources:
        **RESOURCES["train"],
    params:
        job=lambda wc: as_param(train_job(config, wc.dataset, wc.variant, int(wc.seed), listings)),
    script:
        "../scripts/train.py"


rule validate_classical:
    """A classical row scored once on the validation split the training jobs hold out: the classical
    lines of the validation plot."""
    input:
        data=dataset_manifest,
        job=lambda wc: workflow_job_file("validation", wc.dataset, wc.classical),
    output:
        validation=str(R.classical_validation("{dataset}", "{classical}")),
    log:
        str(R.log("validate", "{dataset}", "{classical}")),
    conda:
        CONDA_ENV
    threads: THREADS
    resources:
        **RESOURCES["evaluate"],
    params:
        job=lambda wc: as_param(validation_job(config, wc.dataset, wc.classical, listings)),
    script:
        "../scripts/validate_classical.py"
