"""Real files as they come: column names and label maps, in the generic loader and on the
command line (``--columns``, ``--label-map``), ties skipped and counted; ``--quiet``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
from test_datasets import _check_bunch

from skbalpm.benchmark._cli import load_benchmark_data, parse_columns, parse_label_map
from skbalpm.cli import main
from skbalpm.datasets import MalformedRecordError, load_preference_file

JUDGE_COLUMNS = {"response_a_column": "response 1", "response_b_column": "response 2"}
JUDGE_LABELS = {"a": 0, "b": 1, "tie": 2}


def write_judge_csv(path, labels):
    """A pairwise-judge table: prompt, response 1, response 2, label (2 = a tie)."""
    pd.DataFrame(
        {
            "prompt": [f"Question {i}?" for i in range(len(labels))],
            "response 1": [f"A careful answer, number {i}." for i in range(len(labels))],
            "response 2": [f"No idea {i}." for i in range(len(labels))],
            "label": labels,
        }
    ).to_csv(path, index=False)
    return path


# -- the loader -----------------------------------------------------------------------------


def test_judge_file_with_ties_loads_and_counts_them(tmp_path):
    path = write_judge_csv(tmp_path / "judge.csv", [0, 2, 1, 2, 2, 0])
    data = load_preference_file(path, **JUDGE_COLUMNS, label_map=JUDGE_LABELS)
    _check_bunch(data)
    assert data.y.tolist() == [0, 1, 0]
    assert data.X[:, 0].tolist() == ["Question 0?", "Question 2?", "Question 5?"]
    assert data.X[1, 1] == "A careful answer, number 2."
    assert data.n_ties == 3 and data.skipped == {"tie": 3} and data.n_records == 6


def test_without_a_label_map_a_2_is_an_error_naming_the_row(tmp_path):
    path = write_judge_csv(tmp_path / "judge.csv", [0, 2])
    with pytest.raises(MalformedRecordError, match=r"judge\.csv, data row 2: label '2'"):
        load_preference_file(path, **JUDGE_COLUMNS)


@pytest.mark.parametrize(
    ("values", "label_map", "expected_y", "n_ties"),
    [
        ([1, 2, 1.0, 2.0], {"a": 1, "b": 2}, [0, 1, 0, 1], 0),  # numbers match by value
        (["A", " b ", "Tie", "a"], {"a": "a", "b": "B", "tie": "tie"}, [0, 1, 0], 1),
        ([0, 3, 9, 1], {"a": [0, 9], "b": 1, "tie": [3]}, [0, 0, 1], 1),
        ([0.5, "tie", 1, 0], None, [1, 0], 2),  # the default map
    ],
)
@pytest.mark.parametrize("suffix", ["jsonl", "json", "parquet"])
def test_label_maps_across_formats(tmp_path, values, label_map, expected_y, n_ties, suffix):
    records = [
        {"prompt": f"p{i}", "response_a": f"a{i}", "response_b": f"b{i}", "label": value}
        for i, value in enumerate(values)
    ]
    path = tmp_path / f"t.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif suffix == "json":
        path.write_text(json.dumps(records))
    else:
        frame = pd.DataFrame(records)
        frame["label"] = frame["label"].astype(str)  # parquet wants one type per column
        frame.to_parquet(path)
    data = load_preference_file(path, label_map=label_map)
    _check_bunch(data)
    assert data.y.tolist() == expected_y and data.n_ties == n_ties


def test_an_unknown_label_names_the_file_line_and_the_map(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [{"prompt": "p", "response_a": "a", "response_b": "b", "label": v} for v in (1, 7)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(MalformedRecordError, match=r"t\.jsonl, line 2: label 7 .*a: 1; b: 2"):
        load_preference_file(path, label_map={"a": 1, "b": 2})


@pytest.mark.parametrize(
    ("label_map", "match"),
    [
        ({"a": 0}, "needs the keys 'a' and 'b'"),
        ({"a": 0, "b": 1, "draw": 2}, "needs the keys"),
        ({"a": 0, "b": [1, 0]}, "means both 'a' and 'b'"),
        ({"a": 0, "b": "1.0", "tie": 1}, "means both 'b' and 'tie'"),
        ({"a": None, "b": 1}, "cannot be a label value"),
        ({"a": [], "b": 1}, "lists no value"),
        ([0, 1], "must be a dict"),
    ],
)
def test_a_bad_label_map_fails_before_reading(tmp_path, label_map, match):
    with pytest.raises(ValueError, match=match):
        load_preference_file(tmp_path / "never-read.csv", label_map=label_map)


def test_a_label_map_on_a_chosen_rejected_file_is_an_error(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    with pytest.raises(ValueError, match=r"line 1: a label map was given.*chosen/rejected"):
        load_preference_file(path, label_map=JUDGE_LABELS)


def test_group_column_text_or_integer_and_never_silently_missing(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [
        {"prompt": "p", "response_a": "a", "response_b": "b", "label": 0, "post": 17},
        {"prompt": "q", "response_a": "a", "response_b": "b", "label": 1, "post": "t3_x"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load_preference_file(path, group_column="post").groups.tolist() == ["17", "t3_x"]
    rows.append({"prompt": "r", "response_a": "a", "response_b": "b", "label": 1})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(MalformedRecordError, match=r"line 3: missing group column 'post'"):
        load_preference_file(path, group_column="post")
    rows[2]["post"] = None
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(MalformedRecordError, match=r"line 3: the group column 'post' should"):
        load_preference_file(path, group_column="post")


# -- the command line -----------------------------------------------------------------------


def test_parse_columns_and_label_map():
    assert parse_columns("prompt=question, response_a=response 1,group=post id") == {
        "prompt": "question",
        "response_a": "response 1",
        "group": "post id",
    }
    assert parse_label_map("a=1,b=2,tie=0|tie") == {"a": ["1"], "b": ["2"], "tie": ["0", "tie"]}
    for text, match in [
        ("prompt", "KEY=VALUE"),
        ("prompt=", "KEY=VALUE"),
        ("answer=x", "unknown key 'answer'"),
        ("prompt=a,prompt=b", "given twice"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=match):
            parse_columns(text)
    for text, match in [("a=1", "needs the keys"), ("a=1,b=1", "means both"), ("x=1", "unknown")]:
        with pytest.raises(argparse.ArgumentTypeError, match=match):
            parse_label_map(text)


def test_bad_options_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as info:
        main(["benchmark", "--label-map", "a=1"])
    assert info.value.code == 2
    assert "argument --label-map" in capsys.readouterr().err


def test_load_benchmark_data_reads_a_judge_file_with_options(tmp_path):
    path = write_judge_csv(tmp_path / "judge.csv", [0, 1, 2, 1])
    columns = parse_columns("response_a=response 1,response_b=response 2")
    data = load_benchmark_data(
        [str(path)], columns=columns, label_map=parse_label_map("a=0,b=1,tie=2")
    )
    assert data.y.tolist() == [0, 1, 1] and data.n_ties == 1
    with pytest.raises(ValueError, match="apply to generic tables"):
        load_benchmark_data([str(path)], "hh-rlhf", columns=columns)


def test_a_file_that_cannot_be_read_is_one_error_line_and_nothing_written(tmp_path, capsys):
    path = write_judge_csv(tmp_path / "judge.csv", [0, 2])
    out = tmp_path / "out"
    argv = ["benchmark", "--dataset", str(path), "--output-dir", str(out), "--quiet"]
    assert main([*argv, "--columns", "response_a=response 1,response_b=response 2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skbalpm benchmark: error: ") and "judge.csv, data row 2" in err
    assert not out.exists()
    assert main([*argv, "--columns", "response_a=response 1", "--format", "hh-rlhf"]) == 2
    assert "apply to generic tables" in capsys.readouterr().err
    assert main(["benchmark", "--dataset", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    for name, content in (("empty.jsonl", ""), ("empty.json", "[]"), ("blank.jsonl", "\n\n")):
        (tmp_path / name).write_text(content)  # format detection found no first record
        assert main(["benchmark", "--dataset", str(tmp_path / name), "--output-dir", str(out)]) == 2
        assert f"{name}: holds no records" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_judge_file_benchmark_with_quiet_shows_no_bar(tmp_path, capfd):
    from test_embedding_cache import build_tiny_sentence_transformer

    model = build_tiny_sentence_transformer(tmp_path / "tiny")
    labels = np.resize([0, 1, 2, 1, 0], 40).tolist()  # 8 ties
    path = write_judge_csv(tmp_path / "judge.csv", labels)
    capfd.readouterr()
    argv = [
        "benchmark",
        "--dataset",
        str(path),
        "--columns",
        "response_a=response 1,response_b=response 2",
        "--label-map",
        "a=0,b=1,tie=2",
        "--embedder-model",
        str(model),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--strategies",
        "random",
        "--seeds",
        "1",
        "--initial-size",
        "10",
        "--batch-size",
        "5",
        "--rounds",
        "1",
        "--n-members",
        "2",
        "--max-epochs",
        "2",
        "--n-jobs",
        "1",
        "--no-ceiling",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path / "out"),
        "--quiet",
    ]
    assert main(argv) == 0
    captured = capfd.readouterr()
    assert "32 pairs (8 records skipped: {'tie': 8})" in captured.out
    assert "%|" not in captured.err and "it/s" not in captured.err, captured.err[-2000:]
    assert "Loading" not in captured.err
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert rows and rows[0]["n_labels"] + rows[0]["n_pool"] <= 32


def test_hf_table_layout_takes_the_label_map(monkeypatch):
    from skbalpm.datasets import _hf, load_hf_dataset

    rows = [
        {"prompt": f"q{i}", "response 1": f"x{i}", "response 2": f"y{i}", "label": label}
        for i, label in enumerate([0, 2, 1])
    ]

    class Rows(list):  # what datasets.load_dataset returns, as far as the loader looks
        column_names = ("prompt", "response 1", "response 2", "label")

    class FakeDatasets:  # the hf extra is not in every test environment
        @staticmethod
        def load_dataset(name, split):
            return Rows(rows)

    monkeypatch.setattr(_hf, "_import_datasets", lambda: FakeDatasets)
    data = load_hf_dataset(
        "judge",
        columns={"response_a": "response 1", "response_b": "response 2"},
        label_map=JUDGE_LABELS,
    )
    assert data.y.tolist() == [0, 1] and data.n_ties == 1
    assert data.X[1].tolist() == ["q2", "x2", "y2"]


def test_help_documents_the_table_options():
    from skbalpm.cli import build_parser

    parser = build_parser()
    benchmark = parser._subparsers._group_actions[0].choices["benchmark"]
    text = " ".join(benchmark.format_help().split())
    assert "--columns KEY=COLUMN,..." in text and "response_a=response 1" in text
    assert "--label-map a=V,b=V[,tie=V]" in text and "ties are skipped and counted" in text
    assert "the model-loading ones included" in text  # --quiet
