"""Every variant's network built once at a tiny width, before any job: a spec its backbone refuses, or a
distillation row whose backbone or teacher does not provide what its `distill` terms read (encoder
features, attention maps), fails config validation naming the variant and the key, instead of inside
a training job after its teacher has trained. Builds are cached and run on one thread with the torch
RNG state restored, so validation stays fast and leaves no trace.
"""
from __future__ import annotations

import contextlib
import functools
import json

import torch
from torch import nn

from inpaint_bench.models.distill import build_distill_loss
from inpaint_bench.models.registry import build_model, spec_slug, teacher_architecture, uses_distillation

TINY_WIDTH = 8  # the smallest width every built-in backbone takes (RFR-Net's tail needs w/8)
PROBE_SIZE = 32  # side of the image a distilled row's student and teacher see once


@contextlib.contextmanager
def quiet_torch():
    """One torch thread and the RNG state put back afterwards: a probe changes nothing a job sees."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def _built(spec_json: str, width: int) -> nn.Module:
    with quiet_torch():
        return build_model(json.loads(spec_json), width).eval()


def tiny_model(spec: dict, width: int) -> nn.Module:
    """The spec's network at a tiny width (cached): TINY_WIDTH, or `width` where that is smaller or where
    the backbone refuses the tiny one (then its error at `width` is the one that counts)."""
    key = json.dumps(spec, sort_keys=True)
    try:
        return _built(key, min(width, TINY_WIDTH))
    except Exception:
        if width <= TINY_WIDTH:
            raise
        return _built(key, width)


def _message(err: Exception) -> str:
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return text if isinstance(err, (ValueError, KeyError, TypeError)) else f"{type(err).__name__}: {text}"


def probe_distillation(spec: dict, width: int, size: int) -> None:
    """Runs the row's distillation once, as training runs it: the student on a masked image, its
    teacher on the clean one, the distillation loss on both (ValueError / KeyError name the term)."""
    student, teacher = tiny_model(spec, width), tiny_model(teacher_architecture(spec), width)
    for net in (student, teacher):
        if not hasattr(net, "forward_features"):
            raise ValueError(f"distill: backbone {spec['backbone']!r} has no forward_features(masked, mask) -> "
                             f"(pred, feats), which distillation reads (models/README.md)")
    with quiet_torch():
        distill = build_distill_loss(spec["distill"], student).eval()

    def run(side: int) -> None:
        with quiet_torch(), torch.no_grad():
            image = torch.rand(1, 3, side, side)
            mask = torch.zeros(1, 1, side, side)
            mask[..., side // 4: side // 2, side // 4: side // 2] = 1
            _, student_feats = student.forward_features(image * (1 - mask), mask)
            _, teacher_feats = teacher.forward_features(image, torch.zeros_like(mask))
            distill(student_feats, teacher_feats, mask)

    try:
        run(min(size, PROBE_SIZE))
    except Exception:
        if size <= PROBE_SIZE:
            raise
        run(size)  # a backbone that needs larger images: the job's own size decides


def capability_problems(variants: dict[str, dict], width: int, size: int) -> list[str]:
    """Builds every variant (and every distilled row's teacher) at a tiny width and runs each distilled
    row's distillation once at a small size; one line per problem, naming the variant and the key."""
    problems = []
    for name, spec in variants.items():
        try:
            tiny_model(spec, width)
        except Exception as err:  # whatever a backbone's constructor raises, the row cannot be trained
            problems.append(f"variants.{name}: backbone {spec['backbone']!r} cannot be built from this spec: "
                            f"{_message(err)}")
            continue
        if not uses_distillation(spec):
            continue
        arch = teacher_architecture(spec)
        try:
            tiny_model(arch, width)
        except Exception as err:
            problems.append(f"variants.{name}: distill: its DGI teacher, the architecture {spec_slug(arch)!r}, "
                            f"cannot be built: {_message(err)}")
            continue
        try:
            probe_distillation(spec, width, size)
        except Exception as err:
            problems.append(f"variants.{name}: {_message(err)}")
    return problems
