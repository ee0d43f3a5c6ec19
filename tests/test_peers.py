"""Peer checks: the strategies against the libraries users know, on the same inputs.

Same picks where both are deterministic, else the same score values (within Monte Carlo
error where both sample). The peers are test-only (the ``peers`` extra; batchbald_redux is
installed without its dependencies, see .ci/run); CI runs this file in the environment
that installs them.
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
