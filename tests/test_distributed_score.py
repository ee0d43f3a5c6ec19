"""Pool scoring and k-NN radii on a real local Ray cluster against the in-process paths."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skbalpm import PreferenceEnsembleClassifier
from skbalpm.acquisition import bald, balpm_batch
from skbalpm.acquisition._knn import knn_search
from skbalpm.distributed import collect_scores, knn_radii, score_pool

ray = pytest.importorskip("ray")
faiss = pytest.importorskip("faiss")


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 8))
    y = (X[:, 0] > X[:, 4]).astype(int)
    clf = PreferenceEnsembleClassifier(
        n_members=3,
        feature_layout="a|b",
        n_random_features=32,
        dtype="float64",
        device="cpu",
        random_state=0,
    ).fit(X[:100], y[:100])
    return X, clf


def _dataset(X, ids=None):
    ids = np.arange(len(X)) if ids is None else ids
    rows = [{"row_id": int(i), "features": x} for i, x in zip(ids, X, strict=True)]
    return ray.data.from_items(rows)


# --- score_pool ---------------------------------------------------------------------------


def test_scores_equal_the_in_process_ones(pool):
    X, clf = pool
    ids = np.random.default_rng(1).permutation(len(X)) * 3 + 7  # ids need not be positions
    out = collect_scores(score_pool(_dataset(X, ids), clf, batch_size=128))
    order = np.argsort(ids)
    assert np.array_equal(out.ids, ids[order])
    probs_MN = clf.predict_member_proba(X)[:, order]
    # float64 products of a batch of 128 rows vs all rows at once: the last bit at most
    np.testing.assert_allclose(out.probs_MN, probs_MN, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out.bald_N, bald(probs_MN), rtol=0, atol=1e-14)
    assert np.array_equal(out.bald_N, bald(out.probs_MN))  # BALD is row by row


def test_parquet_scalar_columns_and_a_pipeline_in_one_batch_give_identical_values(pool, tmp_path):
    X, clf = pool
    columns = [f"f{j}" for j in range(X.shape[1])]
    rows = [{"row_id": i, **dict(zip(columns, x / 2, strict=True))} for i, x in enumerate(X)]
    ray.data.from_items(rows).repartition(1).write_parquet(str(tmp_path / "pool"))
    doubled = make_pipeline(FunctionTransformer(lambda Z: 2 * Z), clf)
    scores = score_pool(
        tmp_path / "pool", doubled, feature_columns=columns, batch_size=len(X), concurrency=1
    )
    out = collect_scores(scores)
    # one batch of the same rows as in process: the very same float operations
    probs_MN = clf.predict_member_proba(X)
    assert np.array_equal(out.probs_MN, probs_MN)
    assert np.array_equal(out.bald_N, bald(probs_MN))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"classifier": object()}, TypeError, "predict_member_proba"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1"),
        ({"concurrency": 1.5}, ValueError, "concurrency must be an int >= 1"),
        ({"num_gpus": -1}, ValueError, "num_gpus must be a number >= 0"),
        ({"feature_columns": []}, TypeError, "feature_columns must be"),
        ({"dataset": [1, 2]}, TypeError, "ray.data.Dataset or a Parquet path"),
    ],
)
def test_score_pool_checks_its_arguments(pool, kwargs, error, match):
    _, clf = pool
    args = {"dataset": "unused.parquet", "classifier": clf, **kwargs}
    with pytest.raises(error, match=match):
        score_pool(args.pop("dataset"), args.pop("classifier"), **args)


# --- knn_radii ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prompts():
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(20, 16))
    X = centres[rng.integers(20, size=1500)] + 0.3 * rng.normal(size=(1500, 16))
    X[10] = X[11]  # a duplicate: a radius 0 for k=2, ties at the rim
    return X.astype(np.float32)


def test_exact_radii_on_ray_equal_the_in_process_ones(prompts):
    radius_N = knn_radii(prompts, 2, method="exact", n_blocks=3)
    assert np.array_equal(radius_N, knn_search(prompts, 2).radius_N)
    assert radius_N[10] == radius_N[11] == 0.0  # the duplicate pair


def test_exact_radii_give_balpm_batch_the_same_picks(prompts):
    rng = np.random.default_rng(3)
    probs_MN = rng.uniform(0.2, 0.8, size=(4, len(prompts)))
    acquired = prompts[:40]
    pool_prompts = prompts[40:]
    radius_N = knn_radii(pool_prompts, 13, method="exact", n_blocks=4)
    assert np.array_equal(radius_N, knn_search(pool_prompts, 13).radius_N)
    for beta in (0.01, 1.0):
        expected = balpm_batch(probs_MN[:, 40:], pool_prompts, acquired, 20, beta=beta)
        given = balpm_batch(
            probs_MN[:, 40:], pool_prompts, acquired, 20, beta=beta, radius_N=radius_N
        )
        assert np.array_equal(given[0], expected[0])
        assert np.array_equal(given[1], expected[1])


def test_faiss_radii_with_every_list_probed_are_the_exact_ones(prompts):
    # IVF searching all its lists is a brute force in float32: relative error ~1e-7
    exact = knn_search(prompts, 13).radius_N
    radii = knn_radii(prompts, 13, method="faiss-ivf", n_lists=10, n_probe=10, use_gpu=False)
    np.testing.assert_allclose(radii, exact, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["faiss-ivf", "faiss-hnsw"])
def test_approximate_radii_are_close_and_never_short(prompts, method):
    exact = knn_search(prompts, 13).radius_N
    radii = knn_radii(prompts, 13, method=method, use_gpu=False)
    # k rows found are k rows of the pool: never nearer than the true k-th (float32 slack)
    assert (radii >= exact * (1 - 1e-5) - 1e-5).all()
    # clustered prompts: nearly every radius found (within float32 rounding)
    assert np.mean(np.isclose(radii, exact, rtol=1e-5, atol=1e-5)) >= 0.95
    assert np.median(radii / exact - 1) <= 1e-5


def test_faiss_rows_short_of_k_neighbours_are_computed_exactly():
    # a single probed list of 2 rows cannot give k=3 neighbours: those rows go exact
    X = np.array([[0.0], [0.1], [10.0], [10.2], [10.5]], dtype=np.float32)
    radii = knn_radii(X, 3, method="faiss-ivf", n_lists=2, n_probe=1, use_gpu=False)
    np.testing.assert_allclose(radii, knn_search(X, 3).radius_N, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "annoy"}, "method must be one of"),
        ({"k": 0}, "k must be an int in"),
        ({"n_blocks": 0}, "n_blocks must be None or an int >= 1"),
        ({"n_probe": 0}, "n_probe must be an int >= 1"),
        ({"use_gpu": "yes"}, "use_gpu must be"),
        ({"random_state": -1}, "random_state must be"),
    ],
)
def test_knn_radii_checks_its_arguments(prompts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn_radii(prompts, **{"k": 13, **kwargs})


def test_faiss_gpu_asked_for_and_absent_is_an_error(prompts):
    if faiss.get_num_gpus() > 0:
        pytest.skip("faiss sees a GPU here")
    with pytest.raises(ValueError, match="faiss sees no GPU"):
        knn_radii(prompts, 13, method="faiss-ivf", use_gpu=True)


def test_balpm_batch_checks_given_radii(prompts):
    probs_MN = np.full((2, 10), 0.5)
    with pytest.raises(ValueError, match="radius_N must hold 10 finite radii"):
        balpm_batch(probs_MN, prompts[:10], prompts[:0], 2, radius_N=np.ones(9))


def test_an_all_to_all_step_upstream_of_the_actors_runs_first(pool):
    """A repartition before the actor pool would wait for CPUs the actors hold (it hung)."""
    import concurrent.futures

    X, clf = pool
    upstream = _dataset(X).repartition(3)
    with concurrent.futures.ThreadPoolExecutor(1) as executor:  # a hang fails, not blocks
        future = executor.submit(lambda: collect_scores(score_pool(upstream, clf, concurrency=2)))
        out = future.result(timeout=300)
    np.testing.assert_allclose(out.probs_MN, clf.predict_member_proba(X), rtol=0, atol=1e-15)
