"""EPIG: hand-checked values, brute-force joint tables, information bounds, the strategy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import FixedProbs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skbalpm import EPIGQueryStrategy, PreferenceEnsembleClassifier
from skbalpm.acquisition import bald, epig_scores
from skbalpm.benchmark import make_strategy
from skbalpm.datasets import make_synthetic_preferences

# the strategies' own acquired-set warning is not the subject here
pytestmark = pytest.mark.filterwarnings("ignore:.*without an acquired set:UserWarning")


def brute_force_epig(probs_MN, probs_MT):
    """Mean over targets of I(y; y*) from the explicit 2 x 2 joint table, with loops."""
    n_members, n_pool = probs_MN.shape
    scores = []
    for n in range(n_pool):
        total = 0.0
        for t in range(probs_MT.shape[1]):
            joint = np.zeros((2, 2))
            for m in range(n_members):
                p, q = probs_MN[m, n], probs_MT[m, t]
                joint += np.outer([p, 1 - p], [q, 1 - q]) / n_members
            a, b = joint.sum(axis=1), joint.sum(axis=0)
            total += sum(
                joint[i, j] * math.log(joint[i, j] / (a[i] * b[j]))
                for i in (0, 1)
                for j in (0, 1)
                if joint[i, j] > 0
            )
        scores.append(total / probs_MT.shape[1])
    return np.array(scores)


# --- the pure function ----------------------------------------------------------------------


def test_hand_checked_values():
    # two members sure of opposite answers on both pairs: y* copies y, I = H(y) = log 2
    assert epig_scores([[1.0], [0.0]], [[1.0], [0.0]])[0] == pytest.approx(math.log(2))
    # ... on the pool pair only, the target a coin for both: nothing to learn about it
    assert epig_scores([[1.0], [0.0]], [[0.5], [0.5]])[0] == 0.0
    # p = (0.9, 0.1), q = (0.8, 0.2): joint [[0.37, 0.13], [0.13, 0.37]], marginals 1/2
    expected = 2 * 0.37 * math.log(0.37 / 0.25) + 2 * 0.13 * math.log(0.13 / 0.25)
    assert epig_scores([[0.9], [0.1]], [[0.8], [0.2]])[0] == pytest.approx(expected, rel=1e-12)
    # two targets: the mean of the two gains
    two = epig_scores([[0.9], [0.1]], [[0.8, 0.5], [0.2, 0.5]])[0]
    assert two == pytest.approx(expected / 2, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 2**16])
def test_chunked_function_matches_explicit_joint_tables(seed, chunk_size):
    rng = np.random.default_rng(seed)
    probs_MN = rng.uniform(size=(4, 13))
    probs_MT = rng.uniform(size=(4, 6))
    probs_MN[:, 0] = rng.choice([0.0, 1.0], size=4)  # sure members
    probs_MN[:, 1] = 0.3  # members that agree
    probs_MN[:, 2] = [0.0, 0.0, 0.0, 1e-300]  # a marginal next to 0
    probs_MT[:, 0] = probs_MN[:, 3]  # a target equal to a pool pair
    got = epig_scores(probs_MN, probs_MT, chunk_size=chunk_size)
    np.testing.assert_allclose(got, brute_force_epig(probs_MN, probs_MT), rtol=1e-10, atol=1e-15)


def test_small_gains_keep_their_digits():
    # members within 1e-6 of each other: I = c^2 / (2 a(1-a) b(1-b)) to leading order,
    # which the explicit table's sum of +-1e-6 terms would lose to rounding
    rng = np.random.default_rng(0)
    deviation_M = 1e-6 * rng.normal(size=5)
    deviation_M -= deviation_M.mean()
    p, q = 0.3 + deviation_M, 0.6 - 2 * deviation_M
    covariance = np.mean(deviation_M * (-2 * deviation_M))
    leading = covariance**2 / (2 * 0.3 * 0.7 * 0.6 * 0.4)
    got = epig_scores(p[:, None], q[:, None])[0]
    assert got == pytest.approx(leading, rel=1e-5)


probs_pair = st.integers(1, 6).flatmap(
    lambda n_members: st.tuples(
        arrays(np.float64, (n_members, 3), elements=st.floats(0.0, 1.0)),
        arrays(np.float64, (n_members, 2), elements=st.floats(0.0, 1.0)),
    )
)


@settings(max_examples=60, deadline=None)
@given(probs=probs_pair)
def test_information_bounds(probs):
    probs_MN, probs_MT = probs
    scores = epig_scores(probs_MN, probs_MT)
    assert (scores >= 0).all() and (scores <= math.log(2) + 1e-12).all()
    # y - member - y*: each gain is at most either label's BALD (data processing)
    bound_N = np.minimum(bald(probs_MN)[:, None], bald(probs_MT)[None, :]).mean(axis=1)
    assert (scores <= bound_N + 1e-12).all()
    # I(y; y*) = I(y*; y), and the members' order does not matter
    for n in range(3):
        for t in range(2):
            forward = epig_scores(probs_MN[:, [n]], probs_MT[:, [t]])[0]
            backward = epig_scores(probs_MT[:, [t]], probs_MN[:, [n]])[0]
            assert forward == pytest.approx(backward, rel=1e-9, abs=1e-15)
    reversed_members = epig_scores(probs_MN[::-1], probs_MT[::-1])
    np.testing.assert_allclose(reversed_members, scores, rtol=1e-9, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    p=st.floats(0.0, 1.0),
    probs_MT=arrays(np.float64, (3, 4), elements=st.floats(0.0, 1.0)),
)
def test_zero_where_the_members_agree(p, probs_MT):
    assert epig_scores(np.full((3, 1), p), probs_MT)[0] == 0.0
    assert (epig_scores(probs_MT, np.full((3, 2), p)) == 0.0).all()


@pytest.mark.parametrize(
    ("probs_MN", "probs_MT", "kwargs", "match"),
    [
        (np.full((2, 3), 0.5), np.full((3, 2), 0.5), {}, "same members"),
        (np.full((2, 3), 0.5), np.full((2, 0), 0.5), {}, "at least one target"),
        (np.full((2, 3), 1.5), np.full((2, 2), 0.5), {}, r"\[0, 1\]"),
        (np.full((2, 3), 0.5), np.full((2, 2), np.nan), {}, "NaN"),
        (np.full((2, 3), 0.5), np.full((2, 2), 0.5), {"chunk_size": 0}, "chunk_size"),
        (np.full((2, 3), 0.5), np.full((2, 2), 0.5), {"chunk_size": 2.0}, "chunk_size"),
    ],
)
def test_bad_input_is_refused(probs_MN, probs_MT, kwargs, match):
    with pytest.raises(ValueError, match=match):
        epig_scores(probs_MN, probs_MT, **kwargs)


# --- the strategy ---------------------------------------------------------------------------


def test_epig_prefers_what_informs_the_targets_where_bald_does_not():
    # Four members. Row 0 splits them (0, 2) against (1, 3): the largest BALD, but no
    # other row splits them that way, so its label tells nothing about the others'.
    # Rows 1..19 split them (0, 1) against (2, 3); every row is a target.
    # By hand: EPIG(row 0) = I(row 0; itself) / 20 = 0.596 / 20 = 0.030, and
    # EPIG(rows 1..19) = 19/20 I(row 1; row 2) = 19/20 * 0.0663 = 0.063.
    pattern_a, pattern_b = [0.99, 0.01, 0.99, 0.01], [0.8, 0.8, 0.2, 0.2]
    probs = np.column_stack([pattern_a] + [pattern_b] * 19)
    assert int(np.argmax(bald(probs))) == 0
    idx, scores = EPIGQueryStrategy(n_targets=20)(FixedProbs(probs), np.zeros((20, 3)), 2)
    assert idx.tolist() == [1, 2]  # ties among the copies: the lowest rows
    assert scores[0] == pytest.approx(19 / 20 * 0.0663, abs=1e-4)
    assert epig_scores(probs, probs)[0] == pytest.approx(0.596 / 20, abs=1e-4)


@pytest.fixture(scope="module")
def fitted():
    data = make_synthetic_preferences(n_samples=160, n_features=4, random_state=0)
    clf = PreferenceEnsembleClassifier(
        n_members=5, n_random_features=16, feature_layout=data.feature_layout, random_state=0
    ).fit(data.X[:40], data.y[:40])
    return clf, data.X[40:]


def test_strategy_scores_a_uniform_sample_of_pool_targets(fitted):
    clf, pool = fitted
    probs_MN = clf.predict_member_proba(pool)
    assert probs_MN.std(axis=0).max() > 0.01  # the members disagree
    strategy = EPIGQueryStrategy(n_targets=30, random_state=3)
    rng = np.random.RandomState(3)
    for _ in range(2):  # rounds: fresh targets from the one generator
        idx, scores = strategy(clf, pool, n_instances=6)
        targets = rng.choice(len(pool), 30, replace=False)
        expected = epig_scores(probs_MN, probs_MN[:, targets])
        assert idx.tolist() == np.argsort(-expected, kind="stable")[:6].tolist()
        np.testing.assert_allclose(scores, expected[idx], rtol=1e-12)


def test_strategy_draws_targets_from_x_target_when_given(fitted):
    clf, pool = fitted
    X_target = pool[:25] + 0.1
    probs_MN = clf.predict_member_proba(pool)
    expected = epig_scores(probs_MN, clf.predict_member_proba(X_target))
    # n_targets >= the rows there: every target row, whatever the seed
    idx, scores = EPIGQueryStrategy(X_target=X_target, n_targets=25)(clf, pool, 4)
    assert idx.tolist() == np.argsort(-expected, kind="stable")[:4].tolist()
    np.testing.assert_allclose(scores, expected[idx], rtol=1e-12)
    # fewer: a uniform draw of its rows
    rows = np.random.RandomState(0).choice(25, 10, replace=False)
    sampled = epig_scores(probs_MN, clf.predict_member_proba(X_target[rows]))
    _, scores = EPIGQueryStrategy(X_target=X_target, n_targets=10, random_state=0)(clf, pool, 3)
    np.testing.assert_allclose(scores, np.sort(sampled)[::-1][:3], rtol=1e-12)


def test_stochastic_epig_spec_draws_targets_then_noise_from_its_seed(fitted):
    clf, pool = fitted
    probs_MN = clf.predict_member_proba(pool)
    strategy = make_strategy("stochastic(epig(n_targets=20), mode=power, beta=2, random_state=5)")
    rng = np.random.RandomState(5)
    rounds = []
    for _ in range(2):
        idx, scores = strategy(clf, pool, n_instances=5)
        targets = rng.choice(len(pool), 20, replace=False)
        key = np.log(epig_scores(probs_MN, probs_MN[:, targets])) + rng.gumbel(0, 0.5, len(pool))
        assert idx.tolist() == np.argsort(-key, kind="stable")[:5].tolist()
        np.testing.assert_allclose(scores, key[idx], rtol=1e-12)
        rounds.append(idx.tolist())
    assert rounds[0] != rounds[1]
    # the plain spec of the issue builds and picks distinct rows
    idx, _ = make_strategy('stochastic(epig, mode="power", random_state=0)')(clf, pool, 5)
    assert len(set(idx.tolist())) == 5


def test_wrapped_epig_with_its_own_seed_keeps_it(fitted):
    clf, pool = fitted
    probs_MN = clf.predict_member_proba(pool)
    strategy = make_strategy("stochastic(epig(n_targets=20, random_state=9), random_state=1)")
    _, scores = strategy(clf, pool, n_instances=3)
    targets = np.random.RandomState(9).choice(len(pool), 20, replace=False)
    key = np.log(epig_scores(probs_MN, probs_MN[:, targets]))
    key += np.random.RandomState(1).gumbel(0, 1.0, len(pool))
    np.testing.assert_allclose(scores, np.sort(key)[::-1][:3], rtol=1e-12)


class MustNotBeReached:
    feature_layout = "a|b|prompt"

    def predict_member_proba(self, X):
        raise AssertionError("the pool was scored before the parameters were checked")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_targets": 0}, "n_targets must"),
        ({"n_targets": 2.5}, "n_targets must"),
        ({"chunk_size": 0}, "chunk_size must"),
        ({"X_target": "rows"}, "X_target must"),
        ({"X_target": 3.0}, "X_target must"),
        ({"X_target": np.zeros((0, 12))}, "X_target must"),
        ({"random_state": "seed"}, "random_state must"),
    ],
)
def test_bad_parameters_are_reported_before_any_work(params, match):
    with pytest.raises(ValueError, match=rf"EPIGQueryStrategy: {match}"):
        EPIGQueryStrategy(**params)(MustNotBeReached(), np.zeros((5, 12)), 2)


def test_bad_target_rows_are_reported_as_x_target(fitted):
    clf, pool = fitted
    with pytest.raises(ValueError, match=r"EPIGQueryStrategy: X_target: .*features"):
        EPIGQueryStrategy(X_target=pool[:5, :-1])(clf, pool, 2)
    with pytest.raises(ValueError, match=r"EPIGQueryStrategy: X_target: .*NaN"):
        EPIGQueryStrategy(X_target=np.full_like(pool[:5], np.nan))(clf, pool, 2)


def test_modal_active_learner_loop_with_epig():
    modal = pytest.importorskip("modAL.models", reason="needs the `modal` extra")
    data = make_synthetic_preferences(n_samples=100, n_features=4, random_state=2)
    learner = modal.ActiveLearner(
        estimator=PreferenceEnsembleClassifier(
            n_members=3, n_random_features=16, feature_layout=data.feature_layout, random_state=0
        ),
        query_strategy=EPIGQueryStrategy(n_targets=15, X_target=data.X[80:], random_state=0),
        X_training=data.X[:20],
        y_training=data.y[:20],
    )
    pool_rows = np.arange(20, 80)
    for _ in range(2):  # query, teach, query again
        idx, rows = learner.query(data.X[pool_rows], n_instances=4)
        assert len(set(np.asarray(idx).tolist())) == 4
        np.testing.assert_array_equal(rows, data.X[pool_rows[idx]])
        learner.teach(rows, data.y[pool_rows[idx]])
        pool_rows = np.delete(pool_rows, idx)
    assert len(learner.y_training) == 28
