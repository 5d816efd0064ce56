"""Tests for datasets.masks: free-form masks, buckets, test mask sets, NVIDIA masks, sampler."""

import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tree_bytes

from datasets import (
    TrainMaskSampler,
    bucket_mask,
    free_form_mask,
    hole_ratio,
    import_nvidia_masks,
    load_test_masks,
    make_test_masks,
    nvidia_mask_set,
)
from datasets import masks as masks_module
from harness.buckets import Bucket, sort_bucket_names

S = 32


def rng(seed):
    return np.random.default_rng(seed)


def read_manifest(root):
    with open(os.path.join(root, "manifest.csv"), newline="") as f:
        return list(csv.DictReader(f))


def png_ratio(path):
    with Image.open(path) as im:
        arr = np.asarray(im)
        assert im.mode == "L" and set(np.unique(arr)) <= {0, 255}
    return float((arr == 255).mean())


# ---------------------------------------------------------------------------------- buckets

def test_parse_and_name_buckets():
    assert Bucket.parse("0.1-0.2") == Bucket(0.1, 0.2)
    assert Bucket.parse([0, 0.1]) == Bucket(0.0, 0.1)
    assert Bucket.parse((0.1, 0.2)).name == "0.1-0.2" and Bucket.parse((0, 1)).name == "0-1"
    assert Bucket(0.1, 0.2).contains(0.2) and not Bucket(0.1, 0.2).contains(0.1)
    for bad in ["0.2-0.1", "0.5", (0.1, 1.5), "a-b"]:
        with pytest.raises(ValueError, match="bucket"):
            Bucket.parse(bad)


def test_bucket_names_sort_by_bounds_and_unparseable_names_last():
    assert sort_bucket_names(["0.5-0.6", "all", "0.1-0.2", "0.01-0.1", "0.1-0.2"]) == \
        ["0.01-0.1", "0.1-0.2", "0.5-0.6", "all"]


# ---------------------------------------------------------------------------------- generation

def test_free_form_mask_is_binary_nonempty_and_seeded():
    m = free_form_mask(64, rng(0))
    assert m.shape == (64, 64) and m.dtype == np.float32
    assert set(np.unique(m)) <= {0.0, 1.0} and 0 < m.mean() < 1
    assert np.array_equal(m, free_form_mask(64, rng(0)))
    assert not np.array_equal(m, free_form_mask(64, rng(1)))
    # Blobs are drawn after the same strokes, so they only add hole pixels.
    with_blobs = free_form_mask(64, rng(0), blobs=True)
    assert (with_blobs >= m).all() and with_blobs.sum() > m.sum()


@pytest.mark.parametrize("bucket", [(0.0, 0.1), (0.1, 0.2), (0.3, 0.4), (0.5, 0.6)])
def test_bucket_mask_ratio_within_bucket(bucket):
    lo, hi = bucket
    ratios = [hole_ratio(bucket_mask(S, bucket, rng(i))) for i in range(4)]
    assert all(lo < r <= hi for r in ratios), ratios


def test_bucket_mask_with_blobs_within_bucket():
    r = hole_ratio(bucket_mask(S, (0.4, 0.5), rng(0), blobs=True))
    assert 0.4 < r <= 0.5


def test_bucket_mask_impossible_bucket_raises():
    # Any stroke covers at least one pixel of 32*32, far above 1e-6.
    with pytest.raises(RuntimeError, match="0-1e-06"):
        bucket_mask(S, (0.0, 1e-6), rng(0), max_tries=3)


# ---------------------------------------------------------------------------------- test mask sets

BUCKETS = [[0.1, 0.2], [0.3, 0.4]]


def test_make_test_masks_layout_manifest_and_ratios(tmp_path):
    make_test_masks(tmp_path, S, BUCKETS, count=3, seed=0)
    rows = read_manifest(tmp_path)
    assert list(rows[0]) == ["bucket", "file", "hole_ratio", "source"]
    assert [r["file"] for r in rows] == [f"{b}/{i:05d}.png" for b in ("0.1-0.2", "0.3-0.4")
                                         for i in range(3)]
    for r in rows:
        measured = png_ratio(tmp_path / r["file"])
        assert measured == pytest.approx(float(r["hole_ratio"]), abs=1e-9)
        assert Bucket.parse(r["bucket"]).contains(measured)


def test_make_test_masks_is_byte_identical_and_bucket_independent(tmp_path):
    make_test_masks(tmp_path / "a", S, BUCKETS, count=2, seed=0)
    make_test_masks(tmp_path / "b", S, BUCKETS, count=2, seed=0)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    # Adding a bucket in front must not change the existing buckets' files.
    make_test_masks(tmp_path / "c", S, [[0.2, 0.3]] + BUCKETS, count=2, seed=0)
    a, c = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "c")
    for name, data in a.items():
        if name.endswith(".png"):
            assert c[name] == data
    make_test_masks(tmp_path / "d", S, BUCKETS, count=2, seed=1)
    assert tree_bytes(tmp_path / "d") != a


def test_load_test_masks(tmp_path):
    make_test_masks(tmp_path, S, BUCKETS, count=2, seed=0)
    loaded = load_test_masks(tmp_path)
    assert list(loaded) == ["0.1-0.2", "0.3-0.4"]
    stems = [stem for stem, _ in loaded["0.3-0.4"]]
    assert stems == ["00000", "00001"]
    for stem, m in loaded["0.3-0.4"]:
        assert m.shape == (1, S, S) and m.dtype == torch.float32
        assert 0.3 < float(m.mean()) <= 0.4
        assert png_ratio(tmp_path / "0.3-0.4" / f"{stem}.png") == pytest.approx(float(m.mean()))


def test_load_test_masks_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.csv"):
        load_test_masks(tmp_path)
    make_test_masks(tmp_path, S, BUCKETS, count=1, seed=0)
    # A modified mask no longer matches its manifest ratio.
    Image.fromarray(np.zeros((S, S), np.uint8)).save(tmp_path / "0.1-0.2/00000.png")
    with pytest.raises(ValueError, match="00000.png"):
        load_test_masks(tmp_path)
    os.remove(tmp_path / "0.1-0.2/00000.png")
    with pytest.raises(FileNotFoundError, match="00000.png"):
        load_test_masks(tmp_path)


def test_mask_cli(tmp_path):
    masks_module.main(["--out", str(tmp_path), "--size", "32", "--count", "2", "--seed", "0",
                       "--buckets", "0.1-0.2", "0.2-0.3"])
    assert [r["bucket"] for r in read_manifest(tmp_path)] == ["0.1-0.2"] * 2 + ["0.2-0.3"] * 2


# ---------------------------------------------------------------------------------- NVIDIA masks

# Hole fractions (in 64x64 images, white rectangles of rows x 64) and the file names they get.
# The names are deliberately shuffled relative to the ratios.
NVIDIA_FILES = {"00000.png": 22, "00001.png": 8, "00002.png": 36, "00003.png": 10,
                "00004.png": 24, "00005.png": 38, "00006.png": 2}


@pytest.fixture
def nvidia_dir(tmp_path):
    folder = tmp_path / "testing_mask_dataset"
    folder.mkdir()
    for name, rows in NVIDIA_FILES.items():
        arr = np.zeros((64, 64, 3), np.uint8)  # RGB like the release; white = hole
        arr[:rows] = 255
        Image.fromarray(arr).save(folder / name)
    (folder / "readme.txt").write_text("ignored: not a PNG")
    return folder


def test_nvidia_reader_buckets_by_measured_ratio(nvidia_dir):
    buckets = [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]
    groups = nvidia_mask_set(nvidia_dir, buckets, size=32)
    # rows/64: 8->0.125, 10->0.156, 22->0.344, 24->0.375, 36->0.5625, 38->0.594, 2->0.03 (none)
    assert [f for f, _ in groups["0.1-0.2"]] == ["00001.png", "00003.png"]
    assert [f for f, _ in groups["0.3-0.4"]] == ["00000.png", "00004.png"]
    assert [f for f, _ in groups["0.5-0.6"]] == ["00002.png", "00005.png"]
    assert dict(groups["0.1-0.2"])["00001.png"] == pytest.approx(8 / 64)
    # Read as black holes, every ratio flips to 1 - r.
    inverted = nvidia_mask_set(nvidia_dir, [(0.6, 0.7)], size=32, hole_is_white=False)
    assert [f for f, _ in inverted["0.6-0.7"]] == ["00000.png", "00004.png"]


def test_import_nvidia_masks_layout_and_determinism(nvidia_dir, tmp_path):
    buckets = ["0.1-0.2", "0.3-0.4"]
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    import_nvidia_masks(nvidia_dir, out_a, 32, buckets, count=1, seed=0)
    import_nvidia_masks(nvidia_dir, out_b, 32, buckets, count=1, seed=0)
    assert tree_bytes(out_a) == tree_bytes(out_b)
    rows = read_manifest(out_a)
    assert list(rows[0]) == ["bucket", "file", "hole_ratio", "source"]
    assert rows[0]["source"] in {"00001.png", "00003.png"}
    assert rows[1]["source"] in {"00000.png", "00004.png"}
    for r in rows:
        assert png_ratio(out_a / r["file"]) == pytest.approx(float(r["hole_ratio"]), abs=1e-9)
    loaded = load_test_masks(out_a)
    assert [len(v) for v in loaded.values()] == [1, 1]
    with pytest.raises(ValueError, match="0.5-0.6"):
        import_nvidia_masks(nvidia_dir, tmp_path / "c", 32, ["0.5-0.6"], count=3, seed=0)


def test_nvidia_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        nvidia_mask_set(tmp_path / "absent", [(0.1, 0.2)], 32)


# ---------------------------------------------------------------------------------- training sampler

def test_train_mask_sampler_deterministic_and_spread():
    a, b = TrainMaskSampler(S, seed=0), TrainMaskSampler(S, seed=0)
    m = a.sample(5)
    assert m.shape == (1, S, S) and m.dtype == torch.float32
    assert torch.equal(m, b.sample(5)) and torch.equal(m, a.sample(5))
    assert not torch.equal(m, a.sample(6))
    assert not torch.equal(m, TrainMaskSampler(S, seed=1).sample(5))
    buckets = [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]
    sampler = TrainMaskSampler(S, seed=0, buckets=buckets)
    hit = set()
    for i in range(12):
        r = float(sampler.sample(i).mean())
        inside = [bk for bk in buckets if bk[0] < r <= bk[1]]
        assert inside, r
        hit.add(inside[0])
    assert len(hit) >= 2
