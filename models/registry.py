"""Backbone registry: ``build_model(spec, width)`` turns a variant spec from the config into a network.

A backbone module registers a builder with ``@register_backbone("name")``; the builder receives the
whole spec dict (so it can read its own keys) and the base width. Modules listed in
``BUILTIN_MODULES`` are imported on first use so their backbones register themselves.
"""
from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

Builder = Callable[[dict, int], nn.Module]
BACKBONES: dict[str, Builder] = {}
BUILTIN_MODULES = ("models.classical", "models.pconv_unet", "models.rfr")



def register_backbone(name: str) -> Callable[[Builder], Builder]:
    def decorator(builder: Builder) -> Builder:
        if name in BACKBONES and BACKBONES[name] is not builder:
            raise ValueError(f"backbone {name!r} is registered twice")
        BACKBONES[name] = builder
        return builder
    return decorator


def _import_builtins() -> None:
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:  # a real import error inside the module
                raise


def available_backbones() -> list[str]:
    _import_builtins()
    return sorted(BACKBONES)


def build_model(spec: dict, width: int = 64) -> nn.Module:
    """Builds the network of a variant spec, e.g. ``{"backbone": "rfr", "attention": "kca"}``."""
    if not isinstance(spec, dict) or "backbone" not in spec:
        raise KeyError(f"variant spec {spec!r} has no 'backbone' key")
    _import_builtins()
    name = spec["backbone"]
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r} in variant spec; known backbones: {sorted(BACKBONES)}")
    return BACKBONES[name](spec, width)
