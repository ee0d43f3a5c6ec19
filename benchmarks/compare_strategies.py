"""Every strategy across every data set: the tables and the plot of "which strategy when".

Run: ``python benchmarks/compare_strategies.py`` after ``run_label_efficiency.py --suite
strategies`` has filled ``docs/benchmarks/<name>/``. Reads each folder's ``results.csv``,
summarizes it again with :func:`skbalpm.benchmark.summarize_results` (2,000 bootstrap
resamples over seeds, paired with random) and writes, for the strategies of the suite:

* ``docs/benchmarks/strategy_comparison.csv``: per strategy, the area under the test
  log-likelihood curve minus random's, with its 95% interval, on each data set; the mean
  rank by that area over the data sets (1 = best); on how many data sets the interval lies
  above 0 (better than random) and below 0 (worse); and the median query seconds per round;
* ``docs/benchmarks/strategy_labels_saved.csv``: the labels saved against random, with
  their intervals, on each data set;
* ``docs/benchmarks/strategy_comparison.png`` (and ``.svg``): the first table as a plot,
  one panel per data set.

A data set enters when its folder holds random and at least two other strategies of the
suite; a strategy missing on a data set shows "–" there and is ranked on the others.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from run_label_efficiency import SUITES

from skbalpm.benchmark import summarize_results
from skbalpm.benchmark._metrics import _format_interval

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "docs" / "benchmarks"


def suite_strategies():
    return SUITES["strategies"].split(",")


def read_summaries(root, strategies):
    """``{data set: summary DataFrame}`` of the folders that hold random and two others."""
    summaries = {}
    for results in sorted(Path(root).glob("*/results.csv")):
        frame = pd.read_csv(results)
        frame = frame[frame["strategy"].isin(strategies)]
        held = set(frame["strategy"])
        if "random" not in held or len(held) < 3:
            continue
        summary = summarize_results(frame)
        summaries[results.parent.name] = summary.set_index("strategy")
    return summaries


def comparison_table(summaries, strategies):
    """The rows of ``strategy_comparison.csv`` (strategies by mean rank, best first)."""
    names = list(summaries)
    ranks = {
        name: s["area_log_likelihood_diff"].rank(ascending=False) for name, s in summaries.items()
    }
    rows = []
    for strategy in strategies:
        held = [n for n in names if strategy in summaries[n].index]
        if not held:
            continue
        lows = [summaries[n].loc[strategy, "area_log_likelihood_diff_low"] for n in held]
        highs = [summaries[n].loc[strategy, "area_log_likelihood_diff_high"] for n in held]
        seconds = [summaries[n].loc[strategy].get("query_seconds", math.nan) for n in held]
        row = {
            "strategy": strategy,
            "mean rank": np.mean([ranks[n][strategy] for n in held]),
            "better than random": sum(low > 0 for low in lows),
            "worse than random": sum(high < 0 for high in highs),
            "query s / round": float(np.nanmedian(seconds)),
        }
        for name in names:
            if strategy in summaries[name].index:
                row[name] = _format_interval(
                    summaries[name].loc[strategy], "area_log_likelihood_diff", "+.4f"
                )
            else:
                row[name] = "–"
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("mean rank", kind="stable")
    table["mean rank"] = table["mean rank"].map(lambda v: f"{v:.1f}")
    table["query s / round"] = table["query s / round"].map(lambda v: f"{v:.3g}")
    return table


def labels_saved_table(summaries, strategies):
    """The rows of ``strategy_labels_saved.csv`` ("undefined" where random's curve is flat)."""
    rows = []
    for strategy in strategies:
        row = {"strategy": strategy}
        for name, summary in summaries.items():
            if strategy not in summary.index:
                row[name] = "–"
            elif np.isnan(summary.loc[strategy, "labels_saved"]):
                row[name] = "undefined"
            else:
                row[name] = _format_interval(summary.loc[strategy], "labels_saved")
        rows.append(row)
    return pd.DataFrame(rows)


def plot(summaries, order, path):
    """One panel per data set: each strategy's area difference with its interval."""
    n = len(summaries)
    fig, axes = plt.subplots(
        1, n, figsize=(max(6.0, 2.6 * n + 1.5), 0.32 * len(order) + 1.5), sharey=True
    )
    axes = np.atleast_1d(axes)
    y = np.arange(len(order))[::-1]
    for ax, (name, summary) in zip(axes, summaries.items(), strict=True):
        for yi, strategy in zip(y, order, strict=True):
            if strategy not in summary.index:
                continue
            row = summary.loc[strategy]
            value = row["area_log_likelihood_diff"]
            low, high = row["area_log_likelihood_diff_low"], row["area_log_likelihood_diff_high"]
            color = "tab:green" if low > 0 else "tab:red" if high < 0 else "tab:gray"
            ax.errorbar(value, yi, xerr=[[value - low], [high - value]], fmt="o", color=color, ms=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, order, fontsize=8)
    fig.supxlabel(
        "area under the test log-likelihood curve minus random's (95% interval)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=130)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(BENCHMARKS), help="folder of the benchmark runs")
    args = parser.parse_args(argv)
    root = Path(args.root)
    strategies = suite_strategies()
    summaries = read_summaries(root, strategies)
    if not summaries:
        raise SystemExit(f"no benchmark folder under {root} holds random and two other strategies")
    table = comparison_table(summaries, strategies)
    table.to_csv(root / "strategy_comparison.csv", index=False)
    order = list(table["strategy"])
    labels_saved_table(summaries, order).to_csv(root / "strategy_labels_saved.csv", index=False)
    plot(summaries, order, root / "strategy_comparison.png")
    print(table.to_string(index=False))
    print(f"data sets: {', '.join(summaries)}; written to {root}")


if __name__ == "__main__":
    main()
