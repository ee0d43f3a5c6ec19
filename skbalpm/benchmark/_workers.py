"""Worker processes of a parallel benchmark stop when the process that started them dies.

joblib's process workers run one whole (strategy, seed) run per task and only look at
their task queue between tasks, so after a ``kill -9`` of the benchmark they used to keep
fitting (and writing their partial checkpoints) for minutes, orphaned, beside the run
that resumed in the same folder. A worker started by the benchmark's process now
watches that process: a daemon thread ends the worker within a fraction of a second of
its death, and every partial write checks first.

On POSIX a process whose parent dies is re-parented (to init or a subreaper), so
``os.getppid()`` stops being the parent's pid; on Windows the parent's sentinel handle
(which loky passes to its workers) says the same. Only a process started by the
benchmark's process is watched (``multiprocessing.parent_process()`` names it): in the
benchmark's own process, or in a worker of another joblib backend (threads, a cluster),
nothing happens.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

EXIT_CODE = 70
"""Exit status of a worker that stopped because its parent died."""

_POLL_SECONDS = 0.1
_watching = set()  # parent pids this process watches already
_watching_lock = threading.Lock()


def started_by(parent_pid: int) -> bool:
    """Whether this process is a worker that process ``parent_pid`` started."""
    parent = multiprocessing.parent_process()
    return parent is not None and parent.pid == parent_pid and os.getpid() != parent_pid


def parent_is_alive(parent_pid: int) -> bool:
    """False only in a worker started by ``parent_pid`` once that process has died."""
    if not started_by(parent_pid):
        return True
    if os.name == "posix":
        return os.getppid() == parent_pid
    return multiprocessing.parent_process().is_alive()


def exit_if_orphaned(parent_pid: int):
    """End this worker at once (no clean-up, nothing written) when its parent is gone."""
    if not parent_is_alive(parent_pid):
        os._exit(EXIT_CODE)


def _watch(parent_pid: int):
    while parent_is_alive(parent_pid):
        time.sleep(_POLL_SECONDS)
    os._exit(EXIT_CODE)


def stop_with_parent(parent_pid: int) -> bool:
    """In a worker started by ``parent_pid``: exit now if it is dead, else watch it.

    A daemon thread polls every 0.1 s and ends the process when the parent is gone; one
    thread per worker process, however many tasks it runs. Returns whether this process
    is watched.
    """
    if not started_by(parent_pid):
        return False
    exit_if_orphaned(parent_pid)
    with _watching_lock:
        if parent_pid not in _watching:
            threading.Thread(
                target=_watch, args=(parent_pid,), name="skbalpm-parent-watch", daemon=True
            ).start()
            _watching.add(parent_pid)
    return True
