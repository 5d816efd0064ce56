"""config/paper.yaml: every row of both papers' studies, under their protocols; published/ format."""
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from helpers.workflow import REPO, planned_jobs
from inpaint_bench.harness.published import PUBLISHED_COLUMNS, load_published, published_tables
from inpaint_bench.jobs.validate import validate_config

PAPER = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
PAPER_RESOLVED = validate_config(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()), "paper.yaml")

RFR_ROWS = ["pconv", "baseline", "rfr", "rfr_att", "rfr_kca", "rfr_kca_it7", "rfr_kca_it8"]
# DGI's own ablation on its network (encdec + DGI attention), one step per row, then DGI plugged into RFR-Net
DGI_LADDER = ["dgi_net", "dgi_cd", "dgi_cd_sd", "dgi_cd_sd_at", "dgi_cd_sd_at_cb", "baseline_dgi"]
DGI_ROWS = DGI_LADDER + ["rfr_kca_cd", "rfr_kca_cd_sd", "rfr_kca_cd_sd_at", "rfr_kca_dgi"]
CLASSICAL_ROWS = ["mean_fill", "biharmonic"]
TEACHERS = ["rfr_attention-kca", "encdec_attention-dgi"]


def image(path, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(path)


@pytest.fixture
def paper_config(tmp_path):
    """config/paper.yaml with its roots pointing at one-image trees in the official layouts."""
    places, celeba, paris = tmp_path / "places", tmp_path / "celeba", tmp_path / "paris"
    image(places / "data_256/a/abbey/00000001.jpg")
    (places / "places365_train_challenge.txt").write_text("/a/abbey/00000001.jpg 0\n")
    image(places / "val_256/Places365_val_00000001.jpg")
    (places / "places365_val.txt").write_text("Places365_val_00000001.jpg 0\n")
    image(celeba / "img_align_celeba/000001.jpg")
    image(celeba / "img_align_celeba/000002.jpg")
    (celeba / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 2\n")
    image(paris / "paris_train_original/a.png")
    image(paris / "paris_eval_gt/b.png")
    masks = tmp_path / "testing_mask_dataset"
    masks.mkdir()
    hole = np.zeros((64, 64), np.uint8)
    hole[:, :4] = 255  # a white hole of 6 %: NVIDIA's first category (a mask with no hole is refused)
    Image.fromarray(hole).save(masks / "00000.png")
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    for name, root in (("places2", places), ("celeba", celeba), ("paris", paris)):
        config["datasets"][name]["root"] = str(root)
    config["masks"]["nvidia_dir"] = str(masks)
    config["weights"]["dir"] = str(tmp_path / "weights")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, config


def test_paper_config_holds_every_row_of_both_studies_under_their_protocols():
    config = validate_config(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()), "paper.yaml")
    assert set(config["variants"]) == set(RFR_ROWS + DGI_ROWS + CLASSICAL_ROWS)
    # Table 3's IterNum study: 6 (rfr_kca, the model's default), 7, 8; each row's label names its IterNum
    assert "iterations" not in config["variants"]["rfr_kca"] and "IterNum 6" in config["variants"]["rfr_kca"]["label"]
    for n in (7, 8):
        assert config["variants"][f"rfr_kca_it{n}"]["iterations"] == n
        assert config["variants"][f"rfr_kca_it{n}"]["label"].endswith(f"IterNum {n}")
    assert set(config["datasets"]) == {"places2", "celeba", "paris"}
    # test masks: NVIDIA's set in its six categories, every mask of each
    masks = config["masks"]
    assert masks["source"] == "nvidia" and masks["count"] == "all"
    assert masks["buckets"] == [[0.01, 0.1], [0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.4, 0.5], [0.5, 0.6]]
    # training as the official code
    train = config["train"]
    assert train["masks"]["source"] == "strokes" and train["crop"] == "random"
    assert train["finetune_optimizer"] == "fresh"
    assert train["loss"]["vgg_input"] == "unit" and train["loss"]["tv_region"] == "composite_hole"
    assert train["precision"] == "fp32" and train["resize"] == "bicubic" and train["masks"]["caps"] == "round"
    assert config["datasets"]["places2"]["train_set"] == "challenge"  # the official README's Places2


def test_the_iternum_1_to_6_study_is_a_config_of_its_own_on_paris():
    from inpaint_bench.harness.config import read_config_file

    config = validate_config(read_config_file(REPO / "config" / "paper_iternum.yaml"), "paper_iternum.yaml")
    assert list(config["datasets"]) == ["paris"]
    assert [config["variants"][v].get("iterations", 6) for v in config["variants"]] == [1, 2, 3, 4, 5, 6]
    assert [config["variants"][v]["label"].split(" (")[0] for v in config["variants"]] == [
        f"IterNum {n}" for n in range(1, 7)]
    assert config["train"] == PAPER_RESOLVED["train"] and config["masks"] == PAPER_RESOLVED["masks"]


def test_dgi_ablates_on_its_own_network_one_step_per_row_and_each_row_says_which_study():
    config = validate_config(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()), "paper.yaml")
    rows = [config["variants"][name] for name in DGI_LADDER]
    assert all(r["backbone"] == "encdec" and r["attention"] == "dgi" for r in rows)
    steps = [("distill", "cross"), ("distill", "self"), ("distill", "attention"), ("completion_block",),
             ("fusion",)]
    for before, after, step in zip(rows, rows[1:], steps):  # each row adds exactly its step
        def has(row, path):
            value = row.get(path[0], {})
            return bool(value.get(path[1])) if len(path) == 2 else bool(value) and value != "none"
        assert not has(before, step) and has(after, step), step
        assert {k for k in after if k not in ("distill", "label")} - set(before) <= {step[0]}
    for name in DGI_LADDER:
        assert config["variants"][name]["label"].startswith("DGI ablation on its own network")
    for name in ("rfr_kca_cd", "rfr_kca_cd_sd", "rfr_kca_cd_sd_at", "rfr_kca_dgi"):
        assert config["variants"][name]["label"].startswith("DGI plugged into RFR-Net")


def documented_job_counts() -> dict[str, int]:
    """Rule -> jobs, from the table of docs/scale.md's "The paper config: jobs" (rows naming one rule)."""
    text = (REPO / "docs" / "scale.md").read_text()
    section = text[text.index("## The paper config: jobs"):text.index("## The paper config: GPU-hours")]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\| `(\w+)` \| (\d+) \|", section, re.M)}


@pytest.mark.parametrize("name", ["paper.yaml", "paper_text.yaml"])
def test_dry_run_of_the_paper_config_lists_every_row_teacher_and_evaluation(paper_config, tmp_path, name):
    path, config = paper_config
    if name != "paper.yaml":  # `base: paper.yaml`: beside the fixture's paper.yaml, which it then reads
        path = tmp_path / name
        path.write_text((REPO / "config" / name).read_text())
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch_home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n",
                           "--directory", str(tmp_path / "work"), "--configfile", str(path)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc.stdout)
    trained = {w for r, w in jobs if r == "train"}
    evaluated = {w for r, w in jobs if r == "evaluate"}
    for dataset in ("places2", "celeba", "paris"):
        for variant in RFR_ROWS + DGI_ROWS:
            assert f"dataset={dataset}, variant={variant}, seed=0" in trained, (dataset, variant)
        for variant in RFR_ROWS + DGI_ROWS + CLASSICAL_ROWS:
            assert f"dataset={dataset}, variant={variant}, seed=0" in evaluated, (dataset, variant)
    assert len(trained) == 3 * len(RFR_ROWS + DGI_ROWS)
    assert sorted(w for r, w in jobs if r == "train_teacher") == sorted(
        f"dataset={d}, arch={a}, seed=0" for d in ("places2", "celeba", "paris") for a in TEACHERS)
    assert [w for r, w in jobs if r == "make_test_masks"] == ["seed=0"]  # one NVIDIA set for all
    assert any(r == "download_weights" for r, _ in jobs)
    # the paper's view of each published table and the scorecard (report.paper_tables)
    assert sorted(w for r, w in jobs if r == "paper_view") == sorted(
        f"paper_table={name}" for name in RFR_TABLES)
    assert [r for r, _ in jobs].count("scorecard") == 1
    if name == "paper.yaml":  # docs/scale.md's job table is this dry run's count
        assert documented_job_counts() == {rule: [r for r, _ in jobs].count(rule) for rule in documented_job_counts()}
    assert not (tmp_path / "work" / "results_paper").exists()  # a dry run writes nothing
    assert not (tmp_path / "work" / "results_paper_text").exists()


def test_paper_text_config_takes_the_texts_settings_where_the_code_differs():
    from inpaint_bench.harness.config import read_config_file

    text = validate_config(read_config_file(REPO / "config" / "paper_text.yaml"), "paper_text.yaml")
    code = PAPER_RESOLVED
    # the official code's values in paper.yaml (the schema's defaults), the text's (p. 7765) in paper_text.yaml
    assert (code["train"]["lr"], code["train"]["finetune_lr"]) == (2e-4, 5e-5)
    assert (text["train"]["lr"], text["train"]["finetune_lr"]) == (1e-4, 1e-5)
    weights = ("hole", "valid", "perceptual", "style", "tv")
    assert [code["train"]["loss"][k] for k in weights] == [6, 1, 0.05, 120, 0.1]
    assert [text["train"]["loss"][k] for k in weights] == [6, 1, 0.1, 180, 0]
    assert text["results_dir"] != code["results_dir"]
    # nothing else differs: the same rows, datasets, masks and evaluation
    for key in ("variants", "datasets", "masks", "eval", "seeds"):
        assert text[key] == code[key], key
    assert {k: v for k, v in text["train"].items() if k not in ("lr", "finetune_lr", "loss")} == {
        k: v for k, v in code["train"].items() if k not in ("lr", "finetune_lr", "loss")}


def test_a_missing_nvidia_folder_fails_before_any_job(paper_config, tmp_path):
    from inpaint_bench.harness.config import ConfigError
    from inpaint_bench.jobs.validate import check_datasets_readable

    path, config = paper_config
    config["masks"]["nvidia_dir"] = str(tmp_path / "no_such_folder")
    with pytest.raises(ConfigError, match="masks.nvidia_dir: missing mask folder .*no_such_folder"):
        check_datasets_readable(validate_config(config, "paper"))


def test_published_tables_follow_the_documented_format(tmp_path):
    # every CSV shipped in published/ is readable and complete
    for name, rows in published_tables().items():
        assert rows, name
    readme = (REPO / "published" / "README.md").read_text()
    for column in PUBLISHED_COLUMNS:
        assert f"`{column}`" in readme, column
    # the checks name the file, the line and the fault (values here are made up for the test)
    good = ",".join(PUBLISHED_COLUMNS) + "\n" + \
        "rfr,Table X,paris,nvidia_test,Ours,rfr_kca,0.1-0.2,psnr,12.5,12.5,https://example.org\n"
    (tmp_path / "good.csv").write_text(good)
    assert load_published(tmp_path / "good.csv")[0]["value"] == 12.5
    for broken, fault in [(good.replace(",psnr,", ",psnrr,"), "metric 'psnrr'"),
                          (good.replace(",12.5,12.5,", ",n/a,12.5,"), "value 'n/a'"),
                          (good.replace(",0.1-0.2,", ",10-20%,"), "bucket"),
                          (good.replace("Table X", ""), "empty table"),
                          (good + good.splitlines()[1] + "\n", "a second value"),
                          (good.replace("printed,", ""), "columns")]:
        (tmp_path / "bad.csv").write_text(broken)
        with pytest.raises(ValueError, match=fault):
            load_published(tmp_path / "bad.csv")


# RFR-Net's tables as printed on p. 7767 of the CVPR 2020 paper: how many numbers each holds
# (Table 1: 6 methods x 3 datasets x 3 buckets x 3 metrics, less GatedConv's 9 Places2 dashes;
# Table 2: 3 backbones x SSIM, PSNR, its Model Size being no metric of ours; Table 3: IterNum 6-8 x
# SSIM, PSNR; Figure 7: 2 attentions x SSIM, PSNR, mean l1).
RFR_TABLES = {"rfr_net_table1": ("Table 1", 153), "rfr_net_table2": ("Table 2", 6),
              "rfr_net_table3": ("Table 3", 6), "rfr_net_figure7": ("Figure 7", 6)}
# A few cells read off the paper's text by hand: (file, dataset, row, bucket, metric) -> printed.
PINNED = {
    ("rfr_net_table1", "places2", "RFR-Net(Ours)", "0.1-0.2", "ssim"): "0.939",
    ("rfr_net_table1", "celeba", "PConv", "0.5-0.6", "psnr"): "22.14",
    ("rfr_net_table1", "paris", "RFR-Net(Ours)", "0.5-0.6", "l1"): "0.0546",
    ("rfr_net_table1", "celeba", "GatedConv", "0.3-0.4", "l1"): "0.0245",
    ("rfr_net_table1", "places2", "PIC", "0.5-0.6", "psnr"): "17.17",
    ("rfr_net_table2", "paris", "bare RFR-Net", "0.4-0.5", "psnr"): "24.60",
    ("rfr_net_table2", "paris", "Coarse-To-Fine", "0.4-0.5", "ssim"): "0.768",
    ("rfr_net_table3", "paris", "IterNum 7", "unstated", "ssim"): "0.852",
    ("rfr_net_table3", "paris", "IterNum 8", "unstated", "psnr"): "26.15",
    ("rfr_net_figure7", "paris", "KCA", "0.4-0.5", "l1"): "0.0375",
    ("rfr_net_figure7", "paris", "Existing Attention", "0.4-0.5", "psnr"): "24.48",
}
ROW_VARIANTS = {"PConv": "pconv", "RFR-Net(Ours)": "rfr_kca", "bare RFR-Net": "rfr", "Existing Attention": "rfr_att",
                "KCA": "rfr_kca", "IterNum 6": "rfr_kca", "IterNum 7": "rfr_kca_it7", "IterNum 8": "rfr_kca_it8"}


def test_rfr_net_tables_hold_every_printed_value_with_the_papers_page():
    tables = published_tables()
    assert set(RFR_TABLES) <= set(tables)
    for name, (table, count) in RFR_TABLES.items():
        rows = tables[name]
        assert len(rows) == count, name
        assert {r["table"] for r in rows} == {table}
        assert {r["source"] for r in rows} == {f"Li et al., CVPR 2020, p. 7767, {table}"}
        for r in rows:  # written as printed: mean l1 is printed as a fraction, so value == printed
            assert r["value"] == float(r["printed"]), r
            assert r["variant"] == ROW_VARIANTS.get(r["row"], ""), r  # PIC, GatedConv, ...: published only
    table1 = tables["rfr_net_table1"]
    assert {(r["dataset"], r["bucket"]) for r in table1} == {
        (d, b) for d in ("places2", "celeba", "paris") for b in ("0.1-0.2", "0.3-0.4", "0.5-0.6")}
    # GatedConv has no Places2 numbers (printed as dashes): missing, never zero
    assert not [r for r in table1 if r["row"] == "GatedConv" and r["dataset"] == "places2"]
    assert len([r for r in table1 if r["row"] == "GatedConv"]) == 18
    for (name, dataset, row, bucket, metric), printed in PINNED.items():
        [hit] = [r for r in tables[name] if (r["dataset"], r["row"], r["bucket"], r["metric"]) ==
                 (dataset, row, bucket, metric)]
        assert hit["printed"] == printed and hit["value"] == float(printed)
    # the paper's own order of rows (the paper's view prints them in it)
    assert list(dict.fromkeys(r["row"] for r in table1)) == [
        "PIC", "PConv", "GatedConv", "EdgeConnect", "PRVS", "RFR-Net(Ours)"]


# The paper's view and the scorecard, from the fake results tree (helpers/fake_results.py, dataset
# "mini", two seeds of 10 images). Made-up published numbers: three cells of ours, each with a
# verdict computed by hand; a row without a variant; a cell our run lacks; a bucket the paper leaves unstated.
FAKE_TABLE = [  # row, variant, bucket, metric, printed
    ("PConv", "pconv_base", "0.2-0.3", "psnr", "19.00"),  # ours 19.0 (both seeds): Δ +0.00, within the rounding
    ("PConv", "pconv_base", "0.1-0.2", "psnr", "21.31"),  # ours (20 + 22) / 2 = 21.00: Δ -0.31, seeds 2 dB apart
    ("GatedConv", "", "0.1-0.2", "psnr", "20.11"),        # published only
    ("RFR-Net", "rfr_full", "0.1-0.2", "l1", "0.0250"),   # ours 0.03, images ± 0.001: Δ +0.0050, off by more
    ("RFR-Net", "rfr_full", "0.5-0.6", "psnr", "22.40"),  # no bucket 0.5-0.6 in the run
    ("RFR-Net", "rfr_full", "unstated", "ssim", "0.857"),
]


@pytest.fixture(scope="module")
def paper_tables(tmp_path_factory):
    from helpers.fake_results import DATASET, make_results, per_image_paths
    from inpaint_bench.reporting.aggregate import aggregate
    from inpaint_bench.reporting.paper import write_scorecard, write_view
    from inpaint_bench.reporting.results import read_per_images
    from inpaint_bench.reporting.stats import Bootstrap

    root = tmp_path_factory.mktemp("paper_view")
    paths = make_results(root, logs=False)
    lines = [",".join(PUBLISHED_COLUMNS)] + [
        f"rfr_net_cvpr2020,Table 1,{DATASET},nvidia_test,{row},{variant},{bucket},{metric},{printed},{printed},"
        f"\"Li et al., CVPR 2020, p. 7767, Table 1\"" for row, variant, bucket, metric, printed in FAKE_TABLE]
    (root / "table1.csv").write_text("\n".join(lines) + "\n")
    summary, per_image, bootstrap = aggregate(paths), read_per_images(per_image_paths(paths)), Bootstrap(1000)
    view = write_view(summary, per_image, root / "table1.csv", root / "out", bootstrap)
    card = write_scorecard(summary, per_image, [root / "table1.csv"], root / "out", bootstrap)
    return {ext: view[ext].read_text() for ext in view}, {ext: card[ext].read_text() for ext in card}


def test_paper_view_has_the_papers_rows_buckets_and_precision_with_ours_and_delta(paper_tables):
    from helpers.fake_results import md_cells

    view, _ = paper_tables
    md = view["md"]
    # the paper's rows in its order; published-only rows marked; our value and Δ under each mapped row
    labels = [line.split(" | ")[0][2:] for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert labels[:8] == ["Table 1", "PConv", "ours: pconv_base", "Δ ours − published (pconv_base)",
                          "GatedConv (published only)", "RFR-Net", "ours: rfr_full", "Δ ours − published (rfr_full)"]
    # its buckets in its order (here also one it does not state), its metrics in its order
    assert "| Table 1 | mini 20%-30% | mini 10%-20% | mini 50%-60% | mini ratio not stated |" in md
    assert md.index("**PSNR (dB)↑**") < md.index("**Mean l1 (fraction)↓**") < md.index("**SSIM↑**")
    cells = md_cells(md)
    assert "21.00" in cells and "0.0300" in cells  # ours at the printed precision (l1 as a fraction)
    assert any(c.startswith("-0.31 [") for c in cells) and any(c.startswith("+0.0050 [+0.00") for c in cells)
    assert not [c for c in cells if "**" in c]  # nothing in bold: no row is "best", a published-only row least of all
    assert not re.search(r'class="[^"]*\bbest\b', view["html"]) and r"\textbf" not in view["tex"]
    assert "(published only)" in view["tex"] and r"$\Delta$ ours" in view["tex"]
    assert "GatedConv (published only)" in view["html"]
    frame = pd.read_csv(io.StringIO(view["csv"]), keep_default_na=False)
    assert len(frame) == len(FAKE_TABLE) and list(frame["row"]) == [r[0] for r in FAKE_TABLE]


def test_scorecard_has_one_line_per_mapped_cell_with_hand_computed_delta_and_verdict(paper_tables):
    _, card = paper_tables
    frame = pd.read_csv(io.StringIO(card["csv"]), keep_default_na=False, na_values={
        c: [""] for c in ("ours", "diff", "diff_lo", "diff_hi")})
    assert list(frame["row"]) == ["PConv", "PConv", "RFR-Net", "RFR-Net", "RFR-Net"]  # GatedConv: no variant
    by_cell = frame.set_index(["variant", "bucket", "metric"])
    hand = by_cell.loc[("pconv_base", "0.1-0.2", "psnr")]
    assert hand["ours"] == 21.0 and hand["diff"] == pytest.approx(-0.31)
    assert hand["diff_lo"] < 0 < hand["diff_hi"] and hand["verdict"] == "within our interval"
    assert by_cell.loc[("pconv_base", "0.2-0.3", "psnr"), "verdict"] == "within the published rounding"
    off = by_cell.loc[("rfr_full", "0.1-0.2", "l1")]
    assert off["diff"] == pytest.approx(0.005) and off["verdict"] == "off by more (ours worse)"
    assert by_cell.loc[("rfr_full", "0.5-0.6", "psnr"), "verdict"] == "no result of ours"
    assert by_cell.loc[("rfr_full", "unstated", "ssim"), "verdict"].startswith("not compared")
    md = card["md"]
    assert ("Table 1, PConv row (pconv_base): 2 of 2 cells within the published rounding or our interval "
            "(1 within the rounding, 1 within our interval, 0 off by more, 0 without a result of ours); "
            "1 of 2 PSNR cells within 0.3 dB.") in md
    assert "Table 1, RFR-Net row (rfr_full): 0 of 3 cells" in md
    assert "| PConv → pconv_base, mini 10%-20%, PSNR (dB)↑ | 21.31 | 21.00 | -0.31 | [" in md
    assert card["tex"].count(r"\\") >= 5 and "scorecard" in card["html"].lower()


def test_dry_run_of_the_released_checkpoints_config_scores_them_against_table1(paper_config, tmp_path):
    from test_released_weights import official_checkpoint

    path, config = paper_config
    released = yaml.safe_load((REPO / "config" / "rfr_released.yaml").read_text())
    for name in ("paris", "celeba"):  # random weights in the official layout, at the paper's width
        official_checkpoint(tmp_path / f"{name}.pth", w=64)
        released["variants"][f"rfr_released_{name}"]["weights"]["path"] = str(tmp_path / f"{name}.pth")
        released["datasets"][name]["root"] = config["datasets"][name]["root"]
    (tmp_path / "rfr_released.yaml").write_text(yaml.safe_dump(released, sort_keys=False))
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch_home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--directory",
                           str(tmp_path / "work"), "--configfile", str(tmp_path / "rfr_released.yaml")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc.stdout)
    assert not [w for r, w in jobs if r in ("train", "train_teacher")]  # the released networks as they are
    assert sorted(w for r, w in jobs if r == "evaluate") == sorted(
        f"dataset={d}, variant=rfr_released_{v}, seed=0" for d in ("celeba", "paris") for v in ("paris", "celeba"))
    assert [w for r, w in jobs if r == "paper_view"] == ["paper_table=rfr_net_table1"]
    assert [r for r, _ in jobs].count("scorecard") == 1


def test_paper_variants_compare_a_published_row_with_another_row_per_dataset():
    from helpers.fake_results import DATASET
    from inpaint_bench.reporting.paper import compare

    summary = pd.DataFrame({"dataset": DATASET, "variant": ["released_a", "released_b"], "seed": 0,
                            "bucket": "0.1-0.2", "metric": "psnr", "value": [20.0, 30.0]})
    published = [{"paper": "p", "table": "Table 1", "dataset": DATASET, "mask_protocol": "m", "row": "RFR-Net",
                  "variant": "rfr_kca", "bucket": "0.1-0.2", "metric": "psnr", "value": 29.0, "printed": "29.00",
                  "source": "s"}]
    assert math.isnan(compare(published, summary)["ours"][0])  # no row rfr_kca in this run
    cells = compare(published, summary, variants={"rfr_kca": {DATASET: "released_b", "other": "released_a"}})
    assert (cells["variant"][0], cells["ours"][0], cells["diff"][0]) == ("released_b", 30.0, 1.0)
    assert compare(published, summary, variants={"rfr_kca": "released_a"})["ours"][0] == 20.0


@pytest.mark.parametrize("report, fault", [
    ({"paper_tables": ["published/no_such_table.csv"]}, r"report.paper_tables\[0\]: cannot read published/no_such"),
    ({"paper_variants": {"rfr_kca": {"paris": "nope"}}}, "report.paper_variants.rfr_kca.paris: 'nope' is no variant"),
    ({"paper_tables": ["published/rfr_net_table1.csv", "published/../published/rfr_net_table1.csv"]},
     "report.paper_tables: two tables named 'rfr_net_table1'"),
])
def test_a_bad_paper_table_or_variant_fails_when_the_config_is_read_naming_the_key(report, fault):
    from inpaint_bench.harness.config import ConfigError

    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["report"] = report
    with pytest.raises(ConfigError, match=fault):
        validate_config(config, "paper.yaml")


@pytest.mark.slow
def test_released_checkpoints_run_on_cpu_through_to_the_scorecard(paper_config, tmp_path):
    """config/rfr_released.yaml's whole path on one-image trees: official-layout checkpoints of random
    weights (width 8, 32 px), NVIDIA-style masks in Table 1's three buckets, no training; the scorecard
    then says, rightly, that random weights are off."""
    from test_released_weights import official_checkpoint

    from helpers.workflow import snakemake

    _, config = paper_config
    masks = Path(config["masks"]["nvidia_dir"])
    for i, columns in enumerate((10, 22, 36)):  # white holes of 16 %, 34 % and 56 % (00000.png: 6 %)
        hole = np.zeros((64, 64), np.uint8)
        hole[:, :columns] = 255
        Image.fromarray(hole).save(masks / f"0000{i + 1}.png")
    released = yaml.safe_load((REPO / "config" / "rfr_released.yaml").read_text())
    released.update(base="paper.yaml", width=8, image_size=32, threads_per_job=1)
    released["masks"] = {"buckets": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}
    released["weights"] = {"required": False, "download": False}
    released["eval"] = {"batch_size": 2, "samples": 0}
    for name in ("paris", "celeba"):
        official_checkpoint(tmp_path / f"{name}.pth", w=8)
        released["variants"][f"rfr_released_{name}"]["weights"]["path"] = str(tmp_path / f"{name}.pth")
        released["datasets"][name]["root"] = config["datasets"][name]["root"]
    path = tmp_path / "rfr_released.yaml"
    path.write_text(yaml.safe_dump(released, sort_keys=False))
    work = tmp_path / "work"
    snakemake(work, "results_rfr_released/paper/scorecard.csv", "results_rfr_released/paper/rfr_net_table1.csv",
              "--cores", "2", "--configfile", str(path))
    card = pd.read_csv(work / "results_rfr_released" / "paper" / "scorecard.csv")
    # Table 1's RFR-Net row on the two datasets with a checkpoint: 2 x 3 buckets x 3 metrics
    assert len(card) == 18 and set(card["dataset"]) == {"paris", "celeba"}
    assert set(zip(card["dataset"], card["variant"])) == {("paris", "rfr_released_paris"),
                                                          ("celeba", "rfr_released_celeba")}
    assert card["ours"].notna().all() and card["verdict"].str.startswith("off by more").all()
    md = (work / "results_rfr_released" / "paper" / "scorecard.md").read_text()
    assert "Table 1, RFR-Net(Ours) row (rfr_released_celeba, rfr_released_paris): 0 of 18 cells" in md
    # the rows of Table 1 this run has no row for (PConv; RFR-Net on Places2) are the paper's numbers only
    view = pd.read_csv(work / "results_rfr_released" / "paper" / "rfr_net_table1.csv", keep_default_na=False)
    assert len(view) == 153 and (view["variant"] == "").sum() == 153 - 18
