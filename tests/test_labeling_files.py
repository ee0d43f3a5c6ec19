"""The labeling desk's files: pair ids, the pool, the labeled file and the state file."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from conftest import fuzz
from hypothesis import given
from hypothesis import strategies as st

from skbalpm.datasets import MalformedRecordError
from skbalpm.labeling import (
    SelectionState,
    judgment_record,
    pair_id,
    read_labels,
    read_pool,
    write_jsonl,
)
from skbalpm.labeling._labels import append_judgments, count_judgments, trainable


def _pairs(n, prompt="Question {i}?"):
    return [
        {"prompt": prompt.format(i=i), "response_a": f"Answer {i}.", "response_b": f"No {i}."}
        for i in range(n)
    ]


# -- pair ids ---------------------------------------------------------------------------


def test_pair_id_is_a_hash_of_the_prompt_and_the_sorted_responses():
    text = json.dumps(["Hi?", "Go away.", "Hello!"], ensure_ascii=False)  # sorted responses
    expected = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    assert pair_id("Hi?", "Hello!", "Go away.") == expected
    assert pair_id("Hi?", "Go away.", "Hello!") == expected  # shown the other way round


@given(st.text(), st.text(), st.text(), st.text())
@fuzz(60)
def test_pair_ids_differ_when_the_texts_differ(prompt, a, b, other):
    if other not in (a, b):
        assert pair_id(prompt, a, b) != pair_id(prompt, a, other)
    if other != prompt:
        assert pair_id(prompt, a, b) != pair_id(other, a, b)


# -- the pool ---------------------------------------------------------------------------


def test_unlabelled_table_is_a_pool_with_duplicates_and_identical_responses_dropped(tmp_path):
    rows = _pairs(4)
    rows.append(dict(rows[1]))  # the same pair again
    rows.append({"prompt": "Q?", "response_a": " Same.", "response_b": "Same. "})
    swapped = dict(rows[2], response_a=rows[2]["response_b"], response_b=rows[2]["response_a"])
    rows.append(swapped)  # the same comparison shown the other way round
    write_jsonl(tmp_path / "pool.jsonl", rows)
    pool = read_pool(tmp_path / "pool.jsonl")
    assert pool.y is None
    assert pool.X.tolist() == [list(r.values()) for r in rows[:4]]
    assert pool.skipped == {"identical_responses": 1, "duplicate_pairs": 2}
    assert pool.n_records == 7


def test_unlabelled_csv_with_other_column_names(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("question,first,second\nHi?,Hello!,Go away.\nBye?,Bye!,No.\n")
    columns = {"prompt": "question", "response_a": "first", "response_b": "second"}
    pool = read_pool(path, columns=columns)
    assert pool.X[:, 0].tolist() == ["Hi?", "Bye?"] and pool.y is None


def test_labelled_file_keeps_its_labels(tmp_path):
    rows = [dict(r, label=i % 2) for i, r in enumerate(_pairs(6))]
    write_jsonl(tmp_path / "pool.jsonl", rows)
    pool = read_pool(tmp_path / "pool.jsonl")
    assert pool.y.tolist() == [0, 1, 0, 1, 0, 1]


def test_bundled_sample_drops_repeated_comparisons():
    pool = read_pool("sample:tldr")  # some TL;DR pairs were compared by several labelers
    assert len(set(pool.pair_ids)) == len(pool.pair_ids) == 400 - pool.skipped["duplicate_pairs"]


def test_malformed_pool_record_names_file_and_line(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text(
        json.dumps(_pairs(1)[0]) + "\n" + '{"prompt": "Q", "response_a": 3, "response_b": "x"}\n'
    )
    with pytest.raises(MalformedRecordError, match=r"pool.jsonl, line 2.*'response_a'"):
        read_pool(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        read_pool(tmp_path / "missing.jsonl")


# -- the labeled file -------------------------------------------------------------------


def test_labels_read_every_kind_of_judgment(tmp_path):
    rows = [dict(r, label=v) for r, v in zip(_pairs(5), [0, "1", 0.5, "Skip", "b"], strict=True)]
    write_jsonl(tmp_path / "labels.jsonl", rows)
    labels = read_labels(tmp_path / "labels.jsonl")
    assert labels.label.tolist() == [0, 1, "tie", "skip", 1]
    assert trainable(labels.label).tolist() == [True, True, False, False, True]
    assert count_judgments(labels.label) == {"labels": 3, "ties": 1, "skips": 1}
    assert labels.pair_ids.tolist() == [pair_id(*r.values()) for r in _pairs(5)]


@pytest.mark.parametrize(
    "record, message",
    [
        ({"label": 2}, r"line 2: label 2 is not a judgment"),
        ({"pair_id": "0123"}, r"line 2: pair_id '0123' is not the id"),
        ({"label": None, "prompt": 5}, r"line 2: field 'prompt' should be str"),
    ],
)
def test_bad_labeled_records_are_named(tmp_path, record, message):
    good = dict(_pairs(1)[0], label=0)
    bad = {**dict(_pairs(2)[1], label=1), **record}
    write_jsonl(tmp_path / "labels.jsonl", [good, bad])
    with pytest.raises(MalformedRecordError, match=message):
        read_labels(tmp_path / "labels.jsonl")


def test_appending_skips_annotations_already_imported(tmp_path):
    path = tmp_path / "labels.jsonl"
    first = judgment_record(tuple(_pairs(1)[0].values()), 0, source="t", annotation_id="a1")
    second = judgment_record(tuple(_pairs(2)[1].values()), "tie", source="t", annotation_id="a2")
    assert append_judgments(path, [first]).n_added == 1
    result = append_judgments(path, [first, second])
    assert (result.n_added, result.n_already) == (1, 1)
    assert read_labels(path).label.tolist() == [0, "tie"]


def test_a_crash_while_appending_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "labels.jsonl"
    append_judgments(path, [judgment_record(tuple(_pairs(1)[0].values()), 1, source="t")])
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        append_judgments(path, [judgment_record(tuple(_pairs(2)[1].values()), 0, source="t")])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]  # no temporary left


# -- the state file ---------------------------------------------------------------------


def _write_batch(path, ids):
    write_jsonl(path, [{"pair_id": i} for i in ids])


def test_pending_pairs_are_sent_minus_returned_minus_released(tmp_path):
    state = SelectionState(tmp_path / "state.json")
    state.record_batch(tmp_path / "b1.jsonl", ["a", "b"], kind="initial", write=None)
    state.record_batch(tmp_path / "b2.jsonl", ["c", "d"], kind="round", write=None, round_index=0)
    loaded = SelectionState.load(tmp_path / "state.json")
    assert loaded.pending_ids(returned={"a", "c"}) == {"b", "d"}
    assert loaded.n_rounds() == 1
    assert loaded.release(tmp_path / "b2.jsonl") == 1
    assert SelectionState.load(tmp_path / "state.json").pending_ids(returned={"a"}) == {"b"}


def test_a_crash_before_the_batch_file_is_written_sends_nothing(tmp_path):
    state = SelectionState(tmp_path / "state.json")

    def crash():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        state.record_batch(tmp_path / "b.jsonl", ["a", "b"], kind="initial", write=crash)
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["batches"][0]["status"] == "prepared"
    loaded = SelectionState.load(tmp_path / "state.json")
    assert loaded.batches == [] and loaded.pending_ids(returned=set()) == set()
    assert "go back to the pool" in loaded.notes[0]


def test_a_crash_after_the_batch_file_is_written_keeps_it_sent(tmp_path):
    state = SelectionState(tmp_path / "state.json")

    def write_then_crash():
        _write_batch(tmp_path / "b.jsonl", ["a", "b"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        state.record_batch(tmp_path / "b.jsonl", ["a", "b"], kind="initial", write=write_then_crash)
    loaded = SelectionState.load(tmp_path / "state.json")
    assert loaded.pending_ids(returned=set()) == {"a", "b"}
    assert "was written before a crash: sent" in loaded.notes[0]


def test_an_older_batch_file_under_the_same_name_is_not_taken_for_the_new_one(tmp_path):
    state = SelectionState(tmp_path / "state.json")
    _write_batch(tmp_path / "b.jsonl", ["old"])

    def crash():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        state.record_batch(tmp_path / "b.jsonl", ["new"], kind="initial", write=crash)
    assert SelectionState.load(tmp_path / "state.json").sent_ids() == set()


def test_a_crash_mid_write_of_the_state_keeps_the_previous_state(tmp_path, monkeypatch):
    state = SelectionState(tmp_path / "state.json")
    state.record_batch(tmp_path / "b1.jsonl", ["a"], kind="initial", write=None)
    before = (tmp_path / "state.json").read_bytes()

    def crash(src, dst):
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        state.record_batch(tmp_path / "b2.jsonl", ["b"], kind="round", write=None)
    assert (tmp_path / "state.json").read_bytes() == before


def test_a_foreign_state_file_is_refused(tmp_path):
    (tmp_path / "state.json").write_text('{"batches": []}')
    with pytest.raises(ValueError, match=r"state.json: not a state file of skbalpm select"):
        SelectionState.load(tmp_path / "state.json")
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(ValueError, match="not a state file"):
        SelectionState.load(tmp_path / "state.json")


@given(
    st.lists(st.lists(st.integers(0, 30), unique=True, max_size=6), max_size=6),
    st.sets(st.integers(0, 30)),
)
@fuzz(60)
def test_pending_is_every_sent_pair_not_returned(tmp_path_factory, batches, returned):
    folder = tmp_path_factory.mktemp("state")
    state = SelectionState(folder / "state.json")
    for k, ids in enumerate(batches):
        state.record_batch(folder / f"b{k}.jsonl", [str(i) for i in ids], kind="round", write=None)
    sent = {str(i) for ids in batches for i in ids}
    returned = {str(i) for i in returned}
    assert SelectionState.load(folder / "state.json").pending_ids(returned) == sent - returned
    assert np.all([b["status"] == "sent" for b in state.batches])
