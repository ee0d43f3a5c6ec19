"""skbalpm: Bayesian active learning of LLM preference models.

scikit-learn estimators for preference pairs (an embedder and a Bradley–Terry ensemble
classifier), the BAL-PM query strategy and its baselines in modAL's calling convention,
dataset loaders and a benchmark harness.
"""

from skbalpm._embedding_backends import EmbeddingBackend
from skbalpm._features import FEATURE_LAYOUTS, split_feature_blocks, swap_response_blocks
from skbalpm._raw import RAW_COLUMNS, as_raw_triples
from skbalpm.acquisition import (
    BadgeQueryStrategy,
    BALDQueryStrategy,
    BALPMQueryStrategy,
    BatchBALDQueryStrategy,
    CoresetQueryStrategy,
    DOptimalQueryStrategy,
    EntropyOnlyQueryStrategy,
    EPIGQueryStrategy,
    PowerBALDQueryStrategy,
    PredictiveEntropyQueryStrategy,
    ProbCoverQueryStrategy,
    RandomQueryStrategy,
    SoftmaxBALDQueryStrategy,
    SoftRankBALDQueryStrategy,
    StochasticQueryStrategy,
    TypiClustQueryStrategy,
)
from skbalpm.embedding import PreferencePairEmbedder
from skbalpm.ensemble import PreferenceEnsembleClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "FEATURE_LAYOUTS",
    "RAW_COLUMNS",
    "BALDQueryStrategy",
    "BALPMQueryStrategy",
    "BadgeQueryStrategy",
    "BatchBALDQueryStrategy",
    "CoresetQueryStrategy",
    "DOptimalQueryStrategy",
    "EPIGQueryStrategy",
    "EmbeddingBackend",
    "EntropyOnlyQueryStrategy",
    "PowerBALDQueryStrategy",
    "PredictiveEntropyQueryStrategy",
    "PreferenceEnsembleClassifier",
    "PreferencePairEmbedder",
    "ProbCoverQueryStrategy",
    "RandomQueryStrategy",
    "SoftRankBALDQueryStrategy",
    "SoftmaxBALDQueryStrategy",
    "StochasticQueryStrategy",
    "TypiClustQueryStrategy",
    "__version__",
    "as_raw_triples",
    "split_feature_blocks",
    "swap_response_blocks",
]
