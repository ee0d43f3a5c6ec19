"""D-optimal design of the Bradley–Terry head (Shen, Sun, Ton, ICML 2025).

The reward's last layer is linear in features phi: a pair's logit is f = w . d with
d = phi(a) - phi(b), and its label's Fisher information about w is p (1 - p) d d^T,
p = sigmoid(f). A batch S is informative when its information matrix

    M(S) = M_0 + sum_{x in S} p_x (1 - p_x) d_x d_x^T,   M_0 = ridge * I (+ the acquired
    pairs' information, past-aware)

has a large determinant (D-optimality: it shrinks the volume of the confidence ellipsoid of
w). The greedy batch adds the pair with the largest gain

    log det M(S + x) - log det M(S) = log(1 + v_x d_x^T M(S)^-1 d_x),  v_x = p_x (1 - p_x)

(the matrix determinant lemma), and the gains of all candidates follow each pick by a
rank-one update (an incremental Cholesky factor of the candidates' kernel, as in fast
greedy MAP inference for determinantal point processes): O(N d) work and memory per pick,
never an (N, d, d) array. Independent heads (the members of a deep ensemble, each with its
own last layer) have a block-diagonal information matrix: their log-determinants add.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, solve_triangular
from scipy.special import expit

from skbalpm.acquisition._base import BaseQueryStrategy, check_n_instances
from skbalpm.acquisition._params import check_bool, check_int, check_real

__all__ = ["DOptimalQueryStrategy", "fisher_logdet_batch"]


def _heads(features, what):
    """A list of (n, d_h) float64 arrays from an (H, n, d) array or a list of (n, d_h)."""
    heads = [np.asarray(head, dtype=np.float64) for head in features]
    if not heads or any(head.ndim != 2 for head in heads):
        raise ValueError(
            f"{what} must be an array of shape (n_heads, n_rows, d) or a list of (n_rows, "
            f"d_h) arrays, with at least one head; got {[np.shape(h) for h in heads]}."
        )
    if any(not np.isfinite(head).all() for head in heads):
        raise ValueError(f"{what} holds NaN or infinite values.")
    return heads


def _weights(weights, heads, what):
    weights = np.asarray(weights, dtype=np.float64)
    expected = (len(heads), heads[0].shape[0])
    if weights.shape != expected or any(h.shape[0] != expected[1] for h in heads):
        raise ValueError(
            f"{what} must have shape (n_heads, n_rows) = {expected}, one row per head and "
            f"one column per feature row; got {weights.shape}."
        )
    if not ((weights >= 0) & np.isfinite(weights)).all():
        raise ValueError(f"{what} must be finite and >= 0 (Fisher weights p (1 - p)).")
    return weights


def fisher_logdet_batch(
    features_HND,
    weights_HN,
    n_instances,
    *,
    acquired_features_HAD=None,
    acquired_weights_HA=None,
    ridge=1e-6,
    chunk_size=2**22,
):
    """Greedy D-optimal batch: the rows whose Fisher information has the largest log det.

    Maximises ``sum_h log det(M_0h + sum_{x in S} v_hx d_hx d_hx^T)`` greedily over the
    batch S, with ``M_0h = ridge * I + sum_{acquired a} v_ha d_ha d_ha^T`` (module
    docstring).

    Parameters
    ----------
    features_HND : array-like of shape (n_heads, n_pool, d) or list of (n_pool, d_h)
        Each head's last-layer features of the pool's pairs (``d = phi(a) - phi(b)``).
    weights_HN : array-like of shape (n_heads, n_pool)
        Fisher weights ``p (1 - p)`` (>= 0) of each head and row.
    n_instances : int
        Batch size, 1 <= n_instances <= n_pool.
    acquired_features_HAD : array-like of shape (n_heads, n_acquired, d), default=None
        The acquired pairs' features (past-aware design); None: none counted.
    acquired_weights_HA : array-like of shape (n_heads, n_acquired), default=None
        Their Fisher weights.
    ridge : float, default=1e-6
        The prior information ``ridge * I`` that makes M_0 invertible (> 0).
    chunk_size : int, default=2**22
        Most elements of one block of the whitening pass.

    Returns
    -------
    indices : ndarray of shape (n_instances,), int
        Pool positions in pick order.
    scores : ndarray of shape (n_instances,)
        ``log det M(S_t) - log det M_0`` summed over heads, for the batch S_t up to and
        including each pick (increasing).

    Raises
    ------
    ValueError
        Shapes that disagree, NaN, negative weights, ``ridge <= 0``, bad ``n_instances``.

    References
    ----------
    Y. Shen, H. Sun, J.-F. Ton, "Active Reward Modeling: Adaptive Preference Labeling
    for Large Language Model Alignment", ICML 2025, arXiv:2502.04354.

    L. Chen, G. Zhang, H. Zhou, "Fast Greedy MAP Inference for Determinantal Point
    Process to Improve Recommendation Diversity", NeurIPS 2018 (the incremental update).

    Examples
    --------
    Rows 0 and 1 point the same way; row 2 is orthogonal and a little less certain. After
    row 0, a second copy adds log(1 + 0.25 / 1.25) = log 1.2, row 2 log 1.22:

    >>> import numpy as np
    >>> features = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    >>> weights = np.array([[0.25, 0.25, 0.22]])
    >>> idx, scores = fisher_logdet_batch(features, weights, 2, ridge=1.0)
    >>> idx.tolist()
    [0, 2]
    >>> bool(np.isclose(scores[-1], np.log(1.25) + np.log(1.22)))
    True
    """
    heads = _heads(features_HND, "features_HND")
    weights = _weights(weights_HN, heads, "weights_HN")
    if isinstance(ridge, bool) or not (np.isscalar(ridge) and np.isfinite(ridge) and ridge > 0):
        raise ValueError(f"ridge must be a finite number > 0; got {ridge!r}.")
    n_pool = heads[0].shape[0]
    check_n_instances(n_instances, n_pool)
    acquired = [None] * len(heads)
    if acquired_features_HAD is not None:
        acquired = _heads(acquired_features_HAD, "acquired_features_HAD")
        if len(acquired) != len(heads) or any(
            a.shape[1] != h.shape[1] for a, h in zip(acquired, heads, strict=True)
        ):
            raise ValueError("acquired_features_HAD must have the pool's heads and widths.")
        acquired_weights = _weights(acquired_weights_HA, acquired, "acquired_weights_HA")
        acquired = list(zip(acquired, acquired_weights, strict=True))
    kernels = [
        _WhitenedKernel(head, weights[h], acquired[h], float(ridge), n_instances, chunk_size)
        for h, head in enumerate(heads)
    ]
    available = np.ones(n_pool, dtype=bool)
    picks = np.empty(n_instances, dtype=np.intp)
    scores = np.empty(n_instances)
    total = 0.0
    for t in range(n_instances):
        gain_N = sum(kernel.log_gain() for kernel in kernels)
        j = int(np.argmax(np.where(available, gain_N, -np.inf)))  # ties: lowest row
        total += gain_N[j]
        picks[t], scores[t] = j, total
        available[j] = False
        if t + 1 < n_instances:
            for kernel in kernels:
                kernel.add(j, t)
    return picks, scores


class _WhitenedKernel:
    """Greedy log-det state of one head: whitened rows, residual gains, Cholesky columns.

    With M_0 = L L^T and g_x = sqrt(v_x) L^-1 d_x, the kernel K = G G^T gives
    det M(S) / det M_0 = det(I + K_S); ``residual_N`` holds 1 + K_xx minus the part of
    K_xx already explained by the picks (1 + v_x d_x^T M(S)^-1 d_x).
    """

    def __init__(self, features_ND, weights_N, acquired, ridge, n_instances, chunk_size):
        n, d = features_ND.shape
        information_DD = ridge * np.eye(d)
        if acquired is not None:
            features_AD, weights_A = acquired
            information_DD += (features_AD * weights_A[:, None]).T @ features_AD
        chol_DD, _ = cho_factor(information_DD, lower=True)
        self.whitened_ND = np.empty((n, d))
        step = max(1, chunk_size // max(d, 1))
        for start in range(0, n, step):  # g_x = sqrt(v_x) L^-1 d_x, a block at a time
            rows = slice(start, start + step)
            block = solve_triangular(chol_DD, features_ND[rows].T, lower=True).T
            self.whitened_ND[rows] = block * np.sqrt(weights_N[rows])[:, None]
        self.residual_N = 1.0 + np.einsum("nd,nd->n", self.whitened_ND, self.whitened_ND)
        self.columns_NB = np.empty((n, max(n_instances - 1, 0)))

    def log_gain(self):
        # rounding may take a residual a hair below 1; the true value never is
        return np.log(np.maximum(self.residual_N, 1.0))

    def add(self, j, t):
        """Condition on pick j (the t-th): one kernel column, one Cholesky column."""
        kernel_N = self.whitened_ND @ self.whitened_ND[j]
        explained_N = self.columns_NB[:, :t] @ self.columns_NB[j, :t]
        column_N = (kernel_N - explained_N) / np.sqrt(max(self.residual_N[j], 1.0))
        self.columns_NB[:, t] = column_N
        self.residual_N -= column_N**2


class DOptimalQueryStrategy(BaseQueryStrategy):
    """D-optimal design of the Bradley–Terry head: the batch with the most Fisher information.

    Greedy log-determinant of the last-layer Fisher information of the batch,
    ``sum_x p_x (1 - p_x) d_x d_x^T`` with ``d_x`` the pair's last-layer feature difference
    and ``p_x`` its predicted preference (:func:`~skbalpm.acquisition.fisher_logdet_batch`):
    pairs whose outcome is uncertain (p near 1/2) and whose features point where the batch has not
    looked yet. ``past_aware=True`` counts the acquired pairs' information too (the
    paper's past-aware variant), steering away from directions already labelled.

    The last layer is the classifier's
    (:meth:`~skbalpm.PreferenceEnsembleClassifier.predict_last_layer`): the Laplace
    learner's feature map (linear and random Fourier features) with its posterior-mean
    weights, or each deep-ensemble member's last hidden layer (members are independent
    heads: their log-determinants add; so are the learners of a modAL Committee).

    Parameters
    ----------
    past_aware : bool, default=False
        Start from the acquired pairs' Fisher information (plus ``ridge * I``) instead of
        ``ridge * I`` alone.
    ridge : float, default=1e-6
        Prior information ``ridge * I`` (> 0), as in the paper's code.
    chunk_size : int, default=2**22
        Most elements of one block of the whitening pass.
    random_state : None
        Unused (deterministic; ties go to the lower pool position).

    Notes
    -----
    The returned scores are the batch's log-determinant gain so far,
    ``log det M(S_t) - log det M_0``. The classifier must have ``predict_last_layer(X) ->
    (features_HND, logits_HN)`` (as :class:`~skbalpm.PreferenceEnsembleClassifier` does).

    References
    ----------
    Y. Shen, H. Sun, J.-F. Ton, "Active Reward Modeling: Adaptive Preference Labeling
    for Large Language Model Alignment", ICML 2025, arXiv:2502.04354.

    Examples
    --------
    >>> from skbalpm import DOptimalQueryStrategy, PreferenceEnsembleClassifier
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=120, n_features=4, random_state=0)
    >>> clf = PreferenceEnsembleClassifier(
    ...     n_random_features=16, feature_layout=data.feature_layout, random_state=0
    ... ).fit(data.X[:40], data.y[:40])
    >>> idx, scores = DOptimalQueryStrategy()(clf, data.X[40:], n_instances=5)
    >>> len(set(idx.tolist())), bool((scores[1:] > scores[:-1]).all())
    (5, True)
    """

    name = "dopt"
    _reads = frozenset({"last_layer"})

    def __init__(self, past_aware=False, ridge=1e-6, chunk_size=2**22, random_state=None):
        self.past_aware = past_aware
        self.ridge = ridge
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_bool(self, "past_aware")
        check_real(self, "ridge", minimum=0.0, strict=True)
        check_int(self, "chunk_size", minimum=1)

    def _reads_acquired_set(self):
        return bool(self.past_aware)

    def _select(self, context, n_instances):
        features_HND, logits_HN = context.last_layer
        p_HN = expit(logits_HN)
        kwargs = {}
        if self.past_aware:
            acquired_HAD, acquired_logits_HA = context.acquired_last_layer
            p_HA = expit(acquired_logits_HA)
            kwargs = {
                "acquired_features_HAD": acquired_HAD,
                "acquired_weights_HA": p_HA * (1 - p_HA),
            }
        return fisher_logdet_batch(
            features_HND,
            p_HN * (1 - p_HN),
            n_instances,
            ridge=float(self.ridge),
            chunk_size=self.chunk_size,
            **kwargs,
        )
