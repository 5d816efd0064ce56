"""The result columns (per-image, colour diagnostics, long-format summary; docs/file-formats.md), the
scoring protocols and the notes the evaluation writes: written by the evaluation, read by reporting.
The metrics themselves (names, directions, formats) are harness.metric_registry's. Torch-free, so
reporting can import it cheaply.
"""
from __future__ import annotations

import re

from inpaint_bench.harness.metric_registry import MetricFormat, metric_format, per_image_metrics  # noqa: F401

# An image whose composite equals the ground truth (a hole filled exactly) has MSE 0 and an infinite
# PSNR, which no mean or difference survives: every per-image PSNR is capped at this value, as
# several benchmarks do (docs/protocols.md, "Metrics"). 100 dB is an MSE of 1e-10, far below one
# 8-bit step (1.5e-5): only an exact fill reaches it. The summary's note counts the capped images.
PSNR_CAP_DB = 100.0
_CAPPED = re.compile(r"\bcapped: (\d+) of (\d+) images")


def capped_note(capped: int, n: int) -> str:
    """The note of a summary row whose mean holds capped PSNR values."""
    return f"capped: {capped} of {n} images at PSNR {PSNR_CAP_DB:g} dB (filled exactly)"


def capped_count(note: str) -> int:
    """How many images a summary row's note says were capped (0 for any other note)."""
    found = _CAPPED.search(note or "")
    return int(found.group(1)) if found else 0
# FID and KID compare two sets of 2048-dimensional Inception features. Below this many images per
# bucket (the features' dimension: FID's covariance estimate is singular under it) both lie far from
# their large-n values and vary from set to set, so both tables mark them and say so in a footnote
# (reporting.phrases.few_images_line): fit to check that the pipeline runs, not to conclude from.
MIN_SET_LEVEL_N = 2048

# Scoring protocols (eval.protocol, `score --protocol`): how PSNR, SSIM and L1 are computed, the
# smallest image side each can score (its SSIM window) and the line the tables' footnotes print.
# Every other metric (LPIPS, FID, KID, an extension's) is computed alike in every protocol, on the
# protocol's images.
PROTOCOLS = {
    "default": ("float images, RGB: PSNR (data range 1), SSIM with an 11x11 Gaussian window "
                "(sigma 1.5, torchmetrics), L1 = mean |x - y| with pixel values from 0 to 1"),
    "edgeconnect": ("EdgeConnect's scripts/metrics.py: 8-bit images, grayscale (skimage rgb2gray), "
                    "PSNR (data range 1), SSIM with a 51x51 uniform window, L1 = its MAE, "
                    "sum |x - y| / sum (x + y)"),
    "skimage_rgb": ("scikit-image defaults on 8-bit images, RGB: PSNR (data range 255), SSIM with a "
                    "7x7 uniform window, L1 = mean |x - y| with pixel values from 0 to 1"),
}
PROTOCOL_MIN_SIZE = {"default": 11, "edgeconnect": 51, "skimage_rgb": 7}
DEFAULT_PROTOCOL = "default"  # also the protocol of result files written before the column existed
# Old names of protocols, still read (config eval.protocol, `score --protocol`, result files) as the new one.
RENAMED_PROTOCOLS = {"harness": "default"}
# Compositing is part of a protocol: whether a method's outputs are first composited with the known
# pixels, pred * mask + gt * (1 - mask), or scored as they are. EdgeConnect's script scores the files
# as they are, so a method that alters known pixels loses by it there. `score --composite/--as-is`
# overrides a protocol's own choice; the result files then record `<protocol>+composite` or
# `<protocol>+as-is`, a protocol of its own. The harness's networks' outputs are their composites (as
# the official test scripts save them), so for them both choices give the same numbers.
PROTOCOL_COMPOSITES = {"default": True, "edgeconnect": False, "skimage_rgb": True}
COMPOSITING = {True: "composite", False: "as-is"}


def protocol_name(name: str) -> str:
    """A protocol under its current name: an old one (RENAMED_PROTOCOLS) as the new one, with a recorded
    "+composite" / "+as-is" kept; any other name unchanged."""
    base, plus, choice = name.partition("+")
    return RENAMED_PROTOCOLS.get(base, base) + plus + choice


def renamed_protocol_message(old: str, where: str) -> str:
    """The one line said when an old protocol name is used."""
    return f"{where}: protocol {old!r} is now called {RENAMED_PROTOCOLS[old]!r}; {old!r} still works for now"


def recorded_protocol(protocol: str, composite: bool | None = None) -> str:
    """The protocol as the result files record it: its name, with "+composite" or "+as-is" when the
    outputs were scored otherwise than the protocol's own choice (None: the protocol's own)."""
    if composite is None or composite == PROTOCOL_COMPOSITES[protocol]:
        return protocol
    return f"{protocol}+{COMPOSITING[composite]}"


def protocol_parts(recorded: str) -> tuple[str, bool]:
    """(protocol name, whether the outputs were composited) of a recorded protocol."""
    name, _, choice = recorded.partition("+")
    return name, PROTOCOL_COMPOSITES[name] if not choice else choice == COMPOSITING[True]


def protocol_line(protocol: str) -> str:
    """The footnote naming a table's protocol (as recorded), compositing included."""
    name, composite = protocol_parts(protocol)
    how = ("outputs composited with the known pixels first, pred x mask + gt x (1 - mask)" if composite else
           "output files scored as they are, known pixels included (the harness's networks' outputs are "
           "their composites)")
    own = "" if protocol == name else f" (not the protocol's own: `score --{COMPOSITING[composite]}`)"
    return f"Scoring protocol {protocol}: {PROTOCOLS[name]}; {how}{own}."


# One row per image and bucket; `mask` is the test mask set's file (metrics.evaluation.mask_id); a
# column per registered per-image metric between hole_ratio and protocol (per_image_columns).
PER_IMAGE_KEYS = ["dataset", "variant", "seed", "bucket", "image", "mask", "hole_ratio"]


def per_image_columns() -> list[str]:
    """The per-image file's columns: the keys, every registered per-image metric, the protocol."""
    return [*PER_IMAGE_KEYS, *per_image_metrics(), "protocol"]


# Diagnostics the evaluation appends to each per-image row (not metrics: no table column, and a
# per-image file without them, e.g. another tool's, still reads): the distance of the hole's mean
# colour from the ground truth's, for the method and for a mean-colour fill of the same image.
COLOUR_COLUMNS = ["hole_colour_error", "mean_fill_colour_error"]

# One row per (dataset, variant, seed, bucket, metric); `note` says why a value is missing
# ("missing: <file>"), `train_note` what training had to leave out (e.g. the VGG losses), `protocol`
# how it was scored.
# A test image whose ground truth's pixel std (on [0, 1]) inside the hole is below this holds nothing
# to inpaint there: a flat patch (a black sky) that any fill reproduces almost exactly, so its PSNR is
# near-unbounded and dominates a mean in dB. It is judged inside the hole, per image and mask, because
# a crop can be textured in one corner and flat where the hole falls. 0.02 is about five 8-bit grey
# levels; the mini builders keep no crop with a flat region (datasets/mini.py), and the evaluation
# names such pairs of other datasets.
NEAR_CONSTANT_STD = 0.02
_NEAR_CONSTANT = re.compile(r"\bnear-constant: (\d+) of (\d+) images")


def near_constant_note(count: int, n: int) -> str:
    """The note of a PSNR summary row whose bucket holds near-constant test images (the tables'
    footnote counts them)."""
    return f"near-constant: {count} of {n} images (pixel std < {NEAR_CONSTANT_STD:g} inside the hole)"


# A mean PSNR is a mean of dB: one near-unbounded image can carry a bucket. A bucket's mean that one
# image moves by more than this (leave-one-out: the mean with it minus the mean without it) is flagged:
# the evaluation log names the image, the tables' footnote counts them. 1 dB is more than most
# differences an ablation table reports.
INFLUENCE_DB = 1.0
_INFLUENTIAL = re.compile(r"\binfluential: (\d+) of (\d+) images .*?up to ([0-9.]+) dB")


def influential_note(count: int, n: int, largest: float) -> str:
    """The note of a PSNR summary row whose mean some single image moves by more than INFLUENCE_DB."""
    return (f"influential: {count} of {n} images move the mean by more than {INFLUENCE_DB:g} dB "
            f"(up to {largest:.1f} dB)")


def influential_count(note: str) -> tuple[int, int, float]:
    """(influential images, images, largest shift in dB) a summary row's note counts; (0, 0, 0.0) if none."""
    found = _INFLUENTIAL.search(note or "")
    return (int(found.group(1)), int(found.group(2)), float(found.group(3))) if found else (0, 0, 0.0)


def leave_one_out_shifts(values) -> list[float]:
    """How far each value moves the mean of `values`: the mean minus the mean without it,
    (v_i - mean) / (n - 1); [] for fewer than two values."""
    values = [float(v) for v in values]
    if len(values) < 2:
        return []
    mean = sum(values) / len(values)
    return [(v - mean) / (len(values) - 1) for v in values]


def near_constant_count(note: str) -> tuple[int, int]:
    """(near-constant test images, test images) a summary row's note counts; (0, 0) when it names none."""
    found = _NEAR_CONSTANT.search(note or "")
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


# validation.csv of a training run: the held-out split's mean per bucket at a training step
VALIDATION_COLUMNS = ["step", "bucket", "metric", "value", "n"]

# A validation point collapses when it lies far from the bulk of the points it is shown with, on the
# worse side: more than COLLAPSE_FENCE spreads past the quartile (Tukey's "far out" fence), the spread
# being the interquartile range but at least COLLAPSE_MIN_SPREAD of the median's size (nearly equal
# points would otherwise call an ordinary dip a collapse). The job log says so, and the validation
# plot draws such a point as a marker at its axis' edge instead of stretching the axis to it.
COLLAPSE_FENCE, COLLAPSE_MIN_SPREAD, COLLAPSE_MIN_POINTS = 3.0, 0.1, 4


def collapsed_points(values, higher_is_better: bool) -> list[bool]:
    """For each value, whether it collapsed against the others (all False for fewer than
    COLLAPSE_MIN_POINTS finite values)."""
    finite = sorted(v for v in values if v == v and abs(v) != float("inf"))
    if len(finite) < COLLAPSE_MIN_POINTS:
        return [False] * len(values)
    quartile = lambda q: finite[round(q * (len(finite) - 1))]  # noqa: E731
    low, mid, high = quartile(0.25), quartile(0.5), quartile(0.75)
    spread = max(high - low, COLLAPSE_MIN_SPREAD * abs(mid))
    if higher_is_better:
        return [v < low - COLLAPSE_FENCE * spread for v in values]
    return [v > high + COLLAPSE_FENCE * spread for v in values]
SUMMARY_COLUMNS = ["dataset", "variant", "seed", "bucket", "metric", "value", "n", "note", "train_note", "protocol"]
# The note of a metric a result file has no value for because the metric did not exist (or was not
# registered) when the file was written: read as missing, and the tables' footnote says so.
NOT_COMPUTED = "not computed when this result was written (evaluate the run again to fill it)"
