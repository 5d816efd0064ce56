"""Every variant's network built once at a tiny width, before any job: a spec its backbone refuses, or a
distillation row whose backbone or teacher does not provide what its `distill` terms read (encoder
features, attention maps), fails config validation naming the variant and the key, instead of inside
a training job after its teacher has trained. The same builds tell which source files a row's result
depends on (`code_digests`, part of its jobs' identity). Builds are cached and run on one thread with
the torch RNG state restored, so validation stays fast and leaves no trace.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import sys
from pathlib import Path

import torch
from torch import nn

from inpaint_bench.harness.config import REPO_ROOT
from inpaint_bench.models.distill import build_distill_loss
from inpaint_bench.models.losses import InpaintingLoss
from inpaint_bench.models.registry import (
    arch_name,
    build_model,
    is_trainable,
    teacher_architecture,
    uses_distillation,
)
from inpaint_bench.models.released_weights import WEIGHT_KEYS

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
    # the network's code and capabilities, not a weights file's (which fits the row's real width only)
    spec = {k: v for k, v in json.loads(spec_json).items() if k not in WEIGHT_KEYS}
    with quiet_torch():
        return build_model(spec, width).eval()


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


@functools.lru_cache(maxsize=None)
def _distill_loss(spec_json: str, width: int) -> nn.Module:
    spec = json.loads(spec_json)
    with quiet_torch():
        return build_distill_loss(spec["distill"], tiny_model(spec, width)).eval()


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
    distill = _distill_loss(json.dumps(spec, sort_keys=True), width)

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
        teacher = teacher_architecture(spec)
        try:
            tiny_model(teacher, width)
        except Exception as err:
            problems.append(f"variants.{name}: distill: its DGI teacher, the architecture {arch_name(teacher)!r}, "
                            f"cannot be built: {_message(err)}")
            continue
        try:
            probe_distillation(spec, width, size)
        except Exception as err:
            problems.append(f"variants.{name}: {_message(err)}")
    return problems


def statements(tree: ast.AST):
    """Every statement of `tree`, nested ones (in functions, classes, if/try/with blocks) included:
    imports are statements, so the expressions (most of a tree) need no visit."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            todo.extend(child for child in getattr(node, field, ()) if isinstance(child, ast.AST))


@functools.lru_cache(maxsize=None)
def source_digest(path: Path) -> str:
    """A digest of a Python file's code: its syntax tree without docstrings, so that an edit of comments,
    docstrings or layout alone changes nothing, and any other edit does."""
    return tree_digest(ast.parse(path.read_text(), filename=str(path)))


def tree_digest(tree: ast.Module) -> str:
    """`source_digest` of a parsed file (whose docstrings it removes)."""
    for node in statements(tree):  # docstrings open modules, classes and functions: statements all
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def _checkout_files(classes) -> set[Path]:
    """The harness's own files that define `classes` or their base classes (not torch's, even where a
    .venv inside the checkout holds it)."""
    modules = {base.__module__ for cls in classes for base in cls.__mro__}
    return {Path(sys.modules[name].__file__).resolve() for name in modules if name.startswith("inpaint_bench.")}


@functools.lru_cache(maxsize=None)
def _code_digests(spec_json: str, width: int) -> tuple[tuple[str, str], ...]:
    spec = json.loads(spec_json)
    modules = [tiny_model(spec, width)]
    classes = set()
    if is_trainable(spec):
        classes.add(InpaintingLoss)
        if uses_distillation(spec):
            modules += [tiny_model(teacher_architecture(spec), width), _distill_loss(spec_json, width)]
    classes.update(type(m) for module in modules for m in module.modules())
    return tuple(sorted((path.relative_to(REPO_ROOT).as_posix(), source_digest(path))
                        for path in _checkout_files(classes)))


def code_digests(spec: dict, width: int) -> dict[str, str]:
    """Repository path -> digest (`source_digest`) of every source file a row's result is computed by:
    the classes its network is built from (backbone, attention, blocks), and for a trained row the
    inpainting loss, and for a distilled one its teacher's network and the distillation losses. Found
    from the modules of the row's tiny build, so a file that none of them comes from is not one of it."""
    return dict(_code_digests(json.dumps(spec, sort_keys=True), width))
