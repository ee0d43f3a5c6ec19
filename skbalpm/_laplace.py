"""Bayesian Bradley–Terry regression with a Laplace posterior and evidence-tuned priors.

The torch code behind ``PreferenceEnsembleClassifier(method="laplace")``. The reward is
linear in a fixed feature vector, ``r(x) = w . phi(x)``, so a pair's logit is
``w . (phi(a) - phi(b))``: a logistic regression without intercept on the difference of
the two responses' features. The prior on ``w`` is Gaussian with one precision per block
of features (e.g. the linear block and each random-feature block), and the precisions are
set by maximising the Laplace approximation of the marginal likelihood (the evidence)
with MacKay's fixed-point updates: every label is used for training, nothing is held
out, and the amount of regularisation follows from the data.

Two equivalent solvers: the primal one works with the p x p Hessian (cheap when there are
more pairs than features), the dual one with n x n kernel matrices (cheap when there are
fewer), as in Gaussian-process classification. Both return the same posterior.

Nothing here knows about scikit-learn; the estimator converts arrays and validates input.

References
----------
D. J. C. MacKay, "The evidence framework applied to classification networks", Neural
Computation 4(5), 1992.
C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine Learning*, MIT
Press, 2006, sections 3.4 and 5.5.
M. E. Tipping, "Sparse Bayesian learning and the relevance vector machine", JMLR 1, 2001.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit
from torch.nn import functional as F

ALPHA_BOUNDS = (1e-8, 1e8)
"""Range of the prior precisions; a block whose precision reaches the top is switched off."""

FLAT_RIDGE_FACTOR = 5.0
"""Where the evidence no longer changes, a gradient this many times ``tol`` is close enough."""

MAX_EVIDENCE_ITER = 300
"""Most precision updates of the evidence search. Fits on actively chosen pairs (BALD,
BAL-PM on the synthetic task) needed up to 108, where a block drifts off along a ridge;
an update costs one Newton step, so the limit guards against cycles, not cost."""


@dataclass
class LaplacePosterior:
    """The fitted posterior N(coef, precision^-1) of the weights, and how it was found.

    Attributes
    ----------
    coef : tensor of shape (p,)
        Posterior mode (MAP weights).
    precision_chol : tensor of shape (p, p)
        Lower Cholesky factor of the posterior precision (Hessian of the negative log
        posterior at the mode).
    alphas : tensor of shape (n_blocks,)
        Prior precision of each block of features.
    effective_parameters : tensor of shape (n_blocks,)
        MacKay's gamma of each block: how many weights the data determine there.
    log_evidence : float
        Laplace approximation of the log marginal likelihood at ``alphas``.
    n_iter : int
        Precision updates made.
    converged : bool
        Whether the precisions reached the fixed point before the iteration limit.
    """

    coef: torch.Tensor
    precision_chol: torch.Tensor
    alphas: torch.Tensor
    effective_parameters: torch.Tensor
    log_evidence: float
    n_iter: int
    converged: bool


def _block_prior(alphas, block_sizes):
    """Per-feature prior precisions (p,) from one precision per block."""
    sizes = torch.as_tensor(block_sizes, device=alphas.device)
    return torch.repeat_interleave(alphas, sizes)


def _neg_log_likelihood(logits, target):
    """Bradley–Terry negative log-likelihood, summed: target 1 means response_a preferred."""
    return (F.softplus(logits) - target * logits).sum()


def _backtrack(objective_at, start, step, decrement):
    """Armijo backtracking along ``-step`` from ``start``; returns the new point."""
    value = objective_at(start)
    scale = 1.0
    while scale > 1e-8:
        point = start - scale * step
        if objective_at(point) <= value - 1e-4 * scale * decrement:
            return point
        scale *= 0.5
    return start


class _PrimalSolver:
    """Newton's method on the weights w (p), with the p x p Hessian: n p^2 a step."""

    def __init__(self, D, target, block_sizes):
        self.D, self.target, self.block_sizes = D, target, list(block_sizes)
        self.coef = torch.zeros(D.shape[1], dtype=D.dtype, device=D.device)

    def _hessian_chol(self, prior):
        prob = torch.sigmoid(self.D @ self.coef)
        hessian = (self.D.T * (prob * (1 - prob))) @ self.D
        hessian.diagonal().add_(prior)
        return prob, torch.linalg.cholesky(hessian)

    def _objective(self, prior):
        def objective_at(w):
            return _neg_log_likelihood(self.D @ w, self.target) + 0.5 * (prior * w * w).sum()

        return objective_at

    def newton(self, alphas, max_steps):
        """Damped Newton steps at fixed precisions; returns the last Newton decrement."""
        prior = _block_prior(alphas, self.block_sizes)
        decrement = 0.0
        for _ in range(max_steps):
            prob, chol = self._hessian_chol(prior)
            grad = self.D.T @ (prob - self.target) + prior * self.coef
            step = torch.cholesky_solve(grad[:, None], chol)[:, 0]
            decrement = float(grad @ step)
            if decrement < 1e-12 * self.D.shape[0]:
                break
            self.coef = _backtrack(self._objective(prior), self.coef, step, decrement)
        return decrement

    def state(self, alphas, chol=None):
        """MacKay's gamma_g, ||w_g||^2 of each block and the log evidence, at the weights.

        ``chol``: the Hessian's Cholesky factor at these weights and precisions, when the
        caller has it already.
        """
        prior = _block_prior(alphas, self.block_sizes)
        if chol is None:
            _, chol = self._hessian_chol(prior)
        cov_diag = torch.cholesky_inverse(chol).diagonal()
        gammas = torch.stack(
            [
                (1 - alphas[g] * block).sum()
                for g, block in enumerate(torch.split(cov_diag, self.block_sizes))
            ]
        )
        sq_norms = torch.stack([(w * w).sum() for w in torch.split(self.coef, self.block_sizes)])
        log_evidence = (
            -float(self._objective(prior)(self.coef))
            + 0.5 * float(prior.log().sum())
            - float(torch.log(chol.diagonal()).sum())
        )
        return gammas, sq_norms, log_evidence

    def save(self):
        return self.coef.clone()

    def restore(self, saved):
        self.coef = saved

    def weights(self, alphas):
        return self.coef


class _DualSolver:
    """Newton's method on dual weights a (n), with n x n kernels: cheaper when n < p.

    The weights are ``w_g = D_g^T a / alpha_g``, so the logits are ``f = K a`` with
    ``K = sum_g K_g / alpha_g`` and ``K_g = D_g D_g^T``: Laplace Gaussian-process
    classification (Rasmussen & Williams, algorithm 3.1), with MacKay's quantities
    written in terms of the ``K_g``.
    """

    def __init__(self, D, target, block_sizes):
        self.D, self.target, self.block_sizes = D, target, list(block_sizes)
        self.grams = torch.stack([B @ B.T for B in torch.split(D, self.block_sizes, dim=1)])
        self.dual = torch.zeros(D.shape[0], dtype=D.dtype, device=D.device)

    def _kernel(self, alphas):
        return torch.einsum("g,gij->ij", 1 / alphas, self.grams)

    def _laplace_terms(self, K):
        """Logits, probabilities, sqrt(W) and the Cholesky factor of I + W^1/2 K W^1/2."""
        f = K @ self.dual
        prob = torch.sigmoid(f)
        w_sqrt = (prob * (1 - prob)).sqrt()
        B = w_sqrt[:, None] * K * w_sqrt[None, :]
        B.diagonal().add_(1.0)
        return f, prob, w_sqrt, torch.linalg.cholesky(B)

    def newton(self, alphas, max_steps):
        """Damped Newton steps at fixed precisions; returns the last Newton decrement."""
        K = self._kernel(alphas)

        def objective_at(a):
            f = K @ a
            return _neg_log_likelihood(f, self.target) + 0.5 * (a @ f)

        decrement = 0.0
        for _ in range(max_steps):
            f, prob, w_sqrt, chol_B = self._laplace_terms(K)
            b = w_sqrt**2 * f + (self.target - prob)
            solved = torch.cholesky_solve((w_sqrt * (K @ b))[:, None], chol_B)[:, 0]
            step = self.dual - (b - w_sqrt * solved)
            # the objective's gradient in a-space is K (pi - t + a)
            decrement = max(float(step @ (K @ (prob - self.target + self.dual))), 0.0)
            if decrement < 1e-12 * self.D.shape[0]:
                break
            self.dual = _backtrack(objective_at, self.dual, step, decrement)
        return decrement

    def state(self, alphas):
        """MacKay's gamma_g, ||w_g||^2 of each block and the log evidence, at the weights."""
        K = self._kernel(alphas)
        f, _, w_sqrt, chol_B = self._laplace_terms(K)
        # (W^-1 + K)^-1 = W^1/2 B^-1 W^1/2
        inner = w_sqrt[:, None] * torch.cholesky_inverse(chol_B) * w_sqrt[None, :]
        gammas = torch.einsum("ij,gji->g", inner, self.grams) / alphas
        sq_norms = torch.einsum("i,gij,j->g", self.dual, self.grams, self.dual) / alphas**2
        # Rasmussen & Williams eq. 3.32: -Psi(f) - sum log diag(chol(B))
        psi = _neg_log_likelihood(f, self.target) + 0.5 * float(self.dual @ f)
        log_evidence = -float(psi) - float(torch.log(chol_B.diagonal()).sum())
        return gammas, sq_norms, log_evidence

    def save(self):
        return self.dual.clone()

    def restore(self, saved):
        self.dual = saved

    def weights(self, alphas):
        return (self.D.T @ self.dual) / _block_prior(alphas, self.block_sizes)


class _PrecisionSearch:
    """Steps towards MacKay's fixed point alpha_g = gamma_g / ||w_g||^2, in log space.

    A step that keeps its direction grows (doubling, up to 8 times the fixed-point step,
    as in Rprop): the plain fixed point crawls along ridges between similar blocks and
    towards the switch-off of a block the data do not support. A step that reverses
    direction halves (down to 1/64 of the fixed-point step, as Rprop shrinks): with one
    Newton step per update the weights lag the precisions, and a block can otherwise
    swing between two precisions a decade apart for ever. An enlarged step that lowers
    the evidence is refused by the caller, and the steps start again at the plain fixed
    point.
    """

    MAX_GAIN = 8.0
    MIN_GAIN = 1.0 / 64.0

    def __init__(self, n_blocks, dtype, device):
        self.gain = torch.ones(n_blocks, dtype=dtype, device=device)
        self.last = torch.zeros(n_blocks, dtype=dtype, device=device)

    @property
    def enlarged(self):
        return bool((self.gain > 1).any())

    def propose(self, alphas, gammas, sq_norms):
        low, high = ALPHA_BOUNDS
        move = torch.log(gammas.clamp_min(1e-12) / sq_norms.clamp_min(1e-30)) - alphas.log()
        turn = torch.sign(move) * torch.sign(self.last)
        grown = (2 * self.gain).clamp(max=self.MAX_GAIN)
        shrunk = (0.5 * self.gain.clamp(max=1.0)).clamp(min=self.MIN_GAIN)
        self.gain = torch.where(turn > 0, grown, torch.where(turn < 0, shrunk, self.gain))
        self.last = move
        return (alphas.log() + self.gain * move).clamp(math.log(low), math.log(high)).exp()

    def reset(self):
        self.gain = torch.ones_like(self.gain)
        self.last = torch.zeros_like(self.last)


def fit_laplace(
    D,
    target,
    block_sizes,
    *,
    alphas=None,
    tune=True,
    max_iter=None,
    tol=1e-2,
    evidence_tol=1e-5,
    solver="auto",
    callback=None,
):
    """Laplace posterior of Bayesian Bradley–Terry regression, prior set by the evidence.

    Newton's method finds the mode at the starting precisions; then each iteration
    updates the block precisions towards MacKay's fixed point and takes one damped
    Newton step from the last weights (interleaved, as in Tipping's relevance vector
    machine), until every block's evidence gradient ``gamma_g - alpha_g ||w_g||^2`` (in
    effective parameters) is below ``tol``. The weights are then polished at the final
    precisions. Works in the primal (p x p Hessian) or the dual (n x n kernels),
    whichever is smaller; both give the same posterior.

    Parameters
    ----------
    D : tensor of shape (n, p)
        Feature differences phi(a) - phi(b) of the labelled pairs.
    target : tensor of shape (n,)
        1.0 where response_a is preferred, else 0.0.
    block_sizes : sequence of int
        Sizes of the feature blocks that share a prior precision (sum p).
    alphas : tensor of shape (n_blocks,) or None
        Starting (or, with ``tune=False``, fixed) precisions; default 1.
    tune : bool
        Set the precisions by evidence maximisation.
    max_iter : int or None
        Most precision updates; None means :data:`MAX_EVIDENCE_ITER`.
    tol : float
        Convergence tolerance on the evidence gradient, in effective parameters.
    evidence_tol : float
        Also converged when the gradient is below ``FLAT_RIDGE_FACTOR * tol`` and three
        accepted updates in a row each raised the log evidence by less than this (nats):
        along a flat ridge of the evidence, or on a block drifting towards switch-off,
        the fixed point crawls while nothing changes.
    solver : {"auto", "primal", "dual"}
        Newton's method on the p weights or on n dual weights; "auto" takes the dual
        one when there are fewer pairs than features.
    callback : callable or None
        Called as ``callback(alphas)`` after every precision update (progress bars).

    Returns
    -------
    posterior : LaplacePosterior
    """
    n, p = D.shape
    max_iter = MAX_EVIDENCE_ITER if max_iter is None else max_iter
    if alphas is None:
        alphas = torch.ones(len(block_sizes), dtype=D.dtype, device=D.device)
    if solver == "auto":
        solver = "dual" if n < p else "primal"
    solver = {"primal": _PrimalSolver, "dual": _DualSolver}[solver](D, target, block_sizes)
    solver.newton(alphas, max_steps=100)
    search = _PrecisionSearch(len(block_sizes), D.dtype, D.device)
    converged, n_iter, n_flat = not tune, 0, 0
    gammas, sq_norms, log_evidence = solver.state(alphas) if tune else (None, None, None)
    while not converged and n_iter < max_iter:
        live = alphas < ALPHA_BOUNDS[1]  # at the bound a block is off: its gradient is moot
        gradient = float((gammas - alphas * sq_norms).abs().masked_fill(~live, 0.0).max())
        if gradient < tol or (gradient < FLAT_RIDGE_FACTOR * tol and n_flat >= 3):
            converged = True
            break
        proposal = search.propose(alphas, gammas, sq_norms)
        saved = solver.save()
        solver.newton(proposal, max_steps=1)
        n_iter += 1
        new_state = solver.state(proposal)
        if search.enlarged and new_state[2] < log_evidence:
            solver.restore(saved)  # the enlarged step overshot: back to the plain one
            search.reset()
            continue
        n_flat = n_flat + 1 if new_state[2] - log_evidence < evidence_tol else 0
        alphas, (gammas, sq_norms, log_evidence) = proposal, new_state
        if callback is not None:
            callback(alphas)
    return _posterior_at(D, target, block_sizes, solver.weights(alphas), alphas, n_iter, converged)


def _posterior_at(D, target, block_sizes, coef, alphas, n_iter, converged):
    """Newton to the mode at the final precisions (primal), and the posterior there."""
    solver = _PrimalSolver(D, target, block_sizes)
    solver.coef = coef
    solver.newton(alphas, max_steps=100)
    _, chol = solver._hessian_chol(_block_prior(alphas, block_sizes))
    gammas, _, log_evidence = solver.state(alphas, chol)
    return LaplacePosterior(solver.coef, chol, alphas, gammas, log_evidence, n_iter, converged)


def posterior_draws(posterior, n_draws, generator):
    """Weights drawn from N(coef, precision^-1), shape (p, n_draws).

    With precision = L L^T, ``coef + L^-T eps`` (eps standard normal) has covariance
    ``L^-T L^-1 = precision^-1``. The normal draws are made on the CPU with
    ``generator``, so they do not depend on the device.
    """
    chol = posterior.precision_chol
    eps = torch.randn(chol.shape[0], n_draws, generator=generator, dtype=torch.float64)
    eps = eps.to(device=chol.device, dtype=chol.dtype)
    offsets = torch.linalg.solve_triangular(chol.T, eps, upper=True)
    return posterior.coef[:, None] + offsets


def moderated_logits(D, coef, cov_root):
    """Logits of the posterior predictive, by MacKay's probit approximation.

    E[sigmoid(f)] with f ~ N(mu, s^2) is about sigmoid(mu / sqrt(1 + pi s^2 / 8)).

    Parameters
    ----------
    D : tensor of shape (n, p)
        Feature differences.
    coef : tensor of shape (p,)
        Posterior mean.
    cov_root : tensor of shape (p, p)
        Any R with R^T R = posterior covariance (e.g. the inverse Cholesky factor of the
        precision), so that s^2 = ||R d||^2.

    Returns
    -------
    logits : tensor of shape (n,)
    """
    mean = D @ coef
    spread = D @ cov_root.T
    variance = (spread**2).sum(dim=1)
    logits = mean / torch.sqrt(1 + math.pi * variance / 8)
    overflow = torch.isinf(variance) & torch.isfinite(spread).all(dim=1)
    if overflow.any():
        # Far from the data the squares overflow (float32 first), which would turn the
        # logit into 0. There s^2 >> 1, so the logit is mean / (sqrt(pi / 8) s): computed
        # with both divided by the row's largest |R d| (s then lies in [1, sqrt(p)]).
        rows = spread[overflow]
        largest = rows.abs().amax(dim=1)
        s = torch.linalg.vector_norm(rows / largest[:, None], dim=1)
        logits[overflow] = (mean[overflow] / largest) / (math.sqrt(math.pi / 8) * s)
    return logits


_CHUNK_ELEMENTS = 2**23
"""Upper bound on rows * features per prediction chunk (32 MiB in float32)."""


class LaplacePredictor:
    """Predictions of a fitted Laplace Bradley–Terry model, chunked over rows.

    Parameters
    ----------
    feature_map : FeatureMap
        The fitted feature map, on the prediction device and dtype.
    coef : tensor of shape (p,)
        Posterior mean of the weights.
    member_coefs : tensor of shape (n_members, p)
        Posterior draws of the weights.
    cov_root : tensor of shape (p, p)
        R with R^T R the posterior covariance.
    """

    def __init__(self, feature_map, coef, member_coefs, cov_root):
        self.feature_map = feature_map
        self.coef, self.member_coefs, self.cov_root = coef, member_coefs, cov_root

    def _chunks(self, n_rows):
        step = max(1, _CHUNK_ELEMENTS // max(self.coef.shape[0], 1))
        return [slice(start, start + step) for start in range(0, n_rows, step)]

    def _to_device(self, X):
        return torch.as_tensor(np.ascontiguousarray(X)).to(self.coef.device, self.coef.dtype)

    def _differences(self, X_a, X_b, rows):
        # phi(a) and phi(b) from two calls of identical shape: a swap negates exactly
        return self.feature_map(self._to_device(X_a[rows])) - self.feature_map(
            self._to_device(X_b[rows])
        )

    def member_differences(self, X_a, X_b):
        """r_m(a) - r_m(b) of every member, shape (n_members, n), float64."""
        out = np.empty((self.member_coefs.shape[0], X_a.shape[0]), dtype=np.float64)
        with torch.no_grad():
            for rows in self._chunks(X_a.shape[0]):
                D = self._differences(X_a, X_b, rows)
                out[:, rows] = (self.member_coefs @ D.T).double().cpu().numpy()
        return out

    def predictive_logits(self, X_a, X_b):
        """Logits of the posterior predictive P(response_a preferred), shape (n,)."""
        out = np.empty(X_a.shape[0], dtype=np.float64)
        with torch.no_grad():
            for rows in self._chunks(X_a.shape[0]):
                D = self._differences(X_a, X_b, rows)
                out[rows] = moderated_logits(D, self.coef, self.cov_root).double().cpu().numpy()
        return out

    def predict_proba(self, X_a, X_b):
        """[P(a preferred), P(b preferred)] of the posterior predictive, shape (n, 2)."""
        logits = self.predictive_logits(X_a, X_b)
        return np.stack([expit(logits), expit(-logits)], axis=1)

    def decision(self, X_a, X_b):
        """Posterior-mean reward margin of response_b over response_a, shape (n,)."""
        out = np.empty(X_a.shape[0], dtype=np.float64)
        with torch.no_grad():
            for rows in self._chunks(X_a.shape[0]):
                D = self._differences(X_a, X_b, rows)
                out[rows] = -(D @ self.coef).double().cpu().numpy()
        return out

    def last_layer(self, X_a, X_b):
        """The feature-map difference phi(a) - phi(b), shape (1, n, p), and its
        posterior-mean logit, shape (1, n): the model is linear in these features."""
        features = np.empty((1, X_a.shape[0], self.coef.shape[0]), dtype=np.float64)
        logits = np.empty((1, X_a.shape[0]), dtype=np.float64)
        with torch.no_grad():
            for rows in self._chunks(X_a.shape[0]):
                D = self._differences(X_a, X_b, rows)
                features[0, rows] = D.double().cpu().numpy()
                logits[0, rows] = (D @ self.coef).double().cpu().numpy()
        return features, logits

    def member_rewards(self, X):
        """r_m(x) of every member for single responses, shape (n_members, n), float64."""
        out = np.empty((self.member_coefs.shape[0], X.shape[0]), dtype=np.float64)
        with torch.no_grad():
            for rows in self._chunks(X.shape[0]):
                phi = self.feature_map(self._to_device(X[rows]))
                out[:, rows] = (self.member_coefs @ phi.T).double().cpu().numpy()
        return out
