"""
=======================================================
Active learning with modAL and BAL-PM on HH-RLHF pairs
=======================================================

A modAL ``ActiveLearner`` drives a Pipeline of
:class:`~skbalpm.PreferencePairEmbedder` and :class:`~skbalpm.PreferenceEnsembleClassifier`
with :class:`~skbalpm.BALPMQueryStrategy` as its query strategy, on real pairs of the
Anthropic HH-RLHF helpful-base test split (the sample bundled with the package,
:func:`~skbalpm.datasets.load_sample_preferences`). Each round the learner picks a batch of
pairs from the pool, "asks the labelers" (here: reads the human labels we already hold) and
refits.

Needs the ``modal`` extra: ``pip install "skbalpm[modal]"``. Run it as a script with
``python plot_modal_active_learning.py [PATH/TO/helpful-base-test.jsonl.gz]`` to draw the
pairs from the full file instead.

The pool here is small (so that the example runs in well under a minute on a CPU); with so
few labels the test log-likelihood stays close to that of a coin flip, log(1/2) = -0.693.
See :ref:`benchmarks` for curves over many more labels.
"""

# %%
# The data: raw (prompt, response_a, response_b) triples
# ------------------------------------------------------
# :func:`~skbalpm.datasets.load_hh_rlhf` splits each conversation pair into the shared
# prompt and the two responses, and randomises which response is ``response_a``; ``y`` is
# the index of the preferred one. The bundled sample is read the same way.
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from modAL.models import ActiveLearner
from sklearn.pipeline import make_pipeline

from skbalpm import BALPMQueryStrategy, PreferenceEnsembleClassifier, PreferencePairEmbedder
from skbalpm.datasets import load_hh_rlhf, load_sample_preferences

# modAL 0.4.2.1 still passes force_all_finite (why the `modal` extra pins scikit-learn < 1.8).
warnings.filterwarnings("ignore", message="'force_all_finite' was renamed", category=FutureWarning)

N_POOL, N_TEST, N_INITIAL, BATCH, ROUNDS = 80, 40, 20, 10, 4

if len(sys.argv) > 1:
    data = load_hh_rlhf(sys.argv[1], random_state=0)
else:
    data = load_sample_preferences("hh-rlhf", random_state=0)
rows = np.random.default_rng(0).permutation(len(data.y))
X_pool, y_pool = data.X[rows[:N_POOL]], data.y[rows[:N_POOL]]
X_test, y_test = data.X[rows[N_POOL : N_POOL + N_TEST]], data.y[rows[N_POOL : N_POOL + N_TEST]]
print(f"{len(data.y)} pairs read; pool {N_POOL}, test {N_TEST}")
print("the shortest prompt of the pool:", repr(min(X_pool[:, 0], key=len)))

# %%
# The learner
# -----------
# The Pipeline embeds raw pairs (each text once: the embedder caches on disk) and fits a
# fresh 5-member ensemble on every ``teach``. The ActiveLearner hands BAL-PM its training
# set as the acquired set ``X_acquired``.
learner = ActiveLearner(
    estimator=make_pipeline(
        PreferencePairEmbedder(max_length=128),
        PreferenceEnsembleClassifier(random_state=0),
    ),
    query_strategy=BALPMQueryStrategy(),
    X_training=X_pool[:N_INITIAL],
    y_training=y_pool[:N_INITIAL],
)

# %%
# The loop
# --------
unlabeled = np.arange(N_INITIAL, N_POOL)
n_labels, log_likelihoods, accuracies = [], [], []
for round_ in range(ROUNDS + 1):
    proba = learner.predict_proba(X_test)
    n_labels.append(len(learner.y_training))
    log_likelihoods.append(np.log(proba[np.arange(N_TEST), y_test]).mean())
    accuracies.append(learner.score(X_test, y_test))
    print(
        f"round {round_}: {n_labels[-1]:>3} labels, test log-likelihood "
        f"{log_likelihoods[-1]:.4f}, accuracy {accuracies[-1]:.3f}"
    )
    if round_ == ROUNDS:
        break
    picked, _ = learner.query(X_pool[unlabeled], n_instances=BATCH)
    components = learner.query_strategy.last_components_
    print(f"  picked {BATCH} pairs, mean BALD {components.bald.mean():.4f}")
    # The "labelers": the human preference we already hold for each picked pair.
    learner.teach(X_pool[unlabeled[picked]], y_pool[unlabeled[picked]])
    unlabeled = np.delete(unlabeled, picked)

# %%
# The learning curve of this run
# ------------------------------
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(n_labels, log_likelihoods, marker="o")
ax.axhline(np.log(0.5), color="grey", linestyle="--", linewidth=1)
ax.annotate("coin flip", (n_labels[0], np.log(0.5)), va="bottom", color="grey", fontsize=8)
ax.set_xlabel("labelled pairs")
ax.set_ylabel("test log-likelihood")
ax.set_title("modAL ActiveLearner + BAL-PM, HH-RLHF helpful-base")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
