"""Metric curves, paired differences, training losses and a qualitative grid for one dataset
(matplotlib, Agg).

    inpaint-bench plots --summary results/summary.csv --dataset NAME --out-dir results/plots \
        [--variants v1 v2 ...] [--ablation results/tables/NAME_ablation.csv] \
        [--log VARIANT=PATH ...] [--samples VARIANT=DIR ...] [--seed 0] [--provenance EVAL/provenance.json ...]

Every file read is passed in, so the Snakemake rule declares them all; one passed but absent is an
error. Writes `<dataset>_{metrics,paired,loss,qualitative}.png` atomically, one figure builder each
(its docstring says what it shows); a variant has the same colour in every panel and figure.
"""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: jobs run on nodes without a display

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from inpaint_bench.harness.buckets import Bucket, sort_bucket_names
from inpaint_bench.harness.fileio import atomic_write_bytes
from inpaint_bench.harness.metric_registry import higher_is_better
from inpaint_bench.harness.names import collapsed_points, metric_format
from inpaint_bench.harness.paths import plot_name
from inpaint_bench.reporting.budget import budget_headline
from inpaint_bench.reporting.phrases import arrow, seed_phrase
from inpaint_bench.reporting.render import shown
from inpaint_bench.reporting.results import metric_order, missing_metrics, read_summary, select_variants

NOT_LOSS_TERMS = {"step", "phase", "lr", "seconds"}


def _colours(variants) -> dict[str, str]:
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {v: cycle[i % len(cycle)] for i, v in enumerate(variants)}


def _markers(variants) -> dict[str, str]:
    # A marker per variant too, so lines that coincide stay distinguishable.
    shapes = "osD^vP*X"
    return {v: shapes[i % len(shapes)] for i, v in enumerate(variants)}


def _legend(fig: Figure, variants, colours, dashed=()) -> None:
    markers = _markers(colours)
    handles = [Line2D([], [], color=colours[v], label=v, **({"linestyle": "--"} if v in dashed else
                                                            {"marker": markers[v]}))
               for v in variants]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), frameon=False)


def _grid(fig: Figure, count: int, max_cols: int = 3):
    cols = min(count, max_cols)
    rows = math.ceil(count / cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.remove()  # unused cells of the grid
    return axes[:count]


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def _seed(seed) -> str:
    """" (seed 0)", " (seeds 0, 1, 2)" or "" for the titles."""
    if seed is None:
        return ""
    if isinstance(seed, (list, tuple)):
        if not seed:
            return ""
        return f" (seed {seed[0]})" if len(seed) == 1 else f" (seeds {', '.join(map(str, seed))})"
    return f" (seed {seed})"


def _per_variant(paths: dict, variants, what: str) -> dict[str, Path]:
    """The given paths in variant order; a path for a variant that is not plotted is a mistake."""
    extra = [v for v in paths if v not in variants]
    if extra:
        raise ValueError(f"{what} given for variant(s) {', '.join(extra)}, which are not plotted "
                         f"(variants: {', '.join(variants)})")
    return {v: Path(paths[v]) for v in variants if v in paths}


# ----------------------------------------------------------------------------------------------
# Metrics against hole ratio


def _bucket_positions(buckets) -> tuple[dict[str, float], str]:
    """Mid hole ratio on x; plain positions if some bucket name is not "lo-hi"."""
    try:
        return {b: Bucket.parse(b).mid for b in buckets}, "hole ratio (bucket middle)"
    except ValueError:
        return {b: float(i) for i, b in enumerate(buckets)}, "bucket"


def _not_computed(missing: dict[str, str]) -> str:
    """"\nnot computed: LPIPS (missing: <file>); FID, KID (missing: <file>)" for a figure's title."""
    if not missing:
        return ""
    by_note: dict[str, list[str]] = {}
    for metric, note in missing.items():
        by_note.setdefault(note, []).append(metric_format(metric).label)
    return "\nnot computed: " + "; ".join(f"{', '.join(m)} ({note})" for note, m in by_note.items())


def metrics_figure(summary: pd.DataFrame, dataset: str, variants=None) -> Figure:
    """One panel per metric that has a value: the mean over seeds against the bucket's mid hole
    ratio, one line per variant (default order: first appearance in the summary), a band of ± one
    sample std over seeds when there are several (the title says which). Metrics not computed take
    no panel: the title names them and the missing file; variants missing from a panel that others
    have are named under its x axis. Labels come from `harness.metric_registry`, as in the tables."""
    variants = select_variants(summary, dataset, variants)
    rows = summary[(summary["dataset"] == dataset) & summary["variant"].isin(variants)]
    buckets = sort_bucket_names(rows["bucket"])
    xs, xlabel = _bucket_positions(buckets)
    missing = missing_metrics(rows)
    metrics = [m for m in metric_order(rows["metric"]) if m not in missing]
    colours, markers = _colours(variants), _markers(variants)
    seeds = rows[rows["value"].notna()].groupby(["variant", "bucket", "metric"])["seed"].nunique()
    most = int(seeds.max()) if len(seeds) else 0
    spread = "band = ± one sample std over seeds" if most > 1 else "no band"

    count = max(len(metrics), 1)
    fig = Figure(figsize=(4.2 * min(count, 3), 3.3 * math.ceil(count / 3) + 0.9), layout="constrained")
    fig.suptitle(f"{dataset}: metrics per hole-ratio bucket ({seed_phrase(most)}; {spread})"
                 + _not_computed(missing), fontsize=10)
    axes = _grid(fig, count)
    if not metrics:
        _message(axes[0], "no metric has a value\n" + "\n".join(dict.fromkeys(missing.values())))
        return fig
    for ax, metric in zip(axes, metrics):
        part = rows[rows["metric"] == metric]
        ax.set_title(f"{metric_format(metric).plot_label} {arrow(metric)}".rstrip())
        valued = part[part["value"].notna()]
        stats = valued.groupby(["variant", "bucket"])["value"].agg(["mean", "std", "count"])
        absent = []
        for variant in variants:
            if variant not in stats.index.get_level_values("variant"):
                notes = [n for n in part[part["variant"] == variant]["note"] if n]
                absent.append(f"{variant} ({notes[0] if notes else 'no result'})")
                continue
            s = stats.loc[variant].reindex(buckets).dropna(subset=["mean"])
            x, mean = [xs[b] for b in s.index], s["mean"].to_numpy()
            ax.plot(x, mean, color=colours[variant], marker=markers[variant], markersize=4, label=variant)
            std = s["std"].where(s["count"] > 1).to_numpy(dtype=float)
            if np.isfinite(std).any():
                std = np.nan_to_num(std)
                ax.fill_between(x, mean - std, mean + std, color=colours[variant], alpha=0.15, linewidth=0)
        ax.set_xticks([xs[b] for b in buckets], buckets, rotation=30 if len(buckets) > 4 else 0, fontsize=8)
        # Variants without a value here are named under the axis (the layout makes room for labels).
        ax.set_xlabel(xlabel + ("\nnot shown: " + "\n".join(absent) if absent else ""), fontsize=9)
        ax.grid(alpha=0.3)
    _legend(fig, variants, colours)
    return fig


# ----------------------------------------------------------------------------------------------
# Paired differences to the baseline row


def read_ablation(path: str | Path) -> pd.DataFrame:
    """The ablation table's csv (`reporting.ablation`), checked; errors name the file."""
    from inpaint_bench.reporting.ablation import COLUMNS

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ablation table")
    try:
        frame = pd.read_csv(path, keep_default_na=False,
                            na_values={c: ["", "nan", "NaN"] for c in ("mean", "std", "delta", "lo", "hi", "delta_std",
                                                                       "level")},
                            dtype={c: str for c in ("dataset", "metric", "bucket", "variant", "baseline_row", "mark",
                                                    "method", "note", "interval_note")})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({err})") from err
    absent = [c for c in COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(f"{path}: missing column(s) {', '.join(absent)} (an ablation table has {', '.join(COLUMNS)})")
    return frame


def paired_figure(ablation: pd.DataFrame, dataset: str, variants=None, classical=()) -> Figure:
    """Δ to the baseline row per bucket with intervals, one panel per metric that has a difference:
    each variant's difference with its interval (bootstrap; a filled marker when it excludes 0) or
    ± std over seeds (FID/KID), a line at 0. `ablation`: the ablation table's rows (`read_ablation`).
    The `classical` rows are drawn as dashed classical lines that do not set the scale: their
    differences (several dB) would flatten every learned row's at 0; one off the scale is named
    under the axis with its range."""
    rows = ablation[ablation["dataset"] == dataset]
    if rows.empty:
        raise ValueError(f"no ablation rows for dataset {dataset!r}")
    variants = list(variants or dict.fromkeys(rows["variant"]))
    baseline_row = rows["baseline_row"].iloc[0]
    colours, markers = _colours(variants), _markers(variants)
    others = [v for v in variants if v != baseline_row and v in set(rows["variant"])]
    diffs = rows[(rows["variant"].isin(others)) & rows["delta"].notna()]
    metrics = [m for m in metric_order(rows["metric"]) if m in set(diffs["metric"])]
    buckets = sort_bucket_names(rows["bucket"])
    xs, xlabel = _bucket_positions(buckets)
    gap = min(np.diff(sorted(xs.values()))) if len(xs) > 1 else 1.0
    offsets = {v: (i - (len(others) - 1) / 2) * gap * 0.6 / max(len(others), 1) for i, v in enumerate(others)}

    count = max(len(metrics), 1)
    fig = Figure(figsize=(4.2 * min(count, 3), 3.3 * math.ceil(count / 3) + 1.0), layout="constrained")
    methods = set(diffs["method"])
    how = []
    if "bootstrap" in methods:
        level = diffs.loc[diffs["method"] == "bootstrap", "level"].astype(float).max()
        level = f"{level * 100:g}% " if np.isfinite(level) else ""
        how.append(f"bars = {level}hierarchical paired bootstrap interval, filled = excludes 0")
    if methods & {"seeds", "none"}:
        how.append("FID/KID bars = ± std over seeds")
    if "paired" in methods:
        how.append("no bar = no interval, too little evidence (the table's footnote)")
    lines = [v for v in others if v in set(classical)]
    if len(lines) == len(others):
        lines = []  # classical rows alone: they set the scale themselves
    if lines:
        how.append("dashed = classical rows, lines that do not set the scale")
    fig.suptitle(f"{dataset}: difference to {baseline_row} per hole-ratio bucket\n"
                 f"({'; '.join(how) or 'no difference'})", fontsize=10)
    axes = _grid(fig, count)
    if not metrics:
        _message(axes[0], f"nothing to compare: no variant besides {baseline_row} has a value")
        return fig
    for ax, metric in zip(axes, metrics):
        fmt = metric_format(metric)
        ax.set_title(f"Δ {fmt.plot_label} {arrow(metric)}".rstrip())
        ax.axhline(0, color="0.3", linewidth=0.8)
        scale = [0.0]  # the values that set the y axis: 0 and the learned rows' differences and bars
        for variant in others:
            part = diffs[(diffs["variant"] == variant) & (diffs["metric"] == metric)]
            part = part.set_index("bucket").reindex([b for b in buckets if b in set(part["bucket"])])
            if part.empty:
                continue
            x = np.array([xs[b] for b in part.index]) + offsets[variant]
            y = part["delta"].to_numpy(dtype=float)
            if variant in lines:
                ax.plot(x - offsets[variant], y, color=colours[variant], linestyle="--", linewidth=1)
                continue
            # per bucket: the interval (bootstrap), ± std over seeds (seeds), or no bar (paired, none)
            boot = (part["method"] == "bootstrap").to_numpy()
            std = np.nan_to_num(part["delta_std"].to_numpy(dtype=float))
            err = np.vstack([np.where(boot, y - part["lo"].to_numpy(dtype=float), std),
                             np.where(boot, part["hi"].to_numpy(dtype=float) - y, std)])
            ax.errorbar(x, y, yerr=err, color=colours[variant], linestyle="none", capsize=2, linewidth=1)
            marked = (part["mark"] != "").to_numpy()
            ax.scatter(x[marked], y[marked], color=colours[variant], marker=markers[variant], s=28, zorder=3)
            ax.scatter(x[~marked], y[~marked], facecolors="white", edgecolors=colours[variant],
                       marker=markers[variant], s=28, zorder=3)
            scale += [*(y - err[0]), *(y + err[1])]
        off = _set_scale(ax, metric, scale, diffs[diffs["metric"] == metric], lines) if len(scale) > 1 else []
        ax.set_xticks([xs[b] for b in buckets], buckets, rotation=30 if len(buckets) > 4 else 0, fontsize=8)
        ax.set_xlabel(xlabel + ("\noff the scale: " + "\n".join(off) if off else ""), fontsize=9)
        ax.set_ylabel(f"Δ to {baseline_row}", fontsize=9)
        ax.grid(alpha=0.3)
    _legend(fig, others, colours, dashed=lines)
    return fig


def _set_scale(ax, metric: str, values: list, rows: pd.DataFrame, lines: list) -> list[str]:
    """Sets the y axis to `values` (with a margin) and returns "row (lo to hi)" for each classical
    line (`lines`) that goes beyond it."""
    values = np.array(values, dtype=float)
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1e-3) * 0.5
    ax.set_ylim(lo - pad, hi + pad)
    off = []
    for variant in lines:
        y = rows.loc[rows["variant"] == variant, "delta"].to_numpy(dtype=float)
        if len(y) and (y.min() < lo - pad or y.max() > hi + pad):
            off.append(f"{variant} ({shown(metric, y.min(), True)} to {shown(metric, y.max(), True)})")
    return off


# ----------------------------------------------------------------------------------------------
# Training losses


def read_train_log(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such training log")
    try:
        log = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable training log ({err})") from err
    if "step" not in log.columns or "total" not in log.columns:
        raise ValueError(f"{path}: training log needs 'step' and 'total' columns")
    return log


def _log_paths(train_logs: dict, variants) -> dict[str, list[Path]]:
    """{variant: [train_log.csv, ...]} (one per seed) from {variant: path or list of paths}."""
    extra = [v for v in train_logs if v not in variants]
    if extra:
        raise ValueError(f"training log given for variant(s) {', '.join(extra)}, which are not plotted "
                         f"(variants: {', '.join(variants)})")
    out = {}
    for v in variants:
        if v in train_logs:
            given = train_logs[v]
            paths = [given] if isinstance(given, (str, Path)) else list(given)
            if paths:
                out[v] = [Path(p) for p in paths]
    return out


def _seed_curves(logs: list[pd.DataFrame], term: str) -> pd.DataFrame | None:
    """Columns mean, lo, hi of a loss term over the seeds' logs, indexed by step (steps every log has)."""
    series = [log.set_index("step")[term].astype(float) for log in logs
              if term in log.columns and not log[term].isna().all()]
    if not series:
        return None
    series = [s[~s.index.duplicated(keep="last")] for s in series]
    table = pd.concat(series, axis=1, join="inner")
    return pd.DataFrame({"mean": table.mean(axis=1), "lo": table.min(axis=1), "hi": table.max(axis=1),
                         "count": table.notna().sum(axis=1)})


def loss_figure(train_logs: dict, dataset: str, variants, seed=None) -> Figure:
    """Curves from exactly the logs given ({variant: train_log.csv or [one per seed]}); other variants
    have none and are named in the title. Total loss against step, then one panel per loss term
    present in any log. Several logs of a variant: the mean over them, a band from the lowest to the
    highest. Log y scale when every plotted value is positive; a dashed line marks the start of
    fine-tuning."""
    paths = _log_paths(train_logs, variants)
    logs = {v: [read_train_log(p) for p in ps] for v, ps in paths.items()}
    without = [v for v in variants if v not in logs]
    # Loss terms: every numeric column except bookkeeping, "total" first, then in log order.
    terms = ["total"]
    for runs in logs.values():
        for log in runs:
            for column in log.columns:
                if column not in NOT_LOSS_TERMS and column not in terms and pd.api.types.is_numeric_dtype(log[column]):
                    terms.append(column)
    terms = [t for t in terms if t == "total" or any(_seed_curves(runs, t) is not None for runs in logs.values())]
    colours, markers = _colours(variants), _markers(variants)
    several = max((len(runs) for runs in logs.values()), default=0)
    how = f"; line = mean over {several} seeds' logs, band = lowest to highest" if several > 1 else ""

    fig = Figure(figsize=(4.2 * min(len(terms), 3), 3.2 * math.ceil(len(terms) / 3) + 0.7), layout="constrained")
    fig.suptitle(f"{dataset}: training losses{_seed(seed)}{how}"
                 + (f"\nno training log: {', '.join(without)}" if without and logs else ""), fontsize=10)
    axes = _grid(fig, len(terms))
    if not logs:
        _message(axes[0], "no train_log.csv for any variant\n(classical variants are not trained)")
        return fig
    for ax, term in zip(axes, terms):
        ax.set_title("total loss" if term == "total" else term)
        values = []
        for variant, runs in logs.items():
            curve = _seed_curves(runs, term)
            if curve is None or curve.empty:
                continue
            x = curve.index.to_numpy()
            ax.plot(x, curve["mean"], color=colours[variant], marker=markers[variant] if len(curve) < 3 else None,
                    linewidth=1.2, label=variant)
            values.append(curve["mean"].to_numpy()[np.isfinite(curve["mean"].to_numpy())])
            if len(runs) > 1:
                ax.fill_between(x, curve["lo"], curve["hi"], color=colours[variant], alpha=0.15, linewidth=0)
                values.append(curve["lo"].to_numpy()[np.isfinite(curve["lo"].to_numpy())])
            log = runs[0]
            if "phase" in log.columns and (log["phase"] == "finetune").any():
                ax.axvline(log.loc[log["phase"] == "finetune", "step"].iloc[0], color=colours[variant],
                           linestyle="--", linewidth=0.8, alpha=0.7)
        allv = np.concatenate(values) if values else np.array([])
        if allv.size and (allv > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if any("phase" in runs[0].columns and (runs[0]["phase"] == "finetune").any() for runs in logs.values()):
        axes[0].text(0.99, 0.98, "dashed: fine-tuning starts", ha="right", va="top", fontsize=7,
                     transform=axes[0].transAxes)
    _legend(fig, list(logs), colours)
    return fig


# ----------------------------------------------------------------------------------------------
# Validation curves

VALIDATION_METRICS = ("psnr", "ssim", "l1")


def _validation_means(path: Path) -> pd.DataFrame:
    """step x metric: the mean over buckets of one validation.csv."""
    frame = pd.read_csv(path)
    return frame.groupby(["step", "metric"])["value"].mean().unstack("metric")


def validation_figure(runs: dict, classical: dict, images_per_step: dict, dataset: str, order=None) -> Figure:
    """One panel per metric (mean over buckets) against training images seen: a line per learned row
    (mean over its seeds' validation.csv, band = lowest to highest) and a horizontal line per classical
    row ({variant: validation.csv} scored once). `runs` maps a variant to its seeds' files, and
    `images_per_step` a variant to its batch size. `order`: every row in the order the other figures
    get (the config's), so that a row has their colour here too; default: learned rows, then classical."""
    curves = {v: [_validation_means(Path(p)) for p in ps] for v, ps in runs.items()}
    curves = {v: c for v, c in curves.items() if any(not x.empty for x in c)}
    flat = {v: _validation_means(Path(p)) for v, p in classical.items()}
    flat = {v: means for v, means in flat.items() if not means.empty}  # validation off: nothing scored
    variants = list(curves) + list(flat)
    colours = _colours(list(dict.fromkeys([*(order or []), *variants])))
    several = max((len(c) for c in curves.values()), default=0)
    how = f"; line = mean over {several} seeds, band = lowest to highest" if several > 1 else ""
    fig = Figure(figsize=(4.2 * len(VALIDATION_METRICS), 3.6), layout="constrained")
    axes = _grid(fig, len(VALIDATION_METRICS))
    if not curves:
        _message(axes[0], "no validation.csv with scores\n(train.validation.every is 0)")
    collapsed = 0
    for ax, metric in zip(axes, VALIDATION_METRICS):
        ax.set_title(f"{metric.upper() if metric != 'l1' else 'L1'} {arrow(metric)}")
        points = []  # (variant, x, y) of every point of a line
        for variant, seeds in curves.items():
            table = pd.concat([c[metric].rename(i) for i, c in enumerate(seeds)], axis=1)
            x = table.index.to_numpy() * images_per_step[variant]
            ax.plot(x, table.mean(axis=1), color=colours[variant], linewidth=1.2, label=variant,
                    marker="o" if len(table) < 3 else None)
            if table.shape[1] > 1:
                ax.fill_between(x, table.min(axis=1), table.max(axis=1), color=colours[variant], alpha=0.15,
                                linewidth=0)
            points += [(variant, float(a), float(b)) for a, b in zip(x, table.mean(axis=1))]
        for variant, values in flat.items():
            ax.axhline(float(values[metric].iloc[0]), color=colours[variant], linestyle="--", linewidth=1.0,
                       label=variant)
        collapsed += _mark_collapsed(ax, metric, points, [float(v[metric].iloc[0]) for v in flat.values()],
                                     colours)
        ax.set_xlabel("training images seen")
        ax.grid(alpha=0.3)
    marked = ("; ▼/▲ at an axis' edge: a collapsed point, far outside the others, with its value"
              if collapsed else "")
    fig.suptitle(f"{dataset}: validation split held out from the training images, mean over buckets{how};"
                 f"\nhorizontal lines: classical rows on the same split{marked}", fontsize=10)
    _legend(fig, variants, colours)
    return fig


def _mark_collapsed(ax, metric: str, points: list, classical: list[float], colours: dict) -> int:
    """Keeps a panel's axis to the bulk of its points: a collapsed point (harness.names.collapsed_points,
    judged among the lines' points and the classical rows) is drawn as a marker at the axis' edge with
    its value, instead of setting the scale that flattens every other line. Returns how many."""
    values = [y for _, _, y in points] + classical
    flags = collapsed_points(values, higher_is_better(metric))[:len(points)]  # a classical line stays in view
    kept = [v for v, flag in zip(values, flags + [False] * len(classical)) if not flag and math.isfinite(v)]
    if not any(flags) or not kept:
        return 0
    low, high = min(kept), max(kept)
    pad = 0.1 * (high - low) or 0.05 * abs(high) or 1.0
    low, high = low - pad, high + pad
    ax.set_ylim(low, high)
    for (variant, x, y), flag in zip(points, flags):
        if flag:
            below = y < low
            edge = low if below else high
            ax.plot([x], [edge], marker="v" if below else "^", markersize=8, color=colours[variant],
                    linestyle="none", clip_on=False, zorder=5)
            ax.annotate(f"{y:.4g}", (x, edge), textcoords="offset points", xytext=(0, 7 if below else -13),
                        ha="center", fontsize=7, color=colours[variant])
    return sum(flags)


# ----------------------------------------------------------------------------------------------
# Qualitative grid


def _sample_rows(samples: dict[str, Path], max_rows: int):
    """[(bucket, image, folder holding its input/gt)]: one row per bucket, the k-th bucket showing
    the k-th kept test image (cycling), so the rows show different images, not one image k times."""
    found = {}
    for folder in samples.values():
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such samples folder")
        for bucket_dir in folder.iterdir():
            inputs = sorted(bucket_dir.glob("*_input.png")) if bucket_dir.is_dir() else []
            if inputs and bucket_dir.name not in found:
                found[bucket_dir.name] = ([p.name[: -len("_input.png")] for p in inputs], bucket_dir)
    buckets = sort_bucket_names(found)
    if len(buckets) > max_rows:  # spread the rows over the hole-ratio range
        buckets = [buckets[i] for i in np.linspace(0, len(buckets) - 1, max_rows).round().astype(int)]
    rows = []
    for k, bucket in enumerate(buckets):
        images, folder = found[bucket]
        rows.append((bucket, images[k % len(images)], folder))
    return rows


def _read_rgb(path: Path | None) -> np.ndarray | None:
    if path is None or not path.is_file():
        return None
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _show(ax, image: np.ndarray | None, shape) -> None:
    if image is None:
        # A white tile of the row's size keeps the grid aligned.
        ax.imshow(np.full(shape, 255, dtype=np.uint8))
        ax.text(0.5, 0.5, "no sample", ha="center", va="center", fontsize=8, transform=ax.transAxes)
    else:
        ax.imshow(image)
    # Keep the axes (for the row label), no ticks; a thin frame keeps white holes visible.
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.5)
        spine.set_color("0.6")


def qualitative_figure(samples: dict, dataset: str, variants, seed: int | None = None,
                       max_rows: int = 6) -> Figure:
    """Images from exactly the folders given ({variant: eval/samples folder}); other variants show none.
    Rows: one sample image per bucket, a different one per row (at most `max_rows` buckets, spread
    over the range); columns: masked input, each variant's composite, ground truth. `seed` (the run
    the samples come from) only goes into the title."""
    samples = _per_variant(samples, variants, "samples folder")
    rows = _sample_rows(samples, max_rows)
    columns = ["masked input", *variants, "ground truth"]
    if not rows:
        fig = Figure(figsize=(5, 2), layout="constrained")
        where = "\n".join(map(str, samples.values())) or "(no samples folder given)"
        _message(fig.subplots(), f"{dataset}: no sample images in\n{where}")
        return fig
    fig = Figure(figsize=(1.9 * len(columns), 1.9 * len(rows) + 0.5), layout="constrained")
    fig.suptitle(f"{dataset}: qualitative comparison{_seed(seed)}")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (bucket, image, folder) in enumerate(rows):
        paths = [folder / f"{image}_input.png"]
        paths += [samples[v] / bucket / f"{image}_output.png" if v in samples else None for v in variants]
        paths.append(folder / f"{image}_gt.png")
        images = [_read_rgb(path) for path in paths]
        shape = next(im.shape for im in images if im is not None)  # the input exists: the row was found by it
        for c, picture in enumerate(images):
            _show(axes[r, c], picture, shape)
            if r == 0:
                axes[r, c].set_title(columns[c], fontsize=9)
        axes[r, 0].set_ylabel(f"hole {bucket}\n{image}", fontsize=8)
    return fig


# ----------------------------------------------------------------------------------------------


def with_budget(fig: Figure, budgets: dict, variants) -> Figure:
    """`fig` with a last title line saying how long its rows trained (reporting.budget), wrapped to
    the figure's width."""
    width = max(int(fig.get_figwidth() * 14), 40)  # characters of a 10-point title per inch, about
    line = textwrap.fill(budget_headline(budgets, variants), width, break_on_hyphens=False)
    title = fig.get_suptitle()
    fig.suptitle(f"{title}\n{line}" if title else line, fontsize=10)
    return fig


def write_plots(summary_path: str | Path, dataset: str, variants: list[str] | None, out_dir: str | Path,
                train_logs: dict, samples: dict, seed=None, ablation_path: str | Path | None = None,
                seeds=None, budgets: dict | None = None) -> dict[str, Path]:
    """Writes the PNGs from the files given; returns their paths by kind (metrics, paired when
    `ablation_path` is given, loss, qualitative). train_logs: {variant: train_log.csv or a list, one
    per seed}, samples: {variant: eval/samples folder of run `seed`}; `seeds`: the seeds of the
    training logs, for the loss figure's title (default: `seed`). `budgets` (`read_budgets`: how long
    each row trained) go into every title, and the classical rows among them are the paired plot's
    dashed lines; None: no budget line."""
    summary = read_summary(summary_path)
    variants = select_variants(summary, dataset, variants)
    classical = [v for v, seeds_of in (budgets or {}).items()
                 if all(b["kind"] == "classical" for b in seeds_of.values())]
    out_dir = Path(out_dir)
    figures = {"metrics": metrics_figure(summary, dataset, variants)}
    if ablation_path is not None:
        figures["paired"] = paired_figure(read_ablation(ablation_path), dataset, variants, classical)
    figures["loss"] = loss_figure(train_logs, dataset, variants, seed if seeds is None else seeds)
    figures["qualitative"] = qualitative_figure(samples, dataset, variants, seed)
    return {kind: save_figure(fig if budgets is None else with_budget(fig, budgets, variants),
                              out_dir / plot_name(dataset, kind),
                              dpi=150 if kind == "qualitative" else 120)
            for kind, fig in figures.items()}
