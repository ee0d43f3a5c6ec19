"""The (strategy, seed) jobs of :func:`skbalpm.benchmark.run_benchmark` as Ray tasks.

``run_benchmark(engine="ray")`` hands its jobs here instead of to joblib's worker
processes. Each seed's data goes to the object store once and is shared by that seed's
jobs; each job runs in a Ray task through the same function as a joblib worker's (which
writes its run's partial checkpoint file after every round), and its result comes back to
the driver, which records it as it does a joblib worker's. On a cluster of several
machines the output folder must be one they all see (a shared file system) for the
partial files to be taken up on a resume, and every machine needs skbalpm installed.
"""

from __future__ import annotations

from dataclasses import replace

from skbalpm.distributed._ray import import_ray

__all__ = ["connect", "run_unordered"]


def connect(address=None):
    """Join the Ray cluster at ``address``, or start a local one; keep one already joined.

    Parameters
    ----------
    address : str or None, default=None
        What ``ray.init(address=...)`` takes: ``"auto"``, ``"host:6379"``,
        ``"ray://host:10001"``; None starts a local cluster (or joins the one named by
        the ``RAY_ADDRESS`` environment variable).

    Returns
    -------
    started : bool
        Whether this call connected (and so the caller should disconnect when done).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    ray.init(address=address)
    return True


def _with_data(function, job, data):
    # ``data`` arrives from the object store (a top-level argument is fetched by Ray)
    return function(replace(job, data=data))


def run_unordered(function, jobs, data_of_seed, *, address=None):
    """``function(job)`` of every job, each a Ray task, yielded as they finish.

    Parameters
    ----------
    function : callable
        Takes a job (a dataclass with ``seed`` and ``data`` fields) with its data
        attached; must be importable on the workers (a module-level function).
    jobs : list
        The jobs, their ``data`` field left empty.
    data_of_seed : callable
        ``data_of_seed(seed)`` -> the data of that seed's jobs; called once per seed.
    address : str or None, default=None
        The cluster, as for :func:`connect`.

    Yields
    ------
    result : object
        ``function``'s return value, in the order the tasks finish.
    """
    if not jobs:  # a resumed benchmark with nothing left: no cluster needed
        return
    ray = import_ray()
    started = connect(address)
    pending = []
    try:
        task = ray.remote(num_cpus=1)(_with_data)
        data_refs = {}
        for job in jobs:
            if job.seed not in data_refs:
                data_refs[job.seed] = ray.put(data_of_seed(job.seed))
            pending.append(task.remote(function, job, data_refs[job.seed]))
        del data_refs  # the pending tasks hold the data while they need it
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        for ref in pending:  # stopped early (an interrupt, an error): no orphan work
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
