"""One BAL-PM round on a large pool with faiss k-NN radii, and its agreement with exact.

``run(n)`` times one BAL-PM round at N = n synthetic 384-d prompts: the k-NN radii from a
faiss index (:func:`skbalpm.distributed.knn_radii`), then the greedy batch on the driver
(:func:`skbalpm.acquisition.balpm_batch` with ``radius_N=``). On a subset of
``n_subset`` prompts it compares those radii with the exact ones (the in-process blocked
GEMM, the values ``knn_radii(method="exact")`` gives on Ray) and the batch picked with
each. ``benchmarks/bench_scale.py`` calls it and writes the figures.

The prompts imitate sentence embeddings: unit vectors near a low-dimensional set (topics
in a 16-d latent space mapped linearly into 384-d, plus a little isotropic noise). Random
isotropic 384-d vectors would be a worst case for every approximate index (all distances
alike), and real embeddings are not like that.
"""

from __future__ import annotations

import time

import numpy as np
from _results import figure  # benchmarks/ is on the path when run as a script
from scipy.special import expit

from skbalpm.acquisition import balpm_batch
from skbalpm.acquisition._knn import knn_search
from skbalpm.distributed import knn_radii

K = 13
BATCH_SIZE = 100
N_ACQUIRED = 1000
N_MEMBERS = 8
SCALINGS = {"fixed beta=0.01": {"beta": 0.01}, "standardize": {"scaling": "standardize"}}
"""The BAL-PM settings whose picks are compared (the paper's, and one where the entropy
term weighs as much as BALD, so that the radii matter)."""


def synthetic_prompts(n, dim=384, *, intrinsic_dim=16, n_topics=1000, noise=0.02, seed=0):
    """Unit float32 vectors near a 16-d set of topics, made in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_topics, intrinsic_dim))
    lift = rng.normal(size=(intrinsic_dim, dim)) / np.sqrt(intrinsic_dim)
    X = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(n, start + 100_000) - start
        latent = centres[rng.integers(n_topics, size=m)] + 0.5 * rng.normal(size=(m, intrinsic_dim))
        block = latent @ lift
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        block += noise * rng.normal(size=block.shape) / np.sqrt(dim)
        X[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return X


def synthetic_member_probs(n, n_members=N_MEMBERS, seed=0):
    """(n_members, n) probabilities: a per-pair mean logit and per-member disagreement."""
    rng = np.random.default_rng(seed + 1)
    mean_N = rng.normal(scale=2.0, size=n)
    spread_N = rng.gamma(2.0, 0.3, size=n)
    return expit(mean_N + spread_N * rng.normal(size=(n_members, n)))


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def _round(probs_MN, pool_ND, acquired_AD, radius_N, batch_size, settings):
    """Picks of each BAL-PM setting with the given radii; seconds of the first."""
    picks, seconds = {}, None
    for name, params in settings.items():
        (idx, _), took = _timed(
            balpm_batch,
            probs_MN,
            pool_ND,
            acquired_AD,
            batch_size,
            k=K,
            device="cpu",
            radius_N=radius_N,
            **params,
        )
        picks[name] = idx
        seconds = took if seconds is None else seconds
    return picks, seconds


def _radius_error(approx_N, exact_N):
    relative = approx_N / np.maximum(exact_N, np.finfo(np.float32).tiny) - 1.0
    return {
        "median_relative_error": float(np.median(relative)),
        "p90_relative_error": float(np.quantile(relative, 0.9)),
        "p99_relative_error": float(np.quantile(relative, 0.99)),
        "max_relative_error": float(relative.max()),
        "min_relative_error": float(relative.min()),
        "fraction_within_1e-4": float(np.mean(np.abs(relative) <= 1e-4)),
        "fraction_within_1pct": float(np.mean(np.abs(relative) <= 1e-2)),
    }


def run(
    n=10**6,
    *,
    n_subset=10**5,
    dim=384,
    method="faiss-hnsw",
    batch_size=BATCH_SIZE,
    n_acquired=N_ACQUIRED,
    knn_kwargs=None,
    seed=0,
    log=print,
):
    """Time one BAL-PM round at N = ``n`` with faiss radii; check it on ``n_subset``.

    Parameters
    ----------
    n : int, default=10**6
        Pool size of the timed round.
    n_subset : int, default=10**5
        Pool size of the comparison with exact radii (the first rows of the pool); when
        >= ``n`` the timed round's radii are reused.
    dim : int, default=384
    method : {"faiss-hnsw", "faiss-ivf"}, default="faiss-hnsw"
    batch_size, n_acquired : int, default=100, 1000
        Pairs picked; prompts already labelled (drawn from the same distribution).
    knn_kwargs : dict or None
        More :func:`~skbalpm.distributed.knn_radii` arguments (``ef_search``,
        ``n_probe``, ...).
    seed : int, default=0
    log : callable, default=print
        Progress lines.

    Returns
    -------
    figures : list of dict
        :func:`_results.figure` dicts: the round's time at N; the faiss radii's time and
        error against the exact search on the subset; the overlap of the picks.
    """
    knn_kwargs = dict(knn_kwargs or {})
    X = synthetic_prompts(n + n_acquired, dim, seed=seed)
    acquired_AD, pool_ND = X[:n_acquired], X[n_acquired:]
    probs_MN = synthetic_member_probs(n, seed=seed)
    setting = (
        f"N = {n:,} synthetic {dim}-d unit prompts (16-d topics), k = {K}, B = {batch_size}, "
        f"{n_acquired} acquired, {N_MEMBERS} members"
    )
    log(f"{method} radii at N = {n:,} ...")
    radius_N, radii_seconds = _timed(knn_radii, pool_ND, K, method=method, **knn_kwargs)
    log(f"  {radii_seconds:.1f} s; greedy batch ...")
    first = dict(list(SCALINGS.items())[:1])
    _, batch_seconds = _round(probs_MN, pool_ND, acquired_AD, radius_N, batch_size, first)
    log(f"  {batch_seconds:.1f} s")
    figures = [
        figure(
            f"BAL-PM round, {method} radii",
            radii_seconds + batch_seconds,
            "s",
            setting=setting,
            details={
                "radii_seconds": radii_seconds,
                "greedy_batch_seconds": batch_seconds,
                "knn_kwargs": knn_kwargs,
            },
        )
    ]

    m = min(n, n_subset)
    sub_pool, sub_probs = pool_ND[:m], probs_MN[:, :m]
    if m < n:
        log(f"{method} radii on the subset N = {m:,} ...")
        approx_N, approx_seconds = _timed(knn_radii, sub_pool, K, method=method, **knn_kwargs)
    else:
        approx_N, approx_seconds = radius_N, radii_seconds
    log(f"exact radii on N = {m:,} ...")
    exact = _timed(knn_search, sub_pool, K)
    exact_N, exact_seconds = exact[0].radius_N, exact[1]
    log(f"  {exact_seconds:.1f} s; picks ...")
    sub_setting = setting.replace(f"N = {n:,}", f"N = {m:,} (subset)")
    figures.append(
        figure(
            f"{method} k-NN radii",
            approx_seconds,
            "s",
            setting=sub_setting,
            baseline=("exact blocked GEMM (float64 re-check)", exact_seconds, "s"),
            ratio="baseline/value",
            reads="× faster",
            details=_radius_error(approx_N, exact_N),
        )
    )
    approx_picks, _ = _round(sub_probs, sub_pool, acquired_AD, approx_N, batch_size, SCALINGS)
    exact_picks, _ = _round(sub_probs, sub_pool, acquired_AD, exact_N, batch_size, SCALINGS)
    for name in SCALINGS:
        shared = len(np.intersect1d(approx_picks[name], exact_picks[name]))
        same_prefix = int(np.argmin(np.append(approx_picks[name] == exact_picks[name], False)))
        figures.append(
            figure(
                f"BAL-PM picks with {method} radii vs exact radii ({name})",
                shared / batch_size,
                "fraction of the batch",
                setting=sub_setting,
                details={"shared_picks": shared, "identical_leading_picks": same_prefix},
            )
        )
        log(f"  {name}: {shared}/{batch_size} picks shared")
    return figures


if __name__ == "__main__":
    import json
    import sys

    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**5
    print(json.dumps(run(size), indent=1))
