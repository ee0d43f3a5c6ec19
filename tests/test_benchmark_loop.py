"""Tests of the experiment loop with small test doubles (a bootstrap logistic ensemble)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state

from skbalpm._features import split_feature_blocks
from skbalpm.acquisition import BALPMQueryStrategy
from skbalpm.benchmark import (
    RESULT_COLUMNS,
    TIMING_COLUMNS,
    BenchmarkInterrupted,
    parse_strategy_spec,
    run_benchmark,
    split_strategy_list,
    split_train_test,
    strategy_label,
)
from skbalpm.datasets import make_synthetic_preferences


class BootstrapLogisticEnsemble(ClassifierMixin, BaseEstimator):
    """Test double of the ensemble: logistic regressions on phi(a) - phi(b) bootstraps."""

    feature_layout = "a|b|prompt"  # the synthetic task's; the prompt-based strategies read it

    def __init__(self, n_members=3, random_state=None):
        self.n_members = n_members
        self.random_state = random_state

    def fit(self, X, y):
        rng = check_random_state(self.random_state)
        a, b, _ = split_feature_blocks(np.asarray(X), self.feature_layout)
        diff = a - b
        self.members_ = []
        for _ in range(self.n_members):
            idx = rng.randint(len(y), size=len(y))
            if len(np.unique(y[idx])) < 2:
                idx = np.arange(len(y))
            self.members_.append(LogisticRegression(C=1.0).fit(diff[idx], y[idx]))
        self.classes_ = np.array([0, 1])
        return self

    def predict_member_proba(self, X):
        a, b, _ = split_feature_blocks(np.asarray(X), self.feature_layout)
        return np.stack([m.predict_proba(a - b)[:, 0] for m in self.members_])

    def predict_proba(self, X):
        p = self.predict_member_proba(X).mean(axis=0)
        return np.column_stack([p, 1 - p])


class RandomDouble(BaseEstimator):
    def __init__(self, random_state=None):
        self.random_state = random_state

    def __call__(self, classifier, X_pool, n_instances=1, **kwargs):
        rng = check_random_state(self.random_state)
        return rng.choice(len(X_pool), size=n_instances, replace=False), np.zeros(n_instances)


class UncertainDouble(BaseEstimator):
    """Picks the pairs with the most member disagreement; records what it was given."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def __call__(self, classifier, X_pool, n_instances=1, X_acquired=None, **kwargs):
        UncertainDouble.seen.append((len(X_pool), None if X_acquired is None else len(X_acquired)))
        scores = classifier.predict_member_proba(X_pool).std(axis=0)
        return np.argsort(-scores, kind="stable")[:n_instances], scores


UncertainDouble.seen = []


@pytest.fixture(scope="module")
def task():
    return make_synthetic_preferences(300, 4, 20, random_state=0)


def _run(task, tmp_path=None, **kwargs):
    params = dict(
        strategies={"random": RandomDouble(), "uncertain": UncertainDouble()},
        classifier=BootstrapLogisticEnsemble(),
        seeds=2,
        initial_size=20,
        batch_size=10,
        n_rounds=3,
        groups=task.groups,
        output_dir=tmp_path,
        n_jobs=1,
        verbose=0,
    )
    params.update(kwargs)
    return run_benchmark(task.X, task.y, **params)


def test_loop_protocol(task, tmp_path):
    UncertainDouble.seen.clear()
    out = _run(task, tmp_path)
    results = out.results
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert len(results) == 2 * 2 * 4  # strategies x seeds x (rounds + 1)
    run = results[(results.strategy == "uncertain") & (results.seed == 0)]
    assert run["n_labels"].tolist() == [20, 30, 40, 50]
    assert run["round"].tolist() == [0, 1, 2, 3]
    assert np.isnan(run["query_seconds"].iloc[-1]) and run["query_seconds"].iloc[:-1].ge(0).all()
    # the strategy saw the pool and the acquired set, growing by one batch a round
    n_train = run["n_pool"].iloc[0] + 20
    assert UncertainDouble.seen[:3] == [(n_train - 20, 20), (n_train - 30, 30), (n_train - 40, 40)]
    # round 0 is the same for every strategy (same split, initial set and fit seed)
    first = results[results["round"] == 0].pivot(
        index="seed", columns="strategy", values="test_log_likelihood"
    )
    np.testing.assert_array_equal(first["random"], first["uncertain"])
    # the scores are those of the classifier, recomputed independently for round 0
    train, test = split_train_test(len(task.y), 0.2, 0, task.groups)
    assert set(task.groups[train]).isdisjoint(task.groups[test])
    # files written
    saved = pd.read_csv(tmp_path / "results.csv")
    assert len(saved) == len(results)
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["config"]["n_rounds"] == 3 and "numpy" in payload["versions"]
    assert len(out.ceiling) == 2 and (out.ceiling["n_labels"] == len(train)).any()


def test_round_zero_matches_an_independent_fit(task):
    out = _run(
        task,
        None,
        seeds=[1],
        n_rounds=0,
        compute_ceiling=False,
        strategies={"random": RandomDouble()},
    )
    train, test = split_train_test(len(task.y), 0.2, 1, task.groups)
    initial = np.random.RandomState(1).permutation(len(train))[:20]
    row = out.results.iloc[0]
    X_train, y_train = task.X[train], task.y[train]
    from skbalpm.benchmark._experiment import _derived_seed

    model = BootstrapLogisticEnsemble(random_state=_derived_seed(1, 0, 0))
    model.fit(X_train[initial], y_train[initial])
    p = model.predict_proba(task.X[test])[:, 0]
    y = task.y[test]
    assert row["test_log_likelihood"] == pytest.approx(np.mean(np.log(np.where(y == 0, p, 1 - p))))
    assert row["test_accuracy"] == pytest.approx(np.mean((p < 0.5) == y))


def test_interrupted_run_resumes_with_identical_rows(task, tmp_path):
    full = _run(task, tmp_path / "full").results
    calls = []

    def stop_after_five(row):
        calls.append(row)
        if len(calls) == 5:
            raise BenchmarkInterrupted

    with pytest.raises(BenchmarkInterrupted):
        _run(task, tmp_path / "cut", callback=stop_after_five)
    partial = pd.read_csv(tmp_path / "cut" / "results.csv")
    assert len(partial) == 5
    resumed = _run(task, tmp_path / "cut").results
    compare = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(resumed[compare], full[compare])
    # a finished run resumes to itself without fitting again
    again = _run(task, tmp_path / "cut", callback=lambda row: pytest.fail("refitted"))
    pd.testing.assert_frame_equal(again.results[compare], full[compare])


def test_resume_refuses_a_different_configuration(task, tmp_path):
    _run(task, tmp_path, n_rounds=1, seeds=1)
    with pytest.raises(ValueError, match=r"different configuration.*n_rounds"):
        _run(task, tmp_path, n_rounds=2, seeds=1)
    out = _run(task, tmp_path, n_rounds=2, seeds=1, resume=False)
    assert out.results["round"].max() == 2


def test_a_resumed_folder_adds_strategies_beside_its_runs(task, tmp_path):
    both = _run(task, tmp_path / "both").results
    _run(task, tmp_path / "grown", strategies={"random": RandomDouble()})
    grown = _run(
        task,
        tmp_path / "grown",
        strategies={"uncertain": UncertainDouble()},
        callback=lambda row: row["strategy"] == "random" and pytest.fail("random refitted"),
    )
    # every run of the folder, each as if all had run together (same splits, initial sets)
    compare = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]
    key = ["strategy", "seed", "round"]
    pd.testing.assert_frame_equal(
        grown.results[compare].sort_values(key).reset_index(drop=True),
        both[compare].sort_values(key).reset_index(drop=True),
    )
    assert sorted(grown.config["strategies"]) == ["random", "uncertain"]
    saved = json.loads((tmp_path / "grown" / "results.json").read_text())
    assert sorted(saved["config"]["strategies"]) == ["random", "uncertain"]


def test_resume_refuses_a_strategy_whose_arguments_changed(task, tmp_path):
    _run(task, tmp_path, strategies={"random": RandomDouble()}, n_rounds=1, seeds=1)
    with pytest.raises(ValueError, match=r"different configuration.*strategies \(random\)"):
        _run(task, tmp_path, strategies={"random": UncertainDouble()}, n_rounds=1, seeds=1)


def test_resume_refuses_a_learner_whose_default_changed(task, tmp_path, monkeypatch):
    # a new default (say, the learner's method) leaves the repr as it was: the checkpoint
    # must still tell the two learners apart
    _run(task, tmp_path, n_rounds=1, seeds=1)
    monkeypatch.setattr(BootstrapLogisticEnsemble.__init__, "__defaults__", (5, None))
    assert repr(BootstrapLogisticEnsemble()) == "BootstrapLogisticEnsemble()"
    with pytest.raises(ValueError, match=r"different configuration.*classifier_params"):
        _run(task, tmp_path, n_rounds=1, seeds=1)


@pytest.fixture(scope="module")
def shifted_test_set():
    """Pairs from another draw of the task (other topics, other reward): a fixed test set."""
    return make_synthetic_preferences(80, 4, 20, random_state=1)


def test_fixed_test_set_scores_every_seed_on_it(task, shifted_test_set, tmp_path):
    test = shifted_test_set
    out = _run(
        task,
        tmp_path,
        X_test=test.X,
        y_test=test.y,
        seeds=[1],
        n_rounds=1,
        strategies={"random": RandomDouble()},
    )
    # all of X is the pool: no pair held out
    first = out.results.iloc[0]
    assert first["n_pool"] + first["n_labels"] == len(task.y)
    assert out.ceiling["n_labels"].tolist() == [len(task.y)]
    # round 0 is scored on the given pairs, recomputed independently
    from skbalpm.benchmark._experiment import _derived_seed

    initial = np.random.RandomState(1).permutation(len(task.y))[:20]
    model = BootstrapLogisticEnsemble(random_state=_derived_seed(1, 0, 0))
    p = model.fit(task.X[initial], task.y[initial]).predict_proba(test.X)[:, 0]
    expected = np.mean(np.log(np.where(test.y == 0, p, 1 - p)))
    assert first["test_log_likelihood"] == pytest.approx(expected)
    config = json.loads((tmp_path / "results.json").read_text())["config"]
    assert config["test_set"]["n_samples"] == len(test.y) and config["test_size"] is None
    # resuming against other test pairs is refused: the curves would not be comparable
    with pytest.raises(ValueError, match=r"different configuration.*test_set"):
        _run(
            task,
            tmp_path,
            X_test=test.X[:-1],
            y_test=test.y[:-1],
            seeds=[1],
            n_rounds=1,
            strategies={"random": RandomDouble()},
        )


@pytest.mark.parametrize(
    "X_test, y_test, match",
    [
        ("X", None, "both X_test and y_test"),
        (None, "y", "both X_test and y_test"),
        ("narrow", "y", "X's 12 features each"),
        ("X", "short", "different lengths"),
        ("X", "three", "y_test must hold 0"),
        ("raw", "y", "same form as X"),
    ],
)
def test_bad_fixed_test_set(task, shifted_test_set, X_test, y_test, match):
    test = shifted_test_set
    X_choices = {
        None: None,
        "X": test.X,
        "narrow": test.X[:, :8],
        "raw": np.array([["p", "a", "b"]] * len(test.y), dtype=object),
    }
    y_choices = {None: None, "y": test.y, "short": test.y[:-1], "three": test.y + 2}
    with pytest.raises(ValueError, match=match):
        _run(task, None, X_test=X_choices[X_test], y_test=y_choices[y_test])


def test_bad_protocol_and_bad_strategy_output(task):
    with pytest.raises(ValueError, match="labels, but the training split"):
        _run(task, None, initial_size=200, batch_size=50, n_rounds=3)
    with pytest.raises(ValueError, match="initial_size must be an int"):
        _run(task, None, initial_size=0)

    def duplicates(classifier, X_pool, n_instances=1, **kwargs):
        return np.zeros(n_instances, dtype=int), np.zeros(n_instances)

    with pytest.raises(ValueError, match="must return 10 distinct int positions"):
        _run(task, None, strategies={"dup": duplicates}, compute_ceiling=False)


def test_unknown_strategy_name(task):
    with pytest.raises(ValueError, match="Unknown query strategy 'nope'"):
        _run(task, None, strategies=["nope"])


def test_strategy_specs_with_arguments_are_built_and_labelled(task):
    out = _run(
        task,
        None,
        strategies=["BAL-PM(beta=0.1, k=5)", "balpm(scaling=rank)"],
        seeds=1,
        n_rounds=1,
        compute_ceiling=False,
    )
    assert sorted(out.results.strategy.unique()) == [
        "balpm(beta=0.1,k=5)",
        "balpm(scaling=rank)",
    ]


@pytest.mark.parametrize(
    "spec, match",
    [
        ("balpm(beta)", "expected key=value"),
        ("balpm(1=2)", "expected key=value"),
        ("balpm(beta=0.1", "expected NAME or NAME"),
        ("nope(beta=1)", "Unknown query strategy"),
    ],
)
def test_bad_strategy_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_strategy_spec(spec)


def test_strategy_list_splits_outside_parentheses():
    assert split_strategy_list("random,balpm(beta=0.1,scaling=rank), bald,") == [
        "random",
        "balpm(beta=0.1,scaling=rank)",
        "bald",
    ]
    assert strategy_label("balpm(scaling='rank', beta=0.1)") == "balpm(beta=0.1,scaling=rank)"


@pytest.mark.filterwarnings("ignore:.*tasks which were still being processed:UserWarning")
def test_parallel_runs_give_the_sequential_rows_and_resume(task, tmp_path):
    compare = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]
    sequential = _run(task, None).results
    parallel = _run(task, tmp_path / "par", n_jobs=2).results
    pd.testing.assert_frame_equal(parallel[compare], sequential[compare])
    assert not list((tmp_path / "par" / "partial").glob("*.json"))  # all merged

    def stop(row):
        raise BenchmarkInterrupted

    with pytest.raises(BenchmarkInterrupted):
        _run(task, tmp_path / "cut", n_jobs=2, callback=stop)
    resumed = _run(task, tmp_path / "cut", n_jobs=2).results
    pd.testing.assert_frame_equal(resumed[compare], sequential[compare])


def test_resume_takes_up_a_workers_partial_run(task, tmp_path):
    # A worker killed mid-run leaves its rounds in a partial file only; resuming must not
    # redo them (the callback sees only the rounds still to run).
    from skbalpm.benchmark._checkpoint import Checkpoint

    full = _run(task, tmp_path / "full", compute_ceiling=False).results
    out = tmp_path / "cut"
    _run(task, out, seeds=[0, 1], compute_ceiling=False)
    state = json.loads((out / "checkpoint.json").read_text())
    run = state["runs"]["random|1"]
    cut = {"rows": run["rows"][:2], "labelled": run["labelled"][: 20 + 2 * 10]}
    state["runs"]["random|1"] = {"rows": [], "labelled": run["labelled"][:20]}
    (out / "checkpoint.json").write_text(json.dumps(state))
    partial = Checkpoint(out, state["config"], resume=True).partial_path(1, "random")
    partial.parent.mkdir(exist_ok=True)
    partial.write_text(json.dumps(cut))
    seen = []
    resumed = _run(task, out, compute_ceiling=False, callback=seen.append).results
    assert [(r["strategy"], r["seed"], r["round"]) for r in seen] == [
        ("random", 1, 2),
        ("random", 1, 3),
    ]
    compare = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(resumed[compare], full[compare])


class RecordingBALPM(BALPMQueryStrategy):
    """BAL-PM that records, per call, which object ran and how many k-NN radii it computed."""

    def __call__(self, classifier, X_pool, n_instances=1, **kwargs):
        picked = super().__call__(classifier, X_pool, n_instances, **kwargs)
        RecordingBALPM.calls.append((id(self), len(X_pool), self.knn_cache_.n_recomputed_))
        return picked


RecordingBALPM.calls = []


def test_each_run_keeps_one_strategy_and_its_knn_radii(task):
    RecordingBALPM.calls.clear()
    _run(
        task,
        None,
        strategies={"balpm": RecordingBALPM(k=5, device="cpu")},
        compute_ceiling=False,
    )
    calls = RecordingBALPM.calls
    assert len(calls) == 2 * 3  # seeds x acquisition rounds, in order
    for run in (calls[:3], calls[3:]):
        assert len({obj for obj, _, _ in run}) == 1  # one strategy object per run
        (_, n_pool, computed), *later = run
        assert computed == n_pool  # the first round computes every radius
        # later rounds reuse the radii of the rows whose neighbours all stayed
        assert all(computed < n_pool for _, n_pool, computed in later)


def test_a_resumed_run_with_a_cold_knn_cache_picks_the_same_pairs(task, tmp_path):
    strategies = {"balpm": RecordingBALPM(k=5, device="cpu"), "random": RandomDouble()}
    kwargs = dict(strategies=strategies, compute_ceiling=False)
    full = _run(task, tmp_path / "full", **kwargs).results

    def stop_in_round_two(row):
        if row["strategy"] == "balpm" and row["round"] == 2:
            raise BenchmarkInterrupted

    with pytest.raises(BenchmarkInterrupted):
        _run(task, tmp_path / "cut", callback=stop_in_round_two, **kwargs)
    RecordingBALPM.calls.clear()
    resumed = _run(task, tmp_path / "cut", **kwargs).results
    # the resumed run started from a fresh object: its first call computed every radius
    _, n_pool, computed = RecordingBALPM.calls[0]
    assert computed == n_pool
    compare = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(resumed[compare], full[compare])


class ExplodingEmbedder(BaseEstimator):
    """An embedder that must never be reached: the parameters are checked first."""

    def fit_transform(self, X, y=None):
        raise AssertionError("embedded before the parameters were checked")

    transform = fit_transform


RAW_X = np.array([[f"prompt {i}", f"a {i}", f"b {i}"] for i in range(30)], dtype=object)
RAW_Y = np.arange(30) % 2


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(strategies=["nope"]), "Unknown query strategy 'nope'"),
        (dict(test_size=1.5), "test_size must lie in"),
        (dict(n_rounds=50), "labels, but the training split"),
        (dict(seeds=[0, 0]), "seeds must be distinct"),
        (dict(n_jobs=0), "n_jobs must be None or a nonzero int"),
        (dict(batch_size=2.5), "batch_size must be an int"),
        (dict(y=RAW_Y[:-1]), "different lengths"),
        (dict(y=RAW_Y + 2), "y must hold 0"),
        (dict(groups=np.arange(29)), "groups has 29 entries"),
        (dict(feature_layout="a|b|c"), "feature_layout must be one of"),
        (dict(X=RAW_X[:, :2]), r"triples, shape \(n, 3\)"),
        (dict(X_test=RAW_X[:5]), "Pass both X_test and y_test"),
        (dict(X_test=RAW_X[:5], y_test=np.full(5, 2)), "y_test must hold 0"),
        (dict(X_test=np.zeros((5, 12)), y_test=RAW_Y[:5]), "same form as X"),
    ],
)
def test_parameters_are_checked_before_anything_is_embedded(change, match):
    params = dict(
        X=RAW_X,
        y=RAW_Y,
        embedder=ExplodingEmbedder(),
        strategies=["random"],
        seeds=1,
        initial_size=5,
        batch_size=5,
        n_rounds=2,
        groups=np.arange(30),
        verbose=0,
    )
    with pytest.raises(ValueError, match=match):
        run_benchmark(**{**params, **change})


def test_run_benchmark_and_the_command_line_share_their_defaults():
    import inspect

    from skbalpm.cli import build_parser

    args = build_parser().parse_args(["benchmark"])
    defaults = {name: p.default for name, p in inspect.signature(run_benchmark).parameters.items()}
    assert defaults["seeds"] == args.seeds
    assert defaults["initial_size"] == args.initial_size
    assert defaults["batch_size"] == args.batch_size
    assert defaults["n_rounds"] == args.rounds
    assert defaults["n_jobs"] == args.n_jobs
    assert defaults["test_size"] == args.test_fraction
    assert list(defaults["strategies"]) == args.strategies.split(",")
