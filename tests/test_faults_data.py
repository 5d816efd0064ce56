"""Issue 25, class 2: data is an input, read the way the user meant it. Test images and mask files are
digested by content; EXIF orientation is read where images are decoded; a folder of training masks is
checked on a sample before any job; a test mask outside the bucket it is listed in is refused."""
from __future__ import annotations

import csv
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.workflow import snakemake
from inpaint_bench.cli import score as score_cli
from inpaint_bench.datasets import build_dataset, load_test_masks
from inpaint_bench.datasets.train_masks import MaskFolderSampler
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.harness.names import PSNR_CAP_DB
from inpaint_bench.jobs.resolve import eval_job, masks_job
from inpaint_bench.jobs.validate import check_datasets_readable, load_config

S = 48
ORIENTATION = 0x0112


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """No pretrained weights are found or fetched (score then skips LPIPS, FID and KID)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def _stored_png(path, seed: int) -> None:
    """A PNG whose size depends on its pixel count only (stored, not compressed)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, compress_level=0)


def _replace_keeping_stat(path, seed: int) -> None:
    """Other pixels under the same name, size and modification time."""
    before = os.stat(path)
    _stored_png(path, seed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


# ------------------------------------------------------------------ content digests


def test_a_test_image_replaced_with_the_same_name_size_and_mtime_reruns_its_evaluation(tiny_config, tmp_path):
    """Before: the listing held path, size and mtime only, so the eval job (its Snakemake params and
    its job file's name) stayed the same and the old numbers stood for the new image."""
    path, _, _ = tiny_config
    image = tmp_path / "data" / "test" / "img000.png"
    _stored_png(image, seed=1)
    before = eval_job(load_config(path), "toy", "pconv", 0)
    _replace_keeping_stat(image, seed=2)
    after = eval_job(load_config(path), "toy", "pconv", 0)
    assert after["listing"] != before["listing"]
    assert after["train"] == before["train"]  # the model is not retrained: test images are no training input


def test_a_mask_file_replaced_with_the_same_name_size_and_mtime_makes_another_mask_set(tiny_config, tmp_path):
    path, config, write = tiny_config
    nvidia = tmp_path / "nvidia"
    nvidia.mkdir()
    for i in range(2):
        _stored_png(nvidia / f"{i:05d}.png", seed=10 + i)
    config["masks"].update(source="nvidia", nvidia_dir=str(nvidia))
    write(config)
    before = masks_job(load_config(path))
    _replace_keeping_stat(nvidia / "00001.png", seed=12)
    assert masks_job(load_config(path))["listing"] != before["listing"]


def test_training_images_are_listed_by_stat(tiny_config, tmp_path):
    """Training listings stay a stat per file (Places2's millions of images): documented, and kept."""
    path, _, _ = tiny_config
    image = tmp_path / "data" / "train" / "img000.png"
    _stored_png(image, seed=1)
    before = eval_job(load_config(path), "toy", "pconv", 0)["train"]["listing"]
    _replace_keeping_stat(image, seed=2)
    assert eval_job(load_config(path), "toy", "pconv", 0)["train"]["listing"] == before


# ------------------------------------------------------------------ EXIF orientation


def _upright() -> np.ndarray:
    """A smooth image with a bright top-left corner: any turn or flip shows."""
    yy, xx = np.mgrid[0:S, 0:S] / S
    image = np.stack([1 - xx, 1 - yy, 0.5 * xx * yy], axis=-1)
    image[:12, :12] = 1.0
    return (image * 255).astype(np.uint8)


def _tagged_jpeg(path) -> np.ndarray:
    """Writes the upright image as a camera does: its pixels turned a quarter to the left, with EXIF
    Orientation 6 (turn a quarter to the right to view). Returns the upright pixels the JPEG decodes to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(_upright(), k=1))).save(path, quality=95, exif=exif)
    with Image.open(path) as im:  # the stored pixels, as a reader without orientation sees them
        assert im.getexif()[ORIENTATION] == 6
        upright = np.ascontiguousarray(np.rot90(np.asarray(im.convert("RGB")), k=-1))
    assert np.abs(upright.astype(float) - _upright()).mean() < 4  # JPEG's loss only: the turn is right
    return upright


def test_score_reads_a_tagged_jpeg_upright(tmp_path, capsys):
    """Before: the ground truth was scored as stored, on its side: about 10 dB, exit 0."""
    upright = _tagged_jpeg(tmp_path / "gt" / "a.jpg")
    (tmp_path / "pred").mkdir()
    Image.fromarray(upright).save(tmp_path / "pred" / "a.png")  # a perfect prediction
    mask = np.zeros((S, S), np.uint8)
    mask[:, : S // 3] = 255
    (tmp_path / "masks").mkdir()
    Image.fromarray(mask).save(tmp_path / "masks" / "a.png")
    out = tmp_path / "res" / "s.csv"
    code = score_cli.main(["--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--masks",
                       str(tmp_path / "masks"), "--out", str(out), "--weights-dir", str(tmp_path / "none")])
    assert code == 0, capsys.readouterr().err
    row = next(csv.DictReader(open(out)))
    assert float(row["psnr"]) == PSNR_CAP_DB and float(row["l1"]) == 0


def test_training_and_test_images_are_read_upright(tmp_path):
    upright = torch.from_numpy(_tagged_jpeg(tmp_path / "data" / "test" / "a.jpg")).permute(2, 0, 1) / 255
    _tagged_jpeg(tmp_path / "data" / "train" / "a.jpg")
    spec = {"kind": "folder", "root": str(tmp_path / "data")}
    assert torch.equal(build_dataset(spec, "test", S)[0]["image"], upright)  # evaluation and export
    train = build_dataset(spec, "train", S, seed=0, crop="centre")
    for epoch in range(2):  # one epoch of each flip
        item = train.load(0, epoch)["image"]
        assert torch.equal(item.flip(-1) if train.flips(0, epoch) else item, upright)


# ------------------------------------------------------------------ a folder of training masks


def _mask_folder(folder, count: int = 6, hole: float = 0.25, value: int = 255, shape=(32, 32)) -> None:
    """`count` masks: the first `hole` of the rows at `value` (a hole, read white), the rest 0."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        mask = np.zeros(shape, np.uint8)
        mask[: round(hole * shape[0]), : shape[1] - i % 4] = value
        Image.fromarray(mask).save(folder / f"m{i:02d}.png")


def _folder_config(tiny_config, folder, hole="white"):
    path, config, write = tiny_config
    config["train"]["masks"] = {"source": "folder", "dir": str(folder), "hole": hole}
    return load_config(write(config))


def test_a_good_folder_of_training_masks_passes_the_config_check(tiny_config, tmp_path):
    from inpaint_bench.datasets.mask_files import check_mask_folder

    _mask_folder(tmp_path / "m")
    check_datasets_readable(_folder_config(tiny_config, tmp_path / "m"))
    assert 0.2 < check_mask_folder(tmp_path / "m", True, "train.masks.hole") < 0.25


def test_a_folder_of_0_1_masks_is_refused_at_the_config_check(tiny_config, tmp_path):
    """Before: read as 0/255 with white holes, a 0/1 PNG had no hole: trained with a hole loss of 0."""
    _mask_folder(tmp_path / "m", value=1)
    with pytest.raises(ConfigError, match=r"train.masks.dir: mask .*m/m00.png is hole nowhere when read with white "
                                          r"holes \(train.masks.hole.*\): its values are 0, 1. A mask of 0/1 values "
                                          r"must be saved as 0/255"):
        check_datasets_readable(_folder_config(tiny_config, tmp_path / "m"))
    with pytest.raises(ValueError, match="hole nowhere"):  # a file left out of the sample: refused when drawn
        MaskFolderSampler(32, 0, tmp_path / "m").sample(0)


def test_a_folder_of_inverted_masks_is_refused_naming_the_hole_colour(tiny_config, tmp_path):
    """Before: masks with black holes read as white were 70-89% hole, and trained so."""
    _mask_folder(tmp_path / "m", count=30, hole=0.2)
    with pytest.raises(ConfigError, match=r"train.masks.dir: the masks in .*m are 8\d% hole on average \(21 files "
                                          r"checked; .*\), more than 60%: their holes are probably white, not black; "
                                          r"set train.masks.hole: white"):
        check_datasets_readable(_folder_config(tiny_config, tmp_path / "m", hole="black"))


def test_snakemake_n_refuses_a_folder_of_inverted_masks_before_any_job(tiny_config, tmp_path):
    path, config, write = tiny_config
    _mask_folder(tmp_path / "m", count=3, hole=0.2)
    config["train"]["masks"] = {"source": "folder", "dir": str(tmp_path / "m"), "hole": "black"}
    proc = snakemake(tmp_path, "-n", "--configfile", write(config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "rule train" not in out and "Traceback" not in out
    assert "their holes are probably white, not black; set train.masks.hole: white" in out


def test_a_folder_of_masks_that_are_not_square_is_refused(tiny_config, tmp_path):
    """Before: a 96x32 mask was squashed to 32x32 (nearest) without a word."""
    _mask_folder(tmp_path / "m", shape=(32, 96))
    with pytest.raises(ConfigError, match=r"train.masks.dir: mask .*m/m00.png is 96x32, not square"):
        check_datasets_readable(_folder_config(tiny_config, tmp_path / "m"))
    with pytest.raises(ValueError, match="96x32, not square"):
        MaskFolderSampler(32, 0, tmp_path / "m").sample(0)


# ------------------------------------------------------------------ test masks outside their bucket


def _misfiled_set(root) -> str:
    """A test mask set whose one mask, 80% hole, is listed in the bucket 0.1-0.3 (its ratio recorded right)."""
    mask = np.zeros((S, S), np.uint8)
    mask[: round(0.8 * S)] = 255
    (root / "masks" / "0.1-0.3").mkdir(parents=True)
    Image.fromarray(mask).save(root / "masks" / "0.1-0.3" / "a.png")
    with open(root / "masks" / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([("bucket", "file", "hole_ratio"), ("0.1-0.3", "0.1-0.3/a.png", repr(float(mask.mean() / 255)))])
    return r"mask .*0.1-0.3/a.png has hole ratio 0.7917, outside the bucket 0.1-0.3 \(0.1 to 0.3\)"


def test_score_refuses_a_mask_outside_the_bucket_it_is_listed_in(tmp_path, capsys):
    """Before: scored in 0.1-0.3, exit 0."""
    message = _misfiled_set(tmp_path)
    image = _upright()
    for folder in ("gt", "pred"):
        (tmp_path / folder).mkdir()
        Image.fromarray(image).save(tmp_path / folder / "a.png")
    code = score_cli.main(["--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--masks",
                       str(tmp_path / "masks"), "--out", str(tmp_path / "s.csv"), "--weights-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "s.csv").exists()
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err


def test_evaluation_refuses_a_mask_outside_the_bucket_it_is_listed_in(tmp_path):
    with pytest.raises(ValueError, match=_misfiled_set(tmp_path)):
        load_test_masks(tmp_path / "masks")  # what evaluation and export read
