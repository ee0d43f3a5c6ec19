"""Core-set (greedy k-center) on prompt features: a diversity-only reference."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.metrics.pairwise import euclidean_distances

from skbalpm.acquisition._base import BaseQueryStrategy
from skbalpm.acquisition._knn import distance_unit

__all__ = ["CoresetQueryStrategy"]


class CoresetQueryStrategy(BaseQueryStrategy):
    """Greedy k-center on prompt features: each pick is the pool row farthest from the
    acquired set and the picks before it.

    The classifier's probabilities are not used (only its Pipeline steps, for features).
    With no acquired set, the first pick is drawn at random.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the first pick when the acquired set is empty.

    Notes
    -----
    The returned scores are each pick's distance to the nearest center at pick time
    (``inf`` for a random first pick). Prompt features come as for
    :class:`BALPMQueryStrategy`.

    References
    ----------
    O. Sener, S. Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set
    Approach", ICLR 2018, arXiv:1708.00489.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.0], [1.0], [5.0], [10.0]])
    >>> strategy = CoresetQueryStrategy()
    >>> idx, scores = strategy(None, P, 2, prompt_features=P, acquired_prompt_features=[[0.0]])
    >>> idx.tolist(), scores.tolist()
    ([3, 2], [10.0, 5.0])
    """

    name = "coreset"
    _reads = frozenset({"prompts"})

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _reads_acquired_set(self):
        return True

    def _select(self, context, n_instances):
        prompts_ND = context.pool_prompts
        acquired_AD = context.acquired_prompts
        # distances of features in a safe range (exact power-of-two rescaling; ordinary
        # features are left alone), reported in the features' own unit
        unit = distance_unit(prompts_ND, acquired_AD)
        if unit != 1.0:
            prompts_ND, acquired_AD = prompts_ND / unit, acquired_AD / unit
        if len(acquired_AD):
            _, min_dist_N = pairwise_distances_argmin_min(prompts_ND, acquired_AD)
            min_dist_N = min_dist_N.astype(np.float64)
        else:
            min_dist_N = np.full(len(prompts_ND), np.inf)
        picks = np.empty(n_instances, dtype=np.intp)
        scores = np.empty(n_instances)
        available = np.ones(len(prompts_ND), dtype=bool)
        for b in range(n_instances):
            if np.isinf(min_dist_N[available]).all():
                i = int(self._random_state().choice(np.flatnonzero(available)))
            else:
                i = int(np.argmax(np.where(available, min_dist_N, -np.inf)))
            picks[b], scores[b] = i, min_dist_N[i] * unit
            available[i] = False
            row = euclidean_distances(prompts_ND, prompts_ND[i : i + 1]).ravel()
            np.minimum(min_dist_N, row, out=min_dist_N)
        return picks, scores
