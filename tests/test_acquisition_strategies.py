"""Query strategies: BAL-PM against a brute-force reading of the design page
(docs/design.rst, "The BAL-PM acquisition"), the baselines, the modAL calling convention,
and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted

from skbalpm._features import block_width, split_feature_blocks
from skbalpm.acquisition import (
    BALDQueryStrategy,
    BALPMQueryStrategy,
    CoresetQueryStrategy,
    EntropyOnlyQueryStrategy,
    KNNRadiusCache,
    PowerBALDQueryStrategy,
    RandomQueryStrategy,
    SoftmaxBALDQueryStrategy,
    SoftRankBALDQueryStrategy,
    bald,
    balpm_batch,
    registered_strategies,
)

# Many tests call a strategy outside modAL with no acquired set on purpose (it is then
# empty); the warning that says so is tested below (pytest.warns and recwarn
# record it whatever the filters).
pytestmark = pytest.mark.filterwarnings("ignore:.*without an acquired set:UserWarning")

ALL_STRATEGIES = list(registered_strategies().values())  # a new strategy is tested here too


class LinearRewardEnsemble(ClassifierMixin, BaseEstimator):
    """Test double of PreferenceEnsembleClassifier: fixed random linear reward members."""

    def __init__(self, n_members=5, feature_layout="a|b|prompt", random_state=0):
        self.n_members = n_members
        self.feature_layout = feature_layout
        self.random_state = random_state

    def fit(self, X, y=None):
        d = block_width(X.shape[1], self.feature_layout)
        self.W_ = np.random.default_rng(self.random_state).normal(size=(self.n_members, d))
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_member_proba(self, X):
        check_is_fitted(self)
        X_a, X_b, _ = split_feature_blocks(np.asarray(X), self.feature_layout)
        return expit((X_a - X_b) @ self.W_.T).T  # (n_members, n_samples)

    def predict_last_layer(self, X):
        check_is_fitted(self)
        X_a, X_b, _ = split_feature_blocks(np.asarray(X), self.feature_layout)
        features = np.broadcast_to(X_a - X_b, (self.n_members, *X_a.shape))
        return features, np.einsum("mnd,md->mn", features, self.W_)  # one head per member


def make_pool(n=60, d=3, n_prompts=12, seed=0):
    """Features "a|b|prompt": prompts in clusters with near-duplicates."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_prompts, d))
    prompt = centers[rng.integers(0, n_prompts, n)] + 0.05 * rng.normal(size=(n, d))
    X = np.hstack([rng.normal(size=(n, d)), rng.normal(size=(n, d)), prompt])
    return X


# --- brute force, straight from docs/design.rst, "The BAL-PM acquisition" ------------------


def reference_balpm(probs_MN, pool_prompts, acquired_prompts, beta, k, d, n_pick):
    """Float64 loops; every score recomputed from scratch after every pick."""
    n = len(pool_prompts)

    def H(p):
        return -sum(q * math.log(q) for q in (p, 1.0 - p) if q > 0)

    def dist(u, v):
        return math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(u, v, strict=True)))

    def digamma_int(m):  # digamma(m) for integer m >= 1: -gamma + sum_{j<m} 1/j
        return -0.5772156649015329 + sum(1.0 / j for j in range(1, m))

    bald_ref = []
    for i in range(n):
        ps = [float(p) for p in probs_MN[:, i]]
        bald_ref.append(H(sum(ps) / len(ps)) - sum(H(p) for p in ps) / len(ps))
    radius = [
        sorted(dist(pool_prompts[i], pool_prompts[j]) for j in range(n))[k - 1] for i in range(n)
    ]
    acquired = [list(a) for a in acquired_prompts]
    unlabeled = list(range(n))
    picks, scores = [], []
    for _ in range(n_pick):
        best, best_score = None, -math.inf
        for i in unlabeled:
            n_D = sum(1 for a in acquired if dist(pool_prompts[i], a) <= radius[i])
            e = math.log(2 * radius[i] + 1e-4) - digamma_int(n_D + 1) / d
            s = bald_ref[i] + beta * e
            if s > best_score:
                best, best_score = i, s
        picks.append(best)
        scores.append(best_score)
        unlabeled.remove(best)
        acquired.append(list(pool_prompts[best]))
    return picks, scores


@pytest.mark.parametrize("beta, k, d", [(0.01, 13, 1.0), (0.2, 5, 1.0), (1.0, 3, 2.0)])
def test_balpm_matches_brute_force_pick_by_pick(beta, k, d):
    X = make_pool(n=60)
    clf = LinearRewardEnsemble().fit(X)
    acquired = make_pool(n=15, seed=1)
    strategy = BALPMQueryStrategy(beta=beta, k=k, d=d, device="cpu")
    idx, scores = strategy(clf, X, n_instances=12, X_acquired=acquired)
    ref_idx, ref_scores = reference_balpm(
        clf.predict_member_proba(X), X[:, 6:], acquired[:, 6:], beta, k, d, 12
    )
    assert idx.tolist() == ref_idx
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)
    comp = strategy.last_components_
    np.testing.assert_allclose(comp.bald + beta * comp.entropy_term, scores, rtol=1e-12)
    assert comp.ball_count.dtype.kind == "i" and len(comp.radius) == 12


@pytest.mark.parametrize(
    "params",
    [
        {"beta": 0.01, "k": 13},
        {"beta": 0.5, "k": 4, "d": 2.0},
        {"scaling": "standardize", "relative_beta": 2.0, "k": 5},
        {"scaling": "rank", "k": 5},
        {"scaling": "tiebreak", "k": 5},
        {"beta": 0.0},
    ],
    ids=repr,
)
def test_balpm_batch_function_picks_what_the_class_picks(params):
    X = make_pool(n=90, seed=4)
    X[20:35, 6:] = X[3, 6:]  # duplicate prompts
    clf = LinearRewardEnsemble(random_state=2).fit(X)
    acquired = make_pool(n=10, seed=5)
    strategy = BALPMQueryStrategy(**params, device="cpu")
    idx, scores = strategy(clf, X, 15, X_acquired=acquired)
    twin_idx, twin_scores = balpm_batch(
        clf.predict_member_proba(X), X[:, 6:], acquired[:, 6:], 15, **params, device="cpu"
    )
    assert twin_idx.tolist() == idx.tolist()
    np.testing.assert_array_equal(twin_scores, scores)


def test_balpm_batch_function_checks_its_input():
    probs, prompts = np.full((2, 5), 0.5), np.zeros((5, 3))
    with pytest.raises(ValueError, match="beta must be"):
        balpm_batch(probs, prompts, prompts[:0], 2, beta=-1.0)
    with pytest.raises(ValueError, match="must agree"):
        balpm_batch(probs[:, :4], prompts, prompts[:0], 2)
    with pytest.raises(ValueError, match="n_instances"):
        balpm_batch(probs, prompts, prompts[:0], 6)


def test_balpm_with_duplicate_prompts_matches_brute_force():
    X = make_pool(n=50)
    X[10:30, 6:] = X[0, 6:]  # twenty exact copies of one prompt
    clf = LinearRewardEnsemble(random_state=3).fit(X)
    idx, scores = BALPMQueryStrategy(beta=0.5, k=4, device="cpu")(clf, X, 10)
    ref_idx, ref_scores = reference_balpm(
        clf.predict_member_proba(X), X[:, 6:], np.empty((0, 3)), 0.5, 4, 1.0, 10
    )
    assert idx.tolist() == ref_idx
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)


def test_beta_zero_is_bald_top_b():
    X = make_pool(n=80)
    clf = LinearRewardEnsemble().fit(X)
    idx, _ = BALPMQueryStrategy(beta=0.0, device="cpu")(clf, X, 15)
    expected = np.argsort(-bald(clf.predict_member_proba(X)), kind="stable")[:15]
    assert idx.tolist() == expected.tolist()
    assert BALDQueryStrategy()(clf, X, 15)[0].tolist() == expected.tolist()


def test_larger_beta_spreads_picks_over_prompts():
    # One prompt with 200 near-duplicates holds the most uncertain pairs; 30 other prompts.
    rng = np.random.default_rng(0)
    n_dup, n_other, d = 200, 30, 8
    prompt_ids = np.r_[np.zeros(n_dup, int), 1 + np.arange(n_other)]
    centers = rng.normal(size=(n_other + 1, d)) * 3
    prompts = centers[prompt_ids] + 1e-3 * rng.normal(size=(len(prompt_ids), d))
    probs = np.empty((5, len(prompt_ids)))
    probs[:, :n_dup] = rng.choice([0.05, 0.95], size=(5, n_dup))  # high BALD
    probs[:, n_dup:] = rng.uniform(0.3, 0.7, size=(5, n_other))  # lower BALD

    class Fixed:
        feature_layout = "a|b|prompt"

        def predict_member_proba(self, X):
            return probs

    X = np.hstack([np.zeros_like(prompts), np.zeros_like(prompts), prompts])

    def distinct_prompts(beta):
        idx, _ = BALPMQueryStrategy(beta=beta, k=13, device="cpu")(Fixed(), X, 20)
        return len(set(prompt_ids[idx].tolist()))

    assert distinct_prompts(0.0) == 1
    assert distinct_prompts(0.01) < distinct_prompts(1.0)
    assert distinct_prompts(1.0) >= 15


def test_entropy_only_matches_brute_force_with_zero_bald():
    X = make_pool(n=40)
    idx, scores = EntropyOnlyQueryStrategy(k=5, device="cpu")(None, X, 8)
    zero = np.full((2, 40), 0.5)  # BALD 0 everywhere
    ref_idx, ref_scores = reference_balpm(zero, X[:, 6:], np.empty((0, 3)), 1.0, 5, 1.0, 8)
    assert idx.tolist() == ref_idx
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)


def test_knn_reuse_across_rounds_equals_fresh_computation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    X[50:70] = X[3]  # duplicates: copies leave the pool one at a time
    cache = KNNRadiusCache(k=7)
    pool = X
    for _ in range(6):
        np.testing.assert_array_equal(cache.radius(pool), KNNRadiusCache(k=7).radius(pool))
        keep = np.ones(len(pool), bool)
        keep[rng.choice(len(pool), 25, replace=False)] = False
        keep[np.flatnonzero((pool == X[3]).all(1))[:1]] = False
        pool = pool[keep]
    assert cache.n_recomputed_ < len(pool)  # the last round reused rows
    # A pool that gained a row is recomputed in full.
    cache.radius(np.vstack([pool, rng.normal(size=(1, 5)).astype(np.float32)]))
    assert cache.n_recomputed_ == len(pool) + 1


def test_balpm_rounds_with_reuse_equal_fresh_strategy():
    X = make_pool(n=120)
    clf = LinearRewardEnsemble().fit(X)
    reused = BALPMQueryStrategy(beta=0.1, k=5, device="cpu")
    pool, acquired = X, X[:0]
    for _ in range(3):
        idx, scores = reused(clf, pool, 10, X_acquired=acquired)
        fresh_idx, fresh_scores = BALPMQueryStrategy(beta=0.1, k=5, device="cpu")(
            clf, pool, 10, X_acquired=acquired
        )
        assert idx.tolist() == fresh_idx.tolist()
        np.testing.assert_array_equal(scores, fresh_scores)
        acquired = np.vstack([acquired, pool[idx]])
        pool = np.delete(pool, idx, axis=0)
    assert reused.knn_cache_.n_recomputed_ < len(pool)


def test_balpm_faiss_backend_runs_and_picks_distinct():
    pytest.importorskip("faiss")
    X = make_pool(n=200).astype(np.float32)
    clf = LinearRewardEnsemble().fit(X)
    idx, _ = BALPMQueryStrategy(knn_backend="faiss", device="cpu")(clf, X, 20)
    assert len(set(idx.tolist())) == 20


# --- stochastic strategies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls", [PowerBALDQueryStrategy, SoftmaxBALDQueryStrategy, SoftRankBALDQueryStrategy]
)
def test_stochastic_strategies_seeded(cls):
    X = make_pool(n=100)
    clf = LinearRewardEnsemble().fit(X)
    a, b = cls(random_state=0), cls(random_state=0)
    rounds_a = [a(clf, X, 10)[0].tolist() for _ in range(2)]
    rounds_b = [b(clf, X, 10)[0].tolist() for _ in range(2)]
    assert rounds_a == rounds_b  # seeds reproduce, call after call
    assert rounds_a[0] != rounds_a[1]  # rounds get fresh noise
    # A very large beta makes the noise negligible: top-B of the underlying score order.
    top = np.argsort(-bald(clf.predict_member_proba(X)), kind="stable")[:10]
    assert cls(beta=1e9, random_state=0)(clf, X, 10)[0].tolist() == top.tolist()


@pytest.mark.parametrize(
    "cls",
    [
        PowerBALDQueryStrategy,
        SoftmaxBALDQueryStrategy,
        SoftRankBALDQueryStrategy,
        RandomQueryStrategy,
        CoresetQueryStrategy,
    ],
)
def test_set_params_random_state_reseeds(cls):
    # A strategy used once and then given a new seed must follow that seed, not keep
    # drawing from the generator of its old one.
    X = make_pool(n=100)
    clf = LinearRewardEnsemble().fit(X)
    used = cls(random_state=0)
    used(clf, X, 10)
    used.set_params(random_state=1)
    assert used(clf, X, 10)[0].tolist() == cls(random_state=1)(clf, X, 10)[0].tolist()


def test_stochastic_scores_are_perturbed_log_weights():
    X = make_pool(n=50)
    clf = LinearRewardEnsemble().fit(X)
    b = bald(clf.predict_member_proba(X))
    noise = np.random.RandomState(7).gumbel(0.0, 1 / 2.0, 50)
    rank = np.empty(50)
    rank[np.argsort(-b, kind="stable")] = np.arange(1, 51)
    for cls, weight in [
        (SoftmaxBALDQueryStrategy, b),
        (PowerBALDQueryStrategy, np.log(b)),
        (SoftRankBALDQueryStrategy, -np.log(rank)),
    ]:
        idx, scores = cls(beta=2.0, random_state=7)(clf, X, 5)
        key = weight + noise
        assert idx.tolist() == np.argsort(-key, kind="stable")[:5].tolist()
        np.testing.assert_allclose(scores, key[idx])


def test_random_and_coreset():
    X = make_pool(n=40)
    idx, scores = RandomQueryStrategy(random_state=0)(None, X, 40)
    assert sorted(idx.tolist()) == list(range(40))
    assert RandomQueryStrategy(random_state=0)(None, X, 5)[0].tolist() == idx[:5].tolist()
    # Coreset: each pick is the farthest from everything chosen so far (brute force).
    acquired = X[:3]
    idx, scores = CoresetQueryStrategy()(None, X, 6, X_acquired=acquired)
    P, centers = X[:, 6:], [a for a in acquired[:, 6:]]
    for i, s in zip(idx, scores, strict=True):
        dmin = np.array([min(np.linalg.norm(p - c) for c in centers) for p in P])
        dmin[idx[: len(centers) - 3]] = -1
        assert i == int(np.argmax(dmin)) and s == pytest.approx(dmin[i])
        centers.append(P[i])


# --- calling convention and input resolution -----------------------------------------------


@pytest.mark.parametrize("cls", ALL_STRATEGIES, ids=lambda cls: cls.name)
def test_modal_convention_return_types(cls):
    X = make_pool(n=30)
    clf = LinearRewardEnsemble().fit(X)
    result = cls(random_state=0)(clf, X, n_instances=4, X_acquired=X[:2])
    assert isinstance(result, tuple) and len(result) == 2
    idx, scores = result
    assert idx.ndim == 1 and idx.dtype.kind == "i" and len(set(idx.tolist())) == 4
    assert scores.shape == (4,) and scores.dtype == np.float64
    assert idx.min() >= 0 and idx.max() < 30


class FakeActiveLearner:
    """What the strategies read from a modAL ActiveLearner."""

    def __init__(self, estimator, X_training):
        self.estimator = estimator
        self.X_training = X_training


def test_pipeline_and_learner_are_resolved():
    X = make_pool(n=50)
    clf = LinearRewardEnsemble().fit(X)
    # A Pipeline step scales the raw rows by 2: the strategy must transform the pool.
    pipe = make_pipeline(FunctionTransformer(lambda Z: 2.0 * Z), LinearRewardEnsemble())
    pipe.fit(X / 2.0)
    strategy = BALPMQueryStrategy(beta=0.3, k=5, device="cpu")
    direct = strategy(clf, X, 8, X_acquired=X[:5])
    via_pipe = BALPMQueryStrategy(beta=0.3, k=5, device="cpu")(
        pipe, X / 2.0, 8, X_acquired=X[:5] / 2.0
    )
    via_learner = BALPMQueryStrategy(beta=0.3, k=5, device="cpu")(
        FakeActiveLearner(pipe, X[:5] / 2.0), X / 2.0, 8
    )
    for got in (via_pipe, via_learner):
        assert got[0].tolist() == direct[0].tolist()
        np.testing.assert_allclose(got[1], direct[1])
    # The learner's training set was used as the acquired set.
    assert strategy.last_components_.ball_count.sum() > 0


@pytest.mark.filterwarnings("error:X does not have valid feature names")
def test_dataframe_pool_reaches_the_classifier_with_its_feature_names():
    # A classifier fitted on a DataFrame, queried with a DataFrame pool (directly or
    # through a Pipeline that outputs pandas): no "X does not have valid feature names".
    pd = pytest.importorskip("pandas")
    from sklearn.preprocessing import StandardScaler

    from skbalpm import PreferenceEnsembleClassifier

    X = pd.DataFrame(make_pool(n=30), columns=[f"f{i}" for i in range(9)])
    y = np.arange(30) % 2
    clf = PreferenceEnsembleClassifier(n_members=2, max_epochs=1, random_state=0).fit(X, y)
    assert len(BALDQueryStrategy()(clf, X, 3)[0]) == 3
    scaler = StandardScaler().set_output(transform="pandas")
    pipe = make_pipeline(scaler, clone(clf)).fit(X, y)
    assert len(BALPMQueryStrategy(k=3, device="cpu")(pipe, X, 3, X_acquired=X[:4])[0]) == 3


def test_real_modal_active_learner():
    modal = pytest.importorskip("modAL.models")
    X = make_pool(n=40)
    y = np.random.default_rng(0).integers(0, 2, 40)
    learner = modal.ActiveLearner(
        estimator=LinearRewardEnsemble(),
        query_strategy=BALPMQueryStrategy(k=5, device="cpu"),
        X_training=X[:6],
        y_training=y[:6],
    )
    idx, rows = learner.query(X[6:], n_instances=3)
    assert len(set(np.asarray(idx).tolist())) == 3
    np.testing.assert_array_equal(rows, X[6:][idx])


def test_ab_layout_needs_explicit_prompt_features():
    X = make_pool(n=30)
    clf = LinearRewardEnsemble(feature_layout="a|b").fit(X[:, :6])
    with pytest.raises(ValueError, match="prompt_features="):
        BALPMQueryStrategy(device="cpu")(clf, X[:, :6], 3)
    with pytest.raises(ValueError, match="acquired_prompt_features="):
        BALPMQueryStrategy(device="cpu")(
            clf, X[:, :6], 3, X_acquired=X[:4, :6], prompt_features=X[:, 6:]
        )
    idx, _ = BALPMQueryStrategy(k=5, device="cpu")(
        clf, X[:, :6], 3, prompt_features=X[:, 6:], acquired_prompt_features=X[:4, 6:]
    )
    full = LinearRewardEnsemble().fit(X)
    expected, _ = BALPMQueryStrategy(k=5, device="cpu")(full, X, 3, X_acquired=X[:4])
    assert idx.tolist() == expected.tolist()


# --- bad input ------------------------------------------------------------------------------


def test_n_instances_larger_than_pool_returns_whole_pool():
    X = make_pool(n=7)
    clf = LinearRewardEnsemble().fit(X)
    for cls in ALL_STRATEGIES:
        with pytest.warns(UserWarning, match="whole pool"):
            idx, _ = cls(random_state=0)(clf, X, n_instances=10)
        assert sorted(idx.tolist()) == list(range(7))


@pytest.mark.parametrize("n_instances", [0, -1, 2.5, True, "3"])
def test_bad_n_instances(n_instances):
    X = make_pool(n=7)
    with pytest.raises(ValueError, match="n_instances"):
        BALDQueryStrategy()(LinearRewardEnsemble().fit(X), X, n_instances)


def test_empty_pool_unfitted_and_missing_member_probs():
    X = make_pool(n=7)
    with pytest.raises(ValueError, match="pool is empty"):
        BALPMQueryStrategy()(LinearRewardEnsemble().fit(X), X[:0], 1)
    with pytest.raises(NotFittedError):
        BALPMQueryStrategy()(LinearRewardEnsemble(), X, 1)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(X, np.arange(7) % 2)
    with pytest.raises(TypeError, match="predict_member_proba"):
        BALDQueryStrategy()(lr, X, 1)


def test_nan_scores_and_nan_features_are_rejected():
    X = make_pool(n=7)

    class NaNProbs:
        feature_layout = "a|b|prompt"

        def predict_member_proba(self, X):
            p = np.full((3, len(X)), 0.5)
            p[1, 4] = np.nan
            return p

    for cls in (BALPMQueryStrategy, BALDQueryStrategy, PowerBALDQueryStrategy):
        with pytest.raises(ValueError, match=r"NaN for 1 pool rows \(first: \[4\]\)"):
            cls()(NaNProbs(), X, 2)
    X_nan = X.copy()
    X_nan[2, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BALPMQueryStrategy()(LinearRewardEnsemble().fit(X), X_nan, 2)


class FixedMembers:
    """A fitted classifier double whose member probabilities do not depend on X."""

    feature_layout_ = "a|b|prompt"

    def predict_member_proba(self, X):
        return np.vstack([np.linspace(0.1, 0.9, len(X)), np.linspace(0.8, 0.3, len(X))])


def check_prompt_distances_scale(cls, params, pool, acquired, scale):
    """Prompts times ``scale`` (a power of two): every distance times ``scale``.

    Core-set: the same picks, each scored by its distance. BAL-PM and entropy-only: the
    same k-NN radius of every row (the whole pool is picked; the order may change, as the
    entropy term adds 1e-4 to 2 r).
    """

    def query(X_pool, X_acquired):
        strategy = cls(**params)
        indices, scores = strategy(FixedMembers(), X_pool, len(X_pool), X_acquired=X_acquired)
        if cls is CoresetQueryStrategy:
            return indices, scores
        radius = np.empty(len(X_pool))  # each row's radius, whatever order it was picked in
        radius[indices] = strategy.last_components_.radius
        return np.arange(len(X_pool)), radius

    reference_rows, reference = query(pool, acquired)
    rows, values = query(pool * scale, acquired * scale)
    np.testing.assert_array_equal(rows, reference_rows)
    np.testing.assert_allclose(values, reference * scale, rtol=1e-12, atol=0)


@pytest.mark.parametrize("exponent", [-900, -70, 70, 900])
@pytest.mark.parametrize(
    "cls", [BALPMQueryStrategy, EntropyOnlyQueryStrategy, CoresetQueryStrategy]
)
def test_prompt_distances_do_not_depend_on_the_prompts_size(cls, exponent):
    # BAL-PM's radii were wrong from prompts of size 1e19 (float32 overflow) and infinite
    # from 1e154; core-set scored NaN there, and tied every distance at 0 below 1e-154.
    X = make_pool(n=20)
    params = {"random_state": 0} if cls is CoresetQueryStrategy else {"k": 3, "device": "cpu"}
    check_prompt_distances_scale(cls, params, X[5:], X[:5], 2.0**exponent)


def test_bad_values_are_reported_with_the_input_that_holds_them():
    # "Input contains NaN." named no input
    X = make_pool(n=7)
    clf = LinearRewardEnsemble().fit(X)
    bad = X.copy()
    bad[2, 7] = np.nan
    with pytest.raises(ValueError, match="Input X_pool contains NaN"):
        BALDQueryStrategy()(clf, bad, 2)
    with pytest.raises(ValueError, match="Input X_acquired contains NaN"):
        CoresetQueryStrategy()(clf, X, 2, X_acquired=bad)
    P = np.full((7, 3), np.inf)
    with pytest.raises(ValueError, match="Input prompt_features contains infinity"):
        CoresetQueryStrategy()(clf, X, 2, prompt_features=P, X_acquired=X[:0])
    with pytest.raises(ValueError, match="Input acquired_prompt_features contains infinity"):
        CoresetQueryStrategy()(clf, X, 2, acquired_prompt_features=P)


BAD_PARAMETERS = [
    (BALPMQueryStrategy, "beta", [-1.0, np.nan, np.inf, "0.01", None]),
    (BALPMQueryStrategy, "relative_beta", [-0.5, np.nan]),
    (BALPMQueryStrategy, "scaling", ["zscore", None]),
    (BALPMQueryStrategy, "k", [0, -3, 2.5, True, "13"]),
    (BALPMQueryStrategy, "d", [0.0, -1.0, np.nan, "1"]),
    (BALPMQueryStrategy, "knn_backend", ["annoy", None]),
    (BALPMQueryStrategy, "reuse_knn", ["yes", 1]),
    (BALPMQueryStrategy, "device", ["gpu", "cuda:x"]),
    (BALPMQueryStrategy, "chunk_size", [0, 1.5]),
    (BALPMQueryStrategy, "verbose", [-1, "loud"]),
    (BALPMQueryStrategy, "random_state", ["seed", 1.5]),
    (EntropyOnlyQueryStrategy, "k", [0]),
    (EntropyOnlyQueryStrategy, "d", [-2.0]),
    (EntropyOnlyQueryStrategy, "knn_backend", ["annoy"]),
    (SoftmaxBALDQueryStrategy, "beta", [0.0, -1.0, np.nan, np.inf]),
    (PowerBALDQueryStrategy, "beta", [0.0]),
    (SoftRankBALDQueryStrategy, "beta", [-2.0]),
    (RandomQueryStrategy, "random_state", ["seed"]),
    (CoresetQueryStrategy, "random_state", [object()]),
    (BALDQueryStrategy, "random_state", ["seed"]),
]


class MustNotBeReached:
    """A classifier double that fails the test if the strategy ever scores the pool."""

    feature_layout = "a|b|prompt"

    def predict_member_proba(self, X):
        raise AssertionError("the pool was scored before the parameters were checked")


@pytest.fixture
def knn_must_not_run(monkeypatch):
    """Every k-NN entry point of BAL-PM fails the test if it is called."""
    import skbalpm.acquisition._balpm as balpm

    def fail(*args, **kwargs):
        raise AssertionError("the k-NN pass ran before the parameters were checked")

    for name in ("knn_search", "knn_search_faiss", "count_within", "_Points"):
        monkeypatch.setattr(balpm, name, fail)
    monkeypatch.setattr(KNNRadiusCache, "radius", fail)


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [(cls, name, value) for cls, name, values in BAD_PARAMETERS for value in values],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
def test_bad_parameter_is_reported_before_any_work_on_the_pool(cls, name, value, knn_must_not_run):
    X = make_pool(n=20)
    strategy = cls(**{name: value})
    # Neither the classifier nor the k-NN pass is reached: the parameter is checked first,
    # with the strategy's name and the parameter's in the message.
    with pytest.raises(ValueError, match=rf"{cls.__name__}: {name} must"):
        strategy(MustNotBeReached(), X, 2, X_acquired=X[:0])


def test_faiss_backend_without_faiss_is_reported_first(monkeypatch, knn_must_not_run):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "faiss" else real_find_spec(name, *a),
    )
    X = make_pool(n=20)
    with pytest.raises(ImportError, match=r"skbalpm\[faiss\]"):
        BALPMQueryStrategy(knn_backend="faiss")(MustNotBeReached(), X, 2, X_acquired=X[:0])


def test_cuda_device_without_cuda_is_reported_first(monkeypatch, knn_must_not_run):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    X = make_pool(n=20)
    with pytest.raises(ValueError, match="no CUDA device"):
        BALPMQueryStrategy(device="cuda")(MustNotBeReached(), X, 2, X_acquired=X[:0])


@pytest.mark.parametrize("value", [0.0, 0.01, 1, np.float32(2.0)])
def test_good_beta_values_pass_the_check(value):
    X = make_pool(n=20)
    clf = LinearRewardEnsemble().fit(X)
    idx, _ = BALPMQueryStrategy(beta=value, k=3, device="cpu")(clf, X, 2, X_acquired=X[:0])
    assert len(set(idx.tolist())) == 2


# --- the acquired set outside modAL ---------------------------------------------------------

PROMPT_DIVERSITY_STRATEGIES = [
    BALPMQueryStrategy(k=3, device="cpu"),
    BALPMQueryStrategy(k=3, scaling="rank", beta=0.0, device="cpu"),
    EntropyOnlyQueryStrategy(k=3, device="cpu"),
    CoresetQueryStrategy(random_state=0),
]


def _acquired_set_warnings(record):
    return [w for w in record if "without an acquired set" in str(w.message)]


@pytest.mark.parametrize("strategy", PROMPT_DIVERSITY_STRATEGIES, ids=repr)
def test_missing_acquired_set_warns_once_per_strategy_object(strategy):
    X = make_pool(n=30)
    clf = LinearRewardEnsemble().fit(X)
    strategy = clone(strategy)
    with pytest.warns(UserWarning) as record:
        strategy(clf, X, 2)
        strategy(clf, X, 2)
    (warning,) = _acquired_set_warnings(record)  # two calls, one warning
    message = str(warning.message)
    assert type(strategy).__name__ in message
    assert "taken as empty" in message and "X_acquired=" in message
    assert warning.filename == __file__  # points at the caller, not at skbalpm
    with pytest.warns(UserWarning, match="without an acquired set"):
        clone(strategy)(clf, X, 2)  # a new object warns again


@pytest.mark.parametrize("strategy", PROMPT_DIVERSITY_STRATEGIES, ids=repr)
@pytest.mark.parametrize(
    "acquired",
    [
        {"X_acquired": "empty rows"},
        {"X_acquired": []},
        {"acquired_prompt_features": np.empty((0, 3))},
        {"X_acquired": "four rows"},
    ],
    ids=["empty-array", "empty-list", "empty-prompt-features", "four-rows"],
)
def test_explicit_acquired_set_is_silent(strategy, acquired, recwarn):
    X = make_pool(n=30)
    clf = LinearRewardEnsemble().fit(X)
    given = {"empty rows": X[:0], "four rows": X[:4]}
    kwargs = {
        key: given.get(value, value) if isinstance(value, str) else value
        for key, value in acquired.items()
    }
    clone(strategy)(clf, X, 2, **kwargs)
    assert not _acquired_set_warnings(recwarn.list)


@pytest.mark.parametrize(
    "strategy",
    [
        BALDQueryStrategy(),
        RandomQueryStrategy(random_state=0),
        PowerBALDQueryStrategy(random_state=0),
        BALPMQueryStrategy(beta=0.0, k=3, device="cpu"),  # BALD alone
    ],
    ids=repr,
)
def test_strategies_blind_to_the_acquired_set_do_not_warn(strategy, recwarn):
    X = make_pool(n=30)
    clone(strategy)(LinearRewardEnsemble().fit(X), X, 2)
    assert not _acquired_set_warnings(recwarn.list)


def test_active_learner_supplies_the_acquired_set_silently(recwarn):
    X = make_pool(n=30)

    class Learner:  # modAL's ActiveLearner, duck-typed
        estimator = LinearRewardEnsemble().fit(X)
        X_training = X[:4]

    BALPMQueryStrategy(k=3, device="cpu")(Learner(), X[4:], 2)
    assert not _acquired_set_warnings(recwarn.list)
