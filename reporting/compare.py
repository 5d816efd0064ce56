"""The paired analysis of any two result files: is B better than A, and by how much?

    inpaint-bench compare A.csv B.csv [--dataset NAME] [--a-variant V] [--b-variant V] \
        [--metrics psnr ssim ...] [--resamples 2000] [--level 0.95] [--seed 0] [--out diff.csv]

A and B are per-image or summary CSVs (of a workflow run, or what `metrics.score` writes for another
method's outputs); Δ = B − A per hole-ratio bucket and metric. Two per-image files are paired image
by image, with a bootstrap interval (`compare_per_image`); with a summary file, mean ± std over seeds
(`compare_summaries`). A file holding several runs needs --dataset and --a-variant / --b-variant.
Two sides scored on other test pairs (buckets, images, masks) are refused (--common-only: the pairs
both hold); what else differs (dataset, n) is said under the table, with every left-out row.
Prints a markdown table; `--out` also writes the rows as CSV (columns: docs/file-formats.md).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from inpaint_bench.harness.buckets import sort_bucket_names
from inpaint_bench.harness.metric_registry import per_image_metrics
from inpaint_bench.harness.names import NOT_COMPUTED, PSNR_CAP_DB, metric_format, protocol_line
from inpaint_bench.reporting.results import metric_order, read_per_image, read_summary, single_protocol
from inpaint_bench.reporting.stats import Bootstrap, image_cluster, mark, pair_rows, paired_interval, seed_spread

COLUMNS = ["bucket", "metric", "a_mean", "a_std", "b_mean", "b_std", "delta", "lo", "hi", "delta_std", "mark",
           "method", "level", "seeds", "n", "interval_note"]
TEST_PAIR = ["bucket", "image", "mask"]  # what both sides must have been scored on
ALL = "all"


def load(path: str | Path) -> tuple[str, pd.DataFrame]:
    """("per_image" | "summary", rows) of a result file, told apart by its columns."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        columns = pd.read_csv(path, nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err}); expected a per-image or summary file") from err
    if "image" in columns:
        return "per_image", read_per_image(path)
    if "metric" in columns:
        return "summary", read_summary(path)
    raise ValueError(f"{path}: neither a per-image file (with an 'image' column) nor a summary (with 'metric')")


def select(rows: pd.DataFrame, path, dataset: str | None, variant: str | None) -> pd.DataFrame:
    """The rows of one run (dataset and variant) of a file; ValueError when the file holds several
    and no choice narrows them to one."""
    if dataset is not None:
        rows = rows[rows["dataset"] == dataset]
    if variant is not None:
        rows = rows[rows["variant"] == variant]
    runs = list(dict.fromkeys(zip(rows["dataset"], rows["variant"])))
    if not runs:
        raise ValueError(f"{path}: no rows for dataset={dataset or 'any'}, variant={variant or 'any'}")
    if len(runs) > 1:
        names = ", ".join(f"{d}/{v}" for d, v in runs)
        raise ValueError(f"{path} holds several runs ({names}): choose one with --dataset and --a-variant/--b-variant")
    return rows


def _label(rows: pd.DataFrame) -> str:
    return f"{rows['dataset'].iloc[0]}/{rows['variant'].iloc[0]}"


def _per_image_means(rows: pd.DataFrame) -> pd.DataFrame:
    """A per-image frame reduced to summary rows (dataset, seed, bucket, metric, value, n)."""
    long = rows.melt(id_vars=["dataset", "seed", "bucket"], value_vars=per_image_metrics(), var_name="metric")
    return long.groupby(["dataset", "seed", "bucket", "metric"], as_index=False)["value"].agg(
        value="mean", n="count")


def _examples(pairs: set) -> str:
    shown = sorted(pairs)[:3]
    return ", ".join("/".join(map(str, p)) for p in shown) + (" ..." if len(pairs) > 3 else "")


def check_test_pairs(a: pd.DataFrame, b: pd.DataFrame, common_only: bool, warn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two per-image frames scored on the same test pairs (bucket, image, mask file): otherwise
    ValueError says what differs, or with `common_only` both are cut to the pairs they share and the
    warning counts what was left out."""
    in_a, in_b = set(map(tuple, a[TEST_PAIR].to_numpy())), set(map(tuple, b[TEST_PAIR].to_numpy()))
    if in_a == in_b:
        return a, b
    only_a, only_b = in_a - in_b, in_b - in_a
    what = "; ".join(part for part in (
        f"{len(only_a)} only in A ({_examples(only_a)})" if only_a else "",
        f"{len(only_b)} only in B ({_examples(only_b)})" if only_b else "") if part)
    if {p[:2] for p in only_a} == {p[:2] for p in only_b} and not in_a & in_b:
        # the same images in the same buckets, every mask named otherwise: an export whose manifest has
        # no `mask` column (older) names its copies after the images, not after the mask set's files
        what += (". Every image pairs by name but its mask is named otherwise: a side scored on an export "
                 "made before its manifest named the mask set's files (a `mask` column) records the copies' "
                 "names; export the pairs again and score them again")
    if not common_only or not in_a & in_b:
        raise ValueError(f"A and B were not scored on the same test pairs (bucket/image/mask): {what}. Compare "
                         f"results of one test set and mask set" + ("" if common_only else
                                                                   ", or pass --common-only to pair what both hold"))
    common = in_a & in_b
    warn(f"paired on the {len(common)} test pairs both files hold; left out: {what}")

    def shared(rows):
        return rows[[tuple(key) in common for key in rows[TEST_PAIR].to_numpy()]]
    return shared(a), shared(b)


def compare_per_image(a: pd.DataFrame, b: pd.DataFrame, metrics=None, bootstrap: Bootstrap | None = None,
                      warn=print, common_only: bool = False) -> pd.DataFrame:
    """Paired comparison of two per-image frames; rows COLUMNS, per bucket plus "all" (every bucket
    pooled). Both must hold the same test pairs (`check_test_pairs`). The rows are paired on (seed,
    bucket, image, mask), the seeds the two files share; when each file holds one seed and they differ
    (e.g. an external method scored once), on (bucket, image, mask). Paired rows must have the same
    hole ratio (the same mask), else it is an error. Δ gets the hierarchical paired bootstrap interval
    of `reporting.stats` (resample seeds, then images within each seed; in the "all" row each image
    is drawn with all its buckets, the independent unit) and a mark, better/worse, when
    the interval excludes 0 (by the metric's direction); too little evidence gives Δ alone, with the
    reason (`interval_note`). Pairs with a missing value are left out and counted in a warning."""
    bootstrap = bootstrap or Bootstrap()
    if a["dataset"].iloc[0] != b["dataset"].iloc[0]:
        warn(f"A is labelled dataset {a['dataset'].iloc[0]!r}, B {b['dataset'].iloc[0]!r}: paired on bucket, image "
             "and mask names; the comparison means something only if both are the same test images")
    a, b = check_test_pairs(a, b, common_only, warn)
    seeds_a, seeds_b = set(a["seed"]), set(b["seed"])
    common = seeds_a & seeds_b
    if common:
        if common != seeds_a | seeds_b:
            warn(f"pairing on the shared seed(s) {sorted(common)}; left out: {sorted((seeds_a | seeds_b) - common)}")
        a, b = a[a["seed"].isin(common)], b[b["seed"].isin(common)]
    elif len(seeds_a) == 1 and len(seeds_b) == 1:
        warn(f"the files hold different seeds ({seeds_a.pop()} and {seeds_b.pop()}): pairing by bucket, image "
             "and mask file name (hole ratios checked)")
        b = b.assign(seed=a["seed"].iloc[0])
    else:
        raise ValueError(f"no shared seed to pair on (A: {sorted(seeds_a)}, B: {sorted(seeds_b)})")
    wanted = metrics or per_image_metrics()
    out = []
    for metric in metric_order(wanted):
        if metric not in per_image_metrics():
            warn(f"{metric}: not a per-image metric, left out (compare summary files for it)")
            continue
        if a[metric].isna().all() or b[metric].isna().all():
            side, rows = ("A", a) if a[metric].isna().all() else ("B", b)
            why = NOT_COMPUTED.split(" (")[0] if metric in rows.attrs.get("not_computed", ()) else "no value"
            warn(f"{metric}: {why} in {side}, left out")
            continue
        pairs = pair_rows(a, b, metric)
        if pairs.attrs["unmatched"]:
            warn(f"{metric}: {pairs.attrs['unmatched']} row(s) without a partner left out")
        if pairs.attrs["not_finite"]:
            warn(f"{metric}: {pairs.attrs['not_finite']} pair(s) without a value in A or B left out (n counts the "
                 "pairs used)")
        if pairs.empty:
            raise ValueError(f"{metric}: no image of A pairs with one of B (same bucket, image and mask)")
        if metric == "psnr":
            capped = {side: int((pairs[column] >= PSNR_CAP_DB).sum()) for side, column in (("A", "base"),
                                                                                          ("B", "other"))}
            if any(capped.values()):
                warn(f"PSNR is capped at {PSNR_CAP_DB:g} dB per image (a hole filled exactly): "
                     + ", ".join(f"{side} {count} of {len(pairs)}" for side, count in capped.items()))
        buckets = sort_bucket_names(pairs["bucket"])
        for bucket in buckets + ([ALL] if len(buckets) > 1 else []):
            part = pairs if bucket == ALL else pairs[pairs["bucket"] == bucket]
            # an image in several buckets (pooled) or with several masks: resample it with all its pairs
            found = paired_interval(part, bootstrap, ("compare", bucket, metric), image_cluster(part))
            a_seed = part.groupby("seed")["base"].mean()
            b_seed = part.groupby("seed")["other"].mean()
            out.append({"bucket": bucket, "metric": metric, "a_mean": a_seed.mean(),
                        "a_std": a_seed.std(ddof=1) if len(a_seed) > 1 else math.nan,
                        "b_mean": b_seed.mean(), "b_std": b_seed.std(ddof=1) if len(b_seed) > 1 else math.nan,
                        "delta": found.estimate, "lo": found.lo, "hi": found.hi, "delta_std": math.nan,
                        "mark": mark(metric, found), "method": found.method,
                        "level": bootstrap.level if found.method == "bootstrap" else math.nan,
                        "seeds": found.seeds, "n": found.n, "interval_note": found.why})
    return pd.DataFrame(out, columns=COLUMNS)


def _seed_values(rows: pd.DataFrame, metric: str, bucket: str) -> pd.Series:
    part = rows[(rows["metric"] == metric) & (rows["bucket"] == bucket)].dropna(subset=["value"])
    return part.groupby("seed")["value"].mean()


def compare_summaries(a: pd.DataFrame, b: pd.DataFrame, metrics=None, warn=print) -> pd.DataFrame:
    """Mean ± std comparison of two summary frames (rows seed, bucket, metric, value, n): mean ± std
    over seeds of each side; Δ is the mean ± std over the shared seeds of the per-seed difference, or
    the plain difference of the means when they share no seed (method "none"). No interval, no mark: a
    summary has one number per (seed, bucket), nothing to resample, and no image names to check the
    two sides against: a bucket only one side has, or another number of images, is said (`warn`)."""
    out = []
    if "dataset" in a and "dataset" in b and set(a["dataset"]) != set(b["dataset"]):
        warn(f"A is dataset {', '.join(sorted(set(a['dataset'])))}, B {', '.join(sorted(set(b['dataset'])))}: "
             "not the same test images, so Δ compares two different things")
    one_side = set(a["bucket"]) ^ set(b["bucket"])
    if one_side:
        warn(f"bucket(s) {', '.join(sort_bucket_names(one_side))} in one file only: left out")
    if "n" in a and "n" in b:
        ns = {side: rows[rows["value"].notna()].groupby("bucket")["n"].max() for side, rows in (("A", a), ("B", b))}
        for bucket in sort_bucket_names(set(ns["A"].index) & set(ns["B"].index)):
            if ns["A"][bucket] != ns["B"][bucket]:
                warn(f"bucket {bucket}: A has n = {ns['A'][bucket]} images, B n = {ns['B'][bucket]}: not the same "
                     "test set")
    wanted = metric_order(metrics or set(a["metric"]) | set(b["metric"]))
    for metric in wanted:
        for bucket in sort_bucket_names(set(a["bucket"]) & set(b["bucket"])):
            sa, sb = _seed_values(a, metric, bucket), _seed_values(b, metric, bucket)
            if sa.empty or sb.empty:
                continue
            common = sa.index.intersection(sb.index)
            if len(common):
                found = seed_spread((sb[common] - sa[common]).to_numpy())
                delta, spread, method, seeds = found.estimate, found.std, found.method, found.seeds
            else:
                delta, spread, method, seeds = sb.mean() - sa.mean(), math.nan, "none", 0
            out.append({"bucket": bucket, "metric": metric, "a_mean": sa.mean(),
                        "a_std": sa.std(ddof=1) if len(sa) > 1 else math.nan, "b_mean": sb.mean(),
                        "b_std": sb.std(ddof=1) if len(sb) > 1 else math.nan, "delta": delta, "lo": math.nan,
                        "hi": math.nan, "delta_std": spread, "mark": "", "method": method, "level": math.nan,
                        "seeds": seeds, "n": seeds, "interval_note": ""})
    if not out:
        raise ValueError("the two files have no (bucket, metric) with a value in both")
    return pd.DataFrame(out, columns=COLUMNS)


def compare_files(path_a, path_b, dataset=None, a_variant=None, b_variant=None, metrics=None,
                  bootstrap: Bootstrap | None = None, warn=print, common_only: bool = False
                  ) -> tuple[pd.DataFrame, str, str]:
    """(rows, label of A, label of B) of the comparison of two files: `compare_per_image` for two
    per-image files, else `compare_summaries` (a per-image file reduced to its per-bucket means)."""
    kind_a, rows_a = load(path_a)
    kind_b, rows_b = load(path_b)
    rows_a, rows_b = select(rows_a, path_a, dataset, a_variant), select(rows_b, path_b, dataset, b_variant)
    protocols = single_protocol(rows_a, str(path_a)), single_protocol(rows_b, str(path_b))
    if protocols[0] != protocols[1]:
        raise ValueError(f"A ({path_a}) was scored under protocol {protocols[0]}, B ({path_b}) under "
                         f"{protocols[1]}: their numbers are not comparable; score both under one protocol "
                         f"(`inpaint-bench score --protocol`, `inpaint-bench evaluate --protocol`)")
    labels = _label(rows_a), _label(rows_b)
    if kind_a == kind_b == "per_image":
        rows = compare_per_image(rows_a, rows_b, metrics, bootstrap, warn, common_only)
    else:
        if kind_a == "per_image":
            rows_a = _per_image_means(rows_a)
        if kind_b == "per_image":
            rows_b = _per_image_means(rows_b)
        warn("a summary file has one number per seed and bucket: Δ is mean ± std over seeds, without an interval")
        rows = compare_summaries(rows_a, rows_b, metrics, warn)
    rows.attrs["protocol"] = protocols[0]
    return rows, *labels


def to_markdown(rows: pd.DataFrame, label_a: str, label_b: str, notes=()) -> str:
    """The comparison as a markdown table, then what it rests on: the notes given (what differs between
    the sides, what was left out) and how to read the columns."""
    def value(metric, mean, std):
        text = _fmt(metric, mean)
        return text + (f" ± {_fmt(metric, std)}" if math.isfinite(std) else "")

    lines = [f"Δ = B − A; A = {label_a}, B = {label_b}", "",
             "| Bucket | Metric | A | B | Δ | interval | mark | seeds | n |",
             "|:---|:---|---:|---:|---:|---:|:---|---:|---:|"]
    for _, r in rows.iterrows():
        metric = r["metric"]
        interval = (f"[{_fmt(metric, r['lo'], True)}, {_fmt(metric, r['hi'], True)}]" if r["method"] == "bootstrap"
                    else f"± {_fmt(metric, r['delta_std'])}" if math.isfinite(r["delta_std"]) else "")
        cells = [r["bucket"], metric_format(metric).table_label, value(metric, r["a_mean"], r["a_std"]),
                 value(metric, r["b_mean"], r["b_std"]), _fmt(metric, r["delta"], True), interval, r["mark"],
                 str(r["seeds"]), str(r["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    methods = set(rows["method"])
    notes = list(notes)
    for why, part in rows[rows["method"] == "paired"].groupby("interval_note", sort=False):
        cells = ", ".join(f"{metric_format(r['metric']).label} {r['bucket']}" for _, r in part.iterrows())
        notes.append(f"no interval and no mark, too little evidence ({why}): {cells}.")
    if "bootstrap" in methods:
        level = rows.loc[rows["method"] == "bootstrap", "level"].iloc[0]
        notes.append(f"interval: {level * 100:g}% hierarchical paired bootstrap (seeds, then images within seed"
                     + ("; the all row draws each image with all its buckets" if ALL in set(rows["bucket"]) else "")
                     + "); mark: the interval excludes 0 (better/worse by the metric's direction).")
    if methods & {"seeds", "none"}:
        notes.append("± : sample std over seeds (Δ: of the per-seed difference); method none: no shared seed, "
                     "Δ of the means.")
    if "l1" in set(rows["metric"]):
        notes.append("L1 in %.")
    if "protocol" in rows.attrs:
        notes.append(protocol_line(rows.attrs["protocol"]))
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


def _fmt(metric: str, value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "-"
    fmt = metric_format(metric)
    return f"{value * fmt.scale:{'+' if signed else ''}.{fmt.decimals}f}"
