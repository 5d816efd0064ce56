"""Partial convolution, the PConv U-Net, the classical rows, the registry and the losses."""
import ast
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from models import available_backbones, build_model
from models.registry import SpecError, backbone, is_trainable, teacher_architecture
from models.losses import DEFAULT_LOSS_WEIGHTS, InpaintingLoss, gram_matrix, total_variation
from models.partial_conv import PartialConv2d

REPO = Path(__file__).resolve().parent.parent


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


def test_registry_lists_backbones_and_names_unknown_ones():
    assert {"pconv", "encdec", "rfr", "biharmonic", "mean_fill"} <= set(available_backbones())
    with pytest.raises(SpecError, match="unknown backbone 'nope'"):
        build_model({"backbone": "nope"})
    with pytest.raises(SpecError, match="no 'backbone'"):
        build_model({"attention": "kca"})


def test_schema_backbone_enum_is_the_registry():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    assert sorted(schema["$defs"]["variant"]["properties"]["backbone"]["enum"]) == available_backbones()


def test_constructors_own_their_defaults_and_reject_foreign_options():
    assert backbone("rfr").options() == {"iterations": 6, "attention": "kca", "area_kernel": 7,
                                         "completion_block": False, "fusion": "none"}
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
        graph[f"models.{path.stem}"] = imported
    return graph


def test_models_have_no_import_cycle_and_architectures_import_no_loss():
    graph = _models_imports()
    inside = {m: {i for i in deps if i in graph and i != "models"} for m, deps in graph.items()}
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
    architectures = ["models.partial_conv", "models.attention", "models.dgi_blocks", "models.rfr",
                     "models.pconv_unet", "models.classical", "models.registry"]
    for module in architectures:
        assert not inside[module] & {"models.losses", "models.distill"}, (module, inside[module])
    for module, deps in graph.items():
        outside = {d for d in deps if d.split(".")[0] in ("training", "harness", "datasets", "metrics", "reporting")}
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
