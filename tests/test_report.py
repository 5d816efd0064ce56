"""The report's captions, and the HTML report of a tiny real workflow run: the tables rule's inputs
and outputs, and the report opened in headless Chromium."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from helpers.chromium import Chromium
from helpers.fake_results import md_cells
from helpers.workflow import REPO, snakemake

# ----------------------------------------------------------------------------------------------
# The report's captions: reStructuredText templates that Snakemake renders with Jinja2


@pytest.mark.parametrize("published_table", [None, "published/published.csv"])
@pytest.mark.parametrize("seeds", [[0], [0, 1, 2]])
@pytest.mark.parametrize("note", [None, "The learned rows are under-trained at this budget (docs/results.md)."])
def test_every_report_caption_renders_as_restructuredtext_without_a_system_message(published_table, seeds, note):
    """A caption line that starts with a space after a false {% if %} became an "Unexpected
    indentation" error box in the report."""
    from types import SimpleNamespace

    import docutils.core
    import docutils.nodes
    import jinja2

    params = SimpleNamespace(seeds=seeds, seed=seeds[0], n=36, baseline_row="baseline", variants=["baseline", "rfr"],
                             bootstrap={"level": 0.95, "resamples": 2000, "seed": 0}, published_table=published_table,
                             note=note, pairing="every_mask",
                             budget="Training as the config gives it: rfr: 300 + 100 fine-tuning steps at batch 8 "
                                    "(3,200 images); baseline: no training (classical).")
    config = {"datasets": {"mini_natural": {}}, "seeds": seeds, "eval": {"protocol": "default"},
              "report": {"baseline_row": "baseline", "bootstrap": {"level": 0.95, "resamples": 2000}}}
    snakemake = SimpleNamespace(params=params, wildcards=SimpleNamespace(dataset="mini_natural"), config=config)
    captions = sorted((REPO / "workflow" / "report").glob("*.rst"))
    assert len(captions) >= 8
    for path in captions:
        text = jinja2.Template(path.read_text()).render(snakemake=snakemake)
        doctree = docutils.core.publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
        messages = [m.astext() for m in doctree.findall(docutils.nodes.system_message)]
        assert not messages, (path.name, messages)
        if note and path.name in ("tables.rst", "ablation.rst"):  # said beside every table
            assert f"Read first: {note}" in doctree.astext(), path.name
        if path.name in ("tables.rst", "ablation.rst"):  # how the test images met the masks
            assert "masks.pairing: every_mask" in " ".join(doctree.astext().split()), path.name
        if path.name in ("tables.rst", "ablation.rst", "metrics.rst", "paired.rst", "loss.rst", "qualitative.rst"):
            assert params.budget in " ".join(doctree.astext().split()), path.name  # how long each row trained


# The workflow's report, opened in headless Chromium

REPORT_CONFIG = {
    "results_dir": "results", "seeds": [0, 1], "image_size": 32, "width": 8, "threads_per_job": 1,
    # 5 test images x 2 seeds: the 10 paired values an interval needs (reporting.stats.MIN_PAIRED_VALUES)
    "datasets": {"mini_natural": {"kind": "mini_natural", "train_count": 8, "test_count": 5}},
    "masks": {"buckets": [[0.1, 0.3], [0.3, 0.6]], "count": 4},
    # 2 of the 8 training images held out for validation (the default 8 would leave none to train on)
    "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "log_every": 1, "precision": "fp32",
              "validation": {"images": 2}},
    "eval": {"batch_size": 4, "samples": 1},
    "variants": {"mean_fill": {"backbone": "mean_fill"}, "baseline": {"backbone": "encdec"}},
    # written by report_run, relative to the workdir; also shown in the paper's shape and scored
    "report": {"published_table": "published.csv", "paper_tables": ["published.csv"]},
}
# A made-up published value (the format of published/README.md) for one cell of the report run.
PUBLISHED = ("paper,table,dataset,mask_protocol,row,variant,bucket,metric,value,printed,source\n"
             "test_paper,Table 1,mini_natural,nvidia_test,Baseline,baseline,0.1-0.3,psnr,20.0,20.00,made up\n")


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """A tiny real run (a classical row and a trained one, two seeds, LPIPS/FID weights absent) and its
    `snakemake --report`: half a minute to a minute on two cores."""
    workdir = tmp_path_factory.mktemp("report_dag")
    config = workdir / "report.yaml"
    config.write_text(yaml.safe_dump(REPORT_CONFIG, sort_keys=False))
    (workdir / "published.csv").write_text(PUBLISHED)
    snakemake(workdir, "--cores", "2", "--configfile", str(config))
    snakemake(workdir, "--configfile", str(config), "--report", str(workdir / "report.html"))
    return workdir, config


def test_tables_rule_declares_the_per_image_files_and_writes_both_tables(report_run):
    workdir, config = report_run
    proc = snakemake(workdir, "-n", "-f", "results/tables/mini_natural.csv", "results/plots/mini_natural_paired.png",
                     "--configfile", str(config))
    dry = proc.stdout + proc.stderr
    found = re.search(r"rule tables:\n\s+input: (.*)\n", dry)
    assert found, dry
    inputs = found.group(1).split(", ")
    assert "results/summary.csv" in inputs and "published.csv" in inputs  # report.published_table
    expected = [f"results/runs/mini_natural/{v}/seed{s}/eval/per_image.csv"
                for v in REPORT_CONFIG["variants"] for s in (0, 1)]
    assert [i for i in inputs if i.endswith("per_image.csv")] == expected
    provenance = [f"results/runs/mini_natural/{v}/seed{s}/eval/provenance.json"
                  for v in REPORT_CONFIG["variants"] for s in (0, 1)]
    assert [i for i in inputs if i.endswith("provenance.json")] == provenance  # how long each row trained
    plots = re.search(r"rule plots:\n\s+input: (.*)\n", dry).group(1).split(", ")
    assert "results/tables/mini_natural_ablation.csv" in plots and set(provenance) <= set(plots)
    assert {f"results/runs/mini_natural/baseline/seed{s}/train_log.csv" for s in (0, 1)} <= set(plots)

    tables = workdir / "results" / "tables"
    md = (tables / "mini_natural_ablation.md").read_text()
    assert "### mini_natural: Δ to baseline per hole-ratio bucket" in md and "| baseline (baseline row) |" in md
    rows = [line.split(" | ")[0] for line in md.split("**PSNR↑ Δ**")[1].split("**SSIM")[0].splitlines()
            if line.startswith("| ") and not line.startswith("| Variant")]
    assert rows == ["| mean_fill", "| baseline (baseline row)"]  # config order
    for name in ("mini_natural.md", "mini_natural_ablation.md"):
        text = (tables / name).read_text()
        assert not [c for c in md_cells(text) if "missing" in c], name
        assert "LPIPS (missing: alexnet-owt-7be5be79.pth)" in text and "pt_inception-2015-12-05-6726825d.pth" in text
        assert "one mask each: image i meets mask i of the bucket" in text and "(masks.pairing: cycle)" in text
    # the published value beside our one cell that has it, nowhere else
    published = [c for c in md_cells((tables / "mini_natural.md").read_text()) if "pub." in c]
    assert len(published) == 1 and re.fullmatch(r"[*]*\d+\.\d\d ± \d+\.\d\d[*]* \(pub\. 20\.00; Δ [+-]\d+\.\d\d\)",
                                                 published[0]), published
    assert "pub." not in (tables / "mini_natural_ablation.md").read_text()
    for name in ("mini_natural.md", "mini_natural_ablation.md"):  # each row's steps, as its run recorded them
        assert ("Training (as each run recorded): mean_fill: no training (classical); baseline: 2 steps, no "
                "fine-tuning at batch 2 (4 images).") in (tables / name).read_text()
    config_page = (workdir / "results" / "report" / "config.html").read_text()
    assert "mini_natural:\n  - rows: baseline\n    steps: 2\n    finetune_steps: 0\n    batch_size: 2" in config_page
    over = pd.read_csv(workdir / "results" / "summary_over_seeds.csv")
    assert set(over.loc[over["metric"] == "psnr", "seeds"]) == {2}


def test_paper_view_and_scorecard_rules_write_their_tables_into_the_report(report_run):
    workdir, _ = report_run
    paper = workdir / "results" / "paper"
    assert sorted(p.name for p in paper.iterdir()) == sorted(
        f"{name}.{ext}" for name in ("published", "scorecard") for ext in ("csv", "md", "tex", "html"))
    view = (paper / "published.md").read_text()
    assert "| Table 1 | mini_natural 10%-30% |" in view and "| Baseline | 20.00 |" in view
    assert re.search(r"\| ours: baseline \| \d+\.\d\d \|", view) and "Δ ours − published (baseline)" in view
    trained = "mini_natural: Training (as each run recorded): baseline: 2 steps, no fine-tuning at batch 2 (4 images)."
    assert trained in view and trained in (paper / "scorecard.md").read_text()  # beside the published numbers too
    card = pd.read_csv(paper / "scorecard.csv")
    assert len(card) == 1 and card.loc[0, "variant"] == "baseline" and card.loc[0, "printed"] == 20.0
    over = pd.read_csv(workdir / "results" / "summary_over_seeds.csv")
    ours = over[(over["variant"] == "baseline") & (over["bucket"] == "0.1-0.3") & (over["metric"] == "psnr")]
    assert card.loc[0, "diff"] == pytest.approx(float(ours["mean"].iloc[0]) - 20.0)
    assert card.loc[0, "diff_lo"] <= card.loc[0, "diff"] <= card.loc[0, "diff_hi"]  # 5 images x 2 seeds
    report = (workdir / "report.html").read_text()  # a section of the report, holding both pages
    assert "Paper" in report and "reproduction scorecard" in report and "published.html" in report


def _click_nav(browser, text):
    """Back to the report's menu, then a click on the menu entry `text` (a result category)."""
    browser.evaluate("(() => { const home = document.querySelector('nav ol a'); if (home) home.click(); })()")
    time.sleep(0.2)
    assert browser.evaluate("(t => { const a = [...document.querySelectorAll('nav a')].find(a => a.innerText.trim() == t);"
                            " if (!a) return false; a.click(); return true; })(%s)" % json.dumps(text)), text
    time.sleep(0.3)


def _press(browser, label, icon):
    """Presses the `icon` button ("eye": show, "information-circle": caption) of the result labelled
    `label` in the results list: the report shows a label with few values as a toggle above a
    single row, one with more values as a column of the rows."""
    browser.evaluate("(v => { const i = [...document.querySelectorAll('input[type=radio]')].find(i => i.value == v);"
                     " if (i) i.click(); })(%s)" % json.dumps(label))
    time.sleep(0.2)
    assert browser.evaluate(
        "(([v, icon]) => { const rows = [...document.querySelectorAll('nav tbody tr')];"
        " const row = rows.find(r => [...r.querySelectorAll('td')].some(td => td.innerText.trim() == v))"
        " || (rows.length == 1 ? rows[0] : null);"
        " const button = row && row.querySelector(`a[iconname=\"${icon}\"]`);"
        " if (!button) return false; button.click(); return true; })(%s)" % json.dumps([label, icon])), label
    time.sleep(0.4)


def _view(browser, label):
    _press(browser, label, "eye")


def _caption(browser, label):
    """The side panel's text (with the caption) after pressing the result's info button."""
    _press(browser, label, "information-circle")
    return browser.evaluate("document.querySelector('nav').innerText")


@pytest.mark.slow
def test_report_renders_tables_plots_and_config_in_headless_chromium(report_run, tmp_path):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    workdir, _ = report_run
    shots = Path(os.environ.get("REPORT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with open(tmp_path / "chromium.log", "wb") as log:
        browser = Chromium(binary, tmp_path / "profile", log=log)
        try:
            browser.call("Page.navigate", session=True, url=(workdir / "report.html").as_uri())
            browser.wait_for("typeof app !== 'undefined' && document.querySelector('nav') !== null")
            menu = browser.evaluate("document.querySelector('nav').innerText")
            assert all(word in menu for word in ("Tables", "Plots", "Config")), menu

            # The ablation table: Δ with intervals and marks, rendered as tables in the report's frame.
            _click_nav(browser, "Tables")
            _view(browser, "ablation: Δ to the baseline row")
            browser.wait_for("document.querySelector('iframe') !== null")
            frame = browser.frame_context("data:text/html")
            tables = browser.wait_for("document.readyState == 'complete' && document.querySelectorAll('table').length",
                                      context=frame)
            assert tables == 3  # PSNR, SSIM, L1: LPIPS/FID/KID were not computed
            text = browser.evaluate("document.body.innerText", context=frame)
            assert "mini_natural: Δ to baseline per hole-ratio bucket" in text and "baseline (baseline row)" in text
            # "Δ [lo, hi]": breakable before the interval only (no-break space inside it)
            assert re.search(r"[+-]\d+\.\d\d \[[+-]\d+\.\d\d,\u00a0[+-]\d+\.\d\d\]", text), text
            assert "hierarchical paired bootstrap" in text and "Seeds: 0, 1." in text
            assert "missing: pt_inception-2015-12-05-6726825d.pth" in text.split("Not computed")[1]
            cells = browser.evaluate("[...document.querySelectorAll('td')].map(td => td.innerText)", context=frame)
            assert len(cells) == 3 * len(REPORT_CONFIG["variants"]) * 2 and not [c for c in cells if "missing" in c]
            width = browser.evaluate("document.querySelector('table').getBoundingClientRect().width", context=frame)
            assert 200 < width < 1000  # laid out as a table, narrow enough for the page
            browser.screenshot(shots / "report_ablation.png")
            caption = _caption(browser, "ablation: Δ to the baseline row")
            # (the caption names the pairing since masks.pairing exists)
            caption = " ".join(caption.split())
            assert "Test images: 5 per bucket and seed, met with the masks as masks.pairing: cycle says" in caption
            assert "2 seed(s) (0, 1)" in caption
            assert "2000 resamples" in caption and "resample the seeds, then the images" in caption

            # The absolute table.
            _click_nav(browser, "Tables")
            _view(browser, "absolute: mean ± std over seeds")
            frame = browser.frame_context("data:text/html")
            text = browser.wait_for("document.readyState == 'complete' && document.body.innerText", context=frame)
            assert "mini_natural: metrics per hole-ratio bucket" in text
            assert re.search(r"\d\.\d\d\u00a0±\u00a0\d\.\d\d", text), text  # a cell, unbroken
            assert "Cells: mean ± sample std over 2 seeds (0, 1)." in text
            cells = text.replace("\u00a0", " ")
            assert "(pub. 20.00; Δ " in cells and "test_paper Table 1 (mask protocol nvidia_test" in cells
            caption = _caption(browser, "absolute: mean ± std over seeds")
            assert "mean ± sample standard deviation over 2 seeds" in caption and "published.csv" in caption

            # Every plot is an image that decoded.
            for label in ("metrics per bucket", "Δ to the baseline row", "training losses", "qualitative"):
                _click_nav(browser, "Plots")
                _view(browser, label)
                size = browser.wait_for("(() => { const i = document.querySelector('img[src^=\"data:image/png\"]');"
                                        " return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null })()")
                assert size[0] > 300 and size[1] > 200, (label, size)
                if label == "Δ to the baseline row":
                    browser.screenshot(shots / "report_paired.png")
                    assert "hierarchical paired bootstrap" in _caption(browser, label)

            # The resolved config.
            _click_nav(browser, "Config")
            _view(browser, "resolved config")
            frame = browser.frame_context("data:text/html")
            text = browser.wait_for("document.readyState == 'complete' && document.body.innerText", context=frame)
            assert "seeds:" in text and "baseline_row: baseline" in text and "resamples: 2000" in text
        finally:
            browser.close()
    with Image.open(shots / "report_ablation.png") as im:
        assert im.size == (1400, 900) and np.asarray(im.convert("L")).std() > 10  # not a blank page
