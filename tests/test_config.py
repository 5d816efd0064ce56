"""Config files as researchers write them: `base:` inheritance and the `--config` command line."""
import pytest
import yaml

from helpers.workflow import REPO, planned_jobs, snakemake
from inpaint_bench.harness.config import ConfigError, coerce_to_schema, merge_config, read_config_file
from inpaint_bench.jobs.validate import config_schema, load_config


def write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_child_merges_maps_key_by_key_but_replaces_variants_and_datasets():
    base = {"seeds": [0, 1], "train": {"steps": 10, "lr": 0.1, "loss": {"style": 120, "tv": 0.1}},
            "datasets": {"a": {"kind": "mini_natural"}, "b": {"kind": "mini_faces"}},
            "variants": {"x": {"backbone": "encdec"}, "y": {"backbone": "rfr"}}}
    child = {"seeds": [3], "train": {"lr": 0.5, "loss": {"style": 60}},
             "datasets": {"b": {"kind": "folder"}}, "variants": {"z": {"backbone": "pconv"}}}
    merged = merge_config(base, child)
    assert merged["seeds"] == [3]  # lists replace
    assert merged["train"] == {"steps": 10, "lr": 0.5, "loss": {"style": 60, "tv": 0.1}}
    assert merged["datasets"] == {"b": {"kind": "folder"}}
    assert merged["variants"] == {"z": {"backbone": "pconv"}}
    assert base["train"]["lr"] == 0.1  # the base is not modified


def test_base_paths_are_relative_to_the_file_and_chains_resolve(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "root.yaml", {"seeds": [0], "width": 8, "image_size": 32})
    write(tmp_path / "sub" / "mid.yaml", {"base": "../root.yaml", "width": 16})
    write(tmp_path / "sub" / "leaf.yaml", {"base": "mid.yaml", "seeds": [1, 2]})
    assert read_config_file(tmp_path / "sub" / "leaf.yaml") == {"seeds": [1, 2], "width": 16, "image_size": 32}


def test_a_missing_or_circular_base_is_refused_naming_the_file(tmp_path):
    write(tmp_path / "a.yaml", {"base": "nowhere.yaml"})
    with pytest.raises(ConfigError, match=r"a\.yaml: base: nowhere\.yaml .* does not exist"):
        read_config_file(tmp_path / "a.yaml")
    write(tmp_path / "b.yaml", {"base": "c.yaml"})
    write(tmp_path / "c.yaml", {"base": "b.yaml"})
    with pytest.raises(ConfigError, match="returns to a file it started from"):
        read_config_file(tmp_path / "b.yaml")


def test_dgi_ablation_holds_only_its_differences_from_the_default():
    own = yaml.safe_load((REPO / "config" / "dgi_ablation.yaml").read_text())
    assert own["base"] == "config.yaml"
    assert set(own) == {"base", "results_dir", "seeds", "variants"}
    resolved = load_config(REPO / "config" / "dgi_ablation.yaml")
    default = load_config(REPO / "config" / "config.yaml")
    assert {k for k in default if default[k] != resolved[k]} == {"results_dir", "seeds", "variants"}
    assert "baseline" not in resolved["variants"] and "pconv" in resolved["variants"]


def test_snakemake_resolves_the_base_of_a_configfile(tmp_path):
    """What Snakemake plans for config/dgi_ablation.yaml: its own rows only (the base's are replaced),
    with the base's datasets and settings, and --config still on top."""
    proc = snakemake(tmp_path, "-n", "--configfile", REPO / "config" / "dgi_ablation.yaml", "--config", "seeds=[0,1]")
    jobs = planned_jobs(proc.stdout)
    trained = {dict(kv.split("=") for kv in w.split(", "))["variant"] for r, w in jobs if r == "train"}
    assert trained == {"pconv", "rfr_kca", "rfr_kca_cd", "rfr_kca_cd_sd", "rfr_kca_cd_sd_at", "rfr_kca_dgi"}
    assert {w for r, w in jobs if r == "build_mini_dataset"} == {"dataset=mini_natural", "dataset=mini_faces"}
    assert len([r for r, _ in jobs if r == "train"]) == 6 * 2 * 2  # rows x datasets x the --config seeds


def test_texts_that_plainly_are_numbers_become_numbers_where_the_schema_asks_for_them():
    schema = config_schema()  # config/schema.yaml with the registries' names and options
    config = {"seeds": ["0", "1"], "image_size": "64", "results_dir": "007",
              "train": {"steps": "50", "lr": "1e-3", "teacher_steps": "null"},
              "eval": {"fid": "false"}, "masks": {"count": "all", "buckets": [["0.1", "0.2"]]},
              "variants": {"x": {"backbone": "rfr", "iterations": "2", "distill": {"cross": "0.5"}}}}
    out = coerce_to_schema(config, schema)
    assert out["seeds"] == [0, 1] and out["image_size"] == 64
    assert out["results_dir"] == "007"  # a string where the schema asks for one
    assert out["train"] == {"steps": 50, "lr": 1e-3, "teacher_steps": None}
    assert out["eval"]["fid"] is False
    assert out["masks"] == {"count": "all", "buckets": [[0.1, 0.2]]}
    assert out["variants"]["x"]["iterations"] == 2 and out["variants"]["x"]["distill"]["cross"] == 0.5


def test_a_text_that_is_no_number_is_refused_naming_its_key(tmp_path):
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["seeds"] = ["0", "one"]
    with pytest.raises(ConfigError, match=r"at 'seeds/1': 'one' is not of type 'integer'"):
        load_config(write(tmp_path / "c.yaml", config))


@pytest.mark.parametrize("override, check", [
    (["seeds=[0,1]"], lambda jobs, out: sorted(w for r, w in jobs if r == "train") ==
        [f"dataset=mini_natural, variant=baseline, seed={s}" for s in (0, 1)]),
    (["image_size=64"], lambda jobs, out: "masks/64px_seed0/manifest.csv" in out and "32px" not in out),
    (["train={steps: 50, lr: 1e-3}"], lambda jobs, out: ("train", "dataset=mini_natural, variant=baseline, seed=0")
        in jobs),
])
def test_snakemake_config_overrides_are_accepted(tmp_path, override, check):
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["variants"] = {"mean_fill": {"backbone": "mean_fill"}, "baseline": {"backbone": "encdec"}}
    path = write(tmp_path / "c.yaml", config)
    proc = snakemake(tmp_path, "-n", "-p", "--configfile", path, "--config", *override)
    assert check(planned_jobs(proc.stdout), proc.stdout), proc.stdout[-3000:]


def test_a_nested_config_override_reaches_the_config_as_numbers():
    """What Snakemake makes of `--config train={steps: 50, lr: 1e-3}` (its own parser: nested values as
    text), merged over a config file as Snakemake merges it, then validated as the Snakefile does."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    from inpaint_bench.jobs.validate import validate_config

    config = read_config_file(REPO / "config" / "ci.yaml")
    overrides = parse_config(["train={steps: 50, lr: 1e-3}", "seeds=[0,1]"])
    assert overrides["train"] == {"steps": "50", "lr": "1e-3"}  # why the coercion exists
    update_config(config, overrides)
    validate_config(config)
    assert config["train"]["steps"] == 50 and config["train"]["lr"] == 1e-3 and config["seeds"] == [0, 1]
    assert config["train"]["batch_size"] == 2  # the file's other train settings are kept


def test_nested_train_settings_merge_key_by_key_from_global_to_dataset_to_row(tiny_config):
    """A loss ablation is a row: `train: {loss: {style: 60}}` keeps every other global weight, in the
    job and in the resolved settings (a dataset's override merges the same way)."""
    from inpaint_bench.harness.config import train_settings
    from inpaint_bench.jobs.resolve import train_job

    path, config, write = tiny_config
    config["width"] = 8
    config["train"]["loss"] = {"hole": 3.0, "vgg_input": "imagenet"}
    config["datasets"]["toy"]["train"] = {"loss": {"tv": 0.2}}
    config["variants"]["no_style"] = {"backbone": "pconv", "layers": 3, "train": {"loss": {"style": 0}}}
    config["variants"]["style60"] = {"backbone": "pconv", "layers": 3, "train": {"loss": {"style": 60}, "lr": 1e-3}}
    write(config)
    loaded = load_config(path)
    expected = {"hole": 3.0, "valid": 1.0, "perceptual": 0.05, "style": 60, "tv": 0.2,
                "vgg_input": "imagenet", "tv_region": "composite_hole"}
    assert train_settings(loaded, "toy", "style60")["loss"] == expected
    assert train_settings(loaded, "toy", "style60")["masks"] == loaded["train"]["masks"]
    job = train_job(loaded, "toy", "style60", 0)
    assert job["settings"]["loss"] == expected and job["settings"]["lr"] == 1e-3
    assert train_job(loaded, "toy", "no_style", 0)["settings"]["loss"] == {**expected, "style": 0}
    assert train_job(loaded, "toy", "pconv", 0)["settings"]["loss"] == {**expected, "style": 120.0}
    assert loaded["train"]["loss"]["style"] == 120.0  # the global settings are not modified


def test_a_row_loss_key_is_checked_like_the_global_one(tiny_config):
    path, config, write = tiny_config
    config["variants"]["typo"] = {"backbone": "pconv", "train": {"loss": {"stlye": 60}}}
    config["variants"]["negative"] = {"backbone": "pconv", "train": {"loss": {"tv": -1}}}
    write(config)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "at 'variants/typo/train/loss': Additional properties are not allowed ('stlye' was unexpected)" in str(err.value)
    assert "at 'variants/negative/train/loss/tv': -1 is less than the minimum of 0" in str(err.value)


def test_a_row_loss_override_takes_exactly_the_keys_of_train_loss():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    glob = schema["properties"]["train"]["properties"]["loss"]["properties"]
    row = schema["$defs"]["train_override"]["properties"]["loss"]["properties"]
    assert row == {k: {c: v for c, v in s.items() if c not in ("default", "description")} for k, s in glob.items()}


def test_loss_ablation_drops_one_term_per_row_over_the_default():
    from inpaint_bench.jobs.resolve import train_job

    own = yaml.safe_load((REPO / "config" / "loss_ablation.yaml").read_text())
    assert own["base"] == "config.yaml"
    resolved = load_config(REPO / "config" / "loss_ablation.yaml")

    full = train_job(resolved, "mini_natural", "rfr_kca", 0)["settings"]["loss"]
    for term in ("style", "perceptual", "tv"):
        row = train_job(resolved, "mini_natural", f"rfr_kca_no_{term}", 0)["settings"]["loss"]
        assert row == {**full, term: 0}, term
    assert resolved["report"]["baseline_row"] == "rfr_kca"


def test_an_unregistered_attention_or_backbone_option_fails_at_snakemake_n(tmp_path):
    """The schema takes its names from the registries: neither reaches a training job."""
    config = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    config["variants"] = {"eca": {"backbone": "rfr", "attention": "eca"},
                          "deep": {"backbone": "encdec", "depth": 4}}
    proc = snakemake(tmp_path, "-n", "--configfile", write(tmp_path / "c.yaml", config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "rule train" not in out
    assert "at 'variants/eca/attention': 'eca' is not one of ['none', 'dgi', 'kca', 'plain']" in out
    assert "registered with @register_attention(\"name\") in a module of models/" in out
    assert "at 'variants/deep': Additional properties are not allowed ('depth' was unexpected)" in out
    assert "options are the keyword arguments of the backbone's constructor (models/registry.py)" in out


def test_renamed_keys_still_load_for_one_release_with_a_message(tiny_config, capsys):
    """report.reference and report.reference_table are now report.baseline_row and report.published_table:
    the old names load as the new ones, saying so on stderr; both names at once are refused."""
    from inpaint_bench.harness.config import RENAMED_KEYS

    _, config, write_config = tiny_config
    published = REPO / "published" / "rfr_net_table1.csv"
    old = {**config, "report": {"reference": "mean_fill", "reference_table": str(published)}}
    resolved = load_config(write_config(old))
    assert resolved["report"]["baseline_row"] == "mean_fill"
    assert resolved["report"]["published_table"] == str(published)
    assert "reference" not in resolved["report"] and "reference_table" not in resolved["report"]
    err = capsys.readouterr().err
    for old_key, new_key in RENAMED_KEYS.items():
        assert f"config: {old_key} is now {new_key}; it still works for this release" in err
    new = {**config, "report": {"baseline_row": "mean_fill", "published_table": str(published)}}
    assert load_config(write_config(new))["report"] == resolved["report"]
    assert capsys.readouterr().err == ""  # the new names: no message
    both = {**config, "report": {"reference": "pconv", "baseline_row": "mean_fill"}}
    with pytest.raises(ConfigError, match=r"report\.reference and report\.baseline_row are both given"):
        load_config(write_config(both))


def test_the_repository_configs_use_no_renamed_key():
    from inpaint_bench.harness.config import RENAMED_KEYS

    for path in sorted((REPO / "config").glob("*.yaml")):
        text = yaml.safe_load(path.read_text()) or {}
        for old in RENAMED_KEYS:
            section, key = old.split(".")
            assert key not in (text.get(section) or {}), f"{path.name}: {old}"
