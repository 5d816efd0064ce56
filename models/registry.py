"""Backbone registry: the one place that knows which networks exist and what a variant spec means.

A backbone is an ``nn.Module`` class registered with ``@register_backbone("name", ...)`` and built as
``cls(width, **options)``, where ``options`` are the spec's keys other than ``backbone`` and the
training-only keys (``distill``, ``train``). The constructor owns its defaults and its keyword
arguments are the backbone's options: an option it does not take is rejected by ``check_spec``
(config validation) and ``build_model``, naming the key and the backbone's options.

A backbone may define ``check_sizes(width, image_size, **options)`` (raising ValueError): the config
check calls it, so a width or image size the network cannot take fails before any job.

Flags on the registration: ``trainable=False`` for classical rows that need no training;
``student_only`` for options the DGI teacher is built without (blocks that act
on holes only: it sees no hole). Every module of this package is imported before a name is looked
up, so a new backbone is one new module with its ``@register_backbone`` line. A spec's ``weights`` or
``init`` (``{format, path}``, optionally ``sha256``) loads a weights file into the built network
(models.released_weights); a row with ``weights`` is scored as it is and is not trainable.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass

from torch import nn

from inpaint_bench.models.released_weights import WEIGHT_KEYS, load_weights

TRAINING_KEYS = ("distill", "train")  # spec keys that do not change the network
LABEL_KEYS = ("label",)  # what the row is, in words (the tables' footnotes): no part of any job
WHERE_BACKBONES_ARE_REGISTERED = ("backbones are classes registered with @register_backbone(\"name\") in a module "
                                  "of models/ (see models/registry.py); their options are the constructor's "
                                  "keyword arguments")


class SpecError(ValueError):
    """A variant spec that names an unknown backbone or an option its backbone does not take."""


@dataclass(frozen=True)
class Backbone:
    name: str
    cls: type
    trainable: bool = True
    student_only: tuple[str, ...] = ()

    def options(self) -> dict:
        """Option name -> default, read from the constructor (everything after ``width``)."""
        params = list(inspect.signature(self.cls.__init__).parameters.values())[2:]
        return {p.name: p.default for p in params}


BACKBONES: dict[str, Backbone] = {}


def register_backbone(name: str, *, trainable: bool = True, student_only: tuple[str, ...] = ()):
    def decorator(cls):
        entry = Backbone(name, cls, trainable, tuple(student_only))
        if name in BACKBONES and BACKBONES[name].cls is not cls:
            raise ValueError(f"backbone {name!r} is registered twice")
        taken = set(entry.options()) & {"backbone", *TRAINING_KEYS}
        if taken:  # a spec's value for such a key never reaches the constructor
            raise ValueError(f"backbone {name!r}: {sorted(taken)} are keys of the variant spec, not options; "
                             f"rename the constructor's argument")
        BACKBONES[name] = entry
        return cls
    return decorator


_IMPORTED_FROM: list[tuple[str, ...]] = []  # the package paths already imported from


def import_all_modules() -> None:
    """Imports every module of the models package (once), so that every registration has run."""
    paths = tuple(importlib.import_module(__package__).__path__)
    if paths in _IMPORTED_FROM:
        return
    for module in pkgutil.iter_modules(paths):
        importlib.import_module(f"{__package__}.{module.name}")
    _IMPORTED_FROM.append(paths)


def available_backbones() -> list[str]:
    import_all_modules()
    return sorted(BACKBONES)


def backbone(spec_or_name) -> Backbone:
    name = spec_or_name["backbone"] if isinstance(spec_or_name, dict) else spec_or_name
    import_all_modules()
    if name not in BACKBONES:
        raise SpecError(f"unknown backbone {name!r}; known backbones: {', '.join(sorted(BACKBONES))} "
                        f"({WHERE_BACKBONES_ARE_REGISTERED})")
    return BACKBONES[name]


def architecture(spec: dict) -> dict:
    """The keys of a spec that define the network (no distillation, training settings or weight files)."""
    return {k: v for k, v in spec.items() if k not in TRAINING_KEYS + WEIGHT_KEYS + LABEL_KEYS}


def options(spec: dict) -> dict:
    return {k: v for k, v in architecture(spec).items() if k != "backbone"}


def check_spec(spec: dict) -> None:
    """Raises SpecError naming the key when the spec's backbone does not take one of its options."""
    if not isinstance(spec, dict) or "backbone" not in spec:
        raise SpecError(f"variant spec {spec!r} has no 'backbone' key")
    entry = backbone(spec)
    known = entry.options()
    for key in options(spec):
        if key not in known:
            takes = ", ".join(known) or "no options"
            raise SpecError(f"option {key!r} does not belong to backbone {entry.name!r} (it takes: {takes}; "
                            f"the keyword arguments of {entry.cls.__name__} in {entry.cls.__module__})")


def check_sizes(spec: dict, width: int, image_size: int) -> None:
    """Raises SpecError when the spec's network cannot be built at `width` or cannot take
    image_size x image_size inputs: the backbone class's `check_sizes(width, image_size, **options)`,
    when it has one (a config check, so that the fault is found before any job, naming the key)."""
    entry = backbone(spec)
    check = getattr(entry.cls, "check_sizes", None)
    if check is not None:
        try:
            check(width, image_size, **{**entry.options(), **options(spec)})
        except ValueError as err:
            raise SpecError(str(err)) from None


def build_model(spec: dict, width: int = 64) -> nn.Module:
    """Builds the network of a variant spec, e.g. ``{"backbone": "rfr", "attention": "kca"}``, with
    the weights of its ``weights`` or ``init`` file loaded (strictly) when it names one."""
    check_spec(spec)
    model = backbone(spec).cls(width, **options(spec))
    for key in WEIGHT_KEYS:
        if spec.get(key):
            load_weights(model, **spec[key])
    return model


def is_trainable(spec: dict) -> bool:
    """False for classical rows and for rows scored with released weights (`weights:`)."""
    return backbone(spec).trainable and not spec.get("weights")


def teacher_architecture(spec: dict) -> dict:
    """The architecture of a DGI student's teacher: the student's without its student-only blocks."""
    drop = backbone(spec).student_only
    return {k: v for k, v in architecture(spec).items() if k not in drop}


def arch_name(spec: dict) -> str:
    """An architecture's arch: its readable, stable name, e.g. 'rfr_attention-kca_iterations-6' (a teacher's
    key in its jobs, its folder and `--teacher-arch`; a network's in its initial weights' seed)."""
    parts = [str(spec["backbone"])] + [f"{k}-{spec[k]}" for k in sorted(spec) if k != "backbone"]
    return "_".join(parts).replace("/", "-").replace(" ", "")


def uses_distillation(spec: dict) -> bool:
    """True when some distillation weight is non-zero (all zero trains exactly like no distillation)."""
    distill = spec.get("distill") or {}
    weight = lambda v: v.get("weight", 0) if isinstance(v, dict) else v  # noqa: E731
    return any(weight(v) for v in distill.values())
