"""Learning-curve figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skbalpm.benchmark._checkpoint import replacing

METRIC_LABELS = {
    "test_log_likelihood": "test log-likelihood (mean log p of the true label)",
    "test_accuracy": "test accuracy",
}


def learning_curve_table(results, metric):
    """Mean and standard error over seeds of a metric, per strategy and label count.

    Parameters
    ----------
    results : DataFrame
        The tidy results table (columns strategy, seed, n_labels and ``metric``).
    metric : str
        Column to summarise.

    Returns
    -------
    curves : DataFrame
        Columns strategy, n_labels, mean, sem, n_seeds (sem = std / sqrt(n_seeds), 0 for
        one seed).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame(dict(strategy="s", seed=[0, 1], n_labels=10, m=[1.0, 3.0]))
    >>> learning_curve_table(r, "m")[["mean", "sem"]].values.tolist()
    [[2.0, 1.0]]
    """
    grouped = results.groupby(["strategy", "n_labels"], sort=False)[metric]
    table = grouped.agg(mean="mean", std="std", n_seeds="count").reset_index()
    table["sem"] = (table["std"] / np.sqrt(table["n_seeds"])).fillna(0.0)
    return table.drop(columns="std")


def _line_style(strategy, k, colours):
    """Random in black (the baseline to read the others against); the others in turn from
    ``colours``, with a new dash pattern each time the colours run out."""
    if strategy == "random":
        return {"color": "black", "marker": "o", "markersize": 3, "linewidth": 1.8}
    dashes = ("-", "--", ":", "-.")
    return {
        "color": colours[k % len(colours)],
        "linestyle": dashes[(k // len(colours)) % len(dashes)],
        "marker": "o",
        "markersize": 3,
    }


def plot_learning_curves(results, output_dir, *, reference_lines=None, title=None, notes=None):
    """One PNG and one SVG per metric: mean curve and a +-1 standard-error band over seeds.

    Parameters
    ----------
    results : DataFrame
        The tidy results table of :func:`~skbalpm.benchmark.run_benchmark`.
    output_dir : str or Path
        Where ``learning_curve_<metric>.png`` / ``.svg`` go (created if needed).
    reference_lines : dict or None
        ``{metric: {label: value}}`` horizontal lines (e.g. the full-pool ceiling).
    title : str or None
        Figure title (e.g. the data set).
    notes : dict or None
        ``{metric: text}`` written under that metric's figure (e.g. why labels saved is
        undefined).

    Returns
    -------
    paths : list of Path
        The files written.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> r = pd.DataFrame(dict(strategy="s", seed=0, n_labels=[10, 20],
    ...                       test_log_likelihood=[-0.7, -0.6], test_accuracy=[0.5, 0.6]))
    >>> [p.suffix for p in plot_learning_curves(r, tempfile.mkdtemp())]
    ['.png', '.svg', '.png', '.svg']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric, axis_label in METRIC_LABELS.items():
        curves = learning_curve_table(results, metric)
        n_strategies = curves["strategy"].nunique()
        crowded = n_strategies > 5  # the legend goes beside the axes, colours from tab20
        fig, ax = plt.subplots(figsize=(9.6 if crowded else 6.4, 4.2))
        colours = plt.get_cmap("tab20" if crowded else "tab10").colors
        for k, (strategy, curve) in enumerate(curves.groupby("strategy", sort=False)):
            x, mean, sem = curve["n_labels"], curve["mean"], curve["sem"]
            (line,) = ax.plot(x, mean, label=strategy, **_line_style(strategy, k, colours))
            ax.fill_between(
                x, mean - sem, mean + sem, color=line.get_color(), alpha=0.08 if crowded else 0.2
            )
        for label, value in ((reference_lines or {}).get(metric) or {}).items():
            ax.axhline(value, linestyle="--", color="grey", linewidth=1)
            ax.annotate(
                label,
                (0.01, value),
                xycoords=("axes fraction", "data"),
                va="bottom",
                fontsize=8,
                color="grey",
            )
        n_seeds = int(curves["n_seeds"].max())
        ax.set_xlabel("labelled pairs")
        ax.set_ylabel(axis_label)
        ax.set_title(title or f"mean over {n_seeds} seeds, band = +-1 s.e.")
        if crowded:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        else:
            ax.legend()
        ax.grid(alpha=0.3)
        note = (notes or {}).get(metric)
        if note:
            fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=8, color="dimgrey")
        fig.tight_layout(rect=(0, 0.04, 1, 1) if note else None)
        for suffix in (".png", ".svg"):
            path = output_dir / f"learning_curve_{metric}{suffix}"
            with replacing(path) as tmp:  # a killed run leaves no half-drawn file
                fig.savefig(tmp, dpi=120, format=suffix[1:])
            paths.append(path)
        plt.close(fig)
    return paths
