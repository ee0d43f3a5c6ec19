"""
=============================================
A preference-model Pipeline with GridSearchCV
=============================================

:class:`~skbalpm.PreferencePairEmbedder` and :class:`~skbalpm.PreferenceEnsembleClassifier`
are ordinary scikit-learn estimators, so a preference model is a
:class:`~sklearn.pipeline.Pipeline` from raw text to probabilities, and its settings can be
tuned with :class:`~sklearn.model_selection.GridSearchCV` like any other classifier.

Each fit of the search clones the embedder, but its on-disk cache means every distinct
text passes through the language model once: after the first fit, the embedding step is a
cache look-up.
"""

# %%
# Raw preference pairs
# --------------------
# :func:`~skbalpm.datasets.make_synthetic_preferences` with ``return_text=True`` writes
# short templated prompts and responses whose hidden reward depends on the topic. ``y[i]``
# is the index of the preferred response (0 = ``response_a``).
import time

import pandas as pd
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skbalpm import PreferenceEnsembleClassifier, PreferencePairEmbedder
from skbalpm.datasets import make_synthetic_preferences

data = make_synthetic_preferences(n_samples=120, n_topics=20, return_text=True, random_state=0)
print(data.X[0])
print(f"Bayes accuracy of the task (the true reward): {data.bayes_accuracy:.3f}")
X_train, X_test, y_train, y_test = train_test_split(
    data.X, data.y, test_size=0.25, random_state=0, stratify=data.y
)

# %%
# The Pipeline
# ------------
# Text in, ``predict_proba`` out: column 0 is P(response_a preferred).
model = make_pipeline(
    PreferencePairEmbedder(),  # all-MiniLM-L6-v2, offline; cached on disk
    PreferenceEnsembleClassifier(n_members=3, random_state=0),
)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"first fit (embeds every text not yet cached): {time.perf_counter() - start:.1f} s")
print(model.predict_proba(X_test[:3]).round(3))

# %%
# Tune the classifier with GridSearchCV
# -------------------------------------
# The L2 penalty ``alpha`` and the adapter's hidden layers, scored by the log-loss of the
# predicted preference on held-out folds. Parameters of the classifier step are named
# ``preferenceensembleclassifier__<param>``.
grid = GridSearchCV(
    model,
    {
        "preferenceensembleclassifier__alpha": [0.1, 1.0, 10.0],
        "preferenceensembleclassifier__hidden_layer_sizes": [(), (64,)],
    },
    scoring="neg_log_loss",
    cv=3,
)
start = time.perf_counter()
grid.fit(X_train, y_train)
print(f"18 fits and a refit (embedding served by the cache): {time.perf_counter() - start:.1f} s")
results = pd.DataFrame(grid.cv_results_)
table = pd.DataFrame(
    {
        "alpha": results["param_preferenceensembleclassifier__alpha"],
        "hidden layers": results["param_preferenceensembleclassifier__hidden_layer_sizes"],
        "mean log-loss": -results["mean_test_score"],
        "std": results["std_test_score"],
    }
)
print(table.round(4).to_string(index=False))
print("best:", grid.best_params_)

# %%
# The tuned model on the test split
# ---------------------------------
# ``score`` is the accuracy of the predicted preference.
print(f"test log-loss: {-grid.score(X_test, y_test):.4f} (a coin flip scores log 2 = 0.6931)")
print(f"test accuracy: {grid.best_estimator_.score(X_test, y_test):.3f}")
