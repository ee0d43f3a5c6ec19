"""Pure metric functions of the benchmark: per-round scores, curve summaries, bootstrap.

All curve functions take the label counts (increasing) and the curve values on them.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid
from sklearn.utils import check_random_state


def preference_log_likelihood(y, proba_a):
    """Mean log probability of the true label (natural log).

    Parameters
    ----------
    y : array-like of shape (n,)
        0 when response_a was preferred, 1 otherwise.
    proba_a : array-like of shape (n,)
        Predicted P(response_a preferred).

    Returns
    -------
    log_likelihood : float
        ``mean(log p_true)``, probabilities clipped to [1e-12, 1].

    Examples
    --------
    >>> round(preference_log_likelihood([0, 1], [0.5, 0.5]), 4)
    -0.6931
    """
    y = np.asarray(y)
    proba_a = np.asarray(proba_a, dtype=np.float64)
    p_true = np.where(y == 0, proba_a, 1.0 - proba_a)
    return float(np.log(np.clip(p_true, 1e-12, 1.0)).mean())


def preference_accuracy(y, proba_a):
    """Share of pairs whose preferred response gets the higher probability (0.5 -> a).

    Parameters
    ----------
    y : array-like of shape (n,)
        Index of the preferred response.
    proba_a : array-like of shape (n,)
        Predicted P(response_a preferred).

    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> preference_accuracy([0, 1, 1], [0.9, 0.2, 0.6])
    0.6666666666666666
    """
    predicted = (np.asarray(proba_a) < 0.5).astype(int)
    return float((predicted == np.asarray(y)).mean())


def labels_to_reach(labels, curve, target):
    """First label count at which a curve reaches (>=) a target; None when it never does.

    Parameters
    ----------
    labels : array-like of shape (n_points,)
        Increasing label counts.
    curve : array-like of shape (n_points,)
        Metric values (higher is better) at those label counts.
    target : float
        The value to reach.

    Returns
    -------
    n_star : int or None

    Examples
    --------
    >>> labels_to_reach([10, 20, 30], [0.1, 0.5, 0.4], 0.45)
    20
    >>> labels_to_reach([10, 20], [0.1, 0.2], 0.3) is None
    True
    """
    reached = np.flatnonzero(np.asarray(curve, dtype=float) >= target)
    return None if reached.size == 0 else int(np.asarray(labels)[reached[0]])


def fraction_labels_saved(labels, curve, target):
    """The paper's headline: ``1 - n*/n_final``, n* the first label count reaching target.

    Parameters
    ----------
    labels : array-like of shape (n_points,)
        Increasing label counts; ``n_final = labels[-1]``.
    curve : array-like of shape (n_points,)
        The strategy's (mean) curve.
    target : float
        Random sampling's final mean value.

    Returns
    -------
    saved : float
        In [0, 1); ``-inf`` when the curve never reaches the target ("not reached").

    References
    ----------
    Melo, Tigas, Abate, Gal, "Deep Bayesian Active Learning for Preference Modeling in
    Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> fraction_labels_saved([100, 200, 300, 400], [0.1, 0.3, 0.5, 0.6], 0.5)
    0.25
    """
    n_star = labels_to_reach(labels, curve, target)
    return -np.inf if n_star is None else 1.0 - n_star / float(np.asarray(labels)[-1])


def normalised_area(labels, curve):
    """Area under a curve over the label range, divided by the range (a mean height).

    Parameters
    ----------
    labels : array-like of shape (n_points,)
        Increasing label counts (at least two distinct).
    curve : array-like of shape (n_points,)
        Values at those label counts.

    Returns
    -------
    area : float
        ``trapezoid(curve, labels) / (labels[-1] - labels[0])``.

    Examples
    --------
    >>> normalised_area([0, 10, 20], [0.0, 1.0, 1.0])
    0.75
    """
    labels = np.asarray(labels, dtype=float)
    if labels.size < 2 or labels[-1] <= labels[0]:
        raise ValueError(
            f"normalised_area needs at least two increasing label counts, got {labels}."
        )
    return float(trapezoid(np.asarray(curve, dtype=float), labels) / (labels[-1] - labels[0]))


def bootstrap_interval(statistic, n_seeds, *, n_boot=2000, confidence=0.95, random_state=0):
    """Percentile bootstrap over seeds of a statistic of a seed subset.

    Parameters
    ----------
    statistic : callable
        ``statistic(seed_indices)`` -> float, given an int array of seed positions
        (drawn with replacement, the same draw for every curve it uses: paired).
    n_seeds : int
        Number of seeds.
    n_boot : int, default=2000
        Number of bootstrap draws.
    confidence : float, default=0.95
        Coverage of the interval.
    random_state : int, RandomState instance or None, default=0
        Seed of the draws.

    Returns
    -------
    low, high : float
        Bounds (``method="lower"/"higher"`` quantiles, so ``-inf`` values — "not
        reached" — order below every number without interpolation).

    Examples
    --------
    >>> values = np.array([1.0, 2.0, 3.0])
    >>> low, high = bootstrap_interval(lambda idx: values[idx].mean(), 3)
    >>> 1.0 <= low <= 2.0 <= high <= 3.0
    True
    """
    rng = check_random_state(random_state)
    draws = np.array(
        [statistic(rng.randint(n_seeds, size=n_seeds)) for _ in range(n_boot)], dtype=float
    )
    alpha = (1.0 - confidence) / 2
    return (
        float(np.quantile(draws, alpha, method="lower")),
        float(np.quantile(draws, 1 - alpha, method="higher")),
    )


def curve_rise(curves, *, n_boot=2000, confidence=0.95, random_state=0):
    """How much curves rise from their first label count to their last, over seeds.

    The rule for "labels saved": it is defined only when the baseline's curve rises, that
    is when the lower end of this interval is above 0 (see :func:`summarize_results`).

    Parameters
    ----------
    curves : array-like of shape (n_seeds, n_points)
        One curve per seed on shared label counts (higher is better).
    n_boot : int, default=2000
        Bootstrap draws.
    confidence : float, default=0.95
        Coverage of the interval.
    random_state : int, RandomState instance or None, default=0
        Seed of the draws.

    Returns
    -------
    rise, low, high : float
        The mean over seeds of ``curve[-1] - curve[0]`` and its percentile bootstrap
        interval over seeds (:func:`bootstrap_interval`).

    Examples
    --------
    Both seeds rise by 0.05 and 0.07: the interval lies above 0.

    >>> rise, low, high = curve_rise([[-0.70, -0.65], [-0.71, -0.64]])
    >>> round(rise, 3), round(low, 3), round(high, 3)
    (0.06, 0.05, 0.07)
    """
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2 or curves.shape[1] < 2 or len(curves) == 0:
        raise ValueError(
            "curves must have shape (n_seeds, n_points) with at least one seed and two "
            f"points; got {curves.shape}."
        )
    rises = curves[:, -1] - curves[:, 0]
    low, high = bootstrap_interval(
        lambda idx: rises[idx].mean(),
        len(rises),
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
    )
    return float(rises.mean()), low, high


def _curves(results, strategy, metric):
    """Labels (n_points,) and per-seed curves (n_seeds, n_points), seeds sorted."""
    table = results[results["strategy"] == strategy].pivot_table(
        index="seed", columns="n_labels", values=metric
    )
    table = table.dropna(axis=1)  # only label counts every seed reached
    return table.columns.to_numpy(dtype=float), table.index.to_numpy(), table.to_numpy()


def _cost_per_round(results, strategy):
    """Mean seconds per round of fitting and of querying (where the table times them)."""
    rows = results[results["strategy"] == strategy]
    return {
        column: float(np.nanmean(rows[column])) if rows[column].notna().any() else np.nan
        for column in ("fit_seconds", "query_seconds")
        if column in results
    }


def summarize_results(results, *, baseline="random", n_boot=2000, random_state=0):
    """Headline table: labels saved vs the baseline and areas under the curves, with CIs.

    For each strategy: the final mean test log-likelihood and accuracy; the fraction of
    labels saved to reach the baseline's final mean test log-likelihood (from the mean
    curve over seeds); the normalised area under the log-likelihood and accuracy curves
    (mean over seeds); and the paired (by seed) difference of each area against the
    baseline's. Every figure has a percentile bootstrap interval over seeds (the same
    seed draw for the strategy and the baseline).

    Labels saved is defined only where the baseline's curve rises: the bootstrap interval
    (over seeds) of its mean rise in test log-likelihood from the first label count to the
    last (each seed's last value minus its first, :func:`curve_rise`) must lie above 0.
    On a flat or falling baseline its final value is no better than its first, so any
    strategy (the baseline itself included) would "save" labels by reaching it at once;
    there ``labels_saved`` and its interval are NaN ("undefined"). The baseline's rise
    and its interval are in the columns ``baseline_rise``, ``baseline_rise_low`` and
    ``baseline_rise_high``.

    Parameters
    ----------
    results : DataFrame
        The tidy table of :func:`~skbalpm.benchmark.run_benchmark` (columns strategy,
        seed, n_labels, test_log_likelihood, test_accuracy).
    baseline : str, default="random"
        Strategy whose final log-likelihood is the target; None or absent skips the
        "saved", "rise" and "difference" columns.
    n_boot : int, default=2000
        Bootstrap draws.
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    summary : DataFrame
        One row per strategy; ``labels_saved`` is ``-inf`` where the strategy never
        reaches the target, NaN where the target is undefined. Where ``results`` has the
        timing columns, ``fit_seconds`` and ``query_seconds`` are their means per round
        (the cost of the strategy's round; the last round makes no query).

    References
    ----------
    Melo, Tigas, Abate, Gal, "Deep Bayesian Active Learning for Preference Modeling in
    Large Language Models", arXiv:2406.10023, 2024 (the fraction of labels saved).

    B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall, 1993
    (percentile intervals).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [dict(strategy=s, seed=k, n_labels=n, test_log_likelihood=v, test_accuracy=0.5)
    ...         for s, vs in {"random": [-0.7, -0.6], "x": [-0.6, -0.5]}.items()
    ...         for k in (0, 1) for n, v in zip((10, 20), vs)]
    >>> float(summarize_results(pd.DataFrame(rows), n_boot=50).loc[1, "labels_saved"])
    0.5
    """
    import pandas as pd

    strategies = list(dict.fromkeys(results["strategy"]))
    has_baseline = baseline is not None and baseline in strategies
    if has_baseline:
        base_labels, base_seeds, base_ll = _curves(results, baseline, "test_log_likelihood")
        _, _, base_acc = _curves(results, baseline, "test_accuracy")
        base_rise = curve_rise(base_ll, n_boot=n_boot, random_state=random_state)
        saving_defined = base_rise[1] > 0
    rows = []
    for strategy in strategies:
        labels, seeds, ll = _curves(results, strategy, "test_log_likelihood")
        _, _, acc = _curves(results, strategy, "test_accuracy")
        row = {
            "strategy": strategy,
            "n_seeds": len(seeds),
            "final_labels": int(labels[-1]),
            "final_log_likelihood": float(ll[:, -1].mean()),
            "final_accuracy": float(acc[:, -1].mean()),
            **_cost_per_round(results, strategy),
        }
        for name, curves in (("log_likelihood", ll), ("accuracy", acc)):
            areas = np.array([normalised_area(labels, c) for c in curves])
            row[f"area_{name}"] = float(areas.mean())
            row[f"area_{name}_low"], row[f"area_{name}_high"] = bootstrap_interval(
                lambda idx, a=areas: a[idx].mean(),
                len(seeds),
                n_boot=n_boot,
                random_state=random_state,
            )
        if has_baseline:
            same = np.array_equal(seeds, base_seeds) and np.array_equal(labels, base_labels)
            if not same:
                raise ValueError(
                    f"Strategy {strategy!r} and the baseline {baseline!r} must share seeds "
                    f"and label counts to be compared; got seeds {seeds.tolist()} vs "
                    f"{base_seeds.tolist()}, labels {labels.tolist()} vs {base_labels.tolist()}."
                )

            def saved(idx, ll=ll, labels=labels):
                target = base_ll[idx, -1].mean()
                return fraction_labels_saved(labels, ll[idx].mean(axis=0), target)

            row["labels_saved"] = row["labels_saved_low"] = row["labels_saved_high"] = np.nan
            if saving_defined:
                row["labels_saved"] = saved(np.arange(len(seeds)))
                row["labels_saved_low"], row["labels_saved_high"] = bootstrap_interval(
                    saved, len(seeds), n_boot=n_boot, random_state=random_state
                )
            row["baseline_rise"], row["baseline_rise_low"], row["baseline_rise_high"] = base_rise
            for name, curves, base in (
                ("log_likelihood", ll, base_ll),
                ("accuracy", acc, base_acc),
            ):
                diffs = np.array(
                    [
                        normalised_area(labels, c) - normalised_area(labels, b)
                        for c, b in zip(curves, base, strict=True)
                    ]
                )
                key = f"area_{name}_diff"
                row[key] = float(diffs.mean())
                row[f"{key}_low"], row[f"{key}_high"] = bootstrap_interval(
                    lambda idx, d=diffs: d[idx].mean(),
                    len(seeds),
                    n_boot=n_boot,
                    random_state=random_state,
                )
        rows.append(row)
    return pd.DataFrame(rows)


def _format_interval(row, key, fmt=""):
    """``row[key]`` with its ``_low``/``_high`` interval; labels saved as signed percents
    ("not reached" where -inf, "undefined" where NaN)."""

    def saved(v):
        return "not reached" if np.isinf(v) else f"{v:+.0%}"

    low, high = row[f"{key}_low"], row[f"{key}_high"]
    if key == "labels_saved":
        if np.isnan(row[key]):
            return "undefined*"
        return f"{saved(row[key])} [{saved(low)}, {saved(high)}]"
    return f"{row[key]:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


LABELS_SAVED_UNDEFINED = "labels saved undefined: random's curve does not rise"


def labels_saved_note(summary):
    """Why labels saved is undefined in a summary, or None where it is defined.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarize_results`.

    Returns
    -------
    note : str or None
        One line naming the baseline's rise and its interval.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame([dict(labels_saved=float("nan"), baseline_rise=-0.01,
    ...                        baseline_rise_low=-0.02, baseline_rise_high=0.0)])
    >>> print(labels_saved_note(s))  # doctest: +ELLIPSIS
    * labels saved undefined: random's curve does not rise (... -0.0100 [-0.0200, +0.0000], ...)
    """
    if "baseline_rise" not in summary or not summary["labels_saved"].isna().any():
        return None
    row = summary.iloc[0]
    return (
        f"* {LABELS_SAVED_UNDEFINED} (last minus first test LL "
        f"{row['baseline_rise']:+.4f} [{row['baseline_rise_low']:+.4f}, "
        f"{row['baseline_rise_high']:+.4f}], 95% CI over seeds not above 0)"
    )


def format_summary(summary):
    """The summary table as aligned text ("not reached" for ``-inf`` labels saved,
    "undefined" with a note below the table where random's curve does not rise).

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarize_results`.

    Returns
    -------
    text : str

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame([dict(strategy="x", n_seeds=2, final_labels=20,
    ...     final_log_likelihood=-0.5, final_accuracy=0.8, area_log_likelihood=-0.6,
    ...     area_log_likelihood_low=-0.7, area_log_likelihood_high=-0.5,
    ...     area_accuracy=0.7, area_accuracy_low=0.6, area_accuracy_high=0.8)])
    >>> "x" in format_summary(s)
    True
    """

    header = ["strategy", "final LL", "final acc", "AUC LL [95% CI]"]
    has_cost = "query_seconds" in summary
    has_baseline = "labels_saved" in summary
    if has_baseline:
        header += ["labels saved [95% CI]", "AUC LL - random [95% CI]", "AUC acc - random [95% CI]"]
    if has_cost:
        header.append("query s/round")
    lines = []
    for _, row in summary.iterrows():
        cells = [
            row["strategy"],
            f"{row['final_log_likelihood']:.4f}",
            f"{row['final_accuracy']:.3f}",
            _format_interval(row, "area_log_likelihood", ".4f"),
        ]
        if has_baseline:
            cells += [
                _format_interval(row, "labels_saved", ""),
                _format_interval(row, "area_log_likelihood_diff", "+.4f"),
                _format_interval(row, "area_accuracy_diff", "+.4f"),
            ]
        if has_cost:
            cells.append(f"{row['query_seconds']:.3g}")
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    note = labels_saved_note(summary) if has_baseline else None
    table = [fmt.format(*header), *(fmt.format(*cells) for cells in lines)]
    return "\n".join(table + ([note] if note else []))
