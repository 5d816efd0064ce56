"""The benchmark's wiring on a tiny config (timings themselves belong in the benchmark, not here)."""
import csv

import pytest
import torch

from inpaint_bench.bench import measure as bench
from inpaint_bench.cli.bench import main as bench_main
from inpaint_bench.jobs.validate import load_config


def test_bench_reports_every_trainable_variant_with_flops_and_rates(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr("inpaint_bench.bench.measure.cpu_has_fast_bf16", lambda: True)  # `both`: fp32 and bf16
    path, config, write = tiny_config
    config["width"] = 8
    config["variants"] = {"mean_fill": {"backbone": "mean_fill"},
                          "rfr_kca": {"backbone": "rfr", "attention": "kca", "iterations": 2}}
    write(config)
    out = tmp_path / "bench.csv"
    bench_main(["--config", str(path), "--size", "32", "--batch", "1", "--steps", "1", "--warmup", "0",
                "--precision", "both", "--vgg", "none", "--peak-seconds", "0.05", "--out", str(out)])
    rows = list(csv.DictReader(open(out)))
    assert [(r["variant"], r["precision"]) for r in rows] == [("rfr_kca", "fp32"), ("rfr_kca", "bf16")]
    for row in rows:
        assert int(row["params"]) > 0
        # a training step costs more FLOPs than a forward pass (backward ~ 2x forward)
        assert float(row["gflop_train_per_img"]) > 2 * float(row["gflop_fwd_per_img"]) > 0
        assert float(row["train_img_s"]) > 0 and float(row["infer_img_s"]) > 0
        assert 0 < float(row["train_pct_bf16_peak"]) and float(row["peak_bf16_gflop_s"]) > 0
        # the fraction of the peak of the precision used (fp32 on a CPU: fp32), and the peak memory
        assert row["own_peak"] == row["precision"] and float(row["train_pct_own_peak"]) > 0
        assert float(row["peak_mem_mb"]) > 0 and row["device"].startswith("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without a GPU")
def test_bench_on_a_gpu_that_is_not_there_says_so(tiny_config):
    path, _, _ = tiny_config
    with pytest.raises(SystemExit, match="--device cuda: torch sees no CUDA device"):
        bench_main(["--config", str(path), "--device", "cuda"])


def test_bench_on_a_cpu_without_native_bf16_measures_fp32_only(tiny_config, tmp_path, monkeypatch, capsys):
    """An AVX2-only CPU emulates bf16 (a 2048^2 bf16 matmul takes minutes there): `both` and `auto` measure
    neither its peak nor its rows, and state the fp32 peak every row is compared with."""
    monkeypatch.setattr("inpaint_bench.bench.measure.cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr("inpaint_bench.training.precision.cpu_has_fast_bf16", lambda: False)
    measured = []
    real_peak = bench.measure_matmul_peak
    monkeypatch.setattr(bench, "measure_matmul_peak",
                        lambda dtype, *a, **k: measured.append(dtype) or real_peak(dtype, *a, **k))
    path, config, write = tiny_config
    config["width"] = 8
    config["variants"] = {"rfr": {"backbone": "rfr", "iterations": 2}}
    write(config)
    for precision in ("both", "auto"):
        out = tmp_path / f"{precision}.csv"
        bench_main(["--config", str(path), "--size", "32", "--batch", "1", "--steps", "1", "--warmup", "0",
                    "--precision", precision, "--vgg", "none", "--peak-seconds", "0.01", "--out", str(out)])
        rows = list(csv.DictReader(open(out)))
        assert [r["precision"] for r in rows] == ["fp32"]
        assert float(rows[0]["peak_fp32_gflop_s"]) > 0 and float(rows[0]["train_pct_fp32_peak"]) > 0
    assert torch.bfloat16 not in measured and measured == [torch.float32, torch.float32]
    printed = capsys.readouterr().out
    assert "bf16: not measured, this CPU has no native bf16" in printed
    assert "every row's %fp32pk is against it" in printed


def test_bench_memory_measures_each_row_in_its_own_process_and_the_dry_run_compares(tiny_config, tmp_path):
    """`--memory`: one training step per row, each in a fresh process (a process's peak resident size never
    falls, so rows measured in one process would carry each other's peaks); the dry run then warns about a
    row whose measured peak exceeds resources.train.mem_mb, and only about that one."""
    path, config, write = tiny_config
    config["width"] = 8
    config["variants"] = {"mean_fill": {"backbone": "mean_fill"}, "pconv": {"backbone": "pconv", "layers": 3},
                          "rfr": {"backbone": "rfr", "iterations": 2}}
    write(config)
    out = tmp_path / "memory.csv"
    rows = bench_main(["--config", str(path), "--size", "32", "--batch", "1", "--precision", "fp32", "--vgg", "none",
                       "--memory", "--out", str(out)])
    assert [r["variant"] for r in rows] == ["pconv", "rfr"]  # the classical row trains nothing
    assert all(r["peak_mem_mb"] > 50 for r in rows)  # torch alone is more than 50 MiB resident
    assert list(csv.DictReader(open(out)))[1]["peak_mem_mb"] == str(rows[1]["peak_mem_mb"])

    config = load_config(path)
    batch = config["train"]["batch_size"]
    fake = tmp_path / "measured.csv"
    fake.write_text("variant,precision,device,size,batch,width,peak_mem_mb\n"
                    f"rfr,fp32,cpu,{config['image_size']},{batch},{config['width']},999999\n"
                    f"pconv,fp32,cpu,{config['image_size']},{batch},{config['width']},10\n"
                    f"pconv,fp32,cpu,{config['image_size']},{batch + 1},{config['width']},999999\n")
    lines = bench.memory_warnings(config, fake)
    assert lines == [f"toy/rfr: one training step at batch {batch} peaked at 999999 MB on the CPU ({fake}), "
                     f"above resources.train.mem_mb {config['resources']['train']['mem_mb']}"]
    assert bench.memory_warnings(config, tmp_path / "none.csv") == []
