"""Hand-checked tests of the benchmark's pure metric functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skbalpm.benchmark import (
    bootstrap_interval,
    curve_rise,
    format_summary,
    fraction_labels_saved,
    labels_to_reach,
    learning_curve_table,
    normalised_area,
    preference_accuracy,
    preference_log_likelihood,
    summarize_results,
)


def test_log_likelihood_and_accuracy_by_hand():
    y = [0, 1, 0]
    p = [0.8, 0.25, 0.5]
    expected = (np.log(0.8) + np.log(0.75) + np.log(0.5)) / 3
    assert preference_log_likelihood(y, p) == pytest.approx(expected)
    assert preference_accuracy(y, p) == pytest.approx(1.0)  # 0.5 counts as "a"
    assert preference_log_likelihood([1], [1.0]) == pytest.approx(np.log(1e-12))


def test_labels_saved_on_an_obvious_curve():
    labels = [100, 200, 300, 400, 500]
    random_curve = [-0.69, -0.65, -0.62, -0.60, -0.58]
    fast_curve = [-0.69, -0.60, -0.57, -0.55, -0.54]
    # random's final value -0.58 is first reached at 300 labels: 1 - 300/500 = 0.4
    assert labels_to_reach(labels, fast_curve, random_curve[-1]) == 300
    assert fraction_labels_saved(labels, fast_curve, random_curve[-1]) == pytest.approx(0.4)
    # random reaches its own final value only at the end
    assert fraction_labels_saved(labels, random_curve, random_curve[-1]) == 0.0
    slow_curve = [-0.69, -0.68, -0.67, -0.66, -0.65]
    assert fraction_labels_saved(labels, slow_curve, random_curve[-1]) == -np.inf


def test_normalised_area_by_hand():
    # trapezoids: (0+1)/2*10 + (1+1)/2*10 = 15; range 20 -> 0.75
    assert normalised_area([0, 10, 20], [0.0, 1.0, 1.0]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="two increasing"):
        normalised_area([5], [1.0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=8), st.floats(-5, 5))
def test_area_of_a_constant_plus_curve_shifts_by_the_constant(values, c):
    labels = np.arange(len(values)) * 7.0 + 3
    shifted = normalised_area(labels, np.asarray(values) + c)
    assert shifted == pytest.approx(normalised_area(labels, values) + c, abs=1e-9)
    assert min(values) - 1e-9 <= normalised_area(labels, values) <= max(values) + 1e-9


def test_bootstrap_interval_of_constant_and_of_spread():
    assert bootstrap_interval(lambda idx: 3.0, 5) == (3.0, 3.0)
    values = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    low, high = bootstrap_interval(lambda idx: values[idx].mean(), 5, n_boot=500)
    assert 0 <= low < 20 < high <= 40


def _results(curves_by_strategy, labels=(10, 20, 30, 40)):
    rows = []
    for strategy, per_seed in curves_by_strategy.items():
        for seed, curve in enumerate(per_seed):
            for n, v in zip(labels, curve, strict=True):
                rows.append(
                    dict(
                        strategy=strategy,
                        seed=seed,
                        n_labels=n,
                        test_log_likelihood=v,
                        test_accuracy=0.5 + v / 10,
                    )
                )
    return pd.DataFrame(rows)


def test_summary_paired_difference_and_labels_saved():
    base = [[-0.7, -0.65, -0.6, -0.55], [-0.72, -0.66, -0.62, -0.57]]
    better = [[c + 0.05 for c in curve] for curve in base]
    table = summarize_results(_results({"random": base, "better": better}), n_boot=200)
    row = table.set_index("strategy").loc["better"]
    # paired difference is exactly +0.05 in every seed -> the interval collapses
    assert row["area_log_likelihood_diff"] == pytest.approx(0.05)
    assert row["area_log_likelihood_diff_low"] == pytest.approx(0.05)
    assert row["area_log_likelihood_diff_high"] == pytest.approx(0.05)
    # random's final mean is -0.56; better's mean curve is (-0.66, -0.605, -0.56, -0.51):
    # reached at 30 labels -> 1 - 30/40 = 0.25
    assert row["labels_saved"] == pytest.approx(0.25)
    assert table.set_index("strategy").loc["random", "labels_saved"] == 0.0
    text = format_summary(table)
    assert "better" in text and "+25%" in text


def test_summary_reports_not_reached():
    base = [[-0.7, -0.6, -0.5, -0.4]] * 2
    worse = [[-0.7, -0.7, -0.7, -0.7]] * 2
    table = summarize_results(_results({"random": base, "worse": worse}), n_boot=50)
    assert table.set_index("strategy").loc["worse", "labels_saved"] == -np.inf
    assert "not reached" in format_summary(table)


def test_summary_reports_the_cost_per_round():
    results = _results({"random": [[-0.7, -0.6]] * 2, "x": [[-0.7, -0.5]] * 2}, labels=(10, 20))
    # per run: a query after round 0, none after the last round (NaN)
    results["query_seconds"] = np.where(
        results["n_labels"] == results["n_labels"].max(), np.nan, 0.0
    )
    results.loc[(results["strategy"] == "x") & (results["seed"] == 0), "query_seconds"] = [
        0.1,
        np.nan,
    ]
    results.loc[(results["strategy"] == "x") & (results["seed"] == 1), "query_seconds"] = [
        0.3,
        np.nan,
    ]
    table = summarize_results(results, n_boot=20).set_index("strategy")
    assert table.loc["x", "query_seconds"] == pytest.approx(0.2)
    assert table.loc["random", "query_seconds"] == 0.0
    assert "fit_seconds" not in table  # only the columns the results hold
    assert "query s/round" in format_summary(table.reset_index())


def test_summary_rejects_unpaired_seeds():
    results = _results({"random": [[-0.7] * 4] * 2, "x": [[-0.6] * 4] * 3})
    with pytest.raises(ValueError, match="share seeds"):
        summarize_results(results, n_boot=10)


def test_learning_curve_table_by_hand():
    results = _results({"s": [[1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.0, 0.0]]})
    table = learning_curve_table(results, "test_log_likelihood")
    assert table["mean"].tolist() == [2.0, 2.0, 2.0, 2.0]
    # std of (1, 3) is sqrt(2); sem = sqrt(2)/sqrt(2) = 1
    assert table["sem"].iloc[0] == pytest.approx(1.0)


def test_curve_rise_by_hand():
    # rises 0.05 and 0.07: resampled means 0.05, 0.06, 0.07 with chances 1/4, 1/2, 1/4
    rise, low, high = curve_rise([[-0.70, -0.68, -0.65], [-0.71, -0.60, -0.64]], n_boot=500)
    assert (rise, low, high) == pytest.approx((0.06, 0.05, 0.07))
    # rises -0.05 and +0.20: the mean is +0.075, but a quarter of the draws are -0.05
    rise, low, high = curve_rise([[-0.60, -0.65], [-0.80, -0.60]], n_boot=500)
    assert (rise, low, high) == pytest.approx((0.075, -0.05, 0.2))
    # one seed: the interval is the seed's own rise
    assert curve_rise([[-0.7, -0.9, -0.69]]) == pytest.approx((0.01, 0.01, 0.01))
    with pytest.raises(ValueError, match="at least one seed and two points"):
        curve_rise([[-0.7]])


def test_labels_saved_is_undefined_where_random_does_not_rise():
    # random falls in both seeds: before, it "saved" 75% against its own final value
    falling = [[-0.69, -0.70, -0.71, -0.72], [-0.68, -0.70, -0.70, -0.71]]
    better = [[-0.69, -0.65, -0.62, -0.60], [-0.68, -0.66, -0.61, -0.60]]
    table = summarize_results(_results({"random": falling, "better": better}), n_boot=200)
    assert table["labels_saved"].isna().all()
    assert table[["labels_saved_low", "labels_saved_high"]].isna().all().all()
    # the rise is reported, and the areas are still there
    assert table["baseline_rise"].tolist() == pytest.approx([-0.03, -0.03])
    assert table["baseline_rise_high"].iloc[0] == pytest.approx(-0.03)
    assert (table["area_log_likelihood_diff"].iloc[1]) > 0
    text = format_summary(table)
    assert "undefined*" in text and "random's curve does not rise" in text
    assert "75%" not in text


def test_labels_saved_needs_a_rise_beyond_the_seed_noise():
    # random rises by 0.04 in one seed and falls by 0.01 in the other: mean +0.015, but
    # the interval over seeds reaches -0.01, so there is no target worth reaching
    noisy = [[-0.70, -0.68, -0.66], [-0.69, -0.70, -0.70]]
    table = summarize_results(_results({"random": noisy}, labels=(10, 20, 30)), n_boot=200)
    row = table.iloc[0]
    assert row["baseline_rise"] == pytest.approx(0.015)
    assert row["baseline_rise_low"] == pytest.approx(-0.01)
    assert np.isnan(row["labels_saved"])
    # rising in both seeds, it is defined (random reaches its own final value last)
    rising = [[-0.70, -0.68, -0.66], [-0.69, -0.68, -0.67]]
    table = summarize_results(_results({"random": rising}, labels=(10, 20, 30)), n_boot=200)
    assert table["labels_saved"].iloc[0] == 0.0
    assert "undefined" not in format_summary(table)
