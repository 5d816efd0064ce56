"""Per-image PSNR, SSIM and L1 through torchmetrics' functional API.

Inputs are float RGB (N,3,H,W) in [0,1]; pass the composite `pred*mask + gt*(1-mask)`
(see `composite`). Everything is computed in float32 with autocast off, whatever the caller's
precision, so bf16 runs report the same numbers as fp32 runs.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from inpaint_bench.harness.names import PSNR_CAP_DB

# SSIM as in Wang et al. 2004 and the inpainting papers: Gaussian window 11x11, sigma 1.5.
SSIM_KERNEL_SIZE = 11
SSIM_SIGMA = 1.5
DATA_RANGE = 1.0


def composite(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Network output inside the hole (mask = 1), ground truth outside."""
    mask = mask.float()
    return pred.float() * mask + gt.float() * (1.0 - mask)


def _float32_pair(pred: torch.Tensor, gt: torch.Tensor):
    if pred.shape != gt.shape or pred.dim() != 4:
        raise ValueError(f"expected two (N,C,H,W) tensors of equal shape, "
                         f"got {tuple(pred.shape)} and {tuple(gt.shape)}")
    return pred.float(), gt.float()


def psnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(N,) PSNR in dB, data range 1, capped at PSNR_CAP_DB (identical images would give inf:
    torchmetrics does not cap; harness.names says why the cap)."""
    pred, gt = _float32_pair(pred, gt)
    with torch.autocast(device_type=pred.device.type, enabled=False):
        values = peak_signal_noise_ratio(pred, gt, data_range=DATA_RANGE, reduction="none", dim=(1, 2, 3))
    return values.clamp(max=PSNR_CAP_DB)


def ssim(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(N,) SSIM with an 11x11 Gaussian window (sigma 1.5), data range 1."""
    pred, gt = _float32_pair(pred, gt)
    with torch.autocast(device_type=pred.device.type, enabled=False):
        return structural_similarity_index_measure(
            pred, gt,
            gaussian_kernel=True, kernel_size=SSIM_KERNEL_SIZE, sigma=SSIM_SIGMA,
            data_range=DATA_RANGE, reduction="none",
        )


def l1(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(N,) mean absolute error over all pixels and channels of each image."""
    pred, gt = _float32_pair(pred, gt)
    return (pred - gt).abs().mean(dim=(1, 2, 3))


def pixel_metrics(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"psnr", "ssim", "l1"} -> (N,) float32 tensors."""
    return {"psnr": psnr(pred, gt), "ssim": ssim(pred, gt), "l1": l1(pred, gt)}


def hole_colour_error(image: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N,) how far the mean colour of `image` inside the hole is from the ground truth's: the mean
    over channels of |mean over hole pixels of image - same of gt|, in [0,1] units. A network that has
    learnt a wrong colour prior (a cast over every hole) scores high here whatever its texture."""
    image, gt = _float32_pair(image, gt)
    hole = (mask > 0.5).float()
    count = hole.sum(dim=(1, 2, 3)).clamp(min=1)
    mean_image = (image * hole).sum(dim=(2, 3)) / count[:, None]
    mean_gt = (gt * hole).sum(dim=(2, 3)) / count[:, None]
    return (mean_image - mean_gt).abs().mean(dim=1)
