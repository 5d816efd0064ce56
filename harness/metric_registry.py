"""Which metrics exist: one entry per metric, declared once, with everything the rest of the harness
needs to know of it: its better direction, whether it is per-image or set-level (one value per
bucket), how the tables and plots print it, and what it needs (the mask, a pretrained weight file, a
smallest image side). The schema's `eval.metrics` (jobs.validate.config_schema), the evaluation
(metrics.suite, metrics.evaluation), the tables and plots (reporting) and `compare` read it from here.

Torch-free, so that reporting, which never imports torch, knows every metric's direction and format,
also of a metric an extension module registers (config key `extensions:`). A new per-image metric is
one function and one decorator (docs/architecture.md, "Adding a metric"):

    from inpaint_bench.harness.metric_registry import metric

    @metric("psnr_hole", higher_is_better=True, label="PSNR hole", unit="dB", decimals=2)
    def psnr_hole(pred, gt, mask):   # (N,3,H,W) scored images and ground truth, (N,1,H,W) mask, 1 = hole
        ...                          # -> (N,) tensor, one value per image

It is computed alike under every scoring protocol, on the protocol's images (the composites, 8-bit
where the protocol is). PSNR, SSIM and L1 are computed by the protocol itself (metrics.protocols),
LPIPS, FID and KID by metrics.suite with their networks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple


class MetricFormat(NamedTuple):
    """How a metric is printed. The plots show the raw value, the tables value * scale."""

    label: str  # "PSNR"
    unit: str = ""  # of the raw value, on the plots: "PSNR (dB)"
    scale: float = 1.0  # the tables show value * scale and say so in the header: "L1 (%)"
    decimals: int = 4  # table precision; best cells are compared at it too

    @property
    def plot_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def table_label(self) -> str:
        if self.scale == 1:
            return self.label
        return f"{self.label} (%)" if self.scale == 100 else f"{self.label} (x{self.scale:g})"


# Who computes a metric that has no `compute` function of its own.
BY_PROTOCOL, BY_SUITE = "protocol", "suite"


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    per_image: bool  # False: set-level, one value per bucket (FID, KID)
    format: MetricFormat
    needs_mask: bool = True  # compute(pred, gt, mask), else compute(pred, gt)
    weights: str | None = None  # the pretrained weight file it needs (a key of harness.weights.WEIGHT_FILES)
    min_size: int = 1  # the smallest image side it can score (px)
    spread: str | None = None  # the summary rows that hold its spread (kid_std): no column of their own
    compute: Callable | None = None  # per-image: (N,) values; None: BY_PROTOCOL or BY_SUITE computes it
    computed_by: str | None = None
    module: str = ""  # where it was registered (named when a name is registered twice)


_METRICS: dict[str, Metric] = {}  # in registration order: the paper order of the tables' columns


def register_metric(name: str, *, higher_is_better: bool, per_image: bool = True, label: str | None = None,
                    unit: str = "", scale: float = 1.0, decimals: int = 4, needs_mask: bool = True,
                    weights: str | None = None, min_size: int = 1, spread: str | None = None,
                    compute: Callable | None = None, computed_by: str | None = None) -> Metric:
    """Adds a metric; ValueError for a name already registered (by another module) or a per-image
    metric that nothing computes."""
    module = getattr(compute, "__module__", "") or ""
    if name in _METRICS:
        raise ValueError(f"metric {name!r} is registered twice ({_METRICS[name].module or 'built in'} and "
                         f"{module or 'built in'}); give the new one another name")
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"metric {name!r}: higher_is_better must be True or False")
    if per_image and compute is None and computed_by is None:
        raise ValueError(f"metric {name!r}: a per-image metric needs a compute function (pred, gt, mask) -> (N,)")
    entry = Metric(name, higher_is_better, per_image, MetricFormat(label or name.upper(), unit, scale, decimals),
                   needs_mask, weights, min_size, spread, compute, computed_by, module)
    _METRICS[name] = entry
    return entry


def metric(name: str, **options) -> Callable:
    """Decorator: registers a per-image metric's compute function under `name` (options: those of
    register_metric) and returns the function unchanged."""
    def register(compute: Callable) -> Callable:
        register_metric(name, compute=compute, **options)
        return compute
    return register


def get_metric(name: str) -> Metric:
    if name not in _METRICS:
        raise KeyError(f"unknown metric {name!r}; metrics: {', '.join(_METRICS)}")
    return _METRICS[name]


def metric_names() -> list[str]:
    """Every registered metric, in paper order (the order of the tables' columns)."""
    return list(_METRICS)


def per_image_metrics() -> list[str]:
    return [m.name for m in _METRICS.values() if m.per_image]


def set_level_metrics() -> list[str]:
    return [m.name for m in _METRICS.values() if not m.per_image]


def set_level_rows() -> list[str]:
    """The summary rows of the set-level metrics: each metric, then its spread row if it has one."""
    return [row for m in _METRICS.values() if not m.per_image for row in (m.name, m.spread) if row]


def spread_of() -> dict[str, str]:
    """{spread row: its metric}, e.g. {"kid_std": "kid"}: rows that take no column of their own."""
    return {m.spread: m.name for m in _METRICS.values() if m.spread}


def higher_is_better(name: str) -> bool | None:
    """The metric's better direction; None for a name that is no registered metric."""
    return _METRICS[name].higher_is_better if name in _METRICS else None


def metric_format(name: str) -> MetricFormat:
    """The format of a metric; one not registered is printed upper-case, 4 decimals."""
    return _METRICS[name].format if name in _METRICS else MetricFormat(name.upper())


def selected_metrics(eval_settings: dict) -> list[str]:
    """The metrics an evaluation computes (config `eval`): `eval.metrics` (null: every registered
    metric), less LPIPS with `eval.lpips: false` and FID and KID with `eval.fid: false`."""
    wanted = eval_settings.get("metrics") or metric_names()
    dropped = ({"lpips"} if not eval_settings.get("lpips", True) else set()) | \
        ({"fid", "kid"} if not eval_settings.get("fid", True) else set())
    return [m for m in metric_names() if m in wanted and m not in dropped]


# The built-in metrics, in paper order. PSNR, SSIM and L1 as the scoring protocol computes them (its
# smallest image side: harness.names.PROTOCOL_MIN_SIZE); LPIPS, FID and KID by metrics.suite.
register_metric("psnr", higher_is_better=True, label="PSNR", unit="dB", decimals=2, computed_by=BY_PROTOCOL)
register_metric("ssim", higher_is_better=True, label="SSIM", computed_by=BY_PROTOCOL)
register_metric("l1", higher_is_better=False, label="L1", scale=100.0, decimals=2, computed_by=BY_PROTOCOL)
register_metric("lpips", higher_is_better=False, label="LPIPS", weights="alexnet", computed_by=BY_SUITE)
register_metric("fid", higher_is_better=False, per_image=False, label="FID", decimals=2, weights="inception",
                computed_by=BY_SUITE)
register_metric("kid", higher_is_better=False, per_image=False, label="KID", weights="inception",  # raw, not x1000
                spread="kid_std", computed_by=BY_SUITE)
