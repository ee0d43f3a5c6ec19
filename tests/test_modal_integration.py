"""A real modAL ActiveLearner driving a Pipeline(embedder, ensemble) on real HH-RLHF pairs.

modAL-python 0.4.2.1 needs scikit-learn < 1.8 (the ``modal`` extra); CI runs this file in
the environment that installs that extra.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HH_SAMPLE_MAX_LENGTH
from sklearn.pipeline import make_pipeline

from skbalpm import BALPMQueryStrategy, PreferenceEnsembleClassifier, PreferencePairEmbedder
from skbalpm.acquisition import registered_strategies

modal_models = pytest.importorskip("modAL.models", reason="needs the `modal` extra")

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

N_POOL, N_INITIAL, BATCH, ROUNDS = 160, 20, 10, 3


@pytest.fixture(scope="module")
def hh_pairs(hh_helpful_sample):
    X, y = hh_helpful_sample
    return X[:N_POOL], y[:N_POOL]


@pytest.fixture(scope="module")
def cache_dir(embedding_cache_dir):
    # Every round re-transforms the labelled set and the pool: with the session's cache
    # that costs a look-up, not a model pass.
    return embedding_cache_dir


def make_learner(strategy, X_init, y_init, cache_dir):
    pipeline = make_pipeline(
        PreferencePairEmbedder(max_length=HH_SAMPLE_MAX_LENGTH, cache_dir=cache_dir),
        PreferenceEnsembleClassifier(n_members=3, random_state=0),
    )
    return modal_models.ActiveLearner(
        estimator=pipeline, query_strategy=strategy, X_training=X_init, y_training=y_init
    )


def _strategy(cls):
    accepts_seed = "random_state" in cls().get_params()
    return cls(random_state=0) if accepts_seed else cls()


# Every registered strategy, so that a new one is driven by modAL without an edit here.
STRATEGIES = [_strategy(cls) for cls in registered_strategies().values()]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: type(s).__name__)
def test_active_learner_loop_teaches_queried_labels(strategy, hh_pairs, cache_dir):
    X, y = hh_pairs
    X_init, y_init = X[:N_INITIAL], y[:N_INITIAL]
    pool_rows = np.arange(N_INITIAL, len(y))
    learner = make_learner(strategy, X_init, y_init, cache_dir)

    for _ in range(ROUNDS):
        query_idx, query_rows = learner.query(X[pool_rows], n_instances=BATCH)
        assert query_idx.ndim == 1 and len(np.unique(query_idx)) == BATCH
        assert np.all((0 <= query_idx) & (query_idx < len(pool_rows)))
        np.testing.assert_array_equal(query_rows, X[pool_rows[query_idx]])
        # The oracle: the human labels we already hold for these pairs.
        learner.teach(query_rows, y[pool_rows[query_idx]])
        pool_rows = np.delete(pool_rows, query_idx)

    assert len(learner.y_training) == N_INITIAL + ROUNDS * BATCH
    proba = learner.predict_proba(X[pool_rows])
    assert proba.shape == (len(pool_rows), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_balpm_reads_the_acquired_set_from_the_learner(hh_pairs, cache_dir):
    """BAL-PM's ball counts come from learner.X_training: an explicit X_acquired agrees."""
    X, y = hh_pairs
    learner = make_learner(
        BALPMQueryStrategy(random_state=0), X[:N_INITIAL], y[:N_INITIAL], cache_dir
    )
    pool = X[N_INITIAL:]
    via_learner, _ = learner.query(pool, n_instances=BATCH)
    explicit, _ = BALPMQueryStrategy(random_state=0)(
        learner.estimator, pool, n_instances=BATCH, X_acquired=X[:N_INITIAL]
    )
    np.testing.assert_array_equal(via_learner, explicit)
