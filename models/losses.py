"""Inpainting losses of PConv / RFR-Net with the official RFR-Net weights as defaults.

total = hole * L1 in the hole + valid * L1 outside it + perceptual + style + tv, where
- the L1 terms are means over all pixels and channels of |mask * (pred - gt)| (as the official code),
- perceptual and style use frozen ImageNet VGG16 features pool1..pool3 of both the raw prediction
  and the composite; style compares Gram matrices divided by C*H*W,
- tv is the total variation of the composite over the hole region dilated by one pixel.
Without VGG16 weights (``vgg_features=None``) the perceptual and style terms are dropped; the
caller warns and records it (a random VGG is never used in their place).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_LOSS_WEIGHTS = {"hole": 6.0, "valid": 1.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}
VGG_POOL_INDICES = (4, 9, 16)  # torchvision vgg16.features: outputs of pool1, pool2, pool3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGPoolFeatures(nn.Module):
    """pool1..pool3 of a torchvision ``vgg16().features`` module, frozen, ImageNet-normalised input."""

    def __init__(self, vgg_features: nn.Sequential):
        super().__init__()
        self.layers = vgg_features[: VGG_POOL_INDICES[-1] + 1].eval()
        for p in self.layers.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # always frozen: BatchNorm-free, but keep eval semantics
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        feats = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in VGG_POOL_INDICES:
                feats.append(x)
        return feats


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    n, c, h, w = feat.shape
    f = feat.float().reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def total_variation(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean absolute neighbour difference of `image` on the hole dilated by one pixel."""
    region = F.max_pool2d(hole.float(), kernel_size=3, stride=1, padding=1)
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs() * (region[..., :, 1:] * region[..., :, :-1])
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs() * (region[..., 1:, :] * region[..., :-1, :])
    return dx.mean() + dy.mean()


class InpaintingLoss(nn.Module):
    """``forward(pred, gt, mask) -> (total, terms)``; mask 1 = hole; terms are unweighted, detached."""

    def __init__(self, weights: dict | None = None, vgg_features: nn.Sequential | None = None):
        super().__init__()
        self.weights = dict(DEFAULT_LOSS_WEIGHTS)
        unknown = set(weights or {}) - set(DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise KeyError(f"unknown loss weight(s) {sorted(unknown)}; known: {sorted(DEFAULT_LOSS_WEIGHTS)}")
        self.weights.update(weights or {})
        self.vgg = VGGPoolFeatures(vgg_features) if vgg_features is not None else None

    @property
    def active_terms(self) -> list[str]:
        terms = ["hole", "valid", "tv"]
        if self.vgg is not None:
            terms[2:2] = ["perceptual", "style"]
        return [t for t in terms if self.weights[t] != 0]

    def forward(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor):
        pred = pred.float()  # losses in float32; the network itself may run under autocast
        mask = mask.float()
        comp = pred * mask + gt * (1 - mask)
        terms = {
            "hole": (mask * (pred - gt)).abs().mean(),
            "valid": ((1 - mask) * (pred - gt)).abs().mean(),
        }
        if self.vgg is not None and (self.weights["perceptual"] or self.weights["style"]):
            n = pred.shape[0]
            feats = self.vgg(torch.cat([pred, comp, gt]))
            perceptual = pred.new_zeros(())
            style = pred.new_zeros(())
            for f in feats:
                f_pred, f_comp, f_gt = f.float().split(n)
                f_gt = f_gt.detach()
                perceptual = perceptual + F.l1_loss(f_pred, f_gt) + F.l1_loss(f_comp, f_gt)
                g_gt = gram_matrix(f_gt)
                style = style + F.l1_loss(gram_matrix(f_pred), g_gt) + F.l1_loss(gram_matrix(f_comp), g_gt)
            terms["perceptual"] = perceptual
            terms["style"] = style
        terms["tv"] = total_variation(comp, mask)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, {k: v.detach() for k, v in terms.items()}
