"""Fully resolved job descriptions: everything one training or evaluation job depends on, as a
JSON-able dict. The workflow passes them to its jobs as `params` (Snakemake's params rerun trigger
re-runs exactly the jobs a change affects), and the command-line tools build the same dicts from a
config file, so a job started by hand runs exactly what the workflow would run.

- train job (role "student"): one variant on one dataset with one seed;
- teacher job (role "teacher"): DGI's teacher network for one (dataset, arch, seed): the
  students' architecture without their student-only blocks, on uncorrupted images, with the dataset's
  schedule (never a student's own `train` overrides: one teacher serves every student, in any order);
- eval job: one variant (trained or classical) on the fixed test masks.

Each job holds the digest of the files it reads from outside the results folder (`listing`: a real
dataset's split, a mask folder), so that an added or replaced file makes it another job; an eval job
holds the train job of its model, which training records in model.pt. Listing takes a stat of every
training image and reads every test image and mask file (their content): the workflow lists once per
run (`jobs.validate.check_datasets_readable`) and passes `listings`.
Every job holds `code`: the digests of the source files its result is computed by: its workflow
script's import closure (jobs.code), the config's `extensions` and the files its row is built from
(jobs.probe), so an edit of
any project code re-runs the jobs that run it, and an edit of a model file exactly the rows built from it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os

from inpaint_bench.datasets.images import file_listing
from inpaint_bench.datasets.kinds import dataset_kind, dataset_spec
from inpaint_bench.datasets.mask_files import list_mask_images
from inpaint_bench.harness.config import ConfigError, layout, train_settings, variant_spec
from inpaint_bench.harness.fileio import file_sha256, listing_digest
from inpaint_bench.harness.names import PSNR_CAP_DB
from inpaint_bench.jobs.code import job_code
from inpaint_bench.jobs.probe import code_digests
from inpaint_bench.models.losses import DEFAULT_LOSS_WEIGHTS
from inpaint_bench.models.registry import (
    LABEL_KEYS,
    arch_name,
    architecture,
    backbone,
    is_trainable,
    teacher_architecture,
    uses_distillation,
)
from inpaint_bench.models.released_weights import WEIGHT_KEYS

ROLES = ("student", "teacher")


def teacher_architectures(config: dict) -> dict[str, dict]:
    """{arch: architecture} of every DGI teacher the config's distilled variants need."""
    out = {}
    for spec in config["variants"].values():
        if uses_distillation(spec):
            teacher = teacher_architecture(spec)
            out.setdefault(arch_name(teacher), teacher)
    return out


def teacher_arch(spec: dict) -> str:
    """The arch of the teacher a distilled variant needs (its name: jobs, paths, `--teacher-arch`)."""
    return arch_name(teacher_architecture(spec))


MASK_FOLDERS = {  # the config's mask folders: key -> (the folder if the config reads it, its file endings)
    "masks.nvidia_dir": (lambda c: c["masks"]["nvidia_dir"] if c["masks"]["source"] == "nvidia" else None, (".png",)),
    "train.masks.dir": (lambda c: c["train"]["masks"]["dir"] if c["train"]["masks"]["source"] == "folder" else None,
                        (".png", ".jpg", ".jpeg", ".bmp")),
}


def listing(config: dict, key: tuple, listings: dict | None = None) -> str | None:
    """The digest of the files behind `key`: ("datasets", name, split) or (mask folder key,); None
    when the config reads none (a mini dataset: the workflow builds it, its manifest is the jobs'
    input). With `listings` (the workflow's, for one run), each key is listed once: taken from it,
    or listed and kept there."""
    if listings is not None and key in listings:
        return listings[key]
    if key[0] == "datasets":
        spec = dataset_spec(config, key[1])
        found = None if dataset_kind(spec["kind"]).built else file_listing(spec, key[2])
    else:
        folder_of, extensions = MASK_FOLDERS[key[0]]
        folder = folder_of(config) and os.path.expanduser(folder_of(config))
        found = folder and listing_digest([os.path.join(folder, f) for f in list_mask_images(folder, extensions)],
                                          key[0], content=True)  # mask files: few, and every number depends on them
    if listings is not None:
        listings[key] = found
    return found or None


def _code(config: dict, script: str, row: dict[str, str] | None = None) -> dict[str, str]:
    """A job's `code` (jobs.code.job_code), the config's extension files included."""
    return job_code(script, row, config.get("extensions", ()))


def _common(config: dict, dataset: str, seed: int) -> dict:
    return {"dataset": dataset, "dataset_spec": dataset_spec(config, dataset), "seed": int(seed),
            "image_size": config["image_size"], "width": config["width"],
            "buckets": config["masks"]["buckets"],
            # where the weights are looked up and whether they must exist; not `download`
            "weights": {k: config["weights"][k] for k in ("dir", "required")}}


@functools.lru_cache(maxsize=None)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def resolved_spec(config: dict, variant: str) -> dict:
    """The variant's spec with the SHA-256 of its `weights` / `init` file: the file is part of the
    model's identity, so a job re-runs when the file changes and refuses a file changed since.
    Without its `label` (words for the tables): editing it re-runs no job."""
    spec = {k: v for k, v in variant_spec(config, variant).items() if k not in LABEL_KEYS}
    for key in WEIGHT_KEYS:
        if spec.get(key):
            entry = spec[key]
            try:
                stat = os.stat(os.path.expanduser(entry["path"]))
            except OSError as err:
                raise ConfigError(f"variants.{variant}.{key}.path: {entry['path']} cannot be read ({err})") from err
            actual = _sha256(entry["path"], stat.st_size, stat.st_mtime_ns)
            if entry.get("sha256", actual) != actual:
                raise ConfigError(f"variants.{variant}.{key}: {entry['path']} has SHA-256 {actual}, the config "
                                  f"asks for {entry['sha256']}: is it the file you mean?")
            entry["sha256"] = actual
    return spec


def _train_listing(config: dict, dataset: str, listings: dict | None) -> dict:
    return {"images": listing(config, ("datasets", dataset, "train"), listings),
            "masks": listing(config, ("train.masks.dir",), listings)}


def train_job(config: dict, dataset: str, variant: str, seed: int, listings: dict | None = None) -> dict:
    """A variant's training job; a distilled one holds its teacher's job (`teacher_job`), which the
    teacher's model.pt must have been trained for."""
    spec = resolved_spec(config, variant)
    if spec.get("weights"):
        raise ConfigError(f"variant {variant!r} scores the released weights {spec['weights']['path']} and needs "
                          f"no training; evaluate it directly (to train from them, use init: instead of weights:)")
    if not is_trainable(spec):
        raise ConfigError(f"variant {variant!r} (backbone {spec['backbone']!r}) is a classical method and needs "
                          f"no training; evaluate it directly")
    settings = train_settings(config, dataset, variant)
    settings.pop("teacher_steps")
    settings.pop("keep_checkpoint")  # what is kept after training, not how it trains
    teacher = teacher_arch(spec) if uses_distillation(spec) else None
    teacher_description = teacher_job(config, dataset, teacher, seed, listings) if teacher else None
    return {**_common(config, dataset, seed), "role": "student", "name": variant, "spec": spec,
            "settings": settings, "code": _code(config, "train", code_digests(spec, config["width"])),
            "teacher": teacher,
            # what the teacher's model.pt must have been trained by
            "teacher_code": teacher_description["code"] if teacher else None,
            "teacher_job": teacher_description,
            "listing": _train_listing(config, dataset, listings)}


def teacher_job(config: dict, dataset: str, arch: str, seed: int, listings: dict | None = None) -> dict:
    teachers = teacher_architectures(config)
    if arch not in teachers:
        raise ConfigError(f"no distilled variant of the config needs a teacher {arch!r}; teachers: {sorted(teachers)}")
    settings = train_settings(config, dataset)
    teacher_steps = settings.pop("teacher_steps")
    settings.pop("keep_checkpoint")
    if teacher_steps:
        settings.update(steps=teacher_steps, finetune_steps=0)
    return {**_common(config, dataset, seed), "role": "teacher", "name": arch, "spec": teachers[arch],
            "settings": settings, "code": _code(config, "train", code_digests(teachers[arch], config["width"])),
            "teacher": None,
            "teacher_code": None, "teacher_job": None,
            "listing": _train_listing(config, dataset, listings)}


def eval_job(config: dict, dataset: str, variant: str, seed: int, listings: dict | None = None) -> dict:
    """A variant's evaluation: the test images it reads (`listing`), the protocol (the PSNR cap), the
    pairing of test images with masks (`pairing`: masks.pairing and masks.seed), and for a trained
    variant the train job its model.pt must come from (`train`, whose `code` the model was trained by).
    `code`: the evaluation's own and its row's files."""
    spec = resolved_spec(config, variant)
    return {**_common(config, dataset, seed), "variant": variant, "spec": spec,
            "code": _code(config, "evaluate", code_digests(spec, config["width"])),
            "eval": config["eval"], "precision": config["train"]["precision"], "psnr_cap_db": PSNR_CAP_DB,
            # which test image meets which mask (datasets.mask_sets.bucket_pairs): recorded, and a change re-scores
            "pairing": {"pairing": config["masks"]["pairing"], "seed": config["masks"]["seed"]},
            "train": train_job(config, dataset, variant, seed, listings) if is_trainable(spec) else None,
            "listing": {"images": listing(config, ("datasets", dataset, "test"), listings)}}


def masks_job(config: dict, listings: dict | None = None) -> dict:
    """The test mask set: the config's `masks`, the size and the listing of NVIDIA's folder it picks from."""
    return {"masks": config["masks"], "size": config["image_size"], "code": _code(config, "make_test_masks"),
            "listing": listing(config, ("masks.nvidia_dir",), listings)}


def validation_job(config: dict, dataset: str, variant: str, listings: dict | None = None) -> dict:
    """A classical row scored on the validation split that the dataset's training jobs hold out (from
    the training images it lists, `listing`)."""
    spec = variant_spec(config, variant)
    return {**_common(config, dataset, 0), "variant": variant, "spec": spec,
            "code": _code(config, "validate_classical", code_digests(spec, config["width"])),
            "validation": train_settings(config, dataset)["validation"],
            "listing": {"images": listing(config, ("datasets", dataset, "train"), listings)}}


VGG_TERMS = ("perceptual", "style")  # the loss terms a training run drops without VGG16 weights


def _as_run(job: dict, vgg16: bool | None) -> dict:
    """A train or eval job without its row's name, its `code` (which follows from the spec) and the
    spec's `train` (already merged into `settings`); with `vgg16` (whether the VGG16 weights are there)
    as it runs: the loss weights training uses (a term dropped for lack of VGG16 weights weighs 0) and
    no distillation block whose weights are all zero."""
    job = {k: v for k, v in job.items() if k not in ("name", "variant", "code", "teacher_code")}
    job["spec"] = {k: v for k, v in job["spec"].items() if k != "train"}
    if vgg16 is not None and not uses_distillation(job["spec"]):
        job["spec"].pop("distill", None)
    if vgg16 is not None and "settings" in job:
        loss = {**DEFAULT_LOSS_WEIGHTS, **job["settings"]["loss"], **({t: 0 for t in VGG_TERMS} if not vgg16 else {})}
        job["settings"] = {**job["settings"], "loss": loss}
    if job.get("train"):
        job["train"] = _as_run(job["train"], vgg16)
    return job


def job_differences(a, b, where: str = "") -> list[str]:
    """The keys (dotted paths) at which two job descriptions differ (a model.pt's recorded job and the
    one asked for, an old result's and today's)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in job_differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))]
    return [] if a == b else [where]


def _config_key(path: str) -> str:
    """A job's key as the config names it: settings.loss.style -> train.loss.style, spec.distill -> distill."""
    return "train." + path.removeprefix("settings.") if path.startswith("settings.") else path.removeprefix("spec.")


def coinciding_rows(config: dict, vgg16: bool, listings: dict | None = None) -> list[tuple[str, str, str]]:
    """(row, earlier row, why) for every row of the config that trains and scores exactly as an earlier
    one on every dataset, e.g. `train: {loss: {style: 0}}` where the style term is dropped anyway
    (`vgg16`: whether the VGG16 weights will be there). Its Δ to that row is 0 by construction."""
    seed, first, found = config["seeds"][0], {}, []
    jobs = {v: [eval_job(config, d, v, seed, listings) for d in config["datasets"]] for v in config["variants"]}
    for variant, own in jobs.items():
        key = json.dumps([_as_run(job, vgg16) for job in own], sort_keys=True)
        earlier = first.setdefault(key, variant)
        if earlier == variant:
            continue
        differ = sorted({_config_key(d.removeprefix("train.")) for a, b in zip(own, jobs[earlier])
                         for d in job_differences(_as_run(a, None), _as_run(b, None))})
        why = f"they differ only in {', '.join(differ)}" if differ else "their specs and settings are the same"
        dropped = [t for t in VGG_TERMS if f"train.loss.{t}" in differ]
        if dropped and not vgg16:
            why += f", and the {' and '.join(dropped)} term{'s are' if len(dropped) > 1 else ' is'} dropped " \
                   f"without the VGG16 weights"
        if any(d.startswith("distill") for d in differ):
            why += ", and no distillation weight is non-zero"
        found.append((variant, earlier, why))
    return found


def coinciding_line(variant: str, earlier: str, why: str) -> str:
    """The warning and the tables' footnote for a row that trains and scores exactly as another."""
    return (f"{variant} trains and scores exactly as {earlier}: {why}; its Δ to {earlier} is 0 by construction "
            f"(drop one row, or give it what makes it differ)")


def baseline_row(config: dict) -> str:
    """The ablation's baseline row: `report.baseline_row` when the config has that row, else its first."""
    wanted, rows = config["report"]["baseline_row"], list(config["variants"])
    return wanted if wanted in rows else rows[0]


_ABSENT = object()  # a key one side of a comparison does not have


def _row_description(config: dict, dataset: str, variant: str) -> dict:
    """What a row's generated label compares: its network with the backbone's defaults written out (so
    an option given at its default is no difference), the rest of its spec (distillation, weight files)
    and, for a trained row, its training settings as its train job holds them."""
    spec = {k: v for k, v in variant_spec(config, variant).items() if k not in LABEL_KEYS + ("train",)}
    network = architecture(spec)
    description = {"network": {"backbone": spec["backbone"], **backbone(spec).options(), **network},
                   "spec": {k: v for k, v in spec.items() if k not in network}}
    if is_trainable(spec):
        settings = train_settings(config, dataset, variant)
        for key in ("teacher_steps", "keep_checkpoint"):  # not part of the row's train job (train_job)
            settings.pop(key)
        description["settings"] = settings
    return description


def _changes(base, row, where: str = "") -> list[tuple[str, object]]:
    """(dotted key, the row's value) wherever `row` differs from `base`; a block only one side has is
    listed key by key, a key the row lacks with the value _ABSENT."""
    if isinstance(row, dict) or isinstance(base, dict):
        base = base if isinstance(base, dict) else {}
        row = row if isinstance(row, dict) else {}
        return [c for k in dict.fromkeys([*row, *base])
                for c in _changes(base.get(k, _ABSENT), row.get(k, _ABSENT), f"{where}.{k}" if where else str(k))]
    return [] if base == row else [(where, row)]


def _words(value) -> str:
    """A value as a label shows it: 0.001 -> 1e-3, 1.0 -> 1, True -> true."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        if value and abs(value) < 1e-2:
            mantissa, exponent = f"{value:e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_words, value)) + "]"
    return str(value)


def row_label(config: dict, variant: str) -> str:
    """A row's label: its `label` when it has one, else how its resolved jobs differ from the baseline
    row's (`baseline_row`), e.g. "lr 1e-3", "loss.style 0", "attention dgi, distill.cross 0.1"; a row on
    another backbone starts with its network as written ("backbone rfr, attention kca"). "" for the
    baseline row, for a row that differs in nothing, and for a classical row named after its backbone."""
    own = variant_spec(config, variant).get("label")
    base = baseline_row(config)
    if own or variant == base:
        return own or ""
    changes = {}  # key -> the row's value (on the first dataset where the two differ)
    for dataset in config["datasets"]:
        ours, theirs = _row_description(config, dataset, variant), _row_description(config, dataset, base)
        if ours["network"]["backbone"] != theirs["network"]["backbone"]:  # another network: as written
            network = architecture(variant_spec(config, variant))
            if network != {"backbone": variant}:  # mean_fill: {backbone: mean_fill} says itself
                changes.update({k: v for k, v in network.items() if k not in changes})
            del ours["network"], theirs["network"]
        if "settings" not in ours or "settings" not in theirs:  # a classical row trains nothing to compare
            ours.pop("settings", None), theirs.pop("settings", None)
        for key, value in _changes(theirs, ours):
            changes.setdefault(key.split(".", 1)[1], value)
    return ", ".join(f"without {k}" if v is _ABSENT else f"{k} {_words(v)}" for k, v in changes.items())


def row_labels(config: dict) -> dict[str, str]:
    """{variant: label} of every row that has one (`row_label`), in config order: the tables' footnotes."""
    return {v: label for v in config["variants"] if (label := row_label(config, v))}


def init_seed_parts(job: dict) -> tuple:
    """What a network's initial weights are seeded from: (seed, dataset, architecture, role). Not the
    variant's name, so variants that differ only in their losses start from the same weights."""
    return (job["seed"], job["dataset"], arch_name(architecture(job["spec"])), job["role"])


def as_param(job: dict) -> str:
    """A job as the stable string Snakemake compares between runs."""
    return json.dumps(job, sort_keys=True)


def job_digest(job) -> str:
    """A short digest of a job's description: the name of the workflow's job file (harness.paths)."""
    return hashlib.sha256(as_param(job).encode()).hexdigest()[:16]


def data_job(config: dict, dataset: str) -> dict:
    """A mini dataset's build."""
    return {"spec": dataset_spec(config, dataset), "size": config["image_size"],
            "code": _code(config, "build_mini_dataset")}


def trained_variants(config: dict) -> list[str]:
    return [v for v, spec in config["variants"].items() if is_trainable(spec)]


def validated_classical(config: dict, dataset: str) -> list[str]:
    """The classical rows scored on the dataset's validation split: none when its validation is off
    (train.validation.every 0), so no job is planned, or sent to a cluster, for nothing."""
    if not train_settings(config, dataset)["validation"]["every"]:
        return []
    return [v for v in config["variants"] if v not in trained_variants(config)]


def report_job(config: dict, kind: str, dataset: str | None = None) -> dict:
    """What a report job computes from besides its input files: `summary` (rule aggregate), `paper`
    (rules paper_view and scorecard), a dataset's `tables`, `plots` and `validation_plot`; each with
    its script's code."""
    if kind == "summary":
        return {"config": config, "code": _code(config, "aggregate")}
    if kind == "paper":  # rules paper_view and scorecard, one script; the tables as named: any checkout's
        return {"variants": list(config["variants"]), "seeds": config["seeds"],
                "paper_tables": config["report"]["paper_tables"], "report": config["report"],
                "code": _code(config, "paper")}
    rows = {"report": config["report"]} if kind == "tables" else {"trained": trained_variants(config)}
    return {"variants": list(config["variants"]), "seeds": config["seeds"], **rows, "dataset": dataset,
            "code": _code(config, kind)}


def workflow_job(config: dict, kind: str, *parts, listings: dict | None = None) -> tuple[str, dict]:
    """(key, description) of one workflow job: `key` names its outputs under results_dir (the folder of
    its job file, harness.paths.job_file). Kinds and their parts: train, eval (dataset, variant, seed),
    teacher (dataset, architecture, seed), validation (dataset, classical variant), masks (seed), data
    (dataset), summary (), paper (), tables, plots, validation_plot (dataset)."""
    results = layout(config)

    def key(path) -> str:
        return path.relative_to(results.root).as_posix()

    if kind == "train":
        d, v, s = parts
        return key(results.run_dir(d, v, s)), train_job(config, d, v, int(s), listings)
    if kind == "teacher":
        d, a, s = parts
        return key(results.teacher_dir(d, a, s)), teacher_job(config, d, a, int(s), listings)
    if kind == "eval":
        d, v, s = parts
        return key(results.eval_dir(d, v, s)), eval_job(config, d, v, int(s), listings)
    if kind == "validation":  # runs/<dataset>/<classical>/validation, beside the seed folders
        d, v = parts
        return key(results.classical_validation(d, v).with_suffix("")), validation_job(config, d, v, listings)
    if kind == "masks":
        return key(results.masks_dir(config["image_size"], parts[0])), masks_job(config, listings)
    if kind == "data":
        return key(results.data_dir(parts[0])), data_job(config, parts[0])
    if kind in ("summary", "paper"):
        return kind, report_job(config, kind)
    name = {"tables": "tables/{}", "plots": "plots/{}", "validation_plot": "plots/{}_validation"}[kind]
    return name.format(parts[0]), report_job(config, kind, parts[0])


def workflow_jobs(config: dict, listings: dict | None = None) -> list[tuple[str, tuple, str, dict]]:
    """(kind, parts, key, description) of every job of the workflow's default target (workflow_job)."""
    datasets, variants, seeds = list(config["datasets"]), list(config["variants"]), config["seeds"]
    trained = trained_variants(config)
    which = [("train", (d, v, s)) for d in datasets for v in trained for s in seeds]
    which += [("teacher", (d, a, s)) for d in datasets for a in teacher_architectures(config) for s in seeds]
    which += [("eval", (d, v, s)) for d in datasets for v in variants for s in seeds]
    which += [("validation", (d, v)) for d in datasets for v in validated_classical(config, d)]
    which += [("data", (d,)) for d in datasets if dataset_kind(config["datasets"][d]["kind"]).built]
    which += [("masks", (config["masks"]["seed"],)), ("summary", ())]
    which += [("paper", ())] if config["report"]["paper_tables"] else []
    which += [(kind, (d,)) for d in datasets for kind in ("tables", "plots", "validation_plot")]
    return [(kind, parts, *workflow_job(config, kind, *parts, listings=listings)) for kind, parts in which]
