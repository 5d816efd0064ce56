"""RFR-Net trains as the official code (jingyuanli001/RFR-Inpainting) does, step for step.

The official network below is this test's own functional RFR-Net, written from the official code's formulas:
multi-channel partial convolutions (the official ``multi_channel=True``: ratio = C*k*k / (windowed
channel sum + 1e-8), the tail's 67 = 3 + w channels masked by the image mask and the upsampled merged
mask), KCA per sample with keys (f + 1e-7) / norm, the merge as a mean over maps + 1e-7, and the
official loss formulas of model.py. It reads our network's weights by name and keeps its own
BatchNorm statistics. Measured against the official code itself (fp32, width 64, 64 px): step 1 of
training and of fine-tuning agree to 5e-7 per term, fine-tuning weights to 5e-6 after five steps.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from inpaint_bench.jobs.resolve import train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.models import build_model
from inpaint_bench.models.losses import InpaintingLoss
from inpaint_bench.training.train import Trainer

WIDTH, SIZE = 8, 32


def tiny_vgg() -> torch.nn.Sequential:
    """VGG16's layer layout up to pool3 (features 0..16), with 4-8 channels and random weights."""
    torch.manual_seed(5)
    conv = lambda a, b: torch.nn.Conv2d(a, b, 3, padding=1)  # noqa: E731
    relu, pool = torch.nn.ReLU, lambda: torch.nn.MaxPool2d(2)  # noqa: E731
    return torch.nn.Sequential(conv(3, 4), relu(), conv(4, 4), relu(), pool(),
                               conv(4, 6), relu(), conv(6, 6), relu(), pool(),
                               conv(6, 8), relu(), conv(8, 8), relu(), conv(8, 8), relu(), pool())


# ----------------------------------------------------------------------------- the official network

def multi_channel_pconv(x, m, weight, stride, pad):
    """The official PartialConv2d with multi_channel=True, bias-free: m has x's channels."""
    k = weight.shape[-1]
    count = F.conv2d(m, torch.ones(weight.shape[0], weight.shape[1], k, k), stride=stride, padding=pad)
    ratio = weight.shape[1] * k * k / (count + 1e-8)
    new_m = count.clamp(0, 1)
    return F.conv2d(x * m, weight, stride=stride, padding=pad) * (ratio * new_m), new_m


class Official:
    """RFR-Net with KCA, 6 recurrences, area kernel 7, on copies of a model's weights and statistics."""

    def __init__(self, state: dict):
        self.p = {k: v.detach().clone().requires_grad_(True) for k, v in state.items()
                  if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
        self.stats = {k: v.detach().clone() for k, v in state.items() if k.endswith(("running_mean", "running_var"))}
        self.bn_training = True

    def bn(self, x, name):
        return F.batch_norm(x, self.stats[f"{name}.running_mean"], self.stats[f"{name}.running_var"],
                            self.p[f"{name}.weight"], self.p[f"{name}.bias"], self.bn_training, 0.1, 1e-5)

    def conv_bn(self, x, name, act, **conv):
        return act(self.bn(F.conv2d(x, self.p[f"{name}.0.weight"], **conv), f"{name}.1"))

    def up_bn(self, x, name):
        x = F.conv_transpose2d(x, self.p[f"{name}.0.weight"], stride=2, padding=1)
        return F.leaky_relu(self.bn(x, f"{name}.1"), 0.2)

    def kca(self, x, mask, prev):
        n, c, h, w = x.shape
        mask = F.interpolate(mask, size=(h, w))
        ratio = self.p["reasoning.attention.lam"].abs() + 1e-7
        outs, scores = [], []
        for i in range(n):
            kernels = x[i].reshape(c, h * w).t().reshape(h * w, c, 1, 1) + 1e-7
            kernels = kernels / (kernels ** 2).sum(dim=(1, 2, 3), keepdim=True) ** 0.5
            score = F.softmax(F.avg_pool2d(F.conv2d(x[i:i + 1], kernels), 3, 1, padding=1) * 9, dim=1)
            if prev is not None:
                score = (prev[0][i:i + 1] * prev[1][i:i + 1] + score * ratio) / (prev[1][i:i + 1] + ratio)
            scores.append(score)
            outs.append(F.conv_transpose2d(score, kernels))
        merged = torch.cat([torch.cat(outs), x], dim=1)
        out = F.conv2d(merged, self.p["reasoning.attention.merge.weight"], self.p["reasoning.attention.merge.bias"])
        return out, (torch.cat(scores), mask)

    def reasoning(self, x, mask, prev):
        r, relu = "reasoning", F.relu
        h = [x]
        for i in range(3):
            h.append(self.conv_bn(h[-1], f"{r}.down.{i}", relu, stride=2, padding=1))
        for i in range(3):
            h.append(self.conv_bn(h[-1], f"{r}.dilated.{i}", relu, padding=2, dilation=2))
        leaky = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        d = self.conv_bn(torch.cat([h[6], h[5]], 1), f"{r}.dec_dilated.0", leaky, padding=2, dilation=2)
        d = self.conv_bn(torch.cat([d, h[4]], 1), f"{r}.dec_dilated.1", leaky, padding=2, dilation=2)
        d, prev = self.kca(self.up_bn(torch.cat([d, h[3]], 1), f"{r}.up3"), mask, prev)
        d = self.up_bn(torch.cat([d, h[2]], 1), f"{r}.up2")
        return self.up_bn(torch.cat([d, h[1]], 1), f"{r}.up1"), prev

    def __call__(self, masked, valid3):
        p = self.p
        x, m = multi_channel_pconv(masked, valid3, p["stem.pconv1.weight"], 2, 3)
        x = F.relu(self.bn(x, "stem.bn1"))
        x, m = multi_channel_pconv(x, m, p["stem.pconv2.weight"], 1, 3)
        x = F.relu(self.bn(x, "stem.bn2"))
        feats, masks, prev = [x], [m], None
        for _ in range(6):
            x, m = multi_channel_pconv(x, m, p["area.pconv1.weight"], 1, 3)
            x, m = multi_channel_pconv(x, m, p["area.pconv2.weight"], 1, 3)
            x = F.leaky_relu(self.bn(x, "area.bn"), 0.01)
            x, prev = self.reasoning(x, m[:, :1], prev)
            x = x * m
            feats.append(x)
            masks.append(m)
        f, ms = torch.stack(feats, 2), torch.stack(masks, 2)
        x = (f * ms).mean(2) / (ms.mean(2) + 1e-7)
        x = F.leaky_relu(self.bn(F.conv_transpose2d(x, p["tail.up.weight"], stride=2, padding=1), "tail.bn"), 0.01)
        x, _ = multi_channel_pconv(torch.cat([masked, x], 1), torch.cat([valid3, F.interpolate(m, scale_factor=2)], 1),
                                   p["tail.pconv.weight"], 1, 1)
        x = F.leaky_relu(x, 0.01)
        b = "tail.block.body"
        y = F.relu(self.bn(F.conv2d(x, p[f"{b}.0.weight"]), f"{b}.1"))
        y = F.relu(self.bn(F.conv2d(y, p[f"{b}.3.weight"], padding=1), f"{b}.4"))
        y = F.relu(self.bn(F.conv2d(y, p[f"{b}.6.weight"]), f"{b}.7") + x)
        return F.conv2d(torch.cat([x, y], 1), p["tail.out.weight"], padding=1)


def official_loss_terms(vgg, gt, pred, valid3):
    """model.py's get_g_loss, term by term (mask = valid, as the official code)."""
    comp = pred * (1 - valid3) + gt * valid3
    feats = [[], [], []]
    for j, image in enumerate((gt, pred, comp)):
        x = image
        for i, layer in enumerate(vgg):
            x = layer(x)
            if i in (4, 9, 16):
                feats[j].append(x)

    def style(a, b):
        total = 0.0
        for fa, fb in zip(a, b):
            n, c, h, w = fa.shape
            ga, gb = (f.view(n, c, h * w) @ f.view(n, c, h * w).transpose(2, 1) for f in (fa, fb))
            total = total + torch.mean(torch.abs(ga - gb) / (c * h * w))
        return total

    tv_in = comp * (1 - valid3)
    return {"hole": torch.mean(torch.abs(gt - pred) * (1 - valid3)),
            "valid": torch.mean(torch.abs(gt - pred) * valid3),
            "perceptual": sum(torch.mean(torch.abs(a - b)) for a, b in zip(feats[0], feats[1]))
            + sum(torch.mean(torch.abs(a - b)) for a, b in zip(feats[0], feats[2])),
            "style": style(feats[0], feats[1]) + style(feats[0], feats[2]),
            "tv": torch.mean(torch.abs(tv_in[:, :, 1:] - tv_in[:, :, :-1]))
            + torch.mean(torch.abs(tv_in[..., 1:] - tv_in[..., :-1]))}


OFFICIAL_WEIGHTS = {"tv": 0.1, "style": 120.0, "perceptual": 0.05, "valid": 1.0, "hole": 6.0}


def official_step(official, vgg, optimizer, gt, hole):
    valid3 = (1 - hole).expand(-1, 3, -1, -1)
    terms = official_loss_terms(vgg, gt, official(gt * valid3, valid3), valid3)
    total = sum(OFFICIAL_WEIGHTS[k] * v for k, v in terms.items())
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return {"total": float(total.detach()), **{k: float(v.detach()) for k, v in terms.items()}}


def batch():
    g = torch.Generator().manual_seed(3)
    gt = F.avg_pool2d(torch.rand(2, 3, SIZE, SIZE, generator=g), 3, 1, 1)
    hole = torch.zeros(2, 1, SIZE, SIZE)
    hole[0, :, 8:24, 6:19] = 1
    hole[1, :, 16:, 11:] = 1
    hole[1, :, 3:5, 3:30] = 1  # a thin stroke: hole edges everywhere
    return gt, hole


@pytest.fixture
def one_thread():
    """Small convolutions run far faster on one thread than on two contended ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rfr_trainer(tiny_config, tmp_path, one_thread):
    path, config, write = tiny_config
    config.update(width=WIDTH, image_size=SIZE)
    config["train"].update(steps=1, finetune_steps=3)
    config["variants"] = {"rfr_kca": {"backbone": "rfr", "attention": "kca"}}
    write(config)
    with pytest.warns(UserWarning):  # no VGG16 weights on disk: the tiny stand-in goes in below
        trainer = Trainer(train_job(load_config(path), "toy", "rfr_kca", 0), tmp_path / "run")
    trainer.loss = InpaintingLoss(trainer.settings["loss"], tiny_vgg())
    return trainer


def assert_terms_close(ours: dict, official: dict, rel: float):
    assert ours.keys() >= official.keys()
    for key, value in official.items():
        assert ours[key] == pytest.approx(value, rel=rel), (key, ours[key], value)


def test_step_one_of_training_and_of_finetuning_equals_the_official_formulas(rfr_trainer):
    trainer, vgg = rfr_trainer, rfr_trainer.loss.vgg.layers
    gt, hole = batch()

    # training: BatchNorm on batch statistics, Adam at lr; step 1's terms (its update is not
    # compared: train-mode BatchNorm over 2 small images makes the gradients ill-conditioned)
    official = Official(trainer.model.state_dict())
    assert trainer.set_phase() == "train"
    expected = official_step(official, vgg, torch.optim.Adam(official.p.values(), lr=trainer.settings["lr"]), gt, hole)
    assert_terms_close(trainer.train_step(gt, hole), expected, rel=1e-5)
    trainer.step += 1
    for key, stat in official.stats.items():  # the statistics of the six recurrences' shared BatchNorms
        torch.testing.assert_close(trainer.model.state_dict()[key], stat, rtol=1e-4, atol=1e-5)

    # fine-tuning: frozen statistics, a fresh Adam at finetune_lr, from the same weights
    official = Official(trainer.model.state_dict())
    official.bn_training = False
    optimizer = torch.optim.Adam(official.p.values(), lr=trainer.settings["finetune_lr"])
    for step in range(3):
        assert trainer.set_phase() == "finetune"
        expected = official_step(official, vgg, optimizer, gt, hole)
        assert_terms_close(trainer.train_step(gt, hole), expected, rel=1e-5)
        trainer.step += 1
    ours = dict(trainer.model.named_parameters())
    for key, value in official.p.items():
        torch.testing.assert_close(ours[key], value, rtol=0, atol=2e-6, msg=key)


def test_eval_output_equals_the_official_at_hole_edges(one_thread):
    torch.manual_seed(0)
    model = build_model({"backbone": "rfr", "attention": "kca"}, WIDTH)
    with torch.no_grad():  # statistics as a trained network has them, not 0 and 1
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.3, 0.3)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
    model.eval()
    official = Official(model.state_dict())
    official.bn_training = False
    gt, hole = batch()
    with torch.no_grad():
        ours = model(gt * (1 - hole), hole)
        valid3 = (1 - hole).expand(-1, 3, -1, -1)
        expected = official(gt * valid3, valid3)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_the_tail_partial_conv_masks_image_and_feature_channels_separately():
    model = build_model({"backbone": "rfr", "attention": "kca", "iterations": 1}, WIDTH).eval()
    gt, hole = batch()
    seen = {}
    model.tail.pconv.register_forward_hook(lambda module, args, out: seen.update(valid=args[1]))
    with torch.no_grad():
        _, feats = model.forward_features(gt * (1 - hole), hole)
    valid = seen["valid"]
    assert valid.shape == (2, 3 + WIDTH, SIZE, SIZE)
    torch.testing.assert_close(valid[:, :3], (1 - hole).expand(-1, 3, -1, -1), rtol=0, atol=0)
    upsampled = F.interpolate(feats["valid_masks"][-1], scale_factor=2, mode="nearest")
    torch.testing.assert_close(valid[:, 3:], upsampled.expand(-1, WIDTH, -1, -1), rtol=0, atol=0)
    # one recurrence leaves part of the big hole open at H/2: the two masks differ there
    assert not torch.equal(valid[:, :1], valid[:, 3:4])


def test_per_channel_partial_conv_counts_the_valid_inputs_of_every_channel():
    from inpaint_bench.models.partial_conv import PartialConv2d

    torch.manual_seed(0)
    conv = PartialConv2d(3, 2, 3, bias=False)
    x = torch.randn(1, 3, 6, 6)
    valid = torch.ones(1, 3, 6, 6)
    valid[:, 0, 1:5, 1:5] = 0  # channel 0 has a hole, channels 1 and 2 none
    out, new_valid = conv(x, valid)
    count = F.conv2d(valid, torch.ones(1, 3, 3, 3), padding=1)
    torch.testing.assert_close(out, F.conv2d(x * valid, conv.weight, padding=1) * 27 / count)
    assert torch.equal(new_valid, torch.ones(1, 1, 6, 6))
    with pytest.raises(ValueError, match="1 or 3 channels, got 2"):
        conv(x, valid[:, :2])
    # a mask shared by every channel is the one-channel mask
    shared = copy.deepcopy(valid[:, :1])
    torch.testing.assert_close(conv(x, shared.expand(-1, 3, -1, -1))[0], conv(x, shared)[0])
