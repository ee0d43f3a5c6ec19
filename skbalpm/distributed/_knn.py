"""BAL-PM's k-NN radii of a large prompt pool: exact over Ray workers, or faiss.

``"exact"`` shards the blocked-GEMM search of :func:`skbalpm.acquisition._knn.knn_search`
over Ray tasks: the prompts go to the object store once and each task takes a block of
query rows against every prompt, so the radii are the in-process ones. ``"faiss-ivf"``
and ``"faiss-hnsw"`` build an approximate index (IVF-Flat on the GPUs when faiss sees
any; HNSW on the CPU) and search every prompt on the driver, faiss using its own threads.
An approximate radius is never smaller than the exact one (the k rows found are some k
rows of the pool) up to float32 rounding.

The greedy batch then runs on the driver with these radii
(``balpm_batch(..., radius_N=knn_radii(...))``): it needs one distance row per pick,
B rows for a batch of B, which is small next to the N^2 of the radii.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.utils import check_array

from skbalpm.acquisition._knn import faiss_radius, knn_search
from skbalpm.distributed._ray import EXTRA_HINT, import_ray

__all__ = ["KNN_METHODS", "knn_radii"]

KNN_METHODS = ("exact", "faiss-ivf", "faiss-hnsw")
"""Where :func:`knn_radii` gets the radii (``method=``)."""

_TRAIN_PER_LIST = 64
"""k-means training rows per IVF list (faiss asks for 39 at least; 256 is its cap)."""


def _check_args(prompts_ND, k, method, n_blocks, n_lists, n_probe, hnsw_m, ef_search):
    if method not in KNN_METHODS:
        raise ValueError(f"method must be one of {KNN_METHODS}; got {method!r}.")
    prompts_ND = check_array(prompts_ND, dtype=(np.float32, np.float64), input_name="prompts_ND")
    n = prompts_ND.shape[0]
    if not (_is_int(k) and 1 <= k <= n):
        raise ValueError(f"k must be an int in [1, n_prompts={n}]; got {k!r}.")
    for name, value in [("n_blocks", n_blocks), ("n_lists", n_lists)]:
        if value is not None and not (_is_int(value) and value >= 1):
            raise ValueError(f"{name} must be None or an int >= 1; got {value!r}.")
    for name, value in [("n_probe", n_probe), ("hnsw_m", hnsw_m), ("ef_search", ef_search)]:
        if not (_is_int(value) and value >= 1):
            raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    return prompts_ND


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def knn_radii(
    prompts_ND,
    k=13,
    *,
    method="exact",
    n_blocks=None,
    chunk_size=2**23,
    n_lists=None,
    n_probe=16,
    hnsw_m=32,
    ef_search=64,
    use_gpu="auto",
    random_state=0,
):
    """Distance from every prompt to its k-th nearest prompt (itself first), at scale.

    Parameters
    ----------
    prompts_ND : array-like of shape (n_prompts, n_features)
        Prompt features of the pool (float32 or float64).
    k : int, default=13
        Which neighbour (BAL-PM's ``k``); 1 <= k <= n_prompts.
    method : {"exact", "faiss-ivf", "faiss-hnsw"}, default="exact"
        ``"exact"``: the in-process exact search (:class:`~skbalpm.BALPMQueryStrategy`'s
        ``knn_backend="torch"``) sharded over Ray tasks, the same radii. ``"faiss-ivf"``:
        an IVF-Flat index (k-means lists, ``n_probe`` of them searched per query), on all
        GPUs when faiss has GPU support and sees one. ``"faiss-hnsw"``: an HNSW graph on
        the CPU (BAL-PM's ``knn_backend="faiss"`` index). The faiss methods run on the
        driver with faiss's threads; rows for which faiss returns fewer than k neighbours
        are computed exactly.
    n_blocks : int or None, default=None
        ``"exact"``: query blocks, one Ray task each; None gives two per CPU of the
        cluster.
    chunk_size : int, default=2**23
        ``"exact"``: most float32 elements of one distance block in a task.
    n_lists : int or None, default=None
        ``"faiss-ivf"``: k-means lists; None gives about sqrt(n_prompts).
    n_probe : int, default=16
        ``"faiss-ivf"``: lists searched per query (more: slower, nearer exact).
    hnsw_m : int, default=32
        ``"faiss-hnsw"``: links per node.
    ef_search : int, default=64
        ``"faiss-hnsw"``: search breadth (at least k is used).
    use_gpu : {"auto", True, False}, default="auto"
        ``"faiss-ivf"``: put the index on the GPUs ("auto": when faiss sees any).
    random_state : int, default=0
        ``"faiss-ivf"``: seed of the k-means training sample and of k-means.

    Returns
    -------
    radius_N : ndarray of shape (n_prompts,), float64

    Raises
    ------
    ImportError
        If Ray (``"exact"``) or faiss is not installed (``pip install "skbalpm[ray]"``).
    ValueError
        For a parameter out of range, or NaN/inf in the prompts.

    References
    ----------
    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    H. Jégou, M. Douze, C. Schmid, "Product quantization for nearest neighbor search",
    IEEE TPAMI 33(1), 2011 (the inverted-file index).

    Y. A. Malkov, D. A. Yashunin, "Efficient and robust approximate nearest neighbor
    search using Hierarchical Navigable Small World graphs", IEEE TPAMI 42(4), 2020.

    J. Johnson, M. Douze, H. Jégou, "Billion-scale similarity search with GPUs", IEEE
    Transactions on Big Data 7(3), 2021 (faiss).

    Examples
    --------
    >>> import numpy as np
    >>> prompts = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    >>> knn_radii(prompts, k=2, method="faiss-hnsw").tolist()
    [1.0, 1.0, 2.0]
    >>> knn_radii(prompts, k=2, method="exact").tolist()  # doctest: +SKIP
    [1.0, 1.0, 2.0]

    One BAL-PM round on the driver with these radii:

    >>> from skbalpm.acquisition import balpm_batch  # doctest: +SKIP
    >>> radius_N = knn_radii(pool_prompts, k=13, method="faiss-hnsw")  # doctest: +SKIP
    >>> picks, scores = balpm_batch(probs_MN, pool_prompts, acquired_prompts, 50,
    ...                             radius_N=radius_N)  # doctest: +SKIP
    """
    if use_gpu not in ("auto", True, False):
        raise ValueError(f"use_gpu must be 'auto', True or False; got {use_gpu!r}.")
    if not (_is_int(random_state) and random_state >= 0):
        raise ValueError(f"random_state must be an int >= 0; got {random_state!r}.")
    prompts_ND = _check_args(prompts_ND, k, method, n_blocks, n_lists, n_probe, hnsw_m, ef_search)
    if method == "exact":
        return _exact_on_ray(prompts_ND, int(k), n_blocks, chunk_size)
    faiss = _import_faiss()
    X = np.ascontiguousarray(prompts_ND, dtype=np.float32)
    if method == "faiss-ivf":
        n_gpus = _faiss_gpus(faiss)
        if use_gpu is True and n_gpus == 0:
            raise ValueError("use_gpu=True, but faiss sees no GPU (or is built without GPUs).")
        on_gpu = use_gpu is True or (use_gpu == "auto" and n_gpus > 0)
        index = _ivf_index(faiss, X, n_lists, n_probe, on_gpu, random_state)
    else:
        index = faiss.IndexHNSWFlat(X.shape[1], hnsw_m)
        index.hnsw.efSearch = max(ef_search, int(k))
        index.add(X)
    d2, ids = index.search(X, int(k))
    radius_N = faiss_radius(d2, ids, np.arange(len(X)))
    short = np.flatnonzero(~np.isfinite(radius_N))  # faiss found fewer than k rows
    if len(short):
        radius_N[short] = knn_search(prompts_ND, int(k), queries=short).radius_N
    return radius_N


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(f"knn_radii's faiss methods need faiss: {EXTRA_HINT}") from exc
    return faiss


def _ivf_index(faiss, X, n_lists, n_probe, on_gpu, random_state):
    """A trained, filled IVF-Flat index over ``X``, copied to the GPUs when asked."""
    n, dim = X.shape
    n_lists = max(1, round(np.sqrt(n))) if n_lists is None else min(n_lists, n)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, n_lists)
    index.cp.seed = int(random_state)
    # k-means on a sample of _TRAIN_PER_LIST rows per list, drawn reproducibly
    n_train = min(n, _TRAIN_PER_LIST * n_lists)
    sample = np.random.default_rng(random_state).choice(n, n_train, replace=False)
    index.train(X[np.sort(sample)])
    index.add(X)
    index.nprobe = min(n_probe, n_lists)
    if on_gpu:
        index = faiss.index_cpu_to_all_gpus(index)
        faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", min(n_probe, n_lists))
    return index


def _faiss_gpus(faiss):
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def _exact_block(prompts_ND, k, queries_Q, chunk_size):
    """One Ray task: the exact radii of a block of query rows against every prompt."""
    # The object store hands out a read-only view (no copy); the search only reads it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        result = knn_search(prompts_ND, k, queries=queries_Q, chunk_size=chunk_size)
    return result.radius_N


def _exact_on_ray(prompts_ND, k, n_blocks, chunk_size):
    ray = import_ray()
    if not ray.is_initialized():
        ray.init()
    if n_blocks is None:
        n_blocks = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    prompts_ref = ray.put(np.ascontiguousarray(prompts_ND))  # once for every task
    search = ray.remote(num_cpus=1)(_exact_block)
    blocks = [b for b in np.array_split(np.arange(len(prompts_ND)), n_blocks) if len(b)]
    radii = ray.get([search.remote(prompts_ref, k, block, chunk_size) for block in blocks])
    return np.concatenate(radii)
