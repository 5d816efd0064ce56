# Datasets and test masks.


rule build_mini_dataset:
    """Builds a mini dataset offline from photographs shipped inside installed packages."""
    output:
        os.path.join(RESULTS, "data", "{dataset}", "manifest.csv"),
    params:
        spec=lambda wc: as_json(config["datasets"][wc.dataset]),
        module="datasets.mini",
        args=lambda wc, output: [
            "--kind", config["datasets"][wc.dataset]["kind"], "--out", folder_of(output[0]),
            "--size", SIZE, "--seed", 0,
            "--train", config["datasets"][wc.dataset]["train_count"],
            "--test", config["datasets"][wc.dataset]["test_count"],
        ],
    log:
        os.path.join(RESULTS, "logs", "data", "{dataset}.log"),
    threads: 1
    conda:
        CONDA_ENV
    script:
        ENTRY


rule make_test_masks:
    """Irregular test masks, one folder per hole-ratio bucket, shared by every dataset and variant."""
    output:
        os.path.join(RESULTS, "masks", f"{SIZE}px_seed{{seed}}", "manifest.csv"),
    params:
        masks=as_json(config["masks"]),
        module="datasets.masks",
        args=lambda wc, output: [
            "--out", folder_of(output[0]), "--size", SIZE, "--count", config["masks"]["count"],
            "--seed", wc.seed, *nvidia_mask_args(),
            "--buckets", *bucket_names(),
        ],
    log:
        os.path.join(RESULTS, "logs", "masks", f"{SIZE}px_seed{{seed}}.log"),
    threads: 1
    conda:
        CONDA_ENV
    script:
        ENTRY
