"""Worker processes stop by themselves when the benchmark's process dies.

The processes are seen through ``/proc`` (Linux, where CI runs): a killed worker that its
new parent does not reap stays a zombie, which counts as stopped.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from skbalpm.benchmark._workers import parent_is_alive, stop_with_parent

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="sees processes through /proc"
)


def process_table():
    """pid -> (state, parent pid, start time) of every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        fields = text[text.rindex(")") + 2 :].split()
        table[int(stat.parent.name)] = (fields[0], int(fields[1]), fields[19])
    return table


def descendants(pid):
    """pid -> start time of every process below ``pid`` (start times tell reused pids)."""
    table = process_table()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (_, ppid, start) in table.items():
            if ppid == parent and child not in found:
                found[child] = start
                frontier.append(child)
    return found


def still_running(processes):
    """The pids of ``processes`` (pid -> start time) still running (zombies are not)."""
    table = process_table()
    return {
        pid
        for pid, start in processes.items()
        if pid in table and table[pid][2] == start and table[pid][0] not in "ZX"
    }


def kill_still_running(processes):
    """SIGKILL those of ``processes`` still running: what a test started, by pid."""
    for pid in still_running(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_until_stopped(processes, seconds):
    """The pids still running after up to ``seconds``."""
    until = time.monotonic() + seconds
    while still_running(processes) and time.monotonic() < until:
        time.sleep(0.05)
    return still_running(processes)


def _watched_worker(parent_pid):
    if stop_with_parent(parent_pid):
        time.sleep(120)  # "working"; the watch ends the process long before
    os._exit(3)


def _benchmark_process(pids):
    """Stands in for the benchmark: starts a watched worker, reports, then waits."""
    worker = multiprocessing.get_context("fork").Process(
        target=_watched_worker, args=(os.getpid(),)
    )
    worker.start()
    pids.put(worker.pid)
    time.sleep(120)


@needs_proc
def test_a_worker_stops_within_seconds_of_its_parents_kill():
    context = multiprocessing.get_context("fork")  # quick: nothing to import again
    pids = context.Queue()
    parent = context.Process(target=_benchmark_process, args=(pids,))
    parent.start()
    worker = {}
    try:
        worker_pid = pids.get(timeout=60)
        worker = {worker_pid: process_table()[worker_pid][2]}
        time.sleep(0.5)
        assert still_running(worker), "the worker must keep running while its parent lives"
        os.kill(parent.pid, signal.SIGKILL)
        parent.join()
        assert not wait_until_stopped(worker, 5.0), "the worker outlived its parent"
    finally:
        if parent.is_alive():
            parent.kill()
            parent.join()
        kill_still_running(worker)


def test_nothing_is_watched_outside_a_worker_of_that_process():
    # this process was not started by a benchmark: it watches nothing, and lives
    assert multiprocessing.parent_process() is None
    assert not stop_with_parent(os.getpid())
    assert not stop_with_parent(os.getppid())
    assert parent_is_alive(os.getppid()) and parent_is_alive(12345678)
