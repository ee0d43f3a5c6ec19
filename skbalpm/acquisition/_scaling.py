"""Scale-free ways to combine BAL-PM's two terms (pure functions, arrays in, arrays out).

BALD is measured in nats of mutual information and its spread over a pool depends on the
model, the ensemble size and the round; the KSG entropy term is a log-distance whose spread
depends on the feature space. A fixed ``beta`` mixes the two at a ratio that is right for
one model and one feature space only. These functions put both terms on a common footing
using the pool itself: a robust location and spread (``robust_location_spread``), the
pool's empirical distribution (``empirical_cdf``), or BALD's own estimation noise
(``bald_jackknife_se``).
"""

from __future__ import annotations

import numpy as np

from skbalpm.acquisition._scores import _binary_entropy, _check_member_probs

__all__ = ["bald_jackknife_se", "empirical_cdf", "robust_location_spread"]


def robust_location_spread(values_N) -> tuple[float, float]:
    """Median and interquartile range of ``values_N``, with a spread that is never zero.

    The IQR ignores the few extreme values (an isolated prompt's huge entropy term, a
    handful of very uncertain pairs), so one outlier does not set the scale of a whole
    pool. Where the IQR is zero (most values tied) the standard deviation is used, and 1.0
    where that is zero too (a constant term cannot change a ranking).

    Parameters
    ----------
    values_N : array-like of shape (n_samples,)
        Finite values.

    Returns
    -------
    location : float
        The median.
    spread : float
        The IQR (75th minus 25th percentile), else the standard deviation, else 1.0.

    Raises
    ------
    ValueError
        If ``values_N`` is empty or not finite.

    Examples
    --------
    >>> robust_location_spread([0.0, 1.0, 2.0, 3.0, 100.0])
    (2.0, 2.0)
    >>> robust_location_spread([5.0, 5.0, 5.0])
    (5.0, 1.0)
    """
    values_N = np.asarray(values_N, dtype=np.float64).ravel()
    if values_N.size == 0 or not np.isfinite(values_N).all():
        raise ValueError("robust_location_spread needs a non-empty array of finite values.")
    q25, median, q75 = np.percentile(values_N, [25, 50, 75])
    spread = q75 - q25
    if not spread > 0:
        spread = values_N.std()
    if not spread > 0:
        spread = 1.0
    return float(median), float(spread)


def empirical_cdf(reference_N, values) -> np.ndarray:
    """Fraction of ``reference_N`` that is at most each of ``values`` (the pool's CDF).

    A rank transform that keeps working after the reference was taken: the entropy term of
    a pool row changes within a greedy batch, and its new value is placed within the
    distribution of the pool at the start of the batch.

    Parameters
    ----------
    reference_N : array-like of shape (n_reference,)
        The values that define the distribution (not necessarily sorted).
    values : array-like
        Values to transform.

    Returns
    -------
    cdf : ndarray of the shape of ``values``
        In [0, 1]; ties share the highest rank of their value.

    Examples
    --------
    >>> empirical_cdf([3.0, 1.0, 2.0, 2.0], [0.5, 1.0, 2.0, 9.0]).tolist()
    [0.0, 0.25, 0.75, 1.0]
    """
    sorted_N = np.sort(np.asarray(reference_N, dtype=np.float64).ravel())
    if sorted_N.size == 0:
        raise ValueError("empirical_cdf needs at least one reference value.")
    positions = np.searchsorted(sorted_N, np.asarray(values, dtype=np.float64), side="right")
    return positions / sorted_N.size


def bald_jackknife_se(probs_MN) -> np.ndarray:
    """Jackknife standard error of each sample's BALD estimate over ensemble members.

    An ensemble of M members estimates BALD from M draws of the posterior, so two pairs
    whose BALD values differ by less than this error cannot be told apart by the model.
    Leaving member m out gives BALD_(m); the jackknife standard error is
    ``sqrt((M-1)/M * sum_m (BALD_(m) - mean_m BALD_(m))^2)``. Zero for M = 1.

    Parameters
    ----------
    probs_MN : array-like of shape (n_members, n_samples)
        Member m's probability of class 0 (response_a preferred) for sample i.

    Returns
    -------
    se_N : ndarray of shape (n_samples,)
        Non-negative.

    References
    ----------
    B. Efron, C. Stein, "The jackknife estimate of variance", The Annals of Statistics
    9(3), 1981.

    Examples
    --------
    Members that agree leave no doubt; members that disagree do:

    >>> bald_jackknife_se([[0.3, 0.1], [0.3, 0.9], [0.3, 0.5]]).round(3).tolist()
    [0.0, 0.178]
    """
    probs_MN = _check_member_probs(probs_MN)
    n_members = probs_MN.shape[0]
    if n_members == 1:
        return np.zeros(probs_MN.shape[1])
    # Leave-one-out means of the probabilities and of the member entropies, all at once.
    mean_prob_N = probs_MN.mean(axis=0)
    mean_entropy_N = _binary_entropy(probs_MN).mean(axis=0)
    loo_prob_MN = (n_members * mean_prob_N - probs_MN) / (n_members - 1)
    loo_entropy_MN = (n_members * mean_entropy_N - _binary_entropy(probs_MN)) / (n_members - 1)
    loo_prob_MN = np.clip(loo_prob_MN, 0.0, 1.0)  # rounding can leave [0, 1] by an ulp
    loo_bald_MN = _binary_entropy(loo_prob_MN) - loo_entropy_MN
    deviation_MN = loo_bald_MN - loo_bald_MN.mean(axis=0)
    return np.sqrt((n_members - 1) / n_members * np.square(deviation_MN).sum(axis=0))
