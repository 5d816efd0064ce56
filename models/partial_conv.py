"""Partial convolution (Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions", 2018).

Inside every model the mask is a *valid* mask: 1 = known pixel, 0 = hole, float32, with one channel
(shared by every input channel) or one per input channel (the official code's ``multi_channel``).
The conv runs over ``x * valid`` and is rescaled by ``window_size / sum(valid in window)``, both
counted over every input channel; windows with no valid pixel give zero. The new valid mask (one
channel) is 1 wherever the window held any valid pixel. The mask arithmetic stays float32 under
bf16 autocast.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class PartialConv2d(nn.Conv2d):
    """``forward(x, valid) -> (out, new_valid)`` with ``valid`` (N, 1, H, W) or (N, C_in, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, dilation: int = 1, bias: bool = True):
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, bias=bias)
        self.register_buffer("mask_kernel", torch.ones(1, 1, kernel_size, kernel_size), persistent=False)
        self.window_size = float(kernel_size * kernel_size)

    def update_mask(self, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (rescale ratio, new valid mask), both float32 (N, 1, H', W')."""
        channels = valid.shape[1]
        if channels not in (1, self.in_channels):
            raise ValueError(f"valid mask must have 1 or {self.in_channels} channels, got {channels}")
        with torch.autocast(device_type=valid.device.type, enabled=False):
            # a per-channel mask counts the valid inputs of every channel: its channel sum, windowed
            valid_sum = F.conv2d(valid.float().sum(dim=1, keepdim=True), self.mask_kernel, stride=self.stride,
                                 padding=self.padding, dilation=self.dilation)
            new_valid = (valid_sum > 0).float()
            ratio = self.window_size * channels / valid_sum.clamp(min=1.0) * new_valid
        return ratio, new_valid

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ratio, new_valid = self.update_mask(valid)
        out = F.conv2d(x * valid.to(x.dtype), self.weight, None, self.stride, self.padding, self.dilation)
        out = out * ratio.to(out.dtype)
        if self.bias is not None:
            out = (out + self.bias.view(1, -1, 1, 1).to(out.dtype)) * new_valid.to(out.dtype)
        return out, new_valid


MASK_POOLS = ("max", "area")


def resize_hole_mask(mask: torch.Tensor, size: Sequence[int], mode: str = "max") -> torch.Tensor:
    """(N,1,H,W) hole mask (1 = hole) -> float32 (N,1,h,w) at a feature map's resolution.

    ``max``: a feature position is a hole if any pixel of its cell is (binary result);
    ``area``: the fraction of hole pixels in its cell (soft result).
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"hole mask must be (N,1,H,W), got {tuple(mask.shape)}")
    if mode not in MASK_POOLS:
        raise ValueError(f"mask_pool must be one of {MASK_POOLS}, got {mode!r}")
    mask = mask.float()
    size = tuple(int(s) for s in size)
    if tuple(mask.shape[-2:]) == size:
        return mask
    if mode == "max":
        return F.adaptive_max_pool2d(mask, size)
    return F.adaptive_avg_pool2d(mask, size)
