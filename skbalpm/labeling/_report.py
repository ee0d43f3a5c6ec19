"""What the labels so far teach: the reward model under cross-validation grouped by prompt.

A reward model earns its labels only if it predicts preferences on prompts it has not
seen. Each fold holds out whole prompts; the held-out log-likelihood and accuracy are
compared with chance (log 1/2 and 1/2). The standard error of the gain over chance is
computed over prompts (the pairs of one prompt are not independent), and a gain within
two standard errors of zero is reported as no better than chance.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from skbalpm.benchmark._metrics import preference_accuracy

CHANCE_LOG_LIKELIHOOD = float(np.log(0.5))
"""Log-likelihood of a model that says 1/2 for every pair."""

MIN_LABELS_FOR_CV = 10
"""Fewer labels than this (or fewer than two prompts) are too few to tell anything."""

FEW_LABELS = 100
"""Below this many labels, a model at chance may only lack labels: the warning says so."""

NO_SIGNAL_ADVICE = (
    "the features carry no signal that transfers to new prompts; a stronger embedding "
    "model is the fix, not more labels"
)


def _clustered_se(values_N, groups_N):
    """Standard error of the mean of ``values_N`` with the pairs of a group correlated."""
    n = len(values_N)
    _, group_index = np.unique(groups_N, return_inverse=True)
    residual_G = np.bincount(group_index, weights=values_N - values_N.mean())
    n_groups = len(residual_G)
    if n_groups < 2:
        return float("nan")
    # the usual small-sample factor G / (G - 1) of the cluster-robust variance
    return float(np.sqrt(n_groups / (n_groups - 1) * np.sum(residual_G**2)) / n)


def grouped_cv_report(X, y, groups, classifier, *, n_splits=5, random_state=0, verbose=0):
    """Cross-validate the reward model with whole prompts held out; compare with chance.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
        Features of the labelled pairs.
    y : array-like of shape (n,)
        Labels, 0 (response_a preferred) or 1.
    groups : array-like of shape (n,)
        Prompt (group) of each pair; a prompt's pairs are held out together.
    classifier : estimator
        Unfitted classifier with ``predict_proba``; a fresh clone is fitted per fold
        (its ``random_state`` set to ``random_state`` where it has one).
    n_splits : int, default=5
        Folds (fewer when there are fewer prompts).
    random_state : int, default=0
        Seed of every fold's fit.
    verbose : int, default=0
        A progress bar over the folds when > 0.

    Returns
    -------
    report : Bunch
        ``available`` (False with too few labels or prompts, with ``reason``);
        ``n_labels``, ``n_groups``, ``n_splits``; ``log_likelihood`` and ``accuracy``
        (held-out means); ``gain`` (log-likelihood above chance, nats per pair) and
        ``gain_se`` (its standard error over prompts); ``better_than_chance`` (gain
        more than two standard errors above 0). A fold whose training part holds one
        kind of label predicts 1/2.

    Examples
    --------
    >>> from skbalpm.ensemble import PreferenceEnsembleClassifier
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=300, n_features=4, random_state=0)
    >>> report = grouped_cv_report(data.X, data.y, data.groups,
    ...                            PreferenceEnsembleClassifier(feature_layout="a|b|prompt"))
    >>> report.available, bool(report.better_than_chance), report.n_splits
    (True, True, 5)
    """
    X, y, groups = np.asarray(X), np.asarray(y), np.asarray(groups)
    n_groups = len(np.unique(groups))
    base = Bunch(available=False, n_labels=len(y), n_groups=n_groups, n_splits=0)
    if len(y) < MIN_LABELS_FOR_CV or n_groups < 2:
        base.reason = (
            f"{len(y)} labels over {n_groups} prompts: too few to cross-validate "
            f"(at least {MIN_LABELS_FOR_CV} labels over 2 prompts)"
        )
        return base
    splitter = GroupKFold(n_splits=min(n_splits, n_groups))
    proba_a = np.full(len(y), 0.5)
    folds = list(splitter.split(X, y, groups))
    for train, test in tqdm(folds, desc="grouped CV", unit="fold", disable=verbose <= 0):
        if len(np.unique(y[train])) < 2:
            continue  # nothing to learn from: the fold says 1/2
        model = clone(classifier)
        if "random_state" in model.get_params():
            model.set_params(random_state=random_state)
        proba_a[test] = model.fit(X[train], y[train]).predict_proba(X[test])[:, 0]
    p_true = np.where(y == 0, proba_a, 1.0 - proba_a)
    log_lik = np.log(np.clip(p_true, 1e-12, 1.0))
    gain_N = log_lik - CHANCE_LOG_LIKELIHOOD
    gain, gain_se = float(gain_N.mean()), _clustered_se(gain_N, groups)
    return Bunch(
        available=True,
        n_labels=len(y),
        n_groups=n_groups,
        n_splits=len(folds),
        log_likelihood=float(log_lik.mean()),
        accuracy=preference_accuracy(y, proba_a),
        gain=gain,
        gain_se=gain_se,
        better_than_chance=bool(gain - 2 * gain_se > 0),
    )


def format_report(report):
    """The summary lines of a :func:`grouped_cv_report`, with a plain warning at chance.

    Parameters
    ----------
    report : Bunch
        From :func:`grouped_cv_report`.

    Returns
    -------
    lines : list of str

    Examples
    --------
    >>> from sklearn.utils import Bunch
    >>> report = Bunch(available=True, n_labels=200, n_groups=150, n_splits=5,
    ...                log_likelihood=-0.695, accuracy=0.49, gain=-0.002, gain_se=0.004,
    ...                better_than_chance=False)
    >>> print("\\n".join(format_report(report)))  # doctest: +NORMALIZE_WHITESPACE
    what the labels teach (5-fold CV grouped by prompt, 200 labels over 150 prompts):
      log-likelihood -0.6950 (chance -0.6931; gain -0.0020 +/- 0.0040 nats per pair),
      accuracy 0.490
    WARNING: no better than chance on new prompts: the features carry no signal that
    transfers to new prompts; a stronger embedding model is the fix, not more labels.
    """
    if not report.available:
        return [f"what the labels teach: not yet known ({report.reason})."]
    lines = [
        f"what the labels teach ({report.n_splits}-fold CV grouped by prompt, "
        f"{report.n_labels} labels over {report.n_groups} prompts):",
        f"  log-likelihood {report.log_likelihood:.4f} (chance {CHANCE_LOG_LIKELIHOOD:.4f}; "
        f"gain {report.gain:+.4f} +/- {report.gain_se:.4f} nats per pair),",
        f"  accuracy {report.accuracy:.3f}",
    ]
    if not report.better_than_chance and report.n_labels < FEW_LABELS:
        lines.append(
            f"WARNING: no better than chance on new prompts yet; with {report.n_labels} labels "
            "that may only mean too few labels. If it stays at chance past a few hundred, "
            f"{NO_SIGNAL_ADVICE}."
        )
    elif not report.better_than_chance:
        lines.append(f"WARNING: no better than chance on new prompts: {NO_SIGNAL_ADVICE}.")
    return lines
