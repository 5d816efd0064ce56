"""Paired statistics: is one row of results better than another, or is the difference noise?

Every variant of a run sees the same test images with the same masks (the pairs masks.pairing
forms; the masks are drawn from masks.seed), so two variants' per-image scores are *paired*: the
difference is taken image by image, within a seed, on the same (seed, bucket, image, mask)
(`pair_rows`). Per-image metrics get the hierarchical paired bootstrap (`hierarchical_bootstrap`:
resample seeds, then images within each seed; where an image occurs several times, with several
masks or pooled over buckets, it is drawn with all its pairs, `clusters`, `image_cluster`); set-level
metrics (FID, KID), which have one value per (seed, bucket), the mean and sample std over seeds of
the per-seed difference (`seed_spread`), with no interval and no mark. `mark` says "better"/"worse"
when an interval excludes 0. Too few paired values (MIN_PAIRED_VALUES) or equal differences give the
difference alone (method "paired"), with the reason: no interval, no mark.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from inpaint_bench.harness.metric_registry import higher_is_better
from inpaint_bench.harness.seeding import derive_seed

# Pairs two per-image rows: the same image under the same mask in the same seed and bucket.
PAIR_KEY = ["seed", "bucket", "image", "mask"]
HOLE_RATIO_TOLERANCE = 1e-6  # two rows of one pair must have the same mask, hence the same hole ratio
MAX_DRAWS_PER_BLOCK = 2_000_000  # index draws held in memory at once (large test sets are chunked)
# The percentile interval of a mean from n values is about mean ± z·s·sqrt((n-1)/n)/sqrt(n): the normal
# quantile and the plug-in variance. For normal differences a nominal 95% interval then covers the true
# mean with probability P(|t_{n-1}| < 1.96·sqrt((n-1)/n)): 81% at n = 4, 89% at n = 8, 90% first at
# n = 10 (docs/results.md measures it). Below this many paired values (images x seeds of a cell) an
# interval would claim more than the data hold: none is given, and nothing is marked.
MIN_PAIRED_VALUES = 10
EQUAL = 1e-9  # differences this close (relative to their size) are one value: b + 0.7 - b is not 0.7 exactly


@dataclass(frozen=True)
class Bootstrap:
    """Settings of the hierarchical paired bootstrap (config `report.bootstrap`)."""

    resamples: int = 2000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self):
        if self.resamples < 1:
            raise ValueError(f"bootstrap resamples must be >= 1, got {self.resamples}")
        if not 0 < self.level < 1:
            raise ValueError(f"bootstrap level must be in (0, 1), got {self.level}")

    @classmethod
    def from_config(cls, settings: dict | None) -> "Bootstrap":
        settings = settings or {}
        return cls(resamples=int(settings.get("resamples", cls.resamples)),
                   level=float(settings.get("level", cls.level)), seed=int(settings.get("seed", cls.seed)))

    @property
    def percent(self) -> str:
        return f"{self.level * 100:g}%"

    def describe(self, seeds: int | None = None) -> str:
        """One sentence for captions and footnotes: scheme, resamples, seed."""
        text = (f"{self.percent} percentile interval of a hierarchical paired bootstrap (resample seeds, "
                f"then images within each seed; {self.resamples} resamples, numpy seed {self.seed})")
        if seeds == 1:
            text += "; one seed: images are resampled, there is no seed spread"
        return text + "."


@dataclass(frozen=True)
class Interval:
    """A difference (variant minus baseline row, or B minus A) and its uncertainty.

    method "bootstrap": lo/hi are the bootstrap interval; "seeds": std is the sample std over seeds
    of the per-seed difference (lo/hi NaN); "none": a single value, no spread at all; "paired": the
    mean paired difference without an interval, `why` says why (too few values, no spread)."""

    estimate: float
    lo: float = math.nan
    hi: float = math.nan
    std: float = math.nan
    seeds: int = 0
    n: int = 0  # paired values behind the estimate (images over all seeds, or seeds)
    method: str = "none"
    why: str = ""  # method "paired": why there is no interval

    def excludes_zero(self) -> bool:
        """True when the interval lies entirely above or below 0 (never for the seed spread)."""
        if self.method != "bootstrap" or math.isnan(self.lo) or math.isnan(self.hi):
            return False
        return self.lo > 0 or self.hi < 0


def _groups(groups) -> list[np.ndarray]:
    out = []
    for g in groups:
        values = np.asarray(g, dtype=float).ravel()
        values = values[np.isfinite(values)]
        if values.size:
            out.append(values)
    return out


def _clusters(groups, clusters) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per seed: (sum of the finite differences of each cluster, their count), clusters without one
    dropped; `clusters` holds a label per difference, aligned with `groups`."""
    out = []
    for g, labels in zip(groups, clusters):
        values = np.asarray(g, dtype=float).ravel()
        keep = np.isfinite(values)
        if not keep.any():
            continue
        which, _ = pd.factorize(np.asarray(labels, dtype=object).ravel()[keep])  # in order of appearance
        out.append((np.bincount(which, weights=values[keep]), np.bincount(which).astype(float)))
    return out


def hierarchical_bootstrap(groups, resamples: int = 2000, level: float = 0.95, seed: int = 0,
                           salt: tuple = (), clusters=None) -> Interval:
    """The hierarchical paired bootstrap of the mean difference: `groups` holds one array of
    per-image differences per seed (non-finite values are dropped, empty groups too). Returns an
    Interval with method "bootstrap"; ValueError when no finite difference is left.

    With d[s][i] the differences of seed s = 1..S (n_s images), the estimate is the mean over seeds
    of each seed's mean difference (every seed weighs the same, as in the tables' mean over seeds).
    One resample: 1. draw S seeds with replacement (the between-seed level: initial weights, batches
    and test masks all change with the seed); 2. for each drawn seed, draw n_s of its differences
    with replacement (the between-image level), independently for every draw, also when a seed is
    drawn twice; 3. the statistic is the mean over the S drawn seeds of their resampled means.
    `resamples` statistics give the percentile interval at `level` (95%: the 2.5% and 97.5%
    quantiles). The generator is numpy's `default_rng` seeded with `derive_seed(seed, *salt)`: the
    same data, settings and salt give the same interval; callers salt with (dataset, bucket, metric,
    variant, baseline row) so each cell has its own stream and adding a row changes no other cell.

    With one seed, step 1 is a no-op: the interval resamples images only and says nothing about
    seed-to-seed variation (captions say so). With few seeds (3) the seed level is resampled from 3
    values, which understates the between-seed spread by about a factor (S-1)/S in variance; the
    interval is then a lower bound on the true uncertainty, not a conservative one.

    Fewer than MIN_PAIRED_VALUES differences, or differences that are all equal (a bootstrap with no
    spread: a zero-width "interval"), give the estimate alone, method "paired", with the reason.

    `clusters` (one label per difference, aligned with `groups`): differences that are not independent
    of each other, e.g. one image scored in several buckets (a pooled row), share a label, and step 2
    draws whole clusters (a cluster bootstrap): the statistic of a seed is the sum of its drawn
    clusters' differences over their count, and MIN_PAIRED_VALUES counts clusters, the independent
    units."""
    settings = Bootstrap(resamples, level, seed)  # validates
    if clusters is not None:
        grouped = _clusters(groups, clusters)
        data = [sums for sums, _ in grouped]
        counts = [count for _, count in grouped]
    else:
        data = _groups(groups)
    if not data:
        raise ValueError("no finite paired difference to bootstrap")
    rng = np.random.default_rng(derive_seed(settings.seed, *salt))
    s_count = len(data)
    if clusters is not None:
        estimate = float(np.mean([g.sum() / c.sum() for g, c in zip(data, counts)]))
        n = int(sum(c.sum() for c in counts))
        units = int(sum(c.size for c in counts))
        values = np.concatenate([np.asarray(g, dtype=float).ravel() for g in groups])
        values = values[np.isfinite(values)]
        what = "images x seeds, each image with all its pairs"
    else:
        estimate = float(np.mean([g.mean() for g in data]))
        n = units = int(sum(g.size for g in data))
        values = np.concatenate(data)
        what = "images x seeds"
    alone = Interval(estimate=estimate, seeds=s_count, n=n, method="paired")
    if units < MIN_PAIRED_VALUES:
        return replace(alone, why=f"{units} paired value{'s' if units > 1 else ''} ({what}), fewer than the "
                                  f"{MIN_PAIRED_VALUES} an interval needs")
    if np.ptp(values) <= EQUAL * max(1.0, float(np.abs(values).max())):  # equal up to float rounding
        return replace(alone, why=f"all {n} paired differences are equal: the bootstrap has no spread")

    # Step 1: the seed drawn into each of the S slots of each resample.
    chosen = rng.integers(0, s_count, size=(settings.resamples, s_count))
    slot_means = np.empty((settings.resamples, s_count))
    # Step 2: an independent image resample for every slot, seed by seed (vectorised).
    for s, values in enumerate(data):
        rows, cols = np.nonzero(chosen == s)
        size = values.size
        means = np.empty(rows.size)
        block = max(1, MAX_DRAWS_PER_BLOCK // size)
        for start in range(0, rows.size, block):
            stop = min(rows.size, start + block)
            idx = rng.integers(0, size, size=(stop - start, size))
            if clusters is None:
                means[start:stop] = values[idx].mean(axis=1)
            else:  # whole clusters drawn: their differences' sum over their count
                means[start:stop] = values[idx].sum(axis=1) / counts[s][idx].sum(axis=1)
        slot_means[rows, cols] = means
    # Step 3: the statistic of each resample, then the percentile interval.
    stats = slot_means.mean(axis=1)
    tail = (1 - settings.level) / 2
    lo, hi = np.quantile(stats, [tail, 1 - tail])
    if not hi > lo:
        return replace(alone, why=f"the bootstrap of the {n} paired differences has no spread at this level")
    return Interval(estimate=estimate, lo=float(lo), hi=float(hi), seeds=s_count, n=n, method="bootstrap")


def seed_spread(values) -> Interval:
    """Mean and sample std over seeds of one value per seed (set-level metrics: FID, KID); no
    interval. One seed: the value, method "none" (no spread)."""
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if not values.size:
        raise ValueError("no finite value per seed")
    if values.size == 1:
        return Interval(estimate=float(values[0]), seeds=1, n=1, method="none")
    return Interval(estimate=float(values.mean()), std=float(values.std(ddof=1)), seeds=int(values.size),
                    n=int(values.size), method="seeds")


def mark(metric: str, interval: Interval) -> str:
    """"better" / "worse" when the interval excludes 0, by the metric's direction (PSNR up, L1
    down); "" otherwise, also for a metric of unknown direction."""
    if not interval.excludes_zero() or higher_is_better(metric) is None:
        return ""
    return "better" if (interval.estimate > 0) == higher_is_better(metric) else "worse"


def _key_text(row, key) -> str:
    return "(" + ", ".join(f"{k}={row[k]}" for k in key) + ")"


def pair_rows(base: pd.DataFrame, other: pd.DataFrame, metric: str,
              key=PAIR_KEY) -> pd.DataFrame:
    """The paired rows of two per-image frames for one metric: columns key + [base, other,
    diff] (diff = other - base), rows where both values are finite. The two rows of a pair must
    have the same hole ratio (the same mask); otherwise ValueError names the first such pair.
    `attrs["unmatched"]` counts the rows of either frame that found no partner, `attrs["not_finite"]`
    the pairs left out because a value is missing (NaN) or not finite."""
    key = list(key)
    for frame, what in ((base, "base"), (other, "other")):
        dup = frame[frame.duplicated(key, keep=False)]
        if not dup.empty:
            raise ValueError(f"{what}: {_key_text(dup.iloc[0], key)} appears twice: pairs would be ambiguous")
    left = base[key + ["hole_ratio", metric]].rename(columns={metric: "base", "hole_ratio": "_ha"})
    right = other[key + ["hole_ratio", metric]].rename(columns={metric: "other", "hole_ratio": "_hb"})
    merged = left.merge(right, on=key, how="outer", indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    merged = merged[merged["_merge"] == "both"].drop(columns="_merge")
    off = (merged["_ha"] - merged["_hb"]).abs() > HOLE_RATIO_TOLERANCE
    if off.any():
        bad = merged[off].iloc[0]
        raise ValueError(f"pair {_key_text(bad, key)} has hole ratio {bad['_ha']:.6f} in one file and "
                         f"{bad['_hb']:.6f} in the other: the two were not scored with the same masks")
    merged = merged.drop(columns=["_ha", "_hb"])
    merged["diff"] = merged["other"] - merged["base"]
    finite = np.isfinite(merged["diff"])
    merged = merged[finite].reset_index(drop=True)
    merged.attrs["unmatched"] = unmatched
    merged.attrs["not_finite"] = int((~finite).sum())
    return merged


def image_cluster(pairs: pd.DataFrame) -> str | None:
    """"image" when an image occurs more than once in a seed of `pairs` (several masks per image, as
    masks.pairing every_mask pairs them, or several buckets pooled): its pairs are then one resampling
    unit (`paired_interval`'s cluster), not independent values; None when every image occurs once."""
    return "image" if pairs.duplicated(["seed", "image"]).any() else None


def paired_interval(pairs: pd.DataFrame, settings: Bootstrap, salt: tuple = (), cluster: str | None = None
                    ) -> Interval:
    """The hierarchical bootstrap of the `diff` column of `pair_rows` output, grouped by seed;
    `cluster` names the column whose equal values are one resampling unit (e.g. "image" for rows
    pooled over buckets: an image in several buckets is one independent sample, not several)."""
    seeds = [g for _, g in pairs.groupby("seed", sort=True)]
    groups = [g["diff"].to_numpy() for g in seeds]
    clusters = None if cluster is None else [g[cluster].to_numpy() for g in seeds]
    return hierarchical_bootstrap(groups, settings.resamples, settings.level, settings.seed, salt, clusters)
