"""Strategies that rank the pool by a single per-row score: random, BALD, entropy."""

from __future__ import annotations

import numpy as np

from skbalpm.acquisition._base import BaseQueryStrategy
from skbalpm.acquisition._scores import bald, predictive_entropy

__all__ = ["BALDQueryStrategy", "PredictiveEntropyQueryStrategy", "RandomQueryStrategy"]


class RandomQueryStrategy(BaseQueryStrategy):
    """Pick pool rows uniformly at random, without replacement.

    The classifier is not used (it may be unfitted). Scores are all 0.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the draws; the strategy keeps one generator across calls.

    Examples
    --------
    >>> import numpy as np
    >>> idx, scores = RandomQueryStrategy(random_state=0)(None, np.zeros((10, 3)), 4)
    >>> len(set(idx.tolist())), scores.tolist()
    (4, [0.0, 0.0, 0.0, 0.0])
    """

    name = "random"

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _select(self, context, n_instances):
        indices = self._random_state().choice(context.n_pool, n_instances, replace=False)
        return indices, np.zeros(n_instances)


class BALDQueryStrategy(BaseQueryStrategy):
    """Top-B BALD: the rows where the ensemble members disagree most.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Unused (the strategy is deterministic; ties go to the lower pool position);
        accepted so every strategy has the same parameters.

    References
    ----------
    N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", arXiv:1112.5745, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:  # any fitted classifier with member probabilities
    ...     n_members_ = 2
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.5, 0.9, 0.1], [0.5, 0.1, 0.2]])
    >>> idx, scores = BALDQueryStrategy()(Fixed(), np.zeros((3, 6)), n_instances=2)
    >>> idx.tolist()
    [1, 2]
    """

    name = "bald"
    _reads = frozenset({"members"})

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _score(self, context):
        return bald(context.member_probs)


class PredictiveEntropyQueryStrategy(BaseQueryStrategy):
    """Top-B predictive entropy (total uncertainty of the ensemble-mean prediction).

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Unused (deterministic; ties go to the lower pool position).

    References
    ----------
    Y. Gal, R. Islam, Z. Ghahramani, "Deep Bayesian Active Learning with Image Data",
    ICML 2017, arXiv:1703.02910 (the "Max Entropy" acquisition).

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     n_members_ = 2
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.5, 0.9, 0.1], [0.5, 0.1, 0.2]])
    >>> PredictiveEntropyQueryStrategy()(Fixed(), np.zeros((3, 6)), 1)[0].tolist()
    [0]
    """

    name = "entropy"
    _reads = frozenset({"members"})

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _score(self, context):
        return predictive_entropy(context.member_probs)
