"""The active-learning experiment loop: strategies x seeds x rounds, with checkpoints."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.utils import Bunch

from skbalpm.benchmark._metrics import preference_accuracy, preference_log_likelihood
from skbalpm.benchmark._strategies import DEFAULT_STRATEGIES, make_strategy, strategy_label

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
    ...               output_dir=tempfile.mkdtemp(), verbose=0)
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


def _derived_seed(*keys):
    """An int seed that depends only on ``keys`` (stable across runs and resumes)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def _atomic_write(path: Path, text: str):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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


def _check_test_set(X_test, y_test, X, fitted_embedder):
    """A fixed test set as (features, labels) like ``X``'s, or None when not given.

    ``fitted_embedder`` is the embedder that turned raw ``X`` into features (None when
    ``X`` came as features): raw test triples go through it too.
    """
    if X_test is None and y_test is None:
        return None
    if X_test is None or y_test is None:
        raise ValueError("Pass both X_test and y_test for a fixed test set, or neither.")
    X_test = np.asarray(X_test)
    y_test = np.asarray(y_test).astype(np.int64)
    if (X_test.dtype == object) != (fitted_embedder is not None):
        raise ValueError(
            "X_test must come in the same form as X: raw (prompt, response_a, response_b) "
            "triples when X is raw, else features; got "
            f"{'raw' if X_test.dtype == object else 'features'} X_test with "
            f"{'raw' if fitted_embedder is not None else 'features'} X."
        )
    if fitted_embedder is not None:
        X_test = np.asarray(fitted_embedder.transform(X_test), dtype=np.float32)
    if X_test.ndim != 2 or X_test.shape[1] != X.shape[1] or len(X_test) == 0:
        raise ValueError(
            f"X_test must hold pairs with X's {X.shape[1]} features each; got shape {X_test.shape}."
        )
    if len(X_test) != len(y_test):
        raise ValueError(
            f"X_test and y_test have different lengths: {len(X_test)} vs {len(y_test)}."
        )
    if not np.isin(y_test, (0, 1)).all():
        raise ValueError("y_test must hold 0 (response_a preferred) or 1 (response_b).")
    return X_test, y_test


def _fingerprint(X_test, y_test):
    """Size and digest of a fixed test set: a resumed run must be scored on the same one."""
    digest = hashlib.sha1(np.ascontiguousarray(X_test).tobytes())
    digest.update(np.ascontiguousarray(y_test).tobytes())
    return {"n_samples": len(y_test), "sha1": digest.hexdigest()}


def _default_classifier(feature_layout, device):
    from skbalpm.ensemble import PreferenceEnsembleClassifier

    return PreferenceEnsembleClassifier(feature_layout=feature_layout, device=device)


def _resolve_strategies(strategies):
    """name -> strategy object; names are built from :mod:`skbalpm.acquisition`."""
    if isinstance(strategies, dict):
        return dict(strategies)
    if isinstance(strategies, str):
        strategies = [strategies]
    return {strategy_label(spec): make_strategy(spec) for spec in strategies}


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


def _with_seed(estimator, seed):
    """A clone with ``random_state=seed`` where the estimator has that parameter."""
    estimator = clone(estimator) if hasattr(estimator, "get_params") else estimator
    if hasattr(estimator, "get_params") and "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


class _Checkpoint:
    """The JSON file that lets an interrupted run resume exactly where it stopped."""

    def __init__(self, output_dir, config, resume):
        self.path = None if output_dir is None else Path(output_dir) / "checkpoint.json"
        self.state = {"config": config, "runs": {}, "ceiling": {}}
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved["config"] != config:
                differing = sorted(
                    k
                    for k in set(config) | set(saved["config"])
                    if config.get(k) != saved["config"].get(k)
                )
                raise ValueError(
                    f"{self.path} holds a run with a different configuration (differs in "
                    f"{differing}); pass a new output directory or resume=False."
                )
            self.state = saved

    def save(self):
        if self.path is not None:
            _atomic_write(self.path, json.dumps(self.state))

    def partial_path(self, seed, name):
        """Where a worker process keeps run (name, seed) between rounds (or None)."""
        if self.path is None:
            return None
        digest = hashlib.sha1(f"{name}|{seed}".encode()).hexdigest()[:16]
        return self.path.parent / "partial" / f"run-{digest}.json"

    def remove_partial(self, seed, name):
        path = self.partial_path(seed, name)
        if path is not None:
            path.unlink(missing_ok=True)

    def merge_partial_runs(self):
        """Take up the rounds that worker processes of an interrupted run had finished."""
        if self.path is None or not (self.path.parent / "partial").is_dir():
            return
        for key, run in self.state["runs"].items():
            name, seed = key.rsplit("|", 1)
            path = self.partial_path(seed, name)
            if path.exists():
                saved = json.loads(path.read_text(encoding="utf-8"))
                if len(saved["rows"]) > len(run["rows"]):
                    self.state["runs"][key] = saved
        self.save()


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


def _run_strategy(
    run, *, name, strategy, classifier, seed, data, n_rounds, batch_size, dataset_name, on_round
):
    """Continue one (strategy, seed) run from its state ``run`` to the last round.

    ``run`` holds the rows so far and the labelled positions; it is updated in place and
    ``on_round(run, row)`` is called after every round.
    """
    X_train, y_train, X_test, y_test = data
    for round_ in range(len(run["rows"]), n_rounds + 1):
        labelled = np.asarray(run["labelled"], dtype=np.int64)
        pool = np.setdiff1d(np.arange(len(y_train)), labelled)  # sorted positions
        start = time.perf_counter()
        fitted = _with_seed(classifier, _derived_seed(seed, round_, 0))
        fitted.fit(X_train[labelled], y_train[labelled])
        fit_seconds = time.perf_counter() - start
        ll, acc = _evaluate(fitted, X_test, y_test)
        query_seconds = float("nan")
        if round_ < n_rounds:
            start = time.perf_counter()
            picker = _with_seed(strategy, _derived_seed(seed, round_, 1))
            n_instances = min(batch_size, len(pool))
            indices, _ = picker(
                fitted, X_train[pool], n_instances=n_instances, X_acquired=X_train[labelled]
            )
            indices = _check_indices(indices, len(pool), n_instances, name)
            query_seconds = time.perf_counter() - start
            run["labelled"] = labelled.tolist() + pool[indices].tolist()
        row = {
            "dataset": dataset_name,
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


def _job(
    *,
    kind,
    seed,
    name,
    run,
    strategy,
    classifier,
    data,
    n_rounds,
    batch_size,
    dataset_name,
    on_round=None,
    partial_path=None,
):
    """One unit of work: a seed's ceiling fit or a (strategy, seed) run.

    Returns ``(kind, seed, name, result)`` so that results arriving in any order can be
    placed. In a worker process, ``partial_path`` receives the run after every round.
    """
    if kind == "ceiling":
        return kind, seed, name, _fit_ceiling(classifier, seed, data, dataset_name)
    if on_round is None:

        def on_round(run, row):
            if partial_path is not None:
                Path(partial_path).parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(Path(partial_path), json.dumps(run))

    result = _run_strategy(
        run,
        name=name,
        strategy=strategy,
        classifier=classifier,
        seed=seed,
        data=data,
        n_rounds=n_rounds,
        batch_size=batch_size,
        dataset_name=dataset_name,
        on_round=on_round,
    )
    return kind, seed, name, result


def run_benchmark(
    X,
    y,
    *,
    strategies=DEFAULT_STRATEGIES,
    classifier=None,
    embedder=None,
    seeds=5,
    initial_size=100,
    batch_size=100,
    n_rounds=10,
    test_size=0.2,
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
    n_jobs=None,
    verbose=1,
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
    (apart from the timings) as an uninterrupted one. modAL is not needed.

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
        ``range(seeds)`` or the seeds themselves.
    initial_size, batch_size, n_rounds : int, default=100, 100, 10
        Initial labelled set, pairs acquired per round, number of acquisition rounds.
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
        Layout of the features.
    device : str, default="auto"
        Device of the default classifier.
    dataset_name : str, default="dataset"
        Written in every row.
    output_dir : str, Path or None
        Where ``results.csv``, ``results.json`` and ``checkpoint.json`` go (after every
        round); None keeps everything in memory.
    resume : bool, default=True
        Continue from ``output_dir/checkpoint.json`` when present (the configuration must
        match).
    compute_ceiling : bool, default=True
        Also fit on the whole training split per seed: the best the classifier does with
        every label (the ceiling of the curves).
    callback : callable or None
        ``callback(row)`` after every round (after the checkpoint is written); raise
        :class:`BenchmarkInterrupted` to stop. With ``n_jobs`` > 1 it is called in this
        process for each round of a run when the run ends.
    extra_config : dict or None
        More configuration to record (e.g. the data set's source).
    n_jobs : int or None, default=None
        Processes running (strategy, seed) runs side by side (joblib; None means 1, -1
        every core). Results do not depend on it: every fit and query is seeded from
        (seed, round). Each worker checkpoints its run after every round, so an
        interrupted parallel run resumes too. Keep the classifier's own ``n_jobs`` at 1
        thread when using several processes.
    verbose : int, default=1
        A progress bar over all rounds when > 0.

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
    ...                     feature_layout="a|b", verbose=0)
    >>> out.results.shape[0]
    6
    """
    import pandas as pd
    from tqdm.auto import tqdm

    seeds = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    for name, value in (("initial_size", initial_size), ("batch_size", batch_size)):
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if not (isinstance(n_rounds, (int, np.integer)) and n_rounds >= 0):
        raise ValueError(f"n_rounds must be an int >= 0, got {n_rounds!r}.")
    y = np.asarray(y).astype(np.int64)
    X = np.asarray(X)
    raw = X.dtype == object
    if raw:  # raw triples: embed once (the embedder caches on disk)
        if embedder is None:
            from skbalpm.embedding import PreferencePairEmbedder

            embedder = PreferencePairEmbedder()
        embedder = clone(embedder)
        X = np.asarray(embedder.fit_transform(X), dtype=np.float32)
        feature_layout = "a|b|prompt"
    if len(X) != len(y):
        raise ValueError(f"X and y have different lengths: {len(X)} vs {len(y)}.")
    fixed_test = _check_test_set(X_test, y_test, X, embedder if raw else None)
    has_test_set = fixed_test is not None
    if not has_test_set:
        n_train = len(X) - int(np.ceil(test_size * len(X)))
        split_note = f"{len(X)} pairs, test_size={test_size}"
    else:
        X_test, y_test = fixed_test
        n_train = len(X)
        split_note = f"all {len(X)} pairs, with a fixed test set"
    needed = initial_size + n_rounds * batch_size
    if needed > n_train:
        raise ValueError(
            f"initial_size + n_rounds * batch_size = {needed} labels, but the training "
            f"split holds only about {n_train} pairs ({split_note}). "
            "Use fewer rounds or a smaller batch."
        )
    strategies = _resolve_strategies(strategies)
    if classifier is None:
        classifier = _default_classifier(feature_layout, device)

    config = _jsonable(
        {
            "dataset": dataset_name,
            "n_samples": len(X),
            "n_features": X.shape[1],
            "feature_layout": feature_layout,
            "strategies": {n: s for n, s in strategies.items()},
            "classifier": classifier,
            "seeds": seeds,
            "initial_size": initial_size,
            "batch_size": batch_size,
            "n_rounds": n_rounds,
            "test_size": None if has_test_set else test_size,
            "grouped_split": groups is not None and not has_test_set,
            "compute_ceiling": compute_ceiling,
            # only with a fixed test set, so that older checkpoints still resume
            **({"test_set": _fingerprint(X_test, y_test)} if has_test_set else {}),
            **(extra_config or {}),
        }
    )
    versions = package_versions()
    checkpoint = _Checkpoint(output_dir, config, resume)

    def all_rows():
        return [row for run in checkpoint.state["runs"].values() for row in run["rows"]]

    def write_results():
        if output_dir is None:
            return
        table = pd.DataFrame(all_rows(), columns=list(RESULT_COLUMNS))
        _atomic_write(Path(output_dir) / "results.csv", table.to_csv(index=False))
        payload = {
            "config": config,
            "versions": versions,
            "ceiling": list(checkpoint.state["ceiling"].values()),
            "rows": table.to_dict(orient="records"),
        }
        _atomic_write(Path(output_dir) / "results.json", json.dumps(payload, indent=1))

    splits = {}
    for seed in seeds:
        if has_test_set:
            train, test = np.arange(len(X)), None
        else:
            train, test = split_train_test(len(X), test_size, seed, groups)
        initial = np.random.RandomState(seed).permutation(len(train))[:initial_size]
        splits[seed] = train, test  # positions: one seed's copy of the data at a time
        for name in strategies:
            checkpoint.state["runs"].setdefault(
                f"{name}|{seed}", {"rows": [], "labelled": initial.tolist()}
            )
    checkpoint.merge_partial_runs()

    jobs = [
        (kind, seed, name)
        for seed in seeds
        for kind, name in [("ceiling", None)] * bool(compute_ceiling)
        + [("run", name) for name in strategies]
        if (kind == "ceiling" and str(seed) not in checkpoint.state["ceiling"])
        or (kind == "run" and len(checkpoint.state["runs"][f"{name}|{seed}"]["rows"]) <= n_rounds)
    ]

    def job_arguments(kind, seed, name):
        train, test = splits[seed]
        return dict(
            kind=kind,
            seed=seed,
            name=name,
            run=None if kind == "ceiling" else checkpoint.state["runs"][f"{name}|{seed}"],
            strategy=None if kind == "ceiling" else strategies[name],
            classifier=classifier,
            data=(X[train], y[train], X_test, y_test)
            if has_test_set
            else (X[train], y[train], X[test], y[test]),
            n_rounds=n_rounds,
            batch_size=batch_size,
            dataset_name=dataset_name,
        )

    n_workers = min(effective_n_jobs(n_jobs), max(len(jobs), 1))
    bar = tqdm(
        total=len(seeds) * len(strategies) * (n_rounds + 1),
        initial=sum(len(run["rows"]) for run in checkpoint.state["runs"].values()),
        desc=f"{dataset_name} rounds",
        disable=verbose <= 0,
    )

    def finished_round(row):
        bar.update(1)
        bar.set_postfix(
            run=f"{row['strategy']} seed {row['seed']}",
            labels=row["n_labels"],
            ll=f"{row['test_log_likelihood']:.3f}",
        )
        if callback is not None:
            callback(row)

    def record_ceiling(seed, result):
        checkpoint.state["ceiling"][str(seed)] = result
        checkpoint.save()

    def sequential_round(run, row):
        checkpoint.save()
        write_results()
        finished_round(row)

    try:
        if n_workers <= 1:
            for kind, seed, name in jobs:
                _, _, _, result = _job(**job_arguments(kind, seed, name), on_round=sequential_round)
                if kind == "ceiling":
                    record_ceiling(seed, result)
        else:
            # One process per (strategy, seed) run. Each worker writes its run to a
            # partial checkpoint after every round; the run joins checkpoint.json here
            # when it ends, and a resumed run picks the partial files up.
            tasks = (
                delayed(_job)(
                    **job_arguments(kind, seed, name),
                    partial_path=checkpoint.partial_path(seed, name),
                )
                for kind, seed, name in jobs
            )
            parallel = Parallel(n_jobs=n_workers, return_as="generator_unordered")
            for kind, seed, name, result in parallel(tasks):
                if kind == "ceiling":
                    record_ceiling(seed, result)
                    continue
                key = f"{name}|{seed}"
                n_before = len(checkpoint.state["runs"][key]["rows"])
                checkpoint.state["runs"][key] = result
                checkpoint.save()
                checkpoint.remove_partial(seed, name)
                write_results()
                for row in result["rows"][n_before:]:
                    finished_round(row)
    finally:
        bar.close()

    write_results()
    results = pd.DataFrame(all_rows(), columns=list(RESULT_COLUMNS))
    ceiling = pd.DataFrame(list(checkpoint.state["ceiling"].values()))
    return Bunch(results=results, ceiling=ceiling, config=config, versions=versions)
