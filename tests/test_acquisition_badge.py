"""BADGE: gradient embeddings against autograd, k-means++ seeding against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from skbalpm import BadgeQueryStrategy, PreferenceEnsembleClassifier
from skbalpm.acquisition import badge_batch, gradient_embeddings
from skbalpm.datasets import make_synthetic_preferences


@pytest.fixture(scope="module")
def deep_ensemble():
    data = make_synthetic_preferences(n_samples=140, n_features=4, random_state=1)
    clf = PreferenceEnsembleClassifier(
        method="deep-ensemble",
        n_members=3,
        hidden_layer_sizes=(6,),
        max_epochs=5,
        feature_layout=data.feature_layout,
        random_state=0,
    ).fit(data.X[:40], data.y[:40])
    return clf, data.X[40:]


def test_gradient_embeddings_are_the_heads_log_loss_gradients(deep_ensemble):
    # autograd of the Bradley-Terry log-loss at the predicted label, one member at a time
    clf, pool = deep_ensemble
    features, logits = clf.predict_last_layer(pool)
    embeddings = gradient_embeddings(features, logits)
    predicted_a = torch.as_tensor(clf.predict_proba(pool)[:, 0] >= 0.5, dtype=torch.float64)
    width = features.shape[2]
    for m in range(features.shape[0]):
        w = torch.tensor(clf.coefs_[-1][m, :, 0], dtype=torch.float64, requires_grad=True)
        for i in range(len(pool)):
            logit = torch.as_tensor(features[m, i]) @ w
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, predicted_a[i])
            (gradient,) = torch.autograd.grad(loss, w)
            np.testing.assert_allclose(
                embeddings[i, m * width : (m + 1) * width], gradient.numpy(), rtol=1e-4, atol=1e-6
            )


def reference_kmeans_pp(embeddings, n_pick, seed):
    """k-means++ seeding with loops: longest first, then draws by squared distance."""
    rng = np.random.RandomState(seed)
    n = len(embeddings)

    def sq(u, v):
        return sum((float(a) - float(b)) ** 2 for a, b in zip(u, v, strict=True))

    norms = [sq(e, np.zeros_like(e)) for e in embeddings]
    picks, scores = [int(np.argmax(norms))], [max(norms)]
    while len(picks) < n_pick:
        nearest = [min(sq(embeddings[x], embeddings[c]) for c in picks) for x in range(n)]
        weights = np.array([0.0 if x in picks else nearest[x] for x in range(n)])
        if weights.sum() == 0:
            weights = np.array([0.0 if x in picks else 1.0 for x in range(n)])
        pick = int(rng.choice(n, 1, replace=False, p=weights / weights.sum())[0])
        picks.append(pick)
        scores.append(nearest[pick])
    return picks, scores


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_pp_seeding_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(30, 4)) * rng.uniform(0.1, 2.0, size=(30, 1))
    embeddings[10:14] = embeddings[3]  # copies
    idx, scores = badge_batch(embeddings, 12, random_state=seed, chunk_size=7)
    ref_idx, ref_scores = reference_kmeans_pp(embeddings, 12, seed)
    assert idx.tolist() == ref_idx
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)


def test_second_pick_is_drawn_in_proportion_to_squared_distance():
    embeddings = np.array([[5.0, 0.0], [4.0, 0.0], [0.0, 0.0], [3.0, 3.0]])
    # after row 0: squared distances 1, 25, 13 -> probabilities 1/39, 25/39, 13/39
    counts = np.zeros(4)
    rng = np.random.RandomState(0)
    for _ in range(3500):
        idx, _ = badge_batch(embeddings, 2, random_state=rng)
        assert idx[0] == 0
        counts[idx[1]] += 1
    expected = 3500 * np.array([0.0, 1.0, 25.0, 13.0]) / 39
    assert counts[0] == 0
    # within 4 binomial standard deviations
    assert (np.abs(counts - expected) <= 4 * np.sqrt(expected * (1 - expected / 3500)) + 1e-9).all()


def test_identical_embeddings_are_drawn_uniformly_without_repeats():
    idx, scores = badge_batch(np.ones((6, 3)), 6, random_state=0)
    assert sorted(idx.tolist()) == list(range(6)) and idx[0] == 0
    assert scores[0] == 3.0 and (scores[1:] == 0).all()


def test_strategy_is_the_function_on_the_classifiers_last_layer(deep_ensemble):
    clf, pool = deep_ensemble
    idx, scores = BadgeQueryStrategy(random_state=3)(clf, pool, 8)
    expected = badge_batch(gradient_embeddings(*clf.predict_last_layer(pool)), 8, random_state=3)
    assert idx.tolist() == expected[0].tolist()
    np.testing.assert_array_equal(scores, expected[1])
    strategy = BadgeQueryStrategy(random_state=3)
    assert strategy(clf, pool, 8)[0].tolist() != strategy(clf, pool, 8)[0].tolist()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="finite"):
        badge_batch(np.full((3, 2), np.nan), 2)
    with pytest.raises(ValueError, match="n_instances"):
        badge_batch(np.ones((3, 2)), 4)
    with pytest.raises(ValueError, match="logits_HN"):
        gradient_embeddings(np.ones((1, 3, 2)), np.ones((2, 3)))
    assert math.isclose(float(badge_batch(np.eye(3), 1)[1][0]), 1.0)
