"""The labeling loop end to end, against the benchmark harness.

A script plays the labelers of real HH-RLHF pairs (the labels are known) for five rounds of
``skbalpm select``, answering through Label Studio and Argilla round trips; its picks must
be the harness's picks for the same seed and strategy, and the learning curve of the
models that ``skbalpm fit`` and ``skbalpm score`` give after each round must be the
harness's rows, number for number.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import HH_SAMPLE_MAX_LENGTH

from skbalpm import PreferenceEnsembleClassifier, PreferencePairEmbedder
from skbalpm.benchmark import preference_accuracy, preference_log_likelihood, run_benchmark
from skbalpm.cli import main
from skbalpm.labeling import read_labels, read_pool, write_jsonl
from skbalpm.labeling._pairs import read_jsonl

SEED, INITIAL, BATCH, ROUNDS, STRATEGY = 11, 20, 20, 5, "balpm"


def _write_pairs(path, X, y=None):
    rows = [dict(zip(("prompt", "response_a", "response_b"), row, strict=True)) for row in X]
    if y is not None:
        for row, label in zip(rows, y, strict=True):
            row["label"] = int(label)
    return write_jsonl(path, rows)


class Labelers:
    """Answer every exported batch with the pool's known labels, through a labeling tool."""

    def __init__(self, folder, known):
        self.folder, self.known = folder, known  # pair id -> (response_a, label)

    def _label(self, data):
        response_a, label = self.known[data["pair_id"]]
        return label if data["response_a"] == response_a else 1 - label

    def answer(self, batch, round_index):
        tool = "label-studio" if round_index % 2 == 0 else "argilla"
        exported = self.folder / f"to-{tool}-{round_index}.json"
        assert main(["export", str(batch), "--to", tool, "--out", str(exported)]) == 0
        records = json.loads(exported.read_text())
        if tool == "label-studio":
            answers = [self._label_studio(round_index, k, t) for k, t in enumerate(records)]
        else:
            answers = [self._argilla(record) for record in records]
        answered = self.folder / f"from-{tool}-{round_index}.json"
        answered.write_text(json.dumps(answers))
        return answered

    def _label_studio(self, round_index, k, task):
        side = ("left", "right")[self._label(task["data"])]
        result = {"type": "pairwise", "from_name": "preference", "value": {"selected": side}}
        task_id = 1000 * round_index + k  # ids are unique in a Label Studio project
        annotation = {"id": task_id, "was_cancelled": False, "result": [result]}
        return {"id": task_id, "data": task["data"], "annotations": [annotation]}

    def _argilla(self, record):
        label = self._label({"pair_id": record["id"], **record["fields"]})
        return {
            "id": record["id"],
            **record["fields"],
            "_server_id": None,
            "preference.responses": ["ab"[label]],
            "preference.responses.users": ["00000000-0000-0000-0000-000000000001"],
            "preference.responses.status": ["submitted"],
        }


def _curve_point(folder, round_index, common):
    """Test log-likelihood and accuracy of ``skbalpm fit --round`` scored by ``skbalpm score``."""
    model = folder / f"model-{round_index}.joblib"
    fit = ["fit", "--labeled", str(folder / "labels.jsonl"), "--out", str(model)]
    assert main([*fit, "--round", str(round_index), "--cv-folds", "0", *common]) == 0
    scores = folder / f"scores-{round_index}.jsonl"
    score = ["score", "--model", str(model), "--pairs", str(folder / "test.jsonl")]
    assert main([*score, "--out", str(scores), "--quiet"]) == 0
    proba_a = np.array([record["p_a_preferred"] for _, record in read_jsonl(scores)])
    y_test = np.array([record["label"] for _, record in read_jsonl(folder / "test.jsonl")])
    return preference_log_likelihood(y_test, proba_a), preference_accuracy(y_test, proba_a)


@pytest.mark.real_model
@pytest.mark.slow
def test_five_labeled_rounds_equal_the_benchmark_harness(
    tmp_path, hh_helpful_sample, embedding_cache_dir, capsys
):
    X, y = hh_helpful_sample  # 200 real pairs; 160 to pick from, 40 to score on
    _write_pairs(tmp_path / "pool.jsonl", X[:160])  # no labels in the pool file
    _write_pairs(tmp_path / "test.jsonl", X[160:], y[160:])
    pool = read_pool(tmp_path / "pool.jsonl")
    assert pool.X.tolist() == X[:160].tolist()
    labelers = Labelers(tmp_path, {pid: (row[1], int(label)) for pid, row, label in
                                   zip(pool.pair_ids, X[:160], y[:160], strict=True)})  # fmt: skip

    harness = run_benchmark(
        pool.X,
        y[:160],
        strategies=[STRATEGY],
        classifier=PreferenceEnsembleClassifier(),
        embedder=PreferencePairEmbedder(
            max_length=HH_SAMPLE_MAX_LENGTH, cache_dir=embedding_cache_dir
        ),
        seeds=[SEED],
        initial_size=INITIAL,
        batch_size=BATCH,
        n_rounds=ROUNDS,
        X_test=X[160:],
        y_test=y[160:],
        output_dir=tmp_path / "harness",
        compute_ceiling=False,
        n_jobs=1,
        verbose=0,
    )
    checkpoint = json.loads((tmp_path / "harness" / "checkpoint.json").read_text())
    harness_picks = checkpoint["runs"][f"{STRATEGY}|{SEED}"]["labelled"]

    common = ["--seed", str(SEED), "--max-length", str(HH_SAMPLE_MAX_LENGTH)]
    common += ["--cache-dir", str(embedding_cache_dir), "--quiet"]
    select = ["select", "--pool", str(tmp_path / "pool.jsonl")]
    select += ["--labeled", str(tmp_path / "labels.jsonl"), "--n", str(BATCH), *common]
    position = {pid: i for i, pid in enumerate(pool.pair_ids)}
    picks, curve, printed = [], [], ""
    cold_start = ["--initial-strategy", "random", "--n", str(INITIAL), "--cv-folds", "0"]
    for round_index in range(-1, ROUNDS):  # -1: the initial set, before any model
        batch = tmp_path / f"batch{round_index + 1}.jsonl"
        extra = cold_start if round_index < 0 else ["--strategy", STRATEGY, "--cv-folds", "0"]
        if round_index == ROUNDS - 1:  # what the labels teach, once
            extra = ["--strategy", STRATEGY]
        assert main([*select, "--out", str(batch), *extra]) == 0
        printed += capsys.readouterr().out
        picks += [position[record["pair_id"]] for _, record in read_jsonl(batch)]
        answered = labelers.answer(batch, round_index + 1)
        assert main(["import", str(answered), "--labeled", str(tmp_path / "labels.jsonl")]) == 0
        assert f"added {INITIAL if round_index < 0 else BATCH} labels" in capsys.readouterr().out
        curve.append(_curve_point(tmp_path, round_index + 1, common))
    assert len(read_labels(tmp_path / "labels.jsonl").label) == INITIAL + ROUNDS * BATCH
    assert printed.count("pairs picked by balpm (round ") == ROUNDS
    assert "what the labels teach (5-fold CV grouped by prompt, 100 labels" in printed

    assert picks == harness_picks
    rows = harness.results.sort_values("round")
    expected = list(zip(rows["test_log_likelihood"], rows["test_accuracy"], strict=True))
    assert curve == expected
