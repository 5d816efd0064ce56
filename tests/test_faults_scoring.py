"""Another method's outputs, scored honestly (`inpaint-bench score`, `export`, `compare`).

Before: a missing output left n = 3 of 4 and another mean, exit 0; an exported mask was recorded
under its image's name while evaluation records the mask set's file, so `compare` of a scored
method against our rows refused every dataset whose images are not named 00000, 00001, ...; and
`score` composited the known pixels under every protocol, also under the one named after
EdgeConnect's script, which scores the files as they are.
"""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image
from skimage.color import rgb2gray
from skimage.metrics import peak_signal_noise_ratio

from conftest import write_images
from inpaint_bench.cli import score as score_cli
from inpaint_bench.datasets import make_test_masks
from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.evaluation.export import export
from inpaint_bench.jobs.resolve import eval_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.metrics import score
from inpaint_bench.reporting.compare import compare_files
from inpaint_bench.reporting.results import read_summary
from inpaint_bench.reporting.tables import write_tables


@pytest.fixture(autouse=True)
def no_weights_anywhere(tmp_path, monkeypatch):
    """No LPIPS or Inception weights: only the pixel metrics are computed."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _folders(root, images, buckets=("0.1-0.2", "0.2-0.3"), size=32, known_scale=1.0):
    """An export-like layout: gt/<image>.png, masks/<bucket>/<image>.png with a manifest, and the
    outputs pred/<bucket>/<image>.png of a method that fills the hole with the ground truth + 6 grey
    levels and multiplies the known pixels by known_scale. Returns the score arguments without --pred/--out."""
    rng = np.random.default_rng(0)
    rows = []
    for i, image in enumerate(images):
        gt = rng.integers(40, 216, (size, size, 3), dtype=np.uint8)
        _save(root / "gt" / f"{image}.png", gt)
        for b, bucket in enumerate(buckets):
            mask = np.zeros((size, size), np.uint8)
            mask[: size // 8 * (1 + b) + i % 2, :] = 255
            _save(root / "masks" / bucket / f"{image}.png", mask)
            rows.append(f"{bucket},{bucket}/{image}.png,{float((mask == 255).mean())!r}\n")
            pred = np.where(mask[..., None] == 255, gt + 6, np.round(gt * known_scale)).astype(np.uint8)
            _save(root / "pred" / bucket / f"{image}.png", pred)
    (root / "masks" / "manifest.csv").write_text("bucket,file,hole_ratio\n" + "".join(rows))
    return ["--gt", str(root / "gt"), "--masks", str(root / "masks"), "--dataset", "d", "--variant", "other"]


# ------------------------------------------------------------------------------- missing outputs

def test_a_missing_output_is_refused_naming_it_unless_allow_missing(tmp_path, capsys):
    args = _folders(tmp_path, ["a", "b", "c", "d"])
    (tmp_path / "pred" / "0.1-0.2" / "b.png").unlink()
    out = tmp_path / "scores.csv"
    argv = ["--pred", str(tmp_path / "pred"), "--out", str(out), *args]
    assert score_cli.main(argv) == 2  # before: exit 0 with n = 3 in 0.1-0.2
    err = capsys.readouterr().err
    assert "ground-truth images without a prediction: 0.1-0.2/b (1 of the 8 outputs expected" in err
    assert "--allow-missing" in err
    assert not out.exists() and not score.summary_path(out).exists()

    assert score_cli.main(argv + ["--allow-missing"]) == 0
    summary = read_summary(score.summary_path(out))
    psnr = summary[summary.metric == "psnr"].set_index("bucket")
    assert psnr.n.to_dict() == {"0.1-0.2": 3, "0.2-0.3": 4}
    assert (summary.train_note.str.contains("1 of the 8 outputs were missing and are not scored "
                                            r"\(score --allow-missing\): 0.1-0.2/b")).all()
    provenance = json.loads(score.provenance_path(out).read_text())
    assert provenance["missing"] == ["0.1-0.2/b"] and provenance["allow_missing"] is True
    assert provenance["scored"] == 7
    table = write_tables(summary, "d", tmp_path / "tables", baseline_row=None)["md"].read_text()
    assert "other: 1 of the 8 outputs were missing and are not scored (score --allow-missing): 0.1-0.2/b" in table


def test_many_missing_outputs_are_named_the_first_few_and_a_count(tmp_path, capsys):
    images = [f"im{i:02d}" for i in range(13)]
    args = _folders(tmp_path, images)
    for image in images[1:]:  # 12 images x 2 buckets missing
        for bucket in ("0.1-0.2", "0.2-0.3"):
            (tmp_path / "pred" / bucket / f"{image}.png").unlink()
    assert score_cli.main(["--pred", str(tmp_path / "pred"), "--out", str(tmp_path / "s.csv"), *args]) == 2
    err = capsys.readouterr().err
    assert "(24 of the 26 outputs expected" in err and "0.1-0.2/im01" in err and "(+4 more)" in err


# --------------------------------------------------------------- one identity: export, score, compare

def test_export_score_compare_pairs_every_image_of_a_filelist_dataset(tmp_path):
    """Test images with non-numeric names, 4 of them on 3 masks per bucket (image 3 meets mask 0):
    a method run on the export and scored pairs with our own evaluation image by image."""
    rng = np.random.default_rng(1)
    names = ["beach", "cat", "harbour", "wall"]
    for name in names + ["t0", "t1"]:
        _save(tmp_path / "data" / "photos" / f"{name}.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    (tmp_path / "data" / "test.txt").write_text("".join(f"photos/{n}.png\n" for n in names))
    (tmp_path / "data" / "train.txt").write_text("photos/t0.png\nphotos/t1.png\n")
    config = {"results_dir": str(tmp_path / "results"), "seeds": [0], "image_size": 32, "width": 4,
              "datasets": {"fl": {"kind": "filelist", "root": str(tmp_path / "data"), "train_list": "train.txt",
                                  "test_list": "test.txt"}},
              "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 3},
              "eval": {"batch_size": 4, "samples": 0, "lpips": False, "fid": False},
              "variants": {"mean_fill": {"backbone": "mean_fill"}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    config = load_config(tmp_path / "config.yaml")
    masks = tmp_path / "masks"
    make_test_masks(masks, 32, config["masks"]["buckets"], count=3, seed=0)
    evaluate(eval_job(config, "fl", "mean_fill", 0), tmp_path / "eval", masks_dir=masks)
    pairs = tmp_path / "pairs"
    export(config, "fl", 0, pairs, masks_path=str(masks))

    # "another method": mean fill, run on the exported inputs and masks only
    for mask_path in (pairs / "masks").rglob("*.png"):
        bucket, name = mask_path.parent.name, mask_path.stem
        hole = np.asarray(Image.open(mask_path))[..., None] > 127
        image = np.asarray(Image.open(pairs / "input" / bucket / f"{name}.png")).astype(float)
        _save(tmp_path / "pred" / bucket / f"{name}.png",
              np.round(np.where(hole, image[~hole[..., 0]].mean(0), image)).astype(np.uint8))
    assert score_cli.main(["--pred", str(tmp_path / "pred"), "--gt", str(pairs / "gt"), "--masks", str(pairs / "masks"),
                       "--out", str(tmp_path / "scores.csv"), "--dataset", "fl", "--variant", "other"]) == 0

    ours, theirs = pd.read_csv(tmp_path / "eval" / "per_image.csv"), pd.read_csv(tmp_path / "scores.csv")
    key = ["bucket", "image", "mask"]
    assert sorted(map(tuple, theirs[key].to_numpy())) == sorted(map(tuple, ours[key].to_numpy()))
    assert set(ours["image"]) == {"photos_beach", "photos_cat", "photos_harbour", "photos_wall"}
    assert set(ours.loc[ours.image == "photos_wall", "mask"]) == {"0.1-0.3/00000.png", "0.3-0.6/00000.png"}
    warnings = []
    rows, _, _ = compare_files(tmp_path / "eval" / "per_image.csv", tmp_path / "scores.csv",
                               metrics=["psnr", "ssim", "l1"],
                               warn=warnings.append)  # before: "4 only in A ...; 4 only in B ..." refused
    assert not any("left out" in w for w in warnings), warnings
    assert rows.set_index(["bucket", "metric"]).n.to_dict()[("all", "psnr")] == 8  # every image of both buckets
    assert (rows[rows.bucket != "all"].n == 4).all()
    assert rows[rows.metric == "psnr"].delta.abs().max() < 0.2  # the same fill, up to the 8-bit export

    # an export made before its manifest had the `mask` column: refused, saying why and what to do
    manifest = pd.read_csv(pairs / "masks" / "manifest.csv")
    manifest.drop(columns="mask").to_csv(pairs / "masks" / "manifest.csv", index=False)
    assert score_cli.main(["--pred", str(tmp_path / "pred"), "--gt", str(pairs / "gt"), "--masks", str(pairs / "masks"),
                       "--out", str(tmp_path / "old.csv"), "--dataset", "fl", "--variant", "other"]) == 0
    with pytest.raises(ValueError, match="its mask is named otherwise: .* export the pairs again and score them"):
        compare_files(tmp_path / "eval" / "per_image.csv", tmp_path / "old.csv", warn=lambda m: None)


# ------------------------------------------------------------------- compositing is part of the protocol

def _edgeconnect_script_psnr(pred_file, gt_file) -> float:
    """EdgeConnect's scripts/metrics.py PSNR on the two files as they are."""
    a, b = (rgb2gray((np.asarray(Image.open(f).convert("RGB")) / 255.0).astype(np.float32)) for f in (gt_file, pred_file))
    return float(peak_signal_noise_ratio(a, b, data_range=1))


def test_compositing_is_part_of_the_protocol_explicit_and_recorded(tmp_path, capsys):
    """A method that darkens the known pixels: as-is and composited differ by dB, edgeconnect scores
    as its script does (as-is), and the choice is recorded in every result file and table."""
    args = _folders(tmp_path, ["a", "b"], size=64, known_scale=0.9)
    pred = tmp_path / "pred"

    def scored(name, *extra):
        out = tmp_path / f"{name}.csv"
        assert score_cli.main(["--pred", str(pred), "--out", str(out), *args, *extra]) == 0
        return out, pd.read_csv(out)

    ec_out, ec = scored("ec", "--protocol", "edgeconnect")
    assert set(ec.protocol) == {"edgeconnect"}
    for row in ec.itertuples():  # the script's own numbers: the files as they are
        expected = _edgeconnect_script_psnr(pred / row.bucket / f"{row.image}.png", tmp_path / "gt" / f"{row.image}.png")
        assert row.psnr == pytest.approx(expected, abs=1e-6)
    ecc_out, ecc = scored("ecc", "--protocol", "edgeconnect", "--composite")
    assert set(ecc.protocol) == {"edgeconnect+composite"}
    assert ecc.psnr.mean() > ec.psnr.mean() + 3  # several dB apart for this method

    _, harness = scored("h")  # default composites; --as-is is recorded
    _, as_is = scored("ha", "--as-is")
    assert set(harness.protocol) == {"default"} and set(as_is.protocol) == {"default+as-is"}
    assert harness.psnr.mean() > as_is.psnr.mean() + 3
    assert json.loads(score.provenance_path(ec_out).read_text())["composite"] is False
    assert json.loads(score.provenance_path(ecc_out).read_text())["composite"] is True
    assert "outputs composited with the known pixels first" in capsys.readouterr().out

    summary = read_summary(score.summary_path(ec_out))
    assert set(summary.protocol) == {"edgeconnect"}
    table = write_tables(summary, "d", tmp_path / "tables", baseline_row=None)["md"].read_text()
    assert "Scoring protocol edgeconnect: EdgeConnect's scripts/metrics.py" in table
    assert "output files scored as they are, known pixels included" in table
    table = write_tables(read_summary(score.summary_path(ecc_out)), "d", tmp_path / "t2", baseline_row=None)
    assert "Scoring protocol edgeconnect+composite:" in table["md"].read_text()
    assert "(not the protocol's own: `score --composite`)" in table["md"].read_text()
    with pytest.raises(ValueError, match=r"under protocol edgeconnect, B .* under edgeconnect\+composite"):
        compare_files(ec_out, ecc_out, warn=lambda m: None)


def test_a_network_is_scored_on_its_composite_under_edgeconnect_as_its_files_are(tmp_path, monkeypatch):
    """A network's output is its composite (what the official test scripts save): under edgeconnect,
    which scores files as they are, our rows equal the script on the composites we write, not on the
    raw output that alters the known pixels."""
    write_images(tmp_path / "data" / "test", 2, size=64)
    write_images(tmp_path / "data" / "train", 2, size=64, seed=1)
    config = {"results_dir": str(tmp_path / "results"), "seeds": [0], "image_size": 64, "width": 4,
              "datasets": {"toy": {"kind": "folder", "root": str(tmp_path / "data")}},
              "masks": {"buckets": [[0.1, 0.3]], "count": 2},
              "eval": {"batch_size": 2, "samples": 2, "lpips": False, "fid": False, "protocol": "edgeconnect"},
              "variants": {"mean_fill": {"backbone": "mean_fill"}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    config = load_config(tmp_path / "config.yaml")
    make_test_masks(tmp_path / "masks", 64, config["masks"]["buckets"], count=2, seed=0)

    class Darkens(torch.nn.Module):  # fills the hole with grey and darkens every known pixel
        def forward(self, masked, mask):
            return masked * 0.8 + 0.5 * mask

    monkeypatch.setattr("inpaint_bench.evaluation.evaluate.load_variant", lambda job, path, device: (Darkens(), [], None))
    evaluate(eval_job(config, "toy", "mean_fill", 0), tmp_path / "eval", masks_dir=tmp_path / "masks")
    rows = pd.read_csv(tmp_path / "eval" / "per_image.csv")
    assert set(rows.protocol) == {"edgeconnect"}
    for row in rows.itertuples():
        base = tmp_path / "eval" / "samples" / row.bucket / row.image
        gt = np.asarray(Image.open(f"{base}_gt.png")).astype(float)
        hole = np.asarray(Image.open(tmp_path / "masks" / row.mask))[..., None] == 255
        composite = np.where(hole, 128, gt).astype(np.uint8)  # the grey fill, the known pixels as they were
        _save(tmp_path / "composite.png", composite)
        assert np.array_equal(np.asarray(Image.open(f"{base}_output.png")), composite)  # the file written
        assert row.psnr == pytest.approx(_edgeconnect_script_psnr(tmp_path / "composite.png", f"{base}_gt.png"),
                                         abs=1e-6)
