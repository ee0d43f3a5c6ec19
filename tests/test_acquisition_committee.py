"""A modAL Committee serves as the ensemble of every member-based strategy.

Each learner is one member: member m's probability is learner m's ``predict_proba(X)[:, 0]``
and the acquired set is the learners' ``X_training``. Querying through a real Committee
must pick what the strategy picks on those member probabilities given directly.

modAL-python needs scikit-learn < 1.8 (the ``modal`` extra); CI runs this file in the
environment that installs it.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FixedProbs
from sklearn.base import clone

from skbalpm import PreferenceEnsembleClassifier
from skbalpm.acquisition import BALDQueryStrategy, registered_strategies
from skbalpm.datasets import make_synthetic_preferences

modal_models = pytest.importorskip("modAL.models", reason="needs the `modal` extra")

# the strategies' own acquired-set warning is not the subject here
pytestmark = pytest.mark.filterwarnings("ignore:.*without an acquired set:UserWarning")

N_LEARNERS, N_TRAIN, N_POOL = 3, 30, 120


@pytest.fixture(scope="module")
def committee_data():
    data = make_synthetic_preferences(n_samples=N_TRAIN + N_POOL, n_features=4, random_state=0)
    X, y = data.X, data.y
    learners = [
        modal_models.ActiveLearner(
            estimator=PreferenceEnsembleClassifier(
                n_members=1,
                feature_layout=data.feature_layout,
                n_random_features=16,
                random_features_seed=seed,
                random_state=seed,
            ),
            X_training=X[:N_TRAIN],
            y_training=y[:N_TRAIN],
        )
        for seed in range(N_LEARNERS)
    ]
    X_pool = X[N_TRAIN:]
    probs_MN = np.vstack([learner.predict_proba(X_pool)[:, 0] for learner in learners])
    return learners, X_pool, X[:N_TRAIN], probs_MN


MEMBER_BASED = [name for name, cls in registered_strategies().items() if "members" in cls()._reads]


@pytest.mark.parametrize("name", MEMBER_BASED)
def test_committee_is_the_ensemble_of_every_member_based_strategy(name, committee_data):
    learners, X_pool, X_training, probs_MN = committee_data
    assert probs_MN.std(axis=0).max() > 0.01  # the learners disagree
    strategy = registered_strategies()[name](random_state=0)
    committee = modal_models.Committee(learner_list=learners, query_strategy=clone(strategy))
    query_idx, query_rows = committee.query(X_pool, n_instances=6)
    expected, _ = clone(strategy)(FixedProbs(probs_MN), X_pool, 6, X_acquired=X_training)
    assert np.asarray(query_idx).tolist() == expected.tolist()
    np.testing.assert_array_equal(query_rows, X_pool[expected])


def test_committee_learners_are_the_members(committee_data):
    learners, X_pool, _, probs_MN = committee_data
    committee = modal_models.Committee(learner_list=learners)
    idx, scores = BALDQueryStrategy()(committee, X_pool, 3)
    # BALD of the learners' own probabilities, not of one learner's posterior draws
    from skbalpm.acquisition import bald

    expected = bald(probs_MN)
    assert idx.tolist() == np.argsort(-expected, kind="stable")[:3].tolist()
    np.testing.assert_allclose(scores, expected[idx])


def test_committee_of_non_learners_is_refused(committee_data):
    _, X_pool, _, _ = committee_data

    class NotACommittee:
        learner_list = ("not a learner",)

    with pytest.raises(ValueError, match="Committee"):
        BALDQueryStrategy()(NotACommittee(), X_pool, 2)


def test_committee_learners_are_the_heads_of_the_d_optimal_design(committee_data):
    # each learner's last layer is one independent head: the designs' log-dets add
    from scipy.special import expit

    from skbalpm.acquisition import DOptimalQueryStrategy, fisher_logdet_batch

    learners, X_pool, _, _ = committee_data
    committee = modal_models.Committee(learner_list=learners)
    idx, scores = DOptimalQueryStrategy()(committee, X_pool, 5)
    parts = [learner.estimator.predict_last_layer(X_pool) for learner in learners]
    features = np.concatenate([f for f, _ in parts])
    p = expit(np.concatenate([logits for _, logits in parts]))
    expected = fisher_logdet_batch(features, p * (1 - p), 5)
    assert features.shape[0] == N_LEARNERS and idx.tolist() == expected[0].tolist()
    np.testing.assert_allclose(scores, expected[1])
