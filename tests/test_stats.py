"""Known-answer tests of the paired statistics (reporting.stats)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import inpaint_bench.reporting.stats as stats
from inpaint_bench.reporting.stats import (
    Bootstrap,
    Interval,
    hierarchical_bootstrap,
    mark,
    pair_rows,
    paired_interval,
    seed_spread,
)


def per_image(variant, values_by_seed, hole_ratio=0.2, metric="psnr"):
    """A per-image frame: the same image names and masks in every seed."""
    rows = []
    for seed, values in values_by_seed.items():
        for i, value in enumerate(values):
            rows.append({"dataset": "d", "variant": variant, "seed": seed, "bucket": "0.1-0.3",
                         "image": f"img{i:03d}.png", "mask": f"0.1-0.3/{i:03d}.png",
                         "hole_ratio": hole_ratio + i * 1e-3, metric: value})
    return pd.DataFrame(rows)


def test_a_fixed_per_image_difference_is_found_exactly_but_gets_no_interval():
    rng = np.random.default_rng(0)
    # Very different images, every one improved by exactly +0.7 dB: the paired difference is 0.7
    # (an unpaired comparison of the two means would be dominated by the image spread of ~5 dB). The
    # bootstrap of equal differences has no spread: a zero-width "interval" [0.7, 0.7] would claim a
    # certainty no data give, so there is none, and no mark; `why` says so (issue 18).
    scores = {seed: rng.normal(25, 5, 20) for seed in (0, 1, 2)}
    ref = per_image("ref", scores)
    other = per_image("other", {s: v + 0.7 for s, v in scores.items()})
    pairs = pair_rows(ref, other, "psnr")
    assert len(pairs) == 60 and pairs.attrs["unmatched"] == 0
    found = paired_interval(pairs, Bootstrap(resamples=500))
    assert found.estimate == pytest.approx(0.7)
    assert math.isnan(found.lo) and math.isnan(found.hi)
    assert not found.excludes_zero() and mark("psnr", found) == ""
    assert (found.seeds, found.n, found.method) == (3, 60, "paired")
    assert found.why == "all 60 paired differences are equal: the bootstrap has no spread"

    # With per-image noise around the fixed difference the interval still lies around it.
    noisy = per_image("other", {s: v + 0.7 + rng.normal(0, 0.2, 20) for s, v in scores.items()})
    found = paired_interval(pair_rows(ref, noisy, "psnr"), Bootstrap())
    assert found.lo < 0.7 < found.hi and found.lo > 0.5 and found.hi < 0.9
    assert found.lo < found.estimate < found.hi


def test_pure_noise_covers_zero_in_most_of_100_seeded_repetitions():
    covered, marked = 0, 0
    for rep in range(100):
        rng = np.random.default_rng(1000 + rep)
        groups = [rng.normal(0, 1, 16) for _ in range(3)]
        found = hierarchical_bootstrap(groups, resamples=500, seed=rep)
        covered += found.lo <= 0 <= found.hi
        marked += mark("psnr", found) != ""
    assert covered >= 85, covered  # nominal 95%: a few misses, not a systematic bias
    assert covered + marked == 100  # a mark means exactly "the interval excludes 0"


def test_the_interval_widens_when_the_seed_variance_grows():
    rng = np.random.default_rng(3)
    images = rng.normal(0, 1, (3, 30))  # the same image noise in every case
    widths = []
    for scale in (0.0, 0.5, 1.0, 2.0):
        offsets = np.array([-1.0, 0.2, 0.8])[:, None] * scale  # seed-level effects
        found = hierarchical_bootstrap(list(images + offsets + 0.3), resamples=2000, seed=0)
        widths.append(found.hi - found.lo)
        assert found.estimate == pytest.approx(images.mean() + 0.3)  # offsets sum to zero
    assert widths == sorted(widths) and widths[-1] > 3 * widths[0], widths


def test_one_seed_resamples_images_only_with_the_textbook_width():
    rng = np.random.default_rng(5)
    values = rng.normal(1.0, 2.0, 400)
    found = hierarchical_bootstrap([values], resamples=4000, seed=1)
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert found.seeds == 1 and found.lo < values.mean() < found.hi
    assert found.hi - found.lo == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert "no seed spread" in Bootstrap().describe(seeds=1)


def test_seeded_reproducible_salted_and_chunked_alike(monkeypatch):
    groups = [np.random.default_rng(i).normal(size=13) for i in range(3)]
    first = hierarchical_bootstrap(groups, resamples=300, seed=4, salt=("d", "0.1-0.2", "psnr", "a", "b"))
    assert hierarchical_bootstrap(groups, resamples=300, seed=4, salt=("d", "0.1-0.2", "psnr", "a", "b")) == first
    assert hierarchical_bootstrap(groups, resamples=300, seed=4, salt=("d", "0.1-0.2", "psnr", "c", "b")) != first
    monkeypatch.setattr(stats, "MAX_DRAWS_PER_BLOCK", 7)  # large test sets are drawn in blocks
    assert hierarchical_bootstrap(groups, resamples=300, seed=4, salt=("d", "0.1-0.2", "psnr", "a", "b")) == first


def test_non_finite_values_are_dropped_and_empty_input_refused():
    found = hierarchical_bootstrap([[1.0, np.nan, 1.0], [np.inf, 1.0], []], resamples=100)
    assert (found.estimate, found.seeds, found.n) == (1.0, 2, 3)
    with pytest.raises(ValueError, match="no finite"):
        hierarchical_bootstrap([[np.nan], []])
    with pytest.raises(ValueError, match="resamples"):
        Bootstrap(resamples=0)
    with pytest.raises(ValueError, match="level"):
        Bootstrap(level=1.0)
    assert Bootstrap.from_config({"resamples": 500, "level": 0.9, "seed": 3}) == Bootstrap(500, 0.9, 3)


def test_marks_follow_the_metric_direction():
    lower = Interval(estimate=-0.5, lo=-0.8, hi=-0.2, method="bootstrap")
    assert mark("l1", lower) == "better" and mark("psnr", lower) == "worse" and mark("fid", lower) == "better"
    assert mark("made_up", lower) == ""  # unknown direction: never marked
    assert mark("psnr", Interval(estimate=0.1, lo=-0.1, hi=0.3, method="bootstrap")) == ""
    # The seed spread of a set-level metric has no interval: never marked, however large.
    assert mark("fid", Interval(estimate=-40.0, std=1.0, method="seeds")) == ""


def test_seed_spread_of_set_level_metrics():
    found = seed_spread([1.0, 2.0, 4.0])
    assert found.estimate == pytest.approx(7 / 3) and found.std == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert (found.method, found.seeds) == ("seeds", 3) and math.isnan(found.lo)
    single = seed_spread([2.5])
    assert (single.estimate, single.method) == (2.5, "none") and math.isnan(single.std)


def test_pairs_need_the_same_masks_and_unmatched_rows_are_counted():
    ref = per_image("ref", {0: [20.0, 21.0, 22.0]})
    other = per_image("other", {0: [21.0, 22.0]})  # one image fewer
    pairs = pair_rows(ref, other, "psnr")
    assert list(pairs["diff"]) == [1.0, 1.0] and pairs.attrs["unmatched"] == 1
    moved = per_image("other", {0: [21.0, 22.0, 23.0]}, hole_ratio=0.25)  # other masks, same file names
    with pytest.raises(ValueError, match="hole ratio"):
        pair_rows(ref, moved, "psnr")
    with pytest.raises(ValueError, match="twice"):
        pair_rows(pd.concat([ref, ref]), other, "psnr")
