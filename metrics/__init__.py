"""Evaluation metrics: PSNR/SSIM/L1 (torchmetrics), LPIPS (lpips), FID/KID (pytorch-fid Inception
features, torchmetrics distances) and the offline lookup of their pretrained weights.

Everything is computed on the composite `pred*mask + gt*(1-mask)` (see `composite`).

Names are imported lazily (PEP 562) so that `python -m inpaint_bench.harness.weights` and
`python -m inpaint_bench.metrics.score` do not import their own module twice, and
`import inpaint_bench.metrics` stays cheap.
"""

import importlib

_EXPORTS = {
    "evaluation": ["Evaluation"],
    "fid": ["FeatureCache", "InceptionPool3", "build_inception", "distribution_metrics", "extract_features",
            "frechet_distance", "kernel_inception_distance", "load_fid_inception"],
    "lpips_metric": ["LPIPSMetric", "build_lpips", "load_alexnet_trunk"],
    "pixel": ["composite", "l1", "pixel_metrics", "psnr", "ssim"],
    "protocols": ["check_protocol", "protocol_metrics"],
    "suite": ["DISTRIBUTION_METRICS", "HIGHER_IS_BETTER", "PER_IMAGE_METRICS", "MetricSuite"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
