"""Networks and losses. Pure torch: no file I/O, no config files, no datasets."""
from inpaint_bench.models.registry import available_backbones, build_model, register_backbone

__all__ = ["build_model", "register_backbone", "available_backbones"]
