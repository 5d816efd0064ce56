"""How long each row trained: read from its evaluation's record, said in every table, plot and caption.

Each evaluation writes `provenance.json` beside its summary.csv (evaluation/evaluate.py; a declared
output of the workflow's evaluate rule): the eval job, with the train job its model.pt was checked
against, and `trained`, the steps the model.pt itself recorded, split into steps and fine-tuning
steps, with the batch size. `read_budgets` reads them (no torch file is opened), `budget_lines` says
them in the tables' footnotes, `budget_headline` in a plot's title, `under_trained_line` says, first
in a table, which rows trained less than the config gives them, `planned_line` gives the config's
schedule in the report's captions and `resolved_training` the per-dataset settings on its config page.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml

from inpaint_bench.harness.config import train_settings, variant_spec

PROVENANCE = "provenance.json"  # the evaluation's record, beside its summary.csv and per_image.csv
SCHEDULE = ("steps", "finetune_steps", "batch_size")
SHOWN_SETTINGS = ("steps", "finetune_steps", "batch_size", "lr", "finetune_lr")  # the config page's per-row view
NOT_RECORDED = "steps not recorded (no provenance.json beside its evaluation)"


def row_budget(provenance: dict) -> dict:
    """{"kind": "trained", steps, finetune_steps, batch_size} of one evaluation's record, or
    {"kind": "classical"} / {"kind": "released"} for a row that is not trained here. An evaluation
    written before `trained` was recorded gives the train job its model.pt was checked against."""
    job = provenance.get("job") or {}
    train = job.get("train")
    if not train:
        return {"kind": "released" if (job.get("spec") or {}).get("weights") else "classical"}
    trained = provenance.get("trained") or {k: train["settings"][k] for k in SCHEDULE}
    budget = {"kind": "trained", **{k: int(trained[k]) for k in SCHEDULE}}
    if train.get("teacher_job"):  # a distilled row: the teacher its model.pt was checked to come from
        budget["teacher"] = {k: int(train["teacher_job"]["settings"][k]) for k in SCHEDULE}
    return budget


def read_budgets(paths) -> dict[str, dict[int, dict]]:
    """{variant: {seed: row_budget}} from one dataset's evaluations' provenance.json files; one that
    does not exist is left out (its row's steps are then "not recorded"). An unreadable record is an
    error naming the file."""
    out: dict[str, dict[int, dict]] = {}
    for of_dataset in read_budgets_by_dataset(paths).values():
        for variant, seeds in of_dataset.items():
            out.setdefault(variant, {}).update(seeds)
    return out


def read_budgets_by_dataset(paths) -> dict[str, dict[str, dict[int, dict]]]:
    """{dataset: {variant: {seed: row_budget}}}: `read_budgets` of several datasets' evaluations."""
    out: dict[str, dict[str, dict[int, dict]]] = {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
            job = record["job"]
            out.setdefault(job["dataset"], {}).setdefault(job["variant"], {})[int(job["seed"])] = row_budget(record)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not an evaluation's provenance record ({err!r}): evaluate that run again") \
                from err
    return out


def schedule_text(budget: dict | None) -> str:
    """"300 + 100 fine-tuning steps at batch 8 (3,200 images)", "no training (classical)", ..."""
    if budget is None:
        return NOT_RECORDED
    if budget["kind"] == "classical":
        return "no training (classical)"
    if budget["kind"] == "released":
        return "no training here (released weights)"
    steps, finetune, batch = (budget[k] for k in SCHEDULE)
    after = f" + {finetune:,} fine-tuning steps" if finetune else " steps, no fine-tuning"
    text = f"{steps:,}{after} at batch {batch} ({(steps + finetune) * batch:,} images)"
    if budget.get("teacher"):
        teacher = budget["teacher"]
        text += (f", distilled from a teacher of {teacher['steps']:,} + {teacher['finetune_steps']:,} steps at "
                 f"batch {teacher['batch_size']}")
    return text


def _row_text(seeds: dict[int, dict] | None) -> str:
    """A row's schedule; per seed when its seeds trained differently."""
    if not seeds:
        return NOT_RECORDED
    texts = {seed: schedule_text(b) for seed, b in sorted(seeds.items())}
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return ", ".join(f"seed {seed}: {text}" for seed, text in texts.items())


def _trained(budgets: dict, variants) -> dict[str, str]:
    return {v: _row_text(budgets.get(v)) for v in variants
            if any(b["kind"] == "trained" for b in (budgets.get(v) or {}).values())}


def mixed(budgets: dict, variants) -> bool:
    """Whether the trained rows (or the seeds of one row) trained different lengths: their own schedules
    (a distilled row's teacher is said beside it, and makes no row's length differ)."""
    own = {tuple(b[k] for k in SCHEDULE) for v in variants for b in (budgets.get(v) or {}).values()
           if b["kind"] == "trained"}
    return len(own) > 1


def budget_lines(budgets: dict, variants) -> list[str]:
    """The footnote of how long each row trained (`read_budgets`), rows in table order: rows of one
    schedule together, or, when they trained different lengths, every row on its own."""
    variants = list(variants)
    texts = {v: _row_text(budgets.get(v)) for v in variants}
    if mixed(budgets, variants):
        return ["Rows trained different lengths (as each run recorded): "
                + "; ".join(f"{v}: {t}" for v, t in texts.items()) + "."]
    by_text: dict[str, list[str]] = {}
    for variant, text in texts.items():
        by_text.setdefault(text, []).append(variant)
    return ["Training (as each run recorded): " + "; ".join(f"{', '.join(vs)}: {t}" for t, vs in by_text.items())
            + "."]


def budget_headline(budgets: dict, variants) -> str:
    """A plot title's line: "trained rows: 300 + 100 fine-tuning steps at batch 8 (3,200 images)",
    "rows trained different lengths: <row>: <schedule>; ...", or "no row trained here"; then the
    rows whose steps were not recorded."""
    trained = _trained(budgets, variants)
    unrecorded = [v for v in variants if not budgets.get(v)]
    if not trained:
        text = "no row trained here"
    elif mixed(budgets, variants):
        text = "rows trained different lengths: " + "; ".join(f"{v}: {t}" for v, t in trained.items())
    else:
        text = f"trained rows: {next(iter(trained.values()))}"
    return text + (f"; {', '.join(unrecorded)}: steps not recorded" if unrecorded else "")


def under_trained_line(budgets: dict, expected: dict) -> str | None:
    """The line a table starts with when a row trained fewer steps or fine-tuning steps than the
    config gives it (`expected`: {variant: {"steps", "finetune_steps"}}; a stopped or an outdated
    run), else None."""
    short = short_rows(budgets, expected)
    return under_trained(short) if short else None


def under_trained(short: list[str]) -> str:
    return "UNDER-TRAINED: " + "; ".join(short) + ": these numbers are not the configured run's"


def short_rows(budgets: dict, expected: dict) -> list[str]:
    """"v, w (seed 0) trained 2 + 1 steps of the config's 400,000 + 200,000" for the rows and seeds
    that trained less than `expected` gives them, rows of the same shortfall in one phrase."""
    groups: dict[tuple, list[str]] = {}
    for variant, want in (expected or {}).items():
        for seed, got in sorted((budgets.get(variant) or {}).items()):
            if got["kind"] == "trained" and (got["steps"] < want["steps"]
                                             or got["finetune_steps"] < want["finetune_steps"]):
                key = (seed, got["steps"], got["finetune_steps"], want["steps"], want["finetune_steps"])
                groups.setdefault(key, []).append(variant)
    return [f"{', '.join(rows)} (seed {seed}) trained {steps:,} + {finetune:,} steps of the config's "
            f"{want_steps:,} + {want_finetune:,}"
            for (seed, steps, finetune, want_steps, want_finetune), rows in groups.items()]


# ----------------------------------------------------------------------------------------------
# The config's view (captions and the config page)


def expected_schedule(config: dict, dataset: str, trained) -> dict[str, dict]:
    """{variant: {steps, finetune_steps, batch_size}} the config gives each trained row on `dataset`; with
    `report.schedule_of` (a rehearsal), the schedules that config gives the rows it also holds."""
    if config["report"].get("schedule_of"):
        config = _schedule_config(config["report"]["schedule_of"])
        if dataset not in config["datasets"]:
            return {}
        trained = [v for v in trained if v in config["variants"]]
    return own_schedule(config, dataset, trained)


def own_schedule(config: dict, dataset: str, trained) -> dict[str, dict]:
    """{variant: {steps, finetune_steps, batch_size}} this config gives each trained row on `dataset`."""
    return {v: {k: train_settings(config, dataset, v)[k] for k in SCHEDULE} for v in trained}


@functools.lru_cache(maxsize=None)
def _schedule_config(path: str) -> dict:
    from inpaint_bench.jobs.validate import load_config

    return load_config(path)


def planned_line(config: dict, dataset: str, trained) -> str:
    """The report captions' sentence on how long the config trains each row of `dataset`."""
    budgets = {v: {0: {"kind": "trained", **s}} for v, s in own_schedule(config, dataset, trained).items()}
    for v in config["variants"]:
        if v not in budgets:
            budgets[v] = {0: {"kind": "released" if variant_spec(config, v).get("weights") else "classical"}}
    line = budget_lines(budgets, list(config["variants"]))[0]
    return line.replace(" (as each run recorded)", " as the config gives it")


def resolved_training(config: dict, trained) -> dict:
    """The per-dataset training settings the jobs used ({dataset: [{"rows": "a, b", steps, ...}]},
    rows of equal settings together, DGI teachers' own steps after them) and the top-level `train` keys that no
    job used (every dataset or row sets its own), for the report's config page."""
    out, unused = {}, []
    for dataset in config["datasets"]:
        groups: dict[str, list[str]] = {}
        shown = {}
        for variant in trained:
            settings = {k: train_settings(config, dataset, variant)[k] for k in SHOWN_SETTINGS}
            key = json.dumps(settings, sort_keys=True)
            groups.setdefault(key, []).append(variant)
            shown[key] = settings
        out[dataset] = [{"rows": ", ".join(vs), **shown[key]} for key, vs in groups.items()]
        teacher = train_settings(config, dataset)["teacher_steps"]
        if teacher is not None and any(variant_spec(config, v).get("distill") for v in trained):
            out[dataset].append({"rows": "DGI teachers", "steps": teacher, "finetune_steps": 0})
    for key in ("steps", "finetune_steps", "batch_size", "lr", "finetune_lr", "teacher_steps"):
        per_dataset = all(key in config["datasets"][d].get("train", {}) for d in config["datasets"])
        per_row = all(key in variant_spec(config, v).get("train", {}) for v in trained)
        if config["datasets"] and (per_dataset or (trained and per_row)):
            unused.append(key)
    return {"per_dataset": out, "unused": unused}


def config_page(config: dict, trained) -> str:
    """The report's config page as YAML: the per-dataset training settings the jobs used
    (`resolved_training`), then the config with the top-level `train` keys no job used left out."""
    resolved = resolved_training(config, trained)
    shown = {**config, "train": {k: v for k, v in config["train"].items() if k not in resolved["unused"]}}
    head = {"training as the jobs used it (per dataset, rows of equal settings together)": resolved["per_dataset"]}
    if resolved["unused"]:
        head["top-level train keys no job used (every dataset or row sets its own)"] = resolved["unused"]
    dump = functools.partial(yaml.safe_dump, sort_keys=False, allow_unicode=True)
    return dump(head) + "\n" + dump(shown)
