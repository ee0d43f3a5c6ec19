"""``skbalpm fit`` and ``skbalpm score``: the saved reward model and its embedder's identity
(a stand-in embedding model: the real tokenizer and model files, pseudo-random vectors)."""

from __future__ import annotations

import json
import shutil

import joblib
import numpy as np
import pytest

from skbalpm import PreferencePairEmbedder
from skbalpm import _embedding_backends as backends
from skbalpm.benchmark import preference_accuracy, preference_log_likelihood
from skbalpm.benchmark._experiment import _derived_seed
from skbalpm.cli import main
from skbalpm.labeling import RewardModel, embedder_identity, judgment_record, write_jsonl
from skbalpm.labeling._model import identity_differences
from skbalpm.labeling._pairs import read_jsonl


def _rows(n, label=True):
    rows = [
        {
            "prompt": f"Name fruit number {i}.",
            "response_a": f"Apple {i}.",
            "response_b": f"Rock {i}.",
        }
        for i in range(n)
    ]
    if label:
        for i, row in enumerate(rows):
            row["label"] = i % 2
    return rows


@pytest.fixture
def labeled(tmp_path, fake_embedding_model):
    judgments = [
        judgment_record(
            tuple(r[k] for k in ("prompt", "response_a", "response_b")), r["label"], source="test"
        )
        for r in _rows(24)
    ]
    judgments.append(judgment_record(("Q?", "A.", "B."), "tie", source="test"))
    judgments.append(judgment_record(("Q2?", "A.", "B."), "skip", source="test"))
    write_jsonl(tmp_path / "labels.jsonl", judgments)
    return tmp_path


def _model_copy(folder, change=False):
    """A copy of the default model's folder (weights linked); ``change`` edits a file."""
    source = backends.resolve_model_path("default")
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(source / "model.safetensors")
    if change:
        config = json.loads((folder / "config.json").read_text())
        config["note"] = "fine-tuned elsewhere"
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def _fit(folder, *extra):
    return main(
        [
            "fit",
            "--labeled", str(folder / "labels.jsonl"),
            "--out", str(folder / "model.joblib"),
            "--cache-dir", str(folder / "cache"),
            "--cv-folds", "0",
            "--quiet",
            *extra,
        ]
    )  # fmt: skip


def _score(folder, *extra):
    return main(
        [
            "score",
            "--model", str(folder / "model.joblib"),
            "--pairs", str(folder / "pairs.jsonl"),
            "--out", str(folder / "scores.jsonl"),
            "--quiet",
            *extra,
        ]
    )  # fmt: skip


def test_fit_saves_a_model_of_every_label_seeded_as_a_round(labeled, capsys):
    assert _fit(labeled, "--seed", "4", "--round", "2", "--n-members", "3") == 0
    out = capsys.readouterr().out
    assert "reward model fitted on 24 labels (1 ties and 1 skips left out)" in out
    model = RewardModel.load(labeled / "model.joblib")
    assert model.n_labels_ == 24
    assert model.classifier_.random_state == _derived_seed(4, 2, 0)
    assert model.classifier_.n_members == 3 and model.classifier_.feature_layout_ == "a|b|prompt"
    assert model.embedder_identity_["model_fingerprint"] == backends.model_fingerprint(
        backends.resolve_model_path("default")
    )


def test_fit_prints_what_the_labels_teach(labeled, capsys):
    assert _fit(labeled, "--cv-folds", "3") == 0
    assert "what the labels teach (3-fold CV grouped by prompt, 24 labels" in (
        capsys.readouterr().out
    )


def test_score_writes_probabilities_and_rewards_and_checks_labels(labeled, capsys):
    _fit(labeled)
    write_jsonl(labeled / "pairs.jsonl", _rows(10))
    assert _score(labeled, "--cache-dir", str(labeled / "cache")) == 0
    scores = [record for _, record in read_jsonl(labeled / "scores.jsonl")]
    assert [sorted(s) for s in scores[:1]] == [["p_a_preferred", "pair_id", "reward_a", "reward_b"]]
    model = RewardModel.load(labeled / "model.joblib")
    X = np.array([[r["prompt"], r["response_a"], r["response_b"]] for r in _rows(10)], dtype=object)
    proba_a = model.predict_proba(X)[:, 0]
    np.testing.assert_allclose([s["p_a_preferred"] for s in scores], proba_a)
    y = np.arange(10) % 2
    out = capsys.readouterr().out
    assert f"log-likelihood {preference_log_likelihood(y, proba_a):.4f}" in out
    assert f"accuracy {preference_accuracy(y, proba_a):.3f}" in out


def test_score_refuses_another_embedding_model(labeled, capsys):
    _fit(labeled)
    write_jsonl(labeled / "pairs.jsonl", _rows(4, label=False))
    same = _model_copy(labeled / "same-model")
    assert _score(labeled, "--embedder-model", str(same)) == 0  # the same files elsewhere
    other = _model_copy(labeled / "other-model", change=True)
    assert _score(labeled, "--embedder-model", str(other)) == 2
    err = capsys.readouterr().err
    assert "skbalpm score: error: The reward model was fitted on features of another" in err
    assert "model_fingerprint" in err


def test_score_refuses_the_model_files_once_they_changed(labeled, capsys):
    model_folder = _model_copy(labeled / "model-folder")
    _fit(labeled, "--embedder-model", str(model_folder))
    write_jsonl(labeled / "pairs.jsonl", _rows(4, label=False))
    assert _score(labeled) == 0
    (model_folder / "data_config.json").write_text("[]")  # a file of the model changed
    assert _score(labeled) == 2
    assert "model_fingerprint: fitted with" in capsys.readouterr().err


def test_fit_needs_labels_of_both_kinds(tmp_path, capsys):
    write_jsonl(tmp_path / "labels.jsonl", [dict(r, label=0) for r in _rows(5)])
    assert _fit(tmp_path) == 2
    assert "needs labels of both kinds" in capsys.readouterr().err
    assert not (tmp_path / "model.joblib").exists()


def test_score_refuses_a_file_that_is_not_a_model(tmp_path, capsys):
    joblib.dump({"format": "something else"}, tmp_path / "model.joblib")
    write_jsonl(tmp_path / "pairs.jsonl", _rows(2))
    assert _score(tmp_path) == 2
    assert "not a reward model saved by skbalpm" in capsys.readouterr().err


def test_identity_ignores_where_the_model_lies_and_names_what_differs(tmp_path):
    X = [("Hi?", "Hello!", "Go away.")]
    default = embedder_identity(PreferencePairEmbedder(cache_dir=None).fit(X))
    moved = embedder_identity(
        PreferencePairEmbedder(_model_copy(tmp_path / "copy"), cache_dir=None).fit(X)
    )
    assert moved["model_path"] != default["model_path"]
    assert identity_differences(default, moved) == []
    short = embedder_identity(PreferencePairEmbedder(max_length=32, cache_dir=None).fit(X))
    assert identity_differences(default, short) == ["max_length"]
    no_prompt = embedder_identity(
        PreferencePairEmbedder(pair_template="{response}", cache_dir=None).fit(X)
    )
    assert identity_differences(default, no_prompt) == ["pair_template"]
