"""The evaluation loop, shared by the harness's own models (`evaluation.evaluate`) and by another
method's output files (`metrics.score`):

    evaluation = Evaluation(suite, dataset="places2", variant="rfr", seed=0)
    comp = evaluation.add(bucket, pred, gt, mask, images, masks)   # per batch of one bucket
    evaluation.write(out_dir / "per_image.csv", out_dir / "summary.csv")

Scores are taken on the composite `pred*mask + gt*(1-mask)`, or on the output as it is where the
protocol says so (compositing is part of the protocol: harness.names.PROTOCOL_COMPOSITES, `score
--composite/--as-is`); under an 8-bit protocol (the suite's, metrics.protocols) every metric sees the
scored image and the ground truth as 8-bit images. The two files' columns (`harness.names`):
docs/file-formats.md; a metric that could not be computed is a NaN row whose note says why.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.harness.metric_registry import per_image_metrics, spread_of
from inpaint_bench.harness.names import (
    COLOUR_COLUMNS,
    INFLUENCE_DB,
    NEAR_CONSTANT_STD,
    PROTOCOL_COMPOSITES,
    PSNR_CAP_DB,
    SUMMARY_COLUMNS,
    capped_note,
    influential_note,
    leave_one_out_shifts,
    near_constant_note,
    per_image_columns,
    recorded_protocol,
)
from inpaint_bench.models.classical import MeanFill

from .pixel import composite, hole_colour_error
from .protocols import from_8bit, is_eight_bit, to_8bit
from .suite import MetricSuite

# How far outside [0, 1] a model's output in the holes may reach before the job log says so: a small
# overshoot is ordinary and the composite's clamp absorbs it; an output far outside is a network that
# misbehaves in eval mode (its clamped scores would hide it).
RANGE_TOLERANCE = 0.05


def scoring_pair(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, protocol: str,
                 composite_known: bool = True):
    """(composite, ground truth) as `protocol` scores them: the composite (or with `composite_known`
    false, the output as it is) clamped to [0, 1] and, under an 8-bit protocol, both as if written to
    8-bit files and read back. The one place that prepares images for scoring, for the test set
    (`Evaluation`), `score` and validation during training alike."""
    comp = (composite(pred.float(), gt, mask) if composite_known else pred.float()).clamp(0, 1)
    if is_eight_bit(protocol):
        comp, gt = from_8bit(to_8bit(comp)).to(comp.device), from_8bit(to_8bit(gt)).to(gt.device)
    return comp, gt


def output_range(pred: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """The lowest and highest value of the prediction in the holes (what the composite keeps)."""
    hole = pred.detach().float()[(mask > 0.5).expand_as(pred)]
    return (float(hole.min()), float(hole.max())) if hole.numel() else (0.0, 1.0)


def range_warning(low: float, high: float, what: str) -> str:
    """A warning when [low, high] leaves [0, 1] by more than RANGE_TOLERANCE; "" otherwise."""
    if low >= -RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE:
        return ""
    return (f"{what}: the model's output in the holes spans [{low:.4g}, {high:.4g}], outside the valid [0, 1] "
            f"by more than {RANGE_TOLERANCE}; its scores are of the composite clamped to [0, 1], as every "
            f"score is (a network that misbehaves in eval mode, e.g. its normalisation statistics)")


def mask_id(bucket: str, mask_stem: str) -> str:
    """A test pair's mask as every result file names it (per-image `mask`): its file in the test mask
    set, `<bucket>/<stem>.png`. The one definition of a pair's identity, (bucket, image name, mask_id):
    evaluation records it, `export` lists it beside each mask it copies under its image's name, and
    `score` records it from there, so `compare` pairs a scored method's rows with ours."""
    return f"{bucket}/{mask_stem}.png"


class Evaluation:
    def __init__(self, suite: MetricSuite, dataset: str, variant: str, seed: int, train_note: str = "",
                 composite: bool | None = None):
        """`composite`: composite the outputs with the known pixels before scoring (None: as the
        suite's protocol does); a choice other than the protocol's is recorded with it."""
        self.suite = suite
        self.composite = PROTOCOL_COMPOSITES[suite.protocol] if composite is None else composite
        self.protocol = recorded_protocol(suite.protocol, composite)
        self.label = {"dataset": dataset, "variant": variant, "seed": int(seed)}
        self.train_note = train_note  # what training had to leave out, repeated on every summary row
        self.rows: list[dict] = []
        self.buckets: list[str] = []  # in order of first appearance
        self.output_low, self.output_high = 0.0, 1.0  # the predictions' range in the holes (range_check)
        # the ground truth's pixel std inside the hole, per pair (bucket, image, mask): what a fill is judged on
        self.hole_std: dict[tuple[str, str, str], float] = {}
        # what the last chunk ended at (chunk): rows, hole stds and each bucket's feature batches
        self._chunked = {"rows": 0, "hole_std": 0, "batches": {}}

    @torch.no_grad()
    def add(self, bucket: str, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor,
            images: list[str], masks: list[str]) -> torch.Tensor:
        """Scores a batch of one bucket: (N,3,H,W) prediction and ground truth in [0,1], (N,1,H,W)
        mask (1 = hole), the image names and the mask files (`mask_id`). Returns the images scored:
        the composites, or the clamped outputs as they are.

        A mask with no hole (the composite is the ground truth: PSNR inf, SSIM 1) or with no known
        pixel (nothing to inpaint from) would give a meaningless number, so it is refused."""
        holes = (mask > 0.5).flatten(1).sum(1).tolist()
        for j, count in enumerate(holes):
            if count == 0 or count == mask[j].numel():
                what = "has no hole (every pixel known)" if count == 0 else "is all hole (no pixel known)"
                raise ValueError(f"mask {masks[j]} {what}, used for image {images[j]} in bucket "
                                 f"{bucket}; its scores would be meaningless, replace the mask")
        low, high = output_range(pred, mask)
        self.output_low, self.output_high = min(self.output_low, low), max(self.output_high, high)
        comp, gt = scoring_pair(pred, gt, mask, self.suite.protocol, self.composite)
        scores = self.suite.per_image(comp, gt, mask)
        hole = mask[:, 0] > 0.5
        for j, image in enumerate(images):  # per channel, the largest: a flat blue sky is flat
            self.hole_std[(bucket, image, masks[j])] = float(gt[j][:, hole[j]].float().std(dim=1).max())
        colour = hole_colour_error(comp, gt, mask)
        floor = hole_colour_error(MeanFill()(gt * (1 - mask), mask), gt, mask)
        self.suite.add_distribution(bucket, comp, gt)
        if bucket not in self.buckets:
            self.buckets.append(bucket)
        for j, (image, mask_file) in enumerate(zip(images, masks)):
            row = {**self.label, "bucket": bucket, "image": image, "mask": mask_file,
                   "hole_ratio": float(mask[j].mean())}
            row.update({m: float(scores[m][j]) if m in scores else math.nan for m in per_image_metrics()})
            row.update(protocol=self.protocol, hole_colour_error=float(colour[j]),
                       mean_fill_colour_error=float(floor[j]))
            self.rows.append(row)
        return comp

    def chunk(self) -> dict:
        """Everything scored since the last chunk (per-image rows, hole stds, the suite's features, the
        output range so far): what a resumable evaluation saves after each stretch of work
        (evaluation.evaluate), and `restore` puts back in order."""
        mark, suite = self._chunked, self.suite
        batches = {bucket: suite.feature_batches(bucket) for bucket in self.buckets}
        part = {"buckets": list(self.buckets), "rows": self.rows[mark["rows"]:],
                "hole_std": list(self.hole_std.items())[mark["hole_std"]:],
                "features": {bucket: suite.features(bucket, mark["batches"].get(bucket, 0)) for bucket in batches},
                "output_range": (self.output_low, self.output_high)}
        self._chunked = {"rows": len(self.rows), "hole_std": len(self.hole_std), "batches": batches}
        return part

    def restore(self, part: dict) -> None:
        """Puts a chunk back (chunks in the order they were taken): the evaluation continues as if it
        had scored them itself."""
        self.buckets += [bucket for bucket in part["buckets"] if bucket not in self.buckets]
        self.rows += part["rows"]
        self.hole_std.update(part["hole_std"])
        for bucket, features in part["features"].items():
            self.suite.restore_features(bucket, features)
        low, high = part["output_range"]
        self.output_low, self.output_high = min(self.output_low, low), max(self.output_high, high)
        self.chunk()  # what was restored is saved already

    def per_image(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=per_image_columns() + COLOUR_COLUMNS)

    def test_set_check(self) -> list[str]:
        """Warnings naming the test images that measure little: near-constant inside the hole (pixel
        std there below NEAR_CONSTANT_STD: any fill reproduces it almost exactly), those whose PSNR is
        not finite or at least 100 dB (their dB dominate a mean), and those that move their bucket's
        mean PSNR by more than INFLUENCE_DB (leave-one-out)."""
        warnings = []
        flat = [f"{image} ({bucket})" for (bucket, image, _), std in self.hole_std.items() if std < NEAR_CONSTANT_STD]
        if flat:
            warnings.append(f"{len(flat)} of {len(self.hole_std)} test images (image, bucket) are near-constant "
                            f"inside the hole (pixel std < {NEAR_CONSTANT_STD} there): a fill reproduces it almost "
                            f"exactly, so their PSNR is near-unbounded: {', '.join(sorted(flat))}")
        rows = self.per_image()
        if "psnr" not in self.suite.metrics:
            return warnings
        extreme = rows[~np.isfinite(rows["psnr"]) | (rows["psnr"] >= 100)]
        if len(extreme):
            named = ", ".join(f"{r.image} ({r.bucket}: {r.psnr:.1f} dB)" for r in extreme.itertuples())
            warnings.append(f"{len(extreme)} per-image PSNR values are not finite or at least 100 dB: {named}")
        for bucket in self.buckets:
            part = rows[rows["bucket"] == bucket].dropna(subset=["psnr"])
            moved = [f"{image} ({value:.1f} dB: {shift:+.1f} dB)" for image, value, shift in
                     zip(part["image"], part["psnr"], leave_one_out_shifts(part["psnr"])) if abs(shift) > INFLUENCE_DB]
            if moved:
                warnings.append(f"bucket {bucket}: {len(moved)} of {len(part)} images each move the mean PSNR by "
                                f"more than {INFLUENCE_DB:g} dB (image (its PSNR: the mean with it minus without "
                                f"it)): {', '.join(moved)}")
        return warnings

    def range_check(self) -> list[str]:
        """A warning when the predictions left [0, 1] by more than RANGE_TOLERANCE in some hole."""
        label = self.label
        warning = range_warning(self.output_low, self.output_high,
                                f"{label['variant']} (seed {label['seed']}) on the test set")
        return [warning] if warning else []

    def colour_check(self) -> list[str]:
        """Warnings, one per bucket where the mean colour inside the holes is on average further from
        the ground truth than a mean-colour fill's: the method has learnt a wrong colour prior (a cast)."""
        means = self.per_image().groupby("bucket", sort=False)[COLOUR_COLUMNS].mean()
        return [f"{self.label['variant']} (seed {self.label['seed']}), bucket {bucket}: the hole's mean "
                f"colour is {row.hole_colour_error:.4f} from the ground truth's, mean fill's "
                f"{row.mean_fill_colour_error:.4f}: a colour cast (see the samples)"
                for bucket, row in means.iterrows() if row.hole_colour_error > row.mean_fill_colour_error]

    def _note(self, metric: str, part: pd.DataFrame, values: pd.Series) -> str:
        """A PSNR row's note counts its capped values, its test images near-constant inside the hole and
        those that move the mean by more than INFLUENCE_DB (the tables' footnotes repeat all three: they
        are what the test-set warnings concern)."""
        if metric != "psnr":
            return ""
        capped = int((values >= PSNR_CAP_DB).sum())
        flat = sum(self.hole_std.get((bucket, image, mask), math.inf) < NEAR_CONSTANT_STD
                   for bucket, image, mask in zip(part["bucket"], part["image"], part["mask"]))
        shifts = [abs(s) for s in leave_one_out_shifts(values)]
        moved = [s for s in shifts if s > INFLUENCE_DB]
        return "; ".join(note for note in (capped_note(capped, len(values)) if capped else "",
                                           near_constant_note(flat, len(part)) if flat else "",
                                           influential_note(len(moved), len(values), max(moved)) if moved else "")
                         if note)

    def summary(self) -> pd.DataFrame:
        """Per bucket: the mean of each per-image metric, and FID/KID of the bucket's set."""
        per_image, suite, rows = self.per_image(), self.suite, []

        def add(bucket, metric, value, n, note=""):
            rows.append({**self.label, "bucket": bucket, "metric": metric, "value": value, "n": n,
                         "note": note, "train_note": self.train_note, "protocol": self.protocol})

        for bucket in self.buckets:
            part = per_image[per_image["bucket"] == bucket]
            for metric in (m for m in suite.metrics if m in per_image_metrics()):
                if metric in suite.missing:
                    add(bucket, metric, math.nan, 0, suite.missing[metric])
                else:  # n: the images the mean is over (a NaN score, e.g. of a NaN output, is not)
                    values = part[metric].dropna()
                    add(bucket, metric, float(values.mean()) if len(values) else math.nan, len(values),
                        self._note(metric, part, values) if len(values) else "no image has a value")
            set_level = [m for m in suite.metrics if m not in per_image_metrics()]  # fid, kid, kid_std
            if set_level:
                values = suite.distribution(bucket)
                for metric in set_level:
                    missing = suite.missing.get(spread_of().get(metric, metric))
                    if missing:
                        add(bucket, metric, math.nan, 0, missing)
                    else:
                        add(bucket, metric, float(values[metric]), suite.count(bucket), suite.notes.get(bucket, ""))
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def write(self, per_image_path: str | Path, summary_path: str | Path) -> pd.DataFrame:
        """Writes both CSVs (atomically) and keeps new ground-truth features; returns the summary."""
        if not self.rows:
            raise ValueError("nothing was scored: no image met a mask")
        summary = self.summary()
        write_csv(per_image_path, self.per_image())
        write_csv(summary_path, summary)
        self.suite.save_cache()
        return summary
