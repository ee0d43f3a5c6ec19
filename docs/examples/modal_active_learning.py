"""Active learning of a preference model with modAL and BAL-PM, on real HH-RLHF pairs.

A modAL ActiveLearner drives a Pipeline(PreferencePairEmbedder, PreferenceEnsembleClassifier)
with BALPMQueryStrategy as its query strategy. Each round it picks a batch of pairs from
the pool, "asks the labelers" (here: reads the human labels we already hold) and refits.
Needs the ``modal`` extra: ``pip install "skbalpm[modal]"``.

Run:  python docs/examples/modal_active_learning.py [PATH/TO/helpful-base-test.jsonl.gz]
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from modAL.models import ActiveLearner
from sklearn.pipeline import make_pipeline

from skbalpm import BALPMQueryStrategy, PreferenceEnsembleClassifier, PreferencePairEmbedder
from skbalpm.datasets import load_hh_rlhf

DEFAULT_DATA = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "hh-rlhf"
    / "helpful-base-test.jsonl.gz"
)
# modAL 0.4.2.1 still passes force_all_finite (why the `modal` extra pins scikit-learn < 1.8).
warnings.filterwarnings("ignore", message="'force_all_finite' was renamed", category=FutureWarning)

N_POOL, N_TEST, N_INITIAL, BATCH, ROUNDS = 400, 200, 20, 20, 4


def main(path=DEFAULT_DATA):
    data = load_hh_rlhf(path, random_state=0)
    rows = np.random.default_rng(0).permutation(len(data.y))
    X_pool, y_pool = data.X[rows[:N_POOL]], data.y[rows[:N_POOL]]
    X_test, y_test = data.X[rows[N_POOL : N_POOL + N_TEST]], data.y[rows[N_POOL : N_POOL + N_TEST]]

    learner = ActiveLearner(
        estimator=make_pipeline(
            PreferencePairEmbedder(max_length=128),  # cached: each text is embedded once
            PreferenceEnsembleClassifier(random_state=0),
        ),
        query_strategy=BALPMQueryStrategy(),
        X_training=X_pool[:N_INITIAL],
        y_training=y_pool[:N_INITIAL],
    )
    unlabeled = np.arange(N_INITIAL, N_POOL)
    for round_ in range(ROUNDS + 1):
        proba = learner.predict_proba(X_test)
        log_likelihood = np.log(proba[np.arange(N_TEST), y_test]).mean()
        print(
            f"round {round_}: {len(learner.y_training):>4} labels, test log-likelihood "
            f"{log_likelihood:.4f}, accuracy {learner.score(X_test, y_test):.3f}"
        )
        if round_ == ROUNDS:
            break
        picked, _ = learner.query(X_pool[unlabeled], n_instances=BATCH)
        components = learner.query_strategy.last_components_
        print(f"  picked {BATCH} pairs, mean BALD {components.bald.mean():.4f}")
        # The "labelers": the human preference we already hold for each picked pair.
        learner.teach(X_pool[unlabeled[picked]], y_pool[unlabeled[picked]])
        unlabeled = np.delete(unlabeled, picked)


if __name__ == "__main__":
    main(*sys.argv[1:])
