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


# --- cold start and diversity: TypiClust, ProbCover, core-set against scikit-activeml ------


def _skactiveml_pool():
    return pytest.importorskip("skactiveml.pool", reason="needs the `peers` extra")


def _clumped_prompts(n, d, n_clumps, seed):
    """Prompt features in clumps of different sizes (distinct cluster sizes: no ties)."""
    rng = np.random.default_rng(seed)
    weights = np.arange(1, n_clumps + 1, dtype=float)
    sizes = rng.multinomial(n - 3 * n_clumps, weights / weights.sum()) + 3
    centers = 4.0 * rng.normal(size=(n_clumps, d))
    return np.vstack([c + rng.normal(size=(m, d)) for c, m in zip(centers, sizes, strict=True)])


@pytest.mark.parametrize("n_acquired, batch_size, seed", [(0, 6, 0), (5, 4, 1), (12, 8, 2)])
def test_typiclust_matches_scikit_activeml(n_acquired, batch_size, seed):
    # the same k-means (same rows, order and seed): the same clusters. scikit-activeml
    # visits the uncovered clusters from the largest, breaking size ties at random, so the
    # batches are compared as sets where no two candidate clusters tie at the cut
    pool_mod = _skactiveml_pool()
    from skbalpm.acquisition import typiclust_batch
    from skbalpm.acquisition._typiclust import kmeans_labels

    X = _clumped_prompts(120 + n_acquired, 3, 10, seed)
    n_pool = 120
    y = np.full(len(X), np.nan)
    y[n_pool:] = np.arange(n_acquired) % 2
    labels = kmeans_labels(X, n_acquired + batch_size, seed)
    uncovered = np.setdiff1d(labels[:n_pool], labels[n_pool:])
    sizes = np.sort(np.bincount(labels)[uncovered])[::-1]
    assert len(sizes) == batch_size or sizes[batch_size - 1] != sizes[batch_size]

    theirs = pool_mod.TypiClust(random_state=seed, k=5)
    their_idx, utilities = theirs.query(X, y, batch_size=batch_size, return_utilities=True)
    idx, scores = typiclust_batch(
        X[:n_pool], batch_size, acquired_AD=X[n_pool:], k=5, random_state=seed
    )
    assert sorted(idx.tolist()) == sorted(their_idx.tolist())
    their_scores = {int(i): utilities[b, i] for b, i in enumerate(their_idx)}
    # theirs: k / (sum of distances + 1e-7); ours: 1 / mean distance
    np.testing.assert_allclose(scores, [their_scores[int(i)] for i in idx], rtol=1e-6)


# a single radius: scikit-activeml skips its purity search and warns that it found none
@pytest.mark.filterwarnings("ignore:The maximum purity was:UserWarning")
@pytest.mark.parametrize("n_acquired, delta, seed", [(0, 1.0, 5), (6, 1.2, 5), (10, 0.8, 11)])
def test_probcover_matches_scikit_activeml_at_a_given_radius(n_acquired, delta, seed):
    # Both break ties among the largest gains at random (different generators): the
    # same picks while the largest gain is unique (data chosen so that it is for the
    # first picks); at every step, from their batch so far, our largest gain is theirs
    pool_mod = _skactiveml_pool()
    from skbalpm.acquisition import probcover_batch

    X = _clumped_prompts(150 + n_acquired, 2, 6, seed)
    n_pool, batch_size = 150, 10
    y = np.full(len(X), np.nan)
    y[n_pool:] = np.arange(n_acquired) % 2
    theirs = pool_mod.ProbCover(deltas=[delta], random_state=seed)
    their_idx, utilities = theirs.query(X, y, batch_size=batch_size, return_utilities=True)
    unique = [np.sum(u == np.nanmax(u)) == 1 for u in utilities]
    n_same = unique.index(False) if False in unique else batch_size
    assert n_same >= 3
    idx, scores = probcover_batch(
        X[:n_pool], batch_size, delta=delta, acquired_AD=X[n_pool:], random_state=seed
    )
    assert idx[:n_same].tolist() == their_idx[:n_same].tolist()
    np.testing.assert_array_equal(scores[:n_same], np.nanmax(utilities[:n_same], axis=1))
    for b in range(batch_size):
        acquired = np.vstack([X[n_pool:], X[their_idx[:b]]])
        _, gain = probcover_batch(
            np.delete(X[:n_pool], their_idx[:b], axis=0), 1, delta=delta, acquired_AD=acquired
        )
        assert gain[0] == np.nanmax(utilities[b])


def test_probcover_radius_is_scikit_activeml_s_grid_radius():
    # scikit-activeml tries a grid of radii (the largest with purity >= alpha); ours is
    # computed exactly, so theirs is the largest grid value not above ours
    pool_mod = _skactiveml_pool()
    from skbalpm.acquisition import probcover_radius

    X = _clumped_prompts(200, 2, 5, seed=6)
    grid = np.round(np.arange(0.05, 3.0, 0.05), 2)
    for alpha, n_clusters in [(0.95, 5), (0.9, 3), (0.99, 8)]:
        theirs = pool_mod.ProbCover(deltas=grid, alpha=alpha, n_classes=n_clusters, random_state=0)
        theirs.query(X, np.full(len(X), np.nan), batch_size=1)
        ours = probcover_radius(X, n_clusters=n_clusters, purity=alpha, random_state=0)
        assert grid[0] <= ours
        assert theirs.delta_max_ == grid[grid <= ours].max()


def test_coreset_matches_scikit_activeml():
    pool_mod = _skactiveml_pool()
    from skbalpm.acquisition import CoresetQueryStrategy

    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 5))
    n_pool, batch_size = 190, 12
    y = np.full(len(X), np.nan)
    y[n_pool:] = 1
    their_idx, utilities = pool_mod.CoreSet(random_state=0).query(
        X, y, batch_size=batch_size, return_utilities=True
    )
    idx, scores = CoresetQueryStrategy()(
        None,
        X[:n_pool],
        batch_size,
        prompt_features=X[:n_pool],
        acquired_prompt_features=X[n_pool:],
    )
    assert idx.tolist() == their_idx.tolist()
    np.testing.assert_allclose(scores, utilities[np.arange(batch_size), their_idx], rtol=1e-9)


def test_batchbald_matches_scikit_activeml_in_the_exact_regime():
    skactiveml_pool = pytest.importorskip("skactiveml.pool", reason="needs the `peers` extra")
    probs = random_probs(5, 150, seed=3)
    batch_size = 8
    probas_KNC = np.stack([probs, 1.0 - probs], axis=-1)  # they clip it in place: a copy
    # enough Monte Carlo samples that both enumerate every configuration of the batch
    utilities = skactiveml_pool.batch_bald(
        probas_KNC.copy(), batch_size, n_MC_samples=2**batch_size * 5, random_state=0
    )
    theirs = np.nanargmax(utilities, axis=1)
    idx, scores = batchbald_batch(probs, batch_size, num_samples=2**batch_size * 5, device="cpu")
    assert idx.tolist() == theirs.tolist()
    np.testing.assert_allclose(scores, utilities[np.arange(batch_size), theirs], rtol=1e-7)
