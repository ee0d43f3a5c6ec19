"""Tests of PreferenceEnsembleClassifier (skbalpm.ensemble) and its torch core."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit
from scipy.stats import binomtest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbalpm import _torch_ensemble
from skbalpm._features import swap_response_blocks
from skbalpm.datasets import load_hh_rlhf
from skbalpm.ensemble import PreferenceEnsembleClassifier

# Settings that keep the small fits of these tests quick.
FAST = dict(
    method="deep-ensemble", n_members=3, hidden_layer_sizes=(16,), max_epochs=30, random_state=0
)
LAPLACE = dict(n_members=3, n_random_features=64, random_state=0)


# scikit-learn's generic checks have no prompt block, so the instance under check reads X
# as plain pair features phi(a) | phi(b) ("a|b"): the only layout their 2-, 4- and
# 10-column data can be split in. alpha=0 and no early stopping: check_classifiers_train
# asks for 83% training accuracy on ~200 blob points within FAST's 30 epochs; the default
# prior (sized for noisy preference labels) and a member kept at its initial weights when
# 30 epochs never beat them on its validation rows both trade that away on purpose.
# The Laplace default needs no such settings.
CHECKED_ESTIMATORS = [
    PreferenceEnsembleClassifier(feature_layout="a|b", alpha=0.0, validation_fraction=0.0, **FAST),
    PreferenceEnsembleClassifier(feature_layout="a|b", **LAPLACE),
]

# Every scikit-learn check this estimator is expected to fail, with the reason. All of
# them fit on data with 1, 3 or 5 columns, which no pair layout can split into two equal
# response blocks: the estimator raises its width ValueError there, as it should.
_ODD_WIDTH = "check data has an odd number of columns: no phi(a) | phi(b) split exists"
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    name: _ODD_WIDTH
    for name in (
        "check_fit_score_takes_y",
        "check_dont_overwrite_parameters",
        "check_estimators_dtypes",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_supervised_y_2d",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1feature",
        "check_dict_unchanged",
        "check_fit2d_predict1d",
    )
}


@parametrize_with_checks(
    CHECKED_ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------- helpers


def linear_reward_task(n, d, rng, scale=3.0):
    """Pairs with a known linear reward: P(a preferred) = sigmoid(w.(a - b))."""
    w = rng.normal(size=d)
    w *= scale / np.linalg.norm(w)
    X_a, X_b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    p_a = expit((X_a - X_b) @ w)
    y = (rng.random(n) >= p_a).astype(int)  # 0 (response_a preferred) with probability p_a
    return np.hstack([X_a, X_b]).astype(np.float32), y, p_a


@pytest.fixture(scope="module")
def fitted_ab():
    rng = np.random.default_rng(1)
    X, y, _ = linear_reward_task(300, 4, rng)
    return PreferenceEnsembleClassifier(feature_layout="a|b", **FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def fitted_abp():
    rng = np.random.default_rng(2)
    X, y, _ = linear_reward_task(200, 3, rng)
    X = np.hstack([X, rng.normal(size=(200, 3)).astype(np.float32)])  # a prompt block
    return PreferenceEnsembleClassifier(**FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def laplace_ab():
    rng = np.random.default_rng(1)
    X, y, _ = linear_reward_task(300, 4, rng)
    return PreferenceEnsembleClassifier(feature_layout="a|b", **LAPLACE).fit(X, y), X, y


@pytest.fixture(scope="module")
def laplace_abp():
    rng = np.random.default_rng(2)
    X, y, _ = linear_reward_task(200, 3, rng)
    X = np.hstack([X, rng.normal(size=(200, 3)).astype(np.float32)])  # a prompt block
    return PreferenceEnsembleClassifier(**LAPLACE).fit(X, y), X, y


# Contract tests run on both methods: (fixture with the "a|b" layout, with a prompt block).
BOTH_METHODS = pytest.mark.parametrize(
    ("ab", "abp"), [("fitted_ab", "fitted_abp"), ("laplace_ab", "laplace_abp")]
)


def numpy_rewards(clf, X_response):
    """Independent numpy forward pass through the fitted weights, shape (M, n)."""
    h = np.asarray(X_response, dtype=np.float64)[None]
    for layer, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        h = h @ W.astype(np.float64) + b.astype(np.float64)
        if layer < len(clf.coefs_) - 1:
            h = np.tanh(h)
    return h[..., 0]


# ------------------------------------------------------------------- output contract


@BOTH_METHODS
def test_classes_and_shapes(ab, abp, request):
    clf, X, _ = request.getfixturevalue(abp)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.predict_member_proba(X).shape == (3, len(X))
    assert clf.predict_member_proba(X).dtype == np.float64
    assert clf.decision_function(X).shape == (len(X),)
    assert clf.predict_member_rewards(X[:, :3]).shape == (3, len(X))


def test_rewards_match_an_independent_forward_pass(fitted_abp):
    clf, X, _ = fitted_abp
    np.testing.assert_allclose(
        clf.predict_member_rewards(X[:, :3]), numpy_rewards(clf, X[:, :3]), atol=1e-5
    )
    expected = expit(numpy_rewards(clf, X[:, :3]) - numpy_rewards(clf, X[:, 3:6]))
    np.testing.assert_allclose(clf.predict_member_proba(X), expected, atol=1e-5)


@BOTH_METHODS
def test_prompt_block_is_ignored(ab, abp, request):
    clf, X, _ = request.getfixturevalue(abp)
    X_other_prompt = X.copy()
    X_other_prompt[:, 6:] = 123.0
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X_other_prompt))


def test_ensemble_is_the_mean_of_members(fitted_ab):
    clf, X, _ = fitted_ab
    members = clf.predict_member_proba(X)
    assert np.all((members > 0) & (members < 1))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 0], members.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    diffs = np.log(members) - np.log1p(-members)  # logit of each member
    np.testing.assert_allclose(clf.decision_function(X), -diffs.mean(axis=0), atol=1e-8)


@BOTH_METHODS
def test_predict_agrees_with_proba_and_decision(ab, abp, request):
    clf, X, _ = request.getfixturevalue(ab)
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict(X), (proba[:, 1] > proba[:, 0]).astype(int))
    np.testing.assert_array_equal(clf.predict(X), (clf.decision_function(X) > 0).astype(int))


@BOTH_METHODS
@settings(max_examples=25, deadline=None)
@given(
    arrays(np.float32, (7, 9), elements=st.floats(-1e3, 1e3, width=32)),
    st.sampled_from(["a|b|prompt", "a|b"]),
)
def test_swapping_responses_swaps_columns_exactly(ab, abp, request, X9, layout):
    clf = request.getfixturevalue(abp if layout == "a|b|prompt" else ab)[0]
    X = X9 if layout == "a|b|prompt" else X9[:, :8]
    X_swapped = swap_response_blocks(X, layout)
    np.testing.assert_array_equal(clf.predict_proba(X_swapped), clf.predict_proba(X)[:, ::-1])
    np.testing.assert_array_equal(clf.decision_function(X_swapped), -clf.decision_function(X))
    np.testing.assert_allclose(
        clf.predict_member_proba(X_swapped), 1.0 - clf.predict_member_proba(X), atol=1e-12
    )


@BOTH_METHODS
@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_probabilities_are_probabilities(ab, abp, request, seed):
    # far from the data a confident linear reward saturates a float64 sigmoid: [0, 1]
    clf = request.getfixturevalue(ab)[0]
    X = np.random.default_rng(seed).normal(scale=3.0, size=(20, 8))
    members = clf.predict_member_proba(X)
    assert np.all((members >= 0) & (members <= 1))
    proba = clf.predict_proba(X)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_chunked_inference_matches_one_chunk(fitted_ab, monkeypatch):
    clf, X, _ = fitted_ab
    whole = clf.predict_member_proba(X)
    monkeypatch.setattr(_torch_ensemble, "_INFERENCE_CHUNK_ELEMENTS", 3 * 16 * 7)  # 7 rows
    assert len(_torch_ensemble._row_chunks(clf._predict_state().model, len(X))) > 1
    np.testing.assert_allclose(clf.predict_member_proba(X), whole, atol=1e-6)
    np.testing.assert_allclose(
        clf.predict_member_rewards(X[:, :4]), numpy_rewards(clf, X[:, :4]), atol=1e-5
    )


# ------------------------------------------------------------------------ randomness


@BOTH_METHODS
def test_same_random_state_same_predictions(ab, abp, request):
    clf, X, y = request.getfixturevalue(ab)
    again = clone(clf).fit(X, y)
    np.testing.assert_array_equal(again.predict_member_proba(X), clf.predict_member_proba(X))


@BOTH_METHODS
def test_other_random_state_other_members(ab, abp, request):
    clf, X, y = request.getfixturevalue(ab)
    other = clone(clf).set_params(random_state=1).fit(X, y)
    assert not np.allclose(other.predict_member_proba(X), clf.predict_member_proba(X))


def test_members_are_initialised_differently():
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **{**FAST, "max_epochs": 1})
    rng = np.random.default_rng(0)
    X, y, _ = linear_reward_task(40, 4, rng)
    clf.set_params(learning_rate=1e-12, n_iter_no_change=None, init_std=0.05).fit(X, y)
    first = clf.coefs_[0]
    assert all(not np.allclose(first[0], first[m]) for m in range(1, 3))
    assert np.std(first) == pytest.approx(0.05, rel=0.2)  # N(0, init_std^2)


@pytest.mark.parametrize(
    "params", [dict(method="deep-ensemble", hidden_layer_sizes=(32,)), dict(method="laplace")]
)
def test_members_disagree_off_the_data(params):
    rng = np.random.default_rng(4)
    X, y, _ = linear_reward_task(300, 4, rng, scale=2.0)
    clf = PreferenceEnsembleClassifier(
        feature_layout="a|b", n_members=5, random_state=0, **params
    ).fit(X, y)
    X_far = rng.normal(scale=10.0, size=(300, 8))

    def member_spread(X):  # spread of the members' log-odds, free of sigmoid saturation
        log_odds = clf.predict_member_rewards(X[:, :4]) - clf.predict_member_rewards(X[:, 4:])
        return log_odds.std(axis=0).mean()

    assert member_spread(X_far) > 2 * member_spread(X)


# ----------------------------------------------------------------------- accuracy


@pytest.mark.slow
@pytest.mark.parametrize("method", ["laplace", "deep-ensemble"])
def test_reaches_bayes_accuracy_on_a_linear_reward(method):
    rng = np.random.default_rng(5)
    X, y, p_a = linear_reward_task(4000, 8, rng)
    X_train, y_train = X[:3000], y[:3000]
    X_test, y_test, p_test = X[3000:], y[3000:], p_a[3000:]
    # Bayes rule predicts the more likely label; its expected accuracy is E[max(p, 1 - p)]
    bayes_accuracy = np.maximum(p_test, 1 - p_test).mean()
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", method=method, random_state=0)
    clf.fit(X_train, y_train)
    expected_accuracy = np.where(clf.predict(X_test) == 0, p_test, 1 - p_test).mean()
    assert expected_accuracy > bayes_accuracy - 0.03
    assert clf.score(X_test, y_test) > bayes_accuracy - 0.05


# --------------------------------------------------------------- sklearn machinery


@pytest.mark.parametrize(("method", "expected"), [("laplace", 50), ("deep-ensemble", 5)])
def test_auto_n_members_depends_on_the_method(method, expected):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.arange(40) % 2
    clf = PreferenceEnsembleClassifier(
        method=method, feature_layout="a|b", max_epochs=2, random_state=0
    ).fit(X, y)
    assert clf.n_members == "auto" and clf.n_members_ == expected
    assert clf.predict_member_proba(X).shape == (expected, 40)
    clf.set_params(n_members=3).fit(X, y)
    assert clf.n_members_ == 3 and clf.predict_member_proba(X).shape == (3, 40)


def test_get_set_params_and_clone():
    clf = PreferenceEnsembleClassifier(n_members=7, feature_layout="a|b")
    assert clf.get_params()["n_members"] == 7
    clf.set_params(learning_rate=0.5, hidden_layer_sizes=(3,))
    assert clf.learning_rate == 0.5
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "coefs_")


@pytest.mark.parametrize(
    ("params", "grid"),
    [(FAST, {"weight_decay": [0.0, 0.1]}), (LAPLACE, {"n_random_features": [0, 32]})],
)
def test_grid_search_and_cross_val_score(params, grid):
    rng = np.random.default_rng(6)
    X, y, _ = linear_reward_task(150, 3, rng)
    base = PreferenceEnsembleClassifier(feature_layout="a|b", **params)
    scores = cross_val_score(base, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)
    search = GridSearchCV(base, grid, cv=2, scoring="neg_log_loss")
    search.fit(X, y)
    [(name, values)] = grid.items()
    assert search.best_params_[name] in values
    auc = cross_val_score(base, X, y, cv=3, scoring="roc_auc")
    assert np.all(auc > 0.7)  # decision_function's sign follows scikit-learn's convention


@BOTH_METHODS
def test_pickle_and_joblib_round_trips(ab, abp, request, tmp_path):
    clf, X, _ = request.getfixturevalue(ab)
    expected = clf.predict_member_proba(X)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_member_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "clf.joblib").predict_member_proba(X), expected
    )
    fitted_arrays = loaded.coefs_ if hasattr(loaded, "coefs_") else loaded.random_frequencies_
    assert all(isinstance(W, np.ndarray) for W in fitted_arrays)  # no device tensors


@BOTH_METHODS
def test_any_two_labels_with_the_smaller_meaning_response_a(ab, abp, request):
    clf, X, y = request.getfixturevalue(ab)
    named = clone(clf).fit(X, np.where(y == 0, "a", "b"))
    assert named.classes_.tolist() == ["a", "b"]
    np.testing.assert_array_equal(named.predict_proba(X), clf.predict_proba(X))


def test_warm_start_continues_from_the_fitted_weights(fitted_ab):
    clf, X, y = fitted_ab
    warm = clone(clf).set_params(warm_start=True, learning_rate=1e-9, max_epochs=1)
    warm.coefs_, warm.intercepts_ = clf.coefs_, clf.intercepts_
    warm.classes_, warm.n_features_in_ = clf.classes_, clf.n_features_in_
    warm.fit(X, y)
    np.testing.assert_allclose(warm.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    cold = clone(warm).set_params(warm_start=False).fit(X, y)
    assert not np.allclose(cold.predict_proba(X), clf.predict_proba(X), atol=1e-3)


def test_early_stopping_keeps_best_weights():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = rng.integers(2, size=60)  # pure noise: nothing beats the initial p = 1/2
    clf = PreferenceEnsembleClassifier(  # init 0.01: the initial prediction is p = 1/2
        method="deep-ensemble",
        feature_layout="a|b",
        n_iter_no_change=3,
        max_epochs=50,
        init_std=0.01,
        random_state=0,
    ).fit(X, y)
    assert clf.n_epochs_ < 50
    assert np.all(clf.best_validation_loss_ <= np.log(2) + 1e-3)


# -------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.full((4, 4), np.nan), [0, 1, 0, 1], "NaN"),
        (np.full((4, 4), np.inf), [0, 1, 0, 1], "infinity"),
        (np.ones((4, 4)), [0, 0, 0, 0], "exactly two classes.*1 class"),
        (np.ones((6, 4)), [0, 1, 2, 0, 1, 2], "exactly two classes.*3 class"),
        (np.ones((4, 5)), [0, 1, 0, 1], "2 equal-width blocks.*got 5 features"),
        (np.ones((0, 4)), [], "0 sample"),
        (np.ones((4, 4)), [0, 1, 0], "inconsistent numbers of samples"),
        (np.ones((4, 4)), [0.5, 1.5, 0.2, 0.1], "Unknown label type"),
    ],
)
@pytest.mark.parametrize("params", [FAST, LAPLACE])
def test_bad_fit_input(X, y, match, params):
    with pytest.raises(ValueError, match=match):
        PreferenceEnsembleClassifier(feature_layout="a|b", **params).fit(X, y)


@pytest.mark.parametrize("hidden_layer_sizes", [(0,), (64, 0), (-3,), (2.5,), (True,)])
def test_hidden_layer_sizes_must_be_positive_ints(hidden_layer_sizes):
    # A zero-width layer trained a constant reward (every prediction 1/2) without a word;
    # a negative one crashed inside torch; 2.5 was silently cut to 2.
    params = {**FAST, "hidden_layer_sizes": hidden_layer_sizes}
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **params)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must hold positive ints"):
        clf.fit(np.ones((4, 4)), [0, 1, 0, 1])


def test_default_layout_width_error_names_the_layout():
    with pytest.raises(ValueError, match=r"5 feature columns: that fits no layout.*'a\|b\|prompt'"):
        PreferenceEnsembleClassifier(**FAST).fit(np.ones((4, 5)), [0, 1, 0, 1])


@BOTH_METHODS
def test_bad_predict_input(ab, abp, request):
    clf, X, _ = request.getfixturevalue(ab)
    with pytest.raises(ValueError, match="expecting 8 features"):
        clf.predict_proba(X[:, :6])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(np.full((2, 8), np.nan))
    with pytest.raises(ValueError, match=r"one block of width 4.*got 8 columns"):
        clf.predict_member_rewards(X)


@pytest.mark.parametrize("params", [FAST, LAPLACE])
def test_values_beyond_float32_are_refused_in_float32(params):
    # 1e39 became inf in the float32 network: the deep ensemble silently kept its
    # initial weights (NaN losses never improve) and predicted NaN there; the Laplace
    # model predicted NaN.
    X, y = linear_reward_task(40, 2, np.random.default_rng(0))[:2]
    X_big = X.astype(np.float64)
    X_big[3, 1] = 1e39
    with pytest.raises(ValueError, match=r"X holds values up to 1e\+39 .* dtype='float32'"):
        PreferenceEnsembleClassifier(feature_layout="a|b", **params).fit(X_big, y)
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **params).fit(X, y)
    with pytest.raises(ValueError, match=r"beyond the range of dtype='float32'"):
        clf.predict_proba(X_big)
    with pytest.raises(ValueError, match=r"X_response holds values up to 1e\+39"):
        clf.predict_member_rewards(X_big[:, :2])
    as_float64 = PreferenceEnsembleClassifier(feature_layout="a|b", dtype="float64", **params)
    assert np.isfinite(as_float64.fit(X_big, y).predict_proba(X_big)).all()


def test_predictions_that_overflow_are_an_error_not_nan():
    # 3e38 fits float32, but the random features of the Laplace model overflow there:
    # predict_proba returned NaN for those rows without a word.
    X, y = linear_reward_task(40, 2, np.random.default_rng(1))[:2]
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **LAPLACE).fit(X, y)
    far = X[:4].astype(np.float64)
    far[2:4] *= 3e38 / np.abs(far[2:4]).max()  # within float32, up to 3e38
    for method in ("predict_proba", "predict_member_proba", "decision_function", "predict"):
        with pytest.raises(ValueError, match=r"NaN or infinite for 2 row\(s\) \(first: \[2, 3\]\)"):
            getattr(clf, method)(far)


@pytest.mark.parametrize("params", [FAST, LAPLACE])
def test_labels_of_mixed_types_are_a_clear_error(params):
    # numpy's "'<' not supported between instances of 'int' and 'str'" came out of fit
    y = np.array(["b", 1, "b", 1], dtype=object)
    with pytest.raises(TypeError, match=r"y mixes labels of types \['int', 'str'\]"):
        PreferenceEnsembleClassifier(feature_layout="a|b", **params).fit(np.eye(4), y)


@pytest.mark.parametrize("params", [FAST, LAPLACE])
@pytest.mark.parametrize(
    ("groups", "error", "match"),
    [
        # NaN ids made one silent group; None ids crashed inside numpy's sort
        ([0, np.nan, 1, 1, 0, 1], ValueError, r"no group id \(None or NaN\) for 1 pair.*\[1\]"),
        ([0, None, 1, None, 0, 1], ValueError, r"for 2 pair\(s\) \(first: rows \[1, 3\]\)"),
        ([0, "post", 1, 1, 0, 1], TypeError, r"groups mixes ids of types \['int', 'str'\]"),
    ],
)
def test_bad_group_ids_are_a_clear_error(params, groups, error, match):
    X, y = linear_reward_task(6, 2, np.random.default_rng(2))[:2]
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **params)
    with pytest.raises(error, match=match):
        clf.fit(X, y, groups=np.asarray(groups, dtype=object))


def test_group_ids_of_any_one_type_train_alike():
    X, y = linear_reward_task(60, 2, np.random.default_rng(3))[:2]
    ids = np.arange(60) % 7
    params = dict(feature_layout="a|b", **FAST)
    by_int = PreferenceEnsembleClassifier(**params).fit(X, y, groups=ids)
    by_str = PreferenceEnsembleClassifier(**params).fit(X, y, groups=[f"post-{i}" for i in ids])
    np.testing.assert_array_equal(by_int.predict_proba(X), by_str.predict_proba(X))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        # torch's RuntimeError "Expected one of cpu, cuda, ... device type"
        (dict(device="tpu"), r"device must be 'auto', 'cpu', 'cuda'.*got 'tpu'"),
        # "float() argument must be a string or a real number, not 'list'"
        (dict(length_scales=[[1.0, 2.0]]), r"length_scales must hold positive finite numbers"),
    ],
)
def test_malformed_parameters_are_a_clear_error(params, match):
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **LAPLACE | params)
    with pytest.raises(ValueError, match=match):
        clf.fit(np.eye(4), [0, 1, 0, 1])


@pytest.mark.parametrize(
    "params",
    [dict(learning_rate=1e300), dict(init_std=1e300), dict(alpha=1e300), dict(weight_decay=1e300)],
)
def test_a_diverged_deep_ensemble_is_an_error_at_fit(params):
    # The fit "succeeded" with NaN or infinite weights; every prediction then failed.
    X, y = linear_reward_task(40, 2, np.random.default_rng(4))[:2]
    clf = PreferenceEnsembleClassifier(
        feature_layout="a|b", validation_fraction=0.0, **FAST | params
    )
    with pytest.raises(ValueError, match=rf"diverged .*{next(iter(params))}=1e\+300"):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")  # nothing that looks fitted is left behind


@pytest.mark.parametrize("params", [FAST, LAPLACE])
def test_a_list_of_floats_is_read_in_float64(params):
    # scikit-learn's check_array rounded a list of Python floats to float32 (the first
    # accepted dtype): predictions on X.tolist() differed from those on X by 1e-9, and
    # exchanging the responses no longer exchanged the columns exactly.
    X, y = linear_reward_task(40, 2, np.random.default_rng(5))[:2]
    X = X + np.random.default_rng(6).normal(scale=1e-3, size=X.shape)  # not float32-exact
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", dtype="float64", **params)
    from_list = clf.fit(X.tolist(), y.tolist()).predict_proba(X.tolist())
    np.testing.assert_array_equal(from_list, clf.fit(X, y).predict_proba(X))


# ------------------------------------------------------------------------- real data


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize("method", ["laplace", "deep-ensemble"])
def test_beats_chance_on_held_out_hh_rlhf_pairs(shared_data_dir, method):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer

    data = load_hh_rlhf(shared_data_dir / "hh-rlhf" / "helpful-base-test.jsonl.gz", random_state=0)
    triples, y = data.X[:1600], data.y[:1600]
    texts = [p + r for p, a, b in triples for r in (a, b)]
    hashed = HashingVectorizer(n_features=2**14, alternate_sign=False).transform(texts)
    svd = TruncatedSVD(n_components=32, random_state=0).fit(hashed[:2400])
    Z = svd.transform(hashed).astype(np.float32)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True) + 1e-12
    X = np.hstack([Z[0::2], Z[1::2]])
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", method=method, random_state=0)
    clf.fit(X[:1200], y[:1200])
    n_correct = int((clf.predict(X[1200:]) == y[1200:]).sum())
    assert binomtest(n_correct, 400, 0.5, alternative="greater").pvalue < 0.01


# ------------------------------------------------------------------------------ GPU


@pytest.mark.gpu
@pytest.mark.parametrize("params", [FAST, LAPLACE])
def test_fit_on_cuda_predict_on_cpu(fitted_ab, params):
    _, X, y = fitted_ab
    on_gpu = PreferenceEnsembleClassifier(feature_layout="a|b", device="cuda", **params)
    on_gpu.fit(X, y)
    assert on_gpu.device_.startswith("cuda")
    gpu_proba = on_gpu.predict_member_proba(X)
    on_cpu = pickle.loads(pickle.dumps(on_gpu)).set_params(device="cpu")
    np.testing.assert_allclose(on_cpu.predict_member_proba(X), gpu_proba, atol=1e-5)
    cpu_fit = clone(on_gpu).set_params(device="cpu").fit(X, y)  # same seeds, other device
    np.testing.assert_allclose(cpu_fit.predict_member_proba(X), gpu_proba, atol=1e-3)
    assert torch.cuda.is_available()


# ------------------------------------------------------- regularisation and threads


def test_alpha_is_a_prior_that_shrinks_the_weights():
    rng = np.random.default_rng(11)
    X, y, _ = linear_reward_task(200, 4, rng)
    settings = dict(
        method="deep-ensemble",
        feature_layout="a|b",
        n_iter_no_change=None,
        max_epochs=20,
        random_state=0,
    )
    loose = PreferenceEnsembleClassifier(alpha=0.0, **settings).fit(X, y)
    tight = PreferenceEnsembleClassifier(alpha=100.0, **settings).fit(X, y)

    def weight_norm(clf):
        return sum(float(np.square(W).sum()) for W in clf.coefs_)

    assert weight_norm(tight) < 0.5 * weight_norm(loose)
    # A strong prior pulls predictions towards P = 1/2.
    assert (
        np.abs(tight.predict_proba(X)[:, 0] - 0.5).mean()
        < np.abs(loose.predict_proba(X)[:, 0] - 0.5).mean()
    )


def _adam_steps(model, optimizer, X, n_steps, l2_strength=0.0):
    for _ in range(n_steps):
        optimizer.zero_grad()
        model(X).square().sum().backward()
        if l2_strength:
            _torch_ensemble.add_l2_gradient_(model, l2_strength)
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_l2_prior_in_the_optimizer_is_the_explicit_gradient(weight_decay):
    """The prior folded into Adam's coupled decay == its gradient added by hand.

    Biases are set non-zero so that a prior wrongly applied to them would show.
    """
    X = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))

    def fresh_model():
        model = _torch_ensemble.BatchedMLP((3, 4, 1), 2, "tanh", torch.float32)
        _torch_ensemble.init_normal_(model, [1, 2], 0.5)
        with torch.no_grad():
            for b in model.biases:
                b.fill_(0.3)  # the prior must leave biases alone
        return model

    model = fresh_model()
    optimizer, in_optimizer = _torch_ensemble.make_optimizer(model, 0.01, weight_decay, 0.5)
    assert in_optimizer == (weight_decay == 0.0)
    got = _adam_steps(model, optimizer, X, 5, 0.0 if in_optimizer else 0.5)

    reference = fresh_model()
    by_hand = torch.optim.AdamW(reference.parameters(), lr=0.01, weight_decay=weight_decay)
    expected = _adam_steps(reference, by_hand, X, 5, l2_strength=0.5)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)
    # ...and the prior mattered: without it the weights end elsewhere.
    plain = fresh_model()
    without = _adam_steps(
        plain, torch.optim.AdamW(plain.parameters(), lr=0.01, weight_decay=weight_decay), X, 5
    )
    assert not torch.allclose(without[0], got[0])


@BOTH_METHODS
def test_fit_and_predict_leave_torch_threads_as_they_were(ab, abp, request):
    clf, X, y = request.getfixturevalue(ab)
    before = torch.get_num_threads()
    clone(clf).set_params(n_jobs=1, max_epochs=2).fit(X, y).predict_proba(X)
    assert torch.get_num_threads() == before
