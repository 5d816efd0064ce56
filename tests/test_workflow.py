"""End to end: the Snakemake DAG on config/ci.yaml in a temporary folder."""
import math
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from helpers.workflow import REPO, planned_jobs, snakemake

CI_CONFIG = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dag")
    snakemake(workdir, "--cores", "2", "--configfile", str(REPO / "config" / "ci.yaml"))
    return workdir


def test_dag_writes_tables_and_plots_with_a_number_or_missing_in_every_cell(ci_run):
    results = ci_run / "results"
    summary = pd.read_csv(results / "summary.csv")
    variants = list(CI_CONFIG["variants"])
    buckets = [f"{lo:g}-{hi:g}" for lo, hi in CI_CONFIG["masks"]["buckets"]]
    for dataset in CI_CONFIG["datasets"]:
        table = pd.read_csv(results / "tables" / f"{dataset}.csv")
        text = (results / "tables" / f"{dataset}.md").read_text()
        assert (results / "tables" / f"{dataset}.tex").read_text().count("\\\\") >= len(variants)
        for variant in variants:
            assert variant.replace("_", "\\_") in (results / "tables" / f"{dataset}.tex").read_text()
            assert variant in text
        part = summary[summary.dataset == dataset]
        for variant in variants:
            for bucket in buckets:
                rows = part[(part.variant == variant) & (part.bucket == bucket)]
                for metric in ("psnr", "ssim", "l1"):
                    value = rows[rows.metric == metric].value
                    assert len(value) == 1 and math.isfinite(float(value.iloc[0])), (variant, bucket, metric)
                for metric in ("lpips", "fid", "kid"):
                    row = rows[rows.metric == metric]
                    assert len(row) == 1, (variant, bucket, metric)
                    value, note = float(row.value.iloc[0]), str(row.note.iloc[0])
                    assert math.isfinite(value) or note.startswith("missing: "), (variant, bucket, metric, note)
        assert len(table) == len(variants)
        for plot in ("metrics", "loss", "qualitative", "validation"):
            assert (results / "plots" / f"{dataset}_{plot}.png").stat().st_size > 5000
        for variant in variants:
            trained = CI_CONFIG["variants"][variant]["backbone"] not in ("mean_fill", "biharmonic")
            validation = (results / "runs" / dataset / variant / "seed0" / "validation.csv" if trained
                          else results / "runs" / dataset / variant / "validation.csv")
            frame = pd.read_csv(validation)
            assert sorted(frame.step.unique()) == ([2, 4] if trained else [0]), (variant, frame)


def test_dag_is_complete_and_editing_one_variant_reruns_only_its_jobs(ci_run, tmp_path):
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    path = tmp_path / "ci.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    nothing = snakemake(ci_run, "-n", "--configfile", str(path))
    assert planned_jobs(nothing.stdout) == [], nothing.stdout

    config["variants"]["pconv"]["layers"] = 3
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    dry = snakemake(ci_run, "-n", "--configfile", str(path))
    jobs = planned_jobs(dry.stdout)
    trained = [w for r, w in jobs if r in ("train", "evaluate")]
    assert trained and all("variant=pconv" in w for w in trained), jobs
    assert {r for r, _ in jobs} <= {"describe_job", "train", "evaluate", "aggregate", "tables", "plots",
                                    "validation_plot", "all"}
    # the new descriptions (common.smk, job_file): pconv's jobs and the config-wide summary's only
    described = [w.split(",")[0] for r, w in jobs if r == "describe_job"]
    assert sorted(described) == ["key=runs/mini_natural/pconv/seed0", "key=runs/mini_natural/pconv/seed0/eval",
                                 "key=summary"], described


def test_misspelt_config_key_fails_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["train"]["batchsize"] = 2
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(tmp_path, "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert "batchsize" in proc.stdout + proc.stderr
    assert not (tmp_path / "results" / "runs").exists()


def test_required_weights_missing_fails_before_any_training(tmp_path):
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["weights"] = {"dir": str(tmp_path / "no_weights"), "required": True}
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    env_home = {"TORCH_HOME": str(tmp_path / "torch_home")}
    os.environ.update(env_home)
    try:
        proc = snakemake(tmp_path, "--cores", "1", "--configfile", str(path), check=False)
    finally:
        del os.environ["TORCH_HOME"]
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "vgg16-397923af.pth" in out and "pt_inception-2015-12-05-6726825d.pth" in out
    assert not (tmp_path / "results" / "runs").exists()


def test_one_teacher_job_per_dataset_architecture_and_seed_feeds_the_students(ci_run):
    teachers = sorted(p.relative_to(ci_run / "results" / "teachers")
                      for p in (ci_run / "results" / "teachers").rglob("model.pt"))
    # rfr_kca_cd and rfr_kca_dgi share the rfr+kca teacher; baseline_dgi has the encdec+dgi one
    assert [str(p.parent.parent) for p in teachers] == ["mini_natural/encdec_attention-dgi",
                                                        "mini_natural/rfr_attention-kca_iterations-2"]
    logs = sorted(p.relative_to(ci_run / "results" / "logs" / "teachers")
                  for p in (ci_run / "results" / "logs" / "teachers").rglob("*.log"))
    assert [str(p.parent) for p in logs] == ["mini_natural/encdec_attention-dgi",
                                             "mini_natural/rfr_attention-kca_iterations-2"]
    fresh = snakemake(ci_run.parent / "fresh_dag", "-n", "--configfile", str(REPO / "config" / "ci.yaml"))
    jobs = planned_jobs(fresh.stdout)
    assert sorted(w for r, w in jobs if r == "train_teacher") == [
        "dataset=mini_natural, arch=encdec_attention-dgi, seed=0",
        "dataset=mini_natural, arch=rfr_attention-kca_iterations-2, seed=0"]
    students = [w for r, w in jobs if r == "train"]
    assert len(students) == 6 and any("variant=rfr_kca_dgi" in w for w in students)


def test_every_seed_is_scored_on_the_one_mask_set_of_masks_seed(tmp_path):
    """Differences between rows and seeds are paired: three training seeds, one test mask set."""
    config = {**CI_CONFIG, "seeds": [0, 1, 2], "masks": {**CI_CONFIG["masks"], "seed": 7}}
    path = tmp_path / "three_seeds.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--configfile", str(path)).stdout)
    assert [w for r, w in jobs if r == "make_test_masks"] == ["seed=7"]
    assert sorted({w.rsplit("seed=", 1)[1] for r, w in jobs if r == "evaluate"}) == ["0", "1", "2"]


def test_validation_jobs_are_planned_only_where_validation_is_on(tmp_path):
    """A classical row's validation job scores nothing when validation is off: it is not planned (a cluster
    would otherwise receive an sbatch job for nothing), and when planned it asks for the evaluate resources."""
    config = {**CI_CONFIG, "resources": {"evaluate": {"mem_mb": 1234}}}
    on = tmp_path / "on.yaml"
    on.write_text(yaml.safe_dump(config))
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump({**config, "train": {**config["train"], "validation": {"every": 0}}}))
    planned = snakemake(tmp_path / "a", "-n", "--configfile", str(on)).stdout
    assert {r for r, _ in planned_jobs(planned)} >= {"validate_classical", "validation_plot"}
    block = planned[planned.index("rule validate_classical:"):]
    assert "mem_mb=1234" in block[:block.index("\n\n")].replace(" ", "")
    jobs = planned_jobs(snakemake(tmp_path / "b", "-n", "--configfile", str(off)).stdout)
    assert "validate_classical" not in {r for r, _ in jobs} and "validation_plot" in {r for r, _ in jobs}


def test_the_dry_run_warns_about_a_row_whose_measured_memory_exceeds_its_request(tmp_path):
    """`inpaint-bench bench --memory` writes <results_dir>/bench/memory.csv; a dry run then names each row
    whose measured training step needs more than resources.train.mem_mb (here: pconv only)."""
    dataset = next(iter(CI_CONFIG["datasets"]))
    batch = CI_CONFIG["train"]["batch_size"]
    measured = tmp_path / "results" / "bench" / "memory.csv"
    measured.parent.mkdir(parents=True)
    measured.write_text("variant,precision,device,size,batch,width,peak_mem_mb\n"
                        f"pconv,fp32,cpu,{CI_CONFIG['image_size']},{batch},{CI_CONFIG['width']},987654\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "ci.yaml"))
    printed = proc.stdout + proc.stderr  # Snakemake's logger
    assert f"memory: {dataset}/pconv: one training step at batch {batch} peaked at 987654 MB" in printed
    assert printed.count("memory: ") == len(CI_CONFIG["datasets"])


def test_dry_run_writes_no_file(tmp_path):
    proc = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "ci.yaml"))
    assert "train_teacher" in proc.stdout
    written = [p for p in tmp_path.rglob("*") if ".snakemake" not in p.parts]
    assert written == [], written


def test_shared_teacher_ignores_the_students_own_train_overrides(tmp_path):
    """One teacher serves every student of an architecture: it trains with the dataset's schedule,
    whatever the students' `train` overrides and their order in the config."""
    def teacher(order):
        config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
        students = {"slow": {"backbone": "encdec", "distill": {"cross": 1.0}, "train": {"steps": 7, "lr": 1e-4}},
                    "fast": {"backbone": "encdec", "distill": {"self": 1.0}}}
        config["variants"] = {name: students[name] for name in order}
        workdir = tmp_path / "_".join(order)
        workdir.mkdir()
        (workdir / "c.yaml").write_text(yaml.safe_dump(config, sort_keys=False))  # keep the order
        target = "results/teachers/mini_natural/encdec/seed0/model.pt"
        snakemake(workdir, target, "--cores", "1", "--configfile", str(workdir / "c.yaml"))
        return torch.load(workdir / target, map_location="cpu", weights_only=False)

    first, second = teacher(["slow", "fast"]), teacher(["fast", "slow"])
    assert first["steps"] == second["steps"] == CI_CONFIG["train"]["steps"]
    for key in first["state_dict"]:
        assert torch.equal(first["state_dict"][key], second["state_dict"][key]), key


def test_a_hand_run_of_the_training_command_reproduces_the_workflows_model(ci_run, tmp_path):
    """The README's hand-run command resolves the same job (threads included) as the workflow."""
    out = tmp_path / "hand"
    subprocess.run([sys.executable, "-m", "inpaint_bench.cli", "train", "--config", str(REPO / "config" / "ci.yaml"),
                    "--dataset", "mini_natural", "--variant", "rfr_kca", "--seed", "0", "--out", str(out)],
                   cwd=ci_run, check=True, capture_output=True)
    dag = torch.load(ci_run / "results/runs/mini_natural/rfr_kca/seed0/model.pt", weights_only=False)
    hand = torch.load(out / "model.pt", weights_only=False)
    for key in dag["state_dict"]:
        assert torch.equal(dag["state_dict"][key], hand["state_dict"][key]), key


def test_running_the_same_config_twice_gives_identical_weights_and_summary(ci_run, tmp_path):
    """Determinism on one machine: a second run of config/ci.yaml in another folder writes the same
    summary.csv, byte for byte, and the same tensors in every model.pt (teachers included)."""
    snakemake(tmp_path, "--cores", "2", "--configfile", str(REPO / "config" / "ci.yaml"))
    first, second = ci_run / "results", tmp_path / "results"
    assert (first / "summary.csv").read_bytes() == (second / "summary.csv").read_bytes()
    models = sorted(p.relative_to(first) for p in first.glob("**/model.pt"))
    assert len(models) == 8  # 6 students and 2 teachers
    for rel in models:
        a = torch.load(first / rel, weights_only=False)["state_dict"]
        b = torch.load(second / rel, weights_only=False)["state_dict"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), rel


def test_training_and_evaluation_logs_show_rate_and_time_left(ci_run):
    """Not a terminal: plain progress lines, the last one at 100%, with steps/s (images/s) and ETA."""
    train_log = (ci_run / "results" / "logs" / "train" / "mini_natural" / "baseline" / "seed0.log").read_text()
    assert re.search(r"mini_natural/baseline/student: 4/4 steps \(100%\), [\d.]+ steps/s, ETA 0m00s, loss=", train_log)
    eval_log = (ci_run / "results" / "logs" / "evaluate" / "mini_natural" / "baseline" / "seed0.log").read_text()
    assert re.search(r"eval mini_natural/baseline: 8/8 imgs \(100%\), [\d.]+ imgs/s, ETA 0m00s", eval_log)
