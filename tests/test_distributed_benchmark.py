"""run_benchmark(engine="ray") and ``skbalpm benchmark --engine ray`` on a real local cluster:
the same rows, checkpoints and resumes as the in-process path."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from skbalpm import PreferenceEnsembleClassifier
from skbalpm.benchmark import (
    RESULT_COLUMNS,
    TIMING_COLUMNS,
    BenchmarkInterrupted,
    run_benchmark,
)
from skbalpm.cli import main
from skbalpm.datasets import make_synthetic_preferences

ray = pytest.importorskip("ray")

COMPARED = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def task():
    return make_synthetic_preferences(160, 4, 12, random_state=0)


def _run(task, output_dir=None, **kwargs):
    # package classes only: the Ray workers import them by name
    params = dict(
        strategies=("random", "balpm(device=cpu)"),
        classifier=PreferenceEnsembleClassifier(
            n_members=2, n_random_features=32, device="cpu", random_state=0
        ),
        seeds=2,
        initial_size=10,
        batch_size=8,
        n_rounds=2,
        groups=task.groups,
        output_dir=output_dir,
        n_jobs=1,
        verbose=0,
    )
    params.update(kwargs)
    return run_benchmark(task.X, task.y, **params)


@pytest.fixture(scope="module")
def in_process(task):
    return _run(task)


def test_ray_rows_equal_the_in_process_rows(task, in_process, tmp_path):
    on_ray = _run(task, tmp_path, engine="ray")
    pd.testing.assert_frame_equal(on_ray.results[COMPARED], in_process.results[COMPARED])
    # the ceiling fits come back in the order they finish
    ceiling = [c for c in in_process.ceiling.columns if not c.endswith("_seconds")]
    by_seed = [
        out.ceiling[ceiling].sort_values("seed", ignore_index=True) for out in (on_ray, in_process)
    ]
    pd.testing.assert_frame_equal(*by_seed)
    assert len(on_ray.results) == 2 * 2 * 3
    assert on_ray.config == in_process.config  # the engine is not configuration
    assert not list((tmp_path / "partial").glob("*.json"))  # every run merged
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["rows"]) == len(on_ray.results)


def test_interrupted_ray_run_resumes_locally_with_the_same_rows(task, in_process, tmp_path):
    def stop(row):
        raise BenchmarkInterrupted

    with pytest.raises(BenchmarkInterrupted):
        _run(task, tmp_path, engine="ray", callback=stop)
    done = json.loads((tmp_path / "checkpoint.json").read_text())
    n_done = sum(len(run["rows"]) for run in done["runs"].values())
    assert 0 < n_done < len(in_process.results)  # one run was recorded, then the stop
    # the checkpoint's configuration does not name the engine: it resumes in process
    resumed = _run(task, tmp_path, engine="local")
    pd.testing.assert_frame_equal(resumed.results[COMPARED], in_process.results[COMPARED])


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"engine": "spark"}, ValueError, "engine must be one of"),
        ({"address": "auto"}, ValueError, "address is only used with engine='ray'"),
        ({"engine": "ray", "address": ""}, ValueError, "address must be None or"),
    ],
)
def test_engine_and_address_are_checked_before_any_work(task, change, error, match):
    class NoFit(PreferenceEnsembleClassifier):
        def fit(self, X, y):
            raise AssertionError("fitted before the parameters were checked")

    with pytest.raises(error, match=match):
        _run(task, classifier=NoFit(), **change)


ARGV = [
    "benchmark",
    *("--synthetic-samples", "120", "--synthetic-features", "4"),
    *("--strategies", "random", "--seeds", "1", "--no-ceiling"),
    *("--initial-size", "10", "--batch-size", "10", "--rounds", "1"),
    *("--n-members", "2", "--device", "cpu", "--quiet"),
]


class _Passed(Exception):
    pass


def test_command_line_passes_engine_and_address(tmp_path, monkeypatch, capsys):
    import skbalpm.benchmark._experiment as experiment

    seen = {}

    def record(X, y, **kwargs):
        seen.update(kwargs)
        raise _Passed

    monkeypatch.setattr(experiment, "run_benchmark", record)
    with pytest.raises(_Passed):
        main([*ARGV, "--engine", "ray", "--address", "auto", "--output-dir", str(tmp_path)])
    assert (seen["engine"], seen["address"]) == ("ray", "auto")
    assert main([*ARGV, "--address", "auto", "--output-dir", str(tmp_path / "bad")]) == 2
    assert "address is only used with engine='ray'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # refused before anything was read or written


@pytest.mark.slow
def test_command_line_engine_ray_gives_the_local_rows(tmp_path, capsys):
    assert main([*ARGV, "--engine", "ray", "--output-dir", str(tmp_path / "ray")]) == 0
    assert main([*ARGV, "--n-jobs", "1", "--output-dir", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    rows = [pd.read_csv(tmp_path / where / "results.csv")[COMPARED] for where in ("ray", "local")]
    pd.testing.assert_frame_equal(*rows)
