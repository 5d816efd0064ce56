"""Issue 18: folders the user names are not ours to overwrite, faults that passed the dry run are
refused by it, and messages name the file, key or argument at fault (never a traceback for a user
error). Every bad input is made here; the configs are tiny."""
from __future__ import annotations

import codecs
import errno

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from test_faults import small_config

from helpers.workflow import REPO, snakemake
from inpaint_bench.cli import score as score_cli
from inpaint_bench.cli.compare import main as compare_main
from inpaint_bench.cli.evaluate import main as eval_main
from inpaint_bench.cli.export import main as export_main
from inpaint_bench.cli.train import main as train_main
from inpaint_bench.datasets import load_test_masks, make_test_masks
from inpaint_bench.datasets.imagefile import read_rgb
from inpaint_bench.datasets.strokes import bucket_mask
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.harness.joblog import job_log
from inpaint_bench.jobs.resolve import eval_job, train_job
from inpaint_bench.jobs.validate import load_config, validate_config
from inpaint_bench.training.train import Trainer


@pytest.fixture
def threads():
    """Restores torch's thread count, which the CLIs set."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _toy_args(path, *more):
    return ["--config", str(path), "--dataset", "toy", *more]


def _masks(tmp_path, config):
    masks = tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=2, seed=0)
    return masks


def _score_folders(root, stem="a"):
    """pred/, gt/ and masks/ (a flat mask) for metrics.score; returns its argv without --out."""
    image = np.full((32, 32, 3), 90, np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[:16] = 255
    for folder, array in (("pred", image + 10), ("gt", image), ("masks", mask)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / folder / f"{stem}.png")
    return ["--pred", str(root / "pred"), "--gt", str(root / "gt"), "--masks", str(root / "masks"),
            "--weights-dir", str(root / "none")]


# ------------------------------------------------------------------ 5. folders the user names


def test_export_refuses_a_users_folder_and_replaces_its_own_whole(tiny_config, tmp_path, threads):
    """Before: a user's DIR/gt/00000.png was replaced and their other files were left beside the
    export (then picked up by metrics.score)."""
    path, config, _ = tiny_config
    masks = _masks(tmp_path, config)
    out = tmp_path / "mine"
    (out / "gt").mkdir(parents=True)
    (out / "gt" / "img000.png").write_bytes(b"my own picture")
    (out / "notes.txt").write_text("mine")
    args = _toy_args(path, "--out", str(out), "--masks", str(masks))
    with pytest.raises(SystemExit, match=r"^error: --out: .*mine holds files this tool did not write \(gt, notes.txt\)"
                                         r"; .*--force"):
        export_main(args)
    assert (out / "gt" / "img000.png").read_bytes() == b"my own picture" and (out / "notes.txt").exists()

    export_main(args + ["--force"])  # replaced whole: nothing of the user's is left to mix with the export
    assert not (out / "notes.txt").exists() and (out / "export.json").is_file()
    assert sorted(p.name for p in (out / "gt").iterdir()) == [f"img{i:03d}.png" for i in range(4)]
    # an earlier export is ours: replaced whole without --force, no stale image of a larger set left
    (out / "gt" / "img999.png").write_bytes((out / "gt" / "img000.png").read_bytes())
    export_main(args)
    assert not (out / "gt" / "img999.png").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial." in p.name or ".old." in p.name]


def test_score_refuses_to_replace_a_file_it_did_not_write(tmp_path, capsys):
    args = _score_folders(tmp_path)
    out = tmp_path / "results.csv"
    out.write_text("my,own,table\n1,2,3\n")
    assert score_cli.main(args + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "results.csv exists and is not a result file of this tool" in err and "--force" in err
    assert out.read_text() == "my,own,table\n1,2,3\n"
    assert score_cli.main(args + ["--out", str(out), "--force"]) == 0
    assert score_cli.main(args + ["--out", str(out)]) == 0  # its own result: replaced
    (tmp_path / "other_summary.csv").write_text("x\n")  # the summary's name is taken by a file of the user's
    assert score_cli.main(args + ["--out", str(tmp_path / "other.csv")]) == 2
    assert "other_summary.csv exists and is not a result file" in capsys.readouterr().err


def test_train_and_evaluate_refuse_a_folder_of_the_users(tiny_config, tmp_path, threads):
    path, config, _ = tiny_config
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    with pytest.raises(SystemExit, match=r"^error: --out: .*documents holds files this tool did not write "
                                         r"\(thesis.tex\)"):
        train_main(_toy_args(path, "--variant", "pconv", "--seed", "0", "--out", str(out), "--threads", "1"))
    with pytest.raises(SystemExit, match=r"^error: --out: .*documents holds files this tool did not write"):
        eval_main(_toy_args(path, "--variant", "mean_fill", "--seed", "0", "--out", str(out), "--threads", "1",
                            "--masks", str(_masks(tmp_path, config))))
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_an_evaluation_leaves_no_sample_of_an_earlier_one(tiny_config, tmp_path):
    path, config, _ = tiny_config
    out = tmp_path / "eval"
    stale = out / "samples" / "0.1-0.3" / "old_image_output.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier model's composite")
    evaluate(eval_job(load_config(path), "toy", "mean_fill", 0), out, masks_dir=_masks(tmp_path, config))
    assert not stale.exists() and sorted(p.name for p in (out / "samples").iterdir()) == ["0.1-0.3", "0.3-0.6"]


# ------------------------------------------------------------------ 7. faults that passed the dry run


def test_sizes_and_paths_a_job_would_fail_on_are_refused_by_the_config_check(tiny_config, tmp_path):
    _, config, _ = tiny_config
    (tmp_path / "afile").write_text("")
    bad = {**config, "width": 12, "results_dir": str(tmp_path / "afile"),
           "variants": {"pconv": {"backbone": "pconv", "layers": 8}, "baseline": {"backbone": "encdec"},
                        "rfr": {"backbone": "rfr"}}}
    with pytest.raises(ConfigError) as caught:
        validate_config(yaml.safe_load(yaml.safe_dump(bad)))
    message = str(caught.value)
    assert "results_dir: " in message and "afile is an existing file, not a folder" in message
    assert "variants.baseline: width (the config key `width`) must be a positive multiple of 8" in message
    assert "variants.rfr: width" in message
    assert ("variants.pconv: layers: 8 encoder layers halve the image 8 times, so image_size 32 must be a "
            "multiple of 256; use layers: 5 or fewer") in message
    for width in (4, 12):
        with pytest.raises(ConfigError, match=f"got {width}"):
            validate_config(yaml.safe_load(yaml.safe_dump({**config, "width": width,
                                                           "variants": {"b": {"backbone": "encdec"}}})))
    validate_config(yaml.safe_load(yaml.safe_dump({**config, "width": 16, "variants": {
        "b": {"backbone": "encdec"}, "p": {"backbone": "pconv", "layers": 5}}})))  # all fit


def test_a_dry_run_refuses_them_naming_the_key_or_file(tmp_path):
    """Before: `snakemake -n` planned the jobs; width 12 or pconv layers 8 failed inside a job with a
    traceback, a zero-byte test image when evaluated, results_dir=<a file> in Snakemake's own code."""
    (tmp_path / "afile").write_text("")
    config = small_config(tmp_path, width=12, results_dir=str(tmp_path / "afile"))
    data = yaml.safe_load(open(config))
    data["variants"].update(baseline={"backbone": "encdec"}, pconv={"backbone": "pconv", "layers": 8})
    open(config, "w").write(yaml.safe_dump(data))
    proc = snakemake(tmp_path, "-n", "--configfile", config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "results_dir" in out and "variants.baseline: width" in out and "variants.pconv: layers: 8" in out

    photos = tmp_path / "photos"
    for split in ("train", "test"):
        (photos / split).mkdir(parents=True)
        Image.new("RGB", (40, 40)).save(photos / split / "a.png")
    (photos / "test" / "b.png").write_bytes(b"")
    config = small_config(tmp_path, datasets={"mine": {"kind": "folder", "root": str(photos)}})
    proc = snakemake(tmp_path, "-n", "--configfile", config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "datasets.mine: " in out and "test/b.png is an empty file (0 bytes)" in out
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------ 8. messages


def test_a_full_disk_during_training_names_the_file(tiny_config, tmp_path, monkeypatch, threads):
    path, _, _ = tiny_config
    with pytest.warns(UserWarning):  # VGG16 weights missing
        trainer = Trainer(train_job(load_config(path), "toy", "pconv", 0), tmp_path / "run")

    def full(fd):  # the disk fills up after the output folder was checked
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("inpaint_bench.harness.fileio.os.fsync", full)
    with pytest.raises(OSError, match=r"cannot write .*run/provenance.json: No space left on device") as caught:
        trainer.fit()
    assert caught.value.errno == errno.ENOSPC
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]  # no torn file left


def test_score_out_a_folder_is_an_error_with_status_2(tmp_path, capsys):
    args = _score_folders(tmp_path)
    (tmp_path / "res").mkdir()
    assert score_cli.main(args + ["--out", str(tmp_path / "res")]) == 2  # before: IsADirectoryError, status 1
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "res is a folder: name the per-image CSV" in err
    assert "Traceback" not in err


def test_a_manifest_with_a_byte_order_mark_is_read(tmp_path, capsys):
    """Excel's "CSV UTF-8" starts the file with a BOM: before, "missing column bucket; it has bucket"."""
    make_test_masks(tmp_path / "set", 32, [(0.1, 0.9)], count=1, seed=0)
    manifest = tmp_path / "set" / "manifest.csv"
    manifest.write_bytes(codecs.BOM_UTF8 + manifest.read_bytes())
    assert list(load_test_masks(tmp_path / "set")) == ["0.1-0.9"]

    args = _score_folders(tmp_path / "s", stem="00000")
    mask = tmp_path / "s" / "masks" / "00000.png"
    (tmp_path / "s" / "masks" / "0.1-0.9").mkdir()
    mask.rename(tmp_path / "s" / "masks" / "0.1-0.9" / "00000.png")
    (tmp_path / "s" / "masks" / "manifest.csv").write_bytes(codecs.BOM_UTF8 + b"bucket,file\n0.1-0.9,00000.png\n")
    assert score_cli.main(args + ["--out", str(tmp_path / "scores.csv")]) == 0, capsys.readouterr().err


def test_lr_written_1e_3_in_yaml_is_read_as_a_number(tiny_config):
    """PyYAML reads `1e-3` (no dot) as a string; the config check reads a text that plainly is a number
    where the schema asks for one."""
    path, config, write = tiny_config
    text = path.read_text().replace("precision: fp32", "precision: fp32\n  lr: 1e-3\n  finetune_lr: 5e-5")
    path.write_text(text)
    assert yaml.safe_load(text)["train"]["lr"] == "1e-3"
    loaded = load_config(path)
    assert loaded["train"]["lr"] == 0.001 and loaded["train"]["finetune_lr"] == 5e-5


def test_masks_count_0_says_what_is_allowed(tiny_config):
    _, config, _ = tiny_config
    with pytest.raises(ConfigError) as caught:  # before: "0 is not valid under any of the given schemas"
        validate_config(yaml.safe_load(yaml.safe_dump({**config, "masks": {**config["masks"], "count": 0}})))
    assert "at 'masks/count': 0 is not allowed here: 0 is less than the minimum of 1; or 'all' was expected" \
        in str(caught.value)


def test_compare_of_an_empty_csv_names_the_file(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SystemExit, match=r"^error: .*empty.csv: not a readable CSV \(No columns to parse"):
        compare_main([str(tmp_path / "empty.csv"), str(tmp_path / "empty.csv")])


def test_every_command_shows_the_traceback_with_harness_debug(tmp_path, monkeypatch):
    """The commands share one handling of expected faults (inpaint_bench.cli.common): one line, or with
    HARNESS_DEBUG=1 the exception itself; before, compare, tables, plots, aggregate, mini, masks and export
    printed the line even then."""
    (tmp_path / "empty.csv").write_bytes(b"")
    monkeypatch.setenv("HARNESS_DEBUG", "1")
    with pytest.raises(ValueError, match=r"empty.csv: not a readable CSV"):
        compare_main([str(tmp_path / "empty.csv"), str(tmp_path / "empty.csv")])


def test_evaluate_model_a_folder_says_it_is_a_folder(tiny_config, tmp_path, threads):
    path, config, _ = tiny_config
    (tmp_path / "run").mkdir()
    with pytest.raises(SystemExit, match=r"^error: .*run is a folder, not a model file: pass the model.pt inside it"):
        eval_main(_toy_args(path, "--variant", "pconv", "--seed", "0", "--model", str(tmp_path / "run"),
                            "--out", str(tmp_path / "e"), "--masks", str(_masks(tmp_path, config)), "--threads", "1"))


@pytest.mark.parametrize("main", [train_main, eval_main])
def test_a_negative_seed_names_the_argument(tiny_config, capsys, main):
    path, _, _ = tiny_config
    with pytest.raises(SystemExit) as caught:  # before: "error: expected non-negative integer"
        main(_toy_args(path, "--variant", "pconv", "--seed", "-1"))
    assert caught.value.code == 2
    assert "argument --seed: '-1' is not a seed: seeds are integers >= 0" in capsys.readouterr().err


def test_a_bucket_too_narrow_for_any_mask_fails_at_config_time(tiny_config):
    """Before: a job traceback suggesting `max_tries`, which is no config key."""
    _, config, _ = tiny_config
    narrow = {**config, "masks": {**config["masks"], "buckets": [[0.1, 0.3], [0.3, 0.3005]]}}
    with pytest.raises(ConfigError, match=r"masks.buckets: 0.3-0.3005 holds no hole ratio of a 32x32 mask "
                                          r"\(ratios are multiples of 1/1024\): widen it"):
        validate_config(yaml.safe_load(yaml.safe_dump(narrow)))
    # a narrow bucket that some mask fits is drawn; one that none fits names the key to change
    assert 0.3 < bucket_mask(32, (0.3, 0.301), np.random.default_rng(0)).mean() <= 0.301
    with pytest.raises(RuntimeError, match=r"bucket 0.3-0.3005 .*widen it \(config masks.buckets"):
        bucket_mask(32, (0.3, 0.3005), np.random.default_rng(0), max_tries=5)


# ------------------------------------------------------------------ issue 25, 6. names and messages


def test_a_variant_named_after_another_backbone_is_refused(tiny_config):
    """Before: `biharmonic: {backbone: encdec}` trained a network that the tables labelled biharmonic."""
    _, config, _ = tiny_config
    bad = {**config, "variants": {**config["variants"], "biharmonic": {"backbone": "pconv", "layers": 3}}}
    with pytest.raises(ConfigError, match=r"variants.biharmonic.backbone: 'pconv', but biharmonic is the name of "
                                          r"the backbone 'biharmonic'.*rename the variant \(e.g. biharmonic_pconv\)"):
        validate_config(yaml.safe_load(yaml.safe_dump(bad)))
    validate_config(yaml.safe_load(yaml.safe_dump(  # its own backbone, or another name: fine
        {**config, "variants": {**config["variants"], "biharmonic": {"backbone": "biharmonic"},
                                "bh_pconv": {"backbone": "pconv", "layers": 3}}})))


def test_a_misspelt_baseline_row_is_refused_naming_the_closest(tiny_config):
    """Before: `report.baseline_row: basline` made the first row (mean_fill) the ablation's baseline row."""
    _, config, _ = tiny_config
    variants = {**config["variants"], "baseline": {"backbone": "pconv", "layers": 3}}
    bad = {**config, "variants": variants, "report": {"baseline_row": "basline"}}
    with pytest.raises(ConfigError, match=r"report.baseline_row: 'basline' is not a variant of this config "
                                          r"\(did you mean 'baseline'\?\); its variants: baseline, mean_fill, pconv"):
        validate_config(yaml.safe_load(yaml.safe_dump(bad)))
    # the default names a row the config need not have: the first row is the baseline row then
    assert validate_config(yaml.safe_load(yaml.safe_dump(config)))["report"]["baseline_row"] == "baseline"


def test_train_with_an_unknown_dataset_names_it(tiny_config, threads):
    path, _, _ = tiny_config
    with pytest.raises(SystemExit, match=r"^error: dataset 'nope' is not in the config's datasets: \['toy'\]$"):
        train_main(["--config", str(path), "--dataset", "nope", "--variant", "pconv", "--seed", "0"])  # KeyError


def test_a_config_that_is_a_folder_says_so(tmp_path, threads):
    (tmp_path / "configs").mkdir()
    with pytest.raises(SystemExit, match=r"^error: config file .*configs is a folder, not a file"):  # "does not exist"
        train_main(["--config", str(tmp_path / "configs"), "--dataset", "toy", "--variant", "pconv", "--seed", "0"])


def test_a_truncated_jpeg_in_a_job_is_one_line_naming_it(tmp_path):
    """Before: the job's log and the terminal showed Pillow's traceback, then the harness's, chained."""
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "a.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(SystemExit) as caught:
        with job_log(tmp_path / "job.log", REPO / "workflow" / "scripts" / "train.py"):
            read_rgb(tmp_path / "a.jpg")
    message = f"error: cannot decode image {tmp_path / 'a.jpg'}: "
    assert str(caught.value).startswith(message)  # what the terminal shows (exit status 1)
    log = (tmp_path / "job.log").read_text()
    assert log.startswith(message) and len(log.strip().splitlines()) == 1 and "Traceback" not in log
