"""Issue 25 (evidence): a row identical in effect to another, e.g. `train: {loss: {style: 0}}` where the
style term is dropped anyway for lack of VGG16 weights, trained again and showed +0.00 without a word.
Such rows are named before any job (`snakemake -n`) and in both tables' footnotes."""
from __future__ import annotations

import yaml
from test_faults import small_config

from helpers.fake_results import DATASET, VARIANTS, per_image_paths
from helpers.workflow import snakemake
from inpaint_bench.jobs.resolve import coinciding_rows
from inpaint_bench.jobs.validate import validate_config
from inpaint_bench.reporting.results import read_per_images
from inpaint_bench.reporting.stats import Bootstrap
from inpaint_bench.reporting.tables import write_tables


def _config(config, **variants):
    return validate_config(yaml.safe_load(yaml.safe_dump({**config, "variants": {**config["variants"], **variants}},
                                                       sort_keys=False)))


def test_rows_that_train_and_score_alike_are_found_with_the_reason(tiny_config):
    _, config, _ = tiny_config
    pconv = config["variants"]["pconv"]
    both = _config(config, no_style={**pconv, "train": {"loss": {"style": 0}}}, named={**pconv, "label": "words"},
                   no_distill={**pconv, "distill": {"cross": 0}}, mean_fill_again={"backbone": "mean_fill"},
                   no_tv={**pconv, "train": {"loss": {"tv": 0}}}, wider={"backbone": "pconv", "layers": 2})
    found = {row: (earlier, why) for row, earlier, why in coinciding_rows(both, vgg16=False)}
    assert found == {
        "no_style": ("pconv", "they differ only in train.loss.style, and the style term is dropped without the "
                              "VGG16 weights"),
        "named": ("pconv", "their specs and settings are the same"),  # a label is words, not a job
        "no_distill": ("pconv", "they differ only in distill, and no distillation weight is non-zero"),
        "mean_fill_again": ("mean_fill", "their specs and settings are the same")}
    # with the weights the style term trains: that row differs; the others still coincide
    assert {row for row, _, _ in coinciding_rows(both, vgg16=True)} == {"named", "no_distill", "mean_fill_again"}
    assert coinciding_rows(validate_config(yaml.safe_load(yaml.safe_dump(config))), vgg16=False) == []


def test_a_dry_run_names_both_rows_and_the_tables_say_so(tmp_path, results):
    path = small_config(tmp_path)
    config = yaml.safe_load(open(path))
    config["variants"]["pconv_no_style"] = {**config["variants"]["pconv"], "train": {"loss": {"style": 0}}}
    open(path, "w").write(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--configfile", path)
    line = ("pconv_no_style trains and scores exactly as pconv: they differ only in train.loss.style, and the "
            "style term is dropped without the VGG16 weights; its Δ to pconv is 0 by construction")
    assert f"warning: {line}" in proc.stderr and "rule train:" in proc.stdout

    _, paths, summary = results
    out = write_tables(summary, DATASET, tmp_path / "tables", VARIANTS, per_image=read_per_images(per_image_paths(paths)),
                       bootstrap=Bootstrap(resamples=50), coinciding=[line])
    for key in ("md", "ablation_md"):
        assert line in out[key].read_text(), key
