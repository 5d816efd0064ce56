"""Capability checks before any job (jobs/probe.py): every variant is built once at a tiny width, and a
distillation row whose backbone or teacher does not provide what its terms read is refused at config
validation (so at `snakemake -n`), naming the variant and the key."""

import pytest
import torch
import yaml
from torch import nn

from helpers.workflow import REPO, snakemake
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs import probe
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.models import attention as attention_registry
from inpaint_bench.models import registry


class TinyFeatures(nn.Module):
    """A new backbone with forward_features but no encoder features (no `encoder_channels`)."""

    def __init__(self, width: int = 8, depth: int | None = None):
        super().__init__()
        if depth is None:
            raise ValueError("depth is required")
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward_features(self, masked_image, mask):
        return self.conv(torch.cat([masked_image, mask], dim=1)), {}

    def forward(self, masked_image, mask):
        return self.forward_features(masked_image, mask)[0]


class SqueezeExcite(nn.Module):
    """A new attention kind that reweights channels and computes no affinity maps."""

    def __init__(self, channels: int):
        super().__init__()
        self.gate = nn.Linear(channels, channels)

    def forward(self, x, valid=None, prev=None):
        return x * torch.sigmoid(self.gate(x.mean((2, 3))))[..., None, None], None


@pytest.fixture
def new_modules(monkeypatch):
    """`tinyfeat` (its teacher, built without the student-only `depth`, cannot be built) and `se`."""
    registry.import_all_modules()  # the built-in registrations, before the registries are copied
    monkeypatch.setattr(registry, "BACKBONES", dict(registry.BACKBONES))
    monkeypatch.setattr(attention_registry, "ATTENTIONS", dict(attention_registry.ATTENTIONS))
    registry.register_backbone("tinyfeat", student_only=("depth",))(TinyFeatures)
    attention_registry.register_attention("se")(SqueezeExcite)


def problems(tiny_config, variants) -> str:
    path, config, write = tiny_config
    config["width"] = 8
    config["variants"] = variants
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return str(err.value)


def test_distillation_rows_that_read_what_their_network_lacks_are_refused_naming_variant_and_key(
        tiny_config, new_modules):
    out = problems(tiny_config, {
        "tiny_cd": {"backbone": "tinyfeat", "depth": 2, "distill": {"cross": 1.0}},
        "se_at": {"backbone": "rfr", "attention": "se", "iterations": 1, "distill": {"attention": 0.1}},
        "none_at": {"backbone": "encdec", "distill": {"attention": 0.1}},
        "pconv_sd": {"backbone": "pconv", "layers": 3, "distill": {"self": 1.0}},
        "bad_term": {"backbone": "encdec", "attention": "dgi", "distill": {"self": {"weight": 1, "gama": 2}}},
        "fine": {"backbone": "encdec", "attention": "se"},
    })
    assert ("variants.tiny_cd: distill: its DGI teacher, the architecture 'tinyfeat', cannot be built: "
            "depth is required") in out
    assert ("variants.se_at: distill.attention > 0 but the student returned no attention maps" in out)
    assert "variants.none_at: distill.attention > 0 but the backbone has no attention layer" in out
    assert "variants.pconv_sd: distill: backbone 'pconv' has no forward_features" in out
    assert "variants.bad_term: unknown option(s) ['gama'] for distill.self" in out
    assert "variants.fine" not in out


def test_a_backbone_without_encoder_features_cannot_be_cross_distilled(tiny_config, new_modules, monkeypatch):
    monkeypatch.setattr(registry, "BACKBONES", {**registry.BACKBONES,
                                                "tinyfeat": registry.Backbone("tinyfeat", TinyFeatures)})
    out = problems(tiny_config, {"tiny_cd": {"backbone": "tinyfeat", "depth": 2, "distill": {"cross": 1.0}}})
    assert ("variants.tiny_cd: distill.cross > 0 needs a backbone that exposes its encoder features "
            "(encoder_channels); this backbone exposes none") in out


def test_a_spec_its_backbone_refuses_is_named_at_validation(tiny_config):
    out = problems(tiny_config, {"fused": {"backbone": "rfr", "attention": "none", "fusion": "global_local"},
                                 "narrow": {"backbone": "encdec", "attention": "kca"}})
    assert ("variants.fused: backbone 'rfr' cannot be built from this spec: fusion: global_local mixes the "
            "attention output with local features") in out
    assert "variants.narrow" not in out


def test_probing_leaves_the_torch_state_alone_and_builds_each_network_once(tiny_config, monkeypatch):
    """Validation is cheap because each row's tiny network is built once per process (the workflow validates
    the config again in every job): counted in builds, not timed (a test must not fail on a busy machine)."""
    path, config, write = tiny_config
    config["width"], config["image_size"] = 64, 256  # the paper rows as paper.yaml runs them (pconv: 7 layers)
    config["variants"] = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["variants"]
    write(config)
    builds = []
    real_build = probe.build_model
    monkeypatch.setattr(probe, "build_model", lambda spec, width: builds.append(spec) or real_build(spec, width))
    probe._built.cache_clear()  # earlier tests in this process may have built these rows
    torch.manual_seed(0)
    threads, state = torch.get_num_threads(), torch.get_rng_state()
    load_config(path)
    first = len(builds)
    assert first >= len(config["variants"]) // 2  # each distinct network once (classical rows build nothing big)
    load_config(path)
    assert len(builds) == first, "a second validation of the same config built networks again"
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)


def test_a_distillation_row_without_encoder_features_fails_at_snakemake_n(tmp_path):
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["variants"] = {"baseline": {"backbone": "encdec"},
                          "pconv_cd": {"backbone": "pconv", "layers": 3, "distill": {"cross": 1.0}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--configfile", path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "train_teacher" not in out and "rule train" not in out
    assert "variants.pconv_cd: distill: backbone 'pconv' has no forward_features" in out
