"""DGI distillation losses (models/distill.py) and blocks (models/dgi_blocks.py). Tiny and fast."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from inpaint_bench.models.attention import DGIAttention
from inpaint_bench.models.dgi_blocks import CompletionBlock, GlobalLocalFusion
from inpaint_bench.models.distill import (
    AttentionTransfer,
    ChannelWeights,
    CrossDistillation,
    DistillationLoss,
    SelfDistillation,
    build_distill_loss,
    normalise_weights,
    resize_hole_mask,
)

CH = [4, 6, 8]  # encoder channels fine -> coarse
SIZES = [16, 8, 4]  # their resolutions for a 32x32 image


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def block_mask(n=2, size=32, top=0, left=0, side=16) -> torch.Tensor:
    """(n,1,size,size) hole mask (1 = hole) with one square hole, aligned to the 8-px cells."""
    m = torch.zeros(n, 1, size, size)
    m[:, :, top:top + side, left:left + side] = 1.0
    return m


def enc_feats(n=2, requires_grad=False):
    return [torch.randn(n, c, s, s, requires_grad=requires_grad) for c, s in zip(CH, SIZES)]


def set_uniform_weights(module: nn.Module) -> None:
    """Zero every meta-weight logit (uniform rho / phi)."""
    for m in module.modules():
        if isinstance(m, ChannelWeights) and m.mode == "meta":
            nn.init.zeros_(m.net[2].weight)
            nn.init.zeros_(m.net[2].bias)


# ------------------------------------------------------------------------------------------ helpers

def test_resize_hole_mask_max_marks_any_hole_and_area_averages():
    m = torch.zeros(1, 1, 8, 8)
    m[..., 0, 0] = 1.0  # one hole pixel in the top-left 4x4 cell
    mx = resize_hole_mask(m, (2, 2), "max")
    ar = resize_hole_mask(m, (2, 2), "area")
    assert mx.dtype == torch.float32
    assert mx[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert ar[0, 0, 0, 0].item() == pytest.approx(1 / 16)
    assert ar[0, 0, 1, 1].item() == 0.0


def test_normalised_weights_mean_one_and_floor():
    logits = torch.tensor([[100.0, -100.0, 0.0, 3.0]])
    w = normalise_weights(logits, floor=0.25)
    assert torch.allclose(w.mean(1), torch.ones(1))
    assert (w >= 0.25 - 1e-6).all()
    # any uniform logits, whatever their magnitude, give weights exactly 1
    for scale in (-1e4, 0.0, 1e4):
        assert torch.allclose(normalise_weights(torch.full((2, 5), scale)), torch.ones(2, 5))


# ------------------------------------------------------------------------------------------ cross

def test_cross_zero_when_student_equals_transformed_teacher_positive_otherwise():
    mask = block_mask()
    teacher = enc_feats()
    for gamma in ("identity", "residual"):  # residual gamma starts exactly as the identity
        cd = CrossDistillation(CH, gamma=gamma)
        student = [t.clone() for t in teacher]
        assert cd(student, teacher, mask).item() == 0.0
        student[1] = student[1] + 0.5
        assert cd(student, teacher, mask).item() > 0.1
    cd = CrossDistillation(CH, gamma="plain")  # a non-identity gamma: compare against gamma(teacher)
    with torch.no_grad():
        target = [cd.gamma[i](t) for i, t in enumerate(teacher)]
    assert not torch.allclose(target[0], teacher[0])
    assert cd(target, teacher, mask).item() == pytest.approx(0.0, abs=1e-7)
    assert cd(teacher, teacher, mask).item() > 1e-3


def test_cross_only_hole_positions_contribute():
    mask = block_mask(top=0, left=0, side=16)  # hole = top-left quarter at every level
    cd = CrossDistillation(CH, gamma="identity", channel_weights="uniform")
    teacher = enc_feats()
    student = enc_feats()
    base = cd(student, teacher, mask)
    known = [s.clone() for s in student]
    known[0][:, :, 12:, 12:] += 10.0  # bottom-right: known at the 16x16 level
    assert torch.equal(cd(known, teacher, mask), base)
    hole = [s.clone() for s in student]
    hole[0][:, :, 0:2, 0:2] += 10.0
    assert cd(hole, teacher, mask).item() > base.item() + 0.1
    # no hole at all -> exactly 0, not NaN
    assert cd(student, teacher, torch.zeros_like(mask)).item() == 0.0


def test_cross_normalisation_independent_of_resolution_and_hole_size():
    cd = CrossDistillation([3], gamma="identity", channel_weights="uniform")
    for size, side in ((8, 4), (16, 12)):
        mask = block_mask(n=1, size=size, side=side)
        t = torch.zeros(1, 3, size, size)
        s = t + 0.5 * mask  # error 0.5 everywhere in the hole
        assert cd([s], [t], mask).item() == pytest.approx(0.5)


def test_cross_meta_weights_cannot_switch_the_loss_off():
    mask = block_mask()
    teacher = enc_feats()
    student = [t + torch.rand_like(t) for t in teacher]
    plain = CrossDistillation(CH, gamma="identity", channel_weights="uniform")
    unweighted = plain(student, teacher, mask).item()
    floor = 0.5
    cd = CrossDistillation(CH, gamma="identity", channel_weights="static", floor=floor)
    for scale in (1.0, 1e3, -1e3):  # uniform raw logits of any magnitude: the unweighted loss exactly
        with torch.no_grad():
            for rho in cd.rho:
                rho.logit.fill_(scale)
        assert cd(student, teacher, mask).item() == pytest.approx(unweighted, rel=1e-5)
    # extreme, adversarial logits (all weight on the easiest channel) keep at least floor x unweighted
    per_level_errors = []
    for lvl, (s, t) in enumerate(zip(student, teacher)):
        hole = resize_hole_mask(mask, s.shape[-2:])
        err = ((s - t).abs() * hole).sum((0, 2, 3)) / hole.sum()
        per_level_errors.append(err)
        with torch.no_grad():
            cd.rho[lvl].logit.copy_(-1e4 * (err - err.min()) / (err.max() - err.min()))
    extreme = cd(student, teacher, mask).item()
    assert floor * unweighted * 0.999 <= extreme <= unweighted
    easiest = torch.stack([e.min() for e in per_level_errors]).mean().item()
    assert extreme == pytest.approx(floor * unweighted + (1 - floor) * easiest, rel=1e-4)
    # the meta network (per-sample weights from pooled teacher features): huge outputs, same bound
    meta = CrossDistillation(CH, gamma="identity", channel_weights="meta", floor=floor)
    with torch.no_grad():
        for rho in meta.rho:
            rho.net[2].weight.normal_(0, 100.0)
            rho.net[2].bias.normal_(0, 1000.0)
    value = meta(student, teacher, mask).item()
    assert floor * unweighted * 0.999 <= value


def test_cross_teacher_gets_no_gradient_student_and_meta_nets_do():
    mask = block_mask()
    teacher = enc_feats(requires_grad=True)
    student = enc_feats(requires_grad=True)
    cd = CrossDistillation(CH, gamma="residual", channel_weights="meta")
    cd(student, teacher, mask).backward()
    assert all(t.grad is None for t in teacher)
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)
    assert cd.gamma[0].body[2].weight.grad.abs().sum() > 0  # gamma is trained
    assert cd.rho[0].net[2].weight.grad.abs().sum() > 0  # rho meta network is trained


# ------------------------------------------------------------------------------------------ self

def test_self_zero_when_shallow_maps_onto_deeper_positive_otherwise_and_stopgrad():
    sd = SelfDistillation(CH)
    x0 = torch.randn(2, CH[0], 16, 16, requires_grad=True)
    with torch.no_grad():
        x1 = sd.f[0](x0)
        x2 = sd.f[1](x1)
    x1.requires_grad_(True)
    x2.requires_grad_(True)
    assert sd([x0, x1, x2]).item() == pytest.approx(0.0, abs=1e-7)
    x2b = (x2 + 0.3).detach().requires_grad_(True)
    loss = sd([x0, x1, x2b])
    assert loss.item() > 0.05
    loss.backward()
    assert x2b.grad is None  # the deepest level only teaches (stopgrad)
    assert x0.grad is not None and x1.grad is not None  # x1 is a student of x2 (and a teacher of x0)
    assert sd.f[1].weight.grad.abs().sum() > 0


def test_self_masked_option_ignores_known_region():
    mask = block_mask(side=16)
    feats = enc_feats()
    sd = SelfDistillation(CH, masked=True, channel_weights="uniform")
    base = sd(feats, mask)
    changed = [f.clone() for f in feats]
    changed[2][:, :, 3, 3] += 10.0  # bottom-right of the 4x4 level: known
    assert torch.equal(sd(changed, mask), base)
    changed[2][:, :, 0, 0] += 10.0
    assert sd(changed, mask).item() > base.item()
    # unmasked default: the known change counts
    sd_all = SelfDistillation(CH, channel_weights="uniform")
    sd_all.load_state_dict(sd.state_dict())
    changed = [f.clone() for f in feats]
    changed[2][:, :, 3, 3] += 10.0
    assert sd_all(changed).item() > sd_all(feats).item()


def test_self_meta_weights_cannot_switch_the_loss_off():
    feats = [f + 1.0 for f in enc_feats()]
    sd = SelfDistillation(CH, channel_weights="static", floor=0.5)
    ref = SelfDistillation(CH, channel_weights="uniform")
    ref.f.load_state_dict(sd.f.state_dict())
    unweighted = ref(feats).item()
    with torch.no_grad():
        for phi in sd.phi:
            phi.logit.fill_(-1e4)
    assert sd(feats).item() == pytest.approx(unweighted, rel=1e-5)
    with torch.no_grad():
        for phi in sd.phi:
            phi.logit.copy_(torch.linspace(-1e4, 1e4, phi.channels))
    assert sd(feats).item() >= 0.5 * unweighted * 0.999


# ------------------------------------------------------------------------------------------ attention

def affinity(n, q, sharp=1.0):
    return torch.softmax(sharp * torch.randn(n, q, q), dim=-1)


def test_attention_transfer_zero_on_equal_rows_and_hole_rows_only():
    n, c, h = 2, 8, 4
    mask = block_mask(side=16)  # top-left 2x2 of the 4x4 attention grid is the hole
    d = torch.randn(n, c, h, h)
    r_t = affinity(n, h * h)
    at = AttentionTransfer(c)
    assert at([r_t.clone()], [r_t], [d], mask).item() == 0.0
    hole_q = resize_hole_mask(mask, (h, h)).flatten(1)[0].bool()
    assert hole_q.sum() == 4
    r_known = r_t.clone()
    r_known[:, ~hole_q] = affinity(n, h * h)[:, ~hole_q]  # known query rows differ
    assert at([r_known], [r_t], [d], mask).item() == 0.0
    r_hole = r_t.clone()
    r_hole[:, hole_q] = affinity(n, h * h)[:, hole_q]
    value = at([r_hole], [r_t], [d], mask).item()
    assert 0.05 < value <= 2.0  # row L1 distance of distributions is at most 2


def test_attention_transfer_t_normalisation_and_teacher_no_grad():
    n, c, h = 2, 8, 4
    mask = block_mask(side=24)
    d = torch.randn(n, c, h, h)
    r_t = affinity(n, h * h, sharp=3.0).requires_grad_(True)
    r_s = affinity(n, h * h, sharp=3.0).requires_grad_(True)
    uniform = AttentionTransfer(c, pixel_weights="uniform")(
        [r_s], [r_t], [d], mask).item()
    at = AttentionTransfer(c, floor=0.5)
    for bias in (-50.0, 0.0, 50.0):  # t ~ 1e-22, 0.5, 1 everywhere: normalised to 1
        with torch.no_grad():
            at.t_net.weight.zero_()
            at.t_net.bias.fill_(bias)
        assert at([r_s], [r_t], [d], mask).item() == pytest.approx(uniform, rel=1e-5)
    with torch.no_grad():  # wildly varying t: never below floor x unweighted
        at.t_net.weight.normal_(0, 100.0)
    assert at([r_s], [r_t], [d], mask).item() >= 0.5 * uniform * 0.999
    # normalised t averages exactly 1 over each sample's hole, whatever the raw sigmoid outputs
    hole = resize_hole_mask(mask, (h, h)).flatten(1)
    for floor in (0.0, 0.5):
        at.floor = floor
        for bias in (-60.0, 0.0):
            with torch.no_grad():
                at.t_net.bias.fill_(bias)
            t = at.pixel_weights(d, hole)
            assert t.std() > 0.1 and (t >= floor - 1e-6).all()
            assert torch.allclose((t * hole).sum(1) / hole.sum(1), torch.ones(n), atol=1e-4)
    at.floor = 0.5
    d_req = d.clone().requires_grad_(True)
    at([r_s], [r_t], [d_req], mask).backward()
    assert r_t.grad is None
    assert r_s.grad is not None and r_s.grad.abs().sum() > 0
    assert at.t_net.weight.grad is not None
    assert d_req.grad is None  # the t network sees the attention input detached (default)


# ------------------------------------------------------------------------------------------ combined

def all_feats(n=2, requires_grad=False, c_att=8, h_att=4):
    return {"encoder": enc_feats(n, requires_grad),
            "attention": [affinity(n, h_att * h_att).requires_grad_(requires_grad)],
            "attention_input": [torch.randn(n, c_att, h_att, h_att, requires_grad=requires_grad)]}


def test_distillation_loss_combines_weighted_terms_and_teacher_gets_no_grad():
    mask = block_mask()
    dl = DistillationLoss({"cross": 2.0, "self": 0.5, "attention": 1.0}, CH, 8)
    s, t = all_feats(requires_grad=True), all_feats(requires_grad=True)
    total, terms = dl(s, t, mask)
    assert set(terms) == {"cross", "self", "attention"}
    assert all(not v.requires_grad for v in terms.values())
    assert all(v.item() > 0 for v in terms.values())
    expected = 2.0 * terms["cross"] + 0.5 * terms["self"] + 1.0 * terms["attention"]
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    total.backward()
    teacher_tensors = [*t["encoder"], *t["attention"], *t["attention_input"]]
    assert all(x.grad is None for x in teacher_tensors)
    assert all(x.grad is not None for x in s["encoder"]) and s["attention"][0].grad is not None


def test_zero_weight_builds_nothing_and_contributes_exactly_zero():
    mask = block_mask()
    s, t = all_feats(), all_feats()
    none = DistillationLoss({}, CH, None)
    assert not none.enabled and sum(p.numel() for p in none.parameters()) == 0
    total, terms = none(s, t, mask)
    assert total.item() == 0.0 and all(v.item() == 0.0 for v in terms.values())
    zero = DistillationLoss({"cross": 0, "self": 0.0, "attention": 0}, CH, 8)
    assert sum(p.numel() for p in zero.parameters()) == 0
    only_cross = DistillationLoss({"cross": 1.0, "attention": 0}, CH, 8)
    assert only_cross.self_distill is None and only_cross.attention is None
    n_cross = sum(p.numel() for p in only_cross.parameters())
    assert n_cross == sum(p.numel() for p in CrossDistillation(CH).parameters()) > 0
    total, terms = only_cross(s, t, mask)
    assert terms["self"].item() == 0.0 and terms["attention"].item() == 0.0
    assert total.item() == pytest.approx(terms["cross"].item())


def test_spec_options_and_errors():
    dl = DistillationLoss({"cross": {"weight": 1.0, "gamma": "identity", "mask_pool": "area"},
                           "self": {"weight": 0.5, "masked": True}}, CH, None)
    assert dl.cross.mask_pool == "area" and dl.self_distill.masked
    assert sum(p.numel() for p in dl.cross.gamma.parameters()) == 0
    with pytest.raises(ValueError, match="unknown distill term"):
        DistillationLoss({"crosss": 1.0}, CH, None)
    with pytest.raises(ValueError, match="unknown option"):
        DistillationLoss({"cross": {"weight": 1.0, "gama": "plain"}}, CH, None)
    with pytest.raises(ValueError, match=">= 0"):
        DistillationLoss({"cross": -1.0}, CH, None)
    with pytest.raises(ValueError, match=r"attention: dgi\|plain\|kca"):
        DistillationLoss({"attention": 1.0}, CH, None)
    with pytest.raises(ValueError, match="encoder"):
        DistillationLoss({"cross": 1.0}, None, None)
    # attention requested, backbone claims attention channels but returns no maps
    dl = DistillationLoss({"attention": 1.0}, CH, 8)
    feats = {"encoder": enc_feats(), "attention": [], "attention_input": []}
    with pytest.raises(ValueError, match=r"attention: dgi\|plain\|kca"):
        dl(feats, feats, block_mask())
    with pytest.raises(KeyError, match="encoder"):
        DistillationLoss({"cross": 1.0}, CH, None)({}, {}, block_mask())
    with pytest.raises(ValueError, match="same shape"):  # teacher of another width
        DistillationLoss({"cross": 1.0}, CH, None)({"encoder": enc_feats()},
                                                   {"encoder": [torch.randn(2, 5, 16, 16)] * 3},
                                                   block_mask())


def test_bf16_features_give_float32_loss():
    mask = block_mask()
    dl = DistillationLoss({"cross": 1.0, "self": 1.0, "attention": 1.0}, CH, 8)
    s, t = all_feats(), all_feats()
    s["encoder"] = [x.bfloat16() for x in s["encoder"]]
    t["encoder"] = [x.bfloat16() for x in t["encoder"]]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, terms = dl(s, t, mask)
    assert total.dtype == torch.float32 and torch.isfinite(total) and total.item() > 0


# ------------------------------------------------------------------------------------------ blocks

@pytest.mark.parametrize("offsets", [False, True])
def test_completion_block_changes_only_hole_features(offsets):
    x = torch.randn(2, 6, 8, 8)
    hole = block_mask(n=2, size=32, top=8, left=8, side=16)  # full-resolution mask: pooled inside
    cb = CompletionBlock(6, offsets=offsets)
    if offsets:  # move the offsets away from zero so the sampling path is exercised
        nn.init.normal_(cb.offset_head.bias, 0, 0.7)
    out = cb(x, hole)
    m = resize_hole_mask(hole, (8, 8)).expand_as(x).bool()
    assert out.shape == x.shape
    assert torch.equal(out[~m], x[~m])  # bit-for-bit unchanged
    assert (out[m] - x[m]).abs().min() > 0  # every hole feature is updated
    # batched, no per-sample coupling: each sample alone gives the same result
    assert torch.allclose(cb(x[1:], hole[1:]), out[1:], atol=1e-6)
    # gradients reach the kernel predictor through the hole
    out.sum().backward()
    assert cb.kernel_head.weight.grad.abs().sum() > 0


def test_completion_block_offsets_start_as_the_plain_per_pixel_filter():
    x = torch.randn(2, 6, 8, 8)
    hole = torch.ones(2, 1, 8, 8)
    with_off = CompletionBlock(6, offsets=True)
    plain = CompletionBlock(6, offsets=False)
    plain.load_state_dict(with_off.state_dict(), strict=False)
    assert torch.allclose(with_off(x, hole), plain(x, hole), atol=1e-5)
    # and the plain filter is a convex combination of the 3x3 neighbourhood (zero padded)
    kernel, _ = plain.kernels(x, hole)
    assert torch.allclose(kernel.sum(1), torch.ones(2, 8, 8), atol=1e-6)
    cols = nn.functional.unfold(x, 3, padding=1).view(2, 6, 9, 8, 8)
    assert torch.allclose(plain(x, hole), (cols * kernel.unsqueeze(1)).sum(2), atol=1e-5)


@pytest.mark.parametrize("per_channel", [False, True])
def test_global_local_fusion_is_per_pixel_convex_combination(per_channel):
    g = torch.randn(2, 5, 8, 8)
    loc = torch.randn(2, 5, 8, 8)
    fusion = GlobalLocalFusion(5, per_channel=per_channel)
    nn.init.normal_(fusion.gate.weight, 0, 0.2)  # make the weights vary strongly over pixels
    out, w = fusion(g, loc, return_weights=True)
    assert w.shape == (2, 5 if per_channel else 1, 8, 8)
    assert ((w > 0) & (w < 1)).all() and w.std() > 0.05
    assert torch.allclose(out, w * g + (1 - w) * loc, atol=1e-6)
    lo, hi = torch.minimum(g, loc), torch.maximum(g, loc)
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()
    assert not torch.allclose(out, g) and not torch.allclose(out, loc)


def test_dgi_attention_rows_sum_to_one_and_gradients_reach_query_and_key():
    att = DGIAttention(16)
    assert att.f_q.out_channels == 2 and att.f_k.out_channels == 2
    x = torch.randn(2, 16, 4, 4)
    valid = 1 - block_mask(size=32)
    out, state = att(x, valid, None)
    r = state.score
    assert out.shape == x.shape and r.shape == (2, 16, 16) and r.dtype == torch.float32
    assert torch.allclose(r.sum(-1), torch.ones(2, 16), atol=1e-5)
    assert state.valid.shape == (2, 1, 4, 4)
    (out.square().mean() + r.square().sum()).backward()
    for conv in (att.f_q, att.f_k, att.f_v):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    # the affinity depends on the content (not uniform) and on f_Q
    r2 = att.affinity(x)
    with torch.no_grad():
        att.f_q.weight.mul_(3.0)
    assert not torch.allclose(att.affinity(x), r2)
    # float32 softmax under bf16 autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_bf, state_bf = att(x.bfloat16())
    assert state_bf.score.dtype == torch.float32
    assert torch.allclose(state_bf.score.sum(-1), torch.ones(2, 16), atol=1e-5)


# ------------------------------------------------------------------------------------------ backbone

@pytest.mark.parametrize("backbone", [
    {"backbone": "rfr", "attention": "kca", "iterations": 2},
    {"backbone": "encdec", "attention": "dgi"},
])
def test_full_dgi_variant_trains_every_parameter_and_leaves_the_teacher_alone(backbone):
    from inpaint_bench.models.registry import build_model, teacher_architecture

    torch.manual_seed(0)
    spec = {**backbone, "completion_block": True, "fusion": "global_local",
            "distill": {"cross": 1.0, "self": 1.0, "attention": 1.0}}
    student = build_model(spec, 8)
    teacher = build_model(teacher_architecture(spec), 8).eval().requires_grad_(False)
    assert not any("completion" in n or "fusion" in n for n, _ in teacher.named_parameters())
    # seeded apart from the student, whose parameter count would otherwise decide whether the
    # 4-unit hidden layer of a width-8 meta network starts with every ReLU off (no gradient)
    torch.manual_seed(1)
    dl = build_distill_loss(spec["distill"], student)
    # a hole large enough to survive the first recurrence's area identification (in rfr the
    # completion blocks act on what is still unknown in the recurrence)
    image = torch.rand(2, 3, 64, 64)
    mask = block_mask(size=64, top=8, left=8, side=48)
    params = list(student.named_parameters()) + [(f"distill.{n}", p) for n, p in dl.named_parameters()]
    optimizer = torch.optim.SGD([p for _, p in params], lr=0.1)
    # two steps: the meta networks' zero-initialised last layers (they start as identity/uniform)
    # pass no gradient to their first layers until they have moved once
    for _ in range(2):
        optimizer.zero_grad()
        pred, s_feats = student.forward_features(image * (1 - mask), mask)
        with torch.no_grad():
            _, t_feats = teacher.forward_features(image, torch.zeros_like(mask))
        total, terms = dl(s_feats, t_feats, mask)
        assert torch.isfinite(total) and all(v.item() > 0 for v in terms.values())
        (total + (pred - image).abs().mean()).backward()
        optimizer.step()
    missing = [n for n, p in params if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []
    assert all(p.grad is None for p in teacher.parameters())
