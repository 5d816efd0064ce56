"""Speed benchmark: training and inference images/s of every trainable variant of a config, with the
achieved FLOP/s against the device's measured matrix-multiply peak and the peak memory (see
docs/architecture.md, "Speed"; on a GPU: `make bench-gpu`, docs/scale.md).

    inpaint-bench bench --config config/config.yaml [--variants a b] [--size 256] [--batch 2]
        [--width 64] [--steps 3] [--precision auto|bf16|fp32|both] [--device cpu|cuda] [--out FILE.csv]

A training step is training.train's (`forward_losses` under autocast, backward, Adam step), with a
randomly initialised `vgg16().features` for the perceptual and style terms (same FLOPs; `--vgg none`
drops them). FLOPs are counted on one image ("train": forward, loss and backward, not the optimiser
step); times are medians over --steps after --warmup steps (oneDNN and cuDNN pick their kernels in
the first). fp32 keeps PyTorch's TF32 defaults (on a GPU, convolutions in TF32), so its fraction of
peak is taken against the TF32 matmul peak there, bf16 against the bf16 peak. bf16 is measured only where
it runs natively (a GPU, a CPU with AMX or AVX512-BF16; `both` means fp32 and, there, bf16) or when
`--precision bf16` asks for it; every row is also given as a fraction of the fp32 peak, which is always measured.
"""
from __future__ import annotations

import csv
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from inpaint_bench.harness.config import train_settings
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.models import build_model
from inpaint_bench.models.losses import InpaintingLoss
from inpaint_bench.models.registry import is_trainable
from inpaint_bench.training.precision import (
    autocast,
    cpu_has_fast_bf16,
    prepare_input,
    prepare_model,
    resolve_precision,
)
from inpaint_bench.training.train import forward_losses

COLUMNS = ["variant", "precision", "params", "gflop_fwd_per_img", "gflop_train_per_img",
           "train_img_s", "infer_img_s", "train_gflop_s", "infer_gflop_s",
           "train_pct_fp32_peak", "train_pct_bf16_peak", "infer_pct_fp32_peak", "infer_pct_bf16_peak",
           "train_step_s", "infer_batch_s", "size", "batch", "width", "threads", "vgg",
           "peak_fp32_gflop_s", "peak_bf16_gflop_s", "device", "peak_tf32_gflop_s", "own_peak",
           "train_pct_own_peak", "peak_mem_mb"]


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_peak(dtype: torch.dtype, seconds: float, n: int = 2048, device="cpu", tf32: bool = False) -> float:
    """GFLOP/s of a large square torch.matmul on `device`: the median over repeated calls for
    `seconds`. `tf32` (CUDA): float32 matmuls in TF32 for this measurement only."""
    n = 8192 if torch.device(device).type == "cuda" else n  # enough work to fill a GPU
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        torch.matmul(a, b)  # warm-up
        rates, start = [], time.perf_counter()
        while time.perf_counter() - start < seconds or len(rates) < 3:
            synchronize(device)
            t = time.perf_counter()
            torch.matmul(a, b)
            synchronize(device)
            rates.append(2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
    return statistics.median(rates)


def peak_memory_mb(device) -> float:
    """The GPU allocator's peak since the last reset; on the CPU, the process's maximum resident size."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_batch(batch: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random image and a mask with a rectangular hole of ~30% in each image (speed is data-independent
    except for the mask pattern, which only changes zeros in the partial-conv masks)."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, size, size, generator=g)
    mask = torch.zeros(batch, 1, size, size)
    side = int(size * 0.55)
    for i in range(batch):
        y, x = torch.randint(0, size - side + 1, (2,), generator=g).tolist()
        mask[i, :, y:y + side, x:x + side] = 1.0
    return image, mask


def make_loss(vgg: str) -> InpaintingLoss:
    features = None
    if vgg == "random":
        from torchvision.models import vgg16
        features = vgg16(weights=None).features  # stand-in for timing only, never for training
    return InpaintingLoss(vgg_features=features)


class Runner:
    """One variant at one precision: a training step and an inference call on a fixed batch."""

    def __init__(self, model, loss, image, mask, dtype, device="cpu"):
        self.model, self.loss, self.dtype, self.device = model, prepare_model(loss, dtype), dtype, device
        self.image, self.mask = image, mask
        self.masked = prepare_input(image * (1 - mask), dtype)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)

    def train_step(self) -> None:
        self.model.train()
        total, _ = forward_losses(self.model, self.loss, self.image, self.mask, self.dtype, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()

    @torch.no_grad()
    def infer(self) -> None:
        self.model.eval()
        with autocast(self.dtype, self.device):
            self.model(self.masked, self.mask)


def count_flops(model: torch.nn.Module, loss: InpaintingLoss, size: int, dtype: torch.dtype,
                device="cpu") -> tuple[float, float]:
    """(forward FLOPs, training FLOPs) per image, counted on a batch of two and halved (FLOPs scale with
    the batch; a single image cannot pass a training-mode BatchNorm on a 1x1 bottleneck, as in a deep
    PConv U-Net at 64 px).

    Runs for real (autocast cannot run on the meta device), in the fastest precision available;
    the count does not depend on it. Changes BatchNorm running statistics: reload the weights after.
    """
    images = 2
    image, mask = (t.to(device) for t in make_batch(images, size, seed=0))
    masked = prepare_input(image * (1 - mask), dtype)
    model.train()
    with FlopCounterMode(display=False) as fwd, torch.no_grad(), autocast(dtype, device):
        model(masked, mask)
    with FlopCounterMode(display=False) as train:
        forward_losses(model, loss, image, mask, dtype, device)[0].backward()
    model.zero_grad(set_to_none=True)
    return float(fwd.get_total_flops()) / images, float(train.get_total_flops()) / images


def timed(fn, steps: int, warmup: int, desc: str, device="cpu") -> float:
    """Median seconds of `fn` over `steps` calls after `warmup` untimed calls (GPU work included)."""
    times = []
    for i in tqdm(range(warmup + steps), desc=desc, leave=False, unit="call"):
        synchronize(device)
        t = time.perf_counter()
        fn()
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def format_table(rows: list[dict]) -> str:
    shown = ["variant", "precision", "params", "gflop_fwd_per_img", "gflop_train_per_img", "train_img_s",
             "infer_img_s", "train_gflop_s", "infer_gflop_s", "train_pct_own_peak", "train_pct_fp32_peak",
             "train_pct_bf16_peak", "infer_pct_fp32_peak", "infer_pct_bf16_peak", "peak_mem_mb"]
    heads = ["variant", "prec", "params", "GF fwd/img", "GF train/img", "train img/s", "infer img/s",
             "train GF/s", "infer GF/s", "train %own pk", "train %fp32pk", "train %bf16pk", "infer %fp32pk",
             "infer %bf16pk", "peak MiB"]

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    cells = [[fmt(r[k]) for k in shown] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, cells)])


MEMORY_COLUMNS = ["variant", "precision", "device", "size", "batch", "width", "peak_mem_mb"]


def one_step_memory(args, config, name: str, dtype: torch.dtype, device) -> float:
    """Peak memory (MiB) of building `name` and running one training step, in this process."""
    torch.manual_seed(args.seed)
    model = prepare_model(build_model(config["variants"][name], args.width or config["width"]).to(device), dtype)
    image, mask = (t.to(device) for t in make_batch(args.batch, args.size or config["image_size"], args.seed))
    Runner(model, make_loss(args.vgg).to(device), image, mask, dtype, device).train_step()
    synchronize(device)
    return peak_memory_mb(device)


def measure_memory(args, names: list[str], dtype: torch.dtype, config: dict) -> list[dict]:
    """One row per trainable variant: its one-step peak, each measured in a fresh process (a process's peak
    resident size never goes down, so rows measured one after another would carry each other's peaks)."""
    rows = []
    for name in names:
        if not is_trainable(config["variants"][name]):
            continue
        prec = "bf16" if dtype == torch.bfloat16 else "fp32"
        command = [sys.executable, "-m", "inpaint_bench.cli", "bench", "--config", args.config, "--variants",
                   name, "--batch", str(args.batch), "--precision", prec, "--device", args.device, "--vgg", args.vgg,
                   "--seed", str(args.seed), "--one-step-memory",
                   *(["--size", str(args.size)] if args.size else []),
                   *(["--width", str(args.width)] if args.width else []),
                   *(["--threads", str(args.threads)] if args.threads else [])]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"error: one training step of {name} failed:\n{proc.stderr[-2000:]}")
        peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mem_mb"]
        rows.append({"variant": name, "precision": prec, "device": args.device,
                     "size": args.size or config["image_size"], "batch": args.batch,
                     "width": args.width or config["width"], "peak_mem_mb": round(peak)})
        print(f"{name} {prec}: one training step at batch {args.batch} peaks at {peak:.0f} MiB ({args.device})",
              flush=True)
    return rows


def memory_warnings(config: dict, measured_csv: Path) -> list[str]:
    """One line per (dataset, row) whose measured one-step peak on the CPU (`bench --memory`, at the config's
    size, width and the row's batch) exceeds what its training jobs ask for (resources.train.mem_mb)."""
    if not Path(measured_csv).is_file():
        return []
    with open(measured_csv, newline="") as f:
        measured = {(r["variant"], r["device"], int(r["size"]), int(r["width"]), int(r["batch"])):
                    float(r["peak_mem_mb"]) for r in csv.DictReader(f)}
    asked = config["resources"]["train"]["mem_mb"]
    lines = []
    for dataset in config["datasets"]:
        for name, spec in config["variants"].items():
            if not is_trainable(spec):
                continue
            batch = train_settings(config, dataset, name)["batch_size"]
            peak = measured.get((name, "cpu", config["image_size"], config["width"], batch))
            if peak is not None and peak > asked:
                lines.append(f"{dataset}/{name}: one training step at batch {batch} peaked at {peak:.0f} MB on the "
                             f"CPU ({measured_csv}), above resources.train.mem_mb {asked}")
    return lines


def run_bench(args) -> list[dict]:
    """The speed rows (or, with `args.memory`, the memory rows) of `args`, the arguments of
    `inpaint-bench bench` (inpaint_bench.cli.bench), printed as a table and written to `args.out`."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {args.device}: torch sees no CUDA device here "
                         f"(torch {torch.__version__}, CUDA build {torch.version.cuda})")
    config = load_config(args.config)
    size = args.size or config["image_size"]
    width = args.width or config["width"]
    names = args.variants or list(config["variants"])
    unknown = [n for n in names if n not in config["variants"]]
    if unknown:
        raise KeyError(f"variant(s) {unknown} not in {args.config}; available: {list(config['variants'])}")
    native_bf16 = device.type == "cuda" or cpu_has_fast_bf16()
    if args.precision == "both":  # bf16 only where it runs natively; --precision bf16 forces it
        dtypes = [torch.float32] + ([torch.bfloat16] if native_bf16 else [])
        if not native_bf16:
            print("bf16: not measured, this CPU has no native bf16 (AMX or AVX512-BF16) and emulates it "
                  "about 100x slower; --precision bf16 measures it anyway")
    else:
        dtypes = [resolve_precision(args.precision, device)]

    if args.one_step_memory:  # the child of measure_memory: one row, one step
        print(json.dumps({"peak_mem_mb": one_step_memory(args, config, names[0], dtypes[-1], device)}))
        return []
    if args.memory:
        rows = [row for dtype in dtypes for row in measure_memory(args, names, dtype, config)]
        write_csv(Path(args.out), rows, MEMORY_COLUMNS)
        print(f"wrote {args.out}")
        return rows

    vgg_note = ("randomly initialised VGG16 features as a timing stand-in (same FLOPs as ImageNet VGG16)"
                if args.vgg == "random" else "no VGG: perceptual and style terms dropped")
    on_gpu = device.type == "cuda"
    where = torch.cuda.get_device_name(device) if on_gpu else f"cpu, {torch.get_num_threads()} threads"
    print(f"bench: {size}x{size}, batch {args.batch}, width {width}, {where}; loss: {vgg_note}, under autocast "
          f"as in training; fp32 with PyTorch's TF32 defaults (convolutions: {torch.backends.cudnn.allow_tf32}, "
          f"matmuls: {torch.backends.cuda.matmul.allow_tf32})")
    print(f"measuring matmul peaks ({args.peak_seconds:.0f} s each) ...", flush=True)
    # the fp32 peak always (the peak every row is measured against); the bf16 one only where a row runs
    # in bf16: emulated bf16 (AVX2) runs a 2048^2 matmul for minutes, so there it is taken on a smaller one
    peaks = {torch.float32: measure_matmul_peak(torch.float32, args.peak_seconds, device=device),
             torch.bfloat16: (measure_matmul_peak(torch.bfloat16, args.peak_seconds, device=device,
                                                  n=2048 if native_bf16 else 256)
                              if torch.bfloat16 in dtypes else math.nan)}
    # a GPU's fp32 convolutions run in TF32 by default: their peak is the TF32 matmul's
    tf32 = measure_matmul_peak(torch.float32, args.peak_seconds, device=device, tf32=True) if on_gpu else math.nan
    own_peak = {torch.float32: ("tf32", tf32) if on_gpu else ("fp32", peaks[torch.float32]),
                torch.bfloat16: ("bf16", peaks[torch.bfloat16])}
    print(f"matmul peak: fp32 {peaks[torch.float32]:.0f} GFLOP/s (every row's %fp32pk is against it)"
          + (f", bf16 {peaks[torch.bfloat16]:.1f} GFLOP/s" if torch.bfloat16 in dtypes else ", bf16 not measured")
          + (f", tf32 {tf32:.0f} GFLOP/s" if on_gpu else ""))

    image, mask = (t.to(device) for t in make_batch(args.batch, size, args.seed))
    rows = []
    for name in names:
        spec = config["variants"][name]
        if not is_trainable(spec):
            print(f"skip {name}: backbone {spec['backbone']!r} is a classical method (nothing to train)")
            continue
        torch.manual_seed(args.seed)
        model = build_model(spec, width).to(device)
        params = sum(p.numel() for p in model.parameters())
        state = {k: v.clone() for k, v in model.state_dict().items()}
        fast = torch.bfloat16 if torch.bfloat16 in dtypes else dtypes[0]
        flops_fwd, flops_train = count_flops(prepare_model(model, fast), make_loss(args.vgg).to(device), size, fast,
                                             device)
        for dtype in dtypes:
            model.load_state_dict(state)  # every precision starts from the same weights
            model = prepare_model(model.to(memory_format=torch.contiguous_format), dtype)
            prec = "bf16" if dtype == torch.bfloat16 else "fp32"
            if on_gpu:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            runner = Runner(model, make_loss(args.vgg).to(device), image, mask, dtype, device)
            step_s = timed(runner.train_step, args.steps, args.warmup, f"{name} {prec} train", device)
            infer_s = timed(runner.infer, args.steps, args.warmup, f"{name} {prec} infer", device)
            train_rate = flops_train * args.batch / step_s / 1e9
            infer_rate = flops_fwd * args.batch / infer_s / 1e9
            rows.append({
                "variant": name, "precision": prec, "params": params,
                "gflop_fwd_per_img": flops_fwd / 1e9, "gflop_train_per_img": flops_train / 1e9,
                "train_img_s": args.batch / step_s, "infer_img_s": args.batch / infer_s,
                "train_gflop_s": train_rate, "infer_gflop_s": infer_rate,
                "train_pct_fp32_peak": 100 * train_rate / peaks[torch.float32],
                "train_pct_bf16_peak": 100 * train_rate / peaks[torch.bfloat16],
                "infer_pct_fp32_peak": 100 * infer_rate / peaks[torch.float32],
                "infer_pct_bf16_peak": 100 * infer_rate / peaks[torch.bfloat16],
                "train_step_s": step_s, "infer_batch_s": infer_s, "size": size, "batch": args.batch,
                "width": width, "threads": torch.get_num_threads(), "vgg": args.vgg,
                "peak_fp32_gflop_s": peaks[torch.float32], "peak_bf16_gflop_s": peaks[torch.bfloat16],
                "device": where, "peak_tf32_gflop_s": tf32, "own_peak": own_peak[dtype][0],
                "train_pct_own_peak": 100 * train_rate / own_peak[dtype][1], "peak_mem_mb": peak_memory_mb(device),
            })
            print(f"{name} {prec}: train {step_s:.3f} s/step ({args.batch / step_s:.1f} images/s, "
                  f"{rows[-1]['train_pct_own_peak']:.1f} % of the {own_peak[dtype][0]} matmul peak), "
                  f"infer {infer_s:.3f} s/batch, peak memory {rows[-1]['peak_mem_mb']:.0f} MiB", flush=True)
            del runner
    if not rows:
        print("nothing to benchmark (no trainable variant selected)")
        return rows
    print()
    print(format_table(rows))
    if args.vgg == "random":
        print("(loss network: randomly initialised VGG16, a timing stand-in only)")
    write_csv(Path(args.out), rows, COLUMNS)
    print(f"wrote {args.out}")
    return rows

