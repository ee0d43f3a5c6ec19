"""Crash safety, measured: ``kill -9`` of ``skbalpm benchmark`` at random points, then resume.

Each test starts the command line in a subprocess on a small synthetic task, kills it with
SIGKILL at a random moment once it is making progress, starts it again in the same folder,
and so on until a run ends by itself; the finished rows must equal those of an
uninterrupted run in every column but the timings. With worker processes (``--n-jobs 2``)
every kill is also followed by the check that the workers stop by themselves within
seconds and write no partial checkpoint once their parent is dead.

The worker processes are found through ``/proc`` (Linux, where CI runs).
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from skbalpm.benchmark import RESULT_COLUMNS, TIMING_COLUMNS
from skbalpm.cli import main
from tests.test_benchmark_workers import (
    descendants,
    kill_still_running,
    needs_proc,
    wait_until_stopped,
)

pytestmark = [pytest.mark.slow, needs_proc]

TASK = [
    "benchmark",
    "--synthetic-samples",
    "300",
    "--synthetic-features",
    "4",
    "--synthetic-topics",
    "20",
    "--strategies",
    "random,balpm",
    "--seeds",
    "2",
    "--rounds",
    "8",
    "--initial-size",
    "20",
    "--batch-size",
    "10",
    "--n-members",
    "2",
    "--max-epochs",
    "5",
    "--device",
    "cpu",
    "--quiet",
]
COMPARED = [c for c in RESULT_COLUMNS if c not in TIMING_COLUMNS]
WORKERS_STOP_WITHIN = 10.0  # seconds; they take well under one
DEADLINE = 300.0  # seconds for all the kills and resumes of one test


def _kill_all(proc, processes):
    """Safety net: SIGKILL whatever this test started and is still running, by pid."""
    if proc.poll() is None:
        processes = {**processes, **descendants(proc.pid)}
        proc.kill()
        proc.wait()
    kill_still_running(processes)


def _rows_done(out):
    try:
        with open(out / "results.csv", encoding="utf-8") as f:
            return max(sum(1 for _ in f) - 1, 0)
    except FileNotFoundError:
        return 0


def _wait_for_progress(proc, out, started, deadline):
    """True once this attempt has finished a round (a row in results.csv, or a worker's
    partial file); False if the process ended first (a finished run only reports)."""
    rows_before = _rows_done(out)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if _rows_done(out) > rows_before:
            return True
        for path in (out / "partial").glob("run-*.json"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime > started:
                    return True
        time.sleep(0.02)
    raise AssertionError("the benchmark neither progressed nor ended before the deadline")


def _rows(out):
    results = pd.read_csv(out / "results.csv")
    ceiling = pd.DataFrame(json.loads((out / "results.json").read_text())["ceiling"])
    ceiling = ceiling.drop(columns="fit_seconds").sort_values("seed", ignore_index=True)
    return results[COMPARED], ceiling


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Rows of an uninterrupted run, and how long its work took (in this process)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    start = time.monotonic()
    assert main([*TASK, "--n-jobs", "1", "--output-dir", str(out)]) == 0
    return _rows(out), time.monotonic() - start


def _kill_and_resume_until_done(out, n_jobs, max_kills, work_seconds, rng, log, deadline):
    """Start, kill -9 at a random moment, start again... until the run ends by itself
    (after ``max_kills`` kills it is left to end).

    Returns the number of kills and of those that found worker processes (a resumed run
    with a single job left runs it in its own process).
    """
    command = [sys.executable, "-m", "skbalpm", *TASK, "--n-jobs", str(n_jobs)]
    kills = kills_with_workers = 0
    while True:
        started = time.time()
        proc = subprocess.Popen(
            [*command, "--output-dir", str(out)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        children = {}
        try:
            if kills < max_kills and _wait_for_progress(proc, out, started, deadline):
                time.sleep(rng.uniform(0.0, work_seconds / 10))
                children = descendants(proc.pid)
                proc.send_signal(signal.SIGKILL)
            returncode = proc.wait()
            died = time.time()
            if returncode != -signal.SIGKILL:  # it ended by itself first
                assert returncode == 0, f"the benchmark failed; see {log.name}"
                return kills, kills_with_workers
            kills += 1
            if children:
                kills_with_workers += 1
                _assert_workers_stop(children, out, died)
        finally:
            _kill_all(proc, children)


def _assert_workers_stop(workers, out, died):
    """No process the killed benchmark started outlives it by more than a few seconds,
    and none writes a partial checkpoint after its death."""
    left = wait_until_stopped(workers, WORKERS_STOP_WITHIN)
    assert not left, f"processes {sorted(left)} still run {WORKERS_STOP_WITHIN} s after the kill"
    # a write already under way when the parent died may end a moment later; 1 s of slack
    late = [
        (path.name, round(path.stat().st_mtime - died, 3))
        for path in (out / "partial").glob("*")
        if path.stat().st_mtime > died + 1.0
    ]
    assert not late, f"partial files written after the parent died: {late}"


def _check_finished_run(out, reference):
    results, ceiling = _rows(out)
    ref_results, ref_ceiling = reference
    pd.testing.assert_frame_equal(results, ref_results)
    pd.testing.assert_frame_equal(ceiling, ref_ceiling)
    # nothing half-written or left over once a run has ended
    assert not list(out.glob(".*.tmp")) and not list((out / "partial").glob("*"))
    return len(results) + len(ceiling)


@pytest.mark.parametrize("n_jobs, n_kills", [(1, 6), (2, 4)])  # 10 kills
def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_rows(
    uninterrupted, tmp_path, n_jobs, n_kills
):
    reference, work_seconds = uninterrupted
    rng = random.Random(n_jobs)  # the moments differ from run to run anyway
    deadline = time.monotonic() + DEADLINE
    kills = kills_with_workers = rows_compared = runs = 0
    with open(tmp_path / "log.txt", "w") as log:
        while kills < n_kills:  # a fresh folder when a run ended before enough kills
            assert time.monotonic() < deadline, f"only {kills} kills before the deadline"
            out = tmp_path / f"run-{runs}"
            done = _kill_and_resume_until_done(
                out, n_jobs, n_kills - kills, work_seconds, rng, log, deadline
            )
            kills, kills_with_workers = kills + done[0], kills_with_workers + done[1]
            rows_compared += _check_finished_run(out, reference)
            runs += 1
    print(
        f"\nn_jobs={n_jobs}: {kills} kills survived ({kills_with_workers} with worker "
        f"processes running, all stopped), {rows_compared} rows compared in {runs} run(s)"
    )
    if n_jobs > 1:  # the first start always runs several jobs in workers
        assert kills_with_workers >= 1
