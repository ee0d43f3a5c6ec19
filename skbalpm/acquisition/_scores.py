"""Pure scoring functions behind the query strategies (arrays in, arrays out).

Every score a strategy uses lives here so that it can be tested alone. Shapes are in the
names: ``probs_MN`` holds member probabilities of shape (n_members, n_samples).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, entr
from sklearn.utils import check_random_state

__all__ = [
    "bald",
    "ball_counts",
    "gumbel_noise",
    "knn_radius",
    "ksg_entropy_term",
    "predictive_entropy",
]


def _check_member_probs(probs_MN) -> np.ndarray:
    probs_MN = np.asarray(probs_MN, dtype=np.float64)
    if probs_MN.ndim != 2 or probs_MN.shape[0] == 0:
        raise ValueError(
            "Member probabilities must have shape (n_members, n_samples) with at least one "
            f"member; got an array of shape {probs_MN.shape}."
        )
    bad = ~((probs_MN >= 0.0) & (probs_MN <= 1.0))  # also catches NaN
    if bad.any():
        member, sample = np.argwhere(bad)[0]
        raise ValueError(
            "Member probabilities must lie in [0, 1] (no NaN); member "
            f"{member}, sample {sample} is {probs_MN[member, sample]!r}."
        )
    return probs_MN


def _binary_entropy(p):
    # entr(p) = -p log p, with entr(0) = 0: safe at p in {0, 1}.
    return entr(p) + entr(1.0 - p)


def predictive_entropy(probs_MN) -> np.ndarray:
    """Entropy (nats) of the ensemble-mean binary prediction.

    H(mean_m p_m(x)) with H(p) = -p log p - (1 - p) log(1 - p).

    Parameters
    ----------
    probs_MN : array-like of shape (n_members, n_samples)
        Member m's probability of class 0 (response_a preferred) for sample i.

    Returns
    -------
    entropy_N : ndarray of shape (n_samples,)
        Values in [0, log 2].

    Raises
    ------
    ValueError
        If the shape is wrong or an entry is NaN or outside [0, 1].

    References
    ----------
    Y. Gal, R. Islam, Z. Ghahramani, "Deep Bayesian Active Learning with Image Data",
    ICML 2017, arXiv:1703.02910 (the "Max Entropy" acquisition).

    Examples
    --------
    >>> float(predictive_entropy([[0.5], [0.5]])[0])  # log 2
    0.6931471805599453
    >>> float(predictive_entropy([[1.0], [1.0]])[0])
    0.0
    """
    probs_MN = _check_member_probs(probs_MN)
    return _binary_entropy(probs_MN.mean(axis=0))


def bald(probs_MN) -> np.ndarray:
    """BALD: the mutual information between the label and the ensemble member (nats).

    BALD(x) = H(mean_m p_m(x)) - mean_m H(p_m(x)) (:ref:`design_balpm`, step 1), clipped
    at 0 from below so that rounding never gives a negative value.

    Parameters
    ----------
    probs_MN : array-like of shape (n_members, n_samples)
        Member m's probability of class 0 (response_a preferred) for sample i.

    Returns
    -------
    bald_N : ndarray of shape (n_samples,)
        Values in [0, log 2]; 0 where the members agree.

    Raises
    ------
    ValueError
        If the shape is wrong or an entry is NaN or outside [0, 1].

    References
    ----------
    N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", arXiv:1112.5745, 2011.

    Examples
    --------
    Two members that are sure of opposite answers disagree maximally:

    >>> float(bald([[0.0], [1.0]])[0])  # log 2
    0.6931471805599453
    >>> float(bald([[0.3], [0.3]])[0])
    0.0
    """
    probs_MN = _check_member_probs(probs_MN)
    mean_entropy = _binary_entropy(probs_MN).mean(axis=0)
    return np.maximum(_binary_entropy(probs_MN.mean(axis=0)) - mean_entropy, 0.0)


def knn_radius(features_ND, k: int = 13, *, backend: str = "torch", **kwargs) -> np.ndarray:
    """Euclidean distance from every row to its k-th nearest neighbour among the rows.

    The row itself counts as the first neighbour (:ref:`design_balpm_conventions`), so
    ``k=1`` gives 0 and exact duplicate rows count as neighbours at distance 0.

    Parameters
    ----------
    features_ND : array-like of shape (n_samples, n_features)
        The pool's (prompt) features.
    k : int, default=13
        Which neighbour; 1 <= k <= n_samples.
    backend : {"torch", "faiss"}, default="torch"
        ``"torch"``: exact, blocked float32 GEMM distances with a float64 re-check near the
        k-th distance (``skbalpm.acquisition._knn.knn_search``). ``"faiss"``: approximate
        neighbours from a faiss HNSW index, for pools past about 10^5 rows (needs
        ``pip install skbalpm[faiss]``).
    **kwargs
        Passed to the backend (``device``, ``chunk_size``, ``n_extra`` for torch;
        ``hnsw_m``, ``ef_search`` for faiss).

    Returns
    -------
    radius_N : ndarray of shape (n_samples,), float64
        r_k of every row.

    References
    ----------
    A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
    Physical Review E 69, 066138, 2004.

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> knn_radius(np.array([[0.0], [1.0], [3.0]]), k=2).tolist()
    [1.0, 1.0, 2.0]
    """
    from skbalpm.acquisition._knn import knn_search, knn_search_faiss

    if backend == "torch":
        return knn_search(features_ND, k, **kwargs).radius_N
    if backend == "faiss":
        return knn_search_faiss(features_ND, k, **kwargs)
    raise ValueError(f"backend must be 'torch' or 'faiss'; got {backend!r}.")


def ball_counts(pool_ND, radii_N, acquired_AD, **kwargs) -> np.ndarray:
    """Number of acquired points within distance r(x) of each pool point.

    n_D(x) = #{a in D : ||phi(a) - phi(x)|| <= r(x)} (:ref:`design_balpm`, step 3).

    Parameters
    ----------
    pool_ND : array-like of shape (n_pool, n_features)
        Pool (prompt) features.
    radii_N : array-like of shape (n_pool,)
        Ball radius of every pool point.
    acquired_AD : array-like of shape (n_acquired, n_features)
        Acquired (prompt) features; may have no rows.
    **kwargs
        ``device``, ``chunk_size`` for the blocked computation.

    Returns
    -------
    counts_N : ndarray of shape (n_pool,), int64
        n_D(x) of every pool point.

    References
    ----------
    A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
    Physical Review E 69, 066138, 2004.

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> ball_counts(np.array([[0.0], [5.0]]), np.array([1.0, 0.5]),
    ...             np.array([[1.0], [-0.5], [9.0]])).tolist()
    [2, 0]
    """
    from skbalpm.acquisition._knn import count_within

    return count_within(pool_ND, radii_N, acquired_AD, **kwargs)


def ksg_entropy_term(radii_N, counts_N, d: float = 1.0) -> np.ndarray:
    """The KSG-style entropy term of BAL-PM: log(2 r + 1e-4) - digamma(n + 1) / d.

    :ref:`design_balpm`, step 4: the pool sizes the balls (r = r_k), the acquired set
    counts in them (n = n_D). A point far from the acquired prompts scores high.

    Parameters
    ----------
    radii_N : array-like of shape (n_samples,)
        Ball radii r_k(x) >= 0.
    counts_N : array-like of shape (n_samples,)
        Acquired points in each ball, n_D(x) >= 0.
    d : float, default=1.0
        The dimension divisor of the digamma term (BAL-PM uses 1).

    Returns
    -------
    entropy_term_N : ndarray of shape (n_samples,)

    References
    ----------
    A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
    Physical Review E 69, 066138, 2004.

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    digamma(1) = -0.5772... (minus the Euler–Mascheroni constant):

    >>> import numpy as np
    >>> round(float(ksg_entropy_term([0.0], [0])[0]), 6)  # log(1e-4) + 0.577216
    -8.633125
    """
    radii_N = np.asarray(radii_N, dtype=np.float64)
    counts_N = np.asarray(counts_N, dtype=np.float64)
    if d <= 0:
        raise ValueError(f"d must be positive; got {d!r}.")
    return np.log(2.0 * radii_N + 1e-4) - digamma(counts_N + 1.0) / d


def gumbel_noise(n: int, beta: float, random_state=None) -> np.ndarray:
    """Draw n samples of Gumbel(0, 1/beta) noise.

    Adding it to scores and taking the top B samples B points without replacement with
    probability proportional to exp(beta * score) (the Gumbel-top-k trick).

    Parameters
    ----------
    n : int
        Number of samples.
    beta : float
        Inverse temperature, > 0; the noise scale is 1/beta.
    random_state : int, numpy.random.Generator, RandomState or None
        A ``Generator`` is used as is; anything else goes through
        :func:`sklearn.utils.check_random_state`.

    Returns
    -------
    noise_N : ndarray of shape (n,)

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron, Y. Gal,
    "Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning",
    arXiv:2106.12059, 2023.

    Examples
    --------
    >>> gumbel_noise(3, beta=1.0, random_state=0).shape
    (3,)
    """
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive finite number; got {beta!r}.")
    rng = random_state if isinstance(random_state, np.random.Generator) else None
    if rng is None:
        rng = check_random_state(random_state)
    return rng.gumbel(loc=0.0, scale=1.0 / beta, size=n)
