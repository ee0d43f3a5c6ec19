"""One round of the labeling loop on features (``select_batch``), and its equality with the
benchmark harness's rounds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skbalpm.acquisition import bald
from skbalpm.benchmark import preference_accuracy, preference_log_likelihood, run_benchmark
from skbalpm.benchmark._experiment import _derived_seed
from skbalpm.datasets import make_synthetic_preferences
from skbalpm.ensemble import PreferenceEnsembleClassifier
from skbalpm.labeling import select_batch


@pytest.fixture(scope="module")
def task():
    data = make_synthetic_preferences(
        n_samples=240, n_features=4, n_topics=12, n_test_samples=80, random_state=0
    )
    data.X = data.X.astype(np.float32)
    data.X_test = data.X_test.astype(np.float32)
    return data


def _classifier():
    return PreferenceEnsembleClassifier(n_members=3, feature_layout="a|b|prompt")


def _prompt_clusters(n_per_cluster=10, centres=(0.0, 50.0, 100.0), seed=0):
    """Features whose prompt blocks form far-apart clusters (block width 2)."""
    rng = np.random.default_rng(seed)
    prompts = np.vstack([c + rng.normal(size=(n_per_cluster, 2)) for c in centres])
    responses = rng.normal(size=(len(prompts), 4))
    return np.hstack([responses, prompts]).astype(np.float32)


# -- cold start ---------------------------------------------------------------------------


def test_coreset_cold_start_spreads_over_prompt_clusters():
    X = _prompt_clusters()
    batch = select_batch(X, X[:0], [], n_instances=3, initial_strategy="coreset")
    assert batch.kind == "initial" and batch.classifier is None
    assert sorted(batch.indices // 10) == [0, 1, 2]  # one pair from each cluster
    assert np.isnan(batch.bald).all() and np.isnan(batch.proba_a).all()


def test_cold_start_counts_pending_prompts_as_covered():
    X = _prompt_clusters()
    pending = np.arange(10)  # the first cluster is out with the labelers
    batch = select_batch(
        X, X[:0], [], exclude=pending, X_acquired=X[pending], n_instances=2, random_state=3
    )
    assert sorted(batch.indices // 10) == [1, 2]


def test_random_cold_start_is_the_benchmarks_initial_draw():
    X = _prompt_clusters()
    exclude = np.array([0, 5])
    batch = select_batch(
        X, X[:0], [], exclude=exclude, n_instances=4, initial_strategy="random", random_state=7
    )
    candidates = np.setdiff1d(np.arange(len(X)), exclude)
    expected = candidates[np.random.RandomState(7).permutation(len(candidates))[:4]]
    assert batch.indices.tolist() == expected.tolist()


def test_labels_of_one_kind_only_still_cold_start(task):
    batch = select_batch(task.X, task.X[:5], np.zeros(5, dtype=int), n_instances=4)
    assert batch.kind == "initial"


# -- a fitted round ---------------------------------------------------------------------


def test_a_round_never_picks_an_excluded_pair_and_reports_the_score_parts(task):
    labelled = np.arange(40)
    pending = np.arange(40, 60)
    batch = select_batch(
        task.X,
        task.X[labelled],
        task.y[labelled],
        exclude=np.concatenate([labelled, pending]),
        X_acquired=task.X[:60],
        n_instances=15,
        strategy="balpm(beta=0.5)",
        classifier=_classifier(),
        random_state=1,
        round_index=2,
    )
    assert batch.kind == "round" and len(set(batch.indices.tolist())) == 15
    assert not np.isin(batch.indices, np.arange(60)).any()
    fitted = batch.classifier
    assert fitted.random_state == _derived_seed(1, 2, 0)
    member_probs = fitted.predict_member_proba(task.X[batch.indices])
    np.testing.assert_allclose(batch.bald, bald(member_probs), rtol=1e-5)
    np.testing.assert_allclose(batch.scores, batch.bald + 0.5 * batch.entropy_term, rtol=1e-12)
    np.testing.assert_allclose(batch.proba_a, fitted.predict_proba(task.X[batch.indices])[:, 0])


def test_strategies_without_an_entropy_term_report_none(task):
    batch = select_batch(
        task.X, task.X[:40], task.y[:40], exclude=np.arange(40), n_instances=5, strategy="bald"
    )
    assert np.isnan(batch.entropy_term).all()
    np.testing.assert_allclose(batch.scores, batch.bald, rtol=1e-5)  # float32 ensembles


def test_the_batch_is_cut_to_the_pairs_left(task):
    exclude = np.arange(len(task.X) - 3)
    batch = select_batch(task.X, task.X[:40], task.y[:40], exclude=exclude, n_instances=10)
    assert sorted(batch.indices.tolist()) == [len(task.X) - 3, len(task.X) - 2, len(task.X) - 1]
    with pytest.raises(ValueError, match="No pool row is left"):
        select_batch(task.X, task.X[:40], task.y[:40], exclude=np.arange(len(task.X)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "nope"}, "Unknown query strategy"),
        ({"initial_strategy": "bald"}, "initial_strategy must be one of"),
        ({"n_instances": 0}, "n_instances must be an int >= 1"),
        ({"round_index": -1}, "round_index must be an int >= 0"),
    ],
)
def test_bad_parameters_fail_before_any_fit(task, monkeypatch, kwargs, message):
    def no_fit(self, X, y, groups=None):
        raise AssertionError("fitted before the parameters were checked")

    monkeypatch.setattr(PreferenceEnsembleClassifier, "fit", no_fit)
    with pytest.raises(ValueError, match=message):
        select_batch(task.X, task.X[:40], task.y[:40], **kwargs)


# -- the harness's rounds, one by one -----------------------------------------------------


@pytest.mark.parametrize("strategy", ["balpm", "bald", "powerbald", "random"])
def test_rounds_pick_what_the_harness_picks_and_score_as_its_rows(task, tmp_path, strategy):
    seed, initial_size, batch_size, n_rounds = 3, 20, 15, 4
    harness = run_benchmark(
        task.X,
        task.y,
        strategies=[strategy],
        classifier=_classifier(),
        seeds=[seed],
        initial_size=initial_size,
        batch_size=batch_size,
        n_rounds=n_rounds,
        X_test=task.X_test,
        y_test=task.y_test,
        output_dir=tmp_path,
        compute_ceiling=False,
        n_jobs=1,
        verbose=0,
    )
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    harness_labelled = checkpoint["runs"][f"{strategy}|{seed}"]["labelled"]

    first = select_batch(
        task.X,
        task.X[:0],
        [],
        n_instances=initial_size,
        initial_strategy="random",
        random_state=seed,
    )
    labelled = first.indices.tolist()
    curve = []
    for round_index in range(n_rounds):
        batch = select_batch(
            task.X,
            task.X[labelled],
            task.y[labelled],
            exclude=labelled,
            n_instances=batch_size,
            strategy=strategy,
            classifier=_classifier(),
            random_state=seed,
            round_index=round_index,
        )
        proba_a = batch.classifier.predict_proba(task.X_test)[:, 0]
        curve.append(
            (
                preference_log_likelihood(task.y_test, proba_a),
                preference_accuracy(task.y_test, proba_a),
            )
        )
        labelled += batch.indices.tolist()
    assert labelled == harness_labelled
    rows = harness.results.sort_values("round")
    assert curve == list(
        zip(rows["test_log_likelihood"][:n_rounds], rows["test_accuracy"][:n_rounds], strict=True)
    )
