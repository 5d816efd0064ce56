"""Bad or unusual input files: read by their real range, or refused with an error naming the file.

Every bad file is made inside its test. Before datasets.imagefile, a 16-bit PNG read as white and a
float TIFF as black, non-binary masks were cut at 127 silently, empty/full masks scored PSNR inf,
manifest hole ratios were never checked by metrics.score, and a truncated image or a manifest with
other columns ended in a traceback without a file name.
"""

import csv
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inpaint_bench.cli import score as score_cli
from inpaint_bench.datasets import build_dataset, load_test_masks, make_test_masks
from inpaint_bench.datasets.imagefile import read_mask, read_rgb
from inpaint_bench.datasets.images import load_rgb, resize_centre_crop, to_tensor
from inpaint_bench.metrics import score
from inpaint_bench.metrics.evaluation import Evaluation
from inpaint_bench.metrics.suite import MetricSuite

S = 32  # the smallest size the score CLI's metrics accept


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """Point torch.hub at an empty folder so no pretrained weights are ever found or fetched."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def _save(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(path)
    return path


def _png16(path, array):
    """A 16-bit RGB(A) PNG written by hand (Pillow cannot write one)."""
    h, w, c = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def _score_setup(root, gt, pred, mask, manifest_rows=None, manifest_header=("bucket", "file", "hole_ratio")):
    """gt/pred: arrays saved as gt/a.png and pred/a.png (or a file already there); the mask goes to
    masks/0.1-0.9/a.png with a manifest when rows are given, else to masks/a.png. Returns the argv
    for score.main."""
    gt_path = gt if isinstance(gt, Path) else _save(root / "gt" / "a.png", gt)
    pred_path = pred if isinstance(pred, Path) else _save(root / "pred" / "a.png", pred)
    if manifest_rows is None:
        _save(root / "masks" / "a.png", mask)
    else:
        _save(root / "masks" / "0.1-0.9" / "a.png", mask)
        with open(root / "masks" / "manifest.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(manifest_header)
            writer.writerows(manifest_rows)
    return ["--pred", str(pred_path.parent), "--gt", str(gt_path.parent), "--masks", str(root / "masks"),
            "--out", str(root / "res" / "s.csv"), "--weights-dir", str(root / "no_weights")]


def _half_mask():
    mask = np.zeros((S, S), np.uint8)
    mask[: S // 2] = 255
    return mask


def _run(argv, capsys):
    """score.main's exit code and stderr; a fault must end in an `error:` line, with no traceback."""
    code = score_cli.main(argv)
    err = capsys.readouterr().err
    if code:
        assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    return code, err


def _palette_image(colour):
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, *colour])
    return im


# ------------------------------------------------------------------ deep images


def test_16bit_png_reads_by_its_range_in_datasets_and_score(tmp_path, capsys):
    value = np.full((S, S), 32768, np.uint16)
    gt16 = _save(tmp_path / "gt" / "a.png", value)
    assert Image.open(gt16).mode == "I;16"
    rgb = read_rgb(gt16)
    assert rgb.shape == (S, S, 3) and np.allclose(rgb, 32768 / 65535)  # old code: 1.0 (white)

    # a gradient keeps every level: value / 65535
    ramp = np.arange(S * S, dtype=np.uint16).reshape(S, S) * 64
    np.testing.assert_allclose(read_rgb(_save(tmp_path / "ramp.png", ramp))[..., 1], ramp / 65535, atol=1e-7)

    # the dataset path (resize + crop) keeps the range too
    _save(tmp_path / "data" / "test" / "a.png", value)
    item = build_dataset({"kind": "folder", "root": str(tmp_path / "data")}, "test", 16)[0]
    assert item["image"].shape == (3, 16, 16) and torch.allclose(item["image"], torch.tensor(0.5), atol=1e-4)

    # 16-bit RGB(A) PNGs: Pillow keeps the high byte, so the range is right (65535 -> 1.0)
    a = np.zeros((4, 4, 4), np.uint16)
    a[..., 0], a[..., 1], a[..., 3] = 32768, 65535, 65535
    np.testing.assert_allclose(read_rgb(_png16(tmp_path / "rgba16.png", a))[0, 0], [128 / 255, 1.0, 0.0])

    # scored against an 8-bit prediction of ~0.5: a finite, high PSNR (old code: gt white, ~6 dB)
    argv = _score_setup(tmp_path, gt16, np.full((S, S, 3), 128, np.uint8), _half_mask())
    code, err = _run(argv, capsys)
    assert code == 0, err
    row = next(csv.DictReader(open(tmp_path / "res" / "s.csv")))
    assert math.isfinite(float(row["psnr"])) and float(row["psnr"]) > 40


def test_float_tiff_read_by_range_and_out_of_range_refused(tmp_path):
    ramp = np.linspace(0, 1, S * S, dtype=np.float32).reshape(S, S)
    path = _save(tmp_path / "f.tif", ramp)
    assert Image.open(path).mode == "F"
    np.testing.assert_array_equal(read_rgb(path)[..., 2], ramp)  # old code: all black
    assert torch.allclose(to_tensor(load_rgb(path))[0], torch.from_numpy(ramp))

    bad = _save(tmp_path / "bad.tif", ramp * 255)
    with pytest.raises(ValueError, match=r"bad\.tif.*\[0, 255\]"):
        read_rgb(bad)
    nan = ramp.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"nan\.tif.*NaN"):
        read_rgb(_save(tmp_path / "nan.tif", nan))


@pytest.mark.parametrize("make, expected", [
    (lambda: Image.new("RGBA", (4, 4), (10, 20, 30, 0)), (10, 20, 30)),        # alpha dropped
    (lambda: Image.new("LA", (4, 4), (100, 7)), (100, 100, 100)),
    (lambda: Image.new("L", (4, 4), 200), (200, 200, 200)),
    (lambda: Image.new("1", (4, 4), 1), (255, 255, 255)),
    (lambda: Image.new("CMYK", (4, 4), (0, 255, 255, 0)), (255, 0, 0)),
    (lambda: _palette_image((10, 200, 30)), (10, 200, 30)),
    # deep modes, which convert("RGB") turned white: by their 16-bit range
    (lambda: Image.new("I", (4, 4), 65535 // 5), (51, 51, 51)),
    (lambda: Image.new("I;16", (4, 4), 65535 // 5), (51, 51, 51)),
])
def test_modes_convert_to_rgb_the_same_in_datasets_and_score(tmp_path, make, expected):
    im = make()
    path = tmp_path / ("x.tif" if im.mode in ("I", "I;16", "CMYK") else "x.png")
    im.save(path)
    want = np.broadcast_to(np.array(expected, np.float32) / 255.0, (4, 4, 3))
    np.testing.assert_allclose(read_rgb(path), want, atol=1e-6)
    np.testing.assert_array_equal(score.load_image(path).permute(1, 2, 0).numpy(), read_rgb(path))
    np.testing.assert_array_equal(to_tensor(load_rgb(path)).permute(1, 2, 0).numpy(), read_rgb(path))


def test_32bit_integer_image_out_of_16bit_range_refused(tmp_path):
    path = tmp_path / "big.tif"
    Image.new("I", (4, 4), 70000).save(path)
    with pytest.raises(ValueError, match=r"big\.tif.*70000"):
        read_rgb(path)


def test_8bit_png_and_jpeg_tensors_are_bit_identical_to_the_old_path(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for name in ("x.png", "x.jpg"):
        path = _save(tmp_path / name, array)
        # the pre-imagefile datasets path: convert("RGB"), resize + crop, uint8 -> float / 255
        with Image.open(path) as im:
            im.load()
            old_im = im.convert("RGB")
        old = torch.from_numpy(np.asarray(resize_centre_crop(old_im, 24), np.uint8).copy()
                               ).permute(2, 0, 1).float().div_(255.0)
        new = to_tensor(resize_centre_crop(load_rgb(path), 24))
        assert new.dtype == torch.float32 and torch.equal(new, old)
        # the pre-imagefile metrics.score path
        with Image.open(path) as im:
            old_score = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        assert torch.equal(score.load_image(path), torch.from_numpy(old_score).permute(2, 0, 1))


# ------------------------------------------------------------------ broken files


def test_truncated_png_is_named_in_score_and_datasets(tmp_path, capsys):
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (S, S, 3), dtype=np.uint8)).save(buf, format="PNG")
    argv = _score_setup(tmp_path, np.zeros((S, S, 3), np.uint8), np.zeros((S, S, 3), np.uint8), _half_mask())
    pred = tmp_path / "pred" / "a.png"
    pred.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    code, err = _run(argv, capsys)  # old code: OSError "image file is truncated", no file name
    assert code == 2 and str(pred) in err and "truncated" in err and not (tmp_path / "res").exists()

    with pytest.raises(ValueError, match=r"a\.png.*truncated"):
        load_rgb(pred)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="garbage.png"):
        read_rgb(garbage)
    with pytest.raises(ValueError, match="garbage.png"):
        read_mask(garbage)


def test_image_smaller_than_the_ssim_window_is_named(tmp_path, capsys):
    img, mask = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)
    mask[:4] = 255
    code, err = _run(_score_setup(tmp_path, img, img, mask), capsys)  # old code: RuntimeError (padding)
    assert code == 2 and str(tmp_path / "gt" / "a.png") in err and "8x8" in err


# ------------------------------------------------------------------ masks


def test_non_binary_mask_refused_unless_a_threshold_is_given(tmp_path, capsys):
    mask = np.zeros((S, S), np.uint8)
    mask[:8] = 255
    mask[8:16] = 128  # anti-aliased edge: hole or not?
    path = _save(tmp_path / "masks" / "a.png", mask)
    with pytest.raises(ValueError, match=r"a\.png is not binary.*0, 128, 255"):
        read_mask(path)
    assert read_mask(path, threshold=0.4).mean() == 0.5 and read_mask(path, threshold=0.6).mean() == 0.25

    # 16-bit masks: 0 / 65535, anything else refused
    m16 = np.where(mask == 255, 65535, 0).astype(np.uint16)
    assert read_mask(_save(tmp_path / "m16.png", m16)).mean() == 0.25
    m16[20, 20] = 32768
    with pytest.raises(ValueError, match="32768"):
        read_mask(_save(tmp_path / "m16b.png", m16))

    gt = np.full((S, S, 3), 200, np.uint8)
    argv = _score_setup(tmp_path, gt, np.zeros((S, S, 3), np.uint8), mask)
    code, err = _run(argv, capsys)  # old code: cut at 127, exit 0
    assert code == 2 and str(path) in err and "not binary" in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()
    code, err = _run(argv + ["--mask-threshold", "0.4"], capsys)
    assert code == 0, err
    assert float(next(csv.DictReader(open(tmp_path / "res" / "s.csv")))["hole_ratio"]) == 0.5
    code, err = _run(argv + ["--mask-threshold", "1.5"], capsys)
    assert code == 2 and "--mask-threshold" in err


def test_non_binary_mask_in_a_test_mask_set(tmp_path):
    make_test_masks(tmp_path, 16, [(0.1, 0.9)], count=1, seed=0)
    path = tmp_path / "0.1-0.9" / "00000.png"
    png = np.asarray(Image.open(path)).copy()
    png[png == 255] = 254  # still > 127: old code read the same hole silently
    Image.fromarray(png).save(path)
    with pytest.raises(ValueError, match=r"00000\.png is not binary.*254"):
        load_test_masks(tmp_path)
    (stem, mask), = load_test_masks(tmp_path, threshold=0.5)["0.1-0.9"]
    assert stem == "00000" and torch.equal(mask[0], torch.from_numpy((png > 127).astype(np.float32)))


def test_manifest_hole_ratio_must_match_the_file(tmp_path, capsys):
    mask = _half_mask()
    img = np.full((S, S, 3), 100, np.uint8)
    argv = _score_setup(tmp_path, img, img, mask, manifest_rows=[["0.1-0.9", "a.png", "0.25"]])
    code, err = _run(argv, capsys)  # old code: the listed ratio was never read, exit 0
    assert code == 2 and "a.png" in err and "0.25" in err and "0.500000" in err and "manifest.csv" in err
    assert not (tmp_path / "res").exists()
    # a ratio off by less than 1e-3 (e.g. rounded by another tool) is accepted
    _score_setup(tmp_path, img, img, mask, manifest_rows=[["0.1-0.9", "a.png", "0.5004"]])
    code, err = _run(argv, capsys)
    assert code == 0, err


def test_manifest_with_other_columns_is_named(tmp_path, capsys):
    mask = _half_mask()
    img = np.full((S, S, 3), 100, np.uint8)
    argv = _score_setup(tmp_path, img, img, mask, manifest_rows=[["0.1-0.9/a.png", "0.5"]],
                        manifest_header=("path", "ratio"))
    code, err = _run(argv, capsys)  # old code: KeyError: 'bucket'
    assert code == 2 and "manifest.csv" in err and "bucket, file" in err and "it has path, ratio" in err
    assert "Traceback" not in err

    make_test_masks(tmp_path / "set", 16, [(0.1, 0.9)], count=1, seed=0)
    (tmp_path / "set" / "manifest.csv").write_text("path,ratio\n0.1-0.9/00000.png,0.5\n")
    with pytest.raises(ValueError, match="it has path, ratio"):
        load_test_masks(tmp_path / "set")


@pytest.mark.parametrize("fill, what", [(0, "no hole"), (1, "all hole")])
def test_empty_and_full_masks_refused_in_evaluation(tmp_path, capsys, fill, what):
    gt = torch.rand(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, :, :4] = 1
    mask[1] = fill
    evaluation = Evaluation(MetricSuite(enable_lpips=False, enable_fid=False), "d", "v", 0)
    # old code: scored (PSNR inf for the empty mask)
    with pytest.raises(ValueError, match=f"mask 0.1-0.2/m1.png (has|is) {what}"):
        evaluation.add("0.1-0.2", gt, gt, mask, ["i0", "i1"], ["0.1-0.2/m0.png", "0.1-0.2/m1.png"])
    assert evaluation.rows == []

    img = np.full((S, S, 3), 100, np.uint8)
    argv = _score_setup(tmp_path, img, img, np.full((S, S), 255 * fill, np.uint8))
    code, err = _run(argv, capsys)
    assert code == 2 and "mask a.png" in err and what in err and not (tmp_path / "res").exists()
