"""Cold-start strategies: TypiClust and ProbCover against brute force and hand-checked
cases, their distance passes, and the harness's initial-set picker (``--initial-strategy``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClassifierMixin

from skbalpm.acquisition import (
    BALDQueryStrategy,
    CoresetQueryStrategy,
    ProbCoverQueryStrategy,
    RandomQueryStrategy,
    TypiClustQueryStrategy,
    probcover_batch,
    probcover_radius,
    registered_strategies,
    typiclust_batch,
)
from skbalpm.acquisition._knn import nearest_other_label, radius_graph
from skbalpm.acquisition._typiclust import kmeans_labels, typicality
from skbalpm.benchmark import cold_start_strategies, run_benchmark
from skbalpm.datasets import make_synthetic_preferences


def clumps(centers, sizes, spread=0.05, seed=0):
    """Points in well separated clumps, clump by clump."""
    rng = np.random.default_rng(seed)
    return np.vstack(
        [c + spread * rng.normal(size=(m, len(c))) for c, m in zip(centers, sizes, strict=True)]
    )


# --- TypiClust -----------------------------------------------------------------------------


def brute_typicality(X, k):
    D = cdist(X, X)
    out = []
    for i in range(len(X)):
        others = np.sort(np.delete(D[i], i))[: min(k, len(X) - 1)]
        out.append(0.0 if len(others) == 0 else 1.0 / others.mean())
    return np.array(out)


def test_typicality_is_the_inverse_mean_distance_to_the_k_nearest_others():
    X = np.random.default_rng(0).normal(size=(30, 3))
    for k in (1, 5, 29, 50):
        np.testing.assert_allclose(typicality(X, k), brute_typicality(X, k), rtol=1e-8)
    assert typicality(X[:1], 5).tolist() == [0.0]  # a lone row: no density evidence
    assert np.isinf(typicality(np.zeros((3, 2)), 2)).all()  # exact duplicates


def brute_typiclust(pool, labels, n_pool, n_instances, k):
    """Straight from the paper: uncovered clusters from the largest; revisited by coverage."""
    taken = {c: int(np.sum(labels[n_pool:] == c)) for c in np.unique(labels)}
    picked = []
    for _ in range(n_instances):
        free = [c for c in taken if any(labels[i] == c and i not in picked for i in range(n_pool))]
        cluster = min(free, key=lambda c: (taken[c], -np.sum(labels == c), c))
        members = np.flatnonzero(labels == cluster)
        typ = brute_typicality(pool[members], k)
        choices = [(-typ[j], i) for j, i in enumerate(members) if i < n_pool and i not in picked]
        picked.append(min(choices)[1])
        taken[cluster] += 1
    return picked


@pytest.mark.parametrize("n_acquired, n_instances, n_labels, seed", [(0, 4, 4, 0), (5, 6, 4, 1)])
def test_typiclust_matches_brute_force_on_given_clusters(n_acquired, n_instances, n_labels, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(40 + n_acquired, 3))
    labels = rng.integers(0, n_labels, len(points))  # fewer clusters than picks: revisited
    idx, scores = typiclust_batch(
        points[:40], n_instances, acquired_AD=points[40:], k=3, cluster_labels=labels
    )
    assert idx.tolist() == brute_typiclust(points, labels, 40, n_instances, 3)
    for i, s in zip(idx, scores, strict=True):
        members = np.flatnonzero(labels == labels[i])
        assert s == pytest.approx(brute_typicality(points[members], 3)[members.tolist().index(i)])


def test_typiclust_takes_the_middle_of_each_uncovered_clump():
    centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]
    sizes = [30, 25, 20, 15]
    pool = clumps(centers, sizes)
    clump = np.repeat(np.arange(4), sizes)
    most_typical = [
        np.flatnonzero(clump == c)[np.argmax(brute_typicality(pool[clump == c], 10))]
        for c in range(4)
    ]
    # cold start: k-means finds the four clumps, the largest first, its most typical row
    idx, _ = typiclust_batch(pool, 4, k=10, random_state=0)
    assert idx.tolist() == most_typical
    # mid-loop: two clumps hold a labelled prompt, 2 + 2 clusters, the two others are picked
    acquired = np.array([[0.1, 0.0], [10.0, 10.1]])
    idx, _ = typiclust_batch(pool, 2, acquired_AD=acquired, k=10, random_state=0)
    assert idx.tolist() == [most_typical[1], most_typical[2]]


@pytest.mark.slow  # a few seconds on a 2-core box (k-means per example)
@settings(max_examples=25, deadline=None)
@given(n_pool=st.integers(2, 40), n_acquired=st.integers(0, 10), data=st.data())
def test_typiclust_picks_are_distinct_and_one_per_cluster(n_pool, n_acquired, data):
    n_instances = data.draw(st.integers(1, n_pool))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    points = rng.normal(size=(n_pool + n_acquired, 2))
    pool, acquired = points[:n_pool], points[n_pool:]
    # k-means into n_acquired + B clusters: each pick in its own uncovered cluster
    idx, scores = typiclust_batch(pool, n_instances, acquired_AD=acquired, random_state=0)
    assert len(set(idx.tolist())) == n_instances and 0 <= idx.min() and idx.max() < n_pool
    assert (scores >= 0).all()
    labels = kmeans_labels(points, n_acquired + n_instances, 0)
    assert len(set(labels[idx].tolist())) == n_instances
    assert not set(labels[idx].tolist()) & set(labels[n_pool:].tolist())
    # given clusters fewer than the picks: a cluster is revisited only once every
    # cluster with pool rows left has been taken as often
    labels = rng.integers(0, 4, n_pool + n_acquired)
    idx, _ = typiclust_batch(pool, n_instances, acquired_AD=acquired, cluster_labels=labels)
    assert len(set(idx.tolist())) == n_instances
    taken = np.bincount(labels[n_pool:], minlength=4)
    for b, i in enumerate(idx):
        left = np.bincount(np.delete(labels[:n_pool], idx[:b]), minlength=4) > 0
        assert taken[labels[i]] == taken[left].min()
        taken[labels[i]] += 1


# --- ProbCover -----------------------------------------------------------------------------


def test_radius_graph_is_the_brute_force_ball_relation_rim_included():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(60, 4)), np.zeros((3, 4))])  # duplicates too
    D = cdist(X, X)
    for radius in (0.0, 0.5, 1.5, 3.0):
        graph = radius_graph(X, radius)
        np.testing.assert_array_equal(graph.toarray(), (D <= radius).astype(np.int8))
    # points on the rim (distance exactly the radius) are inside
    grid = np.array([[0.0], [1.0], [2.0], [3.5]])
    assert radius_graph(grid, 1.0).toarray().sum(axis=1).tolist() == [2, 3, 2, 1]
    # features whose squares overflow float32 keep their distances (exact rescaling)
    np.testing.assert_array_equal(
        radius_graph(1e30 * grid, 1e30).toarray(), radius_graph(grid, 1.0).toarray()
    )


def test_nearest_other_label_is_the_brute_force_minimum():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    labels = rng.integers(0, 3, 80)
    D = cdist(X, X)
    D[labels[:, None] == labels[None, :]] = np.inf
    np.testing.assert_allclose(nearest_other_label(X, labels), D.min(axis=1), rtol=1e-12)
    assert np.isinf(nearest_other_label(X[:5], np.zeros(5, dtype=int))).all()


@pytest.mark.parametrize("purity", [0.8, 0.95, 1.0])
def test_probcover_radius_is_the_largest_delta_with_enough_pure_balls(purity):
    X = clumps([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], [40, 30, 30], spread=0.8, seed=2)
    delta = probcover_radius(X, n_clusters=3, purity=purity, random_state=0)
    labels = kmeans_labels(X, 3, 0)  # the same k-means
    D = cdist(X, X)

    def purity_at(radius):  # the paper's definition: no other cluster inside the ball
        impure = ((D <= radius) & (labels[:, None] != labels[None, :])).any(axis=1)
        return 1.0 - impure.mean()

    assert purity_at(delta) >= purity
    larger = np.sort(nearest_other_label(X, labels))[int(np.floor((1 - purity) * len(X) + 1e-9))]
    assert larger > delta and purity_at(larger) < purity


def brute_gains(D, delta, covered, available):
    """Uncovered rows in the ball of every available pool row (-1 elsewhere)."""
    ball = D <= delta
    return np.where(available, (ball[: len(available)] & ~covered).sum(axis=1), -1)


@pytest.mark.parametrize("n_acquired, delta", [(0, 0.6), (4, 0.6), (3, 1.2)])
def test_probcover_matches_brute_force_greedy_coverage(n_acquired, delta):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(50 + n_acquired, 2))
    idx, scores = probcover_batch(
        points[:50], 8, delta=delta, acquired_AD=points[50:], random_state=0
    )
    D = cdist(points, points)
    covered = (D[50:] <= delta).any(axis=0)
    available = np.ones(50, dtype=bool)
    for i, s in zip(idx, scores, strict=True):
        gains = brute_gains(D, delta, covered, available)
        assert gains[i] == gains.max() == s  # a row that covers the most (ties drawn)
        covered |= D[i] <= delta
        available[i] = False


@settings(max_examples=30, deadline=None)
@given(n_pool=st.integers(3, 40), data=st.data())
def test_probcover_covers_at_least_the_greedy_share_of_any_random_batch(n_pool, data):
    # greedy max coverage: gains never rise (submodular), and the batch covers at
    # least 1 - (1 - 1/B)^B of the best batch, hence of a random batch of the same size
    n_instances = data.draw(st.integers(1, n_pool))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    pool = rng.normal(size=(n_pool, 2))
    delta = data.draw(st.sampled_from([0.1, 0.5, 1.0, 2.0]))
    idx, gains = probcover_batch(pool, n_instances, delta=delta, random_state=0)
    assert len(set(idx.tolist())) == n_instances
    assert (np.diff(gains) <= 0).all()
    ball = cdist(pool, pool) <= delta
    covered = ball[idx].any(axis=0).sum()
    assert covered == gains.sum()
    random_batch = rng.choice(n_pool, n_instances, replace=False)
    share = 1.0 - (1.0 - 1.0 / n_instances) ** n_instances
    assert covered >= share * ball[random_batch].any(axis=0).sum() - 1e-9


def test_probcover_skips_the_covered_clumps_mid_loop():
    centers = [[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]]
    pool = clumps(centers, [30, 20, 20, 10], spread=0.2)
    acquired = np.array([[0.0, 0.0], [5.0, 0.1]])  # the two largest clumps are labelled
    idx, gains = probcover_batch(pool, 2, delta=1.5, acquired_AD=acquired, random_state=0)
    assert sorted(pool[idx].round().tolist()) == [[0.0, 5.0], [5.0, 5.0]]
    assert gains.tolist() == [20.0, 10.0]
    cold, _ = probcover_batch(pool, 2, delta=1.5, random_state=0)
    assert sorted(pool[cold].round().tolist()) == [[0.0, 0.0], [5.0, 0.0]]


# --- the strategies: cold start, layouts, parameters ----------------------------------------


@pytest.mark.parametrize("cls", [TypiClustQueryStrategy, ProbCoverQueryStrategy])
def test_cold_start_with_no_classifier_reads_the_prompt_block(cls):
    data = make_synthetic_preferences(n_samples=150, n_features=4, random_state=0)
    X = data.X  # a|b|prompt, width 12: "auto" cannot tell it from a|b
    prompts = X[:, 8:]
    nothing = X[:0]
    with pytest.raises(ValueError, match="prompt_features="):
        cls(random_state=0)(None, X, 5, X_acquired=nothing)
    by_layout = cls(feature_layout="a|b|prompt", random_state=0)(None, X, 5, X_acquired=nothing)
    by_prompts = cls(random_state=0)(
        None, X[:, :8], 5, prompt_features=prompts, acquired_prompt_features=prompts[:0]
    )
    assert by_layout[0].tolist() == by_prompts[0].tolist()
    np.testing.assert_allclose(by_layout[1], by_prompts[1])
    assert not cls()._needs_classifier() and "prompts" in cls._reads
    assert cls.name in cold_start_strategies()


def test_probcover_reports_its_radius_and_coverage():
    pool = clumps([[0.0, 0.0], [5.0, 0.0]], [30, 20], spread=0.2)
    strategy = ProbCoverQueryStrategy(delta=1.0, device="cpu", random_state=0)
    _, gains = strategy(None, pool, 2, prompt_features=pool, acquired_prompt_features=pool[:0])
    assert strategy.delta_ == 1.0 and strategy.coverage_ == 1.0 and gains.sum() == 50
    assert strategy.n_edges_ == int((cdist(pool, pool) <= 1.0).sum())
    strategy = ProbCoverQueryStrategy(n_clusters=2, device="cpu", random_state=0)
    strategy(None, pool, 2, prompt_features=pool, acquired_prompt_features=pool[:0])
    assert 0.0 < strategy.delta_ < 5.0  # the purity rule: inside a clump's reach


@pytest.mark.parametrize(
    "strategy, match",
    [
        (TypiClustQueryStrategy(k=0), "k must be an int >= 1"),
        (TypiClustQueryStrategy(max_clusters=1.5), "max_clusters must be an int"),
        (TypiClustQueryStrategy(feature_layout="a|b|c"), "feature_layout must be one of"),
        (ProbCoverQueryStrategy(delta=-1.0), "delta must be a finite number"),
        (ProbCoverQueryStrategy(delta="auto"), "delta must be 'purity'"),
        (ProbCoverQueryStrategy(n_clusters=1), "n_clusters must be an int >= 2"),
        (ProbCoverQueryStrategy(purity=1.5), r"purity must lie in \(0, 1\]"),
        (ProbCoverQueryStrategy(purity=0.0), "purity must be a finite number > 0"),
    ],
)
def test_bad_parameters_are_reported_before_any_work(strategy, match):
    class NotAPool:  # any work on the pool would fail differently
        shape = (5, 3)

        def __len__(self):
            return 5

    with pytest.raises(ValueError, match=match):
        strategy(None, NotAPool(), 2)


@pytest.mark.parametrize("function", [typiclust_batch, probcover_batch])
def test_pure_functions_check_their_inputs(function):
    kwargs = {"delta": 1.0} if function is probcover_batch else {}
    pool = np.zeros((5, 2))
    with pytest.raises(ValueError, match="n_instances"):
        function(pool, 6, **kwargs)
    with pytest.raises(ValueError, match="columns"):
        function(pool, 2, acquired_AD=np.zeros((2, 3)), **kwargs)
    with pytest.raises(ValueError, match="NaN"):
        function(np.full((5, 2), np.nan), 2, **kwargs)
    with pytest.raises(ValueError, match=r"delta must be|cluster_labels must be"):
        if function is probcover_batch:
            function(pool, 2, delta=np.inf)
        else:
            function(pool, 2, cluster_labels=[0, 1])


# --- the harness: the initial set ----------------------------------------------------------


class ProbsFromPrompts(ClassifierMixin, BaseEstimator):
    """A fast classifier double: a logistic regression on phi(a) - phi(b)."""

    feature_layout = "a|b|prompt"

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        d = X.shape[1] // 3
        self.model_ = LogisticRegression().fit(X[:, :d] - X[:, d : 2 * d], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        d = X.shape[1] // 3
        return self.model_.predict_proba(X[:, :d] - X[:, d : 2 * d])


@pytest.fixture(scope="module")
def task():
    return make_synthetic_preferences(300, 4, 20, random_state=0)


def _run(task, **kwargs):
    params = dict(
        strategies={"random": RandomQueryStrategy(), "coreset": CoresetQueryStrategy()},
        classifier=ProbsFromPrompts(),
        seeds=2,
        initial_size=12,
        batch_size=6,
        n_rounds=1,
        groups=task.groups,
        n_jobs=1,
        verbose=0,
        compute_ceiling=False,
    )
    return run_benchmark(task.X, task.y, **{**params, **kwargs})


def test_the_random_default_gives_the_initial_sets_of_before(task, tmp_path):
    before = _run(task, output_dir=tmp_path / "a")
    for default in (None, "random", "Random"):
        again = _run(task, initial_strategy=default, output_dir=tmp_path / "a")  # resumes
        assert "initial_strategy" not in again.config
        np.testing.assert_array_equal(
            again.results["test_log_likelihood"], before.results["test_log_likelihood"]
        )
    checkpoint = json.loads((tmp_path / "a" / "checkpoint.json").read_text())
    train_size = len(task.y) - checkpoint["runs"]["random|0"]["rows"][0]["n_pool"] - 12
    expected = np.random.RandomState(0).permutation(len(task.y) - train_size)[:12]
    assert checkpoint["runs"]["random|0"]["labelled"][:12] == expected.tolist()
    # a checkpoint with another initial strategy is not resumed
    with pytest.raises(ValueError, match="initial_strategy"):
        _run(task, initial_strategy="typiclust", output_dir=tmp_path / "a")


@pytest.mark.slow  # a few seconds on a 2-core box
def test_a_cold_start_strategy_picks_the_same_initial_set_for_every_strategy(task, tmp_path):
    from skbalpm.benchmark._experiment import _INITIAL_SEED_KEY, _derived_seed, split_train_test

    out = _run(task, initial_strategy="typiclust(k=5)", output_dir=tmp_path)
    assert out.config["initial_strategy"] == "typiclust(k=5)"
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    for seed in (0, 1):
        train, _ = split_train_test(len(task.y), 0.2, seed, task.groups)
        X_train = task.X[train]
        picker = TypiClustQueryStrategy(k=5, random_state=_derived_seed(seed, _INITIAL_SEED_KEY, 0))
        expected, _ = picker(
            None,
            X_train,
            12,
            prompt_features=X_train[:, 8:],
            acquired_prompt_features=X_train[:0, 8:],
        )
        for name in ("random", "coreset"):
            assert checkpoint["runs"][f"{name}|{seed}"]["labelled"][:12] == expected.tolist()
    random_initial = np.random.RandomState(0).permutation(len(train))[:12]
    assert sorted(expected.tolist()) != sorted(random_initial.tolist())


@pytest.mark.parametrize(
    "initial_strategy, layout, error, match",
    [
        ("bald", "a|b|prompt", ValueError, "reads a fitted classifier"),
        (BALDQueryStrategy(), "a|b|prompt", ValueError, "typiclust"),
        ("stochastic(bald)", "a|b|prompt", ValueError, "reads a fitted classifier"),
        ("typiclust", "a|b", ValueError, "no prompt block"),
        ("nope", "a|b|prompt", ValueError, "Unknown query strategy"),
        (3, "a|b|prompt", TypeError, "initial_strategy must be"),
    ],
)
def test_an_initial_strategy_that_cannot_run_cold_is_refused_before_work(
    task, initial_strategy, layout, error, match
):
    class MustNotFit(ProbsFromPrompts):
        def fit(self, X, y):
            raise AssertionError("fitted before the initial strategy was checked")

    X = task.X if layout == "a|b|prompt" else task.X[:, :8]
    with pytest.raises(error, match=match):
        run_benchmark(
            X,
            task.y,
            strategies=["random"],
            classifier=MustNotFit(),
            seeds=1,
            initial_size=10,
            batch_size=5,
            n_rounds=1,
            feature_layout=layout,
            initial_strategy=initial_strategy,
            n_jobs=1,
            verbose=0,
        )


def test_every_cold_start_strategy_can_pick_the_initial_set(task):
    names = cold_start_strategies()
    assert {"random", "coreset", "typiclust", "probcover"} <= set(names)
    assert not {"bald", "badge", "balpm"} & set(names)
    for name in names:
        assert not registered_strategies()[name]()._needs_classifier()


@pytest.mark.slow  # a few seconds on a 2-core box
def test_command_line_initial_strategy(tmp_path, capsys):
    from skbalpm.cli import build_parser, main

    assert build_parser().parse_args(["benchmark"]).initial_strategy is None  # as run_benchmark
    argv = [
        "benchmark",
        "--synthetic-samples",
        "150",
        "--synthetic-features",
        "4",
        "--strategies",
        "random",
        "--seeds",
        "1",
        "--initial-size",
        "10",
        "--batch-size",
        "10",
        "--rounds",
        "1",
        "--n-members",
        "2",
        "--max-epochs",
        "2",
        "--device",
        "cpu",
        "--no-ceiling",
        "--output-dir",
        str(tmp_path),
        "--quiet",
        "--initial-strategy",
        "probcover(n_clusters=3)",
    ]
    assert main(argv) == 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["initial_strategy"] == "probcover(n_clusters=3)"
    help_text = build_parser()._subparsers._group_actions[0].choices["benchmark"].format_help()
    assert "--initial-strategy" in help_text and "typiclust" in " ".join(help_text.split())
    with pytest.raises(ValueError, match="reads a fitted classifier"):
        main([*argv[:-1], "bald"])
