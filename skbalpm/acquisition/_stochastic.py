"""Stochastic batch BALD (Kirsch et al.): top-B of Gumbel-perturbed scores.

Adding Gumbel(0, 1/beta) noise to a log-weight and taking the top B samples B rows
without replacement with probability proportional to exp(beta * log-weight):

* SoftmaxBALD: BALD + noise, p(i) ∝ exp(beta * BALD_i);
* PowerBALD: log BALD + noise, p(i) ∝ BALD_i ** beta;
* SoftRankBALD: log(1 / rank) + noise, p(i) ∝ rank_i ** -beta (rank 1 = highest BALD).

Kirsch et al. use beta = 1 throughout; that is the default here.
"""

from __future__ import annotations

import numpy as np

from skbalpm.acquisition._base import BaseQueryStrategy, top_n
from skbalpm.acquisition._params import check_real
from skbalpm.acquisition._scores import bald, gumbel_noise

__all__ = ["PowerBALDQueryStrategy", "SoftRankBALDQueryStrategy", "SoftmaxBALDQueryStrategy"]

_TINY = np.finfo(np.float64).tiny


class _StochasticBALD(BaseQueryStrategy):
    def __init__(self, beta=1.0, random_state=None):
        self.beta = beta
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_real(self, "beta", minimum=0.0, strict=True)

    def _select(self, context, n_instances):
        log_weight = self._log_weight(bald(context.member_probs))
        perturbed = log_weight + gumbel_noise(len(log_weight), self.beta, self._random_state())
        indices = top_n(perturbed, n_instances)
        return indices, perturbed[indices]


_SHARED_DOC = """
    Parameters
    ----------
    beta : float, default=1.0
        Inverse temperature (> 0): the Gumbel noise has scale 1/beta. Large beta tends to
        top-B BALD, small beta to random sampling.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise; the strategy keeps one generator across calls, so rounds get
        fresh noise and a new object with the same seed replays them.

    Notes
    -----
    When called, the perturbed scores of the picked rows are returned as their scores.

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron, Y. Gal,
    "Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning",
    arXiv:2106.12059, 2023.

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024 (baselines).
"""

_EXAMPLE = """
    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     n_members_ = 2
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.5, 0.9, 0.1, 0.4], [0.5, 0.1, 0.2, 0.6]])
    >>> idx, scores = {name}(random_state=0)(Fixed(), np.zeros((4, 6)), 2)
    >>> idx.shape, len(set(idx.tolist()))
    ((2,), 2)
"""


class SoftmaxBALDQueryStrategy(_StochasticBALD):
    __doc__ = (
        "Top-B of BALD + Gumbel(0, 1/beta): samples rows with p ∝ exp(beta * BALD).\n"
        + _SHARED_DOC
        + _EXAMPLE.format(name="SoftmaxBALDQueryStrategy")
    )

    def _log_weight(self, bald_N):
        return bald_N


class PowerBALDQueryStrategy(_StochasticBALD):
    __doc__ = (
        "Top-B of log BALD + Gumbel(0, 1/beta): samples rows with p ∝ BALD ** beta.\n\n"
        "    BALD is floored at the smallest positive float before the log, so rows where\n"
        "    the members agree exactly get a finite, very low log-weight.\n"
        + _SHARED_DOC
        + _EXAMPLE.format(name="PowerBALDQueryStrategy")
    )

    def _log_weight(self, bald_N):
        return np.log(np.maximum(bald_N, _TINY))


class SoftRankBALDQueryStrategy(_StochasticBALD):
    __doc__ = (
        "Top-B of log(1/rank) + Gumbel(0, 1/beta): samples rows with p ∝ rank ** -beta.\n\n"
        "    Rank 1 is the highest BALD; tied scores get consecutive ranks in pool order.\n"
        + _SHARED_DOC
        + _EXAMPLE.format(name="SoftRankBALDQueryStrategy")
    )

    def _log_weight(self, bald_N):
        rank = np.empty(len(bald_N))
        rank[top_n(bald_N, len(bald_N))] = np.arange(1, len(bald_N) + 1)
        return -np.log(rank)
