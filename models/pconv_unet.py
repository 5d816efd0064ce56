"""PConv U-Net (Liu et al., ECCV 2018), the baseline row of the tables.

Encoder: `layers` partial convs with stride 2 (7x7, 5x5, 5x5, then 3x3), channels w, 2w, 4w, 8w...,
BatchNorm on all but the first, ReLU. Decoder: nearest upsampling x2, concatenation with the encoder
feature of the same size, partial conv 3x3, BatchNorm (not on the last), LeakyReLU 0.2; the last layer
sees the input image and outputs RGB with no activation. The paper uses 8 layers at 512x512; the
input side must be divisible by 2**layers (spec key `layers`).

Masks here are one channel (the image's mask is the same for every channel), so after a concatenation
the valid mask is the union of the two parts' valid masks: a window counts as valid if either the
skip feature or the upsampled feature has data there.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_bench.models.partial_conv import PartialConv2d
from inpaint_bench.models.registry import register_backbone


class PConvBlock(nn.Module):
    def __init__(self, cin, cout, kernel, stride, bn=True, act="relu"):
        super().__init__()
        self.conv = PartialConv2d(cin, cout, kernel, stride=stride, bias=not bn)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.act = {"relu": nn.ReLU(inplace=True), "leaky": nn.LeakyReLU(0.2, inplace=True), None: None}[act]

    def forward(self, x, valid):
        x, valid = self.conv(x, valid)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x, valid


@register_backbone("pconv")
class PConvUNet(nn.Module):
    def __init__(self, width: int = 64, layers: int = 8):
        super().__init__()
        if layers < 2:
            raise ValueError(f"pconv: 'layers' must be at least 2, got {layers}")
        self.layers = layers
        channels = [min(width * 2 ** i, width * 8) for i in range(layers)]
        kernels = [7, 5, 5] + [3] * (layers - 3)
        self.encoder = nn.ModuleList()
        cin = 3
        for i, (cout, k) in enumerate(zip(channels, kernels)):
            self.encoder.append(PConvBlock(cin, cout, k, stride=2, bn=i > 0, act="relu"))
            cin = cout
        self.decoder = nn.ModuleList()
        for i in reversed(range(layers)):
            skip = channels[i - 1] if i > 0 else 3
            cout = channels[i - 1] if i > 0 else 3
            last = i == 0
            self.decoder.append(PConvBlock(cin + skip, cout, 3, stride=1, bn=not last,
                                           act=None if last else "leaky"))
            cin = cout

    @staticmethod
    def check_sizes(width: int, image_size: int, layers: int = 8) -> None:
        """`layers` stride-2 layers halve the input `layers` times (models.registry.check_sizes)."""
        if image_size % 2 ** layers:
            fits = max((n for n in range(2, layers) if image_size % 2 ** n == 0), default=None)
            raise ValueError(f"layers: {layers} encoder layers halve the image {layers} times, so image_size "
                             f"{image_size} must be a multiple of {2 ** layers}"
                             + (f"; use layers: {fits} or fewer" if fits else ""))

    def forward(self, masked_image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        side = 2 ** self.layers
        if masked_image.shape[-1] % side or masked_image.shape[-2] % side:
            raise ValueError(f"pconv with layers={self.layers} needs H and W divisible by {side}, "
                             f"got {tuple(masked_image.shape[-2:])}; lower the variant's 'layers'")
        valid = 1.0 - mask.float()
        feats = [(masked_image, valid)]
        x = masked_image
        for block in self.encoder:
            x, valid = block(x, valid)
            feats.append((x, valid))
        feats.pop()  # the deepest feature is x itself
        for block in self.decoder:
            skip_x, skip_valid = feats.pop()
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            valid = F.interpolate(valid, scale_factor=2, mode="nearest")
            x = torch.cat([x, skip_x.to(x.dtype)], dim=1)
            valid = torch.maximum(valid, skip_valid)
            x, valid = block(x, valid)
        return x
