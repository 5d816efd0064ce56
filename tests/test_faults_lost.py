"""Issue 25, class 3: nothing finished is lost. A changed job description moves the outputs it replaces
aside instead of overwriting them, one workflow run at a time holds a results folder whatever its
checkout, and the tables folder is replaced whole."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from conftest import tree_bytes, write_images
from helpers.fake_results import DATASET, VARIANTS, per_image_paths
from helpers.workflow import snakemake
from inpaint_bench.harness import results_lock
from inpaint_bench.harness.paths import ResultsLayout
from inpaint_bench.harness.superseded import set_aside
from inpaint_bench.reporting import tables
from inpaint_bench.reporting.results import read_per_images
from inpaint_bench.reporting.stats import Bootstrap

# ------------------------------------------------------------------ the results-folder lock

HOLDER = textwrap.dedent("""
    import sys
    from inpaint_bench.harness.results_lock import acquire
    acquire(sys.argv[1], "/elsewhere/first-checkout")
    print("held", flush=True)
    if sys.argv[2] == "die":
        import os
        os._exit(0)  # as a SIGKILL: no exit handler releases the lock
    sys.stdin.read()  # held until the test closes stdin
""")


def hold_lock(lock: Path, how: str = "hold") -> subprocess.Popen:
    """A live process holding `lock` (as another checkout's workflow run would), or one that dies holding it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock), how], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_run_holding_the_results_folder_stops_another_naming_it(tmp_path):
    lock = tmp_path / "results" / ".lock"
    first = hold_lock(lock)
    try:
        with pytest.raises(results_lock.ResultsLocked) as err:
            results_lock.acquire(lock, "/here/second-checkout")
        message = str(err.value)
        assert "\n" not in message
        for named in (f"host {socket.gethostname()}", f"pid {first.pid}", "checkout /elsewhere/first-checkout",
                      str(tmp_path / "results")):
            assert named in message
    finally:
        first.communicate("")  # the first run ends: its exit releases the lock
    assert not lock.exists()
    assert results_lock.acquire(lock, "/here/second-checkout") is None
    results_lock.release(lock)
    assert not lock.exists()


def test_a_stale_lock_is_taken_over_saying_whose_it_was(tmp_path):
    lock = tmp_path / "results" / ".lock"
    dead = hold_lock(lock, "die")
    dead.wait()
    note = results_lock.acquire(lock, "/here/second-checkout")
    assert f"pid {dead.pid}" in note and "that process is gone" in note
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    results_lock.release(lock)


def toy_config(tmp_path, steps=2) -> Path:
    """A folder dataset of a few images, a classical and a trained row, no FID or LPIPS."""
    if not (tmp_path / "data").exists():
        write_images(tmp_path / "data" / "train", 8, seed=1)
        write_images(tmp_path / "data" / "test", 2, seed=2)
    config = {"results_dir": "results", "image_size": 32, "width": 4,
              "datasets": {"toy": {"kind": "folder", "root": "data"}},
              "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 2},
              "train": {"steps": steps, "batch_size": 2, "checkpoint_every": 2, "precision": "fp32"},
              "eval": {"batch_size": 4, "samples": 1, "fid": False, "lpips": False},
              "variants": {"mean_fill": {"backbone": "mean_fill"}, "pconv": {"backbone": "pconv", "layers": 3}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_workflow_run_stops_at_once_when_another_checkout_holds_its_results(tmp_path):
    """Before: two checkouts on one results_dir both ran, training the same jobs into the same files."""
    config = toy_config(tmp_path)
    first = hold_lock(tmp_path / "results" / ".lock")
    try:
        dry = snakemake(tmp_path, "-n", "--configfile", config)  # a dry run takes no lock
        assert "rule train:" in dry.stdout
        second = snakemake(tmp_path, "--cores", "1", "--configfile", config, check=False)
    finally:
        first.communicate("")
    output = second.stdout + second.stderr
    assert second.returncode != 0, output[-2000:]
    assert f"is in use by another workflow run (host {socket.gethostname()}, pid {first.pid}, checkout " \
           f"/elsewhere/first-checkout" in output
    assert not (tmp_path / "results" / "runs").exists()  # no job ran


# ------------------------------------------------------------------ superseded outputs


def finished_run(root: Path, key: str, digest: str) -> ResultsLayout:
    layout = ResultsLayout(root)
    (root / key / "eval").mkdir(parents=True)
    (root / key / "model.pt").write_bytes(b"weights of days")
    (root / key / "eval" / "summary.csv").write_text("numbers")
    layout.job_file(key, digest).parent.mkdir(parents=True)
    layout.job_file(key, digest).write_text('{"settings": {"steps": 2}}')
    return layout


def test_outputs_of_another_description_are_moved_aside_under_its_digest(tmp_path):
    key, old, new = "runs/toy/pconv/seed0", "a" * 16, "b" * 16
    layout = finished_run(tmp_path, key, old)
    log = tmp_path / "logs" / "train.log"
    log.parent.mkdir()
    log.write_text("the old run's log")
    done = set_aside(layout, key, new, [log])
    kept = tmp_path / "superseded" / key / old
    assert done.startswith(f"kept the outputs of {key} computed for its earlier job {old} in {kept}")
    assert (kept / "model.pt").read_bytes() == b"weights of days"
    assert (kept / "eval" / "summary.csv").read_text() == "numbers"
    assert json.loads(kept.with_name(old + ".json").read_text()) == {"settings": {"steps": 2}}
    assert kept.with_name(old + ".log").read_text() == "the old run's log"
    assert not (tmp_path / key).exists()
    # the same description superseded again (A -> B -> A -> B) keeps both runs
    (tmp_path / key).mkdir(parents=True)
    (tmp_path / key / "model.pt").write_bytes(b"second")
    assert set_aside(layout, key, new) is not None
    assert (tmp_path / "superseded" / key / f"{old}-2" / "model.pt").read_bytes() == b"second"


def test_a_rerun_of_the_same_description_or_an_unknown_one_keeps_the_folder(tmp_path):
    key, old = "runs/toy/pconv/seed0", "a" * 16
    layout = finished_run(tmp_path, key, old)
    assert set_aside(layout, key, old) is None  # resuming, --forcerun: the job decides (checkpoints)
    layout.job_file(key, old).unlink()  # results/jobs/ deleted: which job made them is unknown
    assert set_aside(layout, key, "b" * 16) is None
    assert (tmp_path / key / "model.pt").exists()


def test_keep_superseded_false_deletes_them(tmp_path):
    key, old = "runs/toy/pconv/seed0", "a" * 16
    layout = finished_run(tmp_path, key, old)
    assert "keep_superseded: false" in set_aside(layout, key, "b" * 16, keep=False)
    assert not (tmp_path / key).exists() and not (tmp_path / "superseded").exists()


@pytest.mark.slow  # three real runs of the default target (one fails at its tables)
def test_a_changed_train_steps_keeps_the_finished_run_and_the_tables_survive_a_failed_rewrite(tmp_path):
    """Before: changing train.steps retrained over the finished model.pt, checkpoints and eval/ in
    place; and a tables job that failed (or was killed) left results/tables/ without the tables,
    since Snakemake deletes a job's outputs before it runs."""
    results = tmp_path / "results"
    run = results / "runs" / "toy" / "pconv" / "seed0"
    snakemake(tmp_path, "--cores", "1", "--configfile", toy_config(tmp_path, steps=2))
    old_model = (run / "model.pt").read_bytes()
    [old_digest] = [p.stem for p in (results / "jobs" / "runs" / "toy" / "pconv" / "seed0").glob("*.json")]

    # the tables job fails while rewriting (an unreadable per-image file): the tables stay
    before = tree_bytes(results / "tables")
    per_image = run / "eval" / "per_image.csv"
    good = per_image.read_bytes()
    per_image.write_text("not a csv\x00")
    failed = snakemake(tmp_path, "--cores", "1", "--configfile", tmp_path / "c.yaml", check=False)
    assert failed.returncode != 0 and "rule tables" in failed.stdout + failed.stderr
    assert tree_bytes(results / "tables") == before
    per_image.write_bytes(good)

    out = snakemake(tmp_path, "--cores", "1", "--configfile", toy_config(tmp_path, steps=3))
    kept = results / "superseded" / "runs" / "toy" / "pconv" / "seed0" / old_digest
    assert f"kept the outputs of runs/toy/pconv/seed0 computed for its earlier job {old_digest} in " \
           f"{Path('results') / 'superseded' / 'runs' / 'toy' / 'pconv' / 'seed0' / old_digest}" in out.stderr
    assert (kept / "model.pt").read_bytes() == old_model
    # (no checkpoint.pt: a finished run's checkpoints are removed unless train.keep_checkpoint)
    assert {"train_log.csv", "provenance.json", "eval"} <= {p.name for p in kept.iterdir()}
    assert (kept / "eval" / "summary.csv").is_file()
    assert json.loads(kept.with_name(old_digest + ".json").read_text())["settings"]["steps"] == 2
    assert kept.with_name(old_digest + ".log").is_file()  # the old training job's log
    assert torch.load(run / "model.pt", weights_only=False)["steps"] == 3
    assert f"are kept in {kept.parent.relative_to(tmp_path)}: {old_digest}" in \
        (results / "logs" / "train" / "toy" / "pconv" / "seed0.log").read_text()
    assert not (results / "superseded" / "runs" / "toy" / "mean_fill").exists()  # its job did not change
    assert not (results / ".lock").exists()  # released at the end


# ------------------------------------------------------------------ tables replaced whole


def test_a_failure_while_the_tables_are_written_leaves_the_previous_folder(results, tmp_path, monkeypatch):
    """Before: the absolute table was rewritten, then the ablation table failed: a folder of both
    versions (and, under Snakemake, of neither)."""
    _, paths, summary = results
    per_image = read_per_images(per_image_paths(paths))
    out = tmp_path / "tables"
    tables.write_tables(summary, DATASET, out, VARIANTS, per_image=per_image, bootstrap=Bootstrap(resamples=50))
    before = tree_bytes(out)

    def fail(*args, **kwargs):
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(tables, "write_ablation", fail)
    with pytest.raises(RuntimeError, match="killed mid-write"):  # another row order: other absolute tables
        tables.write_tables(summary, DATASET, out, VARIANTS[::-1], per_image=per_image,
                            bootstrap=Bootstrap(resamples=50))
    assert tree_bytes(out) == before
    assert not [p.name for p in tmp_path.iterdir() if ".partial." in p.name]  # no partial folder left beside it


def test_tables_left_aside_by_a_writer_killed_between_its_renames_come_back(results, tmp_path):
    """replace_folder moves the old folder aside, then the new one in: a kill between the two leaves
    no tables/ but .tables.old.*, which the next write puts back before it adds its own files."""
    _, _, summary = results
    aside = tmp_path / ".tables.old.x1"
    aside.mkdir()
    (aside / "another.md").write_text("another dataset's table")
    tables.write_tables(summary, DATASET, tmp_path / "tables", VARIANTS)
    assert (tmp_path / "tables" / "another.md").read_text() == "another dataset's table"
    assert (tmp_path / "tables" / f"{DATASET}.md").is_file() and not aside.exists()


def test_writing_one_datasets_tables_keeps_the_others(results, tmp_path):
    _, paths, summary = results
    out = tmp_path / "tables"
    out.mkdir()
    (out / "another.md").write_text("another dataset's table")
    written = tables.write_tables(summary, DATASET, out, VARIANTS)
    assert (out / "another.md").read_text() == "another dataset's table"
    assert all(p.parent == out and p.is_file() for p in written.values())
    assert oct(out.stat().st_mode & 0o777) == oct(0o755 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
