"""The Laplace Bradley–Terry model: the posterior math, the feature map, the estimator."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import expit, log_expit
from sklearn.linear_model import LogisticRegression

from skbalpm import _laplace
from skbalpm._random_features import (
    column_mean_and_spread,
    fit_feature_map,
    orthogonal_gaussian,
)
from skbalpm._torch_ensemble import _holdout_orders
from skbalpm.benchmark import run_benchmark
from skbalpm.datasets import make_synthetic_preferences
from skbalpm.ensemble import PreferenceEnsembleClassifier, prompt_groups

DT = torch.float64


def logistic_task(n, p, seed, scale=0.5, n_informative=None):
    """Feature differences D and targets t from a known weight vector (zero past n_informative)."""
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, p))
    w = rng.normal(size=p) * scale
    if n_informative is not None:
        w[n_informative:] = 0.0
    t = (rng.random(n) < expit(D @ w)).astype(float)
    return torch.as_tensor(D, dtype=DT), torch.as_tensor(t, dtype=DT)


# ---------------------------------------------------------------------- the posterior


@pytest.mark.parametrize("tune", [True, False])
@pytest.mark.parametrize(("n", "p"), [(40, 90), (300, 60)])
def test_primal_and_dual_solvers_give_the_same_posterior(n, p, tune):
    D, t = logistic_task(n, p, seed=n + p, n_informative=20)
    primal = _laplace.fit_laplace(D, t, [20, p - 20], tune=tune, tol=1e-4, solver="primal")
    dual = _laplace.fit_laplace(D, t, [20, p - 20], tune=tune, tol=1e-4, solver="dual")
    # a block the data do not support drifts towards alpha = inf; the two solvers stop at
    # different (huge) precisions there, with the same near-zero weights
    live = primal.effective_parameters > 1e-2
    torch.testing.assert_close(primal.alphas[live], dual.alphas[live], rtol=1e-2, atol=0)
    assert bool((primal.alphas[~live] > 1e5).all() and (dual.alphas[~live] > 1e5).all())
    torch.testing.assert_close(primal.coef, dual.coef, rtol=0, atol=1e-3)
    assert primal.log_evidence == pytest.approx(dual.log_evidence, abs=1e-3)


def test_fixed_prior_mode_is_sklearns_l2_logistic_regression():
    D, t = logistic_task(200, 5, seed=1)
    posterior = _laplace.fit_laplace(D, t, [5], alphas=torch.tensor([2.0], dtype=DT), tune=False)
    # penalty 0.5 * alpha * ||w||^2 with a summed log-loss is C = 1 / alpha in scikit-learn
    peer = LogisticRegression(C=0.5, fit_intercept=False, tol=1e-10, max_iter=10_000)
    peer.fit(D.numpy(), t.numpy())
    np.testing.assert_allclose(posterior.coef.numpy(), peer.coef_[0], atol=1e-5)


def test_tuned_precision_is_a_stationary_point_of_the_evidence():
    D, t = logistic_task(150, 4, seed=2)
    tuned = _laplace.fit_laplace(D, t, [4], tol=1e-4)
    assert tuned.converged
    alpha = float(tuned.alphas[0])

    def evidence_at(a):
        fixed = torch.tensor([a], dtype=DT)
        return _laplace.fit_laplace(D, t, [4], alphas=fixed, tune=False).log_evidence

    # MacKay's fixed point maximises the evidence up to the (small) implicit term
    assert tuned.log_evidence >= evidence_at(alpha * 2) - 1e-3
    assert tuned.log_evidence >= evidence_at(alpha / 2) - 1e-3
    # and the effective parameters balance the weights: gamma = alpha ||w||^2
    gamma = float(tuned.effective_parameters[0])
    assert gamma == pytest.approx(alpha * float(tuned.coef @ tuned.coef), abs=1e-3)
    assert 0 < gamma < 4


def test_evidence_search_stops_where_the_evidence_is_flat(monkeypatch):
    # 300 pairs of the default synthetic task on which the gradient rule alone crawls
    # (the length-4 block drifts off by ~1% a step) to max_iter without converging
    data = make_synthetic_preferences(random_state=0)
    labelled = np.random.RandomState(0).permutation(len(data.y))[:300]

    def fit():
        clf = PreferenceEnsembleClassifier(feature_layout="a|b|prompt", random_state=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.fit(data.X[labelled], data.y[labelled])
        return clf, [w for w in caught if "did not converge" in str(w.message)]

    monkeypatch.setattr(_laplace, "MAX_EVIDENCE_ITER", 100)
    clf, caught = fit()
    assert not caught and clf.n_iter_ < 100
    monkeypatch.setattr(_laplace, "FLAT_RIDGE_FACTOR", 0.0)  # the gradient rule alone
    crawling, caught = fit()
    assert caught and crawling.n_iter_ == 100
    # what the crawl still gains is negligible: the evidence and the predictions agree
    np.testing.assert_allclose(clf.log_evidence_, crawling.log_evidence_, atol=0.05)
    np.testing.assert_allclose(clf.predict_proba(data.X), crawling.predict_proba(data.X), atol=0.02)


def test_evidence_search_damps_a_block_that_swings(monkeypatch):
    # 200 pairs of a small synthetic task: the length-2 block's fixed-point step reverses
    # every few updates (the weights lag the precisions by one Newton step) and, without
    # shrinking reversed steps, swings between precisions a decade apart until max_iter
    data = make_synthetic_preferences(n_samples=200, n_features=4, random_state=0)

    def fit():
        clf = PreferenceEnsembleClassifier(feature_layout=data.feature_layout, random_state=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.fit(data.X, data.y)
        return clf, [w for w in caught if "did not converge" in str(w.message)]

    clf, caught = fit()
    assert not caught and clf.n_iter_ < 100
    # at MacKay's fixed point: in every live block gamma balances alpha ||w||^2
    blocks = np.split(clf.coef_, np.cumsum([4, 256, 256])[:])
    sq_norms = np.array([block @ block for block in blocks])
    gradient = clf.effective_parameters_ - clf.prior_precision_ * sq_norms
    live = clf.prior_precision_ < _laplace.ALPHA_BOUNDS[1]
    assert live.any() and np.abs(gradient[live]).max() < _laplace.FLAT_RIDGE_FACTOR * 1e-2
    monkeypatch.setattr(_laplace._PrecisionSearch, "MIN_GAIN", 1.0)  # no shrinking
    swinging, caught = fit()
    assert caught and swinging.n_iter_ == _laplace.MAX_EVIDENCE_ITER


@pytest.mark.slow
def test_evidence_search_converges_on_pairs_bald_chose(monkeypatch):
    # BALD's picks (5 posterior draws) on synthetic data seed 1 (seed 0 of the harness) make
    # a fit whose length-1 block drifts off along a ridge: it needs more than 100 precision
    # updates (the former limit), and warned. The limit is now MAX_EVIDENCE_ITER.
    data = make_synthetic_preferences(random_state=1, n_test_samples=200)

    def run_bald():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run_benchmark(
                data.X,
                data.y,
                groups=data.groups,
                X_test=data.X_test,
                y_test=data.y_test,
                strategies=["bald"],
                seeds=[0],
                feature_layout=data.feature_layout,
                classifier=PreferenceEnsembleClassifier(
                    n_members=5, feature_layout=data.feature_layout
                ),
                compute_ceiling=False,
                n_jobs=1,
                verbose=0,
            )
        return [w for w in caught if "did not converge" in str(w.message)]

    assert not run_bald()
    monkeypatch.setattr(_laplace, "MAX_EVIDENCE_ITER", 100)
    assert run_bald()  # the case the test is about: the former limit is too low here


def test_laplace_evidence_matches_numerical_integration_in_one_dimension():
    D, t = logistic_task(400, 1, seed=3, scale=1.0)
    alpha = 0.7
    posterior = _laplace.fit_laplace(D, t, [1], alphas=torch.tensor([alpha], dtype=DT), tune=False)
    d, y = D.numpy()[:, 0], t.numpy()

    def log_joint(w):
        f = w * d
        log_lik = (y * log_expit(f) + (1 - y) * log_expit(-f)).sum()
        return log_lik - 0.5 * alpha * w * w + 0.5 * math.log(alpha / (2 * math.pi))

    w_hat = float(posterior.coef[0])
    peak = log_joint(w_hat)
    integral, _ = integrate.quad(lambda w: math.exp(log_joint(w) - peak), w_hat - 2, w_hat + 2)
    exact = peak + math.log(integral)
    # the Laplace approximation is accurate for a 1-d posterior from 400 pairs
    assert posterior.log_evidence == pytest.approx(exact, abs=0.02)


def test_noise_block_is_switched_off_and_signal_block_kept():
    D, t = logistic_task(400, 30, seed=4, scale=1.0, n_informative=10)
    posterior = _laplace.fit_laplace(D, t, [10, 20])
    assert float(posterior.alphas[1]) >= 1e3 * float(posterior.alphas[0])
    assert float(posterior.effective_parameters[0]) > 5
    assert float(posterior.effective_parameters[1]) < 1


def test_pure_noise_labels_give_a_strong_prior_and_near_half_predictions():
    rng = np.random.default_rng(5)
    D = torch.as_tensor(rng.normal(size=(300, 8)), dtype=DT)
    t = torch.as_tensor(rng.integers(2, size=300), dtype=DT)
    posterior = _laplace.fit_laplace(D, t, [8])
    assert float(posterior.effective_parameters.sum()) < 3
    assert float(torch.sigmoid(D @ posterior.coef).sub(0.5).abs().max()) < 0.15


def test_posterior_draws_have_the_posterior_covariance():
    D, t = logistic_task(100, 3, seed=6)
    posterior = _laplace.fit_laplace(D, t, [3])
    draws = _laplace.posterior_draws(posterior, 40_000, torch.Generator().manual_seed(0))
    precision = posterior.precision_chol @ posterior.precision_chol.T
    covariance = torch.linalg.inv(precision)
    scale = covariance.diagonal().sqrt()
    # Monte Carlo error of a covariance over 40,000 draws: about 0.005 of sd_i sd_j
    error = (torch.cov(draws) - covariance) / torch.outer(scale, scale)
    assert float(error.abs().max()) < 0.03
    assert float(((draws.mean(dim=1) - posterior.coef) / scale).abs().max()) < 0.03


@settings(max_examples=25, deadline=None)
@given(st.floats(-6, 6), st.floats(0.01, 9.0))
def test_moderated_logit_approximates_the_gaussian_expectation(mean, variance):
    D = torch.tensor([[1.0]], dtype=DT)
    coef = torch.tensor([mean], dtype=DT)
    cov_root = torch.tensor([[math.sqrt(variance)]], dtype=DT)
    approx = float(torch.sigmoid(_laplace.moderated_logits(D, coef, cov_root))[0])
    spread = math.sqrt(variance)

    def density_times_sigmoid(f):
        return (
            expit(f)
            * math.exp(-0.5 * ((f - mean) / spread) ** 2)
            / (spread * math.sqrt(2 * math.pi))
        )

    exact, _ = integrate.quad(density_times_sigmoid, mean - 12 * spread, mean + 12 * spread)
    assert approx == pytest.approx(exact, abs=0.02)  # MacKay's probit approximation


def test_moderated_logit_without_uncertainty_is_the_plain_logit():
    D = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=DT)
    coef = torch.tensor([0.3, -0.2], dtype=DT)
    zero = torch.zeros(2, 2, dtype=DT)
    torch.testing.assert_close(_laplace.moderated_logits(D, coef, zero), D @ coef)


def test_moderated_logit_far_from_the_data_keeps_its_value_in_float32():
    # Far from the data the squares of R d overflowed float32 and the logit came out 0
    # (probability 1/2) while the posterior-mean margin said otherwise. Here mean = 1e20,
    # R d = (1.5e20, -0.5e20), s^2 = 2.5e40, so the logit is 1 / (sqrt(pi/8) sqrt(2.5)).
    D = torch.tensor([[3e20, -1e20]], dtype=torch.float32)
    coef = torch.tensor([1.0, 2.0], dtype=torch.float32)
    cov_root = 0.5 * torch.eye(2, dtype=torch.float32)
    logit = float(_laplace.moderated_logits(D, coef, cov_root)[0])
    assert logit == pytest.approx(1 / (math.sqrt(math.pi / 8) * math.sqrt(2.5)), rel=1e-6)
    assert logit == pytest.approx(1.009253, rel=1e-6)
    exact = _laplace.moderated_logits(D.double(), coef.double(), cov_root.double())
    assert logit == pytest.approx(float(exact[0]), rel=1e-6)  # float64: no overflow


# -------------------------------------------------------------------- the feature map


def test_column_mean_and_spread_hand_checked_at_any_size():
    # The squares of the plain formula overflow beyond 1e154 (the fit then failed inside
    # torch's Cholesky factorisation) and underflow below 1e-154.
    X = torch.tensor([[1.0, 5.0], [3.0, 5.0], [-1.0, 5.0]], dtype=DT)
    mean, spread = column_mean_and_spread(X)
    torch.testing.assert_close(mean, torch.tensor([1.0, 5.0], dtype=DT), rtol=0, atol=0)
    torch.testing.assert_close(spread, torch.tensor([math.sqrt(8 / 3), 0.0], dtype=DT))
    assert torch.equal(spread, X.std(dim=0, correction=0))  # ordinary values: the same bits
    for scale in (2.0**700, 2.0**-700):
        mean_s, spread_s = column_mean_and_spread(X * scale)
        torch.testing.assert_close(mean_s, mean * scale, rtol=1e-15, atol=0)
        torch.testing.assert_close(spread_s, spread * scale, rtol=1e-15, atol=0)


@pytest.mark.parametrize("exponent", [-700, -100, -40, 100, 700])
def test_the_laplace_fit_does_not_depend_on_the_features_unit(exponent):
    # Features of size 1e-30 were all taken as constant (every prediction 1/2); of size
    # 1e200 the fit failed inside torch. Scaling by a power of two is exact, so the
    # standardised features, and the predictions, are the same bits.
    X, y = linear_pairs(80, 3, seed=20)
    params = dict(feature_layout="a|b", n_random_features=16, dtype="float64", random_state=0)
    reference = PreferenceEnsembleClassifier(**params).fit(X, y).predict_proba(X)
    scale = 2.0**exponent
    scaled = PreferenceEnsembleClassifier(**params).fit(X * scale, y).predict_proba(X * scale)
    np.testing.assert_array_equal(scaled, reference)
    assert np.abs(reference[:, 0] - 0.5).max() > 0.2  # the features were used


def test_float32_prediction_far_from_the_data_agrees_with_the_margin():
    # predict_proba at 1e30 x the training scale said 1/2 everywhere (an overflow), while
    # decision_function and the members said which response wins.
    X, y = linear_pairs(80, 3, seed=21)
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", n_random_features=16).fit(X, y)
    far = X * 1e30
    proba, margin = clf.predict_proba(far), clf.decision_function(far)
    assert np.isfinite(proba).all() and (np.abs(proba[:, 1] - 0.5) > 1e-3).all()
    np.testing.assert_array_equal(proba[:, 1] > 0.5, margin > 0)


@pytest.mark.parametrize(
    ("params", "scale", "match"),
    [
        # frequencies of 1e300 (float64) or beyond float32: NaN features or predictions
        (dict(length_scales=(1e-320,)), 1.0, r"random features overflow with length_scales"),
        (dict(length_scales=(1e-300,)), 1.0, r"random features overflow with length_scales"),
        # the posterior precision is singular: torch's Cholesky raised
        (dict(prior_precision=1e-300), 1.0, r"not positive definite.*prior_precision=1e-300"),
        # a spread that float32 cannot hold: standardising divided by zero at prediction
        (dict(), 1e-40, r"spread .* below the range of dtype='float32'"),
    ],
)
def test_settings_the_model_cannot_compute_are_refused_at_fit(params, scale, match):
    X, y = linear_pairs(30, 4, seed=22)  # 30 pairs, 4 + 16 weights: p < n, the primal
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", n_random_features=16, **params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X * scale, y)
    assert not hasattr(clf, "classes_")  # nothing that looks fitted is left behind


def test_feature_map_blocks_and_standardisation():
    rng = np.random.default_rng(7)
    X = torch.as_tensor(rng.normal(loc=3.0, scale=2.0, size=(500, 4)), dtype=DT)
    fmap = fit_feature_map(X, length_scales=(1.0, 2.0), n_random_features=16, linear=True, seed=0)
    assert fmap.block_sizes == [4, 16, 16]
    phi = fmap(X)
    assert phi.shape == (500, 36)
    linear = phi[:, :4] * 2  # z / sqrt(d), d = 4
    torch.testing.assert_close(linear.mean(dim=0), torch.zeros(4, dtype=DT), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        linear.std(dim=0, correction=0), torch.ones(4, dtype=DT), atol=1e-12, rtol=0
    )
    # random Fourier features of a unit-variance RBF kernel: phi(x).phi(x) ~ 1 per block
    assert float((phi[:, 4:20] ** 2).sum(dim=1).mean()) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("length_scale", [0.5, 1.0, 2.0])
def test_feature_map_kernel_approximates_the_rbf_kernel(length_scale):
    rng = np.random.default_rng(8)
    X = torch.as_tensor(rng.normal(size=(50, 3)), dtype=DT)
    fmap = fit_feature_map(
        X, length_scales=(length_scale,), n_random_features=20_000, linear=False, seed=1
    )
    Z = (X - fmap.mean) / fmap.scale
    phi = fmap(X)
    squared = torch.cdist(Z, Z) ** 2
    rbf = torch.exp(-squared / (2 * 3.0 * length_scale**2))  # length scale c sqrt(d), d = 3
    torch.testing.assert_close(phi @ phi.T, rbf, atol=0.05, rtol=0)


@pytest.mark.parametrize(("d", "n_columns"), [(3, 7), (5, 5), (4, 1)])
def test_orthogonal_gaussian_blocks_are_orthogonal(d, n_columns):
    W = orthogonal_gaussian(d, n_columns, torch.Generator().manual_seed(d + n_columns))
    assert W.shape == (d, n_columns)
    for start in range(0, n_columns, d):
        block = W[:, start : start + d]
        gram = block.T @ block
        off_diagonal = gram - torch.diag(gram.diagonal())
        assert float(off_diagonal.abs().max()) < 1e-10


def test_orthogonal_gaussian_columns_have_standard_normal_norms():
    # each column is an N(0, I_d) draw: E||w||^2 = d, and its direction is uniform
    d = 4
    W = orthogonal_gaussian(d, 20_000, torch.Generator().manual_seed(0))
    assert float((W**2).sum(dim=0).mean()) == pytest.approx(d, rel=0.03)
    assert float((W**2).sum(dim=0).var()) == pytest.approx(2 * d, rel=0.1)  # chi^2_d
    directions = W / W.norm(dim=0)
    torch.testing.assert_close(
        directions @ directions.T / 20_000, torch.eye(d, dtype=DT) / d, atol=0.01, rtol=0
    )


def test_constant_feature_column_stays_zero():
    X = torch.ones(10, 2, dtype=DT)
    X[:, 1] = torch.arange(10, dtype=DT)
    fmap = fit_feature_map(X, length_scales=(), n_random_features=0, linear=True, seed=0)
    assert torch.isfinite(fmap(X)).all()
    assert float(fmap(X)[:, 0].abs().max()) == 0.0


# -------------------------------------------------------------------- the estimator


def linear_pairs(n, d, seed, scale=3.0, return_weights=False):
    """Pairs phi(a) | phi(b) from a linear reward of norm ``scale``; y = 0: a preferred."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    w *= scale / np.linalg.norm(w)
    X_a, X_b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    y = (rng.random(n) >= expit((X_a - X_b) @ w)).astype(int)
    return (np.hstack([X_a, X_b]), y, w) if return_weights else (np.hstack([X_a, X_b]), y)


def test_predictive_is_the_limit_of_the_members_mean():
    X, y = linear_pairs(200, 4, seed=9)
    clf = PreferenceEnsembleClassifier(
        feature_layout="a|b", n_members=4000, n_random_features=32, random_state=0
    ).fit(X, y)
    X_new, _ = linear_pairs(50, 4, seed=10, scale=1.0)
    members = clf.predict_member_proba(X_new)
    np.testing.assert_allclose(clf.predict_proba(X_new)[:, 0], members.mean(axis=0), atol=0.02)


def test_linear_reward_recovers_the_direction():
    X, y, w = linear_pairs(2000, 4, seed=11, return_weights=True)
    clf = PreferenceEnsembleClassifier(
        feature_layout="a|b", n_random_features=0, random_state=0
    ).fit(X, y)
    assert clf.coef_.shape == (4,)
    # coef_ lives on standardised, 1/sqrt(d)-scaled features: undo that to compare
    w_hat = clf.coef_ / (clf.response_scale_ * 2)
    cosine = w_hat @ w / (np.linalg.norm(w_hat) * np.linalg.norm(w))
    assert cosine > 0.98


def test_no_signal_data_predict_near_half():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(400, 16))
    y = rng.integers(2, size=400)
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
    X_new = rng.normal(size=(200, 16))
    assert np.abs(clf.predict_proba(X_new)[:, 0] - 0.5).max() < 0.1


def test_random_features_are_fixed_across_seeds_unless_asked():
    X, y = linear_pairs(60, 4, seed=3)

    def frequencies(**params):
        clf = PreferenceEnsembleClassifier(feature_layout="a|b", n_random_features=8, **params)
        return clf.fit(X, y).random_frequencies_[0]

    np.testing.assert_array_equal(frequencies(random_state=0), frequencies(random_state=1))
    assert not np.array_equal(
        frequencies(random_state=0, random_features_seed=1), frequencies(random_state=0)
    )
    assert not np.array_equal(
        frequencies(random_state=0, random_features_seed=None),
        frequencies(random_state=1, random_features_seed=None),
    )


def test_fixed_prior_precision_is_not_tuned():
    X, y = linear_pairs(200, 3, seed=13)
    clf = PreferenceEnsembleClassifier(
        feature_layout="a|b", prior_precision=5.0, n_random_features=8, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(clf.prior_precision_, [5.0, 5.0, 5.0, 5.0])
    assert clf.n_iter_ == 0


def test_warm_start_starts_from_the_fitted_precisions():
    X, y = linear_pairs(300, 3, seed=14)
    cold = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
    warm = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0, warm_start=True)
    warm.fit(X, y)
    first_iterations = warm.n_iter_
    warm.fit(X, y)
    assert warm.n_iter_ < first_iterations
    np.testing.assert_allclose(warm.prior_precision_, cold.prior_precision_, rtol=0.05)


def test_refit_with_the_other_method_drops_the_old_state():
    X, y = linear_pairs(100, 3, seed=15)
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", n_members=2, random_state=0)
    clf.fit(X, y)
    assert hasattr(clf, "coef_")
    clf.set_params(method="deep-ensemble", max_epochs=2).fit(X, y)
    assert hasattr(clf, "coefs_") and not hasattr(clf, "coef_")
    assert clf.predict_member_proba(X).shape == (2, 100)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(length_scales=(1.0, -2.0)), "length_scales must hold positive finite"),
        (dict(length_scales=("a",)), "length_scales must hold positive finite"),
        (dict(length_scales=()), "length_scales is empty"),
        (dict(prior_precision=0.0), "prior_precision"),
        (dict(prior_precision="bayes"), "prior_precision"),
        (dict(n_random_features=-1), "n_random_features"),
        (dict(method="mcmc"), "method"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(params, match):
    clf = PreferenceEnsembleClassifier(feature_layout="a|b", **params)
    with pytest.raises(ValueError, match=match):
        clf.fit(np.ones((4, 4)), [0, 1, 0, 1])


def test_linear_only_accepts_empty_length_scales():
    X, y = linear_pairs(60, 2, seed=16)
    clf = PreferenceEnsembleClassifier(
        feature_layout="a|b", n_random_features=0, length_scales=(), random_state=0
    ).fit(X, y)
    assert clf.coef_.shape == (2,)


# ------------------------------------------------------------------------- groups


def test_prompt_groups_hand_checked():
    prompts = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [2.0, 3.0], [5.0, 5.0]])
    groups = prompt_groups(prompts)
    assert groups[0] == groups[2] and groups[1] == groups[3]
    assert len(set(groups.tolist())) == 3


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=6, max_size=40),
    st.floats(0.1, 0.5),
    st.integers(0, 1000),
)
def test_grouped_holdout_keeps_groups_whole_and_shared(groups, fraction, seed):
    groups = np.asarray(groups)
    rngs = [np.random.default_rng(seed + m) for m in range(3)]
    orders, n_val = _holdout_orders(rngs, len(groups), fraction, groups)
    for order in orders:
        assert sorted(order.tolist()) == list(range(len(groups)))
        assert sorted(order[:n_val].tolist()) == sorted(orders[0][:n_val].tolist())
        held_out = set(groups[order[:n_val]].tolist())
        assert held_out.isdisjoint(groups[order[n_val:]].tolist())


def test_deep_ensemble_early_stopping_holds_out_whole_prompts(monkeypatch):
    rng = np.random.default_rng(17)
    prompts = rng.normal(size=(10, 3))[rng.integers(10, size=120)]  # 10 prompts, repeated
    X_ab, y = linear_pairs(120, 3, seed=17)
    X = np.hstack([X_ab, prompts])
    seen = {}
    original = _holdout_orders

    def spy(member_rngs, n_samples, fraction, groups):
        seen["groups"] = groups
        return original(member_rngs, n_samples, fraction, groups)

    monkeypatch.setattr("skbalpm._torch_ensemble._holdout_orders", spy)
    PreferenceEnsembleClassifier(method="deep-ensemble", n_members=2, max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(seen["groups"], prompt_groups(prompts))
    routed = np.arange(120) % 7
    PreferenceEnsembleClassifier(method="deep-ensemble", n_members=2, max_epochs=2).fit(
        X, y, groups=routed
    )
    np.testing.assert_array_equal(seen["groups"], routed)
    PreferenceEnsembleClassifier(
        method="deep-ensemble", n_members=2, max_epochs=2, early_stopping_split="random"
    ).fit(X, y)
    assert seen["groups"] is None


def test_groups_reach_fit_through_metadata_routing():
    import sklearn
    from sklearn.model_selection import GroupKFold, cross_validate

    X, y = linear_pairs(90, 3, seed=18)
    groups = np.arange(90) // 3
    with sklearn.config_context(enable_metadata_routing=True):
        clf = PreferenceEnsembleClassifier(
            method="deep-ensemble", feature_layout="a|b", n_members=2, max_epochs=2
        ).set_fit_request(groups=True)
        scores = cross_validate(
            clf, X, y, cv=GroupKFold(3), params={"groups": groups}, scoring="neg_log_loss"
        )
    assert scores["test_score"].shape == (3,)


def test_groups_of_the_wrong_length_are_refused():
    X, y = linear_pairs(20, 2, seed=19)
    with pytest.raises(ValueError, match=r"one group id per pair, shape \(20,\)"):
        PreferenceEnsembleClassifier(feature_layout="a|b").fit(X, y, groups=np.arange(19))
