"""Tests of the ``skbalpm`` command line."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from skbalpm.benchmark._cli import _default_name, _detect_format, load_benchmark_data
from skbalpm.cli import build_parser, main
from skbalpm.datasets import make_synthetic_preferences


def test_help_lists_every_option():
    text = build_parser()._subparsers._group_actions[0].choices["benchmark"].format_help()
    for option in (
        "--dataset",
        "--format",
        "--embedder-model",
        "--strategies",
        "--seeds",
        "--initial-size",
        "--batch-size",
        "--rounds",
        "--test-fraction",
        "--test-dataset",
        "--test-format",
        "--device",
        "--output-dir",
        "--no-resume",
    ):
        assert option in text


def test_python_dash_m_help_runs():
    done = subprocess.run(
        [sys.executable, "-m", "skbalpm", "benchmark", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--strategies" in done.stdout


def test_no_command_prints_usage(capsys):
    assert main([]) == 2
    assert "usage: skbalpm" in capsys.readouterr().out


def test_defaults_are_the_synthetic_task_with_five_seeds():
    args = build_parser().parse_args(["benchmark"])
    assert args.dataset == ["synthetic"] and args.seeds >= 5
    assert args.strategies.split(",") == ["random", "bald", "powerbald", "balpm"]


def test_synthetic_task_scores_on_its_own_uniform_test_pairs(tmp_path, capsys):
    argv = [
        "benchmark",
        *("--synthetic-samples", "120", "--synthetic-features", "4"),
        *("--synthetic-test-pairs", "40", "--strategies", "random", "--seeds", "1"),
        *("--initial-size", "10", "--batch-size", "10", "--rounds", "1"),
        *("--no-ceiling", "--n-jobs", "1", "--quiet", "--output-dir", str(tmp_path)),
    ]
    assert main(argv) == 0
    assert "test set: 40 new pairs of the task" in capsys.readouterr().out
    saved = json.loads((tmp_path / "results.json").read_text())
    data = make_synthetic_preferences(120, 4, n_test_samples=40, random_state=0)
    # the Bayes figures of the pairs it is scored on, not of the pool
    assert saved["config"]["bayes_log_likelihood"] == data.bayes_log_likelihood_test
    assert saved["config"]["test_source"] == [
        "make_synthetic_preferences: test pairs, topics uniform"
    ]


@pytest.mark.parametrize("command", ["benchmark", "select"])
@pytest.mark.parametrize(("text", "expected"), [("auto", "auto"), ("1", 1), ("20", 20)])
def test_n_members_takes_auto_or_a_positive_count(command, text, expected):
    required = ["--pool", "p", "--labeled", "l", "--out", "o"] if command == "select" else []
    args = build_parser().parse_args([command, *required, "--n-members", text])
    assert args.n_members == expected
    if text == "auto":  # the same default as the classifier's
        assert build_parser().parse_args([command, *required]).n_members == "auto"


@pytest.mark.parametrize("text", ["0", "-2", "1.5", "many"])
def test_n_members_refuses_other_values(text, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["benchmark", "--n-members", text])
    assert "positive integer or 'auto'" in capsys.readouterr().err


def test_negative_synthetic_test_pairs_is_refused(capsys):
    assert main(["benchmark", "--synthetic-test-pairs", "-1", "--quiet"]) == 2
    assert "--synthetic-test-pairs must be >= 0" in capsys.readouterr().err


def test_format_detection(tmp_path):
    hh = tmp_path / "hh.jsonl.gz"
    with gzip.open(hh, "wt") as f:
        f.write(
            json.dumps(
                {
                    "chosen": "\n\nHuman: a\n\nAssistant: b",
                    "rejected": "\n\nHuman: a\n\nAssistant: c",
                }
            )
            + "\n"
        )
    assert _detect_format(hh) == "hh-rlhf"
    table = tmp_path / "t.jsonl"
    table.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    assert _detect_format(table) == "jsonl"
    listed = tmp_path / "t.json"  # the same records as one JSON list
    listed.write_text(json.dumps([{"prompt": "p", "chosen": "a", "rejected": "b"}]))
    assert _detect_format(listed) == "jsonl"
    assert (
        load_benchmark_data([str(listed)]).X.tolist()
        == load_benchmark_data([str(table)]).X.tolist()
    )
    assert len(load_benchmark_data([str(hh)]).y) == 1
    with pytest.raises(ValueError, match="different formats"):
        load_benchmark_data([str(hh), str(table)])


@pytest.mark.real_data
def test_format_detection_on_real_files(shared_data_dir):
    assert (
        _detect_format(shared_data_dir / "summarize-from-feedback" / "tldr-batch13.jsonl")
        == "summarize"
    )
    assert _detect_format(shared_data_dir / "pandalm" / "testset-v1.json") == "pandalm"
    assert _detect_format(shared_data_dir / "llmbar" / "LLMBar_Natural.json") == "llmbar"


@pytest.mark.slow
def test_tiny_synthetic_benchmark_end_to_end(tmp_path, capsys):
    argv = [
        "benchmark",
        "--synthetic-samples",
        "150",
        "--synthetic-features",
        "4",
        "--strategies",
        "random,balpm",
        "--seeds",
        "2",
        "--initial-size",
        "10",
        "--batch-size",
        "10",
        "--rounds",
        "2",
        "--n-members",
        "2",
        "--max-epochs",
        "3",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path),
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "labels saved" in out and "ceiling" in out
    for name in (
        "results.csv",
        "results.json",
        "summary.csv",
        "checkpoint.json",
        "learning_curve_test_log_likelihood.png",
        "learning_curve_test_accuracy.svg",
    ):
        assert (tmp_path / name).exists()
    saved = json.loads((tmp_path / "results.json").read_text())
    assert "summary" in saved
    assert saved["arguments"]["synthetic_features"] == 4  # reproducible from its results
    # resuming a finished run gives the same table
    assert main(argv) == 0
    # --report-only redraws from the saved results; an unfinished seed is left out
    payload = json.loads((tmp_path / "results.json").read_text())
    payload["rows"] = [
        r
        for r in payload["rows"]
        if not (r["seed"] == 1 and r["strategy"] == "balpm" and r["round"] == 2)
    ]
    (tmp_path / "results.json").write_text(json.dumps(payload))
    (tmp_path / "summary.csv").unlink()
    capsys.readouterr()
    assert main(["benchmark", "--report-only", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "seeds [0] finished by every strategy" in out and "labels saved" in out
    assert (tmp_path / "summary.csv").exists()
    assert json.loads((tmp_path / "results.json").read_text())["summary_seeds"] == [0]
    assert main(["benchmark", "--report-only", "--output-dir", str(tmp_path / "none")]) == 2


def _write_pairs(path, n, topic):
    """A generic jsonl preference file of ``n`` short templated pairs."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            record = {
                "prompt": f"Question {i} about {topic}?",
                "response_a": f"A careful answer about {topic}, number {i}.",
                "response_b": f"No idea {i}.",
                "label": i % 2,
            }
            f.write(json.dumps(record) + "\n")


def test_default_run_names():
    assert _default_name(["synthetic"], None) == "synthetic"
    assert _default_name(["d/helpful-base-test.jsonl.gz"], None) == "helpful-base-test"
    assert (
        _default_name(["d/helpful-base-test.jsonl.gz"], ["d/helpful-online-test.jsonl.gz", "e"])
        == "helpful-base-test_test-helpful-online-test"
    )


def test_fixed_test_set_needs_text_data(capsys):
    assert main(["benchmark", "--test-dataset", "some.jsonl", "--quiet"]) == 2
    assert "--test-dataset needs preference files" in capsys.readouterr().out


@pytest.mark.real_model
@pytest.mark.slow
def test_benchmark_scored_on_a_fixed_test_file(tmp_path, capsys):
    pool, test = tmp_path / "pool.jsonl", tmp_path / "other.jsonl"
    _write_pairs(pool, 40, "gardening")
    _write_pairs(test, 12, "astronomy")
    argv = [
        "benchmark",
        "--dataset",
        str(pool),
        "--test-dataset",
        str(test),
        "--strategies",
        "random,balpm",
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
        "--device",
        "cpu",
        "--n-jobs",
        "1",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--output-dir",
        str(tmp_path / "out"),
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "test set: 12 pairs from" in out and "scored on a fixed test set: 12 pairs" in out
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["config"]["test_set"]["n_samples"] == 12
    assert saved["config"]["test_source"] == [str(test)]
    first = saved["rows"][0]
    assert first["n_labels"] + first["n_pool"] == 40  # the whole file is the pool
    assert saved["arguments"]["test_dataset"] == [str(test)]


def test_report_says_labels_saved_is_undefined_where_random_falls(tmp_path, capsys):
    import matplotlib
    import pandas as pd

    from skbalpm.benchmark._cli import report_results

    rows = [
        dict(
            dataset="d",
            strategy=strategy,
            seed=seed,
            round=r,
            n_labels=20 * (r + 1),
            n_pool=100,
            test_log_likelihood=-0.69 - 0.005 * r + gain * r + 0.001 * seed,
            test_accuracy=0.5,
            fit_seconds=0.0,
            query_seconds=0.0,
        )
        for strategy, gain in (("random", 0.0), ("balpm", 0.004))
        for seed in range(3)
        for r in range(4)
    ]
    (tmp_path / "results.json").write_text(json.dumps({"config": {}, "rows": rows}))
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text in the SVG
        assert report_results(tmp_path, pd.DataFrame(rows), pd.DataFrame(), "d") == 0
    out = capsys.readouterr().out
    assert "undefined*" in out and "random's curve does not rise" in out
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["labels_saved"].isna().all()
    assert summary["baseline_rise"].iloc[0] == pytest.approx(-0.015)
    svg = (tmp_path / "learning_curve_test_log_likelihood.svg").read_text()
    assert "random&#39;s curve does not rise" in svg or "random's curve does not rise" in svg
    assert "does not rise" not in (tmp_path / "learning_curve_test_accuracy.svg").read_text()
