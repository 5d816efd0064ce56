"""RFR-Net (Li et al., "Recurrent Feature Reasoning for Image Inpainting", CVPR 2020) and its
single-pass encoder-decoder ablation baseline (layer details and choices: models/README.md).

- ``rfr``: partial-conv stem -> ``iterations`` recurrences, weights shared, of [area identification
  (two partial convs) -> feature reasoning (encoder-decoder with attention) -> x valid mask] ->
  mask-weighted merge of the stem and recurrence features -> tail. Spec keys: ``iterations`` (6),
  ``attention`` none|plain|kca (kca), ``area_kernel`` (7); DGI: ``completion_block``,
  ``completion_at`` both|merged|encoder (both), ``fusion``.
- ``encdec``: the same stem, one pass of the encoder-decoder over the whole stem feature map (no area
  identification, recurrence or merge), the same tail. Spec key: ``attention`` (none).
Called as ``model(image * (1 - mask), mask) -> pred``, mask 1 = hole; inside, float32 valid masks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_bench.models.attention import AttentionState, build_attention
from inpaint_bench.models.dgi_blocks import CompletionBlock, GlobalLocalFusion
from inpaint_bench.models.partial_conv import PartialConv2d
from inpaint_bench.models.registry import register_backbone

SIZE_MULTIPLE = 16  # stem /2 and three stride-2 encoder convs
# DGI blocks that act on holes only: the teacher sees no hole, so it is built
# without them and one teacher serves every student of a backbone.
STUDENT_ONLY = ("completion_block", "fusion")


# ----------------------------------------------------------------------------- building blocks

def conv_bn(in_ch: int, out_ch: int, act: nn.Module, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv (no bias: BN follows) + BN + activation."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_ch), act)


def up_bn(in_ch: int, out_ch: int, slope: float = 0.2) -> nn.Sequential:
    """Transposed conv 4x4 stride 2 (x2 upsampling) + BN + LeakyReLU."""
    return nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(out_ch), nn.LeakyReLU(slope, inplace=True))


def masked_feature_merge(feats: list[torch.Tensor], masks: list[torch.Tensor], eps: float = 1e-7) -> torch.Tensor:
    """``mean_i(f_i m_i) / (mean_i(m_i) + eps)``: the mean of the features valid at each pixel
    (means over the maps and eps as the official code).

    Accumulated in float32 (a reduction over 7 maps; cheap next to the convolutions), returned in
    the features' dtype. Pixels valid in no map come out as 0.
    """
    num = sum(f.float() * m for f, m in zip(feats, masks)) / len(feats)
    den = sum(m.float() for m in masks) / len(masks)
    return (num / (den + eps)).to(feats[0].dtype)


class Bottleneck(nn.Module):
    """ResNet bottleneck residual block: 1x1 (c -> c/4), 3x3, 1x1 (-> c), BN after each, ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        mid = channels // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class Stem(nn.Module):
    """Partial conv 3->w 7x7 stride 2 + BN + ReLU; partial conv w->w 7x7 + BN + ReLU (to H/2)."""

    def __init__(self, width: int):
        super().__init__()
        self.pconv1 = PartialConv2d(3, width, 7, stride=2, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.pconv2 = PartialConv2d(width, width, 7, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, image: torch.Tensor, valid: torch.Tensor):
        x, valid = self.pconv1(image, valid)
        x = F.relu(self.bn1(x), inplace=True)
        x, valid = self.pconv2(x, valid)
        x = F.relu(self.bn2(x), inplace=True)
        return x, valid


class AreaIdentification(nn.Module):
    """Two partial convs (each shrinks the hole by kernel//2 pixels per side), then BN + LeakyReLU."""

    def __init__(self, width: int, kernel: int = 7):
        super().__init__()
        self.pconv1 = PartialConv2d(width, width, kernel, bias=False)
        self.pconv2 = PartialConv2d(width, width, kernel, bias=False)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor, valid: torch.Tensor):
        x, valid = self.pconv1(x, valid)
        x, valid = self.pconv2(x, valid)
        return F.leaky_relu(self.bn(x), inplace=True), valid


class FeatureReasoning(nn.Module):
    """Encoder-decoder of the RFR module, at width w on an (N, w, h, w') map (h = H/2 of the image).

    Encoder: 3x3 stride-2 convs w->2w->4w->8w, then three dilated (2) 3x3 convs at 8w; BN + ReLU.
    Decoder: two dilated convs on [x, skip] (16w -> 8w), transposed convs 16w->8w (attention
    here, at h/4), 12w->4w, 6w->w back to h; BN + LeakyReLU 0.2.
    ``forward(x, valid, prev) -> (out, extras)`` with extras: ``encoder`` [2w @ h/2, 4w @ h/4,
    8w @ h/8] (the last feature of each encoder resolution, i.e. after the dilated convs at 8w),
    ``attention_input``, ``attention_state`` (None without attention).
    Extension points: ``attention`` (any kind from models.attention) and ``post_attention``
    (identity by default; a module applied to the attention output).
    DGI options: ``completion_block`` puts a completion block (updates hole features only) at the
    end of each encoder level, before the feature becomes a skip and a distillation target;
    ``fusion="global_local"`` mixes the attention output (global) with its input (local) by
    per-pixel weights.
    """

    def __init__(self, width: int, attention: str | None = "kca", completion_block: bool = False,
                 fusion: str = "none"):
        super().__init__()
        w = width
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        leaky = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        self.down = nn.ModuleList([conv_bn(w, 2 * w, relu(), stride=2),
                                   conv_bn(2 * w, 4 * w, relu(), stride=2),
                                   conv_bn(4 * w, 8 * w, relu(), stride=2)])
        self.dilated = nn.ModuleList([conv_bn(8 * w, 8 * w, relu(), dilation=2) for _ in range(3)])
        self.dec_dilated = nn.ModuleList([conv_bn(16 * w, 8 * w, leaky(), dilation=2) for _ in range(2)])
        self.up3 = up_bn(16 * w, 8 * w)
        self.attention = build_attention(attention, 8 * w)
        if fusion not in ("none", "global_local"):
            raise ValueError(f"fusion must be none or global_local, got {fusion!r}")
        if fusion == "global_local" and self.attention is None:
            raise ValueError("fusion: global_local mixes the attention output with local features; "
                             "the variant needs attention: dgi|plain|kca")
        self.fusion = GlobalLocalFusion(8 * w) if fusion == "global_local" else None
        self.completion = (nn.ModuleList([CompletionBlock(c) for c in (2 * w, 4 * w, 8 * w)])
                           if completion_block else None)
        self.post_attention = nn.Identity()
        self.up2 = up_bn(8 * w + 4 * w, 4 * w)
        self.up1 = up_bn(4 * w + 2 * w, w)
        self.encoder_channels = [2 * w, 4 * w, 8 * w]
        self.attention_channels = 8 * w if self.attention is not None else None

    def forward(self, x: torch.Tensor, valid: torch.Tensor, prev: AttentionState | None = None):
        skips = []  # outputs of every encoder layer, consumed in reverse by the decoder
        level_ends = {0: 0, 1: 1, 5: 2}  # layer index -> encoder level it completes
        for i, layer in enumerate([*self.down, *self.dilated]):
            x = layer(x)
            if self.completion is not None and i in level_ends:
                x = self.completion[level_ends[i]](x, 1.0 - valid)
            skips.append(x)
        h1, h2, h3, h4, h5, h6 = skips
        d = self.dec_dilated[0](torch.cat([h6, h5], dim=1))
        d = self.dec_dilated[1](torch.cat([d, h4], dim=1))
        d = self.up3(torch.cat([d, h3], dim=1))
        attention_input, state = d, None
        if self.attention is not None:
            d, state = self.attention(d, valid, prev)
            if self.fusion is not None:
                d = self.fusion(d, attention_input)
            d = self.post_attention(d)
        d = self.up2(torch.cat([d, h2], dim=1))
        d = self.up1(torch.cat([d, h1], dim=1))
        extras = {"encoder": [h1, h2, h6], "attention_input": attention_input, "attention_state": state}
        return d, extras


class Tail(nn.Module):
    """H/2 features -> RGB: transposed conv w->w + BN + LeakyReLU, concat with the input image,
    partial conv (w+3)->w/2 3x3 + LeakyReLU, bottleneck block, concat, 3x3 conv to RGB (no
    activation).

    The partial conv takes a per-channel mask, as the official ``tail1``: the image channels are
    masked by the image's valid mask, the feature channels by ``valid`` (the feature mask, upsampled
    to the image), and the rescaling counts the valid inputs of all w+3 channels.
    """

    def __init__(self, width: int):
        super().__init__()
        half = width // 2
        self.up = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.pconv = PartialConv2d(width + 3, half, 3, bias=False)
        self.block = Bottleneck(half)
        self.out = nn.Conv2d(2 * half, 3, 3, padding=1, bias=False)

    def forward(self, feat: torch.Tensor, valid: torch.Tensor, image: torch.Tensor,
                image_valid: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.bn(self.up(feat)), inplace=True)
        valid = F.interpolate(valid, scale_factor=2.0, mode="nearest")
        channel_valid = torch.cat([image_valid.expand(-1, image.shape[1], -1, -1),
                                   valid.expand(-1, x.shape[1], -1, -1)], dim=1)
        x, _ = self.pconv(torch.cat([image.to(x.dtype), x], dim=1), channel_valid)
        x = F.leaky_relu(x, inplace=True)
        return self.out(torch.cat([x, self.block(x)], dim=1))


def _check_input(masked_image: torch.Tensor, mask: torch.Tensor) -> None:
    h, w = masked_image.shape[-2:]
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
        raise ValueError(f"input size {h}x{w} is not a multiple of {SIZE_MULTIPLE}")
    if mask.shape[1] != 1 or mask.shape[-2:] != (h, w):
        raise ValueError(f"mask must be (N, 1, {h}, {w}), got {tuple(mask.shape)}")


def _check_width(width: int) -> None:
    if width < 8 or width % 8:
        raise ValueError(f"width (the config key `width`) must be a positive multiple of 8 for rfr and encdec "
                         f"(the tail bottleneck uses w/8), got {width}")


class _InpaintingNet(nn.Module):
    """Shared ``forward`` / documentation of the feature interface.

    ``forward_features(masked_image, mask) -> (pred, feats)``, feats:
    - ``encoder``: [2w @ H/4, 4w @ H/8, 8w @ H/16] feature-reasoning encoder features (rfr: of the
      last recurrence), see ``FeatureReasoning``;
    - ``attention``: [(N, Q, K) float32 affinities, rows sum to 1] (rfr + kca: the consistency-
      updated score of the last recurrence); [] without attention;
    - ``attention_input``: [(N, 8w, H/8, W/8) features the attention was computed on]; [] without;
    - ``valid_masks``: rfr: the valid mask (N, 1, H/2, W/2) after each recurrence; encdec: [the
      stem's valid mask];
    - ``recurrence_outputs`` (rfr: masked feature-reasoning output of each recurrence; encdec: [the
      single output]) and ``merged`` (the features entering the tail), for tests and analysis.
    """

    encoder_channels: list[int]
    attention_channels: int | None

    @staticmethod
    def check_sizes(width: int, image_size: int, **options) -> None:
        """The width and image size both backbones need (models.registry.check_sizes)."""
        _check_width(width)
        if image_size % SIZE_MULTIPLE:
            raise ValueError(f"image_size {image_size} is not a multiple of {SIZE_MULTIPLE} (the stem and three "
                             f"stride-2 encoder convs halve it four times)")

    def __init__(self, width: int, attention: str | None, completion_block: bool, fusion: str):
        super().__init__()
        _check_width(width)
        self.stem = Stem(width)
        self.reasoning = FeatureReasoning(width, attention, completion_block, fusion)
        self.tail = Tail(width)
        self.encoder_channels = self.reasoning.encoder_channels
        self.attention_channels = self.reasoning.attention_channels

    def forward(self, masked_image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_features(masked_image, mask)[0]


# ----------------------------------------------------------------------------- backbones

COMPLETION_PLACES = ("both", "merged", "encoder")


@register_backbone("rfr", student_only=STUDENT_ONLY + ("completion_at",))
class RFRNet(_InpaintingNet):
    """``completion_block: true`` places DGI completion blocks where ``completion_at`` says:
    ``merged`` (one block on the merged features entering the tail, over the image's hole
    max-pooled to H/2: the features of the whole missing region, before they are decoded),
    ``encoder`` (the feature-reasoning encoder levels, over the hole left inside each recurrence,
    which is nearly closed after the first ones: the distillation targets) or ``both`` (default).
    """

    def __init__(self, width: int = 64, iterations: int = 6, attention: str | None = "kca", area_kernel: int = 7,
                 completion_block: bool = False, fusion: str = "none", completion_at: str = "both"):
        if completion_at not in COMPLETION_PLACES:
            raise ValueError(f"completion_at must be one of {COMPLETION_PLACES}, got {completion_at!r}")
        if completion_at != "both" and not completion_block:
            raise ValueError("completion_at places the completion blocks: it needs completion_block: true")
        super().__init__(width, attention, completion_block and completion_at != "merged", fusion)
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        if area_kernel % 2 != 1:
            raise ValueError(f"area_kernel must be odd, got {area_kernel}")
        self.iterations = iterations
        self.area = AreaIdentification(width, area_kernel)
        self.merged_completion = (CompletionBlock(width) if completion_block and completion_at != "encoder"
                                  else None)

    def forward_features(self, masked_image: torch.Tensor, mask: torch.Tensor):
        _check_input(masked_image, mask)
        valid_image = 1.0 - mask.float()
        x, valid = self.stem(masked_image, valid_image)
        feats, masks = [x], [valid]
        state = None  # attention state starts fresh at every forward (explicitly passed on)
        outputs, extras = [], {}
        for _ in range(self.iterations):
            x, valid = self.area(x, valid)
            x, extras = self.reasoning(x, valid, state)
            state = extras["attention_state"]
            x = x * valid.to(x.dtype)  # pixels not reached yet stay 0 for the next recurrence
            feats.append(x)
            masks.append(valid)
            outputs.append(x)
        merged = masked_feature_merge(feats, masks)
        if self.merged_completion is not None:
            merged = self.merged_completion(merged, mask)  # known positions come back bit for bit
        pred = self.tail(merged, masks[-1], masked_image, valid_image)
        return pred, _features(extras, masks[1:], outputs, merged)


@register_backbone("encdec", student_only=STUDENT_ONLY)
class EncoderDecoderNet(_InpaintingNet):
    """Single-pass baseline: stem -> one feature-reasoning pass -> tail."""

    def __init__(self, width: int = 64, attention: str = "none", completion_block: bool = False,
                 fusion: str = "none"):
        super().__init__(width, attention, completion_block, fusion)

    def forward_features(self, masked_image: torch.Tensor, mask: torch.Tensor):
        _check_input(masked_image, mask)
        valid_image = 1.0 - mask.float()
        x, valid = self.stem(masked_image, valid_image)
        x, extras = self.reasoning(x, valid, None)
        # the decoder fills the whole map, so the tail's partial conv sees every feature as valid
        pred = self.tail(x, torch.ones_like(valid), masked_image, valid_image)
        return pred, _features(extras, [valid], [x], x)


def _features(extras: dict, valid_masks: list, outputs: list, merged: torch.Tensor) -> dict:
    state = extras["attention_state"]
    return {
        "encoder": extras["encoder"],
        "attention": [state.score] if state is not None else [],
        "attention_input": [extras["attention_input"]] if state is not None else [],
        "valid_masks": valid_masks,
        "recurrence_outputs": outputs,
        "merged": merged,
    }
