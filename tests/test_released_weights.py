"""Rows from weights files (models/released_weights.py): `weights:` scores a released network as it
is, `init:` starts training from one. The official RFR-Net layout below is written from the official
code's modules/RFRNet.py (names and shapes; w = 64 there); the checkpoint is saved as its
utils/io.py::save_ckpt saves: {'n_iter', 'generator': state dict, 'optimizer_G': state dict}.
Measured with the official code itself (not needed here): with such a checkpoint of random weights,
our eval-mode output equals the official network's to 7.5e-8 at 256x256 (models/README.md)."""
from __future__ import annotations

import hashlib

import pytest
import torch

from helpers.workflow import planned_jobs, snakemake
from inpaint_bench.evaluation.evaluate import load_variant
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs.resolve import eval_job, train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.models import build_model
from inpaint_bench.models.registry import is_trainable
from inpaint_bench.models.released_weights import official_to_ours, ours_to_official
from inpaint_bench.training.train import Trainer

RFR_KCA = {"backbone": "rfr", "attention": "kca"}


def official_layout(w: int = 64) -> dict[str, tuple]:
    """Names and shapes of the official RFR-Net generator's state dict (modules/RFRNet.py: w = 64)."""
    shapes = {}

    def conv(name, *shape):
        shapes[f"{name}.weight"] = shape

    def bn(name, c):
        shapes.update({f"{name}.weight": (c,), f"{name}.bias": (c,), f"{name}.running_mean": (c,),
                       f"{name}.running_var": (c,), f"{name}.num_batches_tracked": ()})

    conv("Pconv1", w, 3, 7, 7), bn("bn1", w)
    conv("Pconv2", w, w, 7, 7), bn("bn20", w)
    conv("Pconv21", w, w, 7, 7), conv("Pconv22", w, w, 7, 7), bn("bn2", w)
    m = "RFRModule"
    for i, (cin, cout) in enumerate([(w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w)] + [(8 * w, 8 * w)] * 3):
        conv(f"{m}.enc_{i + 1}.0", cout, cin, 3, 3), bn(f"{m}.enc_{i + 1}.1", cout)
    shapes[f"{m}.att.att.ratio"] = (1,)
    conv(f"{m}.att.combiner", 8 * w, 16 * w, 1, 1)
    shapes[f"{m}.att.combiner.bias"] = (8 * w,)
    for i in (5, 4):
        conv(f"{m}.dec_{i}.0", 8 * w, 16 * w, 3, 3), bn(f"{m}.dec_{i}.1", 8 * w)
    for i, (cin, cout) in zip((3, 2, 1), [(16 * w, 8 * w), (12 * w, 4 * w), (6 * w, w)]):
        conv(f"{m}.dec_{i}.0", cin, cout, 4, 4), bn(f"{m}.dec_{i}.1", cout)  # transposed: (in, out, k, k)
    conv("Tconv", w, w, 4, 4), bn("bn3", w)
    conv("tail1", w // 2, w + 3, 3, 3)
    conv("tail2.conv1", w // 8, w // 2, 1, 1), bn("tail2.bn1", w // 8)
    conv("tail2.conv2", w // 8, w // 8, 3, 3), bn("tail2.bn2", w // 8)
    conv("tail2.conv3", w // 2, w // 8, 1, 1), bn("tail2.bn3", w // 2)
    conv("out", 3, 2 * (w // 2), 3, 3)
    return shapes


def official_checkpoint(path, w: int = 64, edit=None) -> dict:
    """Random weights in the official layout, saved as save_ckpt saves them; returns the state dict."""
    g = torch.Generator().manual_seed(w)
    state = {}
    for name, shape in official_layout(w).items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=g) + 0.5
        else:
            state[name] = torch.randn(shape, generator=g) * 0.05
    if edit:
        edit(state)
    torch.save({"n_iter": 450000, "generator": state, "optimizer_G": {"state": {}, "param_groups": []}}, path)
    return state


def spec_with(path, key="weights", fmt="rfr_official") -> dict:
    return {**RFR_KCA, key: {"format": fmt, "path": str(path)}}


def test_an_official_checkpoint_loads_under_our_names_and_maps_back(tmp_path):
    path = tmp_path / "g_final.pth"
    official = official_checkpoint(path)
    model = build_model(spec_with(path), width=64)
    ours = model.state_dict()
    assert {official_to_ours(k) for k in official} == set(ours)  # every key, both ways
    for name, tensor in official.items():
        assert ours_to_official(official_to_ours(name)) == name
        assert torch.equal(ours[official_to_ours(name)], tensor), name
    assert not is_trainable(spec_with(path)) and is_trainable(spec_with(path, "init"))


@pytest.mark.parametrize("edit,named", [
    (lambda s: s.update({"tail1.weights": s.pop("tail1.weight")}),
     ["'tail1.weights'", "missing 'tail1.weight' (ours: 'tail.pconv.weight')"]),
    (lambda s: s.pop("RFRModule.att.att.ratio"), ["missing 'RFRModule.att.att.ratio' (ours: 'reasoning.attention.lam')"]),
    (lambda s: s.update({"Tconv.weight": torch.zeros(8, 8, 3, 3)}),
     ["misshaped 'Tconv.weight' (ours: 'tail.up.weight') (8, 8, 3, 3) where the network has (8, 8, 4, 4)"]),
])
def test_a_wrong_key_is_refused_naming_the_key_and_the_file(tmp_path, edit, named):
    path = tmp_path / "bad.pth"
    official_checkpoint(path, w=8, edit=edit)
    with pytest.raises(ValueError) as err:
        build_model(spec_with(path), width=8)
    for text in named:
        assert text in str(err.value)
    assert str(path) in str(err.value)


def test_a_network_without_the_official_modules_is_refused(tmp_path):
    path = tmp_path / "g.pth"
    official_checkpoint(path, w=8)
    with pytest.raises(ValueError, match=r"missing ours: 'merged_completion\..*\(no official module\)"):
        build_model({**spec_with(path), "completion_block": True, "completion_at": "merged"}, width=8)
    with pytest.raises(ValueError, match="unexpected 'RFRModule.att.att.ratio'"):
        build_model({**spec_with(path), "attention": "plain"}, width=8)
    with pytest.raises(ValueError, match="no 'generator' key"):
        torch.save({"model": {}}, tmp_path / "other.pth")
        build_model(spec_with(tmp_path / "other.pth"), width=8)


def test_a_state_dict_file_round_trips_and_a_changed_file_is_refused(tmp_path):
    torch.manual_seed(0)
    source = build_model(RFR_KCA, 8)
    path = tmp_path / "ours.pt"
    torch.save(source.state_dict(), path)
    spec = spec_with(path, fmt="state_dict")
    loaded = build_model(spec, 8)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    build_model({**spec, "weights": {**spec["weights"], "sha256": digest}}, 8)
    with pytest.raises(ValueError, match="has changed since its job was planned"):
        build_model({**spec, "weights": {**spec["weights"], "sha256": "0" * 64}}, 8)


def rows_config(tiny_config, tmp_path):
    path, config, write = tiny_config
    weights = tmp_path / "g_final.pth"
    official_checkpoint(weights, w=8)
    config.update(width=8, image_size=32)
    config["train"].update(steps=1)
    config["variants"] = {"released": spec_with(weights), "finetuned": spec_with(weights, "init"),
                          "mean_fill": {"backbone": "mean_fill"}}
    write(config)
    return path, config, write, weights


def test_jobs_record_the_files_sha256_and_a_released_row_has_no_training_job(tiny_config, tmp_path):
    path, config, write, weights = rows_config(tiny_config, tmp_path)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    loaded = load_config(path)
    job = eval_job(loaded, "toy", "released", 0)
    assert job["spec"]["weights"]["sha256"] == digest
    with pytest.raises(ConfigError, match="'released' scores the released weights .* needs no training"):
        train_job(loaded, "toy", "released", 0)
    model, notes, _ = load_variant(job, None, "cpu")
    assert notes == [f"weights: rfr_official {weights} (SHA-256 {digest})"]
    assert not model.training

    train = train_job(loaded, "toy", "finetuned", 0)
    assert train["spec"]["init"]["sha256"] == digest
    with pytest.warns(UserWarning):  # no VGG16 weights here
        trainer = Trainer(train, tmp_path / "run")
    expected = build_model(spec_with(weights), 8).state_dict()
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert trainer.notes[0] == f"init: rfr_official {weights} (SHA-256 {digest})"

    dry = snakemake(tmp_path, "-n", "--configfile", str(path))
    jobs = planned_jobs(dry.stdout)
    assert ("train", "dataset=toy, variant=finetuned, seed=0") in jobs
    assert not any(rule == "train" and "released" in w for rule, w in jobs), jobs
    assert ("evaluate", "dataset=toy, variant=released, seed=0") in jobs


def test_config_names_a_missing_file_and_refuses_weights_with_init(tiny_config, tmp_path):
    path, config, write, weights = rows_config(tiny_config, tmp_path)
    config["variants"]["released"]["weights"]["path"] = str(tmp_path / "nope.pth")
    config["variants"]["both"] = {**spec_with(weights), "init": {"format": "rfr_official", "path": str(weights)}}
    config["variants"]["classical"] = {"backbone": "mean_fill", "weights": {"format": "state_dict",
                                                                             "path": str(weights)}}
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"variants.released.weights.path: {tmp_path / 'nope.pth'} is not a file" in text
    assert "variants.both: weights (a row scored as released) and init (the start of training) exclude" in text
    assert "variants.classical.weights: backbone 'mean_fill' has no weights to load" in text
    config["variants"] = {"released": {**spec_with(weights), "weights": {
        "format": "rfr_official", "path": str(weights), "sha256": "a" * 64}}}
    write(config)
    with pytest.raises(ConfigError, match="variants.released.weights: .* has SHA-256 .* the config asks for a+"):
        eval_job(load_config(path), "toy", "released", 0)
