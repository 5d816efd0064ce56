"""Tests for datasets.images and datasets.mini on tiny fixture trees in the official layouts."""

import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tree_bytes
from inpaint_bench.cli import mini as mini_cli
from inpaint_bench.datasets import available_dataset_kinds, build_dataset, build_mini_dataset, check_dataset
from inpaint_bench.datasets import mini as mini_module

S = 16  # output size used throughout: small keeps the tests fast


def write_image(path, size=(24, 20), color=(200, 30, 30), array=None):
    """Write a small image (format from the extension), creating folders."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if array is None:
        array = np.zeros((size[1], size[0], 3), np.uint8) + np.array(color, np.uint8)
    if path.lower().endswith((".jpg", ".jpeg")):
        Image.fromarray(array).save(path, quality=95)
    else:
        Image.fromarray(array).save(path)


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def names(ds):
    return [ds[i]["name"] for i in range(len(ds))]


def check_items(ds):
    for i in range(len(ds)):
        item = ds[i]
        img = item["image"]
        assert img.shape == (3, S, S) and img.dtype == torch.float32
        assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0


# ---------------------------------------------------------------------------------- Places2

@pytest.fixture
def places_root(tmp_path):
    root = tmp_path / "places"
    # Same stem in two categories: names must still be unique.
    write_image(str(root / "data_256/a/airfield/00000001.jpg"))
    write_image(str(root / "data_256/b/bar/00000001.jpg"))
    write_image(str(root / "data_256/c/canyon/00000001.jpg"))  # present but not listed
    write_lines(root / "places365_train_standard.txt",
                ["/b/bar/00000001.jpg 43", "/a/airfield/00000001.jpg 0"])
    write_image(str(root / "val_256/Places365_val_00000001.jpg"))
    write_image(str(root / "val_256/Places365_val_00000002.jpg"))
    write_lines(root / "places365_val.txt",
                ["Places365_val_00000001.jpg 165", "Places365_val_00000002.jpg 358"])
    return root


def test_places2_splits_follow_the_lists(places_root):
    spec = {"kind": "places2", "root": str(places_root)}
    train = build_dataset(spec, "train", S)
    test = build_dataset(spec, "test", S)
    assert names(train) == ["a_airfield_00000001", "b_bar_00000001"]  # sorted, canyon unlisted
    assert names(test) == ["Places365_val_00000001", "Places365_val_00000002"]
    check_items(train)
    check_items(test)
    assert len(build_dataset({**spec, "max_test": 1}, "test", S)) == 1


def test_places2_challenge_training_list_beside_standard(places_root):
    """The official README trains on Places365-Challenge: its list, the same data_256/ folder."""
    write_lines(places_root / "places365_train_challenge.txt",
                ["/c/canyon/00000001.jpg 61", "/a/airfield/00000001.jpg 0", "/b/bar/00000001.jpg 43"])
    spec = {"kind": "places2", "root": str(places_root), "train_set": "challenge"}
    assert names(build_dataset(spec, "train", S)) == ["a_airfield_00000001", "b_bar_00000001", "c_canyon_00000001"]
    assert names(build_dataset(spec, "test", S)) == ["Places365_val_00000001", "Places365_val_00000002"]
    os.remove(places_root / "places365_train_challenge.txt")
    with pytest.raises(FileNotFoundError, match="places365_train_challenge.txt .*Places365-Challenge"):
        build_dataset(spec, "train", S)


def test_places2_missing_list_names_the_file_and_layout(places_root):
    os.remove(places_root / "places365_train_standard.txt")
    with pytest.raises(FileNotFoundError) as e:
        build_dataset({"kind": "places2", "root": str(places_root)}, "train", S)
    assert "places365_train_standard.txt" in str(e.value) and "data_256" in str(e.value)


def test_places2_missing_root_and_missing_listed_file(places_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build_dataset({"kind": "places2", "root": str(tmp_path / "nowhere")}, "train", S)
    os.remove(places_root / "val_256/Places365_val_00000002.jpg")
    with pytest.raises(FileNotFoundError, match="Places365_val_00000002.jpg"):
        build_dataset({"kind": "places2", "root": str(places_root)}, "test", S)


def test_places2_malformed_list_line(places_root):
    write_lines(places_root / "places365_val.txt", ["Places365_val_00000001.jpg"])
    with pytest.raises(ValueError, match="places365_val.txt:1"):
        build_dataset({"kind": "places2", "root": str(places_root)}, "test", S)


# ---------------------------------------------------------------------------------- CelebA

def celeba_image():
    """178x218 aligned-style image: red top 20 rows, blue bottom 20 rows, green centre square."""
    arr = np.zeros((218, 178, 3), np.uint8)
    arr[:, :] = (0, 255, 0)
    arr[:20] = (255, 0, 0)
    arr[198:] = (0, 0, 255)
    return arr


def test_celeba_partition_and_centre_crop(tmp_path):
    root = tmp_path / "celeba"
    for i in range(1, 6):
        write_image(str(root / f"img_align_celeba/{i:06d}.jpg"), array=celeba_image())
    write_lines(root / "list_eval_partition.txt",
                ["000001.jpg 0", "000002.jpg 0", "000003.jpg 1", "000004.jpg 2", "000005.jpg 2"])
    spec = {"kind": "celeba", "root": str(root)}
    train, test = build_dataset(spec, "train", S), build_dataset(spec, "test", S)
    assert names(train) == ["000001", "000002"]  # partition 0 only; val (1) excluded
    assert names(test) == ["000004", "000005"]  # partition 2
    img = test[0]["image"]
    # The 178x178 centre holds only green: red/blue bands must have been cropped away.
    mean = img.mean(dim=(1, 2))
    assert mean[1] > 0.9 and mean[0] < 0.1 and mean[2] < 0.1


def test_celeba_missing_partition_file(tmp_path):
    root = tmp_path / "celeba"
    write_image(str(root / "img_align_celeba/000001.jpg"))
    with pytest.raises(FileNotFoundError, match="list_eval_partition.txt"):
        build_dataset({"kind": "celeba", "root": str(root)}, "test", S)


# ---------------------------------------------------------------------------------- Paris

def test_paris_layout_and_empty_split(tmp_path):
    root = tmp_path / "paris"
    write_image(str(root / "paris_train_original/48.84_2.34_90_-004.JPG"))
    write_image(str(root / "paris_train_original/48.85_2.35_90_-001.JPG"))
    write_image(str(root / "paris_eval_gt/001_im.png"))
    spec = {"kind": "paris", "root": str(root)}
    assert names(build_dataset(spec, "train", S)) == ["48.84_2.34_90_-004", "48.85_2.35_90_-001"]
    assert names(build_dataset(spec, "test", S)) == ["001_im"]
    os.remove(root / "paris_eval_gt/001_im.png")
    with pytest.raises(ValueError, match="empty"):
        build_dataset(spec, "test", S)


# ---------------------------------------------------------------------------------- folder / filelist

def test_folder_extensions_sorting_and_dir_overrides(tmp_path):
    root = tmp_path / "imgs"
    write_image(str(root / "train/b.PNG"))
    write_image(str(root / "train/a.jpeg"))
    write_image(str(root / "train/sub/c.webp"))
    (root / "train/notes.txt").write_text("not an image")
    write_image(str(tmp_path / "elsewhere/z.bmp"))
    spec = {"kind": "folder", "root": str(root), "test_dir": str(tmp_path / "elsewhere")}
    assert names(build_dataset(spec, "train", S)) == ["a", "b", "sub_c"]
    assert names(build_dataset(spec, "test", S)) == ["z"]
    with pytest.raises(FileNotFoundError, match=str(root / "test")):
        build_dataset({"kind": "folder", "root": str(root)}, "test", S)


def test_folder_name_collision_keeps_extension(tmp_path):
    write_image(str(tmp_path / "train/x.png"))
    write_image(str(tmp_path / "train/x.jpg"))
    ds = build_dataset({"kind": "folder", "root": str(tmp_path)}, "train", S)
    assert names(ds) == ["x_jpg", "x_png"]


def test_filelist_relative_absolute_and_max(tmp_path):
    write_image(str(tmp_path / "data/one.png"))
    write_image(str(tmp_path / "data/two.png"))
    abs_path = str(tmp_path / "other/three.png")
    write_image(abs_path)
    write_lines(tmp_path / "train.txt", ["data/two.png", "data/one.png", abs_path])
    write_lines(tmp_path / "test.txt", ["data/one.png"])
    spec = {"kind": "filelist", "root": str(tmp_path), "train_list": "train.txt",
            "test_list": "test.txt"}
    train = build_dataset(spec, "train", S)
    assert len(train) == 3 and set(names(train)) >= {"data_one", "data_two"}
    assert names(build_dataset({**spec, "max_train": 2}, "train", S)) == names(train)[:2]
    check_items(train)
    with pytest.raises(ValueError, match="max_train"):
        build_dataset({**spec, "max_train": 0}, "train", S)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        build_dataset({**spec, "test_list": "missing.txt"}, "test", S)


# ---------------------------------------------------------------------------------- csv

def write_csv_rows(path, rows, header=("path", "split", "label")):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_csv_lists_each_split_relative_to_the_csv_folder_or_root(tmp_path):
    data = tmp_path / "data"
    for name in ("a/one.png", "a/two.png", "b/three.jpg", "b/val.png"):
        write_image(str(data / name))
    outside = str(tmp_path / "elsewhere/four.png")
    write_image(outside)
    write_csv_rows(data / "splits.csv", [("a/two.png", "train", "x"), ("a/one.png", "train", "y"),
                                         (outside, "train", "z"), ("b/three.jpg", "test", ""),
                                         ("b/val.png", "val", "")])
    spec = {"kind": "csv", "file": str(data / "splits.csv")}  # no root: paths relative to the CSV's folder
    train, test = build_dataset(spec, "train", S), build_dataset(spec, "test", S)
    assert train.paths == [outside, str(data / "a/one.png"), str(data / "a/two.png")]
    assert names(test) == ["b_three"] and len(names(train)) == 3  # val rows are skipped
    check_items(train)
    rooted = {"kind": "csv", "root": str(data), "file": "splits.csv"}  # file and paths relative to root
    assert build_dataset(rooted, "test", S).paths == test.paths
    before = check_dataset(spec, S)
    write_csv_rows(data / "splits.csv", [("a/two.png", "train", ""), ("a/one.png", "test", ""),
                                         (outside, "train", ""), ("b/three.jpg", "test", "")])
    after = check_dataset(spec, S)  # an image moved from train to test changes both digests
    assert before["train"] != after["train"] and before["test"] != after["test"]


@pytest.mark.parametrize("rows, header, line, says", [
    ([("a.png", "train")], ("file", "split"), 1, "no column 'path' in the header \\(file, split\\)"),
    ([("a.png", "train")], ("path",), 1, "no column 'split'"),
    ([("a.png", "train"), ("b.png", "tset")], ("path", "split"), 3,
     "column 'split': 'tset' is not one of train, test, val"),
    ([("a.png", "test"), ("gone.png", "train")], ("path", "split"), 3, "column 'path': image .*gone.png does not exist"),
    ([("a.png", "test"), ("b.png", "train"), ("a.png", "train")], ("path", "split"), 4,
     "column 'path': 'a.png' is listed twice \\(first at line 2, split test\\)"),
    ([("a.png", "test"), ("", "train")], ("path", "split"), 3, "column 'path' is empty"),
])
def test_a_bad_csv_row_is_refused_naming_file_line_and_column(tmp_path, rows, header, line, says):
    write_image(str(tmp_path / "a.png"))
    write_image(str(tmp_path / "b.png"))
    write_csv_rows(tmp_path / "splits.csv", rows, header)
    for split in ("train", "test"):  # both splits fail alike
        with pytest.raises((ValueError, FileNotFoundError), match=f"splits.csv:{line}: {says}"):
            build_dataset({"kind": "csv", "file": str(tmp_path / "splits.csv")}, split, S)


def test_a_missing_csv_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing file .*nope.csv: spec key 'file'"):
        build_dataset({"kind": "csv", "root": str(tmp_path), "file": "nope.csv"}, "test", S)


def test_corrupt_image_error_names_the_file(tmp_path):
    write_image(str(tmp_path / "test/good.png"))
    bad = tmp_path / "test/bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    ds = build_dataset({"kind": "folder", "root": str(tmp_path)}, "test", S)  # cheap checks pass
    with pytest.raises(ValueError, match="bad.jpg"):
        ds[ds.names.index("bad")]
    assert ds[ds.names.index("good")]["image"].shape == (3, S, S)


def test_unknown_kind_and_bad_split(tmp_path):
    with pytest.raises(ValueError) as e:
        build_dataset({"kind": "imagenet", "root": str(tmp_path)}, "train", S)
    for kind in available_dataset_kinds():
        assert kind in str(e.value)
    with pytest.raises(ValueError, match="split"):
        build_dataset({"kind": "folder", "root": str(tmp_path)}, "val", S)


# ---------------------------------------------------------------------------------- preprocessing

def test_test_split_resizes_shorter_side_then_centre_crops(tmp_path):
    arr = np.zeros((20, 60, 3), np.uint8)  # wide image: red | green | blue thirds
    arr[:, :20], arr[:, 20:40], arr[:, 40:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    write_image(str(tmp_path / "test/wide.png"), array=arr)
    img = build_dataset({"kind": "folder", "root": str(tmp_path)}, "test", S)[0]["image"]
    mean = img.mean(dim=(1, 2))
    assert mean[1] > 0.95 and mean[0] < 0.05 and mean[2] < 0.05


def test_train_flip_is_deterministic_per_seed_and_index(tmp_path):
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[:, :8] = 255  # left half white, so a flip is visible
    for i in range(24):
        write_image(str(tmp_path / f"train/{i:02d}.png"), array=arr)
    spec = {"kind": "folder", "root": str(tmp_path)}
    a, b = build_dataset(spec, "train", S, seed=3), build_dataset(spec, "train", S, seed=3)
    flips = [a.flips(i) for i in range(len(a))]
    assert any(flips) and not all(flips)
    for i in range(len(a)):
        img = a[i]["image"]
        assert torch.equal(img, b[i]["image"]) and torch.equal(img, a[i]["image"])
        left_white = bool(img[:, :, : S // 2].mean() > 0.5)
        assert left_white != flips[i]
    other = build_dataset(spec, "train", S, seed=4)
    assert [other.flips(i) for i in range(len(other))] != flips


def test_train_flips_change_between_epochs_and_training_samples_follow_them(tmp_path):
    from inpaint_bench.training.train import TrainingSamples

    arr = np.zeros((16, 16, 3), np.uint8)
    arr[:, :8] = 255
    for i in range(8):
        write_image(str(tmp_path / f"train/{i:02d}.png"), array=arr)
    images = build_dataset({"kind": "folder", "root": str(tmp_path)}, "train", S, seed=0)
    by_epoch = [[images.flips(i, epoch) for i in range(8)] for epoch in range(6)]
    assert len({tuple(f) for f in by_epoch}) > 1  # a new flip pattern per epoch
    for i in range(8):  # every image is seen both ways within a few epochs
        assert {by_epoch[e][i] for e in range(6)} == {True, False}

    class NoMasks:
        def sample(self, g):
            return g

    samples = TrainingSamples(images, NoMasks())
    for g in (3, 8 + 3, 5 * 8 + 3):  # image 3 in epochs 0, 1 and 5
        image, _ = samples[(g, 3)]
        assert bool(image[:, :, : S // 2].mean() > 0.5) != images.flips(3, g // 8)


# ---------------------------------------------------------------------------------- mini datasets

def read_manifest(root):
    with open(os.path.join(root, "manifest.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("kind", ["mini_natural", "mini_faces"])
def test_mini_build_is_deterministic_and_splits_disjoint(tmp_path, kind):
    a, b = tmp_path / "a", tmp_path / "b"
    build_mini_dataset(kind, a, size=S, train_count=7, test_count=3, seed=0)
    build_mini_dataset(kind, b, size=S, train_count=7, test_count=3, seed=0)
    assert tree_bytes(a) == tree_bytes(b)
    rows = read_manifest(a)
    train_src = {r["source"] for r in rows if r["split"] == "train"}
    test_src = {r["source"] for r in rows if r["split"] == "test"}
    assert train_src and test_src
    if kind == "mini_faces":
        assert not (train_src & test_src)  # faces are held out whole; photographs by a band
    assert len(os.listdir(a / "train")) == 7 and len(os.listdir(a / "test")) == 3
    with Image.open(a / "train/00000.png") as im:
        assert im.size == (S, S) and im.mode == "RGB"
    ds = build_dataset({"kind": kind, "root": str(a)}, "test", S)
    assert names(ds) == ["00000", "00001", "00002"]
    check_items(ds)
    c = tmp_path / "c"
    build_mini_dataset(kind, c, size=S, train_count=7, test_count=3, seed=1)
    assert tree_bytes(c) != tree_bytes(a)


def test_mini_natural_train_and_test_share_every_photo_but_never_a_pixel(tmp_path):
    """Each photograph feeds both splits (shared colour statistics), the test windows from its right
    band and the training windows from left of it, at least one window apart."""
    n = len(mini_module.NATURAL_PHOTOS)
    build_mini_dataset("mini_natural", tmp_path, size=S, train_count=5 * n, test_count=2 * n, seed=0)
    rows = read_manifest(tmp_path)
    for split in ("train", "test"):
        assert {r["source"] for r in rows if r["split"] == split} == set(mini_module.NATURAL_PHOTOS)
    for photo in mini_module.NATURAL_PHOTOS:
        train = [r for r in rows if r["source"] == photo and r["split"] == "train"]
        test = [r for r in rows if r["source"] == photo and r["split"] == "test"]
        window = int(test[0]["crop_size"])
        train_right = max(int(r["crop_x"]) + int(r["crop_size"]) for r in train)
        test_left = min(int(r["crop_x"]) for r in test)
        assert test_left - train_right >= window, photo  # a margin of one window: no shared pixel
    image = mini_module._read_bundled("chelsea.png")
    enlarged, regions = mini_module.photo_regions(image, 3 * 96)  # too small: enlarged to fit
    assert enlarged.shape[1] >= 4 * 3 * 96 and regions["train"][1] > regions["train"][0]


def test_mini_rebuild_smaller_drops_stale_files(tmp_path):
    build_mini_dataset("mini_faces", tmp_path, size=S, train_count=4, test_count=2, seed=0)
    first = (tmp_path / "train/00001.png").read_bytes()
    build_mini_dataset("mini_faces", tmp_path, size=S, train_count=2, test_count=2, seed=0)
    assert sorted(os.listdir(tmp_path / "train")) == ["00000.png", "00001.png"]
    assert (tmp_path / "train/00001.png").read_bytes() == first  # per-index seeding
    assert len(build_dataset({"kind": "mini_faces", "root": str(tmp_path)}, "train", S)) == 2


def test_mini_missing_root_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="inpaint-bench mini --kind mini_natural --out"):
        build_dataset({"kind": "mini_natural", "root": str(tmp_path / "nope")}, "train", S)


def test_mini_cli(tmp_path):
    mini_cli.main(["--kind", "mini_faces", "--out", str(tmp_path), "--size", "16",
                      "--train", "2", "--test", "1", "--seed", "0"])
    assert [r["file"] for r in read_manifest(tmp_path)] == \
        ["train/00000.png", "train/00001.png", "test/00000.png"]


# ---------------------------------------------------------------------------------- official training crops

def gradient_image(width=40, height=24):
    """Red grows with x, green with y: a crop's position and scale show in its colours."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    return arr


def test_random_square_side_and_position_follow_the_official_ranges():
    from inpaint_bench.datasets import random_square

    rng = np.random.default_rng(0)
    boxes = [random_square(40, 24, S, rng) for _ in range(2000)]
    sides = {side for _, _, side in boxes}
    assert sides == set(range(S, 24))  # [S, short side): the official randrange
    assert all(0 <= left < 40 - side and 0 <= top < 24 - side for left, top, side in boxes)
    lefts = [left for left, _, side in boxes if side == S]
    assert min(lefts) == 0 and max(lefts) == 40 - S - 1  # every position but the last, as randrange
    # a short side of S or less: the whole short side, at a random position along the long one
    small = [random_square(30, 12, S, rng) for _ in range(200)]
    assert {side for *_, side in small} == {12} and {top for _, top, _ in small} == {0}
    assert len({left for left, _, _ in small}) > 10
    assert random_square(S, S, S, rng) == (0, 0, S)


def test_training_crops_change_per_epoch_are_deterministic_and_cover_the_image(tmp_path):
    write_image(str(tmp_path / "train/a.png"), array=gradient_image())
    write_image(str(tmp_path / "test/a.png"), array=gradient_image())
    spec = {"kind": "folder", "root": str(tmp_path)}
    a, b = build_dataset(spec, "train", S, seed=1), build_dataset(spec, "train", S, seed=1)
    crops = [a.load(0, epoch)["image"] for epoch in range(40)]
    for epoch in (0, 7, 39):  # a function of (seed, epoch, index): a resumed run sees the same pixels
        assert torch.equal(crops[epoch], b.load(0, epoch)["image"])
    distinct = {tuple(np.round(c.mean(dim=(1, 2)).numpy(), 3)) for c in crops}
    assert len(distinct) > 30  # a new crop (and flip) nearly every epoch
    # undo the flips, then the mean red of each crop says where it sat: left and right parts are seen
    red = [float((c.flip(-1) if a.flips(0, e) else c)[0].mean()) for e, c in enumerate(crops)]
    assert min(red) < 0.4 and max(red) > 0.6
    centre = build_dataset(spec, "train", S, seed=1, crop="centre")
    test = build_dataset(spec, "test", S)[0]["image"]
    for epoch in range(6):  # crop: centre is the test crop, only flipped
        img = centre.load(0, epoch)["image"]
        assert torch.equal(img.flip(-1) if centre.flips(0, epoch) else img, test)
    with pytest.raises(ValueError, match="train crop"):
        build_dataset(spec, "train", S, crop="middle")


def test_images_already_at_size_keep_their_pixels_and_flips(tmp_path):
    """The mini datasets are built at the training size: the random crop is the whole image, and the
    flip is the generator's first draw, so their batches are those of the centre crop."""
    write_image(str(tmp_path / "train/a.png"), array=gradient_image(S, S))
    spec = {"kind": "folder", "root": str(tmp_path)}
    rand, centre = build_dataset(spec, "train", S, seed=4), build_dataset(spec, "train", S, seed=4, crop="centre")
    for epoch in range(8):
        assert torch.equal(rand.load(0, epoch)["image"], centre.load(0, epoch)["image"])


def test_image_and_mask_flips_are_independent_and_each_fair(tmp_path):
    from inpaint_bench.datasets import build_train_masks
    from inpaint_bench.training.train import StepBatches, TrainingSamples

    arr = np.zeros((S, S, 3), np.uint8)
    arr[:, : S // 2] = 255  # left half white: the image's flip shows
    for i in range(10):
        write_image(str(tmp_path / f"train/{i:02d}.png"), array=arr)
    masks = tmp_path / "masks"
    masks.mkdir()
    hole = np.zeros((S, S), np.uint8)
    hole[:, :4] = 255  # a hole on the left: the mask's flip shows
    Image.fromarray(hole).save(masks / "m.png")
    images = build_dataset({"kind": "folder", "root": str(tmp_path)}, "train", S, seed=0)
    samples = TrainingSamples(images, build_train_masks("folder", S, seed=0, mask_dir=masks))
    counts = np.zeros((2, 2))
    for batch in StepBatches(len(images), 5, seed=0, start_step=0, total_steps=80):  # 40 epochs
        for key in batch:
            image, mask = samples[key]
            counts[int(image[:, :, : S // 2].mean() < 0.5), int(mask[0, :, :4].sum() == 0)] += 1
    # 400 samples: each flip about half the time, and the four combinations about a quarter each
    assert np.all(counts > 70), counts
    assert abs(counts[1].sum() - 200) < 40 and abs(counts[:, 1].sum() - 200) < 40


def test_no_mini_crop_is_near_constant(tmp_path):
    """The default's test crops (48 px, 36 natural and 40 faces): every one holds something to inpaint
    (the hubble photograph's black sky gave crops of pixel std 0.003 before)."""
    from inpaint_bench.harness.names import NEAR_CONSTANT_STD

    for kind, count in (("mini_natural", 36), ("mini_faces", 40)):
        build_mini_dataset(kind, tmp_path / kind, size=48, train_count=1, test_count=count, seed=0)
        stds = [np.asarray(Image.open(p)).std() / 255 for p in sorted((tmp_path / kind / "test").glob("*.png"))]
        assert len(stds) == count and min(stds) >= NEAR_CONSTANT_STD, (kind, min(stds))


def test_a_source_with_only_flat_crops_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr("inpaint_bench.datasets.mini.NEAR_CONSTANT_STD", 2.0)  # nothing passes
    with pytest.raises(ValueError, match=r"mini_natural train image 0: 100 crops of \S+ in a row were near-constant"):
        build_mini_dataset("mini_natural", tmp_path, size=16, train_count=1, test_count=1, seed=0)


def test_the_random_training_crop_is_resized_as_the_official_code_resizes_it(tmp_path):
    """The official dataset.py resizes with PIL's default filter (`Image.resize(size)`: bicubic for
    RGB since Pillow 7.0); bilinear, the earlier choice, is an option."""
    from inpaint_bench.datasets import random_square

    write_image(str(tmp_path / "train/a.png"), array=gradient_image())
    spec = {"kind": "folder", "root": str(tmp_path)}
    source = Image.open(tmp_path / "train/a.png").convert("RGB")
    for resize, resample in (("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR)):
        kwargs = {} if resize == "bicubic" else {"resize": resize}  # bicubic is the default
        data = build_dataset(spec, "train", S, seed=3, **kwargs)
        for epoch in range(4):
            rng = data._augmentation_rng(0, epoch)
            flip = rng.random() < 0.5
            left, top, side = random_square(*source.size, S, rng)
            expected = source.crop((left, top, left + side, top + side)).resize((S, S), resample)
            if flip:
                expected = expected.transpose(Image.FLIP_LEFT_RIGHT)
            got = data.load(0, epoch)["image"]
            assert torch.equal(got, torch.from_numpy(np.array(expected)).permute(2, 0, 1).float() / 255), resize
    # the installed Pillow's default filter for RGB, which the official code gets, is bicubic
    assert source.resize((S, S)).tobytes() == source.resize((S, S), Image.BICUBIC).tobytes()
    with pytest.raises(ValueError, match="train.resize"):
        build_dataset(spec, "train", S, resize="lanczos")
