"""Attention modules for the RFR feature-reasoning decoder, behind a small registry.

Every kind is built as ``cls(channels)``; ``forward(x, valid, prev=None) -> (out, state)`` takes x,
(N, C, h, w) features (out has the same shape); valid, an (N, 1, H, W) float32 valid mask (1 = known)
at any resolution, resized to (h, w); prev, the ``AttentionState`` it returned in the previous
recurrence or None (state is passed explicitly, never stored, so every forward of the model starts
fresh). ``state.score``: (N, Q, K) float32 affinities, query rows summing to 1 (Q = K = h * w,
row-major); ``state.valid``: the valid mask at (h, w). Kinds: ``none`` (no module), ``plain``, ``kca``
(RFR-Net's Knowledge-Consistent Attention, patch size 1), ``dgi`` (DGI's f_Q/f_K attention). New kinds
register with ``@register_attention("name")``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_bench.models.registry import import_all_modules

ATTENTIONS: dict[str, Callable[[int], nn.Module]] = {}
NO_ATTENTION = ("none", None)
WHERE_ATTENTIONS_ARE_REGISTERED = ("attention kinds are registered with @register_attention(\"name\") in a module "
                                   "of models/ (see models/attention.py)")


def register_attention(name: str):
    def decorator(factory):
        if name in ATTENTIONS and ATTENTIONS[name] is not factory:
            raise ValueError(f"attention {name!r} is registered twice")
        ATTENTIONS[name] = factory
        return factory
    return decorator


def available_attentions() -> list[str]:
    import_all_modules()  # a kind may be registered in a module of its own
    return ["none", *sorted(ATTENTIONS)]


def build_attention(kind: str | None, channels: int) -> nn.Module | None:
    """``none`` -> None; otherwise the registered module for ``kind`` at ``channels`` channels."""
    if kind in NO_ATTENTION:
        return None
    if kind not in ATTENTIONS and kind not in available_attentions():
        raise KeyError(f"unknown attention {kind!r}; available: {available_attentions()} "
                       f"({WHERE_ATTENTIONS_ARE_REGISTERED})")
    return ATTENTIONS[kind](channels)


@dataclass
class AttentionState:
    score: torch.Tensor  # (N, Q, K) float32, rows sum to 1
    valid: torch.Tensor  # (N, 1, h, w) float32 valid mask at the attention's resolution


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> (N, h*w, C); a free view for channels_last input (the bf16 path)."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, h * w, c)


def from_tokens(t: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, h*w, C) -> (N, C, h, w) as a channels_last view (no copy)."""
    n, _, c = t.shape
    return t.view(n, h, w, c).permute(0, 3, 1, 2)


class _BoxSum3x3(torch.autograd.Function):
    """3x3 zero-padded box sum over the spatial dims. A symmetric zero-padded filter is its own
    adjoint, so the backward reuses the forward (avg_pool2d's own backward is ~5x slower on CPU)."""

    @staticmethod
    def forward(ctx, grid: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(grid, 3, stride=1, padding=1, divisor_override=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(grad, 3, stride=1, padding=1, divisor_override=1)


def box_sum_over_queries(score: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """3x3 sum (zero padded) of a (N, Q, K) score over neighbouring query positions, per key.

    As in the official code the score is laid out as a K-channel map over the query grid; the
    (N, Q, K) tensor is exactly that map in channels_last layout, so this is a view + one pool.
    """
    n, q, k = score.shape
    grid = score.view(n, h, w, k).permute(0, 3, 1, 2)  # (N, K, h, w), channels_last strides
    summed = _BoxSum3x3.apply(grid)
    return summed.permute(0, 2, 3, 1).reshape(n, q, k)


def patch_attention_scores(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of KCA with patch size 1: (score (N, Q, K) float32, normalised keys (N, K, C)).

    Keys are the L2-normalised feature vectors (as the official code: 1e-7 added to every element,
    then divided by the norm), queries the raw ones. The dot products run in the
    input's dtype (bf16 under autocast: the big matmul; it accumulates in float32 internally and
    the queries are bf16 already, so its output rounding adds an error of the same order as the
    inputs'). The 3x3 sum and the softmax run in float32: logits reach tens after the sum, and
    summing / exponentiating them in bf16 would visibly change the scores.
    """
    n, c, h, w = x.shape
    queries = to_tokens(x)
    keys = queries.float() + 1e-7
    keys = (keys / keys.norm(dim=-1, keepdim=True)).to(x.dtype)
    logits = torch.bmm(queries, keys.transpose(1, 2))
    with torch.autocast(device_type=x.device.type, enabled=False):
        logits = box_sum_over_queries(logits.float(), h, w)
        score = torch.softmax(logits, dim=-1)
    return score, keys


def consistent_score(score: torch.Tensor, prev_score: torch.Tensor, prev_valid: torch.Tensor,
                     lam: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Knowledge consistency: ``(prev * m_prev + score * |lam|) / (m_prev + |lam|)`` per query.

    ``prev_valid`` (N, 1, h, w) is the previous recurrence's valid mask: queries that were already
    known keep (part of) their previous score, queries that were still holes take the new one.
    ``eps`` (as the official code) keeps the division finite if lambda reaches 0.
    """
    n, q, _ = score.shape
    m = prev_valid.reshape(n, q, 1).float()
    weight = lam.abs().float() + eps
    return (prev_score * m + score * weight) / (m + weight)


@register_attention("kca")
class KnowledgeConsistentAttention(nn.Module):
    """KCA (patch size 1, 3x3 score propagation) + 1x1 conv merging [attended, input]."""

    def __init__(self, channels: int, consistency: bool = True):
        super().__init__()
        self.channels = channels
        self.consistency = consistency
        # lambda of the consistency update, learned, init 1 (official: `ratio`)
        self.lam = nn.Parameter(torch.ones(1)) if consistency else None
        self.merge = nn.Conv2d(2 * channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, prev: AttentionState | None = None):
        n, c, h, w = x.shape
        if valid.shape[-2:] != (h, w):  # nearest, as the official code
            valid = F.interpolate(valid.float(), size=(h, w), mode="nearest")
        score, keys = patch_attention_scores(x)
        if self.consistency and prev is not None:
            score = consistent_score(score, prev.score, prev.valid, self.lam)
        # score-weighted sum of the normalised keys; this big matmul may run in bf16
        attended = torch.bmm(score.to(x.dtype), keys)
        attended = from_tokens(attended, h, w)
        out = self.merge(torch.cat([attended, x], dim=1))
        return out, AttentionState(score=score, valid=valid)


@register_attention("plain")
class PlainAttention(KnowledgeConsistentAttention):
    """KCA without the knowledge-consistency term (no lambda; ``prev`` is ignored)."""

    def __init__(self, channels: int):
        super().__init__(channels, consistency=False)


@register_attention("dgi")
class DGIAttention(nn.Module):
    """Self-attention of DGI over all positions of a (N, C, h, w) feature.

    f_Q, f_K: 1x1 convs C -> max(C // reduction, 1) (reduction 8 as in SAGAN-style attention; the affinity
    only needs a low-dimensional embedding); f_V: 1x1 conv C -> C. ``scaled`` (default True) divides the
    logits by sqrt(C_qk): the same function class as the paper's unscaled dot product (it is a
    reparametrisation of f_Q), but the softmax does not saturate at initialisation. The logits, the
    softmax and the weighted sum run in float32 even under autocast.

    Interface of the other attention kinds:
    ``forward(x, valid=None, prev=None) -> (out, state)`` with out (N, C, h, w) = x + attended values and
    ``state`` an ``AttentionState`` whose ``score`` is the (N, Q, K) float32 affinity (Q = K = h*w,
    row-major positions, rows summing to 1) and ``valid`` the valid mask at (h, w) (ones when no mask is
    given). DGI attention has no recurrence state: ``prev`` is accepted and ignored, and nothing is kept
    on the module between calls.
    """

    def __init__(self, channels: int, reduction: int = 8, scaled: bool = True):
        super().__init__()
        self.channels = int(channels)
        inner = max(self.channels // int(reduction), 1)
        self.inner = inner
        self.scaled = bool(scaled)
        self.f_q = nn.Conv2d(self.channels, inner, 1)
        self.f_k = nn.Conv2d(self.channels, inner, 1)
        self.f_v = nn.Conv2d(self.channels, self.channels, 1)

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        """(N, Q, K) float32 softmax affinity of the feature x (N, C, h, w)."""
        q = self.f_q(x).flatten(2)  # (N, c, Q)
        k = self.f_k(x).flatten(2)  # (N, c, K)
        with torch.autocast(device_type=x.device.type, enabled=False):
            logits = torch.bmm(q.float().transpose(1, 2), k.float())
            if self.scaled:
                logits = logits / self.inner ** 0.5
            return torch.softmax(logits, dim=-1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None, prev=None):
        n, c, h, w = x.shape
        r = self.affinity(x)
        v = self.f_v(x).flatten(2)  # (N, C, K)
        with torch.autocast(device_type=x.device.type, enabled=False):
            attended = torch.bmm(v.float(), r.transpose(1, 2)).view(n, c, h, w)  # out_i = sum_j r_ij v_j
        out = x + attended.to(x.dtype)
        if valid is None:
            valid = torch.ones(n, 1, h, w, device=x.device, dtype=torch.float32)
        elif valid.shape[-2:] != (h, w):  # nearest, as the other attention kinds
            valid = F.interpolate(valid.float(), size=(h, w), mode="nearest")
        return out, AttentionState(score=r, valid=valid.float())
