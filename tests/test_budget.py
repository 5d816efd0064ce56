"""How long each row trained, in the tables, plots and the report's config page (reporting.budget):
each row's steps as its evaluation recorded them, a run whose rows trained different lengths said so
row by row, under-trained rows named in a table's first line, and the paired plot's scale set by the
learned rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.fake_results import DATASET, SCHEDULE, make_results, per_image_paths
from helpers.workflow import REPO
from inpaint_bench.evaluation.evaluate import trained_schedule
from inpaint_bench.harness.fileio import write_csv
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.models.registry import is_trainable
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.budget import PROVENANCE, config_page, read_budgets, row_budget, schedule_text
from inpaint_bench.reporting.plots import paired_figure, write_plots
from inpaint_bench.reporting.results import read_per_images
from inpaint_bench.reporting.stats import Bootstrap
from inpaint_bench.reporting.tables import write_tables

ROWS = ["pconv_base", "rfr_full", "telea"]
SHORT = {"steps": 2, "finetune_steps": 1, "batch_size": 1}


def _tables(root, trained, expected=None):
    paths = make_results(root, variants=ROWS, seeds=(0, 1), trained=trained)
    summary = aggregate(paths)
    budgets = read_budgets(p.with_name(PROVENANCE) for p in paths)
    out = write_tables(summary, DATASET, root / "tables", per_image=read_per_images(per_image_paths(paths)),
                       baseline_row="pconv_base", bootstrap=Bootstrap(resamples=200), budgets=budgets,
                       expected=expected)
    return {key: path.read_text() for key, path in out.items() if key != "csv" and key != "ablation_csv"}


def test_every_table_states_the_steps_each_row_recorded(tmp_path):
    texts = _tables(tmp_path, {"pconv_base": SCHEDULE, "rfr_full": SCHEDULE, "telea": None})
    line = ("Training (as each run recorded): pconv_base, rfr_full: 300 + 100 fine-tuning steps at batch 8 "
            "(3,200 images); telea: no training (classical).")
    for key in ("md", "html", "ablation_md", "ablation_html"):
        assert line in texts[key], key
    for key in ("tex", "ablation_tex"):
        assert "pconv\\_base, rfr\\_full: 300 + 100 fine-tuning steps at batch 8 (3,200 images)" in texts[key]
    assert "UNDER-TRAINED" not in "".join(texts.values())


def test_a_run_whose_rows_trained_different_lengths_says_so_row_by_row(tmp_path):
    texts = _tables(tmp_path, {"pconv_base": SCHEDULE, "rfr_full": {0: SHORT, 1: SCHEDULE}, "telea": None})
    line = ("Rows trained different lengths (as each run recorded): pconv_base: 300 + 100 fine-tuning steps at "
            "batch 8 (3,200 images); rfr_full: seed 0: 2 + 1 fine-tuning steps at batch 1 (3 images), seed 1: "
            "300 + 100 fine-tuning steps at batch 8 (3,200 images); telea: no training (classical).")
    assert line in texts["md"] and line in texts["ablation_md"]


def test_a_row_without_a_provenance_record_is_said_to_have_no_recorded_steps(tmp_path):
    texts = _tables(tmp_path, {"pconv_base": SCHEDULE, "telea": None})  # rfr_full: no provenance.json
    assert "rfr_full: steps not recorded (no provenance.json beside its evaluation)" in texts["md"]


def test_a_table_of_under_trained_rows_says_so_in_its_first_line(tmp_path):
    """Before: a 3-step table looked like a paper table apart from its numbers."""
    paper = {"steps": 400000, "finetune_steps": 200000, "batch_size": 6}
    texts = _tables(tmp_path, {"pconv_base": SHORT, "rfr_full": SCHEDULE, "telea": None},
                    expected={"pconv_base": paper, "rfr_full": SCHEDULE})
    said = ("UNDER-TRAINED: pconv_base (seed 0) trained 2 + 1 steps of the config's 400,000 + 200,000; pconv_base "
            "(seed 1) trained 2 + 1 steps of the config's 400,000 + 200,000: these numbers are not the configured "
            "run's.")
    for key in ("md", "ablation_md"):
        assert texts[key].splitlines()[0] == f"**{said}**", key
    for key in ("html", "ablation_html"):
        assert f"<h1>{said}" in texts[key].replace("&#x27;", "'"), key
    for key in ("tex", "ablation_tex"):
        assert texts[key].splitlines()[1].startswith(r"\noindent\textbf{UNDER-TRAINED: pconv\_base (seed 0)"), key
    assert "rfr_full (seed" not in texts["md"].splitlines()[0]  # it trained what the config gives it


def test_evaluation_splits_the_recorded_steps_at_the_jobs_fine_tuning_start():
    record = {"steps": 3, "job": {"settings": {"steps": 2, "finetune_steps": 1, "batch_size": 1}}}
    assert trained_schedule(record) == SHORT


def test_a_distilled_row_names_its_teachers_schedule():
    teacher = {"settings": {"steps": 5, "finetune_steps": 0, "batch_size": 1}}
    record = {"job": {"train": {"settings": SHORT, "teacher_job": teacher}}, "trained": SHORT}
    assert schedule_text(row_budget(record)) == ("2 + 1 fine-tuning steps at batch 1 (3 images), distilled from a "
                                                 "teacher of 5 + 0 steps at batch 1")


def _ablation_with_classical(learned: pd.DataFrame) -> pd.DataFrame:
    """The ablation rows of `learned` and a classical row 40 units below the baseline row everywhere."""
    far = learned[learned["variant"] == "rfr_full"].copy()
    far["variant"] = "telea"
    for column in ("delta", "lo", "hi"):
        far[column] = far[column] - 40.0
    return pd.concat([learned, far], ignore_index=True)


def test_the_paired_plots_scale_is_set_by_the_learned_rows(ablation):
    """Before: classical rows (Δ of several dB) flattened every learned row's difference at 0."""
    rows = _ablation_with_classical(ablation)
    fig = paired_figure(rows, DATASET, ["pconv_base", "rfr_full", "telea"], classical=["telea"])
    psnr = next(ax for ax in fig.axes if ax.get_title().startswith("Δ PSNR"))
    bottom, top = psnr.get_ylim()
    learned = rows[(rows["variant"] == "rfr_full") & (rows["metric"] == "psnr")]
    assert bottom <= learned["lo"].min() and top >= learned["hi"].max()  # every learned bar is shown ...
    span = learned["hi"].max() - min(learned["lo"].min(), 0)
    assert bottom > learned["lo"].min() - span  # ... and the classical row, 40 dB below, does not stretch it
    assert "telea" in psnr.get_xlabel() and "off the scale" in psnr.get_xlabel()
    dashed = [line for line in psnr.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and np.allclose(dashed[0].get_ydata(), learned["delta"].to_numpy() - 40.0)


def test_plot_titles_state_how_long_the_rows_trained(tmp_path, ablation, monkeypatch):
    paths = make_results(tmp_path, trained={"pconv_base": SCHEDULE, "rfr_full": {0: SHORT, 1: SHORT}})
    summary = write_csv(tmp_path / "summary.csv", aggregate(paths))
    ablation_csv = write_csv(tmp_path / "ablation.csv", ablation)
    budgets = read_budgets(p.with_name(PROVENANCE) for p in paths)
    titles = {}
    monkeypatch.setattr("inpaint_bench.reporting.plots.save_figure",
                        lambda fig, path, dpi=120: titles.setdefault(path.name, fig.get_suptitle()) and path)
    write_plots(summary, DATASET, None, tmp_path / "plots", {}, {}, ablation_path=ablation_csv, budgets=budgets)
    assert len(titles) == 4
    for name, title in titles.items():
        said = " ".join(title.split())  # wrapped to the figure's width
        assert ("rows trained different lengths: pconv_base: 300 + 100 fine-tuning steps at batch 8 (3,200 images); "
                "rfr_full: 2 + 1 fine-tuning steps at batch 1 (3 images)") in said, name


def test_the_config_page_shows_the_settings_each_datasets_jobs_used():
    """Before: it showed the top-level train.steps 400000 and finetune_steps 0, which no job of
    config/paper.yaml used (every dataset sets its own)."""
    config = load_config(str(REPO / "config" / "paper.yaml"))
    trained = [v for v, spec in config["variants"].items() if is_trainable(spec)]
    page = config_page(config, trained)
    head, rest = page.split("\n\n", 1)
    for dataset in config["datasets"]:
        steps = config["datasets"][dataset]["train"]
        assert f"  {dataset}:\n  - rows: {trained[0]}, " in head
        block = head.split(f"  {dataset}:\n")[1]
        assert f"steps: {steps['steps']}\n" in block and f"finetune_steps: {steps['finetune_steps']}\n" in block
        assert "batch_size: 6" in block and "lr: 0.0002" in block
    top = rest.split("\ntrain:\n")[1].split("\n  loss:")[0]  # the top-level train block, up to its loss map
    assert "  steps:" not in top and "finetune_steps" not in top and "batch_size: 6" in top
    assert "top-level train keys no job used (every dataset or row sets its own):\n- steps\n- finetune_steps" in head


def test_the_paper_view_names_under_trained_rows_first_and_says_each_datasets_steps():
    from inpaint_bench.reporting.paper import with_budget
    from inpaint_bench.reporting.render import TableModel, as_markdown

    cells = pd.DataFrame({"dataset": ["paris", "paris", "celeba"], "variant": ["rfr_kca", "", "rfr_kca"]})
    budgets = {"paris": {"rfr_kca": {0: {"kind": "trained", **SHORT}}},
               "celeba": {"rfr_kca": {0: {"kind": "trained", **SCHEDULE}}}}
    expected = {"paris": {"rfr_kca": {"steps": 400000, "finetune_steps": 200000, "batch_size": 6}},
                "celeba": {"rfr_kca": SCHEDULE}}
    model = with_budget(TableModel("Table 1 of the paper, beside ours", [], [], [], pd.DataFrame()), cells,
                        budgets, expected)
    md = as_markdown(model)
    assert md.splitlines()[0] == ("**UNDER-TRAINED: paris rfr_kca (seed 0) trained 2 + 1 steps of the config's "
                                  "400,000 + 200,000: these numbers are not the configured run's.**")
    assert "- paris: Training (as each run recorded): rfr_kca: 2 + 1 fine-tuning steps at batch 1 (3 images)." in md
    assert "- celeba: Training (as each run recorded): rfr_kca: 300 + 100 fine-tuning steps at batch 8" in md


def test_a_rehearsal_is_held_to_the_schedules_of_the_config_it_rehearses(tmp_path):
    """`report.schedule_of` (set by `inpaint-bench rehearse`): the rows are expected to train what that
    config gives them, so a rehearsal's tables name them as under-trained in their first line, while the
    captions still say what the rehearsal's own config gives."""
    from inpaint_bench.cli.rehearse import rehearsal_configs
    from inpaint_bench.reporting.budget import expected_schedule, planned_line

    paper = REPO / "config" / "paper.yaml"
    trees = {name: tmp_path / name for name in ("places2", "celeba", "paris", "masks")}
    all_rows, _ = rehearsal_configs(paper, tmp_path, trees, steps=1, finetune_steps=1, variants=["rfr_kca"])
    config = load_config(all_rows)
    assert config["report"]["schedule_of"] == str(paper.resolve())
    assert expected_schedule(config, "paris", ["rfr_kca"]) == {
        "rfr_kca": {"steps": 400000, "finetune_steps": 200000, "batch_size": 6}}
    assert "rfr_kca: 1 + 1 fine-tuning steps at batch 1" in planned_line(config, "paris", ["rfr_kca"])


def test_a_distilled_row_of_the_same_length_makes_no_mixed_run():
    """Before: the default run's footnote read "Rows trained different lengths" although every trained row
    ran 300 + 100 steps, because the distilled row's text names its teacher."""
    from inpaint_bench.reporting.budget import budget_lines

    same = {"kind": "trained", **SCHEDULE}
    budgets = {"mean_fill": {0: {"kind": "classical"}}, "rfr": {0: same},
               "rfr_dgi": {0: {**same, "teacher": dict(SCHEDULE)}}}
    line = budget_lines(budgets, ["mean_fill", "rfr", "rfr_dgi"])[0]
    assert line.startswith("Training (as each run recorded): mean_fill: no training (classical); rfr: 300 + 100")
    assert "different lengths" not in line and "rfr_dgi: 300 + 100 fine-tuning steps at batch 8 (3,200 images), " \
        "distilled from a teacher of 300 + 100 steps at batch 8" in line
    budgets["rfr"] = {0: same, 1: {**same, "steps": 200}}
    assert budget_lines(budgets, ["mean_fill", "rfr", "rfr_dgi"])[0].startswith("Rows trained different lengths")
