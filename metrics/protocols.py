"""The scoring protocols' PSNR, SSIM and L1 (names and descriptions: harness.names.PROTOCOLS).

`default` is metrics.pixel on float images. The others score 8-bit images (the composites, or the
outputs as they are: harness.names.PROTOCOL_COMPOSITES), quantised as the harness writes its PNGs
(so a file written and read back scores the same), and call scikit-image per image, as the papers'
scripts did: `edgeconnect` follows EdgeConnect's scripts/metrics.py (grayscale
by rgb2gray of the image / 255 in float32, PSNR and SSIM at data range 1, SSIM window 51, MAE =
sum|x - y| / sum(x + y)); `skimage_rgb` takes scikit-image's defaults on the uint8 RGB arrays.
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.color import rgb2gray
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaint_bench.harness.metric_registry import BY_PROTOCOL, get_metric, metric_names
from inpaint_bench.harness.names import PROTOCOL_MIN_SIZE, PROTOCOLS

from .pixel import pixel_metrics


def check_protocol(protocol: str, size: int | None = None, what: str = "the images") -> None:
    """ValueError, before any work, for an unknown protocol or images too small for its SSIM window."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown scoring protocol {protocol!r}; protocols: {', '.join(PROTOCOLS)}")
    least = PROTOCOL_MIN_SIZE[protocol]
    if size is not None and size < least:
        raise ValueError(f"protocol {protocol}: its SSIM window is {least}x{least} pixels, larger than {what} "
                         f"({size} px on the short side); score images of at least {least} px or choose "
                         f"another protocol ({', '.join(p for p in PROTOCOLS if PROTOCOL_MIN_SIZE[p] <= size)})")


def is_eight_bit(protocol: str) -> bool:
    return protocol != "default"


def to_8bit(images: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) [0,1] -> uint8 (N,H,W,3) as the harness writes PNGs: floor(x * 255 + 0.5)."""
    return (images.detach().float().clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8).permute(0, 2, 3, 1).cpu()


def from_8bit(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N,H,W,3) -> float32 (N,3,H,W) in [0,1]: the 8-bit image as it reads back."""
    return (images.permute(0, 3, 1, 2).float() / 255.0).contiguous()


def edgeconnect_scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """One image pair, uint8 (H,W,3), as EdgeConnect's scripts/metrics.py scores it."""
    a, b = (rgb2gray((x / 255.0).astype(np.float32)) for x in (gt, pred))
    return {"psnr": float(peak_signal_noise_ratio(a, b, data_range=1)),
            "ssim": float(structural_similarity(a, b, data_range=1, win_size=51)),
            "l1": float(np.sum(np.abs(a - b)) / np.sum(a + b))}


def skimage_rgb_scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """One image pair, uint8 (H,W,3): scikit-image's defaults on RGB."""
    return {"psnr": float(peak_signal_noise_ratio(gt, pred, data_range=255)),
            "ssim": float(structural_similarity(gt, pred, channel_axis=2)),
            "l1": float(np.mean(np.abs(gt.astype(np.float64) - pred.astype(np.float64))) / 255.0)}


def protocol_metric_names() -> list[str]:
    """The metrics a protocol defines (PSNR, SSIM, L1: registered as computed by the protocol)."""
    return [m for m in metric_names() if get_metric(m).computed_by == BY_PROTOCOL]


def protocol_metrics(protocol: str, pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"psnr", "ssim", "l1"} -> (N,) float64 CPU tensors for (N,3,H,W) composites and ground truth.
    The entry points (config check, `score`) call check_protocol on the image size before any work."""
    if protocol == "default":
        return {k: v.double().cpu() for k, v in pixel_metrics(pred, gt).items()}
    score = edgeconnect_scores if protocol == "edgeconnect" else skimage_rgb_scores
    rows = [score(p, g) for p, g in zip(to_8bit(pred).numpy(), to_8bit(gt).numpy())]
    return {k: torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in protocol_metric_names()}
