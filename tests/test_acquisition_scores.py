"""Pure scoring functions: hand-worked cases, properties, and float64 brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from skbalpm.acquisition import (
    bald,
    ball_counts,
    gumbel_noise,
    knn_radius,
    ksg_entropy_term,
    predictive_entropy,
)

LOG2 = math.log(2.0)
EULER_GAMMA = 0.5772156649015329


def H(p):  # binary entropy by hand, for the worked cases
    return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)


# --- BALD and predictive entropy ---------------------------------------------------------


def test_bald_hand_worked():
    # Members 0.9 and 0.1: mean 0.5 -> H = log 2; each member H(0.9) = 0.3250829734.
    expected = LOG2 - H(0.9)
    assert expected == pytest.approx(0.6931471805599453 - 0.3250829733914482)
    assert bald([[0.9], [0.1]])[0] == pytest.approx(expected, abs=1e-15)
    # Members agree: no mutual information, whatever their confidence.
    np.testing.assert_array_equal(bald([[0.3, 1.0, 0.0], [0.3, 1.0, 0.0]]), [0.0, 0.0, 0.0])
    # Three members 0, 1, 1: mean 2/3, members certain -> BALD = H(2/3).
    assert bald([[0.0], [1.0], [1.0]])[0] == pytest.approx(H(2 / 3), abs=1e-15)


def test_predictive_entropy_hand_worked():
    assert predictive_entropy([[0.9], [0.1]])[0] == pytest.approx(LOG2)
    assert predictive_entropy([[0.2], [0.4]])[0] == pytest.approx(H(0.3))
    assert predictive_entropy([[0.0], [0.0]])[0] == 0.0


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0.5, np.nan]], "NaN"),
        ([[1.5]], r"\[0, 1\]"),
        ([0.5, 0.5], "n_members"),
        ([[-0.1]], "-0.1"),
    ],
)
def test_member_probability_checks(bad, match):
    with pytest.raises(ValueError, match=match):
        bald(bad)
    with pytest.raises(ValueError, match=match):
        predictive_entropy(bad)


probs = arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 8)),
    elements=st.floats(0.0, 1.0, allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(probs)
def test_bald_properties(probs_MN):
    b = bald(probs_MN)
    h = predictive_entropy(probs_MN)
    assert np.all(b >= 0.0) and np.all(b <= LOG2 + 1e-12)
    assert np.all(h >= b - 1e-12)
    # Relabelling the classes (p -> 1 - p) changes nothing.
    np.testing.assert_allclose(bald(1.0 - probs_MN), b, atol=1e-12)
    np.testing.assert_allclose(predictive_entropy(1.0 - probs_MN), h, atol=1e-12)


# --- KSG entropy term and Gumbel noise ----------------------------------------------------


def test_ksg_entropy_term_hand_worked():
    # digamma(1) = -gamma, digamma(2) = 1 - gamma, digamma(3) = 1.5 - gamma.
    got = ksg_entropy_term([0.5, 0.5, 2.0], [0, 1, 2], d=1)
    expected = [
        math.log(1.0001) + EULER_GAMMA,
        math.log(1.0001) - (1 - EULER_GAMMA),
        math.log(4.0001) - (1.5 - EULER_GAMMA),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # d divides only the digamma part.
    assert ksg_entropy_term([0.5], [1], d=2)[0] == pytest.approx(
        math.log(1.0001) - (1 - EULER_GAMMA) / 2
    )
    with pytest.raises(ValueError, match="d must be positive"):
        ksg_entropy_term([1.0], [0], d=0)


def test_gumbel_noise_seeded_and_scaled():
    a = gumbel_noise(20000, beta=2.0, random_state=0)
    np.testing.assert_array_equal(a, gumbel_noise(20000, beta=2.0, random_state=0))
    # Gumbel(0, s): mean = s * gamma, variance = (pi s)^2 / 6, with s = 1/beta = 0.5.
    assert a.mean() == pytest.approx(0.5 * EULER_GAMMA, abs=0.02)
    assert a.var() == pytest.approx((math.pi * 0.5) ** 2 / 6, rel=0.05)
    g = gumbel_noise(5, beta=1.0, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(g, np.random.default_rng(3).gumbel(0.0, 1.0, 5))
    for beta in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="beta"):
            gumbel_noise(3, beta)


# --- k-NN radius and ball counts ---------------------------------------------------------


def brute_radius(X, k):
    X = np.asarray(X, dtype=np.float64)
    return np.sort(cdist(X, X), axis=1)[:, k - 1]


def test_knn_radius_hand_worked():
    X = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [0.0, 1.0]])
    # Distances from row 0: 0 (self), 5, 1, 1 -> k=1: 0, k=2: 1, k=3: 1, k=4: 5.
    assert knn_radius(X, k=1).tolist() == [0.0, 0.0, 0.0, 0.0]
    # Row 1 (3, 4): 5, 0 (self), sqrt(18), sqrt(18); rows 2 and 3 are duplicates.
    assert knn_radius(X, k=2).tolist() == [1.0, math.sqrt(18), 0.0, 0.0]
    assert knn_radius(X, k=3)[:2].tolist() == [1.0, math.sqrt(18)]
    assert knn_radius(X, k=4)[:2].tolist() == [5.0, 5.0]
    with pytest.raises(ValueError, match="k must be"):
        knn_radius(X, k=5)
    with pytest.raises(ValueError, match="backend"):
        knn_radius(X, k=2, backend="annoy")


def test_ball_counts_hand_worked():
    pool = np.array([[0.0, 0.0], [10.0, 0.0]])
    acquired = np.array([[3.0, 4.0], [0.0, 1.0], [10.0, 0.0], [6.0, 8.0]])
    # Pool row 0, r=5: distances 5 (on the sphere, counted), 1, 10, 10 -> 2.
    # Pool row 1, r=0: only the exact duplicate at distance 0 -> 1.
    assert ball_counts(pool, [5.0, 0.0], acquired).tolist() == [2, 1]
    assert ball_counts(pool, [5.0, 0.0], np.empty((0, 2))).tolist() == [0, 0]


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32, st.tuples(st.integers(2, 30), st.integers(1, 4)), elements=st.integers(-2, 2)
    ),
    st.integers(1, 30),
)
def test_knn_radius_equals_brute_force_on_ties(X, k):
    # Small integer grids: many exact ties and duplicate rows.
    k = min(k, len(X))
    np.testing.assert_array_equal(knn_radius(X, k=k, n_extra=2, chunk_size=64), brute_radius(X, k))


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 25), st.just(3)), elements=st.integers(-2, 2)),
    arrays(np.float64, st.tuples(st.integers(1, 25), st.just(3)), elements=st.integers(-2, 2)),
    st.integers(1, 4),
)
def test_ball_counts_equal_brute_force_on_ties(pool, acquired, k):
    radii = brute_radius(pool, min(k, len(pool)))
    expected = (cdist(pool, acquired) <= radii[:, None]).sum(axis=1)
    np.testing.assert_array_equal(ball_counts(pool, radii, acquired, chunk_size=16), expected)


@pytest.mark.parametrize("exponent", [-1000, -600, -70, 70, 600, 1000])
def test_knn_radius_and_ball_counts_at_any_size(exponent):
    # The hand-worked cases above, times 2**exponent. The float32 squared distances
    # overflowed from features of about 1e19 (wrong radii, without a word), the float64
    # ones from 1e154 (infinite radii); below 1e-154 they underflowed to 0.
    scale = 2.0**exponent
    X = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [0.0, 1.0]])
    expected = np.array([1.0, math.sqrt(18), 0.0, 0.0]) * scale
    np.testing.assert_allclose(knn_radius(X * scale, k=2), expected, rtol=1e-15, atol=0)
    pool = np.array([[0.0, 0.0], [10.0, 0.0]])
    acquired = np.array([[3.0, 4.0], [0.0, 1.0], [10.0, 0.0], [6.0, 8.0]])
    radii = np.array([5.0, 0.0]) * scale
    assert ball_counts(pool * scale, radii, acquired * scale).tolist() == [2, 1]


def test_ball_counts_of_sets_far_apart():
    # Each set is held in a unit that suits both: acquired points 1e30 away from the pool
    # overflowed float32 in the pool's unit.
    pool = np.array([[0.0, 0.0], [1.0, 0.0]])
    acquired = np.array([[3e30, 4e30], [0.0, 1.0]])
    assert ball_counts(pool, [1.0, 1.0], acquired).tolist() == [1, 0]
    assert ball_counts(pool, [5e30, 1.0], acquired).tolist() == [2, 0]


def test_knn_radius_continuous_data_and_float64_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 24))
    X[100:110] = X[5]  # a block of exact duplicates
    for data, k, chunk in ((X, 13, 2**23), (X.astype(np.float32), 2, 2**23), (X, 40, 20000)):
        np.testing.assert_allclose(
            knn_radius(data, k=k, chunk_size=chunk), brute_radius(data, k), rtol=1e-12
        )


def test_knn_radius_faiss_is_close():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 16)).astype(np.float32)
    approx = knn_radius(X, k=13, backend="faiss")
    exact = brute_radius(X, 13)
    assert np.all(approx >= exact - 1e-4)  # a missed neighbour can only make r larger
    assert np.mean(np.isclose(approx, exact, rtol=1e-4)) > 0.95


@pytest.mark.gpu
def test_knn_radius_cuda_equals_cpu():
    import torch

    rng = np.random.default_rng(2)
    X = rng.normal(size=(5000, 64)).astype(np.float32)
    X[10:30] = X[0]
    cpu = knn_radius(X, k=13, device="cpu")
    gpu = knn_radius(X, k=13, device="cuda")
    # Both are exact up to float64 rounding: the summation order differs between devices.
    np.testing.assert_allclose(cpu, gpu, rtol=1e-13, atol=0)
    np.testing.assert_allclose(cpu, brute_radius(X, 13), rtol=1e-12)
    radii = cpu
    acquired = X[::7]
    np.testing.assert_array_equal(
        ball_counts(X, radii, acquired, device="cuda"), ball_counts(X, radii, acquired)
    )
    assert torch.cuda.is_available()


def test_rim_ties_count_up_to_float64_reduction_noise():
    """A point on the rim counts even when its distance and the radius were rounded apart.

    The radius of a ball is a distance to one of its points; summed in another order (a
    GPU kernel, another batch shape) the same distance can come out one ulp larger.
    """
    pool = np.array([[0.0, 0.0]])
    on_rim = np.array([[3.0, 4.0]])  # distance exactly 5
    one_ulp_short = np.nextafter(5.0, 0.0)
    assert ball_counts(pool, [one_ulp_short], on_rim).tolist() == [1]
    assert ball_counts(pool, [5.0 - 1e-9], on_rim).tolist() == [0]  # a real gap is a gap
