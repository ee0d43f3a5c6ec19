"""EPIG (Smith et al., 2023): expected predictive information gain toward target pairs.

BALD asks how much a label tells about the model; EPIG asks how much it tells about the
predictions that matter: the labels y* of target pairs x* drawn from where the model
will be used (here, by default, a uniform sample of the pool's pairs). With the
ensemble's joint predictive p(y, y*) = mean_m p_m(y) p_m(y*) (the members are the
posterior samples),

    EPIG(x) = mean over targets x* of I(y; y*) = KL[p(y, y*) || p(y) p(y*)].

For binary outcomes the joint table of (y, y*) is fixed by the two marginals a = mean_m
p_m(x), b = mean_m p_m(x*) and the members' covariance c = mean_m (p_m(x) - a)(p_m(x*) -
b): p(y = i, y* = j) = a_i b_j + s_ij c, with s = +1 on the diagonal and -1 off it. With
u_ij = s_ij c / (a_i b_j) and sum_ij a_i b_j u_ij = 0,

    I(y; y*) = sum_ij a_i b_j [(1 + u_ij) log(1 + u_ij) - u_ij],

a sum of non-negative terms (about u^2 / 2 each near 0, where a series replaces the
formula), so small gains are not lost to cancellation and the score is 0 exactly where
the members agree. One (pool x targets) matrix product gives every covariance; pool and
targets are processed in blocks of at most ``chunk_size`` elements, so memory stays
O(M (N + T) + chunk_size) and no (N, T, M, 2, 2) table is ever built.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples

from skbalpm.acquisition._base import BaseQueryStrategy
from skbalpm.acquisition._params import check_int
from skbalpm.acquisition._scores import _check_member_probs

__all__ = ["EPIGQueryStrategy", "epig_scores"]

_SERIES_BELOW = 0.01  # |u| below it: the series of (1 + u) log(1 + u) - u (error < 1e-15)
_ABOVE_MINUS_ONE = np.nextafter(-1.0, 0.0)
# the series' terms (-u)^k / (k (k - 1)) for k = 8 .. 2, over u^2 (np.polyval's order)
_SERIES_COEFFS = np.array([(-1.0) ** k / (k * (k - 1)) for k in range(8, 1, -1)])


def _excess(u):
    """(1 + u) log(1 + u) - u for u >= -1: >= 0, exact to rounding also near 0."""
    u = np.maximum(u, -1.0)  # a joint probability rounded below 0 counts as 0
    # (1 + u) log(1 + u) is 0 at u = -1: the log's argument is kept finite there
    excess = (1.0 + u) * np.log1p(np.maximum(u, _ABOVE_MINUS_ONE)) - u
    small = np.abs(u) < _SERIES_BELOW
    if small.any():
        u_small = u[small]
        excess[small] = u_small * u_small * np.polyval(_SERIES_COEFFS, u_small)
    return excess


def _centered(probs_MN, mean_N):
    """Each member's deviation from the mean; exactly 0 where the members agree."""
    centered_MN = probs_MN - mean_N
    # the mean of equal values may round off them: no covariance from rounding
    centered_MN[:, np.ptp(probs_MN, axis=0) == 0] = 0.0
    return centered_MN


def _block_information(centered_MR, centered_MC, pool_2R, target_2C):
    """sum over the block's targets of I(y; y*), for each of its pool rows, shape (R,)."""
    cov_RC = centered_MR.T @ centered_MC / centered_MR.shape[0]
    total_R = np.zeros(cov_RC.shape[0])
    for i in (0, 1):
        for j in (0, 1):
            independent_RC = np.outer(pool_2R[i], target_2C[j])
            sign = 1.0 if i == j else -1.0
            # where a marginal is 0 every member agrees on it, so the covariance is 0 too
            u_RC = np.divide(
                sign * cov_RC,
                independent_RC,
                out=np.zeros_like(cov_RC),
                where=independent_RC > 0,
            )
            total_R += np.einsum("rc,rc->r", independent_RC, _excess(u_RC))
    return total_R


def epig_scores(probs_MN, probs_MT, *, chunk_size=2**16):
    """EPIG of every pool pair toward the target pairs, for binary outcomes (nats).

    EPIG(x_n) = mean_t I(y_n; y*_t), the mutual information under the ensemble's joint
    predictive p(y, y*) = mean_m p_m(y) p_m(y*) (module docstring), computed in float64
    as a sum of non-negative terms.

    Parameters
    ----------
    probs_MN : array-like of shape (n_members, n_pool)
        Member m's probability of class 0 (response_a preferred) for pool pair n.
    probs_MT : array-like of shape (n_members, n_targets)
        The same members' probabilities for the target pairs.
    chunk_size : int, default=2**16
        Most elements of one (pool rows x targets) block; memory is a few such blocks.

    Returns
    -------
    epig_N : ndarray of shape (n_pool,)
        Values in [0, log 2]; each at most the pool pair's BALD and at most the targets'
        mean BALD (the labels depend on each other only through the member); 0 where
        the members agree on the pool pair.

    Raises
    ------
    ValueError
        If a shape is wrong, the member counts differ, an entry is NaN or outside
        [0, 1], or ``chunk_size`` is not a positive int.

    References
    ----------
    F. Bickford Smith, A. Kirsch, S. Farquhar, Y. Gal, A. Foster, T. Rainforth,
    "Prediction-Oriented Bayesian Active Learning", AISTATS 2023, arXiv:2304.08151.

    Examples
    --------
    Two members; by hand: the joint table of (y, y*) is [[0.37, 0.13], [0.13, 0.37]] and
    both marginals are 1/2, so EPIG = 0.74 log(1.48) + 0.26 log(0.52) = 0.1201 nats.

    >>> import numpy as np
    >>> round(float(epig_scores([[0.9], [0.1]], [[0.8], [0.2]])[0]), 4)
    0.1201
    >>> float(epig_scores([[0.3], [0.3]], [[0.8], [0.2]])[0])  # the members agree
    0.0
    """
    probs_MN = _check_member_probs(probs_MN)
    probs_MT = _check_member_probs(probs_MT)
    if probs_MT.shape[0] != probs_MN.shape[0] or probs_MT.shape[1] == 0:
        raise ValueError(
            "probs_MT must hold the same members as probs_MN and at least one target: "
            f"expected shape ({probs_MN.shape[0]}, n_targets >= 1); got {probs_MT.shape}."
        )
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise ValueError(f"chunk_size must be a positive int; got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int; got {chunk_size!r}.")
    n_pool, n_targets = probs_MN.shape[1], probs_MT.shape[1]
    # marginals of both outcomes, each a mean (1 - mean would lose digits near 1)
    pool_2N = np.stack([probs_MN.mean(axis=0), (1.0 - probs_MN).mean(axis=0)])
    target_2T = np.stack([probs_MT.mean(axis=0), (1.0 - probs_MT).mean(axis=0)])
    centered_MN = _centered(probs_MN, pool_2N[0])
    centered_MT = _centered(probs_MT, target_2T[0])
    n_cols = min(n_targets, chunk_size)
    n_rows = max(1, chunk_size // n_cols)
    total_N = np.zeros(n_pool)
    for start in range(0, n_pool, n_rows):
        rows = slice(start, start + n_rows)
        for col in range(0, n_targets, n_cols):
            cols = slice(col, col + n_cols)
            total_N[rows] += _block_information(
                centered_MN[:, rows], centered_MT[:, cols], pool_2N[:, rows], target_2T[:, cols]
            )
    return total_N / n_targets


class EPIGQueryStrategy(BaseQueryStrategy):
    """Top-B EPIG: the pairs whose labels tell most about the predictions on target pairs.

    Each pool pair is scored by its expected predictive information gain
    (:func:`~skbalpm.acquisition.epig_scores`): the mutual information between its label
    and the label of a target pair, under the ensemble's joint predictive, averaged over
    ``n_targets`` target pairs. Unlike BALD it ignores disagreement that does not change
    predictions where the model will be used: a pair the members disagree on for reasons
    no target shares scores low. The batch is the top ``n_instances`` by EPIG, as the
    authors' top-k batches.

    The targets are ``n_targets`` rows drawn uniformly without replacement, at each call,
    from the pool (the paper's pool-based setting, where the pool stands for the input
    distribution), or from ``X_target`` when it is given (pairs from the distribution
    of interest, e.g. the test prompts' pairs); all of them where there are no more.

    Parameters
    ----------
    n_targets : int, default=100
        Target pairs per call (>= 1).
    X_target : array-like of shape (n_rows, ...), default=None
        Where targets are drawn from instead of the pool: rows of the same kind as
        ``X_pool`` (features, or raw triples for a Pipeline), scored by the same
        classifier (or Committee).
    chunk_size : int, default=2**16
        Most elements of one (pool rows x targets) block.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the targets; the strategy keeps one generator across calls,
        so rounds get fresh targets. Wrapped in
        :class:`~skbalpm.StochasticQueryStrategy` without a seed of its own, it draws
        from the wrapper's generator.

    Notes
    -----
    The returned scores are the picked rows' EPIG (nats). Scoring costs one (pool x
    targets x members) matrix product; the members are the classifier's
    (``predict_member_proba``), or the learners of a modAL Committee.
    ``stochastic(epig, mode=power)`` samples the batch with probability proportional to
    EPIG instead of taking its top.

    References
    ----------
    F. Bickford Smith, A. Kirsch, S. Farquhar, Y. Gal, A. Foster, T. Rainforth,
    "Prediction-Oriented Bayesian Active Learning", AISTATS 2023, arXiv:2304.08151.

    Examples
    --------
    >>> from skbalpm import EPIGQueryStrategy, PreferenceEnsembleClassifier
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=120, n_features=4, random_state=0)
    >>> clf = PreferenceEnsembleClassifier(
    ...     n_members=3, feature_layout=data.feature_layout, random_state=0
    ... ).fit(data.X[:40], data.y[:40])
    >>> strategy = EPIGQueryStrategy(n_targets=20, random_state=0)
    >>> idx, scores = strategy(clf, data.X[40:], n_instances=5)
    >>> len(set(idx.tolist())), bool((scores[:-1] >= scores[1:]).all())
    (5, True)
    """

    name = "epig"
    _reads = frozenset({"members"})

    def __init__(self, n_targets=100, X_target=None, chunk_size=2**16, random_state=None):
        self.n_targets = n_targets
        self.X_target = X_target
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_int(self, "n_targets", minimum=1)
        check_int(self, "chunk_size", minimum=1)
        if self.X_target is None:
            return
        expected = (
            f"{type(self).__name__}: X_target must be None or at least one row of the kind "
            "X_pool holds (features, or raw triples for a Pipeline)"
        )
        if isinstance(self.X_target, str | bytes):
            raise ValueError(f"{expected}; got {self.X_target!r}.")
        try:
            n_rows = _num_samples(self.X_target)
        except TypeError:
            raise ValueError(f"{expected}; got {type(self.X_target).__name__}.") from None
        if n_rows == 0:
            raise ValueError(f"{expected}; got no rows.")

    def _draw(self, n_rows):
        """Positions of the targets among ``n_rows`` candidates."""
        if self.n_targets >= n_rows:
            return np.arange(n_rows)
        return self._random_state().choice(n_rows, self.n_targets, replace=False)

    def _target_probs(self, context):
        """Member probabilities of the targets, shape (n_members, n_targets)."""
        if self.X_target is None:
            return context.member_probs[:, self._draw(context.n_pool)]
        rows = self._draw(_num_samples(self.X_target))
        try:
            return context.member_probs_of(_safe_indexing(self.X_target, rows))
        except (ValueError, TypeError) as exc:  # name the input that holds the problem
            kind = TypeError if isinstance(exc, TypeError) else ValueError
            raise kind(f"{type(self).__name__}: X_target: {exc}") from exc

    def _score(self, context):
        probs_MN = context.member_probs  # the pool first: its errors are reported as such
        return epig_scores(probs_MN, self._target_probs(context), chunk_size=self.chunk_size)
