"""Score any method's output folder with the harness's own metric code.

    inpaint-bench score --pred DIR --gt DIR --masks DIR --out FILE.csv [--dataset D --variant V --seed S]
                        [--protocol NAME] [--composite | --as-is] [--allow-missing] [--weights-dir D]
                        [--cache FILE] [--batch-size B] [--mask-threshold T]

Outputs are matched to ground truth and masks by file name and scored by the harness's own
evaluation loop (metrics.evaluation), as workflow runs are, under a scoring protocol (--protocol,
default `default`: metrics.protocols; its old name `harness` still works), which also says whether
the outputs are first composited with their mask (`pred*mask + gt*(1-mask)`; edgeconnect scores them
as they are, as its script does; --composite/--as-is choose otherwise, recorded with the protocol).
Every mask with a ground-truth image needs an output: a missing one is an error naming it, unless
--allow-missing. FILE.csv (per image), FILE_summary.csv (long summary) and FILE_provenance.json
(what was scored, how, and what was missing) are written atomically. Folder layouts and matching
rules: docs/tools.md; output formats: docs/file-formats.md. An existing file in the way that this
tool did not write is refused unless --force. Every error ends in `error: ...` on stderr with exit
code 2, and nothing is written.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from inpaint_bench.datasets.imagefile import read_mask, read_rgb
from inpaint_bench.datasets.mask_conventions import hole_ratio
from inpaint_bench.datasets.mask_files import check_bucket, check_ratio, read_manifest, recorded_ratio
from inpaint_bench.harness.fileio import atomic_write_text
from inpaint_bench.harness.names import SUMMARY_COLUMNS, per_image_columns
from inpaint_bench.harness.progress import progress

from .evaluation import Evaluation
from .protocols import check_protocol
from .suite import MetricSuite

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
FLAT_BUCKET = "all"
# A manifest written by hand or by another tool may round the ratio (e.g. to 3 decimals).
HOLE_RATIO_TOLERANCE = 1e-3


@dataclass
class Item:
    name: str    # image name without extension, as written in the per-image CSV
    bucket: str
    pred: Path
    gt: Path
    mask: Path
    mask_name: str  # the mask's identity: the manifest's `mask` (an export's), else the file relative to the folder
    hole_ratio: float | None = None  # as listed in the mask manifest, checked against the file
    manifest: Path | None = None


def index_images(folder: Path) -> dict[str, Path]:
    """Relative path without extension ("b/img" or "img") -> file, for all images under folder."""
    index = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in index:
                raise ValueError(f"two images with the same name in {folder}: {index[key].name}, {path.name}")
            index[key] = path
    return index


def index_masks(masks_dir: Path) -> tuple[dict[tuple[str, str], Path], list[str], dict[Path, float], dict[Path, str],
                                          dict[Path, str]]:
    """(bucket, stem) -> mask file, the buckets in manifest order, mask file -> the hole ratio the
    manifest lists (when it has a hole_ratio column), mask file -> the mask set's file it is a copy
    of (an export's `mask` column: metrics.evaluation.mask_id) and mask file -> its test image (an
    export's `image` column, where the copies are not named after their image alone)."""
    manifest = masks_dir / "manifest.csv"
    masks, buckets, ratios, ids, images = {}, [], {}, {}, {}
    if manifest.is_file():
        for row in read_manifest(manifest):
            bucket, file = row["bucket"], row["file"]
            path = masks_dir / bucket / file
            if not path.is_file():
                path = masks_dir / file  # manifest may already hold "<bucket>/<file>"
            if not path.is_file():
                raise FileNotFoundError(f"{manifest} lists {file} (bucket {bucket}) but the file is missing")
            masks[(bucket, Path(file).stem)] = path
            ratio = recorded_ratio(row, manifest)
            if ratio is not None:
                ratios[path] = ratio
            if (row.get("mask") or "").strip():
                ids[path] = row["mask"].strip()
            if (row.get("image") or "").strip():
                images[path] = row["image"].strip()
            if bucket not in buckets:
                buckets.append(bucket)
    else:
        for path in sorted(masks_dir.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                masks[(FLAT_BUCKET, path.stem)] = path
        buckets = [FLAT_BUCKET]
    if not masks:
        raise FileNotFoundError(f"no masks found in {masks_dir}")
    return masks, buckets, ratios, ids, images


def _names(keys, limit: int = 20) -> str:
    keys = sorted(keys)
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _gt_key(gts: dict[str, Path], bucket: str, stem: str) -> str | None:
    """The ground truth of an image in a bucket: <bucket>/<stem>, else <stem>; None when there is none."""
    return next((key for key in (f"{bucket}/{stem}", stem) if key in gts), None)


def _pair_name(bucket: str, stem: str) -> str:
    return stem if bucket == FLAT_BUCKET else f"{bucket}/{stem}"


def pair_files(pred_dir: Path, gt_dir: Path, masks_dir: Path, allow_missing: bool = False
               ) -> tuple[list[Item], list[str], list[str]]:
    """Match predictions to ground truth and masks: (items, buckets, missing outputs). Every mask
    with a ground-truth image needs an output: a missing one would leave a smaller n and another mean
    without a word. Raises ValueError listing every mismatch and, unless allow_missing, every missing
    output (returned instead, as "<bucket>/<image>")."""
    preds, gts = index_images(pred_dir), index_images(gt_dir)
    masks, buckets, ratios, ids, images = index_masks(masks_dir)
    image_of = {pair: images.get(path, pair[1]) for pair, path in masks.items()}  # the test image a copy is of
    buckets_by_stem: dict[str, list[str]] = {}
    for bucket, stem in masks:
        buckets_by_stem.setdefault(stem, []).append(bucket)

    items, used_gt, scored = [], set(), set()
    no_gt, no_mask, ambiguous = [], [], []
    for key, pred_path in preds.items():
        parts = key.split("/")
        if len(parts) == 2 and parts[0] in buckets:
            bucket, stem = parts
        elif len(parts) == 1:
            stem = parts[0]
            candidates = buckets_by_stem.get(stem, [])
            if len(candidates) > 1:
                ambiguous.append(key)
                continue
            bucket = candidates[0] if candidates else None
        else:
            bucket, stem = None, parts[-1]
        if bucket is None or (bucket, stem) not in masks:
            no_mask.append(key)
            continue
        gt_key = _gt_key(gts, bucket, image_of[(bucket, stem)])
        if gt_key is None:
            no_gt.append(key)
            continue
        used_gt.add(gt_key)
        mask_path = masks[(bucket, stem)]
        manifest = masks_dir / "manifest.csv" if mask_path in ratios else None
        items.append(Item(image_of[(bucket, stem)], bucket, pred_path, gts[gt_key], mask_path,
                          ids.get(mask_path, mask_path.relative_to(masks_dir).as_posix()),
                          ratios.get(mask_path), manifest))
        scored.add((bucket, stem))
    expected = {(bucket, stem): _gt_key(gts, bucket, image_of[(bucket, stem)]) for bucket, stem in masks}
    expected = {pair: gt for pair, gt in expected.items() if gt is not None}
    missing = sorted(_pair_name(*pair) for pair in expected if pair not in scored)

    errors = []
    if no_gt:
        errors.append(f"predictions without ground truth: {_names(no_gt)}")
    if no_mask:
        errors.append(f"predictions without a mask: {_names(no_mask)}")
    if ambiguous:
        errors.append(f"predictions whose mask name exists in several buckets (put them in <bucket>/ folders): "
                      f"{_names(ambiguous)}")
    if missing and not allow_missing:
        errors.append(f"ground-truth images without a prediction: {_names(missing)} ({len(missing)} of the "
                      f"{len(expected)} outputs expected, one per mask with a ground-truth image, as "
                      f"{pred_dir}/<bucket>/<image>.<ext>)")
    unused_gt = set(gts) - used_gt - set(expected.values())  # not even a mask of their name
    if unused_gt:
        errors.append(f"ground-truth images without a prediction: {_names(unused_gt)}")
    if errors:
        hint = ("\n  score every output, or pass --allow-missing to score without the missing ones (the result's "
                "provenance and the tables' footnote then say which)" if missing and not allow_missing else "")
        raise ValueError("unmatched files:\n  " + "\n  ".join(errors) + hint)
    order = {b: i for i, b in enumerate(buckets)}
    items.sort(key=lambda it: (order[it.bucket], it.name, it.mask_name))
    return items, [b for b in buckets if any(it.bucket == b for it in items)], missing


def load_image(path: Path) -> torch.Tensor:
    """(3,H,W) float32 RGB in [0,1] (8-bit, 16-bit and float files: datasets.imagefile)."""
    return torch.from_numpy(read_rgb(path)).permute(2, 0, 1).contiguous()


def load_mask(path: Path, threshold: float | None = None) -> torch.Tensor:
    """(1,H,W) float32, 1 = hole (PNG value 255). A mask that is not binary is refused unless a
    threshold is given (hole = value/max > threshold)."""
    return torch.from_numpy(read_mask(path, threshold))[None]


def _load_batch(items: list[Item], mask_threshold: float | None = None):
    preds, gts, masks = [], [], []
    for it in items:
        pred, gt, mask = load_image(it.pred), load_image(it.gt), load_mask(it.mask, mask_threshold)
        if pred.shape != gt.shape or mask.shape[1:] != gt.shape[1:]:
            raise ValueError(f"{it.bucket}/{it.name}: sizes differ (pred {tuple(pred.shape[1:])}, "
                             f"gt {tuple(gt.shape[1:])}, mask {tuple(mask.shape[1:])})")
        measured = hole_ratio(mask)
        check_ratio(it.mask, measured, it.hole_ratio, it.manifest, HOLE_RATIO_TOLERANCE)
        check_bucket(it.mask, measured, it.bucket, it.manifest)
        preds.append(pred), gts.append(gt), masks.append(mask)
    return preds, gts, masks


def check_sizes(items: list[Item], protocol: str) -> None:
    """Every ground-truth image fits the protocol's SSIM window: read from the file headers, so a
    protocol that cannot apply fails before any image is scored."""
    for it in items:
        try:
            with Image.open(it.gt) as im:
                width, height = im.size
        except OSError as err:
            raise ValueError(f"{it.gt}: not a readable image ({err})") from err
        check_protocol(protocol, min(width, height), f"{it.gt} ({width}x{height})")


def _batches(items: list[Item], batch_size: int):
    """Consecutive items of one bucket, at most batch_size each."""
    batch = []
    for it in items:
        if batch and (len(batch) == batch_size or batch[-1].bucket != it.bucket):
            yield batch
            batch = []
        batch.append(it)
    if batch:
        yield batch


def score(items: list[Item], evaluation: Evaluation, batch_size: int = 8,
          mask_threshold: float | None = None) -> None:
    """Feeds every matched (prediction, ground truth, mask) to the shared evaluation loop."""
    with progress(len(items), desc="scoring", unit="img") as bar:
        for batch in _batches(items, batch_size):
            preds, gts, masks = _load_batch(batch, mask_threshold)
            # Images of different sizes cannot be stacked; score those one by one.
            groups = [list(range(len(batch)))]
            if len({p.shape for p in preds}) > 1:
                groups = [[i] for i in range(len(batch))]
            for group in groups:
                evaluation.add(batch[0].bucket, torch.stack([preds[i] for i in group]),
                               torch.stack([gts[i] for i in group]), torch.stack([masks[i] for i in group]),
                               [batch[i].name for i in group], [batch[i].mask_name for i in group])
            bar.update(len(batch))


def summary_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_summary.csv")


def provenance_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_provenance.json")


def missing_note(missing: list[str], expected: int) -> str:
    """The summary rows' note (`train_note`, which the tables' footnotes repeat) of a result scored
    without some outputs; no ";" (it separates notes)."""
    return (f"missing_outputs: {len(missing)} of the {expected} outputs were missing and are not scored "
            f"(score --allow-missing): {_names(missing, limit=10)}")


def check_out(out: Path, force: bool) -> None:
    """--out names the per-image CSV; it and its summary may replace earlier results of this tool,
    never another file (a folder, or a file whose header is not ours) unless --force."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder: name the per-image CSV to write, e.g. {out / 'scores.csv'}")
    provenance = provenance_path(out)
    if provenance.is_dir() or (provenance.exists() and not force and not _is_our_provenance(provenance)):
        raise ValueError(f"{provenance} (the provenance of --out {out}) exists and is not one this tool wrote: "
                         f"choose another --out, or pass --force to replace it")
    for path, columns in ((out, per_image_columns()), (summary_path(out), SUMMARY_COLUMNS)):
        if path.is_dir():
            raise ValueError(f"{path} (the summary of --out {out}) is a folder; choose another --out")
        if path.exists() and not force:
            with open(path, encoding="utf-8-sig", errors="replace") as f:
                header = f.readline().strip().split(",")
            if header[:len(columns)] != columns:
                raise ValueError(f"{path} exists and is not a result file of this tool (its header is not "
                                 f"{','.join(columns)}...): choose another --out, or pass --force to replace it")


def _is_our_provenance(path: Path) -> bool:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("tool") == "score"


def score_outputs(pred: Path, gt: Path, masks: Path, out: Path, dataset: str = "external", variant: str | None = None,
                  seed: int = 0, protocol: str = "default", composite: bool | None = None, allow_missing: bool = False,
                  weights_dir=None, cache: Path | None = None, batch_size: int = 8, device: str = "cpu",
                  mask_threshold: float | None = None, force: bool = False) -> tuple[Evaluation, int]:
    """Scores the outputs in `pred` (the arguments of `inpaint-bench score`, module docstring) and writes
    `out`, its summary and its provenance; returns the evaluation and how many images it scored. Warnings
    (metrics not computed, test-set and colour checks, missing outputs) go to stderr."""
    if mask_threshold is not None and not 0.0 <= mask_threshold <= 1.0:
        raise ValueError(f"--mask-threshold {mask_threshold}: expected a value in [0, 1]")
    for name, folder in (("pred", pred), ("gt", gt), ("masks", masks)):
        if not folder.is_dir():
            raise FileNotFoundError(f"--{name} {folder}: no such folder")
    check_out(out, force)
    items, buckets, missing = pair_files(pred, gt, masks, allow_missing)
    if not items:
        raise ValueError(f"no prediction in {pred} matched a mask and a ground-truth image")
    check_sizes(items, protocol)
    suite = MetricSuite(weights_dir=weights_dir, device=device, feature_cache=cache, protocol=protocol)
    for hint in dict.fromkeys(suite.hints.values()):  # FID and KID share one file: warn once
        metrics = "/".join(m for m, h in suite.hints.items() if h == hint)
        print(f"warning: {metrics} not computed. {hint}", file=sys.stderr)
    note = missing_note(missing, len(items) + len(missing)) if missing else ""
    evaluation = Evaluation(suite, dataset, variant or pred.resolve().name, seed, train_note=note,
                            composite=composite)
    # Files are decoded and checked (image, mask, sizes, hole ratio) while scoring; the CSVs
    # are written only after every image passed, so an error leaves nothing behind.
    score(items, evaluation, batch_size, mask_threshold)
    for warning in evaluation.test_set_check() + evaluation.colour_check():
        print(f"warning: {warning}", file=sys.stderr)
    if missing:
        print(f"warning: {len(missing)} missing output(s) not scored (--allow-missing): {_names(missing)}",
              file=sys.stderr)
    evaluation.write(out, summary_path(out))
    # what these numbers were computed from and how, as an evaluation's provenance.json says
    atomic_write_text(provenance_path(out), json.dumps({
        "tool": "score", "pred": str(pred.resolve()), "gt": str(gt.resolve()),
        "masks": str(masks.resolve()), "protocol": evaluation.protocol, "composite": evaluation.composite,
        "scored": len(items), "missing": missing, "allow_missing": allow_missing}, indent=2))
    return evaluation, len(items)
