"""BatchBALD for pairs against brute force: every label configuration enumerated."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skbalpm.acquisition import BatchBALDQueryStrategy, bald, batchbald_batch


def joint_mutual_information(probs_KN, rows):
    """I(y_rows; member) by enumerating the 2^n label configurations, float64 loops."""
    n_members = probs_KN.shape[0]
    joint_entropy = 0.0
    for labels in itertools.product((0, 1), repeat=len(rows)):
        p = 0.0
        for k in range(n_members):
            p_k = 1.0
            for row, label in zip(rows, labels, strict=True):
                q = float(probs_KN[k, row])
                p_k *= q if label == 0 else 1.0 - q
            p += p_k / n_members
        if p > 0:
            joint_entropy -= p * math.log(p)

    def h(q):
        return -sum(v * math.log(v) for v in (q, 1.0 - q) if v > 0)

    conditional = sum(
        sum(h(float(probs_KN[k, row])) for k in range(n_members)) / n_members for row in rows
    )
    return joint_entropy - conditional


def brute_force_greedy(probs_KN, n_pick):
    picks, scores = [], []
    for _ in range(n_pick):
        candidates = [i for i in range(probs_KN.shape[1]) if i not in picks]
        values = [joint_mutual_information(probs_KN, [*picks, i]) for i in candidates]
        best = int(np.argmax(values))  # ties: the lowest row
        picks.append(candidates[best])
        scores.append(values[best])
    return picks, scores


def random_probs(n_members, n, seed, spread=3.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(1, n)) + spread * rng.normal(size=(n_members, n))
    return 1.0 / (1.0 + np.exp(-logits))


@pytest.mark.parametrize("lazy", [True, False])
@pytest.mark.parametrize("n_members, n, n_pick, seed", [(4, 12, 6, 0), (2, 10, 5, 1), (5, 9, 7, 2)])
def test_exact_regime_matches_brute_force_pick_by_pick(n_members, n, n_pick, seed, lazy):
    probs = random_probs(n_members, n, seed)
    idx, scores = batchbald_batch(probs, n_pick, lazy=lazy, device="cpu")
    ref_idx, ref_scores = brute_force_greedy(probs, n_pick)
    assert idx.tolist() == ref_idx
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-9, atol=1e-12)


def test_first_pick_is_bald_and_scores_grow():
    probs = random_probs(5, 300, seed=3)
    idx, scores = batchbald_batch(probs, 20, device="cpu")
    b = bald(probs)
    assert idx[0] == int(np.argmax(b)) and scores[0] == pytest.approx(b.max(), rel=1e-12)
    assert (np.diff(scores) >= -1e-12).all() and len(set(idx.tolist())) == 20
    # the joint information of the batch is at most the sum of the picks' BALD
    assert scores[-1] <= b[idx].sum() + 1e-12


def test_small_chunks_and_lazy_evaluation_change_nothing():
    probs = random_probs(5, 400, seed=4)
    reference = batchbald_batch(probs, 12, lazy=False, device="cpu")
    for kwargs in ({"chunk_size": 1}, {"chunk_size": 300}, {}):
        idx, scores = batchbald_batch(probs, 12, device="cpu", **kwargs)
        assert idx.tolist() == reference[0].tolist()
        np.testing.assert_allclose(scores, reference[1], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_configurations_estimate_the_joint_information(seed):
    # 2^9 configurations are enumerated; the last five picks use 512 drawn ones. Drawing
    # each configuration's labels from one member is what makes the estimate unbiased:
    # labels drawn from the members' mean are off by 0.02 to 0.08 nats here.
    probs = random_probs(4, 16, seed=5, spread=2.0)
    idx, scores = batchbald_batch(probs, 14, num_samples=512, device="cpu", random_state=seed)
    exact = [joint_mutual_information(probs, idx[: b + 1].tolist()) for b in range(14)]
    np.testing.assert_allclose(scores[:10], exact[:10], rtol=1e-9)  # still exact here
    np.testing.assert_allclose(scores[10:], exact[10:], atol=0.012)
    again = batchbald_batch(probs, 14, num_samples=512, device="cpu", random_state=seed)
    assert again[0].tolist() == idx.tolist()  # seeded
    np.testing.assert_array_equal(again[1], scores)


def test_certain_members_and_copies():
    # probabilities 0 and 1 (log 0) give no NaN; exact copies of a pick add nothing
    probs = np.array([[1.0, 1.0, 0.0, 0.7], [0.0, 0.0, 1.0, 0.2], [1.0, 1.0, 1.0, 0.5]])
    idx, scores = batchbald_batch(probs, 4, device="cpu")
    assert np.isfinite(scores).all() and sorted(idx.tolist()) == [0, 1, 2, 3]
    ref_idx, ref_scores = brute_force_greedy(probs, 4)
    assert idx.tolist() == ref_idx
    np.testing.assert_allclose(scores, ref_scores, atol=1e-12)
    copy_gain = scores[idx.tolist().index(1)] - scores[idx.tolist().index(1) - 1]
    assert idx.tolist().index(1) > idx.tolist().index(0) and copy_gain == pytest.approx(0.0)


@settings(max_examples=25, deadline=None)
@given(
    probs=arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 7)),
        elements=st.floats(0.0, 1.0),
    ),
    data=st.data(),
)
def test_property_greedy_on_exact_joint_information(probs, data):
    n_pick = data.draw(st.integers(1, probs.shape[1]))
    idx, scores = batchbald_batch(probs, n_pick, device="cpu")
    assert len(set(idx.tolist())) == n_pick and np.isfinite(scores).all()
    for b in range(n_pick):  # each score is the exact information of the prefix
        prefix = joint_mutual_information(probs, idx[: b + 1].tolist())
        assert scores[b] == pytest.approx(prefix, abs=1e-9)
        # and no other candidate would have given more (up to rounding)
        others = [i for i in range(probs.shape[1]) if i not in idx[:b].tolist()]
        best = max(joint_mutual_information(probs, [*idx[:b].tolist(), i]) for i in others)
        assert scores[b] >= best - 1e-9


def test_strategy_is_the_function_and_checks_parameters():
    probs = random_probs(5, 60, seed=6)

    class Fixed:
        def predict_member_proba(self, X):
            return probs

    idx, scores = BatchBALDQueryStrategy(device="cpu")(Fixed(), np.zeros((60, 3)), 5)
    ref = batchbald_batch(probs, 5, device="cpu")
    assert idx.tolist() == ref[0].tolist()
    np.testing.assert_array_equal(scores, ref[1])
    for name, value in [("num_samples", 0), ("lazy", "yes"), ("chunk_size", 0)]:
        with pytest.raises(ValueError, match=rf"BatchBALDQueryStrategy: {name} must"):
            BatchBALDQueryStrategy(**{name: value})(Fixed(), np.zeros((60, 3)), 5)
    with pytest.raises(ValueError, match="n_instances"):
        batchbald_batch(probs, 61)
