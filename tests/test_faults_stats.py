"""Evidence, issue 25 class 5: the pooled row of `compare` resamples images, not image-bucket rows;
"measures little" is judged inside the hole and one image's pull on a bucket's mean is flagged; the
mini builders keep crops that measure something; published values are checked by metric; set-level
metrics below their minimum n carry a caveat in both tables. Every frame is made here."""
from __future__ import annotations

import numpy as np
import pandas as pd

from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.names import PER_IMAGE_COLUMNS
from inpaint_bench.reporting.compare import compare_files
from inpaint_bench.reporting.stats import Bootstrap

BUCKETS = ["0.1-0.2", "0.2-0.3", "0.3-0.4"]


def write_per_image(path, variant, psnr):
    """A per-image file of one seed: psnr[(bucket, image)] -> value; the same images in every bucket."""
    rows = [{"dataset": "d", "variant": variant, "seed": 0, "bucket": bucket, "image": image,
             "mask": f"{bucket}/{image}.png", "hole_ratio": float(bucket[:3]) + 0.05, "psnr": value, "ssim": 0.9,
             "l1": 0.01, "lpips": np.nan, "protocol": "harness"} for (bucket, image), value in psnr.items()]
    write_csv(path, pd.DataFrame(rows, columns=PER_IMAGE_COLUMNS))
    return path


# ------------------------------------------------------------------ compare's pooled row


def test_the_pooled_row_resamples_images_with_all_their_buckets(tmp_path):
    """12 images in 3 buckets: each image's Δ is nearly the same in every bucket (the image, not the
    bucket, decides it). Resampling the 36 rows as if independent gave a pooled interval that excludes
    0 and a mark; the 12 images hold too little for that."""
    effects = np.array([2.6, -1.4, 1.9, -0.8, 2.2, -1.7, 1.1, 0.4, -1.2, 2.4, -0.6, 1.5]) + 0.25  # mean 0.82
    images = [f"img{i:02d}" for i in range(len(effects))]
    base = {(b, im): 25.0 + i % 5 + j for j, b in enumerate(BUCKETS) for i, im in enumerate(images)}
    other = {(b, im): base[(b, im)] + effects[i] + 0.01 * j for j, b in enumerate(BUCKETS)
             for i, im in enumerate(images)}
    a = write_per_image(tmp_path / "a.csv", "a", base)
    b = write_per_image(tmp_path / "b.csv", "b", other)
    rows, _, _ = compare_files(a, b, metrics=["psnr"], bootstrap=Bootstrap(resamples=2000), warn=lambda _: None)
    pooled = rows[rows["bucket"] == "all"].iloc[0]
    assert pooled["n"] == 36 and abs(pooled["delta"] - (effects.mean() + 0.01)) < 1e-9
    assert pooled["lo"] < 0 < pooled["hi"] and pooled["mark"] == "", pooled  # before: [+0.23, +1.28] better
    # the width is that of 12 image means, not of 36 rows: about twice the row-wise one (sqrt 3)
    per_image = np.array([np.mean([other[(bk, im)] - base[(bk, im)] for bk in BUCKETS]) for im in images])
    textbook = 2 * 1.96 * per_image.std() / np.sqrt(len(images))
    assert 0.8 * textbook < pooled["hi"] - pooled["lo"] < 1.2 * textbook
