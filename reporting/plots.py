"""Metric curves, training losses and a qualitative grid for one dataset (matplotlib, Agg).

    python -m reporting.plots --summary results/summary.csv --dataset NAME --out-dir results/plots \
        [--variants v1 v2 ...] [--log VARIANT=PATH ...] [--samples VARIANT=DIR ...] [--seed 0]

Every file read is passed in: the summary, each variant's `train_log.csv` (`--log`) and each
variant's `eval/samples` folder (`--samples`), so the Snakemake rule can declare them all as inputs.
A variant without `--log` has no training curve, one without `--samples` no images; a file passed
but absent is an error. `--seed` (the run those files come from) only goes into the titles.

Writes (atomically) into out-dir:
- `<dataset>_metrics.png`: one panel per metric in the summary, value (mean over seeds, bars = sample
  std when several seeds) against the bucket's mid hole ratio, one line per variant. A metric
  without any value gets a panel with its note ("missing: <file>"); variants missing from a
  panel that others have are named under its x axis.
- `<dataset>_loss.png`: total training loss against step for every variant with a training log,
  then one panel per loss term present in any log. Log y scale when every plotted value is
  positive; a dashed line marks the start of fine-tuning. Variants without a log (classical rows)
  are named in the title.
- `<dataset>_qualitative.png`: rows = one sample image per bucket, a different one per row (at most
  `max_rows` buckets, spread over the range), columns = masked input, each variant's composite,
  ground truth.

Variants keep the `--variants` order (default: first appearance in the summary); a variant has the
same colour in every panel. Labels come from `metrics.names.METRIC_FORMATS` (as in the tables).
The figure builders (`metrics_figure`, `loss_figure`, `qualitative_figure`) return matplotlib
Figures, `write_plots` saves all three.
"""
from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: jobs run on nodes without a display

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from harness.buckets import Bucket, sort_bucket_names
from harness.fileio import atomic_write_bytes
from harness.paths import plot_name
from metrics.names import metric_format
from reporting import arrow, metric_order, read_summary, select_variants

NOT_LOSS_TERMS = {"step", "phase", "lr", "seconds"}


def _colours(variants) -> dict[str, str]:
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {v: cycle[i % len(cycle)] for i, v in enumerate(variants)}


def _markers(variants) -> dict[str, str]:
    # A marker per variant too, so lines that coincide stay distinguishable.
    shapes = "osD^vP*X"
    return {v: shapes[i % len(shapes)] for i, v in enumerate(variants)}


def _legend(fig: Figure, variants, colours) -> None:
    markers = _markers(colours)
    handles = [Line2D([], [], color=colours[v], marker=markers[v], label=v) for v in variants]
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


def _seed(seed: int | None) -> str:
    return "" if seed is None else f" (seed {seed})"


def _per_variant(paths: dict, variants, what: str) -> dict[str, Path]:
    """The given paths in variant order; a path for a variant that is not plotted is a mistake."""
    extra = [v for v in paths if v not in variants]
    if extra:
        raise ValueError(f"{what} given for variant(s) {', '.join(extra)}, which are not plotted "
                         f"(variants: {', '.join(variants)})")
    return {v: Path(paths[v]) for v in variants if v in paths}


# ----------------------------------------------------------------------------------------------
# Metrics against hole ratio


def metrics_figure(summary: pd.DataFrame, dataset: str, variants=None) -> Figure:
    variants = select_variants(summary, dataset, variants)
    rows = summary[(summary["dataset"] == dataset) & summary["variant"].isin(variants)]
    buckets = sort_bucket_names(rows["bucket"])
    # Mid hole ratio on x; plain positions if some bucket name is not "lo-hi".
    try:
        xs = {b: Bucket.parse(b).mid for b in buckets}
        xlabel = "hole ratio (bucket middle)"
    except ValueError:
        xs = {b: float(i) for i, b in enumerate(buckets)}
        xlabel = "bucket"
    metrics = metric_order(rows["metric"])
    colours, markers = _colours(variants), _markers(variants)

    fig = Figure(figsize=(4.2 * min(len(metrics), 3), 3.3 * math.ceil(len(metrics) / 3) + 0.6),
                 layout="constrained")
    fig.suptitle(f"{dataset}: metrics per hole-ratio bucket")
    for ax, metric in zip(_grid(fig, len(metrics)), metrics):
        part = rows[rows["metric"] == metric]
        ax.set_title(f"{metric_format(metric).plot_label} {arrow(metric)}".rstrip())
        valued = part[part["value"].notna()]
        if valued.empty:
            notes = list(dict.fromkeys(n for n in part["note"] if n)) or ["missing"]
            _message(ax, "\n".join(notes))
            continue
        stats = valued.groupby(["variant", "bucket"])["value"].agg(["mean", "std", "count"])
        absent = []
        for variant in variants:
            if variant not in stats.index.get_level_values("variant"):
                notes = [n for n in part[part["variant"] == variant]["note"] if n]
                absent.append(f"{variant} ({notes[0] if notes else 'no result'})")
                continue
            s = stats.loc[variant].reindex(buckets).dropna(subset=["mean"])
            err = s["std"].where(s["count"] > 1).fillna(0).to_numpy()
            ax.errorbar([xs[b] for b in s.index], s["mean"].to_numpy(), yerr=err if err.any() else None,
                        color=colours[variant], marker=markers[variant], capsize=3, label=variant)
        ax.set_xticks([xs[b] for b in buckets], buckets, rotation=30 if len(buckets) > 4 else 0, fontsize=8)
        # Variants without a value here are named under the axis (the layout makes room for labels).
        ax.set_xlabel(xlabel + ("\nnot shown: " + "\n".join(absent) if absent else ""), fontsize=9)
        ax.grid(alpha=0.3)
    _legend(fig, variants, colours)
    return fig


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


def loss_figure(train_logs: dict, dataset: str, variants, seed: int | None = None) -> Figure:
    """Curves from exactly the logs given ({variant: train_log.csv}); other variants have none."""
    train_logs = _per_variant(train_logs, variants, "training log")
    logs = {v: read_train_log(path) for v, path in train_logs.items()}
    without = [v for v in variants if v not in logs]
    # Loss terms: every numeric column except bookkeeping, "total" first, then in log order.
    terms = ["total"]
    for log in logs.values():
        for column in log.columns:
            if column not in NOT_LOSS_TERMS and column not in terms and pd.api.types.is_numeric_dtype(log[column]):
                terms.append(column)
    colours, markers = _colours(variants), _markers(variants)

    fig = Figure(figsize=(4.2 * min(len(terms), 3), 3.2 * math.ceil(len(terms) / 3) + 0.6), layout="constrained")
    fig.suptitle(f"{dataset}: training losses{_seed(seed)}"
                 + (f"\nno training log: {', '.join(without)}" if without and logs else ""))
    axes = _grid(fig, len(terms))
    if not logs:
        _message(axes[0], "no train_log.csv for any variant\n(classical variants are not trained)")
        return fig
    for ax, term in zip(axes, terms):
        ax.set_title("total loss" if term == "total" else term)
        values = []
        for variant, log in logs.items():
            if term not in log.columns or log[term].isna().all():
                continue
            y = log[term].to_numpy(dtype=float)
            ax.plot(log["step"], y, color=colours[variant], marker=markers[variant] if len(log) < 3 else None,
                    linewidth=1.2, label=variant)
            values.append(y[np.isfinite(y)])
            if "phase" in log.columns and (log["phase"] == "finetune").any():
                ax.axvline(log.loc[log["phase"] == "finetune", "step"].iloc[0], color=colours[variant],
                           linestyle="--", linewidth=0.8, alpha=0.7)
        allv = np.concatenate(values) if values else np.array([])
        if allv.size and (allv > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if any("phase" in log.columns and (log["phase"] == "finetune").any() for log in logs.values()):
        axes[0].text(0.99, 0.98, "dashed: fine-tuning starts", ha="right", va="top", fontsize=7,
                     transform=axes[0].transAxes)
    _legend(fig, list(logs), colours)
    return fig


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
    """Images from exactly the folders given ({variant: eval/samples folder}); other variants show none."""
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


def write_plots(summary_path: str | Path, dataset: str, variants: list[str] | None, out_dir: str | Path,
                train_logs: dict, samples: dict, seed: int | None = None) -> dict[str, Path]:
    """Writes the three PNGs from the files given; returns their paths by kind (metrics, loss,
    qualitative). train_logs: {variant: train_log.csv}, samples: {variant: eval/samples folder}."""
    summary = read_summary(summary_path)
    variants = select_variants(summary, dataset, variants)
    out_dir = Path(out_dir)
    return {
        "metrics": save_figure(metrics_figure(summary, dataset, variants), out_dir / plot_name(dataset, "metrics")),
        "loss": save_figure(loss_figure(train_logs, dataset, variants, seed), out_dir / plot_name(dataset, "loss")),
        "qualitative": save_figure(qualitative_figure(samples, dataset, variants, seed),
                                   out_dir / plot_name(dataset, "qualitative"), dpi=150),
    }


def _variant_paths(p: argparse.ArgumentParser, items, flag: str) -> dict[str, str]:
    """{variant: path} from VARIANT=PATH arguments."""
    paths = {}
    for item in items or []:
        variant, sep, path = item.partition("=")
        if not sep or not variant or not path:
            p.error(f"{flag} {item}: expected VARIANT=PATH")
        if variant in paths:
            p.error(f"{flag}: variant {variant} given twice")
        paths[variant] = path
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", required=True, help="combined long-format summary (reporting.aggregate)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", nargs="+", help="variant order (default: first appearance in the summary)")
    p.add_argument("--log", action="append", metavar="VARIANT=PATH", help="a variant's train_log.csv (repeat)")
    p.add_argument("--samples", action="append", metavar="VARIANT=DIR",
                   help="a variant's eval/samples folder (repeat)")
    p.add_argument("--seed", type=int, help="the run the logs and samples come from, shown in the titles")
    args = p.parse_args(argv)
    logs, samples = _variant_paths(p, args.log, "--log"), _variant_paths(p, args.samples, "--samples")
    try:
        paths = write_plots(args.summary, args.dataset, args.variants, args.out_dir, logs, samples, args.seed)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    main()
