"""Tests for the mask modules of datasets/: strokes, buckets, test mask sets, NVIDIA masks, samplers."""

import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tree_bytes
from inpaint_bench.cli import masks as masks_cli
from inpaint_bench.datasets import (
    BucketStrokeSampler,
    bucket_mask,
    free_form_mask,
    hole_ratio,
    import_nvidia_masks,
    load_test_masks,
    make_test_masks,
    nvidia_mask_set,
)
from inpaint_bench.harness.buckets import Bucket, sort_bucket_names

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
    masks_cli.main(["--out", str(tmp_path), "--size", "32", "--count", "2", "--seed", "0",
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

def test_bucket_stroke_sampler_deterministic_and_spread():
    a, b = BucketStrokeSampler(S, seed=0), BucketStrokeSampler(S, seed=0)
    m = a.sample(5)
    assert m.shape == (1, S, S) and m.dtype == torch.float32
    assert torch.equal(m, b.sample(5)) and torch.equal(m, a.sample(5))
    assert not torch.equal(m, a.sample(6))
    assert not torch.equal(m, BucketStrokeSampler(S, seed=1).sample(5))
    buckets = [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]
    sampler = BucketStrokeSampler(S, seed=0, buckets=buckets)
    hit = set()
    for i in range(12):
        r = float(sampler.sample(i).mean())
        inside = [bk for bk in buckets if bk[0] < r <= bk[1]]
        assert inside, r
        hit.add(inside[0])
    assert len(hit) >= 2


# ---------------------------------------------------------------------------------- paper protocol

PCONV_BUCKETS = ["0.01-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6"]


@pytest.fixture
def nvidia_layout(tmp_path):
    """A small folder in the layout of NVIDIA's testing set: one flat folder of numbered PNGs,
    white holes on black, grouped by hole-ratio category in name order (here 3, 3, 2, 3, 3, 1 masks
    for the six categories, and one mask above 0.6 that belongs to none). Holes are rows of a 64x64
    image, so each ratio is exact: rows / 64."""
    rows_per_category = [[2, 4, 6], [8, 10, 12], [14, 18], [22, 24, 25], [28, 30, 31], [36], [42]]
    folder = tmp_path / "testing_mask_dataset"
    folder.mkdir()
    number = 0
    for rows_list in rows_per_category:
        for rows in rows_list:
            arr = np.zeros((64, 64), np.uint8)
            arr[64 - rows:] = 255
            Image.fromarray(arr).save(folder / f"{number:05d}.png")
            number += 1
    return folder


def test_nvidia_layout_fills_the_six_pconv_buckets_and_count_all_takes_every_mask(nvidia_layout, tmp_path):
    groups = nvidia_mask_set(nvidia_layout, PCONV_BUCKETS, size=64)
    assert [len(groups[b]) for b in PCONV_BUCKETS] == [3, 3, 2, 3, 3, 1]  # 42/64 = 0.66 is in none
    out = tmp_path / "all"
    import_nvidia_masks(nvidia_layout, out, 64, PCONV_BUCKETS, count="all", seed=0)
    rows = read_manifest(out)
    assert [r["bucket"] for r in rows] == [b for b, n in zip(PCONV_BUCKETS, [3, 3, 2, 3, 3, 1]) for _ in range(n)]
    assert [r["source"] for r in rows] == [f"{i:05d}.png" for i in range(15)]  # every mask, name order
    for r in rows:
        assert Bucket.parse(r["bucket"]).contains(float(r["hole_ratio"]))
    assert [len(v) for v in load_test_masks(out).values()] == [3, 3, 2, 3, 3, 1]


def test_a_bucket_short_of_masks_is_named_with_its_count_and_the_way_out(nvidia_layout, tmp_path):
    with pytest.raises(ValueError) as err:
        import_nvidia_masks(nvidia_layout, tmp_path / "x", 64, PCONV_BUCKETS, count=3, seed=0)
    message = str(err.value)
    assert "bucket 0.2-0.3 has 2" in message and "bucket 0.5-0.6 has 1" in message
    assert "0.1-0.2" not in message.split("):")[1]  # full buckets are not listed as short
    assert "masks.count: all" in message
    assert not (tmp_path / "x").exists()  # nothing written
    with pytest.raises(ValueError, match="bucket 0.7-0.8 has 0"):
        import_nvidia_masks(nvidia_layout, tmp_path / "y", 64, ["0.7-0.8"], count="all", seed=0)


def test_count_all_is_refused_for_generated_test_masks(tiny_config):
    from inpaint_bench.harness.config import ConfigError
    from inpaint_bench.jobs.validate import load_config

    path, config, write = tiny_config
    config["masks"]["count"] = "all"
    write(config)
    with pytest.raises(ConfigError, match="masks.count: all .* needs masks.source: nvidia"):
        load_config(path)


def test_official_stroke_generator_draws_any_hole_ratio_deterministically():
    from inpaint_bench.datasets import OfficialStrokeSampler, official_stroke_mask

    ratios = [hole_ratio(official_stroke_mask(64, rng(i))) for i in range(200)]
    # any size: small and large holes both occur, far outside the test buckets' (0.1, 0.6]
    assert min(ratios) < 0.1 and max(ratios) > 0.7
    assert np.mean([0.1 < r <= 0.6 for r in ratios]) < 0.8
    m = official_stroke_mask(64, rng(3))
    assert set(np.unique(m)) <= {0.0, 1.0} and m.dtype == np.float32
    sampler = OfficialStrokeSampler(64, seed=5)
    assert torch.equal(sampler.sample(11), OfficialStrokeSampler(64, seed=5).sample(11))
    assert not torch.equal(sampler.sample(11), sampler.sample(12))
    assert not torch.equal(sampler.sample(11), OfficialStrokeSampler(64, seed=6).sample(11))


def test_stroke_widths_and_lengths_scale_with_the_mask_size():
    from inpaint_bench.datasets import official_stroke_mask

    # lengths and widths are fractions of the side: the hole ratios look alike at 64 and 256 px
    # (unscaled, the 10-24 px brush alone would cover most of a 64 px mask)
    small = np.mean([hole_ratio(official_stroke_mask(64, rng(i))) for i in range(150)])
    large = np.mean([hole_ratio(official_stroke_mask(256, rng(1000 + i))) for i in range(150)])
    assert abs(small - large) < 0.06, (small, large)


def test_folder_masks_are_drawn_at_random_and_flipped_on_their_own(tmp_path):
    from inpaint_bench.datasets import MaskFolderSampler, build_train_masks

    folder = tmp_path / "train_masks"
    folder.mkdir()
    for i in range(4):  # mask i: a hole in the left quarter, i + 1 rows high (so file and flip show)
        arr = np.zeros((32, 32), np.uint8)
        arr[: i + 1, :8] = 255
        Image.fromarray(arr).save(folder / f"m{i}.png")
    sampler = build_train_masks("folder", 32, seed=2, mask_dir=folder)
    assert isinstance(sampler, MaskFolderSampler)
    seen = {}
    for g in range(400):
        name, flipped = sampler.choice(g)
        m = sampler.sample(g)
        assert float(m[0, :, :8].sum() > 0) != flipped  # flipped: the hole moves to the right quarter
        assert int(m.sum()) == (int(name[1]) + 1) * 8
        seen[(name, flipped)] = seen.get((name, flipped), 0) + 1
    assert len(seen) == 8 and min(seen.values()) > 25  # every file, both ways, roughly uniformly
    again = MaskFolderSampler(32, seed=2, mask_dir=folder)
    assert all(torch.equal(sampler.sample(g), again.sample(g)) for g in range(20))
    black = MaskFolderSampler(32, seed=2, mask_dir=folder, hole_is_white=False)
    assert torch.equal(black.sample(0), 1 - sampler.sample(0))
    with pytest.raises(ValueError, match="train.masks.dir"):
        build_train_masks("folder", 32, seed=0)



def test_folder_masks_with_pconv_augmentation_are_dilated_cropped_flipped_and_resized(tmp_path):
    from inpaint_bench.datasets import MaskFolderSampler, build_train_masks

    folder = tmp_path / "pconv_masks"
    folder.mkdir()
    arr = np.zeros((64, 64), np.uint8)  # one file: a 16 px square hole in the middle, 6.25 %
    arr[24:40, 24:40] = 255
    Image.fromarray(arr).save(folder / "m0.png")
    plain = build_train_masks("folder", 32, seed=3, mask_dir=folder)
    assert {round(float(plain.sample(g).mean()), 6) for g in range(40)} == {0.0625}  # resized and flipped only
    sampler = build_train_masks("folder", 32, seed=3, mask_dir=folder, augment="pconv")
    masks = [sampler.sample(g) for g in range(80)]
    assert all(m.shape == (1, 32, 32) and set(m.unique().tolist()) <= {0.0, 1.0} for m in masks)
    ratios = [float(m.mean()) for m in masks]
    assert len({round(r, 6) for r in ratios}) >= 8  # dilation and crop change the hole from draw to draw
    # dilated (up to 3 px on every side) and zoomed in by the crop (at most 1 / 0.6 per side)
    assert 0.0625 < max(ratios) <= (22 / 64 / 0.6) ** 2 + 1e-6
    again = MaskFolderSampler(32, seed=3, mask_dir=folder, augment="pconv")
    assert all(torch.equal(masks[g], again.sample(g)) for g in range(10))  # a function of (seed, index)
    with pytest.raises(ValueError, match="train.masks.augment 'rotate'"):
        build_train_masks("folder", 32, seed=0, mask_dir=folder, augment="rotate")


# Pixels OpenCV (cv2 5.1, `cv2.line(mask, p0, p1, 1, width)`, as the official generator draws each
# segment) sets for three segments of a 256 px mask: its thick lines have round ends.
OPENCV_SEGMENT_PIXELS = [((40, 60), (200, 60), 20, 3677), ((30, 30), (120, 170), 14, 2661),
                         ((10, 200), (60, 190), 10, 653)]


def test_official_strokes_have_round_ends_as_opencv_draws_them_unless_flat_is_asked():
    from PIL import ImageDraw

    from inpaint_bench.datasets import OfficialStrokeSampler, official_stroke_mask
    from inpaint_bench.datasets.strokes import draw_segment

    for start, end, width, opencv in OPENCV_SEGMENT_PIXELS:
        counts = {}
        for caps in ("round", "flat"):
            canvas = Image.new("L", (256, 256))
            draw_segment(ImageDraw.Draw(canvas), start, end, width, caps)
            counts[caps] = int((np.asarray(canvas) > 127).sum())
        assert abs(counts["round"] - opencv) <= 0.04 * opencv, (start, end, counts, opencv)
        assert counts["flat"] < 0.9 * opencv, (start, end, counts, opencv)
    # round is the default everywhere; flat draws less of every mask
    assert np.array_equal(official_stroke_mask(64, rng(1)), official_stroke_mask(64, rng(1), caps="round"))
    assert torch.equal(OfficialStrokeSampler(64, seed=5).sample(3), OfficialStrokeSampler(64, 5, "round").sample(3))
    round_, flat = (np.mean([hole_ratio(official_stroke_mask(256, rng(i), caps=c)) for i in range(40)])
                    for c in ("round", "flat"))
    assert round_ > flat + 0.02, (round_, flat)
    with pytest.raises(ValueError, match="train.masks.caps"):
        official_stroke_mask(64, rng(1), caps="square")
