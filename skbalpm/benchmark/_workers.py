"""Worker processes of a parallel benchmark stop when the process that started them dies.

joblib's process workers run one whole (strategy, seed) run per task and only look at
their task queue between tasks, so after a ``kill -9`` of the benchmark they used to keep
fitting (and writing their partial checkpoints) for minutes, orphaned, beside the run
that resumed in the same folder. A worker started by the benchmark's process now
watches that process: a daemon thread ends the worker within a fraction of a second of
its death, and every partial write checks first.

How a worker tells: ``multiprocessing.parent_process()`` names the process that started
it. Where that process handed it a sentinel (multiprocessing's fork, spawn and
forkserver workers; loky's on Windows), the sentinel reports the death. loky's POSIX
workers get none, but loky starts them itself (fork + exec), and a POSIX process whose
parent dies is re-parented (to init or a subreaper), so ``os.getppid()`` stops being the
benchmark's pid. In the benchmark's own process, or in a worker of another joblib backend
(threads, a cluster), nothing is watched.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

EXIT_CODE = 70
"""Exit status of a worker that stopped because its parent died."""

_POLL_SECONDS = 0.1
_os_parent = {}  # benchmark pid -> this worker's OS parent when the watch began
_lock = threading.Lock()


def _parent_of_this_worker(parent_pid):
    """``multiprocessing.parent_process()`` if it is ``parent_pid`` (and not us), else None."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid != parent_pid or os.getpid() == parent_pid:
        return None
    return parent


def parent_is_alive(parent_pid: int) -> bool:
    """False only in a worker started by ``parent_pid`` once that process has died."""
    parent = _parent_of_this_worker(parent_pid)
    if parent is None:
        return True
    if parent.sentinel is None:  # loky on POSIX: a direct child of the benchmark
        return os.getppid() == parent_pid
    if not parent.is_alive():
        return False
    # Sibling workers forked later may hold the sentinel pipe open: the OS parent tells too.
    return os.getppid() == _os_parent.get(parent_pid, os.getppid())


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
    if _parent_of_this_worker(parent_pid) is None:
        return False
    with _lock:
        first = parent_pid not in _os_parent
        _os_parent.setdefault(parent_pid, os.getppid())
    exit_if_orphaned(parent_pid)
    if first:
        threading.Thread(
            target=_watch, args=(parent_pid,), name="skbalpm-parent-watch", daemon=True
        ).start()
    return True
