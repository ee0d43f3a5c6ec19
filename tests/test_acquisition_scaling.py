"""Scale-free combinations of BAL-PM's terms: pure functions and the strategy's modes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FixedProbs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skbalpm.acquisition import BALDQueryStrategy, BALPMQueryStrategy, EntropyOnlyQueryStrategy
from skbalpm.acquisition import bald as bald_score
from skbalpm.acquisition._balpm import _Combination
from skbalpm.acquisition._scaling import (
    bald_jackknife_se,
    empirical_cdf,
    robust_location_spread,
)
from tests.test_acquisition_strategies import LinearRewardEnsemble, make_pool

# Many tests call a strategy outside modAL with no acquired set on purpose (it is then
# empty); the warning that says so is tested in test_acquisition_strategies.py.
pytestmark = pytest.mark.filterwarnings("ignore:.*without an acquired set:UserWarning")

# --- pure functions ------------------------------------------------------------------------


def test_robust_location_spread_hand_checked():
    # percentiles of 1..8 (linear interpolation): q25 = 2.75, median 4.5, q75 = 6.25
    assert robust_location_spread(np.arange(1.0, 9.0)) == (4.5, 3.5)
    # IQR 0 (six tied values of eight): falls back to the standard deviation
    values = np.array([1.0] * 6 + [0.0, 4.0])
    assert robust_location_spread(values) == (1.0, pytest.approx(values.std()))
    with pytest.raises(ValueError, match="finite"):
        robust_location_spread([1.0, np.nan])
    with pytest.raises(ValueError, match="non-empty"):
        robust_location_spread([])


def test_empirical_cdf_hand_checked():
    reference = [0.2, 0.4, 0.4, 0.8]
    assert empirical_cdf(reference, [0.1, 0.2, 0.4, 0.5, 0.8, 1.0]).tolist() == [
        0.0,
        0.25,
        0.75,
        0.75,
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="reference"):
        empirical_cdf([], [1.0])


def test_bald_jackknife_se_matches_explicit_leave_one_out():
    rng = np.random.default_rng(0)
    probs_MN = rng.uniform(0.01, 0.99, size=(5, 40))
    loo = np.stack([bald_score(np.delete(probs_MN, m, axis=0)) for m in range(5)])
    expected = np.sqrt(4 / 5 * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
    np.testing.assert_allclose(bald_jackknife_se(probs_MN), expected, rtol=1e-9, atol=1e-12)
    assert (bald_jackknife_se(probs_MN[:1]) == 0).all()  # one member: no spread


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 20)), elements=st.floats(0, 1))
)
def test_bald_jackknife_se_is_finite_and_non_negative(probs_MN):
    se_N = bald_jackknife_se(probs_MN)
    assert se_N.shape == (probs_MN.shape[1],)
    assert np.isfinite(se_N).all() and (se_N >= 0).all()
    # members that agree on a sample leave no doubt about its BALD (which is 0)
    agree = (probs_MN == probs_MN[:1]).all(axis=0)
    np.testing.assert_allclose(se_N[agree], 0.0, atol=1e-12)


# --- the strategy's modes --------------------------------------------------------------------


def pool_with_scaled_prompts(scale, seed=0):
    X = make_pool(n=80, d=3, seed=seed)
    X[:, 6:] *= scale
    return X


def test_standardize_equals_fixed_beta_at_its_effective_beta():
    X = make_pool(n=80)
    clf = LinearRewardEnsemble().fit(X)
    acquired = make_pool(n=10, seed=1)
    standardized = BALPMQueryStrategy(scaling="standardize", k=5, device="cpu")
    idx, _ = standardized(clf, X, 12, X_acquired=acquired)
    beta = standardized.last_components_.effective_beta
    assert np.isfinite(beta) and beta > 0
    fixed = BALPMQueryStrategy(beta=beta, k=5, device="cpu")
    assert fixed(clf, X, 12, X_acquired=acquired)[0].tolist() == idx.tolist()


@pytest.mark.parametrize("scaling", ["standardize", "rank", "tiebreak"])
def test_scale_free_modes_ignore_the_scale_of_the_prompt_features(scaling):
    # Scaling prompt features by c shifts the entropy term by about log(c): a fixed beta
    # sees a different mix, the scale-free modes the same ranking. BALD scaled via the
    # members' sharpness would change it; here only the feature scale changes.
    clf = LinearRewardEnsemble().fit(make_pool(n=80))
    picks = []
    for scale in (1.0, 1e3):
        X = pool_with_scaled_prompts(scale)
        strategy = BALPMQueryStrategy(scaling=scaling, k=5, device="cpu")
        picks.append(strategy(clf, X, 10)[0].tolist())
    assert picks[0] == picks[1]


# Values on a grid: distinct values stay distinct under the maps below (floats closer than
# an ulp of the mapped value would merge, which no real term does).
finite = st.integers(-500, 500).map(lambda i: i / 100)
bald_values = st.integers(0, 690).map(lambda i: i / 1000)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, 30, elements=bald_values),
    arrays(np.float64, 30, elements=finite),
    st.floats(0.1, 10),
)
def test_rank_combination_is_invariant_to_increasing_maps_of_each_term(bald_N, entropy_N, w):
    def combine(epistemic, entropy):
        c = _Combination("rank", 0.0, w, epistemic, entropy, None, 5)
        return c(epistemic, entropy, slice(None))

    scores = combine(bald_N, entropy_N)
    # strictly increasing maps of each term: x^3 + x and exp
    mapped = combine(bald_N**3 + bald_N, np.exp(entropy_N))
    np.testing.assert_allclose(mapped, scores, rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, 30, elements=bald_values),
    arrays(np.float64, 30, elements=finite),
    st.floats(1e-2, 1e2),
    st.floats(1e-2, 1e2),
    finite,
)
def test_standardize_combination_orders_rows_the_same_under_affine_maps(
    bald_N, entropy_N, a, c, shift
):
    def combine(epistemic, entropy):
        comb = _Combination("standardize", 0.0, 1.0, epistemic, entropy, None, 5)
        return comb(epistemic, entropy, slice(None))

    scores = combine(bald_N, entropy_N)
    mapped = combine(a * bald_N, c * entropy_N + shift)
    # the mapped scores are a * scores + a constant
    expected = a * scores
    np.testing.assert_allclose(
        mapped - mapped.mean(), expected - expected.mean(), rtol=1e-7, atol=1e-9 * a
    )


def test_tiebreak_with_two_members_is_bald_top_b():
    # With two members each leave-one-out BALD is a single member's (zero): the jackknife
    # sees no noise, only BALD's top batch are candidates, and the picks are BALD's.
    X = make_pool(n=50)
    base = np.linspace(0.02, 0.98, 50)
    probs = np.stack([base, np.clip(base + 0.3 * np.abs(base - 0.5), 0, 1)])
    idx, _ = BALPMQueryStrategy(scaling="tiebreak", device="cpu")(FixedProbs(probs), X, 5)
    top = np.argsort(-bald_score(probs), kind="stable")[:5]
    assert sorted(idx.tolist()) == sorted(top.tolist())


def test_tiebreak_with_indistinguishable_bald_is_diversity():
    # Every pair has the same member probabilities up to noise far below the jackknife
    # error: all are candidates and the entropy term alone picks, as entropy-only does.
    rng = np.random.default_rng(2)
    X = make_pool(n=70, seed=3)
    members = np.array([[0.2], [0.8], [0.2], [0.8], [0.5]])
    probs = members + 1e-9 * rng.normal(size=(5, 70))
    idx, _ = BALPMQueryStrategy(scaling="tiebreak", k=5, device="cpu")(FixedProbs(probs), X, 8)
    entropy_only, _ = EntropyOnlyQueryStrategy(k=5, device="cpu")(
        None, X, 8, prompt_features=X[:, 6:]
    )
    assert idx.tolist() == entropy_only.tolist()
    assert idx.tolist() != BALDQueryStrategy()(FixedProbs(probs), X, 8)[0].tolist()


@pytest.mark.parametrize("scaling", ["standardize", "rank", "tiebreak"])
def test_scale_free_modes_pick_distinct_rows_and_report(scaling):
    X = make_pool(n=40)
    clf = LinearRewardEnsemble().fit(X)
    strategy = BALPMQueryStrategy(scaling=scaling, device="cpu")
    idx, _ = strategy(clf, X, 40)
    assert sorted(idx.tolist()) == list(range(40))
    assert len(strategy.last_components_.bald) == 40


@pytest.mark.parametrize(
    "params, match",
    [
        ({"scaling": "zscore"}, "scaling must be one of"),
        ({"scaling": "rank", "relative_beta": -1.0}, "relative_beta"),
        ({"scaling": "standardize", "relative_beta": np.nan}, "relative_beta"),
    ],
)
def test_bad_scaling_parameters(params, match):
    X = make_pool(n=20)
    clf = LinearRewardEnsemble().fit(X)
    with pytest.raises(ValueError, match=match):
        BALPMQueryStrategy(**params, device="cpu")(clf, X, 2)
