"""Inpainting losses of PConv / RFR-Net, with the official RFR-Net code's weights and definitions as
defaults: total = hole * L1 in the hole + valid * L1 outside it + perceptual + style + tv.

The L1 terms are means over all pixels and channels of |mask * (pred - gt)|. Perceptual and style use
frozen VGG16 pool1..pool3 features of the raw prediction and of the composite; style compares Gram
matrices divided by C*H*W; VGG16 sees the [0, 1] image (`vgg_input="unit"`, official) or an
ImageNet-normalised one (`"imagenet"`). tv (`tv_region="composite_hole"`, official) is the mean absolute
difference of vertical plus horizontal neighbours of composite * hole over the whole image (so a hole
pixel next to a known one is pulled towards 0 too); `"dilated_hole"` differences the composite on the
hole dilated by one pixel. Without VGG16 weights (``vgg_features=None``) perceptual and style are
dropped: the caller warns and records it (a random VGG is never used in their place).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_LOSS_WEIGHTS = {"hole": 6.0, "valid": 1.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}
VGG_INPUTS = ("unit", "imagenet")
TV_REGIONS = ("composite_hole", "dilated_hole")
LOSS_OPTIONS = {"vgg_input": "unit", "tv_region": "composite_hole"}  # official defaults
VGG_POOL_INDICES = (4, 9, 16)  # torchvision vgg16.features: outputs of pool1, pool2, pool3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGPoolFeatures(nn.Module):
    """pool1..pool3 of a torchvision ``vgg16().features`` module, frozen; the input is the [0, 1]
    image (``normalize=False``, official RFR-Net) or ImageNet-normalised (``normalize=True``)."""

    def __init__(self, vgg_features: nn.Sequential, normalize: bool = False):
        super().__init__()
        self.layers = vgg_features[: VGG_POOL_INDICES[-1] + 1].eval()
        for p in self.layers.parameters():
            p.requires_grad_(False)
        self.normalize = bool(normalize)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # always frozen: BatchNorm-free, but keep eval semantics
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.normalize:
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


def total_variation(image: torch.Tensor, hole: torch.Tensor, region: str = "composite_hole") -> torch.Tensor:
    """Total variation of the composite `image` (mask `hole`, 1 = hole).

    "composite_hole" (official RFR-Net): x = image * hole over the whole image,
    mean|x[i+1, j] - x[i, j]| + mean|x[i, j+1] - x[i, j]|.
    "dilated_hole": mean absolute neighbour differences of `image`, counting only pairs inside the
    hole dilated by one pixel (each mean still over all pairs of the image)."""
    if region == "composite_hole":
        x = image * hole
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    if region != "dilated_hole":
        raise ValueError(f"tv_region must be one of {TV_REGIONS}, got {region!r}")
    area = F.max_pool2d(hole.float(), kernel_size=3, stride=1, padding=1)
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs() * (area[..., :, 1:] * area[..., :, :-1])
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs() * (area[..., 1:, :] * area[..., :-1, :])
    return dx.mean() + dy.mean()


class InpaintingLoss(nn.Module):
    """``forward(pred, gt, mask) -> (total, terms)``; mask 1 = hole; terms are unweighted, detached."""

    def __init__(self, weights: dict | None = None, vgg_features: nn.Sequential | None = None):
        """`weights`: the weights of DEFAULT_LOSS_WEIGHTS and the options of LOSS_OPTIONS (the
        config's train.loss), each defaulting to the official value."""
        super().__init__()
        settings = dict(weights or {})
        unknown = set(settings) - set(DEFAULT_LOSS_WEIGHTS) - set(LOSS_OPTIONS)
        if unknown:
            raise KeyError(f"unknown loss weight(s) {sorted(unknown)}; known: "
                           f"{sorted(DEFAULT_LOSS_WEIGHTS)} and options {sorted(LOSS_OPTIONS)}")
        self.options = {k: settings.pop(k, v) for k, v in LOSS_OPTIONS.items()}
        if self.options["vgg_input"] not in VGG_INPUTS:
            raise ValueError(f"vgg_input must be one of {VGG_INPUTS}, got {self.options['vgg_input']!r}")
        if self.options["tv_region"] not in TV_REGIONS:
            raise ValueError(f"tv_region must be one of {TV_REGIONS}, got {self.options['tv_region']!r}")
        self.weights = {**DEFAULT_LOSS_WEIGHTS, **settings}
        self.vgg = (VGGPoolFeatures(vgg_features, normalize=self.options["vgg_input"] == "imagenet")
                    if vgg_features is not None else None)

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
        terms["tv"] = total_variation(comp, mask, self.options["tv_region"])
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, {k: v.detach() for k, v in terms.items()}
