"""report.published_table: a published table's values beside our cells in the absolute tables (md,
tex, html, csv), checked at config time, and a declared input of the tables rule."""
import io
import re

import pandas as pd
import pytest
import yaml
from test_workflow import CI_CONFIG, snakemake

from helpers.fake_results import DATASET, make_results, md_cells
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.harness.published import PUBLISHED_COLUMNS
from inpaint_bench.jobs.validate import validate_config
from inpaint_bench.reporting.aggregate import aggregate
from inpaint_bench.reporting.tables import write_tables

# Made-up values for the test. Two match a cell of the fixture table (make_results: pconv_base PSNR
# at 0.1-0.2 is 21.00 ± 1.41, rfr_full L1 at 0.2-0.3 is 6.00 % ± 0.00); the others match none:
# another dataset, a row without our variant, a bucket the run does not have.
ROWS = [
    ["rfr_net_cvpr2020", "Table 9", DATASET, "nvidia_test", "PConv", "pconv_base", "0.1-0.2", "psnr", "20.5"],
    ["rfr_net_cvpr2020", "Table 9", DATASET, "nvidia_test", "Ours", "rfr_full", "0.2-0.3", "l1", "0.0525"],
    ["rfr_net_cvpr2020", "Table 9", "paris", "nvidia_test", "PConv", "pconv_base", "0.1-0.2", "psnr", "29"],
    ["rfr_net_cvpr2020", "Table 9", DATASET, "nvidia_test", "GatedConv", "", "0.1-0.2", "psnr", "28"],
    ["rfr_net_cvpr2020", "Table 9", DATASET, "nvidia_test", "Ours", "rfr_full", "0.5-0.6", "psnr", "27"],
]
MATCHED = {("pconv_base", "0.1-0.2 psnr"): "21.00 ± 1.41 (pub. 20.50; Δ +0.50)",
           ("rfr_full", "0.2-0.3 l1"): "6.00 ± 0.00 (pub. 5.25; Δ +0.75)"}


def write_published(path, rows=ROWS, columns=PUBLISHED_COLUMNS):
    lines = [",".join(columns)] + [",".join(r + [r[-1], "https://example.org p. 7"]) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The absolute table written without and with the fixture published table: {name: {ext: text}}."""
    root = tmp_path_factory.mktemp("published")
    summary = aggregate(make_results(root, logs=False))
    published = write_published(root / "table9.csv")
    out = {}
    for name, table in [("plain", None), ("published", published)]:
        paths = write_tables(summary, DATASET, root / name, published_table=table)
        out[name] = {ext: paths[ext].read_text() for ext in ("md", "tex", "html", "csv")}
    out["csv"] = pd.read_csv(root / "published" / f"{DATASET}.csv", index_col="variant")
    return out


def test_markdown_shows_published_value_and_difference_in_matched_cells_only(tables):
    plain, published = md_cells(tables["plain"]["md"]), md_cells(tables["published"]["md"])
    assert len(plain) == len(published)
    changed = [(a, b) for a, b in zip(plain, published) if a != b]
    assert sorted(b for _, b in changed) == sorted(MATCHED.values())
    for ours, shown in changed:  # our value unchanged, the published part appended
        assert shown.startswith(ours + " (pub. ")
    # the footnote names the table, its mask protocol and the file, and warns about the protocol
    note = tables["published"]["md"].splitlines()[-1]
    assert "rfr_net_cvpr2020 Table 9" in note and "nvidia_test" in note and "table9.csv" in note
    assert "2 of its 4 values for mini have a cell here" in note and "protocols match" in note
    assert "pub." not in tables["plain"]["md"]


def test_tex_and_html_show_the_same_cells(tables):
    tex, html = tables["published"]["tex"], tables["published"]["html"]
    assert tex.count(r"{\scriptsize\,(pub.") == 2
    assert r"{\scriptsize\,(pub. 20.50; $\Delta$ +0.50)}" in tex and r"(pub. 5.25; $\Delta$ +0.75)" in tex
    assert "Table 9" in tex and "nvidia\\_test" in tex
    # the HTML holds a cell together with no-break spaces (it may break only before an interval)
    cells = [c.replace("\u00a0", " ") for c in re.findall(r"<td [^>]*>([^<]*)</td>", html)]
    assert sorted(c for c in cells if "pub." in c) == sorted(MATCHED.values())
    assert "rfr_net_cvpr2020 Table 9" in html and "protocols match" in html
    assert "pub." not in tables["plain"]["tex"] + tables["plain"]["html"]


def test_csv_has_published_and_difference_columns_for_matched_cells_only(tables):
    frame = tables["csv"]
    plain_columns = tables["plain"]["csv"].splitlines()[0].split(",")
    extra = [c for c in frame.columns if c not in plain_columns]
    assert extra == ["0.1-0.2 psnr published", "0.1-0.2 psnr diff", "0.2-0.3 l1 published", "0.2-0.3 l1 diff"]
    assert frame.at["pconv_base", "0.1-0.2 psnr published"] == 20.5
    assert frame.at["pconv_base", "0.1-0.2 psnr diff"] == pytest.approx(0.5)
    assert frame.at["rfr_full", "0.2-0.3 l1 published"] == 0.0525  # raw units, as the other csv columns
    assert frame.at["rfr_full", "0.2-0.3 l1 diff"] == pytest.approx(0.0075)
    assert frame[extra].notna().sum().tolist() == [1, 1, 1, 1]
    assert frame.drop(columns=extra).equals(pd.read_csv(io.StringIO(tables["plain"]["csv"]),
                                                        index_col="variant"))


@pytest.mark.parametrize("broken, fault", [
    ("no mask_protocol column", "columns"),
    ("a value that is not a number", "value 'n/a' is not a number"),
    ("two rows for one of our cells", "a second row for variant 'pconv_base'"),
])
def test_a_bad_published_table_fails_naming_the_file(tmp_path, broken, fault):
    path = tmp_path / "bad.csv"
    if broken == "no mask_protocol column":
        lines = write_published(path).read_text().splitlines()
        column = PUBLISHED_COLUMNS.index("mask_protocol")
        path.write_text("".join(",".join(f for i, f in enumerate(line.split(",")) if i != column) + "\n"
                                for line in lines))
    elif broken == "a value that is not a number":
        write_published(path, [ROWS[0][:8] + ["n/a"]])
    else:
        write_published(path, [ROWS[0], ROWS[0][:4] + ["PConv*"] + ROWS[0][5:]])
    summary = aggregate(make_results(tmp_path / "results", logs=False))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*{fault}"):
        write_tables(summary, DATASET, tmp_path / "out", published_table=path)
    config = yaml.safe_load(yaml.safe_dump(CI_CONFIG))
    config["report"] = {"published_table": str(path)}
    with pytest.raises(ConfigError, match=f"report.published_table: {re.escape(str(path))}.*{fault}"):
        validate_config(config, "test")


def test_dry_run_declares_the_published_table_and_refuses_a_missing_one(tmp_path):
    config = yaml.safe_load(yaml.safe_dump(CI_CONFIG))
    config["variants"] = {"mean_fill": {"backbone": "mean_fill"}}
    config["report"] = {"published_table": "published/table9.csv"}  # relative to the working directory
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--configfile", str(path), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "report.published_table" in out and "published/table9.csv" in out, out[-2000:]
    assert not (tmp_path / "results").exists()

    (tmp_path / "published").mkdir()
    write_published(tmp_path / "published" / "table9.csv")
    dry = snakemake(tmp_path, "-n", "--configfile", str(path)).stdout
    inputs = re.search(r"rule tables:\n\s+input: (.*)\n", dry).group(1).split(", ")
    assert "published/table9.csv" in inputs
