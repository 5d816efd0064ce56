"""Partial convolution, the PConv U-Net, the classical rows, the registry and the losses."""
import ast
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from helpers.workflow import REPO
from inpaint_bench.models import available_backbones, build_model
from inpaint_bench.models.losses import DEFAULT_LOSS_WEIGHTS, InpaintingLoss, gram_matrix, total_variation
from inpaint_bench.models.partial_conv import PartialConv2d
from inpaint_bench.models.registry import SpecError, backbone, is_trainable, teacher_architecture
from inpaint_bench.packages import FLOORS


def test_partial_conv_rescales_by_the_valid_fraction_and_updates_the_mask():
    torch.manual_seed(0)
    conv = PartialConv2d(2, 3, 3, bias=True)
    x = torch.randn(1, 2, 6, 6)
    valid = torch.ones(1, 1, 6, 6)
    valid[..., 1:5, 1:5] = 0  # a 4x4 hole: its two inner rows/cols see no valid pixel
    out, new_valid = conv(x, valid)

    # by hand: conv over x*valid, times 9 / (valid pixels in the window), plus bias, 0 where none
    raw = F.conv2d(x * valid, conv.weight, None, padding=1)
    count = F.conv2d(valid, torch.ones(1, 1, 3, 3), padding=1)
    expected = torch.where(count > 0, raw * 9 / count.clamp(min=1) + conv.bias.view(1, -1, 1, 1),
                           torch.zeros_like(raw))
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.equal(new_valid, (count > 0).float())
    assert new_valid[0, 0, 2:4, 2:4].sum() == 0 and new_valid[0, 0, 1, 1] == 1  # hole shrinks by one


def test_partial_conv_ignores_what_lies_in_the_hole():
    conv = PartialConv2d(3, 4, 3)
    x = torch.rand(1, 3, 8, 8)
    valid = torch.ones(1, 1, 8, 8)
    valid[..., 2:6, 2:6] = 0
    garbage = x.clone()
    garbage[..., 2:6, 2:6] = 100.0
    assert torch.equal(conv(x, valid)[0], conv(garbage, valid)[0])


def test_partial_conv_mask_stays_float32_under_bf16_autocast():
    conv = PartialConv2d(3, 4, 3)
    valid = (torch.rand(1, 1, 8, 8) > 0.3).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, new_valid = conv(torch.rand(1, 3, 8, 8), valid)
    assert out.dtype == torch.bfloat16 and new_valid.dtype == torch.float32


def test_pconv_unet_keeps_known_pixels_independent_of_hole_content_and_learns():
    torch.manual_seed(0)
    model = build_model({"backbone": "pconv", "layers": 4}, width=8)
    image = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    a = model(image * (1 - mask), mask)
    b = model((image + 5 * mask) * (1 - mask), mask)  # hole content is zeroed at the input anyway
    assert a.shape == image.shape and torch.equal(a, b)
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.rand(1, 3, 24, 24), torch.zeros(1, 1, 24, 24))
    loss = F.l1_loss(a, image)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_classical_rows():
    image = torch.rand(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., 4:10, 4:10] = 1
    known = 1 - mask
    mean = build_model({"backbone": "mean_fill"})(image * known, mask)
    expected = (image * known).sum((2, 3)) / known.sum((2, 3))
    assert torch.allclose(mean[..., 6, 6], expected, atol=1e-6)
    assert torch.equal(mean * known, image * known)
    # a linear ramp is harmonic, so biharmonic inpainting restores it almost exactly
    ramp = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(2, 3, 16, 16).contiguous()
    filled = build_model({"backbone": "biharmonic"})(ramp * known, mask)
    assert (filled - ramp).abs().max() < 1e-3


def test_biharmonic_solves_a_batch_on_every_thread_its_job_has(monkeypatch):
    """A classical row uses every CPU its job asks for: with 2 torch threads two images are solved at
    once (a barrier that only two concurrent solves pass), and each exactly as it is alone."""
    import threading

    import skimage.restoration

    torch.manual_seed(0)
    images, mask = torch.rand(2, 3, 16, 16), torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:10, 3:12] = 1
    model = build_model({"backbone": "biharmonic"}, 0)
    alone = torch.cat([model(images[i:i + 1] * (1 - mask[i:i + 1]), mask[i:i + 1]) for i in range(2)])
    solve, both = skimage.restoration.inpaint_biharmonic, threading.Barrier(2, timeout=120)

    def concurrent_solve(*args, **kwargs):
        both.wait()  # raises BrokenBarrierError unless a second solve runs at the same time
        return solve(*args, **kwargs)

    monkeypatch.setattr(skimage.restoration, "inpaint_biharmonic", concurrent_solve)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        together = model(images * (1 - mask), mask)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(together, alone)


def test_registry_lists_backbones_and_names_unknown_ones():
    assert {"pconv", "encdec", "rfr", "biharmonic", "mean_fill"} <= set(available_backbones())
    with pytest.raises(SpecError, match="unknown backbone 'nope'"):
        build_model({"backbone": "nope"})
    with pytest.raises(SpecError, match="no 'backbone'"):
        build_model({"attention": "kca"})


def test_schema_backbone_enum_is_the_registry():
    from inpaint_bench.jobs.validate import config_schema
    from inpaint_bench.models.attention import available_attentions

    variant = config_schema()["$defs"]["variant"]["properties"]
    assert sorted(variant["backbone"]["enum"]) == available_backbones()
    assert variant["attention"]["enum"] == available_attentions()
    options = {o for name in available_backbones() for o in backbone(name).options()}
    from inpaint_bench.models.registry import LABEL_KEYS, TRAINING_KEYS, WEIGHT_KEYS

    # the options, and the keys that are no option: training-only, weight files, the row's label
    assert set(variant) == options | {"backbone", *TRAINING_KEYS, *WEIGHT_KEYS, *LABEL_KEYS}
    # the bounds config/schema.yaml writes down are only for options some backbone takes
    written = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())["$defs"]["backbone_options"]["properties"]
    assert set(written) <= options, set(written) - options


def test_constructors_own_their_defaults_and_reject_foreign_options():
    assert backbone("rfr").options() == {"iterations": 6, "attention": "kca", "area_kernel": 7,
                                         "completion_block": False, "fusion": "none", "completion_at": "both"}
    assert backbone("pconv").options() == {"layers": 8}
    for spec, key in [({"backbone": "rfr", "layers": 4}, "layers"),
                      ({"backbone": "encdec", "iterations": 6}, "iterations"),
                      ({"backbone": "mean_fill", "attention": "kca"}, "attention")]:
        with pytest.raises(SpecError, match=f"option '{key}' does not belong to backbone '{spec['backbone']}'"):
            build_model(spec, 8)
    # training-only keys are not options of the network
    build_model({"backbone": "encdec", "distill": {"cross": 1.0}, "train": {"lr": 1e-3}}, 8)


def test_registry_flags_trainable_rows_and_student_only_blocks():
    assert not is_trainable({"backbone": "mean_fill"}) and not is_trainable({"backbone": "biharmonic"})
    assert is_trainable({"backbone": "pconv"}) and is_trainable({"backbone": "rfr"})
    spec = {"backbone": "rfr", "attention": "kca", "completion_block": True, "fusion": "global_local",
            "distill": {"cross": 0.1}}
    assert teacher_architecture(spec) == {"backbone": "rfr", "attention": "kca"}
    assert teacher_architecture({**spec, "completion_at": "merged"}) == {"backbone": "rfr", "attention": "kca"}


def _models_imports() -> dict[str, set[str]]:
    """models.<module> -> every module it imports (module level or inside functions)."""
    graph = {}
    for path in (REPO / "models").glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
        graph[f"inpaint_bench.models.{path.stem}"] = imported
    return graph


def test_models_have_no_import_cycle_and_architectures_import_no_loss():
    graph = _models_imports()
    inside = {m: {i for i in deps if i in graph and i != "inpaint_bench.models"} for m, deps in graph.items()}
    # depth-first search for a cycle
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for dep in inside[module]:
            assert state.get(dep) != "open", f"import cycle: {' -> '.join(trail + [module, dep])}"
            if dep not in state:
                visit(dep, trail + [module])
        state[module] = "done"

    for module in inside:
        if module not in state:
            visit(module, [])
    architectures = ["partial_conv", "attention", "dgi_blocks", "rfr", "pconv_unet", "classical", "registry"]
    losses = {"inpaint_bench.models.losses", "inpaint_bench.models.distill"}
    for module in architectures:
        module = f"inpaint_bench.models.{module}"
        assert not inside[module] & losses, (module, inside[module])
    others = [["inpaint_bench", p] for p in FLOORS if p != "models"]
    for module, deps in graph.items():
        outside = {d for d in deps if d.split(".")[:2] in others}
        assert not outside, (module, outside)


def test_loss_terms_follow_their_definitions():
    torch.manual_seed(0)
    gt = torch.rand(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., 4:8, 4:8] = 1
    pred = gt + 0.1 * mask  # wrong by 0.1 in the hole only
    loss = InpaintingLoss()
    total, terms = loss(pred, gt, mask)
    assert terms["valid"] == 0
    assert torch.isclose(terms["hole"], 0.1 * mask.mean())  # mean over all pixels and channels
    assert set(terms) == {"hole", "valid", "tv"}  # no VGG: perceptual/style dropped, never faked
    assert torch.isclose(total, DEFAULT_LOSS_WEIGHTS["hole"] * terms["hole"] + DEFAULT_LOSS_WEIGHTS["tv"] * terms["tv"])
    # tv only looks at the (dilated) hole: changing a pixel far from it changes nothing
    far = gt.clone()
    far[..., 14, 14] += 0.5
    assert torch.isclose(total_variation(far, mask), total_variation(gt, mask))
    with pytest.raises(KeyError, match="unknown loss weight"):
        InpaintingLoss({"holes": 1.0})


def test_perceptual_and_style_use_the_given_vgg_features():
    import torchvision

    torch.manual_seed(0)
    vgg = torchvision.models.vgg16().features  # random weights: tests the wiring only
    loss = InpaintingLoss(vgg_features=vgg)
    gt = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:16, 8:16] = 1
    _, same = loss(gt, gt, mask)
    _, diff = loss(gt + 0.2 * mask, gt, mask)
    assert same["perceptual"] == 0 and same["style"] == 0
    assert diff["perceptual"] > 0 and diff["style"] > 0
    assert all(not p.requires_grad for p in loss.vgg.parameters())
    f = torch.rand(2, 4, 5, 5)
    g = gram_matrix(f)
    assert torch.allclose(g[0], f[0].reshape(4, 25) @ f[0].reshape(4, 25).T / (4 * 25))


# ---------------------------------------------------------------------------------- losses, term by term

def fixed_batch():
    """Two 3x8x8 images, a prediction off by known amounts, a 3x4 hole (1 = hole)."""
    gen = torch.Generator().manual_seed(7)
    gt = torch.rand(2, 3, 8, 8, generator=gen)
    pred = (gt + 0.3 * torch.rand(2, 3, 8, 8, generator=gen) - 0.1).clamp(0, 1)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:5, 3:7] = 1
    mask[1, :, 6, 0] = 1  # a one-pixel hole at the border of the second image
    return pred, gt, mask


def pooling_vgg():
    """A stand-in for vgg16().features with the layout VGGPoolFeatures reads: layers 4, 9 and 16 are
    2x2 average pools, every other layer the identity, so each level is a plain average."""
    return torch.nn.Sequential(*[torch.nn.AvgPool2d(2) if i in (4, 9, 16) else torch.nn.Identity()
                                 for i in range(17)])


def loop_mean_abs(a, b):
    a, b = a.double().numpy(), b.double().numpy()
    total = 0.0
    for index in np.ndindex(a.shape):
        total += abs(a[index] - b[index])
    return total / a.size


def loop_gram(f):
    """G[n, p, q] = sum_ij f[n, p, i, j] f[n, q, i, j] / (C H W), written out."""
    f = f.double().numpy()
    n, c, h, w = f.shape
    g = np.zeros((n, c, c))
    for k in range(n):
        for p in range(c):
            for q in range(c):
                g[k, p, q] = sum(f[k, p, i, j] * f[k, q, i, j] for i in range(h) for j in range(w)) / (c * h * w)
    return torch.from_numpy(g)


def test_l1_terms_are_means_over_every_pixel_and_channel():
    pred, gt, mask = fixed_batch()
    _, terms = InpaintingLoss()(pred, gt, mask)
    p, g, m = pred.double().numpy(), gt.double().numpy(), mask.double().numpy()
    hole = valid = 0.0
    for n, c, i, j in np.ndindex(p.shape):
        hole += m[n, 0, i, j] * abs(p[n, c, i, j] - g[n, c, i, j])
        valid += (1 - m[n, 0, i, j]) * abs(p[n, c, i, j] - g[n, c, i, j])
    assert float(terms["hole"]) == pytest.approx(hole / p.size, rel=1e-5)
    assert float(terms["valid"]) == pytest.approx(valid / p.size, rel=1e-5)


def test_tv_is_the_official_tv_of_the_composites_hole_over_the_whole_image():
    pred, gt, mask = fixed_batch()
    _, terms = InpaintingLoss()(pred, gt, mask)
    comp = (pred * mask + gt * (1 - mask)).double().numpy()
    x = comp * mask.double().numpy()  # known pixels count as 0, so a hole's edge is a step
    n, c, h, w = x.shape
    down = sum(abs(x[a, b, i + 1, j] - x[a, b, i, j]) for a, b, i, j in np.ndindex(n, c, h - 1, w))
    right = sum(abs(x[a, b, i, j + 1] - x[a, b, i, j]) for a, b, i, j in np.ndindex(n, c, h, w - 1))
    expected = down / (n * c * (h - 1) * w) + right / (n * c * h * (w - 1))
    assert float(terms["tv"]) == pytest.approx(expected, rel=1e-5)
    # on a flat composite the official TV still sees the hole's outline; the dilated-hole TV does not
    flat, hole = torch.full((1, 3, 8, 8), 0.5), mask[:1]
    assert float(total_variation(flat, hole, "composite_hole")) > 0.05
    assert float(total_variation(flat, hole, "dilated_hole")) == 0
    _, dilated = InpaintingLoss({"tv_region": "dilated_hole"})(pred, gt, mask)
    assert float(dilated["tv"]) == pytest.approx(float(total_variation(
        pred * mask + gt * (1 - mask), mask, "dilated_hole")))
    assert float(dilated["tv"]) != pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("vgg_input", ["unit", "imagenet"])
def test_perceptual_and_style_follow_their_formula_on_unit_or_imagenet_input(vgg_input):
    pred, gt, mask = fixed_batch()
    pred, gt = F.interpolate(pred, scale_factor=2), F.interpolate(gt, scale_factor=2)  # 16 px: levels 8, 4, 2
    mask = F.interpolate(mask, scale_factor=2)
    loss = InpaintingLoss({"vgg_input": vgg_input}, vgg_features=pooling_vgg())
    total, terms = loss(pred, gt, mask)
    comp = pred * mask + gt * (1 - mask)

    def features(x):
        if vgg_input == "imagenet":  # ImageNet mean and std, per channel
            mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
            x = (x - mean) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return [F.avg_pool2d(x, 2), F.avg_pool2d(x, 4), F.avg_pool2d(x, 8)]

    perceptual = style = 0.0
    for fp, fc, fg in zip(features(pred), features(comp), features(gt)):
        perceptual += loop_mean_abs(fp, fg) + loop_mean_abs(fc, fg)
        style += loop_mean_abs(loop_gram(fp), loop_gram(fg)) + loop_mean_abs(loop_gram(fc), loop_gram(fg))
    assert float(terms["perceptual"]) == pytest.approx(perceptual, rel=1e-5)
    assert float(terms["style"]) == pytest.approx(style, rel=1e-4)
    weights = DEFAULT_LOSS_WEIGHTS
    assert float(total) == pytest.approx(sum(weights[k] * float(terms[k]) for k in weights), rel=1e-6)


def test_unit_vgg_input_is_the_default_and_differs_from_imagenet():
    pred, gt, mask = fixed_batch()
    unit = InpaintingLoss(vgg_features=pooling_vgg())
    imagenet = InpaintingLoss({"vgg_input": "imagenet"}, vgg_features=pooling_vgg())
    assert not unit.vgg.normalize and imagenet.vgg.normalize
    _, a = unit(pred, gt, mask)
    _, b = imagenet(pred, gt, mask)
    assert float(b["perceptual"]) > 3 * float(a["perceptual"])  # divided by std ~0.23: about 4x
    with pytest.raises(ValueError, match="tv_region"):
        InpaintingLoss({"tv_region": "edges"})


TINYCONV = '''
import torch
from torch import nn

from inpaint_bench.models.registry import register_backbone


@register_backbone("tinyconv")
class TinyConv(nn.Module):
    def __init__(self, width: int = 8, depth: int = 2):
        super().__init__()
        self.body = nn.Sequential(*[nn.Conv2d(4 if i == 0 else width, width, 3, padding=1) for i in range(depth)])
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, masked_image, mask):
        return self.out(self.body(torch.cat([masked_image, mask], dim=1)))
'''


@pytest.fixture
def tinyconv_module(tmp_path, monkeypatch):
    """A new module of the models package (a folder on its __path__), as a researcher adds one: no other
    file is edited."""
    import sys

    import inpaint_bench.models as package
    from inpaint_bench.models import registry

    (tmp_path / "tinyconv.py").write_text(TINYCONV)
    registry.import_all_modules()  # the built-in registrations, before the registry is copied
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "BACKBONES", dict(registry.BACKBONES))
    yield
    sys.modules.pop("inpaint_bench.models.tinyconv", None)


def test_a_new_backbone_is_one_module_with_its_registration_line(tinyconv_module, tiny_config):
    from inpaint_bench.harness.config import ConfigError
    from inpaint_bench.jobs.validate import load_config

    assert "tinyconv" in available_backbones()
    path, config, write = tiny_config
    config["variants"]["tiny"] = {"backbone": "tinyconv", "depth": "3"}  # as `--config` hands it over
    write(config)
    assert load_config(path)["variants"]["tiny"] == {"backbone": "tinyconv", "depth": 3}
    assert build_model({"backbone": "tinyconv", "depth": 3}, 8)(torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    config["variants"]["tiny"] = {"backbone": "tinyconv", "depth": "three"}
    write(config)
    with pytest.raises(ConfigError, match="at 'variants/tiny/depth': 'three' is not of type 'integer'"):
        load_config(path)
    config["variants"]["tiny"] = {"backbone": "tinyconv", "iterations": 2}
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert ("variants.tiny: option 'iterations' does not belong to backbone 'tinyconv' (it takes: depth; the "
            "keyword arguments of TinyConv in inpaint_bench.models.tinyconv)") in str(err.value)


def test_every_error_about_an_unknown_name_says_where_names_are_registered():
    from inpaint_bench.models.attention import build_attention

    with pytest.raises(SpecError, match=r"unknown backbone 'nope'.*registered with @register_backbone\("):
        build_model({"backbone": "nope"})
    with pytest.raises(KeyError) as err:
        build_attention("eca", 8)
    assert re.search(r"unknown attention 'eca'.*registered with @register_attention\(", err.value.args[0])
