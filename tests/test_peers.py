"""Peer checks: the strategies against the libraries users know, on the same inputs.

Same picks where both are deterministic or draw from the same generator, else the same
score values (within Monte Carlo error where both sample). The peers are test-only (the
``peers`` extra; batchbald_redux is installed without its dependencies, see .ci/run); CI
runs this file in the environment that installs them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skbalpm.acquisition import bald, batchbald_batch

pytestmark = pytest.mark.slow  # batchbald_redux takes seconds on a 2-core box


def _log_probs_NKC(probs_KN):
    """Member probabilities of the two outcomes as batchbald_redux takes them."""
    probs_NK = torch.as_tensor(probs_KN.T, dtype=torch.float64)
    return torch.log(torch.stack([probs_NK, 1.0 - probs_NK], dim=-1))


def random_probs(n_members, n, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(1, n)) + 2.0 * rng.normal(size=(n_members, n))
    return np.clip(1.0 / (1.0 + np.exp(-logits)), 1e-6, 1 - 1e-6)


@pytest.mark.parametrize("n_members, n, batch_size, seed", [(5, 200, 9, 0), (3, 400, 10, 1)])
def test_batchbald_matches_batchbald_redux_in_the_exact_regime(n_members, n, batch_size, seed):
    redux = pytest.importorskip("batchbald_redux.batchbald", reason="needs the `peers` extra")
    probs = random_probs(n_members, n, seed)
    # 2^(batch_size - 1) configurations at most: both enumerate them all
    theirs = redux.get_batchbald_batch(
        _log_probs_NKC(probs), batch_size, num_samples=2**batch_size, dtype=torch.float64
    )
    idx, scores = batchbald_batch(probs, batch_size, num_samples=2**batch_size, device="cpu")
    assert idx.tolist() == theirs.indices
    np.testing.assert_allclose(scores, theirs.scores, rtol=1e-9)


def test_batchbald_matches_batchbald_redux_past_exact_enumeration():
    # 2^9 configurations are enumerated, then both draw 512 (the draws differ): the same
    # picks while exact, then scores within Monte Carlo error (batchbald_redux estimates
    # the whole joint entropy afresh at each step, about 0.03 nats off at 512 draws)
    redux = pytest.importorskip("batchbald_redux.batchbald", reason="needs the `peers` extra")
    probs = random_probs(6, 100, seed=2)
    torch.manual_seed(0)  # batchbald_redux draws with torch's global generator
    theirs = redux.get_batchbald_batch(
        _log_probs_NKC(probs), 12, num_samples=512, dtype=torch.float64
    )
    idx, scores = batchbald_batch(probs, 12, num_samples=512, device="cpu", random_state=0)
    assert idx[:10].tolist() == theirs.indices[:10]
    np.testing.assert_allclose(scores[:10], theirs.scores[:10], rtol=1e-9)
    np.testing.assert_allclose(scores[10:], theirs.scores[10:], atol=0.1)


def test_bald_matches_batchbald_redux():
    redux = pytest.importorskip("batchbald_redux.batchbald", reason="needs the `peers` extra")
    probs = random_probs(5, 500, seed=3)
    theirs = redux.get_bald_batch(_log_probs_NKC(probs), 20, dtype=torch.float64)
    ours = bald(probs)
    assert np.argsort(-ours, kind="stable")[:20].tolist() == theirs.indices
    np.testing.assert_allclose(ours[theirs.indices], theirs.scores, rtol=1e-9)


def test_badge_matches_scikit_activeml_where_the_origin_is_never_nearest():
    # scikit-activeml's Badge also counts the origin as a center (each squared distance is
    # capped at the embedding's squared norm); on embeddings far from the origin compared
    # with their spread that cap never binds, and both draw from the same generator
    skactiveml_base = pytest.importorskip("skactiveml.base", reason="needs the `peers` extra")
    from skactiveml.pool import Badge

    from skbalpm.acquisition import badge_batch, gradient_embeddings

    rng = np.random.default_rng(4)
    n, d, batch_size = 60, 3, 10
    features = 10.0 * np.ones(d) / np.sqrt(d) + 0.2 * rng.normal(size=(n, d))
    p_a = rng.uniform(0.55, 0.7, size=n)  # every pair: response_a predicted

    class FixedEmbeddings(skactiveml_base.SkactivemlClassifier):
        def fit(self, X, y, sample_weight=None):
            return self

        def predict_proba(self, X, return_embeddings=False):
            proba = np.column_stack([p_a, 1.0 - p_a])
            return (proba, features) if return_embeddings else proba

    clf = FixedEmbeddings(classes=[0, 1])
    batches = []
    for seed in range(3):
        badge = Badge(clf_embedding_flag_name="return_embeddings", random_state=seed)
        theirs = badge.query(
            np.zeros((n, d)), np.full(n, np.nan), clf, fit_clf=False, batch_size=batch_size
        )
        # their generator: seeded from the seed and the number of unlabelled rows
        derived = (np.random.RandomState(seed).randint(1, 2**31) * (n + 1)) % 2**31
        logits = np.log(p_a / (1.0 - p_a))[None, :]
        idx, _ = badge_batch(
            gradient_embeddings(features[None], logits), batch_size, random_state=derived
        )
        assert idx.tolist() == list(theirs)
        batches.append(idx.tolist())
    assert batches[0] != batches[1]  # the draws matter: the same picks are no accident
