# Datasets, test masks and (where a network exists) pretrained weights.


rule describe_job:
    """Writes what a job's outputs are computed from, under the digest of it (common.smk, job_file),
    and removes the older descriptions of the same outputs: returning to an earlier config runs the
    job again too."""
    output:
        str(R.job_file("{key}", "{digest}")),
    log:
        str(R.log("jobs", "{key}", "{digest}")),
    wildcard_constraints:
        digest="[0-9a-f]{16}",
    conda:
        CONDA_ENV
    params:
        job=lambda wc, output: as_param(JOB_FILES[output[0]]),
    script:
        "../scripts/describe_job.py"


localrules:
    describe_job,


rule build_mini_dataset:
    """Builds a mini dataset offline from photographs shipped inside installed packages."""
    input:
        job=lambda wc: workflow_job_file("data", wc.dataset),
    output:
        str(R.data_dir("{dataset}") / "manifest.csv"),
    log:
        str(R.log("data", "{dataset}")),
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=lambda wc: as_param(dataset_spec(config, wc.dataset)),
        size=SIZE,
    script:
        "../scripts/build_mini_dataset.py"


rule make_test_masks:
    """Irregular test masks, one folder per hole-ratio bucket, shared by every dataset, variant and
    training seed (the wildcard is masks.seed)."""
    input:
        job=lambda wc: workflow_job_file("masks", wc.seed),
    output:
        str(R.masks_dir(SIZE, "{seed}") / "manifest.csv"),
    log:
        str(R.log("masks", f"{SIZE}px_seed{{seed}}")),
    conda:
        CONDA_ENV
    threads: 1
    params:
        masks=as_param(config["masks"]),
        size=SIZE,
    script:
        "../scripts/make_test_masks.py"


if MISSING_WEIGHTS:

    localrules:
        download_weights,

    rule download_weights:
        """Fetches the missing pretrained weight files (weights.download: true; needs a network)."""
        output:
            MISSING_WEIGHTS,
        log:
            str(R.log("weights", "download")),
        conda:
            CONDA_ENV
        script:
            "../scripts/download_weights.py"
