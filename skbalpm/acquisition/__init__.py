"""Query strategies (modAL calling convention) and the pure scores behind them.

Every strategy is called as ``strategy(classifier, X_pool, n_instances=1, **kwargs)`` and
returns ``(indices, scores)``; see :class:`BaseQueryStrategy`. Each strategy class has a
``name`` under which the benchmark harness and the command line find it
(:func:`registered_strategies`).
"""

from skbalpm.acquisition._badge import BadgeQueryStrategy, badge_batch, gradient_embeddings
from skbalpm.acquisition._balpm import BALPMQueryStrategy, EntropyOnlyQueryStrategy, balpm_batch
from skbalpm.acquisition._base import BaseQueryStrategy
from skbalpm.acquisition._batchbald import BatchBALDQueryStrategy, batchbald_batch
from skbalpm.acquisition._coreset import CoresetQueryStrategy
from skbalpm.acquisition._epig import EPIGQueryStrategy, epig_scores
from skbalpm.acquisition._fisher import DOptimalQueryStrategy, fisher_logdet_batch
from skbalpm.acquisition._knn import KNNRadiusCache
from skbalpm.acquisition._probcover import (
    ProbCoverQueryStrategy,
    probcover_batch,
    probcover_radius,
)
from skbalpm.acquisition._registry import registered_strategies, strategy_class
from skbalpm.acquisition._scaling import bald_jackknife_se, empirical_cdf, robust_location_spread
from skbalpm.acquisition._scores import (
    bald,
    ball_counts,
    gumbel_noise,
    knn_radius,
    ksg_entropy_term,
    predictive_entropy,
)
from skbalpm.acquisition._stochastic import (
    STOCHASTIC_MODES,
    PowerBALDQueryStrategy,
    SoftmaxBALDQueryStrategy,
    SoftRankBALDQueryStrategy,
    StochasticQueryStrategy,
    stochastic_log_weights,
)
from skbalpm.acquisition._typiclust import TypiClustQueryStrategy, typiclust_batch
from skbalpm.acquisition._uncertainty import (
    BALDQueryStrategy,
    PredictiveEntropyQueryStrategy,
    RandomQueryStrategy,
)

__all__ = [
    "STOCHASTIC_MODES",
    "BALDQueryStrategy",
    "BALPMQueryStrategy",
    "BadgeQueryStrategy",
    "BaseQueryStrategy",
    "BatchBALDQueryStrategy",
    "CoresetQueryStrategy",
    "DOptimalQueryStrategy",
    "EPIGQueryStrategy",
    "EntropyOnlyQueryStrategy",
    "KNNRadiusCache",
    "PowerBALDQueryStrategy",
    "PredictiveEntropyQueryStrategy",
    "ProbCoverQueryStrategy",
    "RandomQueryStrategy",
    "SoftRankBALDQueryStrategy",
    "SoftmaxBALDQueryStrategy",
    "StochasticQueryStrategy",
    "TypiClustQueryStrategy",
    "badge_batch",
    "bald",
    "bald_jackknife_se",
    "ball_counts",
    "balpm_batch",
    "batchbald_batch",
    "empirical_cdf",
    "epig_scores",
    "fisher_logdet_batch",
    "gradient_embeddings",
    "gumbel_noise",
    "knn_radius",
    "ksg_entropy_term",
    "predictive_entropy",
    "probcover_batch",
    "probcover_radius",
    "registered_strategies",
    "robust_location_spread",
    "stochastic_log_weights",
    "strategy_class",
    "typiclust_batch",
]
