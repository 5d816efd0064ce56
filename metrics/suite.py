"""All evaluation metrics behind one object, as used by the evaluation code and metrics.score.

Usage (pred is the composite `pred*mask + gt*(1-mask)`, see metrics.composite):
    suite = MetricSuite(weights_dir=cfg["weights"]["dir"], protocol=cfg["eval"]["protocol"])
    rows = suite.per_image(comp, gt, mask)     # {"psnr","ssim","l1"[,"lpips"], registered ...} -> (N,)
    suite.add_distribution(bucket, comp, gt)   # Inception features, per bucket
    suite.distribution(bucket)                 # {"fid","kid","kid_std"} or {} if the weights are missing
    suite.save_cache()                         # keep new ground-truth features (with feature_cache=FILE)
Metrics whose weights are missing are listed in `suite.missing` ({"lpips": "missing: alexnet-owt-7be5be79.pth"}),
never computed with random networks.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

from inpaint_bench.harness.metric_registry import (
    get_metric,
    metric_names,
    per_image_metrics,
    set_level_metrics,
)
from inpaint_bench.harness.weights import find_weight, missing_message

from .fid import FeatureCache, build_inception, distribution_metrics, extract_features
from .lpips_metric import LPIPSMetric, build_lpips
from .protocols import check_protocol, protocol_metrics


class MetricSuite:
    """Per-image PSNR/SSIM/L1/LPIPS and every registered per-image metric (harness.metric_registry),
    and per-bucket FID/KID.

    lpips_net / inception: inject networks (tests, or callers that already built them).
    lpips_net is called as `lpips_net(a, b, normalize=True) -> (N,1,1,1)` like lpips.LPIPS;
    inception maps (N,3,H,W) [0,1] images to (N,D) features. Otherwise both are built from the
    offline weight files; a missing file leaves the metric out and records it in `self.missing`.
    metrics: the metrics to compute (harness.metric_registry.selected_metrics of the config's `eval`;
    None: every registered one); enable_lpips / enable_fid = False skip LPIPS, FID and KID entirely
    (config eval.lpips / eval.fid).
    feature_cache: a file where ground-truth Inception features are kept between runs (see
    metrics.fid.FeatureCache); used for the Inception of the weight file, or for an injected one
    when `inception_tag` names it. protocol: how PSNR, SSIM and L1 are computed (metrics.protocols).
    """

    def __init__(self, weights_dir=None, device="cpu", lpips_net: nn.Module | None = None,
                 inception: nn.Module | None = None, enable_lpips: bool = True, enable_fid: bool = True,
                 feature_cache=None, inception_tag: str | None = None, protocol: str = "default",
                 metrics: list[str] | None = None):
        check_protocol(protocol)
        self.protocol = protocol
        self.device = torch.device(device)
        self.missing: dict[str, str] = {}  # metric -> "missing: <file>"
        self.hints: dict[str, str] = {}    # metric -> long message naming the file and folders
        self.notes: dict[str, str] = {}    # bucket -> why FID/KID are NaN (e.g. n < 2)
        # the metrics asked for (computed, or NaN with the reason in self.missing), per-image ones first
        wanted = metric_names() if metrics is None else metrics
        for name in wanted:
            get_metric(name)  # KeyError naming the registered metrics
        enable_lpips = enable_lpips and "lpips" in wanted
        enable_fid = enable_fid and ("fid" in wanted or "kid" in wanted)
        skipped = set() if enable_lpips else {"lpips"}
        skipped |= set() if enable_fid else {"fid", "kid"}
        self.metrics = [m for m in per_image_metrics() if m in wanted and m not in skipped]
        for name in set_level_metrics():  # each with its spread row (kid_std)
            if name in wanted and name not in skipped:
                self.metrics += [row for row in (name, get_metric(name).spread) if row]
        for name in per_image_metrics():  # a registered metric whose weight file is absent is missing
            entry = get_metric(name)
            if name in self.metrics and entry.compute and entry.weights and not find_weight(entry.weights, weights_dir):
                self._mark_missing(name, weights_dir)

        self._lpips = None
        if enable_lpips:
            if lpips_net is None:
                lpips_net = build_lpips(weights_dir, device=self.device)
            if lpips_net is None:
                self._mark_missing("lpips", weights_dir)
            else:
                self._lpips = LPIPSMetric(lpips_net.to(self.device))

        self._inception = None
        self._gt_cache = None
        if enable_fid:
            if inception is None:
                inception = build_inception(weights_dir, device=self.device)
                file = find_weight("inception", weights_dir)
                inception_tag = f"{file.name}:{file.stat().st_size}" if file else None
            if inception is None:
                self._mark_missing("fid", weights_dir)
                self._mark_missing("kid", weights_dir)
            else:
                self._inception = inception.to(self.device).eval()
                if feature_cache is not None and inception_tag is not None:
                    self._gt_cache = FeatureCache(feature_cache, inception_tag)
        # bucket -> {"real": [features], "fake": [features]} on CPU
        self._features = defaultdict(lambda: {"real": [], "fake": []})

    def _mark_missing(self, metric: str, weights_dir) -> None:
        note, hint = missing_message(get_metric(metric).weights, weights_dir)
        self.missing[metric] = note
        self.hints[metric] = hint

    @torch.no_grad()
    def per_image(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None
                  ) -> dict[str, torch.Tensor]:
        """{"psnr","ssim","l1"} (by the suite's protocol), "lpips" when available and every other
        registered per-image metric asked for, computed on the same images (`mask`: (N,1,H,W), 1 =
        hole, given to the metrics that need it), each a (N,) float64 CPU tensor."""
        pred, gt = pred.to(self.device), gt.to(self.device)
        out = protocol_metrics(self.protocol, pred, gt)
        if self._lpips is not None:
            out["lpips"] = self._lpips(pred, gt)
        for name in (m for m in per_image_metrics() if m in self.metrics):
            entry = get_metric(name)
            if entry.compute is None or name in self.missing:
                continue
            if entry.needs_mask and mask is None:
                raise ValueError(f"metric {name} needs the mask; pass it to MetricSuite.per_image")
            args = (pred, gt, mask.to(self.device).float()) if entry.needs_mask else (pred, gt)
            values = torch.as_tensor(entry.compute(*args))
            if values.shape != (pred.shape[0],):
                raise ValueError(f"metric {name} ({entry.module}) returned shape {tuple(values.shape)}, "
                                 f"expected one value per image ({pred.shape[0]},)")
            out[name] = values
        return {name: value.double().cpu() for name, value in out.items() if name in self.metrics}

    def add_distribution(self, bucket: str, pred: torch.Tensor, gt: torch.Tensor) -> None:
        """Store Inception features of composites (fake) and ground truth (real) for `bucket`."""
        if self._inception is None:
            return
        store = self._features[bucket]
        store["fake"].append(extract_features(self._inception, pred.to(self.device)))
        gt = gt.to(self.device)
        real = self._gt_cache(self._inception, gt) if self._gt_cache else extract_features(self._inception, gt)
        store["real"].append(real)

    def save_cache(self) -> None:
        if self._gt_cache is not None:
            self._gt_cache.save()

    def feature_batches(self, bucket: str) -> int:
        """How many batches of features `bucket` holds (a resumable evaluation's chunk starts there)."""
        return len(self._features[bucket]["fake"]) if bucket in self._features else 0

    def features(self, bucket: str, start: int = 0) -> dict[str, list[torch.Tensor]]:
        """The features stored for `bucket` from its `start`-th batch on: what a chunk of a resumable
        evaluation saves (metrics.evaluation.Evaluation.chunk) and `restore_features` puts back."""
        store = self._features.get(bucket, {"real": [], "fake": []})
        return {kind: list(store[kind][start:]) for kind in ("real", "fake")}

    def restore_features(self, bucket: str, features: dict[str, list[torch.Tensor]]) -> None:
        for kind in ("real", "fake"):
            self._features[bucket][kind].extend(features[kind])

    def count(self, bucket: str) -> int:
        """Number of images accumulated for `bucket` (the n to report next to FID/KID)."""
        if bucket not in self._features:
            return 0
        return sum(f.shape[0] for f in self._features[bucket]["fake"])

    def distribution(self, bucket: str) -> dict[str, float]:
        """{"fid","kid","kid_std"} for `bucket`; {} if the Inception weights are missing.

        With fewer than 2 images the values are NaN and `self.notes[bucket]` says why.
        """
        if self._inception is None:
            return {}
        store = self._features.get(bucket, {"real": [], "fake": []})
        real = torch.cat(store["real"]) if store["real"] else torch.zeros(0, 1)
        fake = torch.cat(store["fake"]) if store["fake"] else torch.zeros(0, 1)
        values, note = distribution_metrics(real, fake)
        if note:
            self.notes[bucket] = note
        return values
