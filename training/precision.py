"""Mixed precision: bf16 autocast + channels_last where the hardware runs it fast, fp32 otherwise.

`precision` in the config is one of auto | bf16 | fp32. `auto` picks bf16 on CUDA GPUs that support
it and on CPUs with AMX or AVX512-BF16 (where bf16 convolutions are several times faster than fp32);
everything else runs fp32. Mask arithmetic and metrics stay float32 regardless (see models.partial_conv).
"""
from __future__ import annotations

import contextlib
import functools

import torch

PRECISIONS = ("auto", "bf16", "fp32")


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """True if the CPU has AMX-BF16 or AVX512-BF16 instructions."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    cpu = getattr(torch._C, "_cpu", None)
    for name in probes:
        probe = getattr(cpu, name, None)
        if probe is not None and probe():
            return True
    try:  # fallback for torch builds without the probes: the kernel's cpu flags
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype:
    """Maps the config value to the autocast dtype (torch.float32 means: no autocast)."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    return torch.float32


def autocast(dtype: torch.dtype, device: torch.device | str):
    """Autocast context for `dtype`; a no-op context for float32."""
    device = torch.device(device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def prepare_model(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """channels_last memory format goes with bf16 (oneDNN / tensor cores want NHWC)."""
    if dtype != torch.float32:
        model = model.to(memory_format=torch.channels_last)
    return model


def prepare_input(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype != torch.float32 and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
