"""DGI distillation losses (Suin, Purohit, Rajagopalan, "Distillation-Guided Image Inpainting", ICCV 2021).

The student is supervised by the frozen teacher (same architecture, trained on
uncorrupted images) through cross-distillation ``sum_c rho_l^c * ||M_l * (x_l^c - gamma_l(x*_l)^c)||_1``
(encoder level l), self-distillation ``sum_c phi_l^c * ||f_l(x_l)^c - stopgrad(x_{l+1})^c||_1`` (level
l+1 teaches l) and attention transfer ``sum_{i in hole} t_i * ||r_i - r_i^AN||_1`` (affinity rows).
Every term is a mean (hole means pool over the whole batch, also when data-parallel processes each hold
a shard of it: ``batch_count``); meta weights are floored so they cannot switch a loss off; teacher
features are detached; arithmetic is float32. Details and reasons: models/README.md, section "DGI".
Entry point: ``build_distill_loss(spec["distill"], student)``; ``forward(student_feats, teacher_feats,
mask_hole)`` returns ``(total, {"cross": .., "self": .., "attention": ..})``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from inpaint_bench.models.partial_conv import MASK_POOLS, resize_hole_mask

TERMS = ("cross", "self", "attention")
CHANNEL_WEIGHT_MODES = ("meta", "static", "uniform")
PIXEL_WEIGHT_MODES = ("meta", "uniform")
GAMMA_MODES = ("residual", "plain", "identity")
DEFAULT_FLOOR = 0.5
_EPS = 1e-8


# ----------------------------------------------------------------------------------------------------------
# helpers


def normalise_weights(logits: torch.Tensor, floor: float = DEFAULT_FLOOR, dim: int = 1) -> torch.Tensor:
    """Non-negative weights with mean exactly 1 along ``dim`` and each >= ``floor``.

    ``floor + (1 - floor) * n * softmax(logits)``: whatever the logits, the weighted mean of per-channel
    errors lies between ``floor * mean`` and the largest error; it can never vanish while errors don't.
    """
    n = logits.shape[dim]
    w = torch.softmax(logits.float(), dim=dim) * n
    return floor + (1.0 - floor) * w if floor else w


def batch_count(count: torch.Tensor) -> torch.Tensor:
    """The denominator of a mean pooled over the batch. Under data-parallel training each process
    holds an equal shard of the batch and the gradients are averaged over processes: dividing each
    shard's sum by the mean count over processes makes that average the full batch's mean (a
    shard's own count would weight the shards equally whatever their hole areas)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return count
    count = count.detach().clone()  # the hole mask's size: no gradient flows through it
    dist.all_reduce(count)
    return count / dist.get_world_size()


def _check_floor(floor: float) -> float:
    floor = float(floor)
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"meta-weight floor must be in [0, 1], got {floor}")
    return floor


def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def _masked_weighted_l1(err: torch.Tensor, channel_w: torch.Tensor | None,
                        pixel_w: torch.Tensor | None) -> torch.Tensor:
    """Mean of |diff| over (weighted) positions x channels, pooled over the batch.

    err: (N,C,h,w) float32 absolute differences; channel_w: (N,C) with mean 1 over C (or None = 1);
    pixel_w: (N,1,h,w) hole mask (or None = every position). Positions with pixel_w = 0 do not enter
    the result at all; an all-zero mask gives exactly 0.
    """
    if channel_w is not None:
        err = err * channel_w[:, :, None, None]
    if pixel_w is None:
        return err.mean()
    channels = err.shape[1]
    num = (err * pixel_w).sum()
    den = batch_count(pixel_w.sum() * channels)
    return num / den.clamp_min(_EPS)


class ChannelWeights(nn.Module):
    """Per-channel non-negative weights (rho for cross-, phi for self-distillation).

    mode ``meta``: a small fully connected network (C -> C/4 -> C) on the globally average-pooled guiding
    feature (the teacher's for rho, the deeper level's for phi), so the weights are per sample; its last
    layer starts at zero (uniform weights at initialisation). ``static``: one learned logit per channel.
    ``uniform``: all weights 1 (no meta weighting, for ablations). The logits are normalised with
    :func:`normalise_weights`.
    """

    def __init__(self, channels: int, mode: str = "meta", floor: float = DEFAULT_FLOOR):
        super().__init__()
        self.channels = int(channels)
        self.mode = _check_choice("channel_weights", mode, CHANNEL_WEIGHT_MODES)
        self.floor = _check_floor(floor)
        self.net: nn.Module | None = None
        self.logit: nn.Parameter | None = None
        if mode == "meta":
            hidden = max(self.channels // 4, 4)
            self.net = nn.Sequential(nn.Linear(self.channels, hidden), nn.ReLU(inplace=True),
                                     nn.Linear(hidden, self.channels))
            nn.init.zeros_(self.net[2].weight)
            nn.init.zeros_(self.net[2].bias)
        elif mode == "static":
            self.logit = nn.Parameter(torch.zeros(self.channels))

    def logits(self, guide: torch.Tensor) -> torch.Tensor | None:
        """Raw (unnormalised) logits (N, C) from the guiding feature (N, C, h, w); None for uniform."""
        if self.mode == "uniform":
            return None
        if self.mode == "static":
            return self.logit.float().expand(guide.shape[0], -1)
        pooled = guide.detach().float().mean(dim=(2, 3))
        return self.net(pooled).float()

    def forward(self, guide: torch.Tensor) -> torch.Tensor | None:
        logits = self.logits(guide)
        return None if logits is None else normalise_weights(logits, self.floor)


def _gamma_network(channels: int, mode: str) -> nn.Module | None:
    """gamma_l of cross-distillation: 3x3 conv - ReLU - 3x3 conv (or None for the identity)."""
    if mode == "identity":
        return None
    body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(channels, channels, 3, padding=1))
    if mode == "residual":
        nn.init.zeros_(body[2].weight)
        nn.init.zeros_(body[2].bias)
        return _Residual(body)
    return body


class _Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _feature_list(feats: Mapping, key: str, who: str, term: str) -> list[torch.Tensor]:
    if not isinstance(feats, Mapping) or key not in feats:
        raise KeyError(f"distill.{term}: the {who}'s features have no {key!r} entry; the backbone must "
                       f"return (pred, feats) from forward_features with feats[{key!r}]")
    value = feats[key]
    if isinstance(value, torch.Tensor):
        value = [value]
    return list(value)


# ----------------------------------------------------------------------------------------------------------
# the three losses


class CrossDistillation(nn.Module):
    """``mean_l  sum_c rho_l^c * || M_l * (x_l^c - gamma_l(x*_l)^c) ||_1 / (C_l * |M_l|)``.

    channels: encoder channels per level (fine -> coarse), e.g. ``[2w, 4w, 8w]``.
    gamma: ``residual`` (default; ``x + conv(relu(conv(x)))`` with the last conv zero-initialised, so gamma
    starts as the identity and the student is first pulled towards the teacher's own features),
    ``plain`` (conv - ReLU - conv, default init) or ``identity`` (no meta network).
    channel_weights: ``meta`` | ``static`` | ``uniform`` (see :class:`ChannelWeights`), guided by the
    teacher feature. mask_pool: how the hole mask reaches level l (``max`` = any-hole, or ``area``).
    """

    def __init__(self, channels: Sequence[int], *, gamma: str = "residual", channel_weights: str = "meta",
                 floor: float = DEFAULT_FLOOR, mask_pool: str = "max"):
        super().__init__()
        self.channels = [int(c) for c in channels]
        if not self.channels:
            raise ValueError("cross-distillation needs at least one encoder level")
        self.gamma_mode = _check_choice("gamma", gamma, GAMMA_MODES)
        self.mask_pool = _check_choice("mask_pool", mask_pool, MASK_POOLS)
        gammas = [_gamma_network(c, gamma) for c in self.channels]
        self.gamma = nn.ModuleList([g if g is not None else nn.Identity() for g in gammas])
        self.rho = nn.ModuleList([ChannelWeights(c, channel_weights, floor) for c in self.channels])

    def level_loss(self, level: int, student: torch.Tensor, teacher: torch.Tensor,
                   mask_hole: torch.Tensor) -> torch.Tensor:
        teacher = teacher.detach()
        target = self.gamma[level](teacher)
        err = (student.float() - target.float()).abs()
        hole = resize_hole_mask(mask_hole, student.shape[-2:], self.mask_pool)
        return _masked_weighted_l1(err, self.rho[level](teacher), hole)

    def forward(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor],
                mask_hole: torch.Tensor) -> torch.Tensor:
        student, teacher = list(student), list(teacher)
        if len(student) != len(self.channels) or len(teacher) != len(self.channels):
            raise ValueError(f"distill.cross was built for {len(self.channels)} encoder levels "
                             f"{self.channels}, got {len(student)} student and {len(teacher)} teacher "
                             "feature maps")
        losses = []
        for level, (s, t) in enumerate(zip(student, teacher)):
            if s.shape != t.shape or s.shape[1] != self.channels[level]:
                raise ValueError(f"distill.cross level {level}: student {tuple(s.shape)} and teacher "
                                 f"{tuple(t.shape)} must both have {self.channels[level]} channels and "
                                 "the same shape (is the teacher the same architecture and width?)")
            losses.append(self.level_loss(level, s, t, mask_hole))
        return torch.stack(losses).mean()


class SelfDistillation(nn.Module):
    """``mean_l  sum_c phi_l^c * || f_l(x_l)^c - stopgrad(x_{l+1})^c ||_1 / (C_{l+1} * |positions|)``.

    Level l+1 of the *student* teaches level l, l = 1..L-1. f_l is a 3x3 stride-2 conv C_l -> C_{l+1}
    (consecutive encoder levels halve the resolution); if its output size still differs from x_{l+1}'s
    (odd sizes), it is resized bilinearly. phi_l is guided by the (detached) deeper feature.
    masked: False (default, as the paper's formula: every position) or True (hole positions only, with
    the mask pooled by ``mask_pool``).
    """

    def __init__(self, channels: Sequence[int], *, channel_weights: str = "meta",
                 floor: float = DEFAULT_FLOOR, masked: bool = False, mask_pool: str = "max"):
        super().__init__()
        self.channels = [int(c) for c in channels]
        if len(self.channels) < 2:
            raise ValueError(f"self-distillation needs at least two encoder levels, got {self.channels}")
        self.masked = bool(masked)
        self.mask_pool = _check_choice("mask_pool", mask_pool, MASK_POOLS)
        self.f = nn.ModuleList([nn.Conv2d(c0, c1, 3, stride=2, padding=1)
                                for c0, c1 in zip(self.channels[:-1], self.channels[1:])])
        self.phi = nn.ModuleList([ChannelWeights(c1, channel_weights, floor) for c1 in self.channels[1:]])

    def pair_loss(self, level: int, shallow: torch.Tensor, deep: torch.Tensor,
                  mask_hole: torch.Tensor | None) -> torch.Tensor:
        deep = deep.detach()
        pred = self.f[level](shallow)
        if pred.shape[-2:] != deep.shape[-2:]:
            pred = F.interpolate(pred, size=deep.shape[-2:], mode="bilinear", align_corners=False)
        err = (pred.float() - deep.float()).abs()
        hole = None
        if self.masked:
            if mask_hole is None:
                raise ValueError("distill.self with masked=True needs the hole mask")
            hole = resize_hole_mask(mask_hole, deep.shape[-2:], self.mask_pool)
        return _masked_weighted_l1(err, self.phi[level](deep), hole)

    def forward(self, student: Sequence[torch.Tensor], mask_hole: torch.Tensor | None = None) -> torch.Tensor:
        student = list(student)
        if len(student) != len(self.channels):
            raise ValueError(f"distill.self was built for {len(self.channels)} encoder levels "
                             f"{self.channels}, got {len(student)} feature maps")
        for level, (x, c) in enumerate(zip(student, self.channels)):
            if x.shape[1] != c:
                raise ValueError(f"distill.self level {level}: expected {c} channels, got {tuple(x.shape)}")
        losses = [self.pair_loss(level, student[level], student[level + 1], mask_hole)
                  for level in range(len(student) - 1)]
        return torch.stack(losses).mean()


class AttentionTransfer(nn.Module):
    """``mean_maps  sum_{i in hole} t_i * || r_i - r_i^AN ||_1 / |hole|``.

    r: the student's affinity rows (N, Q, K), rows summing to 1; r^AN: the teacher's (detached). The row
    distance ``||r_i - r_i^AN||_1`` lies in [0, 2] whatever Q and K are. t_i = sigmoid(conv(d_i)), d the
    student's attention input (N, C, h, w) with h*w = Q, normalised by its mean over each sample's hole
    (and floored, see :func:`normalise_weights`). detach_input (default True): the t network sees d
    detached, so the student cannot reshape its features just to move t. pixel_weights ``uniform``
    gives t = 1 (no meta weighting).
    """

    def __init__(self, channels: int, *, kernel_size: int = 1, pixel_weights: str = "meta",
                 floor: float = DEFAULT_FLOOR, mask_pool: str = "max", detach_input: bool = True):
        super().__init__()
        self.channels = int(channels)
        self.mode = _check_choice("pixel_weights", pixel_weights, PIXEL_WEIGHT_MODES)
        self.floor = _check_floor(floor)
        self.mask_pool = _check_choice("mask_pool", mask_pool, MASK_POOLS)
        self.detach_input = bool(detach_input)
        self.t_net = None
        if self.mode == "meta":
            if kernel_size % 2 != 1:
                raise ValueError(f"attention t network kernel_size must be odd, got {kernel_size}")
            self.t_net = nn.Conv2d(self.channels, 1, kernel_size, padding=kernel_size // 2)

    def pixel_weights(self, d: torch.Tensor, hole: torch.Tensor) -> torch.Tensor | None:
        """Normalised t (N, Q) with mean 1 over each sample's hole; None for uniform."""
        if self.t_net is None:
            return None
        logit = self.t_net(d.detach() if self.detach_input else d).float().flatten(1)
        # t / mean_hole(t) computed in log space: sigmoid outputs of ~1e-22 must normalise to 1 too.
        # Shift by the per-sample max of log t over the hole (the ratio is shift-invariant); the clamp
        # only touches known positions (hole ones are <= 0 after the shift), which get weight 0 anyway.
        log_t = F.logsigmoid(logit)
        shift = log_t.masked_fill(hole <= 0, float("-inf")).amax(1, keepdim=True)
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift)).detach()
        t = torch.exp((log_t - shift).clamp(max=50.0))
        mean = (t * hole).sum(1, keepdim=True) / hole.sum(1, keepdim=True).clamp_min(_EPS)
        t = t / mean.clamp_min(_EPS)
        return self.floor + (1.0 - self.floor) * t if self.floor else t

    def map_loss(self, r: torch.Tensor, r_teacher: torch.Tensor, d: torch.Tensor,
                 mask_hole: torch.Tensor) -> torch.Tensor:
        r_teacher = r_teacher.detach()
        if r.dim() != 3 or r.shape != r_teacher.shape:
            raise ValueError(f"distill.attention: student affinity {tuple(r.shape)} and teacher affinity "
                             f"{tuple(r_teacher.shape)} must both be (N, Q, K) of the same shape")
        if d.dim() != 4 or d.shape[1] != self.channels or d.shape[2] * d.shape[3] != r.shape[1] \
                or d.shape[0] != r.shape[0]:
            raise ValueError(f"distill.attention: attention input {tuple(d.shape)} must be "
                             f"(N, {self.channels}, h, w) with h*w = Q = {r.shape[1]}")
        row_err = (r.float() - r_teacher.float()).abs().sum(-1)  # (N, Q)
        hole = resize_hole_mask(mask_hole, d.shape[-2:], self.mask_pool).flatten(1)  # (N, Q)
        t = self.pixel_weights(d, hole)
        if t is not None:
            row_err = row_err * t
        return (row_err * hole).sum() / batch_count(hole.sum()).clamp_min(_EPS)

    def forward(self, student_affinity: Sequence[torch.Tensor], teacher_affinity: Sequence[torch.Tensor],
                student_input: Sequence[torch.Tensor], mask_hole: torch.Tensor) -> torch.Tensor:
        student_affinity, teacher_affinity = list(student_affinity), list(teacher_affinity)
        student_input = list(student_input)
        if not (len(student_affinity) == len(teacher_affinity) == len(student_input)) or not student_affinity:
            raise ValueError(f"distill.attention: got {len(student_affinity)} student affinities, "
                             f"{len(teacher_affinity)} teacher affinities and {len(student_input)} "
                             "attention inputs; they must be equal in number and not empty")
        losses = [self.map_loss(r, ra, d, mask_hole)
                  for r, ra, d in zip(student_affinity, teacher_affinity, student_input)]
        return torch.stack(losses).mean()


# ----------------------------------------------------------------------------------------------------------
# the combination used by the training loop

_OPTIONS = {
    "cross": {"gamma", "channel_weights", "floor", "mask_pool"},
    "self": {"channel_weights", "floor", "masked", "mask_pool"},
    "attention": {"kernel_size", "pixel_weights", "floor", "mask_pool", "detach_input"},
}
ATTENTION_HINT = "the variant needs `attention: dgi|plain|kca`"


def parse_distill_spec(spec: Mapping | None) -> tuple[dict[str, float], dict[str, dict]]:
    """``{cross: w, self: {weight: w, masked: true}, ...}`` -> (weights, options per term).

    Each value is a number (the weight) or a mapping with ``weight`` plus that term's options. Missing
    terms get weight 0.
    """
    spec = {} if spec is None else spec
    if not isinstance(spec, Mapping):
        raise TypeError(f"distill spec must be a mapping like {{cross: 1, self: 1, attention: 1}}, got {spec!r}")
    unknown = set(spec) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown distill term(s) {sorted(unknown)}; known: {list(TERMS)}")
    weights, options = {}, {}
    for term in TERMS:
        value = spec.get(term, 0.0)
        opts: dict = {}
        if isinstance(value, Mapping):
            opts = {k: v for k, v in value.items() if k != "weight"}
            bad = set(opts) - _OPTIONS[term]
            if bad:
                raise ValueError(f"unknown option(s) {sorted(bad)} for distill.{term}; "
                                 f"known: {sorted(_OPTIONS[term]) + ['weight']}")
            value = value.get("weight", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"distill.{term} weight must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"distill.{term} weight must be finite and >= 0, got {value}")
        weights[term], options[term] = value, opts
    return weights, options


class DistillationLoss(nn.Module):
    """Weighted sum of the DGI losses for one variant.

    weights: the variant spec's ``distill`` mapping ``{cross: w, self: w, attention: w}`` (see
    :func:`parse_distill_spec`; a missing term or weight 0 builds no module and contributes exactly 0).
    encoder_channels: the backbone's ``encoder_channels`` (fine -> coarse); attention_channels: its
    ``attention_channels`` (None when it has no attention).

    ``forward(student_feats, teacher_feats, mask_hole)`` -> ``(total, terms)``: total = sum of weight x
    term (float32 scalar, differentiable w.r.t. the student and the meta networks), terms = the
    *unweighted* per-term values, detached, for logging (0 for disabled terms). The module's parameters
    (gamma, f, rho, phi, t networks) are meant to be optimised together with the student.
    """

    def __init__(self, weights: Mapping | None, encoder_channels: Sequence[int] | None,
                 attention_channels: int | None):
        super().__init__()
        self.weights, options = parse_distill_spec(weights)
        self.encoder_channels = None if encoder_channels is None else [int(c) for c in encoder_channels]
        self.attention_channels = None if attention_channels is None else int(attention_channels)
        needs_encoder = [t for t in ("cross", "self") if self.weights[t] > 0]
        if needs_encoder and not self.encoder_channels:
            raise ValueError(f"distill.{needs_encoder[0]} > 0 needs a backbone that exposes its encoder "
                             "features (encoder_channels); this backbone exposes none")
        if self.weights["self"] > 0 and len(self.encoder_channels) < 2:
            raise ValueError("distill.self > 0 needs at least two encoder levels, the backbone exposes "
                             f"{self.encoder_channels}")
        if self.weights["attention"] > 0 and not self.attention_channels:
            raise ValueError(f"distill.attention > 0 but the backbone has no attention layer: {ATTENTION_HINT}")
        self.cross = (CrossDistillation(self.encoder_channels, **options["cross"])
                      if self.weights["cross"] > 0 else None)
        self.self_distill = (SelfDistillation(self.encoder_channels, **options["self"])
                             if self.weights["self"] > 0 else None)
        self.attention = (AttentionTransfer(self.attention_channels, **options["attention"])
                          if self.weights["attention"] > 0 else None)

    @property
    def enabled(self) -> bool:
        """False when every weight is 0 (the training loop can then skip the teacher entirely)."""
        return any(w > 0 for w in self.weights.values())

    def forward(self, student_feats: Mapping, teacher_feats: Mapping,
                mask_hole: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        device = mask_hole.device
        values: dict[str, torch.Tensor] = {}
        if self.cross is not None:
            values["cross"] = self.cross(_feature_list(student_feats, "encoder", "student", "cross"),
                                         _feature_list(teacher_feats, "encoder", "teacher", "cross"),
                                         mask_hole)
        if self.self_distill is not None:
            values["self"] = self.self_distill(_feature_list(student_feats, "encoder", "student", "self"),
                                               mask_hole)
        if self.attention is not None:
            s_aff = _feature_list(student_feats, "attention", "student", "attention")
            t_aff = _feature_list(teacher_feats, "attention", "teacher", "attention")
            if not s_aff or not t_aff:
                who = "student" if not s_aff else "teacher"
                raise ValueError(f"distill.attention > 0 but the {who} returned no attention maps: "
                                 f"{ATTENTION_HINT}")
            s_in = _feature_list(student_feats, "attention_input", "student", "attention")
            values["attention"] = self.attention(s_aff, t_aff, s_in, mask_hole)
        total = torch.zeros((), device=device, dtype=torch.float32)
        for term, value in values.items():
            total = total + self.weights[term] * value.float()
        terms = {t: values[t].detach().float() if t in values else torch.zeros((), device=device)
                 for t in TERMS}
        return total, terms


def build_distill_loss(distill_spec: Mapping | None, model: nn.Module) -> DistillationLoss:
    """DistillationLoss for a built student, reading its ``encoder_channels`` / ``attention_channels``."""
    return DistillationLoss(distill_spec, getattr(model, "encoder_channels", None),
                            getattr(model, "attention_channels", None))
