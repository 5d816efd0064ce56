"""Evidence, issue 25 class 5: the pooled row of `compare` resamples images, not image-bucket rows;
"measures little" is judged inside the hole and one image's pull on a bucket's mean is flagged; the
mini builders keep crops that measure something; published values are checked by metric; set-level
metrics below their minimum n carry a caveat in both tables. Every frame is made here."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from helpers.fake_results import DATASET, VARIANTS, make_results, per_image_paths
from inpaint_bench.datasets.mini import build_mini_dataset
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.names import MIN_SET_LEVEL_N, NEAR_CONSTANT_STD, per_image_columns
from inpaint_bench.harness.published import PUBLISHED_COLUMNS, load_published
from inpaint_bench.metrics.evaluation import Evaluation
from inpaint_bench.metrics.suite import MetricSuite
from inpaint_bench.models.classical import MeanFill
from inpaint_bench.reporting.ablation import build_ablation
from inpaint_bench.reporting.ablation import to_latex as ablation_latex
from inpaint_bench.reporting.ablation import to_markdown as ablation_markdown
from inpaint_bench.reporting.absolute import build_table
from inpaint_bench.reporting.absolute import to_markdown as absolute_markdown
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.compare import compare_files
from inpaint_bench.reporting.results import read_per_images
from inpaint_bench.reporting.stats import Bootstrap
from inpaint_bench.reporting.tables import write_tables

BUCKETS = ["0.1-0.2", "0.2-0.3", "0.3-0.4"]


def write_per_image(path, variant, psnr):
    """A per-image file of one seed: psnr[(bucket, image)] -> value; the same images in every bucket."""
    rows = [{"dataset": "d", "variant": variant, "seed": 0, "bucket": bucket, "image": image,
             "mask": f"{bucket}/{image}.png", "hole_ratio": float(bucket[:3]) + 0.05, "psnr": value, "ssim": 0.9,
             "l1": 0.01, "lpips": np.nan, "protocol": "default"} for (bucket, image), value in psnr.items()]
    write_csv(path, pd.DataFrame(rows, columns=per_image_columns()))
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


def test_clusters_of_one_give_the_plain_bootstrap():
    """An image in one bucket only is its own cluster: the same interval as the row bootstrap."""
    from inpaint_bench.reporting.stats import hierarchical_bootstrap

    rng = np.random.default_rng(1)
    groups = [rng.normal(0.3, 1, 12), rng.normal(0.5, 1, 12)]
    labels = [[f"i{j}" for j in range(12)]] * 2
    plain = hierarchical_bootstrap(groups, 500, salt=("x",))
    clustered = hierarchical_bootstrap(groups, 500, salt=("x",), clusters=labels)
    assert (clustered.estimate, clustered.n) == (pytest.approx(plain.estimate), plain.n)
    assert (clustered.lo, clustered.hi) == (pytest.approx(plain.lo), pytest.approx(plain.hi))


# ------------------------------------------------------------------ published values


def write_published(path, rows):
    """A published CSV (published/README.md); rows: (row, variant, bucket, metric, value, printed)."""
    lines = [",".join(PUBLISHED_COLUMNS)] + [",".join(["rfr_net_cvpr2020", "Table 9", DATASET, "nvidia_test", *r,
                                                       "https://example.org p. 7"]) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("row, fault", [
    (("Ours", "rfr_full", "0.2-0.3", "l1", "2.5", "2.50%"),
     r"value 2.5 is outside the range of a published L1, 0 to 1 "
     r"\(a fraction: a printed 2.50% is 0.025\)"),
    (("Ours", "rfr_full", "0.2-0.3", "ssim", "93.1", "93.1"), r"value 93.1 is outside the range of a published SSIM"),
    (("Ours", "rfr_full", "0.2-0.3", "psnr", "27.5", "27.75"), r"value 27.5 does not agree with printed '27.75'"),
    (("Ours", "rfr_full", "0.2-0.3", "l1", "0.25", "2.50%"), r"value 0.25 does not agree with printed '2.50%' "
                                                             r"\(expected 0.025"),
])
def test_a_published_value_outside_its_range_or_unlike_its_print_is_refused(tmp_path, row, fault):
    """Before: the L1 showed as "pub. 250.00", the SSIM of 93.1 was taken as it stood."""
    path = write_published(tmp_path / "table9.csv", [row])
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}:2 \(row 'Ours', bucket 0.2-0.3, {row[3]}\): {fault}"):
        load_published(path)


def test_published_values_in_every_printed_form_are_read(tmp_path):
    """What RFR-Net's tables print (SSIM 0.939, PSNR 27.75, mean L1 0.0142), a percent sign, a header
    scale (L1 (%): 2.50; KID x10^3) and a footnote mark pass the check."""
    forms = [("ssim", "0.939", "0.939"), ("psnr", "27.75", "27.75"), ("l1", "0.0142", "0.0142"),
             ("l1", "0.025", "2.50%"), ("l1", "0.025", "2.50"), ("kid", "0.0123", "12.3"),
             ("psnr", "27.75", "27.75*"), ("fid", "12.34", "12.34"), ("lpips", "0.0871", "0.0871")]
    path = write_published(tmp_path / "t.csv", [(f"row{i}", "", "0.1-0.2", *form) for i, form in enumerate(forms)])
    assert [r["value"] for r in load_published(path)] == [float(f[1]) for f in forms]


def test_a_published_fid_gets_no_difference(tmp_path):
    """Before: "(pub. 35.00; Δ +5.00)" under a footnote saying FID must not be compared with published
    numbers."""
    summary = aggregate(make_results(tmp_path / "results", logs=False, fid={"pconv_base": 40.0, "rfr_full": 30.0}))
    path = write_published(tmp_path / "table9.csv", [("PConv", "pconv_base", "0.1-0.2", "fid", "35.0", "35.0"),
                                                     ("PConv", "pconv_base", "0.1-0.2", "psnr", "20.5", "20.5")])
    paths = write_tables(summary, DATASET, tmp_path / "out", published_table=path)
    md = paths["md"].read_text()
    assert "(pub. 35.00)" in md and "(pub. 35.00;" not in md and "(pub. 20.50; Δ +0.50)" in md
    assert "A published FID or KID gets no Δ" in md
    csv = pd.read_csv(paths["csv"], index_col="variant")
    assert csv.at["pconv_base", "0.1-0.2 fid published"] == 35.0 and csv["0.1-0.2 fid diff"].isna().all()


# ------------------------------------------------------------------ set-level metrics' minimum n


def test_fid_from_few_images_is_marked_with_its_caveat_in_both_tables(tmp_path):
    """Before: the ablation table showed FID Δs from 10 images per bucket as plain numbers, without
    the caveat the absolute table had, and the absolute table bolded the "best" of them."""
    paths = make_results(tmp_path / "results", logs=False, fid={"pconv_base": 40.0, "rfr_full": 30.0})
    summary, per_image = aggregate(paths), read_per_images(per_image_paths(paths))
    ablation = build_ablation(summary, per_image, DATASET, VARIANTS, baseline_row="pconv_base",
                              bootstrap=Bootstrap(resamples=200))
    absolute = build_table(summary, DATASET)
    caveat = (f"† FID from fewer than {MIN_SET_LEVEL_N} images per bucket (0.1-0.2: n = 10; 0.2-0.3: n = 10): at "
              "this n they lie far from their large-n values")
    for md in (ablation_markdown(ablation), absolute_markdown(absolute)):
        fid = md.split("**FID↓")[1].split("\n\n")[1]
        assert fid.count("†") == 4 and "**" not in fid, fid  # every FID cell, none bold as "best"
        assert caveat in md and "Compare them only at equal n, never with published values." in md
        assert "†" not in md.split("**FID↓")[0]  # the per-image metrics are not marked
    assert r"\textsuperscript{\dag}" in ablation_latex(ablation)
    # at the stated minimum n, plain numbers again
    enough = summary.copy()
    enough.loc[enough["metric"] == "fid", "n"] = MIN_SET_LEVEL_N
    md = ablation_markdown(build_ablation(enough, per_image, DATASET, VARIANTS, baseline_row="pconv_base",
                                          bootstrap=Bootstrap(resamples=200)))
    assert "†" not in md and "-10.00 ± 0.00" in md
    assert "**31.50 ± 0.71**" in absolute_markdown(build_table(enough, DATASET))


# ------------------------------------------------------------------ what measures little


def test_a_near_black_crop_is_judged_inside_the_hole_and_its_pull_on_the_mean_flagged(tmp_path):
    """A near-black crop (mean 0.006, std 0.0285 over the crop: above the near-constant threshold)
    whose hole falls on black sky scored 55 dB beside 23 dB crops and lifted its bucket's mean by
    3.5 dB, with no word in the log or the footnotes."""
    gt = torch.rand(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    gt[9] = 0.0
    gt[9, :, :4, :11] = 0.1414  # a few faint stars in one corner, far from the hole
    assert abs(gt[9].mean() - 0.006) < 5e-4 and abs(gt[9].std() - 0.0285) < 1e-3  # the crop
    mask = torch.zeros(10, 1, 32, 32)
    mask[:, :, 12:20, 8:24] = 1  # hole ratio 0.125
    names = [f"img{i}" for i in range(9)] + ["dark"]
    evaluation = Evaluation(MetricSuite(enable_lpips=False, enable_fid=False), "d", "mean_fill", 0)
    evaluation.add("0.1-0.2", MeanFill()(gt * (1 - mask), mask), gt, mask, names,
                   [f"0.1-0.2/{i:05d}.png" for i in range(10)])
    warnings = evaluation.test_set_check()
    assert any("1 of 10 test images (image, bucket) are near-constant inside the hole" in w and w.endswith(": dark (0.1-0.2)")
               for w in warnings), warnings
    moved = [w for w in warnings if w.startswith("bucket 0.1-0.2: 1 of 10 images each move the mean PSNR by more "
                                                 "than 1 dB")]
    assert len(moved) == 1 and re.search(r": dark \(5\d\.\d dB: \+3\.\d dB\)$", moved[0]), warnings
    evaluation.write(tmp_path / "per_image.csv", tmp_path / "summary.csv")
    md = absolute_markdown(build_table(aggregate([tmp_path / "summary.csv"]), "d"))
    assert re.search(r"PSNR means that one image moves by more than 1 dB .*named in the evaluation logs\), images "
                     r"over all seeds: mean_fill 0.1-0.2: 1 of 10 \(up to 3\.\d dB\)\.", md), md
    assert "pixel std < 0.02 inside the hole" in md and "per bucket: 0.1-0.2: 1 of 10." in md


def test_no_mini_test_crop_is_flat_in_more_than_one_quadrant(tmp_path):
    """The default's test crops (48 px, 36 natural and 40 faces) measure something where a hole falls:
    at most one quadrant flat. Before, only the whole crop's std was tested, and retina's black
    border and grace_hopper's background gave crops flat in two to four quadrants."""
    def flat_quadrants(path):
        pixels = np.asarray(Image.open(path)).astype(float) / 255
        half = pixels.shape[0] // 2
        return sum(pixels[y:y + half, x:x + half].reshape(-1, 3).std(axis=0).max() < NEAR_CONSTANT_STD
                   for y in (0, half) for x in (0, half))

    for kind, count in (("mini_natural", 36), ("mini_faces", 40)):
        build_mini_dataset(kind, tmp_path / kind, size=48, train_count=1, test_count=count, seed=0)
        flat = {p.name: flat_quadrants(p) for p in sorted((tmp_path / kind / "test").glob("*.png"))}
        assert len(flat) == count and max(flat.values()) <= 1, (kind, {k: v for k, v in flat.items() if v > 1})
    # the crop: near-black with one bright edge passes a whole-crop std test, not this one
    crop = np.zeros((48, 48, 3), np.uint8)
    crop[:, :2] = 62  # mean 0.0101, std 0.0487 over the crop
    from inpaint_bench.datasets.mini import MAX_FLAT_FRACTION, flat_fraction

    assert crop.std() / 255 > NEAR_CONSTANT_STD and flat_fraction(crop) == 0.5 > MAX_FLAT_FRACTION
