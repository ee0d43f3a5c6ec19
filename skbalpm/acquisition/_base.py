"""What every query strategy shares: the modAL calling convention and input resolution.

A strategy is called as ``strategy(classifier, X_pool, n_instances=1, **kwargs)`` and
returns ``(indices, scores)``. ``classifier`` may be a modAL ``ActiveLearner`` (duck-typed:
it has ``estimator`` and ``X_training``; modAL itself is never imported), a fitted
:class:`~skbalpm.PreferenceEnsembleClassifier`, a :class:`~sklearn.pipeline.Pipeline`
ending in one, whose earlier steps turn the pool into features, or a modAL ``Committee``
(duck-typed: it has ``learner_list``), whose learners are the ensemble's members: member
m's probability is learner m's ``predict_proba(X)[:, 0]``, the acquired set is the first
learner's ``X_training`` and its Pipeline steps (if any) give the pool's features.

Where the prompt block of the pool's features lies is resolved as in the classifier: the
layout it was fitted with (``feature_layout_``), else its ``feature_layout`` parameter
(duck-typed classifiers may state one), else the strategy's own ``feature_layout``
parameter where it has one (the cold-start strategies, which run with no classifier),
else ``"auto"``; the pool's column names (the embedder's output names them) must agree
with it, and ``"auto"`` on a bare array whose width fits two layouts is refused
(``skbalpm._features.resolve_feature_layout``).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples, check_array, check_is_fitted

from skbalpm._features import (
    FEATURE_DTYPES,
    column_names,
    resolve_feature_layout,
    split_feature_blocks,
)
from skbalpm.acquisition._params import check_random_state_param
from skbalpm.acquisition._registry import register_strategy

__all__ = ["BaseQueryStrategy"]


def _is_active_learner(obj) -> bool:
    return hasattr(obj, "estimator") and hasattr(obj, "X_training")


def _is_committee(obj) -> bool:
    return hasattr(obj, "learner_list") and not hasattr(obj, "estimator")


def _committee_estimators(committee):
    """The learners' estimators of a modAL Committee (each learner is one member)."""
    learners = list(committee.learner_list)
    if not learners or not all(_is_active_learner(learner) for learner in learners):
        raise ValueError(
            "A modAL Committee serves as the ensemble when it has at least one learner, each "
            "a modAL ActiveLearner (with .estimator and .X_training); got "
            f"{[type(learner).__name__ for learner in learners]}."
        )
    return [learner.estimator for learner in learners]


class _QueryContext:
    """The pool as the strategies see it; each piece is computed once, on first use."""

    def __init__(
        self,
        classifier,
        X_pool,
        X_acquired,
        prompt_features,
        acquired_prompt_features,
        default_layout="auto",
    ):
        self._classifier = classifier  # as given: member_probs_of scores other rows with it
        estimator = classifier
        self._committee = None
        if _is_committee(classifier):
            # each learner is one member; the first one's Pipeline steps give the features
            self._committee = _committee_estimators(classifier)
            classifier = classifier.learner_list[0]
        if _is_active_learner(classifier):
            estimator = classifier.estimator
            if X_acquired is None:
                X_acquired = classifier.X_training
        if isinstance(estimator, Pipeline):
            self.final_estimator = estimator[-1]
            self._transformer = estimator[:-1]
        else:
            self.final_estimator = estimator
            self._transformer = None
        self.X_pool = X_pool
        self.n_pool = _num_samples(X_pool)
        self.X_acquired = X_acquired
        self._given_pool_prompts = prompt_features
        self._given_acquired_prompts = acquired_prompt_features
        self._default_layout = default_layout
        self._cache = {}

    @property
    def feature_layout(self) -> str:
        """The pool's layout, resolved as the module docstring says."""
        if "feature_layout" not in self._cache:
            est = self.final_estimator
            # the layout the classifier was fitted with, else its parameter (duck-typed
            # classifiers may state one), else the strategy's own (a cold start has no
            # classifier), else "auto"
            declared = getattr(est, "feature_layout_", None) or getattr(
                est, "feature_layout", "auto"
            )
            if declared == "auto":
                declared = self._default_layout
            try:
                layout = resolve_feature_layout(
                    declared, self.features.shape[1], self._cache["feature_names"]
                )
            except ValueError as exc:
                if declared != "auto":
                    raise
                raise ValueError(
                    f"{exc} The query strategy looks for the prompt block where the "
                    "classifier says (its fitted feature_layout_, else a feature_layout "
                    "attribute) or the pool's column names do; or pass prompt_features= "
                    "and acquired_prompt_features=."
                ) from None
            self._cache["feature_layout"] = layout
        return self._cache["feature_layout"]

    def _transform(self, X, what):
        if self._transformer is not None:
            X = self._transformer.transform(X)
        return X

    def _checked(self, X, what):
        # input_name: a NaN is reported as "Input X_pool contains NaN."
        return check_array(X, dtype=FEATURE_DTYPES, ensure_all_finite=True, input_name=what)

    @property
    def features(self) -> np.ndarray:
        """Features of the pool (after the Pipeline's earlier steps)."""
        if "features" not in self._cache:
            transformed = self._transform(self.X_pool, "X_pool")
            X = self._checked(transformed, "X_pool")
            if X.shape[0] != self.n_pool:
                raise ValueError(
                    f"The pool's features have {X.shape[0]} rows for {self.n_pool} pool rows."
                )
            self._cache["features"] = X
            self._cache["feature_names"] = column_names(transformed)
            # A DataFrame goes to the classifier as it is: a classifier fitted on one
            # checks the column names (and warns on a bare array).
            is_frame = hasattr(transformed, "columns")
            self._cache["classifier_input"] = transformed if is_frame else X
        return self._cache["features"]

    @property
    def member_probs(self) -> np.ndarray:
        """Member probabilities of class 0, shape (n_members, n_pool), checked."""
        if "member_probs" not in self._cache:
            if self._committee is not None:
                probs = np.vstack([self._learner_probs(est) for est in self._committee])
            else:
                probs = self._ensemble_probs()
            if probs.ndim != 2 or probs.shape[1] != self.n_pool:
                raise ValueError(
                    "predict_member_proba must return shape (n_members, n_pool="
                    f"{self.n_pool}); got {probs.shape}."
                )
            nan_rows = np.flatnonzero(np.isnan(probs).any(axis=0))
            if len(nan_rows):
                raise ValueError(
                    f"The classifier's member probabilities are NaN for {len(nan_rows)} pool "
                    f"rows (first: {nan_rows[:5].tolist()}); cannot score the pool. Check the "
                    "features for extreme values and the classifier's training."
                )
            self._cache["member_probs"] = probs
        return self._cache["member_probs"]

    def member_probs_of(self, X):
        """Member probabilities of other rows (same kind as the pool) by the same classifier."""
        return _QueryContext(self._classifier, X, None, None, None).member_probs

    def _ensemble_probs(self):
        est = self.final_estimator
        if not hasattr(est, "predict_member_proba"):
            raise TypeError(
                "This query strategy needs per-member probabilities: the classifier "
                "(or the last step of the Pipeline) must have predict_member_proba(X) "
                "-> (n_members, n_samples), like skbalpm.PreferenceEnsembleClassifier, "
                f"or be a modAL Committee (each learner one member); got {type(est).__name__}."
            )
        if hasattr(est, "fit"):  # an sklearn estimator (duck-typed doubles need not be)
            check_is_fitted(est)
        self.features  # noqa: B018 (computes and validates the classifier input)
        return np.asarray(
            est.predict_member_proba(self._cache["classifier_input"]), dtype=np.float64
        )

    def _learner_probs(self, estimator):
        """One committee member: its estimator's P(classes_[0]), shape (1, n_pool)."""
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                "Every learner of a modAL Committee needs an estimator with predict_proba; "
                f"got {type(estimator).__name__}."
            )
        check_is_fitted(estimator)
        if isinstance(estimator, Pipeline):
            X = self.X_pool  # its own steps transform the raw pool
        else:
            self.features  # noqa: B018 (computes and validates the classifier input)
            X = self._cache["classifier_input"]
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        if proba.ndim != 2 or proba.shape != (self.n_pool, 2):
            raise ValueError(
                "A committee member's predict_proba must return shape (n_pool="
                f"{self.n_pool}, 2): binary preferences; got {proba.shape}."
            )
        return proba[None, :, 0]

    @property
    def last_layer(self):
        """Each head's last-layer features of the pool (n_heads, n_pool, d) and logits."""
        if "last_layer" not in self._cache:
            self.features  # noqa: B018 (computes and validates the classifier input)
            self._cache["last_layer"] = self._last_layer_of(
                self.X_pool, self._cache["classifier_input"], self.n_pool
            )
        return self._cache["last_layer"]

    @property
    def acquired_last_layer(self):
        """The same for the acquired set (n_heads, n_acquired, d) (maybe 0 rows)."""
        if "acquired_last_layer" not in self._cache:
            features_HND, _ = self.last_layer
            n_heads, _, d = features_HND.shape
            X = self.X_acquired
            if X is None or _num_samples(X) == 0:
                result = (np.empty((n_heads, 0, d)), np.empty((n_heads, 0)))
            else:
                transformed = self._transform(X, "X_acquired")
                checked = self._checked(transformed, "X_acquired")
                classifier_input = transformed if hasattr(transformed, "columns") else checked
                result = self._last_layer_of(X, classifier_input, checked.shape[0])
            self._cache["acquired_last_layer"] = result
        return self._cache["acquired_last_layer"]

    def _last_layer_of(self, X_raw, classifier_input, n_rows):
        """Heads of the classifier (or of every committee learner, heads side by side)."""
        parts = []
        for estimator in self._committee or [None]:
            final, X = self.final_estimator, classifier_input
            if isinstance(estimator, Pipeline):
                final, X = estimator[-1], estimator[:-1].transform(X_raw)
            elif estimator is not None:
                final = estimator
            if not hasattr(final, "predict_last_layer"):
                raise TypeError(
                    "This query strategy needs the classifier's last layer: it must have "
                    "predict_last_layer(X) -> (features (n_heads, n, d), logits (n_heads, "
                    f"n)), like skbalpm.PreferenceEnsembleClassifier; got {type(final).__name__}."
                )
            if hasattr(final, "fit"):
                check_is_fitted(final)
            features, logits = final.predict_last_layer(X)
            features, logits = np.asarray(features, np.float64), np.asarray(logits, np.float64)
            if (
                features.ndim != 3
                or features.shape[1] != n_rows
                or logits.shape != features.shape[:2]
            ):
                raise ValueError(
                    f"predict_last_layer must return features (n_heads, {n_rows}, d) and logits "
                    f"(n_heads, {n_rows}); got {features.shape} and {logits.shape}."
                )
            parts.append((features, logits))
        if len({features.shape[2] for features, _ in parts}) > 1:
            raise ValueError(
                "The committee's learners have last layers of different widths "
                f"{[features.shape[2] for features, _ in parts]}; they must agree."
            )
        return np.concatenate([f for f, _ in parts]), np.concatenate([lg for _, lg in parts])

    def _prompt_block(self, X, names, what, kwarg):
        # the acquired set's own column names must agree with the pool's layout too
        layout = resolve_feature_layout(self.feature_layout, X.shape[1], names)
        _, _, prompts = split_feature_blocks(X, layout)
        if prompts is None:
            raise ValueError(
                f"This query strategy needs prompt features, but the feature_layout is "
                f"{self.feature_layout!r} (no prompt block). Pass {kwarg}= with the prompt "
                f"features of {what}, shape (n_rows, d)."
            )
        return prompts

    @property
    def pool_prompts(self) -> np.ndarray:
        """Prompt features of the pool, shape (n_pool, d)."""
        if "pool_prompts" not in self._cache:
            if self._given_pool_prompts is not None:
                P = check_array(
                    self._given_pool_prompts,
                    dtype=FEATURE_DTYPES,
                    input_name="prompt_features",
                )
                if P.shape[0] != self.n_pool:
                    raise ValueError(
                        f"prompt_features must have one row per pool row ({self.n_pool}); "
                        f"got {P.shape[0]}."
                    )
            else:
                P = self._prompt_block(
                    self.features, self._cache["feature_names"], "the pool", "prompt_features"
                )
            self._cache["pool_prompts"] = np.ascontiguousarray(P)
        return self._cache["pool_prompts"]

    @property
    def acquired_prompts(self) -> np.ndarray:
        """Prompt features of the acquired set, shape (n_acquired, d) (maybe 0 rows)."""
        if "acquired_prompts" not in self._cache:
            d = self.pool_prompts.shape[1]
            if self._given_acquired_prompts is not None:
                A = np.asarray(self._given_acquired_prompts)
                if A.size == 0:
                    A = A.reshape(0, d)
                else:
                    A = check_array(A, dtype=FEATURE_DTYPES, input_name="acquired_prompt_features")
            elif self.X_acquired is None or _num_samples(self.X_acquired) == 0:
                A = np.empty((0, d), dtype=self.pool_prompts.dtype)
            else:
                transformed = self._transform(self.X_acquired, "X_acquired")
                A = self._prompt_block(
                    self._checked(transformed, "X_acquired"),
                    column_names(transformed),
                    "the acquired set",
                    "acquired_prompt_features",
                )
            if A.shape[1] != d:
                raise ValueError(
                    f"Acquired prompt features have {A.shape[1]} columns, the pool's {d}."
                )
            self._cache["acquired_prompts"] = np.ascontiguousarray(A)
        return self._cache["acquired_prompts"]


class BaseQueryStrategy(BaseEstimator):
    """Base class of the query strategies: validation and the modAL calling convention.

    Every strategy of :mod:`skbalpm.acquisition` derives from it: it checks the pool and
    ``n_instances``, resolves the classifier (modAL ``ActiveLearner``, fitted classifier
    or Pipeline), computes the pool's features, member probabilities and prompt features
    lazily, and returns ``(indices, scores)``. Subclasses implement
    ``_select(context, n_instances) -> (indices, scores)``, where ``context`` gives the
    pool as ``features``, ``member_probs`` (n_members, n_pool), ``pool_prompts`` and
    ``acquired_prompts``.

    A subclass that sets a class attribute ``name`` (e.g. ``name = "bald"``) registers
    itself: the benchmark harness (``skbalpm benchmark --strategies NAME``),
    :func:`~skbalpm.benchmark.make_strategy` and the tests then find it by that name
    (:func:`~skbalpm.acquisition.registered_strategies`). A subclass that scores each pool
    row on its own can implement ``_score(context) -> scores_N`` instead of ``_select``:
    it then takes the top ``n_instances`` rows, and ``stochastic(NAME)`` samples from its
    scores (:class:`~skbalpm.StochasticQueryStrategy`).

    Examples
    --------
    A strategy that picks the pairs whose ensemble-mean prediction is closest to 1/2:

    >>> import numpy as np
    >>> from skbalpm.acquisition import BaseQueryStrategy
    >>> class ClosestToHalf(BaseQueryStrategy):
    ...     def _select(self, context, n_instances):
    ...         distance = np.abs(context.member_probs.mean(axis=0) - 0.5)
    ...         picks = np.argsort(distance, kind="stable")[:n_instances]
    ...         return picks, -distance[picks]
    >>> class Fixed:  # a fitted classifier with member probabilities
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.9, 0.45, 0.2], [0.8, 0.5, 0.3]])
    >>> ClosestToHalf()(Fixed(), np.zeros((3, 6)), n_instances=2)[0].tolist()
    [1, 2]
    """

    name = None
    """The strategy's registered name (None: not registered)."""

    _reads = frozenset()
    """Which inputs the picks depend on: "members" (member probabilities), "prompts"
    (prompt features), "last_layer" (the classifier's last-layer features)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name") is not None:
            register_strategy(cls)

    def _random_state(self):
        # One generator per strategy object, advanced across calls: rounds get fresh noise,
        # and a new object with the same seed replays the same sequence. A seed changed
        # with set_params starts a new generator from that seed.
        seeded_from = getattr(self, "_random_state_seeded_from", None)
        same_seed = seeded_from is self.random_state or (
            _is_int(seeded_from) and _is_int(self.random_state) and seeded_from == self.random_state
        )
        if getattr(self, "random_state_", None) is None or not same_seed:
            self.random_state_ = check_random_state(self.random_state)
            self._random_state_seeded_from = self.random_state
        return self.random_state_

    def __call__(
        self,
        classifier,
        X_pool,
        n_instances=1,
        *,
        X_acquired=None,
        prompt_features=None,
        acquired_prompt_features=None,
    ):
        """Select ``n_instances`` pool rows to label next.

        Parameters
        ----------
        classifier : ActiveLearner, Committee, PreferenceEnsembleClassifier or Pipeline
            A modAL ``ActiveLearner`` (its ``estimator`` and ``X_training`` are used), a
            modAL ``Committee`` (each learner one member of the ensemble), a fitted
            classifier with ``predict_member_proba``, or a Pipeline ending in one.
        X_pool : array-like of shape (n_pool, ...)
            The unlabeled pool, in whatever form ``classifier`` accepts (features, or raw
            triples for a Pipeline with an embedder).
        n_instances : int, default=1
            Batch size. If larger than the pool, the whole pool is returned (in selection
            order) with a ``UserWarning``.
        X_acquired : array-like, default=None
            The already labelled rows, same kind as ``X_pool``; taken from
            ``learner.X_training`` for an ActiveLearner when not given. The strategies
            whose picks depend on it (BAL-PM, entropy-only, core-set) take a missing
            acquired set as empty and warn once per strategy object; pass an empty one
            (``X_pool[:0]``) to say that nothing is labelled yet.
        prompt_features : array-like of shape (n_pool, d), default=None
            Prompt features of the pool; needed by prompt-based strategies when the
            features' layout is ``"a|b"`` (no prompt block).
        acquired_prompt_features : array-like of shape (n_acquired, d), default=None
            Prompt features of the acquired set, likewise.

        Returns
        -------
        indices : ndarray of shape (n_selected,), int
            Distinct positions into ``X_pool``, in selection order.
        scores : ndarray of shape (n_selected,), float
            The score of each selected row when it was picked.

        Raises
        ------
        ValueError
            A constructor parameter out of range (checked first, before any work on the
            pool), empty pool, ``n_instances`` not a positive int, features or member
            probabilities with NaN, missing prompt features.
        TypeError
            The classifier has no ``predict_member_proba`` (for strategies that need it).
        sklearn.exceptions.NotFittedError
            The classifier is not fitted.

        Examples
        --------
        The three ways to pass the classifier: a fitted
        :class:`~skbalpm.PreferenceEnsembleClassifier` (here), a Pipeline ending in one
        (the pool is then raw text), or a modAL ``ActiveLearner``.

        >>> from skbalpm import BALDQueryStrategy, PreferenceEnsembleClassifier
        >>> from skbalpm.datasets import make_synthetic_preferences
        >>> data = make_synthetic_preferences(n_samples=120, n_features=4, random_state=0)
        >>> clf = PreferenceEnsembleClassifier(
        ...     n_members=3, feature_layout=data.feature_layout, random_state=0
        ... ).fit(data.X[:40], data.y[:40])
        >>> indices, scores = BALDQueryStrategy()(clf, data.X[40:], n_instances=5)
        >>> indices.shape, scores.shape, len(set(indices.tolist()))
        ((5,), (5,), 5)
        >>> bool((scores[:-1] >= scores[1:]).all())  # top-B BALD, largest first
        True
        """
        self._validate_params()  # before any work on the pool
        n_pool = _num_samples(X_pool)
        if n_pool == 0:
            raise ValueError("The pool is empty: there is nothing to query.")
        if isinstance(n_instances, bool) or not isinstance(n_instances, int | np.integer):
            raise ValueError(f"n_instances must be a positive int; got {n_instances!r}.")
        if n_instances < 1:
            raise ValueError(f"n_instances must be a positive int; got {n_instances}.")
        if n_instances > n_pool:
            warnings.warn(
                f"n_instances={n_instances} is larger than the pool ({n_pool} rows); "
                "returning the whole pool.",
                UserWarning,
                stacklevel=2,
            )
            n_instances = n_pool
        acquired_set_given = (
            X_acquired is not None
            or acquired_prompt_features is not None
            or _is_active_learner(classifier)
            or _is_committee(classifier)
        )
        if self._reads_acquired_set() and not acquired_set_given:
            self._warn_once_no_acquired_set()
        context = _QueryContext(
            classifier,
            X_pool,
            X_acquired,
            prompt_features,
            acquired_prompt_features,
            default_layout=getattr(self, "feature_layout", "auto"),
        )
        indices, scores = self._select(context, int(n_instances))
        return np.asarray(indices, dtype=np.intp), np.asarray(scores, dtype=np.float64)

    def _select(self, context, n_instances):
        # strategies that score each row on their own: the top n_instances
        scores_N = self._score(context)
        indices = top_n(scores_N, n_instances)
        return indices, scores_N[indices]

    def _score(self, context):  # pragma: no cover - abstract
        raise NotImplementedError(
            f"{type(self).__name__} implements neither _select(context, n_instances) nor "
            "_score(context)."
        )

    @classmethod
    def _scores_each_row(cls) -> bool:
        """Whether the strategy's picks are the top of a per-row score (``_score``)."""
        return cls._score is not BaseQueryStrategy._score

    def _validate_params(self):
        """Check the constructor parameters; subclasses extend it (cheap, no pool work)."""
        check_random_state_param(self)

    def _reads_acquired_set(self) -> bool:
        """Whether the picks depend on the acquired set (prompt-diversity strategies)."""
        return False

    def _needs_classifier(self) -> bool:
        """Whether the picks read a fitted classifier (its members or its last layer).

        Those that do not (random, core-set, TypiClust, ProbCover) run with
        ``classifier=None``: they can pick a cold-start initial set.
        """
        return bool({"members", "last_layer"} & self._reads)

    def _warn_once_no_acquired_set(self):
        if getattr(self, "_warned_no_acquired_set", False):
            return
        self._warned_no_acquired_set = True
        name = type(self).__name__
        warnings.warn(
            f"{name} was called without an acquired set, so it is taken as empty (no "
            "labelled prompt counts as a neighbour). Pass the labelled rows as X_acquired= "
            "(the same kind of rows as X_pool), or their prompt features as "
            "acquired_prompt_features=, or query through a modAL ActiveLearner, which "
            "passes its X_training. An explicit empty set (e.g. X_acquired=X_pool[:0]) "
            f"is silent. Shown once per {name} object.",
            UserWarning,
            stacklevel=3,
        )


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_n_instances(n_instances, n_pool) -> None:
    """``n_instances`` is an int in [1, n_pool] (for the pure batch functions)."""
    if isinstance(n_instances, bool) or not isinstance(n_instances, int | np.integer):
        raise ValueError(f"n_instances must be a positive int; got {n_instances!r}.")
    if not 1 <= n_instances <= n_pool:
        raise ValueError(f"n_instances must lie in [1, n_pool={n_pool}]; got {n_instances}.")


def top_n(scores_N, n) -> np.ndarray:
    """Positions of the n largest scores, largest first; ties go to the lower position."""
    return np.argsort(-np.asarray(scores_N), kind="stable")[:n]
