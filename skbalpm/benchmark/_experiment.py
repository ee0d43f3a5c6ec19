"""The active-learning experiment loop: strategies x seeds x rounds, with checkpoints.

:func:`run_benchmark` reads as its steps, each a section below:

1. check every parameter (``_check_protocol``, ``_check_pairs``, ``_check_test_pairs``,
   ``_check_budget``, ``_resolve_strategies``, ``_resolve_initial_strategy``) before
   anything is embedded or fitted;
2. embed raw triples once (``_embed_pairs``);
3. one (strategy, seed) run: fit, score and query, round after round
   (``_run_strategy``), or a seed's fit on every label (``_fit_ceiling``);
4. plan: each seed's split and initial set (``_SeedSplits``), its runs registered in the
   checkpoint and the jobs still to do (``_plan_jobs``);
5. execute the jobs in this process (``_run_here``) or in worker processes that stop
   when it dies (``_run_in_workers``), and record each finished round or run in the
   checkpoint, the results files, the progress bar and the callback (``_Recorder``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from numbers import Real
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.utils import Bunch

from skbalpm._features import FEATURE_LAYOUTS, split_feature_blocks, with_feature_layout
from skbalpm.benchmark._checkpoint import Checkpoint, PartialRunWriter, atomic_write, run_key
from skbalpm.benchmark._metrics import preference_accuracy, preference_log_likelihood
from skbalpm.benchmark._strategies import (
    DEFAULT_STRATEGIES,
    canonical_name,
    cold_start_strategies,
    make_strategy,
    parse_strategy_spec,
    strategy_label,
)
from skbalpm.benchmark._workers import exit_if_orphaned, stop_with_parent

RESULT_COLUMNS = (
    "dataset",
    "strategy",
    "seed",
    "round",
    "n_labels",
    "n_pool",
    "test_log_likelihood",
    "test_accuracy",
    "fit_seconds",
    "query_seconds",
)
"""Columns of the tidy results table (one row per strategy x seed x round)."""

TIMING_COLUMNS = ("fit_seconds", "query_seconds")
"""Columns that differ between otherwise identical runs."""

DEFAULT_SEEDS = 5
"""Seeds of a benchmark when none are given (at least 5 for intervals worth reading)."""

DEFAULT_INITIAL_SIZE = 50
"""Labelled pairs a run starts from."""

DEFAULT_BATCH_SIZE = 50
"""Pairs acquired per round."""

DEFAULT_N_ROUNDS = 10
"""Acquisition rounds of a run."""

DEFAULT_TEST_SIZE = 0.2
"""Fraction of the pairs (of the groups, when given) held out for testing."""

DEFAULT_N_JOBS = -1
"""Processes running runs side by side (-1: one per core)."""


class BenchmarkInterrupted(Exception):
    """Raise from a ``callback`` to stop a run; the checkpoint keeps what was done.

    :func:`run_benchmark` lets it propagate; calling it again with the same
    ``output_dir`` (and ``resume=True``) continues from the last completed round.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> def first(clf, X_pool, n_instances=1, **kw):
    ...     return np.arange(n_instances), np.zeros(n_instances)
    >>> def stop_after_round_1(row):
    ...     if row["round"] == 1:
    ...         raise BenchmarkInterrupted
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4)); y = (X[:, 0] > X[:, 2]).astype(int)
    >>> kwargs = dict(strategies={"first": first}, classifier=LogisticRegression(), seeds=1,
    ...               initial_size=10, batch_size=5, n_rounds=3, feature_layout="a|b",
    ...               output_dir=tempfile.mkdtemp(), n_jobs=1, verbose=0)
    >>> try:
    ...     run_benchmark(X, y, callback=stop_after_round_1, **kwargs)
    ... except BenchmarkInterrupted:
    ...     print("stopped")
    stopped
    >>> run_benchmark(X, y, **kwargs).results["round"].tolist()  # resumed: rounds 2 and 3 run
    [0, 1, 2, 3]
    """


def package_versions():
    """Versions of Python, the platform and the packages that shape the results.

    Returns
    -------
    versions : dict of str -> str

    Examples
    --------
    >>> "python" in package_versions()
    True
    """
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in (
        "skbalpm",
        "numpy",
        "scipy",
        "scikit-learn",
        "torch",
        "pandas",
        "sentence-transformers",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value):
    """A JSON-friendly version of a configuration value (estimators as their repr)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _classifier_params(classifier):
    """Every parameter of a scikit-learn classifier, for the run's configuration.

    Its repr shows only the parameters that differ from their defaults, and a default can
    change between versions (the learner did): with every value recorded, a checkpoint
    never resumes with another learner, and the results say which one they come from.
    """
    if not hasattr(classifier, "get_params"):
        return {}
    return {"classifier_params": classifier.get_params(deep=False)}


def _derived_seed(*keys):
    """An int seed that depends only on ``keys`` (stable across runs and resumes)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def split_train_test(n_samples, test_size, seed, groups=None):
    """Train/test positions for one seed; groups (e.g. post ids) never straddle the split.

    Parameters
    ----------
    n_samples : int
        Number of pairs.
    test_size : float
        Fraction of pairs (of groups, when given) held out.
    seed : int
        Seed of the split.
    groups : array-like of shape (n_samples,) or None
        Group ids.

    Returns
    -------
    train, test : ndarray of int
        Sorted positions.

    Examples
    --------
    >>> train, test = split_train_test(10, 0.2, 0)
    >>> len(train), len(test)
    (8, 2)
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size!r}.")
    X_dummy = np.zeros((n_samples, 1))
    if groups is None:
        splitter = ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(X_dummy))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(X_dummy, groups=np.asarray(groups)))
    return np.sort(train), np.sort(test)


# ---------------------------------------------------------------------------------------
# 1. Check the parameters (cheap, before any embedding or fitting)
# ---------------------------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_protocol(seeds, initial_size, batch_size, n_rounds, test_size, n_jobs, fixed_test):
    """The seeds as a list, once every protocol parameter is valid."""
    seeds = list(range(seeds)) if _is_int(seeds) else list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    if not all(_is_int(s) and s >= 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct ints >= 0 (or their number); got {seeds!r}.")
    for name, value in (("initial_size", initial_size), ("batch_size", batch_size)):
        if not (_is_int(value) and value >= 1):
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if not (_is_int(n_rounds) and n_rounds >= 0):
        raise ValueError(f"n_rounds must be an int >= 0, got {n_rounds!r}.")
    if not fixed_test and not (isinstance(test_size, Real) and 0.0 < test_size < 1.0):
        raise ValueError(f"test_size must lie in (0, 1), got {test_size!r}.")
    if not (n_jobs is None or (_is_int(n_jobs) and n_jobs != 0)):
        raise ValueError(f"n_jobs must be None or a nonzero int, got {n_jobs!r}.")
    return [int(s) for s in seeds]


def _check_pairs(X, y, groups, feature_layout):
    """``X`` (raw triples or features) and ``y`` as arrays of matching, valid shapes."""
    X, y = np.asarray(X), np.asarray(y)
    raw = X.dtype == object
    if raw and (X.ndim != 2 or X.shape[1] != 3):
        raise ValueError(
            "Raw X must hold (prompt, response_a, response_b) triples, shape (n, 3); "
            f"got {X.shape}."
        )
    if not raw and (X.ndim != 2 or X.shape[1] == 0):
        raise ValueError(f"X must be features of shape (n, n_features); got shape {X.shape}.")
    if y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"X and y have different lengths: {len(X)} vs {y.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 0 (response_a preferred) or 1 (response_b).")
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries for {len(y)} pairs.")
    if feature_layout not in FEATURE_LAYOUTS:
        raise ValueError(
            f"feature_layout must be one of {FEATURE_LAYOUTS}, got {feature_layout!r}."
        )
    return X, y.astype(np.int64)


def _check_test_pairs(X_test, y_test, raw):
    """A fixed test set as arrays (features or raw, like ``X``), or None when not given."""
    if X_test is None and y_test is None:
        return None
    if X_test is None or y_test is None:
        raise ValueError("Pass both X_test and y_test for a fixed test set, or neither.")
    X_test = np.asarray(X_test)
    y_test = np.asarray(y_test)
    if (X_test.dtype == object) != raw:
        raise ValueError(
            "X_test must come in the same form as X: raw (prompt, response_a, response_b) "
            "triples when X is raw, else features; got "
            f"{'raw' if X_test.dtype == object else 'features'} X_test with "
            f"{'raw' if raw else 'features'} X."
        )
    if len(X_test) != len(y_test):
        raise ValueError(
            f"X_test and y_test have different lengths: {len(X_test)} vs {len(y_test)}."
        )
    if not np.isin(y_test, (0, 1)).all():
        raise ValueError("y_test must hold 0 (response_a preferred) or 1 (response_b).")
    return X_test, y_test.astype(np.int64)


def _check_budget(n_samples, initial_size, batch_size, n_rounds, test_size, fixed_test):
    """Refuse a protocol that needs more labels than the training split holds."""
    if fixed_test:
        n_train, split_note = n_samples, f"all {n_samples} pairs, with a fixed test set"
    else:
        n_train = n_samples - int(np.ceil(test_size * n_samples))
        split_note = f"{n_samples} pairs, test_size={test_size}"
    needed = initial_size + n_rounds * batch_size
    if needed > n_train:
        raise ValueError(
            f"initial_size + n_rounds * batch_size = {needed} labels, but the training "
            f"split holds only about {n_train} pairs ({split_note}). "
            "Use fewer rounds or a smaller batch."
        )


def _resolve_strategies(strategies):
    """name -> strategy object; names are built from :mod:`skbalpm.acquisition`."""
    if isinstance(strategies, dict):
        return dict(strategies)
    if isinstance(strategies, str):
        strategies = [strategies]
    return {strategy_label(spec): make_strategy(spec) for spec in strategies}


def _resolve_initial_strategy(initial_strategy, feature_layout):
    """The strategy that picks each seed's initial set, or None for today's random draw.

    It runs before any classifier is fitted, so it must read no classifier; one that
    reads prompt features needs a layout with a prompt block.
    """
    if initial_strategy is None:
        return None
    if isinstance(initial_strategy, str):
        name, params = parse_strategy_spec(initial_strategy)  # unknown names: ValueError
        if name == canonical_name("random") and not params:
            return None  # the default: exactly the random initial sets of before
        strategy = make_strategy(initial_strategy)
    elif hasattr(initial_strategy, "_needs_classifier"):
        strategy = initial_strategy
    else:
        raise TypeError(
            "initial_strategy must be None, a strategy spec such as 'typiclust' or "
            "'probcover(delta=0.5)', or a skbalpm query strategy; got "
            f"{type(initial_strategy).__name__}."
        )
    if strategy._needs_classifier():
        raise ValueError(
            f"initial_strategy {type(strategy).__name__} reads a fitted classifier, but "
            "the initial set is picked before any fit; use one that does not: "
            f"{', '.join(cold_start_strategies())}."
        )
    if "prompts" in strategy._reads and feature_layout == "a|b":
        raise ValueError(
            f"initial_strategy {type(strategy).__name__} reads prompt features, but the "
            "feature_layout 'a|b' has no prompt block; use features 'a|b|prompt' or "
            "the random initial set."
        )
    return strategy


def _initial_label(initial_strategy):
    """How the configuration records a non-default initial strategy."""
    if isinstance(initial_strategy, str):
        return strategy_label(initial_strategy)
    return initial_strategy  # an object: its repr (_jsonable)


# ---------------------------------------------------------------------------------------
# 2. Features: embed raw triples once
# ---------------------------------------------------------------------------------------


def _embed_pairs(X, test_pairs, embedder):
    """Features of ``X`` and of the fixed test set; raw triples go through ``embedder``."""
    if X.dtype == object:  # raw triples: embed once (the embedder caches on disk)
        if embedder is None:
            from skbalpm.embedding import PreferencePairEmbedder

            embedder = PreferencePairEmbedder()
        embedder = clone(embedder)
        X = np.asarray(embedder.fit_transform(X), dtype=np.float32)
        if test_pairs is not None:
            X_test = np.asarray(embedder.transform(test_pairs[0]), dtype=np.float32)
            test_pairs = X_test, test_pairs[1]
    if test_pairs is not None:
        X_test = test_pairs[0]
        if X_test.ndim != 2 or X_test.shape[1] != X.shape[1] or len(X_test) == 0:
            raise ValueError(
                f"X_test must hold pairs with X's {X.shape[1]} features each; got shape "
                f"{X_test.shape}."
            )
    return X, test_pairs


def _fingerprint(X_test, y_test):
    """Size and digest of a fixed test set: a resumed run must be scored on the same one."""
    digest = hashlib.sha1(np.ascontiguousarray(X_test).tobytes())
    digest.update(np.ascontiguousarray(y_test).tobytes())
    return {"n_samples": len(y_test), "sha1": digest.hexdigest()}


def _default_classifier(feature_layout, device):
    from skbalpm.ensemble import PreferenceEnsembleClassifier

    return PreferenceEnsembleClassifier(feature_layout=feature_layout, device=device)


# ---------------------------------------------------------------------------------------
# 3. One run: fit, score and acquire, round after round
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Protocol:
    """What every run of one benchmark shares."""

    classifier: object
    n_rounds: int
    batch_size: int
    dataset_name: str


def _check_indices(indices, n_pool, n_instances, name):
    indices = np.asarray(indices)
    if (
        indices.ndim != 1
        or not np.issubdtype(indices.dtype, np.integer)
        or len(np.unique(indices)) != len(indices)
        or len(indices) != n_instances
        or (len(indices) and (indices.min() < 0 or indices.max() >= n_pool))
    ):
        raise ValueError(
            f"Strategy {name!r} must return {n_instances} distinct int positions in "
            f"[0, {n_pool}); got {indices!r:.200}."
        )
    return indices


def _evaluate(fitted, X_test, y_test):
    proba_a = fitted.predict_proba(X_test)[:, 0]
    return preference_log_likelihood(y_test, proba_a), preference_accuracy(y_test, proba_a)


def _reseed(estimator, seed):
    """Set ``random_state=seed`` where the estimator has that parameter; return it."""
    if hasattr(estimator, "get_params") and "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


def _with_seed(estimator, seed):
    """A clone with ``random_state=seed`` where the estimator has that parameter."""
    return _reseed(clone(estimator) if hasattr(estimator, "get_params") else estimator, seed)


def _fit_ceiling(classifier, seed, data, dataset_name):
    """Fit on the whole training split: the best the classifier does with every label."""
    X_train, y_train, X_test, y_test = data
    start = time.perf_counter()
    full = _with_seed(classifier, _derived_seed(seed, 10**6, 0)).fit(X_train, y_train)
    ll, acc = _evaluate(full, X_test, y_test)
    return {
        "dataset": dataset_name,
        "seed": seed,
        "n_labels": len(y_train),
        "test_log_likelihood": ll,
        "test_accuracy": acc,
        "fit_seconds": time.perf_counter() - start,
    }


def _query(picker, fitted, X_train, labelled, pool, batch_size, name):
    """Pool positions the strategy picks this round, and the seconds it took."""
    start = time.perf_counter()
    n_instances = min(batch_size, len(pool))
    indices, _ = picker(
        fitted, X_train[pool], n_instances=n_instances, X_acquired=X_train[labelled]
    )
    indices = _check_indices(indices, len(pool), n_instances, name)
    return indices, time.perf_counter() - start


def _run_strategy(run, *, name, strategy, seed, data, protocol, on_round):
    """Continue one (strategy, seed) run from its state ``run`` to the last round.

    ``run`` holds the rows so far and the labelled positions; it is updated in place and
    ``on_round(run, row)`` is called after every round. The strategy is one object for
    the whole run (a clone of ``strategy``), reseeded every round from (seed, round):
    what it keeps between calls, such as BAL-PM's k-NN radii on the shrinking pool,
    carries over, and a run resumed with a fresh object picks the same pairs.
    """
    X_train, y_train, X_test, y_test = data
    picker = clone(strategy) if hasattr(strategy, "get_params") else strategy
    for round_ in range(len(run["rows"]), protocol.n_rounds + 1):
        labelled = np.asarray(run["labelled"], dtype=np.int64)
        pool = np.setdiff1d(np.arange(len(y_train)), labelled)  # sorted positions
        start = time.perf_counter()
        fitted = _with_seed(protocol.classifier, _derived_seed(seed, round_, 0))
        fitted.fit(X_train[labelled], y_train[labelled])
        fit_seconds = time.perf_counter() - start
        ll, acc = _evaluate(fitted, X_test, y_test)
        query_seconds = float("nan")
        if round_ < protocol.n_rounds:
            _reseed(picker, _derived_seed(seed, round_, 1))
            indices, query_seconds = _query(
                picker, fitted, X_train, labelled, pool, protocol.batch_size, name
            )
            run["labelled"] = labelled.tolist() + pool[indices].tolist()
        row = {
            "dataset": protocol.dataset_name,
            "strategy": name,
            "seed": seed,
            "round": round_,
            "n_labels": len(labelled),
            "n_pool": len(pool),
            "test_log_likelihood": ll,
            "test_accuracy": acc,
            "fit_seconds": fit_seconds,
            "query_seconds": query_seconds,
        }
        run["rows"].append(row)
        on_round(run, row)
    return run


# ---------------------------------------------------------------------------------------
# 4. The plan: one split per seed, the runs and ceiling fits still to do
# ---------------------------------------------------------------------------------------


@dataclass
class _Job:
    """One unit of work: a seed's ceiling fit (``name`` None) or a (strategy, seed) run.

    ``data`` (the seed's train and test arrays) is attached just before the job runs or
    is sent to a worker, so that one seed's copy of the data exists at a time.
    """

    kind: str
    seed: int
    name: str | None
    protocol: _Protocol
    run: dict | None = None
    strategy: object = None
    data: tuple | None = None
    partial_path: Path | None = None
    parent_pid: int | None = None


_INITIAL_SEED_KEY = 2 * 10**6
"""Key of the initial strategy's seed, (seed, _INITIAL_SEED_KEY, 0): apart from the
rounds' (seed, round, ...) and the ceiling's (seed, 10**6, 0)."""


@dataclass
class _SeedSplits:
    """Train and test positions and the initial labelled set of every seed."""

    X: np.ndarray
    y: np.ndarray
    test_pairs: tuple | None
    test_size: float
    groups: object
    initial_size: int
    initial_strategy: object = None  # None: a random permutation's first rows
    feature_layout: str = "a|b|prompt"
    _last: tuple | None = field(default=None, init=False, repr=False)  # (seed, data)

    def split(self, seed):
        """(train, test) positions: test is None with a fixed test set."""
        if self.test_pairs is not None:
            return np.arange(len(self.y)), None
        return split_train_test(len(self.y), self.test_size, seed, self.groups)

    def positions(self, seed):
        """(train, test, initial): test is None with a fixed test set; initial indexes train."""
        train, test = self.split(seed)
        if self.initial_strategy is None:
            initial = np.random.RandomState(seed).permutation(len(train))[: self.initial_size]
        else:
            initial = self._picked_initial(seed, self.X[train])
        return train, test, initial

    def _picked_initial(self, seed, X_train):
        """The initial strategy's picks on the training split: no classifier, none labelled."""
        picker = _with_seed(self.initial_strategy, _derived_seed(seed, _INITIAL_SEED_KEY, 0))
        _, _, prompts = split_feature_blocks(X_train, self.feature_layout)
        indices, _ = picker(
            None,
            X_train,
            n_instances=self.initial_size,
            X_acquired=X_train[:0],
            prompt_features=prompts,
        )
        name = f"initial_strategy {type(picker).__name__}"
        return _check_indices(indices, len(X_train), self.initial_size, name)

    def data(self, seed):
        """(X_train, y_train, X_test, y_test) of one seed; the last seed's is kept."""
        if self._last is None or self._last[0] != seed:
            self._last = None  # free the previous seed's copy first
            train, test = self.split(seed)
            if self.test_pairs is not None:
                data = self.X[train], self.y[train], *self.test_pairs
            else:
                data = self.X[train], self.y[train], self.X[test], self.y[test]
            self._last = seed, data
        return self._last[1]

    def attach(self, job):
        """A copy of ``job`` with its seed's data (sharing its run state)."""
        return replace(job, data=self.data(job.seed))


def _plan_jobs(checkpoint, splits, seeds, strategies, protocol, compute_ceiling):
    """Register every run in the checkpoint; the jobs not yet done, seed by seed."""
    for seed in seeds:
        _, _, initial = splits.positions(seed)
        for name in strategies:
            checkpoint.start_run(name, seed, initial.tolist())
    checkpoint.merge_partial_runs()
    jobs = []
    for seed in seeds:
        if compute_ceiling and str(seed) not in checkpoint.state["ceiling"]:
            jobs.append(_Job("ceiling", seed, None, protocol))
        for name, strategy in strategies.items():
            run = checkpoint.run(name, seed)
            if len(run["rows"]) <= protocol.n_rounds:
                jobs.append(_Job("run", seed, name, protocol, run, strategy))
    return jobs


# ---------------------------------------------------------------------------------------
# 5. Execution: here, or in worker processes that stop with this one
# ---------------------------------------------------------------------------------------


def _execute(job, on_round):
    """Do one job; returns ``(kind, seed, name, result)``, the result a ceiling row or the
    finished run (a small answer: results arriving in any order can be placed)."""
    if job.kind == "ceiling":
        protocol = job.protocol
        result = _fit_ceiling(protocol.classifier, job.seed, job.data, protocol.dataset_name)
        return job.kind, job.seed, job.name, result
    run = _run_strategy(
        job.run,
        name=job.name,
        strategy=job.strategy,
        seed=job.seed,
        data=job.data,
        protocol=job.protocol,
        on_round=on_round,
    )
    return job.kind, job.seed, job.name, run


def _execute_in_worker(job):
    """:func:`_execute` in a worker process: it keeps its run in a partial file after
    every round, and stops (writing nothing more) once the benchmark's process is dead."""
    stop_with_parent(job.parent_pid)

    def keep_nothing(run, row):
        exit_if_orphaned(job.parent_pid)

    on_round = keep_nothing
    if job.partial_path is not None:
        on_round = PartialRunWriter(job.partial_path, job.parent_pid)
    return _execute(job, on_round)


class _Recorder:
    """Takes each finished piece of work into the checkpoint, the results files, the
    progress bar and the callback."""

    def __init__(self, checkpoint, output_dir, config, versions, bar, callback):
        self.checkpoint = checkpoint
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.config = config
        self.versions = versions
        self.bar = bar
        self.callback = callback

    def results(self):
        import pandas as pd

        return pd.DataFrame(self.checkpoint.rows(), columns=list(RESULT_COLUMNS))

    def ceiling(self):
        import pandas as pd

        return pd.DataFrame(list(self.checkpoint.state["ceiling"].values()))

    def write_results(self):
        """``results.csv`` and ``results.json`` of every round so far."""
        if self.output_dir is None:
            return
        table = self.results()
        atomic_write(self.output_dir / "results.csv", table.to_csv(index=False))
        payload = {
            "config": self.config,
            "versions": self.versions,
            "ceiling": list(self.checkpoint.state["ceiling"].values()),
            "rows": table.to_dict(orient="records"),
        }
        atomic_write(self.output_dir / "results.json", json.dumps(payload, indent=1))

    def round_done(self, run, row):
        """A round of a run in this process: checkpoint and results after each."""
        self.checkpoint.save()
        self.write_results()
        self._announce(row)

    def run_done(self, job, run):
        """A whole run back from a worker: it joins the checkpoint, its partial file goes."""
        n_before = len(job.run["rows"])
        self.checkpoint.state["runs"][run_key(job.name, job.seed)] = run
        self.checkpoint.save()
        self.checkpoint.remove_partial(job.seed, job.name)
        self.write_results()
        for row in run["rows"][n_before:]:
            self._announce(row)

    def ceiling_done(self, job, result):
        self.checkpoint.state["ceiling"][str(job.seed)] = result
        self.checkpoint.save()

    def _announce(self, row):
        self.bar.update(1)
        self.bar.set_postfix(
            run=f"{row['strategy']} seed {row['seed']}",
            labels=row["n_labels"],
            ll=f"{row['test_log_likelihood']:.3f}",
        )
        if self.callback is not None:
            self.callback(row)


def _run_here(jobs, splits, recorder):
    for job in jobs:
        *_, result = _execute(splits.attach(job), on_round=recorder.round_done)
        if job.kind == "ceiling":
            recorder.ceiling_done(job, result)


def _run_in_workers(jobs, splits, recorder, checkpoint, n_workers, engine="local", address=None):
    """One worker process (joblib) or Ray task per job at a time; each run joins the
    checkpoint here when it ends, and a resumed run takes up the partial files of the runs
    that did not."""
    by_key = {}
    for job in jobs:
        job.parent_pid = os.getpid()
        if job.kind == "run":
            job.partial_path = checkpoint.partial_path(job.seed, job.name)
        by_key[job.kind, job.seed, job.name] = job
    if engine == "ray":
        from skbalpm.distributed._benchmark import run_unordered

        results = run_unordered(_execute_in_worker, jobs, splits.data, address=address)
    else:
        parallel = Parallel(n_jobs=n_workers, return_as="generator_unordered")
        results = parallel(delayed(_execute_in_worker)(splits.attach(job)) for job in jobs)
    with contextlib.closing(results):  # an interrupt stops the tasks still running
        for kind, seed, name, result in results:
            job = by_key[kind, seed, name]
            if kind == "ceiling":
                recorder.ceiling_done(job, result)
            else:
                recorder.run_done(job, result)


ENGINES = ("local", "ray")
"""Where :func:`run_benchmark` runs its jobs (``engine=``)."""


def _check_engine(engine, address):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}.")
    if address is not None and engine != "ray":
        raise ValueError(f"address is only used with engine='ray'; got engine={engine!r}.")
    if address is not None and not (isinstance(address, str) and address):
        raise ValueError(f"address must be None or a non-empty str; got {address!r}.")
    if engine == "ray":
        from skbalpm.distributed._ray import import_ray

        import_ray()  # the extra is there, or an ImportError that names it


# ---------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------


def run_benchmark(
    X,
    y,
    *,
    strategies=DEFAULT_STRATEGIES,
    classifier=None,
    embedder=None,
    seeds=DEFAULT_SEEDS,
    initial_size=DEFAULT_INITIAL_SIZE,
    batch_size=DEFAULT_BATCH_SIZE,
    n_rounds=DEFAULT_N_ROUNDS,
    test_size=DEFAULT_TEST_SIZE,
    groups=None,
    X_test=None,
    y_test=None,
    feature_layout="a|b|prompt",
    device="auto",
    dataset_name="dataset",
    output_dir=None,
    resume=True,
    compute_ceiling=True,
    callback=None,
    extra_config=None,
    n_jobs=DEFAULT_N_JOBS,
    engine="local",
    address=None,
    verbose=1,
    initial_strategy=None,
):
    """Compare query strategies in pool-based active learning over several seeds.

    Protocol (BAL-PM paper): for each seed, hold out a test split (groups kept whole) and
    draw an initial labelled set from the rest (the same for every strategy, so the
    strategies are paired by seed); then for ``n_rounds`` rounds, fit a fresh clone of the
    classifier on the labelled set, evaluate the ensemble-mean prediction on the test
    split (log-likelihood of the true label and accuracy), and let the strategy pick
    ``batch_size`` pairs from the pool, which are then labelled. A final fit and
    evaluation follow the last acquisition, so each run has ``n_rounds + 1`` rows.
    Features are computed once up front; the loop runs on features. Each fit and query
    is seeded from (seed, round), so results do not depend on the order of the runs, and
    a run resumed from its checkpoint (written after every round) gives the same rows
    (apart from the timings) as an uninterrupted one. Each (strategy, seed) run keeps one
    strategy object, reseeded every round, so what a strategy keeps between calls (BAL-PM's
    k-NN radii on the shrinking pool) carries over from round to round. The parameters
    are checked before anything is embedded or fitted. modAL is not needed.

    Parameters
    ----------
    X : ndarray of shape (n, n_features) or (n, 3)
        Features in ``feature_layout``, or raw triples (object array) embedded once with
        ``embedder``.
    y : array-like of shape (n,)
        Index of the preferred response.
    strategies : sequence of str or dict, default=("random", "bald", "powerbald", "balpm")
        Names of :data:`~skbalpm.benchmark.STRATEGY_CLASSES`, or ``{name: strategy}`` with
        strategies callable as ``strategy(classifier, X_pool, n_instances=,
        X_acquired=)`` -> ``(indices, scores)``.
    classifier : estimator or None
        Unfitted classifier with ``predict_proba``; default
        :class:`~skbalpm.ensemble.PreferenceEnsembleClassifier`.
    embedder : transformer or None
        Used only when ``X`` holds raw triples; default
        :class:`~skbalpm.embedding.PreferencePairEmbedder`.
    seeds : int or sequence of int, default=5
        ``range(seeds)`` or the seeds themselves (distinct ints >= 0).
    initial_size, batch_size, n_rounds : int, default=50, 50, 10
        Initial labelled set, pairs acquired per round, number of acquisition rounds
        (the command line's defaults too).
    test_size : float, default=0.2
        Fraction held out for testing (ignored with ``X_test``).
    groups : array-like of shape (n,) or None
        Group ids kept on one side of the test split (ignored with ``X_test``).
    X_test, y_test : array-like or None
        A fixed test set, e.g. another distribution (the paper scores its TL;DR learners
        on CNN/DailyMail too). Then all of ``X`` is the pool and every seed is scored on
        these pairs; ``X_test`` is raw triples when ``X`` is (embedded with the same
        embedder), else features of the same width.
    feature_layout : {"a|b|prompt", "a|b"}, default="a|b|prompt"
        Layout of the features (``"a|b|prompt"`` for raw triples), given to the default
        classifier and to a ``classifier`` whose ``feature_layout`` is ``"auto"``.
    device : str, default="auto"
        Device of the default classifier.
    dataset_name : str, default="dataset"
        Written in every row.
    output_dir : str, Path or None
        Where ``results.csv``, ``results.json`` and ``checkpoint.json`` go (after every
        round); None keeps everything in memory.
    resume : bool, default=True
        Continue from ``output_dir/checkpoint.json`` when present. The configuration must
        match, except that strategies the folder does not hold yet may be added: their
        runs join the folder's (same splits and initial sets) and the results cover every
        strategy the folder holds.
    compute_ceiling : bool, default=True
        Also fit on the whole training split per seed: the best the classifier does with
        every label (the ceiling of the curves).
    callback : callable or None
        ``callback(row)`` after every round (after the checkpoint is written); raise
        :class:`BenchmarkInterrupted` to stop. With ``n_jobs`` > 1 or ``engine="ray"``
        it is called in this process for each round of a run when the run ends.
    extra_config : dict or None
        More configuration to record (e.g. the data set's source).
    n_jobs : int or None, default=-1
        Processes running (strategy, seed) runs side by side (joblib; None means 1, -1
        every core, as on the command line). Results do not depend on it: every fit and
        query is seeded from (seed, round). Each worker checkpoints its run after every
        round, so an interrupted parallel run resumes too, and stops within a fraction of
        a second when this process dies (a killed benchmark leaves no worker behind).
        Keep the classifier's own ``n_jobs`` at 1 thread when using several processes.
    engine : {"local", "ray"}, default="local"
        ``"local"``: this process or joblib workers (``n_jobs``). ``"ray"``: every
        (strategy, seed) run and ceiling fit is a Ray task (one CPU each; ``n_jobs`` is
        not used), with the same partial checkpoint files and the same rows; needs the
        extra ``ray`` (``pip install "skbalpm[ray]"``). Results do not depend on it, and
        it is not part of the checkpoint's configuration.
    address : str or None, default=None
        With ``engine="ray"``: the cluster to join (``"auto"``, ``"host:6379"``,
        ``"ray://host:10001"``); None uses the Ray already started in this process, or
        starts a local one. Several machines need a shared ``output_dir`` and skbalpm
        installed on each.
    verbose : int, default=1
        A progress bar over all rounds when > 0.
    initial_strategy : None, str or query strategy, default=None
        What picks each seed's initial labelled set from the training split: None or
        ``"random"``, a random draw (seeded by the seed); or a strategy (spec or
        object) that reads no classifier, run with none and nothing labelled, e.g.
        ``"typiclust"`` or ``"probcover"`` on the prompt features (the cold-start
        strategies, :func:`cold_start_strategies`). The set is the same for every
        strategy of a seed. A strategy that needs a fitted classifier is refused
        before any work. A non-default one is recorded in the configuration.

    Returns
    -------
    result : Bunch
        ``results`` (DataFrame, :data:`RESULT_COLUMNS`), ``ceiling`` (DataFrame, one row
        per seed), ``config`` and ``versions`` (dicts).

    References
    ----------
    Melo, Tigas, Abate, Gal, "Deep Bayesian Active Learning for Preference Modeling in
    Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> def first(clf, X_pool, n_instances=1, **kw):
    ...     return np.arange(n_instances), np.zeros(n_instances)
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4)); y = (X[:, 0] > X[:, 2]).astype(int)
    >>> out = run_benchmark(X, y, strategies={"first": first}, classifier=LogisticRegression(),
    ...                     seeds=2, initial_size=10, batch_size=5, n_rounds=2,
    ...                     feature_layout="a|b", n_jobs=1, verbose=0)
    >>> out.results.shape[0]
    6
    """
    from tqdm.auto import tqdm

    fixed_test = X_test is not None or y_test is not None
    seeds = _check_protocol(
        seeds, initial_size, batch_size, n_rounds, test_size, n_jobs, fixed_test
    )
    _check_engine(engine, address)
    X, y = _check_pairs(X, y, groups, feature_layout)
    test_pairs = _check_test_pairs(X_test, y_test, raw=X.dtype == object)
    _check_budget(len(y), initial_size, batch_size, n_rounds, test_size, fixed_test)
    strategies = _resolve_strategies(strategies)
    if X.dtype == object:
        feature_layout = "a|b|prompt"  # the embedder's layout
    initial_picker = _resolve_initial_strategy(initial_strategy, feature_layout)
    X, test_pairs = _embed_pairs(X, test_pairs, embedder)
    if classifier is None:
        classifier = _default_classifier(feature_layout, device)
    else:  # X is a bare array from here on: a classifier left at "auto" is told the layout
        classifier = with_feature_layout(classifier, feature_layout)

    config = _jsonable(
        {
            "dataset": dataset_name,
            "n_samples": len(X),
            "n_features": X.shape[1],
            "feature_layout": feature_layout,
            "strategies": dict(strategies),
            "classifier": classifier,
            **_classifier_params(classifier),
            "seeds": seeds,
            "initial_size": initial_size,
            "batch_size": batch_size,
            "n_rounds": n_rounds,
            "test_size": None if fixed_test else test_size,
            "grouped_split": groups is not None and not fixed_test,
            "compute_ceiling": compute_ceiling,
            # only with a fixed test set, so that older checkpoints still resume
            **({"test_set": _fingerprint(*test_pairs)} if fixed_test else {}),
            # only when not the random default, likewise
            **({"initial_strategy": _initial_label(initial_strategy)} if initial_picker else {}),
            **(extra_config or {}),
        }
    )
    checkpoint = Checkpoint(output_dir, config, resume)
    protocol = _Protocol(classifier, n_rounds, batch_size, dataset_name)
    splits = _SeedSplits(
        X, y, test_pairs, test_size, groups, initial_size, initial_picker, feature_layout
    )
    jobs = _plan_jobs(checkpoint, splits, seeds, strategies, protocol, compute_ceiling)

    n_workers = min(effective_n_jobs(n_jobs), max(len(jobs), 1))
    bar = tqdm(
        total=len(seeds) * len(strategies) * (n_rounds + 1),
        # the folder may hold other strategies' runs too (Checkpoint: a folder accumulates)
        initial=sum(
            len(checkpoint.run(name, seed)["rows"]) for seed in seeds for name in strategies
        ),
        desc=f"{dataset_name} rounds",
        disable=verbose <= 0,
    )
    config = checkpoint.state["config"]  # with the strategies the folder held before
    recorder = _Recorder(checkpoint, output_dir, config, package_versions(), bar, callback)
    try:
        if engine == "local" and n_workers <= 1:
            _run_here(jobs, splits, recorder)
        else:
            _run_in_workers(jobs, splits, recorder, checkpoint, n_workers, engine, address)
    finally:
        bar.close()
    recorder.write_results()
    return Bunch(
        results=recorder.results(),
        ceiling=recorder.ceiling(),
        config=config,
        versions=recorder.versions,
    )
