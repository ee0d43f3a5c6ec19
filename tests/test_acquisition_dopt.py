"""D-optimal design of the Bradley–Terry head against brute force (numpy.linalg.slogdet)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import expit

from skbalpm import DOptimalQueryStrategy, PreferenceEnsembleClassifier
from skbalpm.acquisition import fisher_logdet_batch
from skbalpm.datasets import make_synthetic_preferences


def information_logdet(features_HND, weights_HN, rows, ridge, acquired=None):
    """sum_h log det(M_0h + sum_{x in rows} v_hx d_hx d_hx^T), straight from slogdet."""
    total = 0.0
    for h, (features, weights) in enumerate(zip(features_HND, weights_HN, strict=True)):
        matrix = ridge * np.eye(features.shape[1])
        if acquired is not None:
            features_A, weights_A = acquired[0][h], acquired[1][h]
            for d, v in zip(features_A, weights_A, strict=True):
                matrix += v * np.outer(d, d)
        for x in rows:
            matrix += weights[x] * np.outer(features[x], features[x])
        sign, logdet = np.linalg.slogdet(matrix)
        assert sign > 0
        total += logdet
    return total


def random_design(n_heads, n, d, seed):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_heads, n, d))
    weights = expit(rng.normal(size=(n_heads, n)) * 2)
    return features, weights * (1 - weights)


@pytest.mark.parametrize(
    "n_heads, n, d, n_pick, ridge, seed",
    [(1, 10, 3, 4, 1e-6, 0), (2, 9, 4, 5, 0.5, 1), (3, 8, 2, 6, 1.0, 2), (1, 12, 6, 6, 1e-3, 3)],
)
def test_scores_are_slogdet_gains_and_picks_are_greedy(n_heads, n, d, n_pick, ridge, seed):
    features, weights = random_design(n_heads, n, d, seed)
    idx, scores = fisher_logdet_batch(features, weights, n_pick, ridge=ridge)
    base = information_logdet(features, weights, [], ridge)
    picks = []
    for t in range(n_pick):
        candidates = [x for x in range(n) if x not in picks]
        values = [information_logdet(features, weights, [*picks, x], ridge) for x in candidates]
        picks.append(candidates[int(np.argmax(values))])
        assert idx[t] == picks[-1]
        np.testing.assert_allclose(scores[t], max(values) - base, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_greedy_meets_its_guarantee_against_the_best_subset(seed):
    # log det(I + K_S) is monotone submodular and 0 on the empty set: greedy reaches at
    # least (1 - 1/e) of the best subset's value (Nemhauser et al., 1978)
    features, weights = random_design(2, 10, 3, seed)
    ridge, n_pick = 0.1, 4
    base = information_logdet(features, weights, [], ridge)
    best = max(
        information_logdet(features, weights, list(rows), ridge) - base
        for rows in itertools.combinations(range(10), n_pick)
    )
    _, scores = fisher_logdet_batch(features, weights, n_pick, ridge=ridge)
    assert (1 - 1 / np.e) * best <= scores[-1] <= best + 1e-9


def test_past_aware_counts_the_acquired_pairs():
    features, weights = random_design(2, 12, 3, seed=7)
    acquired = random_design(2, 5, 3, seed=8)
    idx, scores = fisher_logdet_batch(
        features,
        weights,
        5,
        acquired_features_HAD=acquired[0],
        acquired_weights_HA=acquired[1],
        ridge=1e-6,
    )
    base = information_logdet(features, weights, [], 1e-6, acquired)
    for t in range(5):
        value = information_logdet(features, weights, idx[: t + 1].tolist(), 1e-6, acquired)
        np.testing.assert_allclose(scores[t], value - base, rtol=1e-8)
    # a pair along an acquired direction is worth less once that direction is known
    plain = fisher_logdet_batch(features, weights, 5, ridge=1e-6)
    assert scores[0] < plain[1][0]


def test_small_blocks_and_list_of_heads_change_nothing():
    features, weights = random_design(2, 40, 5, seed=9)
    reference = fisher_logdet_batch(features, weights, 8)
    for kwargs in ({"chunk_size": 1}, {"chunk_size": 7}):
        idx, scores = fisher_logdet_batch(list(features), weights, 8, **kwargs)
        assert idx.tolist() == reference[0].tolist()
        np.testing.assert_allclose(scores, reference[1], rtol=1e-12)


def test_bad_input_is_refused():
    features, weights = random_design(1, 5, 2, seed=0)
    with pytest.raises(ValueError, match="ridge"):
        fisher_logdet_batch(features, weights, 2, ridge=0.0)
    with pytest.raises(ValueError, match="weights_HN"):
        fisher_logdet_batch(features, weights[:, :4], 2)
    with pytest.raises(ValueError, match=">= 0"):
        fisher_logdet_batch(features, -weights, 2)
    with pytest.raises(ValueError, match="NaN"):
        fisher_logdet_batch(features * np.nan, weights, 2)
    with pytest.raises(ValueError, match="n_instances"):
        fisher_logdet_batch(features, weights, 6)


@pytest.mark.parametrize("method", ["laplace", "deep-ensemble"])
@pytest.mark.parametrize("past_aware", [False, True])
def test_strategy_designs_on_the_classifiers_last_layer(method, past_aware):
    data = make_synthetic_preferences(n_samples=160, n_features=4, random_state=0)
    clf = PreferenceEnsembleClassifier(
        method=method,
        n_members=3,
        n_random_features=16,
        hidden_layer_sizes=(8,),
        max_epochs=5,
        feature_layout=data.feature_layout,
        random_state=0,
    ).fit(data.X[:40], data.y[:40])
    pool, acquired = data.X[40:], data.X[:40]
    idx, scores = DOptimalQueryStrategy(past_aware=past_aware)(clf, pool, 6, X_acquired=acquired)
    features, logits = clf.predict_last_layer(pool)
    assert features.shape[0] == (1 if method == "laplace" else 3)
    p = expit(logits)
    kwargs = {}
    if past_aware:
        features_A, logits_A = clf.predict_last_layer(acquired)
        p_A = expit(logits_A)
        kwargs = {"acquired_features_HAD": features_A, "acquired_weights_HA": p_A * (1 - p_A)}
    expected = fisher_logdet_batch(features, p * (1 - p), 6, **kwargs)
    assert idx.tolist() == expected[0].tolist()
    np.testing.assert_allclose(scores, expected[1])


def test_strategy_needs_a_last_layer():
    class MembersOnly:
        def predict_member_proba(self, X):
            return np.full((2, len(X)), 0.5)

    with pytest.raises(TypeError, match="predict_last_layer"):
        DOptimalQueryStrategy()(MembersOnly(), np.zeros((5, 6)), 2)
