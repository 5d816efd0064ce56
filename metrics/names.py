"""The metrics' names, their better direction and the long-format summary's columns: written by the
evaluation, read by reporting. Torch-free, so reporting can import it cheaply."""

# Paper order of the metric columns and the better direction of each (True = higher is better).
METRICS = ["psnr", "ssim", "l1", "lpips", "fid", "kid"]
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "l1": False, "lpips": False, "fid": False, "kid": False}

# One row per (dataset, variant, seed, bucket, metric); `note` says why a value is missing
# ("missing: <file>"), `train_note` what training had to leave out (e.g. the VGG losses).
SUMMARY_COLUMNS = ["dataset", "variant", "seed", "bucket", "metric", "value", "n", "note", "train_note"]
