"""The feature layout travels with the features: named columns, "auto", and refusals.

Plain pair features phi(a) | phi(b) of two 384-d blocks are 768 wide, which also splits
into three blocks of 256: a default that guessed the three-block layout fitted such
features without a word. These tests pin the contract of skbalpm/_features.py in the
classifier, the query strategies and the benchmark harness.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skbalpm import BALPMQueryStrategy, PreferenceEnsembleClassifier
from skbalpm._features import (
    FEATURE_LAYOUTS,
    feature_names,
    layout_from_names,
    resolve_feature_layout,
    with_feature_layout,
)
from skbalpm.benchmark import run_benchmark
from skbalpm.datasets import make_synthetic_preferences

QUICK = dict(n_members=3, n_random_features=16, random_state=0)
AB_NAMES = feature_names("a|b", 6).tolist()  # 12 columns: 2 blocks of 6
ABP_NAMES = feature_names("a|b|prompt", 4).tolist()  # 12 columns: 3 blocks of 4


def twelve_columns(n=40, seed=0):
    """12 feature columns (ambiguous as a bare array) and labels of both classes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > X[:, 4] + X[:, 6]).astype(int)
    return X, y


# -- the contract, as pure functions -------------------------------------------------------


def test_feature_names_by_hand():
    assert feature_names("a|b|prompt", 2).tolist() == [
        "a_0",
        "a_1",
        "b_0",
        "b_1",
        "prompt_0",
        "prompt_1",
    ]
    assert feature_names("a|b", 1).tolist() == ["a_0", "b_0"]


@pytest.mark.parametrize(
    ("layout", "width", "names", "expected"),
    [
        ("auto", 9, None, "a|b|prompt"),  # only 3 blocks divide 9
        ("auto", 8, None, "a|b"),  # only 2 blocks divide 8
        ("auto", 3, None, "a|b|prompt"),
        ("auto", 12, AB_NAMES, "a|b"),
        ("auto", 12, ABP_NAMES, "a|b|prompt"),
        ("auto", 12, [f"embedder__{name}" for name in AB_NAMES], "a|b"),  # ColumnTransformer
        ("auto", 8, ABP_NAMES[:8], "a|b"),  # the prompt block dropped: plain pair features
        ("a|b", 12, None, "a|b"),
        ("a|b|prompt", 12, None, "a|b|prompt"),
        ("a|b", 12, AB_NAMES, "a|b"),
        ("a|b", 12, [f"x{i}" for i in range(12)], "a|b"),  # names that are no blocks
        ("a|b|prompt", 768 + 384, None, "a|b|prompt"),
    ],
)
def test_resolve_feature_layout_by_hand(layout, width, names, expected):
    assert resolve_feature_layout(layout, width, names) == expected


@pytest.mark.parametrize(
    ("layout", "width", "names", "match"),
    [
        ("auto", 12, None, "Cannot tell the layout of 12 feature columns"),
        ("auto", 12, [f"x{i}" for i in range(12)], "Cannot tell the layout"),
        ("auto", 7, None, "fits no layout"),
        ("auto", 1, None, "fits no layout"),
        ("a|b|prompt", 12, AB_NAMES, "contradicts the column names, which spell the layout 'a|b'"),
        ("a|b", 12, ABP_NAMES, "contradicts the column names, which spell the layout 'a|b|prompt'"),
        ("auto", 11, ABP_NAMES[1:], "spell no layout"),  # a column dropped
        ("auto", 12, ABP_NAMES[4:] + ABP_NAMES[:4], "spell no layout"),  # blocks reordered
        ("auto", 12, AB_NAMES[:6] + [f"x{i}" for i in range(6)], "spell no layout"),
        ("a|b", 7, None, "positive multiple of 2; got 7 features"),
        ("prompt|a|b", 12, None, "feature_layout must be one of"),
    ],
)
def test_resolve_feature_layout_refusals(layout, width, names, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        resolve_feature_layout(layout, width, names)


@given(st.sampled_from(FEATURE_LAYOUTS), st.integers(1, 64), st.sampled_from(["", "step__"]))
def test_named_columns_always_give_their_layout(layout, d, prefix):
    names = [prefix + name for name in feature_names(layout, d)]
    assert layout_from_names(names) == layout
    assert resolve_feature_layout("auto", len(names), names) == layout
    assert resolve_feature_layout(layout, len(names), names) == layout
    (other,) = set(FEATURE_LAYOUTS) - {layout}
    with pytest.raises(ValueError, match="contradicts the column names"):
        resolve_feature_layout(other, len(names), names)


@given(st.integers(1, 5000))
def test_auto_on_a_bare_width_never_guesses(width):
    # the module docstring's rule: the one layout whose block count divides the width,
    # a refusal naming both layouts when both do (multiples of 6), an error when none does
    if width % 6 == 0:
        with pytest.raises(ValueError) as refused:
            resolve_feature_layout("auto", width)
        message = str(refused.value)
        assert f"2 blocks of {width // 2}" in message and f"3 blocks of {width // 3}" in message
        assert "feature_layout='a|b'" in message and "feature_layout='a|b|prompt'" in message
    elif width % 3 == 0:
        assert resolve_feature_layout("auto", width) == "a|b|prompt"
    elif width % 2 == 0:
        assert resolve_feature_layout("auto", width) == "a|b"
    else:
        with pytest.raises(ValueError, match="fits no layout"):
            resolve_feature_layout("auto", width)


# -- the classifier ------------------------------------------------------------------------


def test_default_refuses_768_wide_pair_features_and_names_both_layouts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 768)).astype(np.float32)  # phi(a) | phi(b), two 384-d blocks
    y = (X[:, :384].sum(axis=1) > X[:, 384:].sum(axis=1)).astype(int)
    with pytest.raises(ValueError) as refused:
        PreferenceEnsembleClassifier(**QUICK).fit(X, y)
    message = str(refused.value)
    for part in (
        "768 feature columns",
        "2 blocks of 384 (feature_layout='a|b'",
        "3 blocks of 256 (feature_layout='a|b|prompt'",
        "Pass feature_layout='a|b'",
        "DataFrame whose columns name the blocks",
    ):
        assert part in message
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **QUICK).fit(X, y)
    assert clf.feature_layout_ == "a|b"
    assert clf.predict_member_rewards(X[:, :384]).shape == (3, 40)  # blocks of 384


@pytest.mark.parametrize(("layout", "names"), [("a|b", AB_NAMES), ("a|b|prompt", ABP_NAMES)])
def test_named_columns_select_the_layout(layout, names):
    X, y = twelve_columns()
    frame = pd.DataFrame(X, columns=names)
    named = PreferenceEnsembleClassifier(**QUICK).fit(frame, y)
    assert named.feature_layout_ == layout
    assert named.feature_names_in_.tolist() == names
    explicit = PreferenceEnsembleClassifier(feature_layout=layout, **QUICK).fit(X, y)
    assert explicit.feature_layout_ == layout
    # the same blocks were read: the two models agree exactly
    np.testing.assert_array_equal(named.predict_proba(frame), explicit.predict_proba(X))
    np.testing.assert_array_equal(named.coef_, explicit.coef_)


def test_deep_ensemble_reads_the_layout_from_the_names_too():
    X, y = twelve_columns()
    params = dict(method="deep-ensemble", n_members=2, hidden_layer_sizes=(4,), max_epochs=2)
    clf = PreferenceEnsembleClassifier(random_state=0, **params)
    assert clf.fit(pd.DataFrame(X, columns=AB_NAMES), y).coefs_[0].shape == (2, 6, 4)
    assert clf.fit(pd.DataFrame(X, columns=ABP_NAMES), y).coefs_[0].shape == (2, 4, 4)


def test_unnamed_or_plain_named_columns_need_the_layout():
    X, y = twelve_columns()
    for unnamed in (X, pd.DataFrame(X), pd.DataFrame(X, columns=[f"x{i}" for i in range(12)])):
        with pytest.raises(ValueError, match="Cannot tell the layout of 12 feature columns"):
            PreferenceEnsembleClassifier(**QUICK).fit(unnamed, y)
        clf = PreferenceEnsembleClassifier(feature_layout="a|b|prompt", **QUICK).fit(unnamed, y)
        assert clf.feature_layout_ == "a|b|prompt"


@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
def test_an_explicit_layout_that_contradicts_the_names_is_an_error():
    X, y = twelve_columns()
    ab_frame = pd.DataFrame(X, columns=AB_NAMES)
    with pytest.raises(ValueError, match=r"feature_layout='a\|b\|prompt' contradicts"):
        PreferenceEnsembleClassifier(feature_layout="a|b|prompt", **QUICK).fit(ab_frame, y)
    # at prediction too: fitted on a bare array in one layout, given names of the other
    clf = PreferenceEnsembleClassifier(feature_layout="a|b|prompt", **QUICK).fit(X, y)
    for predict in (clf.predict_proba, clf.predict_member_proba, clf.decision_function):
        with pytest.raises(ValueError, match="contradicts the column names"):
            predict(ab_frame)
    reordered = pd.DataFrame(X, columns=ABP_NAMES[4:] + ABP_NAMES[:4])
    with pytest.raises(ValueError, match="spell no layout"):
        PreferenceEnsembleClassifier(**QUICK).fit(reordered, y)


# -- the query strategies ------------------------------------------------------------------


class MemberDouble:
    """A fitted classifier with member probabilities and no word about its layout."""

    def predict_member_proba(self, X):
        n = len(X)
        return np.stack([np.linspace(0.2, 0.8, n), np.linspace(0.8, 0.2, n)])


def test_a_strategy_refuses_an_ambiguous_pool_when_nothing_says_the_layout():
    X, _ = twelve_columns()
    strategy = BALPMQueryStrategy(k=3, device="cpu")
    with pytest.raises(ValueError, match=r"3 blocks of 4.*2 blocks of 6.*prompt_features="):
        strategy(MemberDouble(), X, 2, X_acquired=X[:0])


def test_a_strategy_finds_the_prompt_block_by_the_pool_names():
    X, _ = twelve_columns()
    strategy = BALPMQueryStrategy(k=3, device="cpu")
    named = strategy(MemberDouble(), pd.DataFrame(X, columns=ABP_NAMES), 3, X_acquired=X[:0])
    given_prompts = strategy(
        MemberDouble(),
        X,
        3,
        prompt_features=X[:, 8:],
        acquired_prompt_features=np.empty((0, 4)),
    )
    np.testing.assert_array_equal(named[0], given_prompts[0])
    np.testing.assert_allclose(named[1], given_prompts[1])
    # a pool named "a|b" has no prompt block: the strategy says so instead of taking one
    with pytest.raises(ValueError, match="no prompt block"):
        strategy(MemberDouble(), pd.DataFrame(X, columns=AB_NAMES), 3, X_acquired=X[:0])


def test_a_strategy_reads_the_fitted_layout_of_the_classifier():
    X, y = twelve_columns()
    strategy = BALPMQueryStrategy(k=3, device="cpu")
    ab = PreferenceEnsembleClassifier(feature_layout="a|b", **QUICK).fit(X, y)
    with pytest.raises(ValueError, match=r"feature_layout is 'a\|b' \(no prompt block\)"):
        strategy(ab, X, 2, X_acquired=X[:0])
    abp = PreferenceEnsembleClassifier(feature_layout="a|b|prompt", **QUICK).fit(X, y)
    picked = strategy(abp, X, 2, X_acquired=X[:0])
    given = strategy(abp, X, 2, prompt_features=X[:, 8:], acquired_prompt_features=np.empty((0, 4)))
    np.testing.assert_array_equal(picked[0], given[0])


def test_a_pipeline_passes_the_names_to_the_classifier_and_the_strategies():
    """The embedder's route in miniature: a transformer that names its output columns."""
    X, y = twelve_columns()

    def name_blocks(X):
        return pd.DataFrame(np.asarray(X), columns=ABP_NAMES)

    model = make_pipeline(
        FunctionTransformer(name_blocks), PreferenceEnsembleClassifier(**QUICK)
    ).fit(X, y)
    assert model[-1].feature_layout_ == "a|b|prompt"
    strategy = BALPMQueryStrategy(k=3, device="cpu")
    picked = strategy(model, X, 3, X_acquired=X[:5])
    given = strategy(model, X, 3, prompt_features=X[:, 8:], acquired_prompt_features=X[:5, 8:])
    np.testing.assert_array_equal(picked[0], given[0])


# -- the benchmark harness -----------------------------------------------------------------


def test_with_feature_layout_fills_only_auto():
    auto = PreferenceEnsembleClassifier(n_members=2)
    told = with_feature_layout(auto, "a|b")
    assert told.feature_layout == "a|b" and told is not auto and auto.feature_layout == "auto"
    explicit = PreferenceEnsembleClassifier(feature_layout="a|b|prompt")
    assert with_feature_layout(explicit, "a|b") is explicit
    pipeline = make_pipeline(FunctionTransformer(), PreferenceEnsembleClassifier())
    told = with_feature_layout(pipeline, "a|b|prompt")
    assert told[-1].feature_layout == "a|b|prompt"
    plain = FunctionTransformer()
    assert with_feature_layout(plain, "a|b") is plain


@pytest.mark.parametrize("layout", FEATURE_LAYOUTS)
def test_run_benchmark_tells_an_auto_classifier_its_layout(layout):
    data = make_synthetic_preferences(n_samples=60, n_features=4, random_state=0)  # 12 wide
    out = run_benchmark(
        data.X,
        data.y,
        strategies=["balpm"] if layout == "a|b|prompt" else ["bald"],
        classifier=PreferenceEnsembleClassifier(n_members=2, n_random_features=8),
        seeds=1,
        initial_size=10,
        batch_size=5,
        n_rounds=1,
        feature_layout=layout,
        compute_ceiling=False,
        n_jobs=1,
        verbose=0,
    )
    assert f"feature_layout='{layout}'" in out.config["classifier"]
    assert out.results.shape[0] == 2
