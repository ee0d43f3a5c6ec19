"""What the labels so far teach: grouped cross-validation against chance, and its warning."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils import Bunch

from skbalpm.datasets import make_synthetic_preferences
from skbalpm.ensemble import PreferenceEnsembleClassifier
from skbalpm.labeling import grouped_cv_report
from skbalpm.labeling._report import CHANCE_LOG_LIKELIHOOD, _clustered_se, format_report


def _classifier():
    return PreferenceEnsembleClassifier(n_members=3, feature_layout="a|b|prompt")


@pytest.fixture(scope="module")
def task():
    return make_synthetic_preferences(n_samples=300, n_features=4, n_topics=30, random_state=1)


def test_clustered_standard_error_by_hand():
    values = np.array([1.0, 3.0, 2.0, 6.0])  # mean 3
    groups = np.array(["a", "a", "b", "b"])  # residual sums: (1-3)+(3-3) = -2, (2-3)+(6-3) = 2
    expected = np.sqrt(2 / 1 * (4 + 4)) / 4
    assert _clustered_se(values, groups) == pytest.approx(expected)
    assert np.isnan(_clustered_se(values, np.zeros(4)))


def test_labels_with_signal_beat_chance(task):
    report = grouped_cv_report(task.X, task.y, task.groups, _classifier())
    assert report.available and report.n_splits == 5 and report.n_labels == 300
    assert report.better_than_chance
    assert report.log_likelihood > CHANCE_LOG_LIKELIHOOD and report.accuracy > 0.6
    assert report.gain == pytest.approx(report.log_likelihood - CHANCE_LOG_LIKELIHOOD)
    assert not any(line.startswith("WARNING") for line in format_report(report))


def test_labels_without_signal_are_no_better_than_chance(task):
    y_noise = np.random.default_rng(0).integers(0, 2, size=len(task.y))
    report = grouped_cv_report(task.X, y_noise, task.groups, _classifier())
    assert report.available and not report.better_than_chance
    warning = format_report(report)[-1]
    assert warning.startswith("WARNING: no better than chance on new prompts")
    assert "a stronger embedding model is the fix, not more labels" in warning
    assert "too few labels" not in warning  # 300 labels: the plain warning


def test_few_labels_at_chance_say_it_may_be_too_few(task):
    y_noise = np.random.default_rng(1).integers(0, 2, size=40)
    report = grouped_cv_report(task.X[:40], y_noise, task.groups[:40], _classifier())
    assert report.available and not report.better_than_chance
    assert "with 40 labels that may only mean too few labels" in format_report(report)[-1]


def test_too_few_labels_or_prompts_are_not_cross_validated(task):
    report = grouped_cv_report(task.X[:6], task.y[:6], task.groups[:6], _classifier())
    assert not report.available and "too few to cross-validate" in report.reason
    one_prompt = grouped_cv_report(task.X[:20], task.y[:20], np.zeros(20), _classifier())
    assert not one_prompt.available
    assert format_report(report)[0].startswith("what the labels teach: not yet known")


def test_a_fold_with_one_kind_of_label_predicts_one_half():
    X = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32)
    y = np.array([0] * 6 + [1] * 6)
    groups = np.repeat([0, 1], 6)  # each fold trains on one kind of label only
    report = grouped_cv_report(X, y, groups, _classifier(), n_splits=2)
    assert report.log_likelihood == pytest.approx(CHANCE_LOG_LIKELIHOOD)
    assert report.gain == pytest.approx(0.0)


def test_format_report_numbers():
    report = Bunch(
        available=True,
        n_labels=120,
        n_groups=90,
        n_splits=5,
        log_likelihood=-0.65,
        accuracy=0.61,
        gain=0.0431,
        gain_se=0.01,
        better_than_chance=True,
    )
    lines = format_report(report)
    assert "120 labels over 90 prompts" in lines[0]
    assert "log-likelihood -0.6500" in lines[1] and "gain +0.0431 +/- 0.0100" in lines[1]
    assert lines[2].strip() == "accuracy 0.610"
