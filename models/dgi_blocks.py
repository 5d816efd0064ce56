"""DGI architecture blocks (Suin et al., ICCV 2021): completion block and global-local fusion (DGI's
attention, ``attention: dgi``, is in ``models.attention``).

- :class:`CompletionBlock`: updates hole features only, with an adaptive convolution whose per-pixel
  kernels (and, by default, per-pixel sampling offsets) are predicted from the features and the mask.
- :class:`GlobalLocalFusion`: per-pixel sigmoid weights mix the attention (global) output with the local
  convolutional features: ``w * global + (1 - w) * local``.

The open details and the choices made are documented in ``models/README.md`` (section "DGI").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_bench.models.partial_conv import resize_hole_mask


class CompletionBlock(nn.Module):
    """Adaptive-convolution completion block: ``x * (1 - M) + ada_conv(x) * M``.

    A small predictor (3x3 conv on [x, M] -> ReLU) feeds two heads:
    - kernels: K*K logits per pixel, softmax-normalised over the taps (each output is a convex
      combination of its neighbours, so the block cannot blow up feature magnitudes), shared by all
      channels;
    - offsets (``offsets=True``, default, as the paper's adaptive convolution): a (dy, dx) shift per tap
      and pixel, zero-initialised (so the block starts as the plain per-pixel-kernel filter), applied
      by bilinear sampling (one batched ``grid_sample``). ``offsets=False`` uses ``unfold`` (cheaper).
    ``dilation`` spreads the taps. Known positions (M = 0) are returned bit-for-bit unchanged; with a
    soft mask (area-pooled), positions blend by M.

    ``forward(x, hole)``: x (N, C, h, w), hole (N, 1, H, W), 1 = hole, at any resolution (max-pooled
    to x's resolution when it differs) -> (N, C, h, w).
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1, offsets: bool = True,
                 hidden: int | None = None):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"CompletionBlock kernel_size must be odd, got {kernel_size}")
        self.channels = int(channels)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.use_offsets = bool(offsets)
        hidden = hidden or max(self.channels // 2, 8)
        taps = self.kernel_size ** 2
        self.predictor = nn.Sequential(nn.Conv2d(self.channels + 1, hidden, 3, padding=1), nn.ReLU(inplace=True))
        self.kernel_head = nn.Conv2d(hidden, taps, 3, padding=1)
        self.offset_head = nn.Conv2d(hidden, 2 * taps, 3, padding=1) if self.use_offsets else None
        if self.offset_head is not None:
            nn.init.zeros_(self.offset_head.weight)
            nn.init.zeros_(self.offset_head.bias)
        r = self.kernel_size // 2
        ys, xs = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
        # tap order matches F.unfold: row-major over (dy, dx)
        self.register_buffer("taps", torch.stack([ys.flatten(), xs.flatten()], 1).float() * self.dilation,
                             persistent=False)

    def kernels(self, x: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feat = self.predictor(torch.cat([x, hole.to(x.dtype)], dim=1))
        kernel = torch.softmax(self.kernel_head(feat).float(), dim=1)  # (N, K*K, h, w)
        offset = self.offset_head(feat).float() if self.offset_head is not None else None
        return kernel, offset

    def _gather_unfold(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        pad = self.dilation * (self.kernel_size // 2)
        cols = F.unfold(x.float(), self.kernel_size, dilation=self.dilation, padding=pad)
        return cols.reshape(n, c, self.kernel_size ** 2, h, w)

    def _gather_offsets(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        taps = self.kernel_size ** 2
        offset = offset.view(n, taps, 2, h, w)
        ys = torch.arange(h, device=x.device, dtype=torch.float32).view(1, 1, h, 1)
        xs = torch.arange(w, device=x.device, dtype=torch.float32).view(1, 1, 1, w)
        py = ys + self.taps[:, 0].view(1, taps, 1, 1) + offset[:, :, 0]  # (N, T, h, w)
        px = xs + self.taps[:, 1].view(1, taps, 1, 1) + offset[:, :, 1]
        # pixel centres -> [-1, 1] with align_corners=False; out-of-range samples read zeros (= unfold padding)
        grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1)  # (N, T, h, w, 2)
        with torch.autocast(device_type=x.device.type, enabled=False):
            sampled = F.grid_sample(x.float(), grid.view(n, taps * h, w, 2), mode="bilinear",
                                    padding_mode="zeros", align_corners=False)
        return sampled.reshape(n, c, taps, h, w)

    def forward(self, x: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        m = resize_hole_mask(hole, x.shape[-2:], "max")
        kernel, offset = self.kernels(x, m)
        cols = self._gather_unfold(x) if offset is None else self._gather_offsets(x, offset)
        filtered = (cols * kernel.unsqueeze(1)).sum(2).to(x.dtype)  # (N, C, h, w)
        m = m.to(x.dtype)
        return torch.where(m > 0, x + m * (filtered - x), x)


class GlobalLocalFusion(nn.Module):
    """Pixel-adaptive global-local fusion: ``w * global + (1 - w) * local``, ``w = sigmoid(conv([g, l]))``.

    per_channel=False (default): one weight per pixel (the paper's "pixel-adaptive" weights);
    True: one per pixel and channel. The gate conv has kernel_size 3 (sees a little context) and a zero
    bias (w starts near 0.5). ``forward(global_feat, local_feat, return_weights=False)``.
    """

    def __init__(self, channels: int, kernel_size: int = 3, per_channel: bool = False):
        super().__init__()
        self.channels = int(channels)
        self.gate = nn.Conv2d(2 * self.channels, self.channels if per_channel else 1, kernel_size,
                              padding=kernel_size // 2)
        nn.init.zeros_(self.gate.bias)

    def forward(self, global_feat: torch.Tensor, local_feat: torch.Tensor, return_weights: bool = False):
        if global_feat.shape != local_feat.shape:
            raise ValueError(f"GlobalLocalFusion: global {tuple(global_feat.shape)} and local "
                             f"{tuple(local_feat.shape)} features must have the same shape")
        w = torch.sigmoid(self.gate(torch.cat([global_feat, local_feat], dim=1)))
        out = w * global_feat + (1 - w) * local_feat
        return (out, w) if return_weights else out
