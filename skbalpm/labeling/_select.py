"""One round of the labeling loop on features: fit on the labels, score the pool, pick.

A round is seeded the way the benchmark harness seeds its rounds
(:func:`skbalpm.benchmark.run_benchmark`): the fit from (seed, round, 0), the query
strategy from (seed, round, 1). Given the same labelled pairs in the same order and the
same pool, a round of :func:`select_batch` picks what the harness's round picks.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from skbalpm._features import split_feature_blocks, with_feature_layout
from skbalpm.acquisition import bald
from skbalpm.benchmark._experiment import _derived_seed, _reseed, _with_seed
from skbalpm.benchmark._strategies import make_strategy, parse_strategy_spec

FEATURE_LAYOUT = "a|b|prompt"
"""The layout of the features a labeling round works on (the embedder's)."""

INITIAL_STRATEGIES = ("coreset", "entropy-only", "random")
"""Cold-start pickers, used while no model can be fitted (no labels of both kinds yet):
``"coreset"`` (greedy k-center on the prompt features: a spread over prompts),
``"entropy-only"`` (BAL-PM's prompt-diversity term alone) and ``"random"`` (uniform: the
benchmark harness's draw of its initial labelled set)."""


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_features(X, name, width=None):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] % 3 or not np.issubdtype(X.dtype, np.floating):
        raise ValueError(
            f"{name} must be float features of shape (n, 3 * d) in the layout "
            f"{FEATURE_LAYOUT!r}; got {X.dtype} of shape {X.shape}."
        )
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{name} has {X.shape[1]} columns, X_pool {width}.")
    return X


def _check_round_params(n_instances, strategy, initial_strategy, random_state, round_index):
    if not (_is_int(n_instances) and n_instances >= 1):
        raise ValueError(f"n_instances must be an int >= 1, got {n_instances!r}.")
    if isinstance(strategy, str):
        parse_strategy_spec(strategy)  # raises on an unknown name or bad arguments
    elif not callable(strategy):
        raise ValueError(f"strategy must be a strategy name or a callable, got {strategy!r}.")
    if initial_strategy not in INITIAL_STRATEGIES:
        raise ValueError(
            f"initial_strategy must be one of {INITIAL_STRATEGIES}, got {initial_strategy!r}."
        )
    for name, value in (("random_state", random_state), ("round_index", round_index)):
        if not (_is_int(value) and value >= 0):
            raise ValueError(f"{name} must be an int >= 0, got {value!r}.")


def _candidates(n_pool, exclude):
    """Sorted pool positions that may be picked."""
    if exclude is None:
        return np.arange(n_pool)
    exclude = np.asarray(exclude)
    if exclude.dtype == bool:
        if exclude.shape != (n_pool,):
            raise ValueError(f"exclude as a mask needs {n_pool} entries, got {exclude.shape}.")
        return np.flatnonzero(~exclude)
    return np.setdiff1d(np.arange(n_pool), exclude.astype(np.int64))


def _set_verbose(strategy, verbose):
    if hasattr(strategy, "get_params") and "verbose" in strategy.get_params():
        strategy.set_params(verbose=verbose)


def _cold_start(X_pool, candidates, X_acquired, n, initial_strategy, seed, round_index, verbose):
    """Picks (positions into ``candidates``) and scores of a round without a model."""
    if initial_strategy == "random":  # the benchmark's initial draw, seeded by the seed
        picks = np.random.RandomState(seed).permutation(len(candidates))[:n]
        return picks, np.zeros(n), None
    picker = make_strategy(initial_strategy)
    _set_verbose(picker, verbose)
    _reseed(picker, _derived_seed(seed, round_index, 1))
    _, _, prompts = split_feature_blocks(X_pool, FEATURE_LAYOUT)
    _, _, acquired_prompts = split_feature_blocks(X_acquired, FEATURE_LAYOUT)
    picks, scores = picker(
        None,
        X_pool[candidates],
        n_instances=n,
        prompt_features=prompts[candidates],
        acquired_prompt_features=acquired_prompts,
    )
    return picks, scores, picker


def select_batch(
    X_pool,
    X_labeled,
    y_labeled,
    *,
    exclude=None,
    X_acquired=None,
    n_instances=320,
    strategy="balpm",
    initial_strategy="coreset",
    classifier=None,
    random_state=0,
    round_index=0,
    verbose=0,
):
    """One round of a labeling loop: fit the reward ensemble, score the pool, pick a batch.

    With labels of both kinds (``y_labeled`` holds 0 and 1), a fresh clone of
    ``classifier`` is fitted on them (seeded from (random_state, round_index, 0)) and
    the query ``strategy`` (seeded from (random_state, round_index, 1)) picks
    ``n_instances`` pairs among the pool rows not excluded, exactly as a round of
    :func:`skbalpm.benchmark.run_benchmark` does. Without, a cold-start picker
    (``initial_strategy``) chooses with no model.

    Parameters
    ----------
    X_pool : ndarray of shape (n_pool, 3 * d)
        Features of the whole pool, layout ``"a|b|prompt"`` (the embedder's).
    X_labeled : ndarray of shape (n_labeled, 3 * d)
        Features of the labelled pairs, in the order they were labelled.
    y_labeled : array-like of shape (n_labeled,)
        Their labels: 0 (response_a preferred) or 1.
    exclude : array-like of int or bool mask, default=None
        Pool rows that may not be picked (labelled, tied, skipped, sent and pending).
    X_acquired : ndarray of shape (n_acquired, 3 * d), default=None
        Every pair sent out so far (judged or pending), whose prompts the diversity
        terms count as covered; default ``X_labeled``.
    n_instances : int, default=320
        Batch size (the BAL-PM paper's); at most the number of rows left.
    strategy : str or callable, default="balpm"
        A strategy spec of :func:`skbalpm.benchmark.make_strategy` (e.g.
        ``"balpm(beta=0.001)"``), or a strategy object in modAL's convention.
    initial_strategy : {"coreset", "entropy-only", "random"}, default="coreset"
        The cold-start picker (see :data:`INITIAL_STRATEGIES`).
    classifier : estimator or None, default=None
        Unfitted classifier with ``predict_member_proba``; default
        :class:`~skbalpm.PreferenceEnsembleClassifier` (method ``"laplace"``).
    random_state : int, default=0
        The loop's seed.
    round_index : int, default=0
        Which round this is (0 for the first fitted model): with ``random_state`` it
        seeds the fit and the strategy.
    verbose : int, default=0
        Progress bars of the strategies that have one when > 0.

    Returns
    -------
    batch : Bunch
        ``indices`` (pool positions, in pick order), ``scores`` (the strategy's score
        of each pick), ``bald`` and ``entropy_term`` (the parts of the score: BALD of
        the fitted ensemble and BAL-PM's entropy term, as the strategy computed them
        where it reports them, else BALD from :func:`skbalpm.acquisition.bald`; NaN
        where there is no such part), ``proba_a`` (the model's P(response_a
        preferred); NaN without a model), ``kind`` (``"round"`` or ``"initial"``),
        ``round_index``, ``n_candidates`` and ``classifier`` (the fitted model, or None).

    Raises
    ------
    ValueError
        A bad parameter (checked before any fit), features of the wrong shape, labels
        other than 0 / 1, or no pool row left to pick.

    References
    ----------
    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=200, n_features=4, random_state=0)
    >>> X = data.X.astype(np.float32)
    >>> first = select_batch(X, X[:0], [], n_instances=10)  # no labels: cold start
    >>> first.kind, len(first.indices)
    ('initial', 10)
    >>> labelled = first.indices
    >>> second = select_batch(X, X[labelled], data.y[labelled], exclude=labelled,
    ...                       n_instances=10)
    >>> second.kind, bool(np.isin(second.indices, labelled).any())
    ('round', False)
    """
    _check_round_params(n_instances, strategy, initial_strategy, random_state, round_index)
    X_pool = _check_features(X_pool, "X_pool")
    X_labeled = _check_features(X_labeled, "X_labeled", X_pool.shape[1])
    X_acquired = X_labeled if X_acquired is None else X_acquired
    X_acquired = _check_features(X_acquired, "X_acquired", X_pool.shape[1])
    y_labeled = np.asarray(y_labeled)
    if len(y_labeled) != len(X_labeled) or not np.isin(y_labeled, (0, 1)).all():
        raise ValueError(
            f"y_labeled must hold one label, 0 or 1, per row of X_labeled ({len(X_labeled)}); "
            f"got {y_labeled!r:.120}."
        )
    candidates = _candidates(len(X_pool), exclude)
    if len(candidates) == 0:
        raise ValueError("No pool row is left to pick: every pair is labelled or pending.")
    n = min(int(n_instances), len(candidates))
    if len(np.unique(y_labeled)) < 2:
        picks, scores, picker = _cold_start(
            X_pool, candidates, X_acquired, n, initial_strategy, random_state, round_index, verbose
        )
        fitted, kind = None, "initial"
    else:
        if classifier is None:
            from skbalpm.ensemble import PreferenceEnsembleClassifier

            classifier = PreferenceEnsembleClassifier()
        classifier = with_feature_layout(classifier, FEATURE_LAYOUT)
        fitted = _with_seed(classifier, _derived_seed(random_state, round_index, 0))
        fitted.fit(X_labeled, y_labeled.astype(np.int64))
        picker = make_strategy(strategy) if isinstance(strategy, str) else clone(strategy)
        _set_verbose(picker, verbose)
        _reseed(picker, _derived_seed(random_state, round_index, 1))
        picks, scores = picker(fitted, X_pool[candidates], n_instances=n, X_acquired=X_acquired)
        kind = "round"
    indices = candidates[np.asarray(picks, dtype=np.int64)]
    return Bunch(
        indices=indices,
        scores=np.asarray(scores, dtype=np.float64),
        **_score_parts(fitted, picker, X_pool[indices]),
        kind=kind,
        round_index=round_index,
        n_candidates=len(candidates),
        classifier=fitted,
    )


def _score_parts(fitted, picker, X_picked):
    """BALD, the entropy term and P(a preferred) of the picked rows (NaN where none).

    The parts the strategy reports (``last_components_``: BAL-PM, entropy-only) are its
    own; else BALD is computed from the fitted ensemble with the public score.
    """
    n = len(X_picked)
    nan = np.full(n, np.nan)
    components = getattr(picker, "last_components_", None)
    entropy = nan if components is None else np.asarray(components.entropy_term, dtype=float)
    if fitted is None:
        return {"bald": nan, "entropy_term": entropy, "proba_a": nan}
    if components is not None:
        bald_B = np.asarray(components.bald, dtype=float)
    else:
        bald_B = bald(fitted.predict_member_proba(X_picked))
    return {
        "bald": bald_B,
        "entropy_term": entropy,
        "proba_a": fitted.predict_proba(X_picked)[:, 0],
    }
