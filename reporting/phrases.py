"""Words shared by the tables' footnotes, the plots' titles and the report's captions: the better
direction of a metric, how the seed spread is shown, what n is, the metrics not computed and the
training notes."""
from __future__ import annotations

import re

from inpaint_bench.harness.metric_registry import higher_is_better
from inpaint_bench.harness.names import (
    INFLUENCE_DB,
    MIN_SET_LEVEL_N,
    NEAR_CONSTANT_STD,
    PSNR_CAP_DB,
    metric_format,
)

NO_RESULT = "missing: no result"  # the note of a cell whose variant has no row for it
FEW_IMAGES_MARK = "†"  # a set-level metric's cell from fewer than MIN_SET_LEVEL_N images (few_images_line)
WEIGHTS_HINT = "`inpaint-bench weights check` says where to put it"


def arrow(metric: str) -> str:
    """"↑" or "↓": the better direction of a metric; "" when unknown."""
    return {True: "↑", False: "↓"}.get(higher_is_better(metric), "")


def seed_phrase(seeds: int) -> str:
    """How the spread over seeds is shown, for captions and footnotes."""
    if seeds <= 1:
        return "one seed: no seed spread (values are that seed's)"
    return f"mean ± sample std over {seeds} seeds"


def images_per_bucket(spec: dict) -> str:
    """What the config says about n, the test images per bucket and seed, for the report's captions
    (a dataset spec of the config): "16" for a mini dataset of 16 test crops, "at most 500" with
    max_test, else "every test image" (the tables' footnotes give the number found)."""
    if spec.get("test_count"):
        return str(spec["test_count"])
    if spec.get("max_test"):
        return f"at most {spec['max_test']}"
    return "every test image"


def _strip_tag(note: str) -> str:
    # Training notes start with a machine tag ("no_vgg: ..."); the reader needs only the text.
    return re.sub(r"^[a-z0-9_]+:\s*", "", note.strip())


def train_note_lines(train_notes: dict[str, str]) -> list[str]:
    """"v1, v2: note" for every distinct training note, variants in table order."""
    by_note: dict[str, list[str]] = {}
    for variant, joined in train_notes.items():
        for note in (n.strip() for n in joined.split(";")):
            if note:
                by_note.setdefault(_strip_tag(note), []).append(variant)
    return [f"{', '.join(dict.fromkeys(vs))}: {note}" for note, vs in by_note.items()]


def label_lines(labels: dict[str, str]) -> list[str]:
    """"v1, v2: label" for every distinct variant label (the config's `label:`), in table order."""
    by_label: dict[str, list[str]] = {}
    for variant, label in labels.items():
        by_label.setdefault(label, []).append(variant)
    return [f"{', '.join(vs)}: {label}" for label, vs in by_label.items()]


def missing_line(missing: dict[str, str]) -> str | None:
    """One footnote for the metrics not computed: which, and which file to provide."""
    if not missing:
        return None
    by_note: dict[str, list[str]] = {}
    for metric, note in missing.items():
        by_note.setdefault(note, []).append(metric_format(metric).label)
    parts = [f"{', '.join(labels)} ({note})" for note, labels in by_note.items()]
    files = [n for n in by_note if n.startswith("missing: ") and n != NO_RESULT]
    text = "Not computed, so not shown: " + "; ".join(parts) + "."
    if files:
        text += f" Provide the weight file named to get them ({WEIGHTS_HINT})."
    return text


# masks.pairing -> (what n counts, how the test images met the masks), for the tables' footnotes
PAIRING_PHRASES = {
    "cycle": ("test images", ", one mask each: image i meets mask i of the bucket, mod its mask count "
                             "(masks.pairing: cycle)"),
    "every_mask": ("image-mask pairs", ": every mask and every test image at least once, the shorter list "
                                       "cycled over the longer, so an image may meet several masks and is then "
                                       "resampled with all its pairs (masks.pairing: every_mask)"),
    "random_mask": ("test images", ", one mask each, drawn at random from the bucket (seeded by masks.seed; "
                                   "masks.pairing: random_mask)"),
}
UNKNOWN_PAIRING = ("test pairs (image, mask)", "")
ONE_MASK_EACH = ("test images", ", one mask each")  # pairing not known, but the per-image rows show it


def n_line(ns_by_bucket: dict[str, set], pairing: str | None = None, one_mask_each: bool = False) -> str:
    """The footnote saying n, the test pairs per bucket and seed (one number, or a range per bucket),
    and how the test images met the masks (masks.pairing; None: not known, then only what
    `one_mask_each` says: the per-image rows hold each image once per bucket and seed)."""
    unit, how = PAIRING_PHRASES.get(pairing, ONE_MASK_EACH if one_mask_each else UNKNOWN_PAIRING)
    all_n = sorted(set(n for ns in ns_by_bucket.values() for n in ns))
    if len(all_n) == 1:
        return f"n = {all_n[0]} {unit} per bucket and seed{how}."
    spans = [f"{b}: " + ("-" if not ns else str(min(ns)) if len(ns) == 1 else f"{min(ns)}-{max(ns)}")
             for b, ns in ns_by_bucket.items()]
    return f"n ({unit} per seed) per bucket: {'; '.join(spans)}{how}."


def near_constant_line(near_constant: dict[str, tuple[int, int]]) -> str | None:
    """The footnote counting the near-constant test images per bucket, when there are some (the
    evaluation log names them)."""
    if not near_constant:
        return None
    cells = "; ".join(f"{bucket}: {count} of {n}" for bucket, (count, n) in near_constant.items())
    return (f"Near-constant test images (pixel std < {NEAR_CONSTANT_STD:g} inside the hole: any fill reproduces "
            f"it almost exactly, so their PSNR is near-unbounded and weighs heavily on a mean in dB; named in the "
            f"evaluation logs), per bucket: {cells}.")


def influential_line(influential: dict[tuple[str, str], tuple[int, int, float]]) -> str | None:
    """The footnote of the PSNR means that a single image moves by more than INFLUENCE_DB, when some
    are: which cells, how many images, the largest shift."""
    if not influential:
        return None
    cells = "; ".join(f"{variant} {bucket}: {count} of {n} (up to {largest:.1f} dB)"
                      for (variant, bucket), (count, n, largest) in influential.items())
    return (f"PSNR means that one image moves by more than {INFLUENCE_DB:g} dB (the mean with it minus the mean "
            f"without it; a mean of dB is carried by its highest values; named in the evaluation logs), images "
            f"over all seeds: {cells}.")


def capped_line(capped: dict[tuple[str, str], tuple[int, int]]) -> str | None:
    """The footnote of the PSNR cap, when some image was capped: which cells, how many images."""
    if not capped:
        return None
    cells = "; ".join(f"{variant} {bucket}: {count} of {n}" for (variant, bucket), (count, n) in capped.items())
    return (f"PSNR is capped at {PSNR_CAP_DB:g} dB per image (a hole filled exactly has an infinite PSNR; "
            f"docs/protocols.md), images capped (over all seeds): {cells}.")


def few_images_line(few: dict[str, dict[str, int]]) -> str | None:
    """The footnote of the set-level metrics computed from fewer than MIN_SET_LEVEL_N images
    ({metric: {bucket: n}}), whose cells carry FEW_IMAGES_MARK."""
    if not few:
        return None
    labels = " and ".join(metric_format(m).label for m in few)
    ns = {}
    for buckets in few.values():
        ns.update(buckets)
    where = "; ".join(f"{bucket}: n = {n}" for bucket, n in ns.items())
    return (f"{FEW_IMAGES_MARK} {labels} from fewer than {MIN_SET_LEVEL_N} images per bucket ({where}): at this n "
            f"they lie far from their large-n values and vary from one set of images to another; they show "
            f"that the pipeline runs, not which row is better. Compare them only at equal n, never with "
            f"published values.")


def evidence_lines(attrs: dict) -> list[str]:
    """The footnotes both tables give on what their numbers rest on, from a table's attrs: the capped
    PSNR values, the near-constant test images, the means one image moves, the set-level metrics from
    too few images and the metrics not computed."""
    lines = (capped_line(attrs.get("capped", {})), near_constant_line(attrs.get("near_constant", {})),
             influential_line(attrs.get("influential", {})), few_images_line(attrs.get("few_images", {})),
             missing_line(attrs.get("missing", {})))
    return [line for line in lines if line]
