"""Tests of the loaders (hand-made files and the real data) and the synthetic generator."""

from __future__ import annotations

import gzip
import json
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skbalpm.datasets import (
    SKIP_REASONS,
    MalformedRecordError,
    load_hf_dataset,
    load_hh_rlhf,
    load_llmbar,
    load_pandalm,
    load_preference_file,
    load_summarize_from_feedback,
    make_synthetic_preferences,
    split_hh_conversations,
)

H, A = "\n\nHuman:", "\n\nAssistant:"


def _write_jsonl(path, records, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def _check_bunch(data):
    assert data.X.dtype == object and data.X.shape == (len(data.y), 3)
    assert set(np.unique(data.y)) <= {0, 1}
    assert data.n_records == len(data.y) + data.n_skipped
    assert data.n_skipped == sum(data.skipped.values())
    assert set(data.skipped) <= set(SKIP_REASONS)
    assert all(isinstance(v, str) for v in data.X.ravel())


# ---------------------------------------------------------------- HH-RLHF
def test_split_hh_uses_shared_prefix_when_a_response_contains_an_assistant_turn():
    chosen = f"{H} Q{A} Sure.{A} More."
    rejected = f"{H} Q{A} No."
    assert split_hh_conversations(chosen, rejected) == (
        f"{H} Q{A}",
        " Sure.\n\nAssistant: More.",
        " No.",
    )


def test_split_hh_multi_turn_prompt_keeps_earlier_turns():
    chosen = f"{H} Q{A} R1{H} Q2{A} good"
    rejected = f"{H} Q{A} R1{H} Q2{A} bad"
    assert split_hh_conversations(chosen, rejected) == (f"{H} Q{A} R1{H} Q2{A}", " good", " bad")


def test_split_hh_without_shared_assistant_turn():
    assert split_hh_conversations(f"{H} x{A} a", f"{H} y{A} b") == (None, None, None)


def test_hh_loader_swaps_balanced_and_keeps_chosen_as_preferred(tmp_path):
    records = [
        {"chosen": f"{H} q{i}{A} good{i}", "rejected": f"{H} q{i}{A} bad{i}"} for i in range(11)
    ]
    records.append({"chosen": f"{H} same{A} x", "rejected": f"{H} same{A} x "})
    records.append({"chosen": f"{H} one{A} x", "rejected": f"{H} two{A} y"})
    data = load_hh_rlhf(_write_jsonl(tmp_path / "hh.jsonl.gz", records, gz=True), random_state=3)
    _check_bunch(data)
    assert data.skipped == {"identical_responses": 1, "no_shared_prompt": 1}
    assert data.y.sum() == 5  # floor(11 / 2)
    for (prompt, a, b), label in zip(data.X, data.y, strict=True):
        preferred = (a, b)[label]
        assert preferred.startswith(" good") and prompt.endswith(A)
    again = load_hh_rlhf(tmp_path / "hh.jsonl.gz", random_state=3)
    np.testing.assert_array_equal(again.y, data.y)
    other = load_hh_rlhf(tmp_path / "hh.jsonl.gz", random_state=4)
    assert not np.array_equal(other.y, data.y)


def test_hh_loader_names_file_and_line_of_malformed_records(tmp_path):
    good = json.dumps({"chosen": f"{H} q{A} a", "rejected": f"{H} q{A} b"})
    path = _write_jsonl(tmp_path / "bad.jsonl", [good, "", "{not json"])
    with pytest.raises(MalformedRecordError, match=r"bad.jsonl, line 3: not valid JSON"):
        load_hh_rlhf(path)
    path = _write_jsonl(tmp_path / "bad2.jsonl", [good, json.dumps({"chosen": "x"})])
    with pytest.raises(MalformedRecordError, match=r"bad2.jsonl, line 2: missing field 'rejected'"):
        load_hh_rlhf(path)
    path = _write_jsonl(tmp_path / "bad3.jsonl", [json.dumps({"chosen": 1, "rejected": "x"})])
    with pytest.raises(
        MalformedRecordError, match=r"line 1: field 'chosen' should be str, got int"
    ):
        load_hh_rlhf(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        load_hh_rlhf(tmp_path / "nope.jsonl")


# ---------------------------------------------------------------- summarize-from-feedback
def _tldr(i, choice=0, a="x", b="y"):
    info = {"id": f"t3_{i}", "post": f"post {i}", "title": "T", "subreddit": "s"}
    return {"info": info, "summaries": [{"text": a}, {"text": b}], "choice": choice}


def test_summarize_loader_labels_groups_and_skips(tmp_path):
    records = [_tldr(1, 0), _tldr(1, 1, "u", "v"), _tldr(2, 1), _tldr(3, 0, "same", " same")]
    cnn = {
        "info": {"id": "cnn1", "site": "x", "title": "T", "article": "A"},
        "summaries": [{"text": "p"}, {"text": "q"}],
        "choice": 1,
    }
    data = load_summarize_from_feedback(_write_jsonl(tmp_path / "c.jsonl", [*records, cnn]))
    _check_bunch(data)
    assert data.y.tolist() == [0, 1, 1, 1]
    assert data.groups.tolist() == ["t3_1", "t3_1", "t3_2", "cnn1"]
    assert data.skipped == {"identical_responses": 1}
    assert data.X[0, 0] == "SUBREDDIT: r/s\nTITLE: T\nPOST: post 1\nTL;DR:"
    assert data.X[3, 0] == "TITLE: T\nARTICLE: A\nTL;DR:"
    assert tuple(data.X[1, 1:]) == ("u", "v")


@pytest.mark.parametrize(
    ("record", "match"),
    [
        (_tldr(1, 2), r"line 1: 'choice' should be 0 or 1, got 2"),
        ({**_tldr(1), "summaries": [{"text": "x"}]}, "should hold 2 summaries, got 1"),
        ({**_tldr(1), "info": {"id": "x"}}, "neither 'post'"),
        ({"summaries": [], "choice": 0}, "missing field 'info'"),
    ],
)
def test_summarize_loader_malformed(tmp_path, record, match):
    with pytest.raises(MalformedRecordError, match=match):
        load_summarize_from_feedback(_write_jsonl(tmp_path / "c.jsonl", [record]))


# ---------------------------------------------------------------- generic tables
def test_generic_csv_labelled_layout_with_ties_and_custom_columns(tmp_path):
    frame = pd.DataFrame(
        {
            "q": ["p1", "p2", "p3", "p4"],
            "x": ["a", "a", "a", "s"],
            "z": ["b", "b", "b", "s"],
            "win": ["1", "0", "tie", "0"],
            "post": ["g1", "g1", "g2", "g3"],
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = load_preference_file(
        tmp_path / "t.csv",
        prompt_column="q",
        response_a_column="x",
        response_b_column="z",
        label_column="win",
        group_column="post",
    )
    _check_bunch(data)
    assert data.y.tolist() == [1, 0]
    assert data.groups.tolist() == ["g1", "g1"]
    assert data.skipped == {"tie": 1, "identical_responses": 1}


def test_generic_parquet_and_jsonl_chosen_rejected_layouts_agree(tmp_path):
    frame = pd.DataFrame(
        {
            "prompt": [f"p{i}" for i in range(9)],
            "chosen": [f"good{i}" for i in range(9)],
            "rejected": [f"bad{i}" for i in range(9)],
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    _write_jsonl(tmp_path / "t.jsonl", frame.to_dict(orient="records"))
    from_parquet = load_preference_file(tmp_path / "t.parquet", random_state=1)
    from_jsonl = load_preference_file(tmp_path / "t.jsonl", format="jsonl", random_state=1)
    _check_bunch(from_parquet)
    np.testing.assert_array_equal(from_parquet.X, from_jsonl.X)
    np.testing.assert_array_equal(from_parquet.y, from_jsonl.y)
    assert from_parquet.y.sum() == 4
    for (_, a, b), label in zip(from_parquet.X, from_parquet.y, strict=True):
        assert (a, b)[label].startswith("good")


def test_generic_json_list_reads_like_json_lines(tmp_path):
    records = [
        {"prompt": "p0", "response_a": "a0", "response_b": "b0", "label": 1},
        {"prompt": "p1", "response_a": "a1", "response_b": "b1", "label": 0},
    ]
    lines = load_preference_file(_write_jsonl(tmp_path / "t.jsonl", records))
    listed = tmp_path / "t.json"
    listed.write_text("\n  " + json.dumps(records, indent=1), encoding="utf-8")
    as_list = load_preference_file(listed)
    np.testing.assert_array_equal(as_list.X, lines.X)
    assert as_list.y.tolist() == [1, 0]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"prompt": "p", "response_a": "a"}]), encoding="utf-8")
    with pytest.raises(MalformedRecordError, match=r"bad.json, record 0: found neither"):
        load_preference_file(bad)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_swapped_pairs_do_not_line_up_with_a_same_seed_train_test_split(tmp_path, seed):
    """A user's train_test_split(random_state=s) of data loaded with random_state=s must
    not get only swapped pairs (label 1) in its test split."""
    from sklearn.model_selection import train_test_split

    records = [{"prompt": f"p{i}", "chosen": f"good{i}", "rejected": f"bad{i}"} for i in range(200)]
    data = load_preference_file(_write_jsonl(tmp_path / "t.jsonl", records), random_state=seed)
    assert data.y.sum() == 100
    _, _, y_train, y_test = train_test_split(data.X, data.y, test_size=0.2, random_state=seed)
    assert 0.25 < y_test.mean() < 0.75 and 0.25 < y_train.mean() < 0.75
    # the same seed's first 50 of a permutation (the benchmark's initial set) too
    first = np.random.RandomState(seed).permutation(len(data.y))[:50]
    assert 0.2 < data.y[first].mean() < 0.8


def test_positions_to_swap_are_half_distinct_and_seeded():
    from skbalpm.datasets._common import positions_to_swap

    positions = positions_to_swap(11, 3)
    assert len(positions) == 5 and len(set(positions.tolist())) == 5
    assert positions.min() >= 0 and positions.max() < 11
    np.testing.assert_array_equal(positions, positions_to_swap(11, 3))
    assert not np.array_equal(positions_to_swap(100, 3), positions_to_swap(100, 4))
    assert positions_to_swap(1, 0).size == 0


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (
            [{"prompt": "p", "response_a": "a", "response_b": "b", "label": 2}],
            r"line 1: label 2 is not one of the label map.s values",
        ),
        (
            [{"prompt": "p", "response_a": "a", "response_b": None, "label": 0}],
            "'response_b' should hold text",
        ),
        ([{"prompt": "p", "a": "a", "b": "b"}], "found neither the columns"),
    ],
)
def test_generic_malformed(tmp_path, rows, match):
    with pytest.raises(MalformedRecordError, match=match):
        load_preference_file(_write_jsonl(tmp_path / "t.jsonl", rows))


def test_generic_csv_rows_wider_than_the_header_are_an_error(tmp_path):
    # With one field more than the header in every row, pandas would take the first
    # column as the index and shift every text one column left (prompt lost, the label
    # read as response_b): an error naming the file, never shifted data.
    path = tmp_path / "wide.csv"
    path.write_text("prompt,response_a,response_b,label\nHi,Hello,Bye,0,1\nHo,A,B,1,0\n")
    with pytest.raises(MalformedRecordError, match=r"wide\.csv.*more fields than the header"):
        load_preference_file(path)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", b"", r"empty\.csv: empty file"),
        (
            "quote.csv",
            b'prompt,response_a,response_b,label\n"Hi,a,b,0\n',
            r"quote\.csv: not valid CSV",
        ),
        (
            "latin1.csv",
            b"prompt,response_a,response_b,label\ncaf\xe9,a,b,0\n",
            r"latin1\.csv, line 2: not UTF-8",
        ),
        ("latin1.jsonl", b'{"prompt": "caf\xe9"}\n', r"latin1\.jsonl, line 1: not UTF-8"),
        ("fake.jsonl.gz", b"plain text", r"fake\.jsonl\.gz: not a valid gzip file"),
    ],
)
def test_unreadable_files_are_errors_that_name_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MalformedRecordError, match=match):
        load_preference_file(path)


def test_unreadable_json_files_name_the_file(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[{"input": "caf\xe9"}]')
    with pytest.raises(MalformedRecordError, match=r"latin1\.json, line 1: not UTF-8"):
        load_llmbar(path)
    path = tmp_path / "fake.jsonl.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(MalformedRecordError, match=r"fake\.jsonl\.gz: not a valid gzip file"):
        load_hh_rlhf(path)


def test_judge_loaders_reject_boolean_labels(tmp_path):
    # JSON true is not the label 1: LLMBar's label is 1 or 2, PandaLM's votes 0, 1 or 2.
    path = tmp_path / "llmbar.json"
    path.write_text(json.dumps([{"input": "i", "output_1": "a", "output_2": "b", "label": True}]))
    with pytest.raises(
        MalformedRecordError, match=r"record 0: field 'label' should be int, got bool"
    ):
        load_llmbar(path)
    votes = {"annotator1": True, "annotator2": True, "annotator3": 1}
    record = {"instruction": "i", "input": "", "response1": "a", "response2": "b", **votes}
    path = tmp_path / "pandalm.json"
    path.write_text(json.dumps([record]))
    with pytest.raises(MalformedRecordError, match=r"field 'annotator1' should be int, got bool"):
        load_pandalm(path)


def test_generic_bad_format_and_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        load_preference_file(tmp_path / "x.csv", format="xml")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="Cannot tell the format"):
        load_preference_file(tmp_path / "x.txt")


def test_hf_loader_names_the_extra_when_datasets_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ImportError, match=r"skbalpm\[hf\]"):
        load_hf_dataset("Anthropic/hh-rlhf")


# ---------------------------------------------------------------- real data
@pytest.mark.real_data
@pytest.mark.parametrize(
    ("name", "n_records"),
    [
        ("harmless-base", 2312),
        ("helpful-base", 2354),
        ("helpful-online", 1137),
        ("helpful-rejection-sampled", 2749),
    ],
)
def test_real_hh_rlhf_counts(shared_data_dir, name, n_records):
    data = load_hh_rlhf(shared_data_dir / "hh-rlhf" / f"{name}-test.jsonl.gz")
    _check_bunch(data)
    assert data.n_records == n_records
    assert abs(data.y.mean() - 0.5) <= 0.5 / len(data.y) + 1e-12
    # every prompt ends in an assistant turn and no kept pair has identical responses
    assert all(p.endswith(A) for p in data.X[:, 0])
    assert not any(a.strip() == b.strip() for a, b in data.X[:, 1:])


@pytest.mark.real_data
def test_real_hh_rlhf_pooled(shared_data_dir):
    names = ["helpful-base", "helpful-online", "helpful-rejection-sampled"]
    paths = [shared_data_dir / "hh-rlhf" / f"{n}-test.jsonl.gz" for n in names]
    data = load_hh_rlhf(paths)
    _check_bunch(data)
    assert data.n_records == 2354 + 1137 + 2749
    assert np.bincount(data.file_index).tolist() == [load_hh_rlhf(p).y.size for p in paths]


@pytest.mark.real_data
def test_real_tldr(shared_data_dir):
    path = shared_data_dir / "summarize-from-feedback" / "tldr-batch13.jsonl"
    data = load_summarize_from_feedback(path)
    _check_bunch(data)
    assert data.n_records == 1097
    assert len(set(data.groups)) == 905
    # independent count of the labels straight from the file
    choices = [json.loads(line)["choice"] for line in path.open()]
    np.testing.assert_array_equal(data.y, choices)


@pytest.mark.real_data
def test_real_pandalm_and_llmbar(shared_data_dir):
    pandalm = load_pandalm(shared_data_dir / "pandalm" / "testset-v1.json")
    _check_bunch(pandalm)
    assert pandalm.n_records == 999
    assert pandalm.skipped.get("tie", 0) > 0
    files = sorted((shared_data_dir / "llmbar").glob("*.json"))
    llmbar = load_llmbar(files)
    _check_bunch(llmbar)
    assert llmbar.n_records == sum(len(json.loads(f.read_text())) for f in files)
    first = json.loads(files[0].read_text())[0]
    assert llmbar.y[0] == first["label"] - 1


# ---------------------------------------------------------------- synthetic
@settings(max_examples=15, deadline=None)
@given(
    n_samples=st.integers(2, 60),
    d=st.integers(2, 8),
    n_topics=st.integers(1, 20),
    seed=st.integers(0, 2**31 - 1),
)
def test_synthetic_shapes_and_contract(n_samples, d, n_topics, seed):
    data = make_synthetic_preferences(n_samples, d, n_topics, random_state=seed)
    assert data.X.shape == (n_samples, 3 * d) and data.X.dtype == np.float32
    assert set(np.unique(data.y)) <= {0, 1}
    np.testing.assert_allclose(np.linalg.norm(data.X[:, 2 * d :], axis=1), 1.0, rtol=1e-5)
    assert 0.5 <= data.bayes_accuracy <= 1.0 and data.bayes_log_likelihood <= 0
    assert data.groups.max() < n_topics
    again = make_synthetic_preferences(n_samples, d, n_topics, random_state=seed)
    np.testing.assert_array_equal(again.X, data.X)
    np.testing.assert_array_equal(again.y, data.y)


def test_synthetic_bayes_figures_match_sampled_labels():
    data = make_synthetic_preferences(20000, 8, 30, random_state=0)
    # the true model's accuracy on the sampled labels is close to its expectation
    predicted = (data.proba_a < 0.5).astype(int)
    assert abs((predicted == data.y).mean() - data.bayes_accuracy) < 0.015
    p = np.where(data.y == 0, data.proba_a, 1 - data.proba_a)
    assert abs(np.log(p).mean() - data.bayes_log_likelihood) < 0.02


def test_synthetic_topics_are_power_law_and_prompts_near_duplicates():
    data = make_synthetic_preferences(5000, 16, 100, topic_size_exponent=1.1, random_state=1)
    counts = np.bincount(data.groups, minlength=100)
    assert counts[:5].sum() > 0.3 * 5000  # a few big topics...
    assert (counts > 0).sum() > 60  # ...and a long tail
    prompts = data.X[:, 32:]
    big = prompts[data.groups == 0]
    assert (big @ big.T).min() > 0.9  # near-duplicate prompts within a topic


def test_synthetic_reward_is_a_function_of_the_visible_feature():
    # swapping a and b must flip P(a preferred): the reward sees only its own block
    data = make_synthetic_preferences(50, 6, 5, random_state=2)
    np.testing.assert_allclose(data.proba_a, 1 / (1 + np.exp(-(data.reward_a - data.reward_b))))


def test_synthetic_text_mode():
    data = make_synthetic_preferences(40, n_topics=10, return_text=True, random_state=0)
    assert data.X.shape == (40, 3) and data.X.dtype == object
    assert all(isinstance(v, str) and v for v in data.X.ravel())
    assert 0.5 < data.bayes_accuracy < 1
    # no pair offers the same response twice (the loaders would skip such pairs)
    many = make_synthetic_preferences(3000, return_text=True, random_state=0)
    assert (many.X[:, 1] != many.X[:, 2]).all()
    with pytest.raises(ValueError, match="at most"):
        make_synthetic_preferences(10, n_topics=1000, return_text=True)


def test_synthetic_test_pairs_leave_the_pool_unchanged():
    pool = make_synthetic_preferences(300, 6, 20, random_state=3)
    both = make_synthetic_preferences(300, 6, 20, n_test_samples=50, random_state=3)
    for name in ("X", "y", "groups", "proba_a"):
        np.testing.assert_array_equal(getattr(both, name), getattr(pool, name))
    assert both.X_test.shape == (50, 18) and both.X_test.dtype == np.float32
    assert both.y_test.shape == both.groups_test.shape == both.proba_a_test.shape == (50,)
    assert "X_test" not in pool


def _quadratic_features(x_ND):
    """[x, x_i x_j for i <= j]: the reward is linear in these."""
    i, j = np.triu_indices(x_ND.shape[1])
    return np.hstack([x_ND, x_ND[:, i] * x_ND[:, j]])


def test_synthetic_test_pairs_share_the_pools_hidden_reward():
    d = 4
    data = make_synthetic_preferences(400, d, 10, n_test_samples=100, random_state=4)
    # the reward is a quadratic form of the response block: fit it exactly on the pool...
    features = _quadratic_features(np.vstack([data.X[:, :d], data.X[:, d : 2 * d]]))
    rewards = np.concatenate([data.reward_a, data.reward_b])
    coef, *_ = np.linalg.lstsq(features.astype(np.float64), rewards, rcond=None)
    # ...and it predicts the test pairs' rewards (float32 features: 1e-4)
    predicted = _quadratic_features(data.X_test[:, :d].astype(np.float64)) @ coef
    np.testing.assert_allclose(predicted, data.reward_a_test, atol=1e-3)
    p = 1 / (1 + np.exp(-(data.reward_a_test - data.reward_b_test)))
    np.testing.assert_allclose(data.proba_a_test, p)


def test_synthetic_test_topics_uniform_or_as_the_pool():
    kwargs = dict(n_samples=2000, n_features=4, n_topics=20, n_test_samples=20_000)
    uniform = make_synthetic_preferences(**kwargs, random_state=5)
    counts = np.bincount(uniform.groups_test, minlength=20)
    assert counts.min() > 850 and counts.max() < 1150  # 1000 each
    pool_like = make_synthetic_preferences(**kwargs, test_topics="pool", random_state=5)
    shares = np.bincount(pool_like.groups_test, minlength=20) / 20_000
    np.testing.assert_allclose(shares, pool_like.topic_weights, atol=0.015)
    assert 0.5 < uniform.bayes_accuracy_test <= 1 and uniform.bayes_log_likelihood_test < 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 1}, "n_samples"),
        ({"prompt_weight": 1.0}, "prompt_weight"),
        ({"n_topics": 0}, "n_topics"),
        ({"topic_size_exponent": -1}, "exponent"),
        ({"n_test_samples": -1}, "n_test_samples"),
        ({"n_test_samples": 2.5}, "n_test_samples"),
        ({"n_test_samples": 5, "test_topics": "rare"}, "test_topics"),
        ({"n_test_samples": 5, "return_text": True}, "feature mode"),
    ],
)
def test_synthetic_bad_params(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_preferences(**kwargs)


# ---------------------------------------------------------------- found by the fuzz suite
@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"prompt": ' + "[" * 50_000 + "]" * 50_000 + "}\n", r"t\.jsonl, line 1: JSON nested"),
        ('{"label": ' + "9" * 5000 + "}\n", r"t\.jsonl, line 1: not usable JSON"),
        (
            '{"prompt": "a \\ud800", "response_a": "x", "response_b": "y", "label": 0}\n',
            r"t\.jsonl, line 1: field 'prompt' is not valid Unicode",
        ),
    ],
)
def test_json_that_python_cannot_take_is_a_record_error(tmp_path, text, match):
    path = tmp_path / "t.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MalformedRecordError, match=match):
        load_preference_file(path)


def test_json_lists_name_the_record_of_an_error(tmp_path):
    path = tmp_path / "l.json"
    good = {"input": "q", "output_1": "a", "output_2": "b", "label": 1}
    path.write_text("[\n" + json.dumps(good) + ",\n" + '{"input": "q", "output_1": 9' + "9" * 5000)
    with pytest.raises(MalformedRecordError, match=r"l\.json, record 1 \(line 3\): not usable"):
        load_llmbar(path)
    path.write_text(json.dumps([good, good]) + "]")
    with pytest.raises(MalformedRecordError, match=r"l\.json: not valid JSON.*extra data"):
        load_llmbar(path)
    path.write_text(json.dumps([good]).replace("]", ",]"))
    with pytest.raises(MalformedRecordError, match=r"l\.json, record 1 \(line 1\)"):
        load_llmbar(path)


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    record = {"prompt": "p", "response_a": "a", "response_b": "b", "label": 1}
    for name, text in (("t.jsonl", json.dumps(record) + "\n"), ("t.json", json.dumps([record]))):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert load_preference_file(path).X.tolist() == [["p", "a", "b"]]
    path = tmp_path / "hh.jsonl.gz"
    _write_jsonl(path, [], gz=True)
    path.write_bytes(
        gzip.compress(
            b"\xef\xbb\xbf"
            + json.dumps({"chosen": f"{H} q{A} a", "rejected": f"{H} q{A} b"}).encode()
        )
    )
    assert load_hh_rlhf(path).n_records == 1


@pytest.mark.parametrize("content", [b"", b"PAR1 not really", b"{}"])
def test_a_broken_parquet_file_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "t.parquet"
    path.write_bytes(content)
    with pytest.raises(MalformedRecordError, match=r"t\.parquet: not a Parquet file"):
        load_preference_file(path)
