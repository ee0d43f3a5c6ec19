"""Exact k-nearest-neighbour radii and ball counts: blocked float32 GEMM, float64 re-check.

Distances come from ||x||^2 + ||y||^2 - 2 x.y in float32 blocks (one GEMM per block, so
the cost is close to that of one matrix product), with a streaming top-(k + n_extra) per
row. float32 rounding could change which point is the k-th nearest where distances nearly
tie, so the candidates are re-ranked with exact float64 differences, and a rigorous bound
on the float32 error decides whether a point outside the candidates could still be nearer;
rows where it could are recomputed over every point the bound cannot rule out. The result
equals a float64 brute force (``scipy.spatial.distance.cdist``), ties and duplicates
included.

:class:`KNNRadiusCache` reuses the radii across active-learning rounds when the pool only
lost points: only rows whose k-NN set lost a member are recomputed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "BallUpdater",
    "KNNRadiusCache",
    "KNNResult",
    "count_within",
    "distance_unit",
    "knn_search",
    "knn_search_faiss",
    "nearest_other_label",
    "radius_graph",
]

_DEFAULT_CHUNK = 2**23  # elements of one float32 distance block (32 MiB)
_MIN_BLOCK_ROWS = 256


def _resolve_device(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class _NoTF32:
    """Switch TF32 matmuls off while inside: the error bound assumes true float32."""

    def __enter__(self):
        self._saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        return self

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32 = self._saved
        return False


_RIM_RTOL = 64 * 2.0**-53
"""Relative slack under which a float64 distance counts as lying on a ball's rim.

A pool row's k-th neighbour lies exactly on its rim (distance == radius), and so do its
duplicates. The radius and a later distance to the same point can come from float64 sums
taken in another order (another batch shape, a GPU kernel), which differ in the last few
bits; the ball counts the rim as inside (<=; the design page, docs/design.rst, section
"Conventions of the reference code"), so a difference that small is a tie.
"""


def _within_radius(dist, radius):
    """``dist <= radius`` up to float64 reduction-order noise (see ``_RIM_RTOL``)."""
    return dist <= radius * (1.0 + _RIM_RTOL)


_SAFE_MAGNITUDES = (2.0**-40, 2.0**40)
"""Largest |feature| for which the float32 GEMMs neither overflow nor underflow."""


def distance_unit(*arrays) -> float:
    """A power of two to divide features by so that their distances compute safely.

    1.0 when the largest magnitude lies in ``_SAFE_MAGNITUDES`` (every ordinary feature:
    nothing changes), else the power of two that brings it to [1, 2). Dividing by a power
    of two is exact, so the distances of the rescaled features are the true ones divided
    by the unit, where the squared distances of the raw ones would overflow (features of
    size 1e20 in float32, 1e160 in float64) or underflow (1e-160).

    Parameters
    ----------
    *arrays : ndarray
        Finite features (e.g. the pool's and the acquired set's), sharing one unit.

    Returns
    -------
    unit : float

    Examples
    --------
    >>> import numpy as np
    >>> distance_unit(np.array([[3.0, -1.0]])), distance_unit(np.array([[1e30]])) == 2.0**99
    (1.0, True)
    """
    largest = max((float(np.abs(a).max()) for a in arrays if np.size(a)), default=0.0)
    if largest == 0.0 or _SAFE_MAGNITUDES[0] <= largest <= _SAFE_MAGNITUDES[1]:
        return 1.0
    return float(np.ldexp(1.0, np.frexp(largest)[1] - 1))


class _Points:
    """Rows held once on the device: float32 copy for GEMMs, exact copy for re-checks.

    The rows are held divided by ``unit`` (a power of two, :func:`distance_unit`; 1.0 for
    ordinary features), so every distance inside the engine is in that unit: radii are
    divided by it on the way in and multiplied by it on the way out.
    """

    def __init__(self, X, device, unit=None):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"Features must have shape (n_samples, n_features), both > 0; got {X.shape}."
            )
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if not np.isfinite(X).all():
            raise ValueError("Features contain NaN or infinity.")
        self.unit = distance_unit(X) if unit is None else unit
        if self.unit != 1.0:
            X = X / self.unit
        self.device = device
        self.exact = torch.from_numpy(np.ascontiguousarray(X)).to(device)
        self.f32 = self.exact.float()
        self.sq32 = (self.f32 * self.f32).sum(dim=1)
        self.sq64 = (self.exact.double() ** 2).sum(dim=1)
        if not torch.isfinite(self.sq32).all():
            raise ValueError(
                f"Features of magnitude up to {float(np.abs(X).max()):.3g} overflow the "
                "float32 squared distances this k-NN search computes; rescale them."
            )
        n_features = X.shape[1]
        # Worst-case error of a float32 squared distance from the GEMM form:
        # |err| <= gamma_{d+2} (|x|^2 + |y|^2 + 2|x||y|) <= 2 gamma (|x|^2 + |y|^2), plus the
        # float64 -> float32 rounding of the inputs; doubled again for margin.
        self.tol_factor = 8.0 * (n_features + 8) * 2.0**-24

    def __len__(self):
        return self.exact.shape[0]

    def approx_sq(self, rows_Q, cols: slice) -> torch.Tensor:
        """float32 squared distances, shape (len(rows_Q), cols)."""
        x = self.f32[rows_Q]
        d2 = torch.addmm(self.sq32[cols].unsqueeze(0), x, self.f32[cols].T, beta=1, alpha=-2)
        return d2 + self.sq32[rows_Q].unsqueeze(1)

    def exact_sq(self, rows_P, cols_P, other=None) -> torch.Tensor:
        """float64 squared distances of row pairs from explicit differences."""
        other = self if other is None else other
        # Index tensors may live on another device than the features (CPU row ranges
        # against CUDA features): bring them to the features.
        rows_P = torch.as_tensor(rows_P).to(self.exact.device)
        cols_P = torch.as_tensor(cols_P).to(other.exact.device)
        diff = self.exact[rows_P].double() - other.exact[cols_P].double()
        return (diff * diff).sum(dim=-1)


@dataclass
class KNNResult:
    """Result of :func:`knn_search`.

    Attributes
    ----------
    radius_N : ndarray of shape (n_queries,), float64
        Distance to the k-th nearest neighbour (the query row itself included).
    neighbours_NK : ndarray of shape (n_queries, k), int64
        Indices of the k nearest rows (in no particular order; with ties at the k-th
        distance, any k rows that realise it).
    n_rechecked : int
        Rows that needed the full float64 re-check (ties or near-ties at the k-th place).
    """

    radius_N: np.ndarray
    neighbours_NK: np.ndarray
    n_rechecked: int


def knn_search(
    X_ND,
    k: int = 13,
    *,
    queries=None,
    device="cpu",
    chunk_size: int = _DEFAULT_CHUNK,
    n_extra: int = 16,
) -> KNNResult:
    """Exact k-NN radius of rows of ``X_ND`` among all rows of ``X_ND`` (self included).

    Parameters
    ----------
    X_ND : array-like of shape (n_samples, n_features)
        The points (float32 or float64; float64 inputs are re-checked in float64 too).
    k : int, default=13
        Which neighbour; the row itself is the first. 1 <= k <= n_samples.
    queries : array-like of int, default=None
        Rows to compute (all rows when None).
    device : str or torch.device, default="cpu"
        Where the GEMMs run ("cpu", "cuda", "auto").
    chunk_size : int, default=2**23
        Most elements of one float32 distance block (bounds memory).
    n_extra : int, default=16
        Candidates kept per row beyond k for the float64 re-ranking.

    Returns
    -------
    result : KNNResult

    Examples
    --------
    >>> import numpy as np
    >>> knn_search(np.array([[0.0], [1.0], [3.0]]), k=2).radius_N.tolist()
    [1.0, 1.0, 2.0]
    """
    device = _resolve_device(device)
    points = X_ND if isinstance(X_ND, _Points) else _Points(X_ND, device)
    n = len(points)
    if not (isinstance(k, int | np.integer) and 1 <= k <= n):
        raise ValueError(f"k must be an int in [1, n_samples={n}]; got {k!r}.")
    if chunk_size < 1 or n_extra < 0:
        raise ValueError(f"chunk_size must be >= 1 and n_extra >= 0; got {chunk_size}, {n_extra}.")
    q_all = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    n_keep = min(k + n_extra, n)
    block_cols = min(n, max(chunk_size // _MIN_BLOCK_ROWS, n_keep))
    block_rows = max(1, chunk_size // block_cols)
    max_sq = points.sq64.max()
    radius = np.empty(len(q_all))
    neighbours = np.empty((len(q_all), k), dtype=np.int64)
    n_rechecked = 0
    with torch.no_grad(), _NoTF32():
        for r0 in range(0, len(q_all), block_rows):
            rows = torch.as_tensor(q_all[r0 : r0 + block_rows], device=device)
            best_val, best_idx = _streaming_topk(points, rows, n_keep, block_cols)
            tol = points.tol_factor * (points.sq64[rows] + max_sq)
            kth_sq, best_idx = _exact_kth(points, rows, best_val, best_idx, k, tol)
            # Any point outside the candidates has float32 value >= the largest kept one,
            # so its exact squared distance is >= that minus tol.
            outside_lower = best_val.max(dim=1).values.double() - tol
            sure = outside_lower >= kth_sq if n_keep < n else torch.ones_like(kth_sq, dtype=bool)
            nb = best_idx[:, :k].clone()
            bad = torch.nonzero(~sure).flatten()
            for b in bad.tolist():
                kth_sq[b], nb[b] = _recheck_row(points, int(rows[b]), k, kth_sq[b] + tol[b])
            n_rechecked += len(bad)
            radius[r0 : r0 + len(rows)] = torch.sqrt(kth_sq).cpu().numpy() * points.unit
            neighbours[r0 : r0 + len(rows)] = nb.cpu().numpy()
    return KNNResult(radius_N=radius, neighbours_NK=neighbours, n_rechecked=n_rechecked)


def _streaming_topk(points, rows, n_keep, block_cols):
    """Smallest n_keep float32 squared distances per row, streaming over column blocks."""
    n = len(points)
    best_val = best_idx = None
    x = points.f32[rows]
    for c0 in range(0, n, block_cols):
        c1 = min(n, c0 + block_cols)
        # ||y||^2 - 2 x.y ranks a row like the squared distance; ||x||^2 is added after.
        d2 = torch.addmm(points.sq32[c0:c1].unsqueeze(0), x, points.f32[c0:c1].T, beta=1, alpha=-2)
        val, idx = torch.topk(d2, min(n_keep, c1 - c0), dim=1, largest=False, sorted=False)
        idx += c0
        if best_val is not None:
            val, pos = torch.topk(
                torch.cat([best_val, val], 1), n_keep, dim=1, largest=False, sorted=False
            )
            idx = torch.gather(torch.cat([best_idx, idx], 1), 1, pos)
        best_val, best_idx = val, idx
    return best_val + points.sq32[rows].unsqueeze(1), best_idx


def _exact_kth(points, rows, approx_RC, idx_RC, k, tol_R):
    """Exact k-th smallest squared distance among the candidates, and the k nearest.

    The exact k-th value t lies within tol of the float32 k-th value v. A candidate whose
    float32 value is below v - 2 tol is surely nearer than t, one above v + 2 tol surely
    farther; only the candidates in between are computed in float64. Replacing the sure
    ones by -inf / +inf keeps t the k-th order statistic.
    """
    approx = approx_RC.double()
    v_k = torch.kthvalue(approx, k, dim=1).values.unsqueeze(1)
    tol = tol_R.unsqueeze(1)
    keys = torch.full_like(approx, torch.inf)
    keys[approx < v_k - 2 * tol] = -torch.inf
    window = torch.nonzero((approx >= v_k - 2 * tol) & (approx <= v_k + 2 * tol))
    i, j = window[:, 0], window[:, 1]
    keys[i, j] = points.exact_sq(rows.to(i.device)[i], idx_RC[i, j]).to(keys.device)
    keys, order = torch.sort(keys, dim=1, stable=True)
    return keys[:, k - 1], torch.gather(idx_RC, 1, order)


def _recheck_row(points, row, k, threshold_sq):
    """Exact k-th distance of one row over every point whose float32 value <= threshold."""
    n = len(points)
    step = max(1, _DEFAULT_CHUNK // 64)
    rows_q = torch.tensor([row], device=points.device)
    cand = []
    for c0 in range(0, n, step):
        d2 = points.approx_sq(rows_q, slice(c0, min(n, c0 + step)))[0]
        cand.append(torch.nonzero(d2.double() <= threshold_sq).flatten() + c0)
    cand = torch.cat(cand)
    exact = points.exact_sq(rows_q.expand(len(cand)), cand)
    exact, order = torch.sort(exact, stable=True)
    return exact[k - 1], cand[order[:k]]


def count_within(pool_ND, radii_N, acquired_AD, *, device="cpu", chunk_size=_DEFAULT_CHUNK):
    """Per pool row, the number of acquired rows at distance <= its radius (exact).

    float32 GEMM distances decide every pair whose distance is clearly inside or outside
    the ball; the pairs within the float32 error bound of the radius are re-checked in
    float64.

    Parameters
    ----------
    pool_ND : array-like of shape (n_pool, n_features) or _Points
    radii_N : array-like of shape (n_pool,)
    acquired_AD : array-like of shape (n_acquired, n_features) or _Points
    device : str or torch.device, default="cpu"
    chunk_size : int, default=2**23
        Most elements of one float32 distance block.

    Returns
    -------
    counts_N : ndarray of shape (n_pool,), int64

    Examples
    --------
    >>> import numpy as np
    >>> count_within(np.array([[0.0, 0.0]]), [1.0], np.array([[0.6, 0.8], [1.0, 1.0]])).tolist()
    [1]
    """
    device = _resolve_device(device)
    if isinstance(pool_ND, _Points):
        pool = pool_ND
    elif isinstance(acquired_AD, _Points):
        pool = _Points(pool_ND, device, unit=acquired_AD.unit)
    else:  # one unit for both sets, whatever their sizes
        pool = _Points(pool_ND, device, unit=distance_unit(pool_ND, np.asarray(acquired_AD)))
    radii = torch.as_tensor(np.asarray(radii_N, dtype=np.float64) / pool.unit, device=pool.device)
    if radii.shape != (len(pool),):
        raise ValueError(f"radii must have shape ({len(pool)},); got {tuple(radii.shape)}.")
    counts = torch.zeros(len(pool), dtype=torch.int64, device=pool.device)
    if isinstance(acquired_AD, _Points):
        acquired = acquired_AD
        if acquired.unit != pool.unit:
            raise ValueError("The pool and the acquired points are held in different units.")
    else:
        acquired_AD = np.asarray(acquired_AD)
        if acquired_AD.size == 0:
            return counts.cpu().numpy()
        acquired = _Points(acquired_AD, pool.device, unit=pool.unit)
    if acquired.exact.shape[1] != pool.exact.shape[1]:
        raise ValueError(
            f"Acquired features have {acquired.exact.shape[1]} columns, the pool "
            f"{pool.exact.shape[1]}."
        )
    n_acq = len(acquired)
    block_rows = max(1, chunk_size // n_acq)
    max_acq_sq = acquired.sq64.max()
    r2 = radii * radii
    with torch.no_grad(), _NoTF32():
        for r0 in range(0, len(pool), block_rows):
            rows = torch.arange(r0, min(len(pool), r0 + block_rows), device=pool.device)
            x = pool.f32[rows]
            d2 = torch.addmm(acquired.sq32.unsqueeze(0), x, acquired.f32.T, beta=1, alpha=-2)
            d2 = (d2 + pool.sq32[rows].unsqueeze(1)).double()
            tol = (pool.tol_factor * (pool.sq64[rows] + max_acq_sq)).unsqueeze(1)
            rr = r2[rows].unsqueeze(1)
            counts[rows] += (d2 + tol < rr).sum(dim=1)
            unsure = torch.nonzero((d2 + tol >= rr) & (d2 - tol <= rr))
            if len(unsure):
                i, j = rows[unsure[:, 0]], unsure[:, 1]
                dist = torch.sqrt(pool.exact_sq(i, j, other=acquired))
                counts.index_add_(0, i, _within_radius(dist, radii[i]).to(torch.int64))
    return counts.cpu().numpy()


class BallUpdater:
    """Which pool rows' balls hold a given pool row: one distance row per call.

    For the greedy in-batch update of BAL-PM: the pool is held once (float32 copy for the
    matrix-vector product, exact copy for the float64 re-check near the radius).

    Parameters
    ----------
    points : _Points
        The pool.
    radii_N : ndarray of shape (n_pool,)
        Ball radius of every pool row.
    """

    def __init__(self, points, radii_N):
        self.points = points
        radii_N = np.asarray(radii_N, dtype=np.float64) / points.unit
        self.radii = torch.as_tensor(radii_N, device=points.device)
        self.r2_32 = (self.radii * self.radii).float()
        self.tol_32 = (points.tol_factor * points.sq64).float()

    def rows_containing(self, i: int) -> np.ndarray:
        """Positions of the rows x with ||phi(i) - phi(x)|| <= r(x) (exact)."""
        p = self.points
        with torch.no_grad(), _NoTF32():
            d2 = p.sq32 + (p.sq32[i] - 2.0 * torch.mv(p.f32, p.f32[i]))
            tol = self.tol_32 + self.tol_32[i] + 1e-30
            inside = d2 + tol < self.r2_32
            unsure = torch.nonzero((~inside) & (d2 - tol <= self.r2_32)).flatten()
            if len(unsure):
                exact = torch.sqrt(p.exact_sq(unsure, torch.full_like(unsure, i)))
                inside[unsure] = _within_radius(exact, self.radii[unsure])
            return torch.nonzero(inside).flatten().cpu().numpy()


def knn_search_faiss(X_ND, k: int = 13, *, hnsw_m: int = 32, ef_search: int = 128):
    """Approximate k-NN radius with a faiss HNSW index (self counted as first neighbour).

    For pools past about 10^5 rows, where the exact O(N^2 d) pass gets long. Needs the
    extra ``faiss`` (``pip install skbalpm[faiss]``).

    Parameters
    ----------
    X_ND : array-like of shape (n_samples, n_features)
    k : int, default=13
    hnsw_m : int, default=32
        Links per node of the HNSW graph.
    ef_search : int, default=128
        Search breadth (larger: more exact, slower).

    Returns
    -------
    radius_N : ndarray of shape (n_samples,), float64

    Examples
    --------
    >>> import numpy as np
    >>> knn_search_faiss(np.array([[0.0], [1.0], [3.0]], dtype=np.float32), k=2).tolist()
    [1.0, 1.0, 2.0]
    """
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("The faiss k-NN backend needs faiss: pip install skbalpm[faiss]") from exc
    X = np.ascontiguousarray(np.asarray(X_ND, dtype=np.float32))
    n = X.shape[0]
    if not (isinstance(k, int | np.integer) and 1 <= k <= n):
        raise ValueError(f"k must be an int in [1, n_samples={n}]; got {k!r}.")
    index = faiss.IndexHNSWFlat(X.shape[1], hnsw_m)
    index.hnsw.efSearch = max(ef_search, k)
    index.add(X)
    d2, ids = index.search(X, k)
    return faiss_radius(d2, ids, np.arange(n))


def faiss_radius(d2_QK, ids_QK, query_ids_Q) -> np.ndarray:
    """k-NN radius of each query from a faiss search of the pool's own rows.

    Parameters
    ----------
    d2_QK : ndarray of shape (n_queries, k)
        Squared distances faiss returned (ascending per row).
    ids_QK : ndarray of shape (n_queries, k)
        Their row ids (-1 where faiss found fewer than k).
    query_ids_Q : ndarray of shape (n_queries,)
        Each query's own row id in the index.

    Returns
    -------
    radius_Q : ndarray of shape (n_queries,), float64
        Distance to the k-th neighbour, the query itself counted first; inf where faiss
        found fewer than k rows.

    Examples
    --------
    >>> import numpy as np
    >>> faiss_radius(np.array([[0.0, 4.0], [1.0, 9.0]]), np.array([[0, 1], [0, 2]]),
    ...              np.array([0, 1])).tolist()  # row 1 was missed by its own search
    [2.0, 1.0]
    """
    k = d2_QK.shape[1]
    d2 = np.where(ids_QK < 0, np.inf, np.maximum(d2_QK, 0.0))  # faiss pads misses with id -1
    # The approximate search may miss the query row itself (at distance 0): put it first.
    missed_self = ~(ids_QK == np.asarray(query_ids_Q)[:, None]).any(axis=1)
    d2[missed_self] = np.sort(
        np.concatenate([np.zeros((missed_self.sum(), 1)), d2[missed_self, : k - 1]], 1), 1
    )
    return np.sqrt(d2[:, k - 1].astype(np.float64))


def radius_graph(X_ND, radius, *, device="cpu", chunk_size=_DEFAULT_CHUNK):
    """Every pair of rows at distance <= ``radius`` (exact), as a sparse 0/1 matrix.

    float32 GEMM distances decide the pairs clearly inside or outside; those within the
    float32 error bound of the radius are re-checked in float64 (the rim counts as
    inside, as for :func:`count_within`). Memory: the edges, never an n x n block.

    Parameters
    ----------
    X_ND : array-like of shape (n, n_features) or _Points
    radius : float
        >= 0.
    device : str or torch.device, default="cpu"
    chunk_size : int, default=2**23
        Most elements of one float32 distance block.

    Returns
    -------
    graph : scipy.sparse.csr_array of shape (n, n), int8
        Symmetric, with every row's self-loop; row i's column indices are sorted.

    Examples
    --------
    >>> import numpy as np
    >>> radius_graph(np.array([[0.0], [1.0], [3.0]]), 1.0).toarray().tolist()
    [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    """
    from scipy import sparse

    device = _resolve_device(device)
    points = X_ND if isinstance(X_ND, _Points) else _Points(X_ND, device)
    n = len(points)
    r = float(radius) / points.unit
    r2 = r * r
    # float32 comparisons, as in BallUpdater: the bound's margin covers their rounding
    tol_32 = (points.tol_factor * (points.sq64 + points.sq64.max())).float()
    block_rows = max(1, chunk_size // n)
    rows_out, cols_out = [], []
    with torch.no_grad(), _NoTF32():
        for r0 in range(0, n, block_rows):
            rows = torch.arange(r0, min(n, r0 + block_rows), device=points.device)
            d2 = points.approx_sq(rows, slice(0, n))
            tol = tol_32[rows].unsqueeze(1)
            inside = d2 + tol < r2
            unsure = torch.nonzero((~inside) & (d2 - tol <= r2))
            if len(unsure):
                i, j = rows[unsure[:, 0]], unsure[:, 1]
                dist = torch.sqrt(points.exact_sq(i, j))
                inside[unsure[:, 0], j] = _within_radius(dist, torch.full_like(dist, r))
            inside[torch.arange(len(rows)), rows] = True  # distance 0, whatever the rounding
            i, j = torch.nonzero(inside, as_tuple=True)
            rows_out.append((i + r0).to(torch.int32).cpu().numpy())  # 8 bytes an edge
            cols_out.append(j.to(torch.int32).cpu().numpy())
    i, j = np.concatenate(rows_out), np.concatenate(cols_out)
    data = np.ones(len(i), dtype=np.int8)
    return sparse.csr_array((data, (i, j)), shape=(n, n))


def nearest_other_label(X_ND, labels_N, *, device="cpu", chunk_size=_DEFAULT_CHUNK):
    """Per row, the distance to the nearest row of another label (exact; inf if none).

    Parameters
    ----------
    X_ND : array-like of shape (n, n_features)
    labels_N : array-like of shape (n,), int
        E.g. k-means cluster labels.
    device : str or torch.device, default="cpu"
    chunk_size : int, default=2**23
        Most elements of one float32 distance block.

    Returns
    -------
    distance_N : ndarray of shape (n,), float64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> nearest_other_label(X, [0, 0, 1, 1]).tolist()
    [3.0, 2.0, 2.0, 6.0]
    """
    device = _resolve_device(device)
    points = X_ND if isinstance(X_ND, _Points) else _Points(X_ND, device)
    n = len(points)
    labels = torch.as_tensor(np.asarray(labels_N, dtype=np.int64), device=points.device)
    tol_32 = (points.tol_factor * (points.sq64 + points.sq64.max())).float()
    block_rows = max(1, chunk_size // n)
    out = np.empty(n)
    with torch.no_grad(), _NoTF32():
        for r0 in range(0, n, block_rows):
            rows = torch.arange(r0, min(n, r0 + block_rows), device=points.device)
            d2 = points.approx_sq(rows, slice(0, n))
            d2[labels[rows].unsqueeze(1) == labels.unsqueeze(0)] = torch.inf
            tol = tol_32[rows].unsqueeze(1)
            # the exact minimum lies within tol of the float32 one: re-check the
            # candidates within 2 tol of it in float64
            low = d2.min(dim=1, keepdim=True).values
            unsure = torch.nonzero((d2 <= low + 2 * tol) & torch.isfinite(d2))
            best = torch.full((len(rows),), torch.inf, dtype=torch.float64, device=d2.device)
            if len(unsure):
                exact = points.exact_sq(rows[unsure[:, 0]], unsure[:, 1]).to(d2.device)
                best.scatter_reduce_(0, unsure[:, 0], exact, reduce="amin")
            out[r0 : r0 + len(rows)] = torch.sqrt(best).cpu().numpy() * points.unit
    return out


def row_fingerprints(X_ND) -> np.ndarray:
    """64-bit fingerprint of each row's bytes (equal rows, equal fingerprints).

    Examples
    --------
    >>> import numpy as np
    >>> fp = row_fingerprints(np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]]))
    >>> bool(fp[0] == fp[1]), bool(fp[0] == fp[2])
    (True, False)
    """
    X = np.ascontiguousarray(X_ND)
    return np.array(
        [int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest()) for r in X],
        dtype=np.uint64,
    )


class KNNRadiusCache:
    """k-NN radii that carry over between rounds while the pool only loses points.

    Rows are identified by a fingerprint of their feature bytes, so the caller passes
    nothing but the current pool. A row's radius is kept when none of its k nearest
    neighbours left the pool (removing a point outside the k-NN set cannot change the
    k-th distance); other rows, and every row when the pool gained points or changed
    features, are recomputed exactly.

    Parameters
    ----------
    k : int
        Which neighbour (self included).
    **knn_kwargs
        Passed to the exact search, ``knn_search`` (``device``, ``chunk_size``,
        ``n_extra``); ``device`` defaults to the CPU.

    Attributes
    ----------
    n_recomputed_ : int
        Rows computed on the last call.

    References
    ----------
    A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
    Physical Review E 69, 066138, 2004 (the k-NN distances of the entropy estimate).

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [3.0], [6.0], [10.0], [15.0]])
    >>> cache = KNNRadiusCache(k=2)
    >>> cache.radius(X).tolist()
    [1.0, 1.0, 2.0, 3.0, 4.0, 5.0]

    Removing the point at 6 only changes the radius of the point at 10, whose nearest
    neighbour it was; that is the one row recomputed:

    >>> cache.radius(X[[0, 1, 2, 4, 5]]).tolist(), cache.n_recomputed_
    ([1.0, 1.0, 2.0, 5.0, 5.0], 1)
    """

    def __init__(self, k: int, **knn_kwargs):
        self.k = k
        self.knn_kwargs = knn_kwargs
        self._state = None

    def radius(self, X_ND, points=None) -> np.ndarray:
        """Exact k-NN radius of every row of the current pool ``X_ND``.

        Reuses the radii of the previous call for the rows whose k nearest neighbours
        are all still in the pool; ``n_recomputed_`` says how many rows were computed.

        Parameters
        ----------
        X_ND : ndarray of shape (n_pool, n_features)
            The current pool's (prompt) features.
        points : object or None, default=None
            The same rows already placed on the compute device (what the query strategies
            pass, to share one device copy); None places ``X_ND`` on the device given at
            construction (CPU by default).

        Returns
        -------
        radius_N : ndarray of shape (n_pool,), float64
            Distance from every row to its k-th nearest neighbour (itself first).

        Examples
        --------
        >>> import numpy as np
        >>> cache = KNNRadiusCache(k=2)
        >>> cache.radius(np.array([[0.0], [2.0], [3.0]])).tolist(), cache.n_recomputed_
        ([2.0, 1.0, 1.0], 3)
        """
        fp = row_fingerprints(X_ND)
        if points is None:
            points = _Points(X_ND, _resolve_device(self.knn_kwargs.get("device", "cpu")))
        kwargs = {key: v for key, v in self.knn_kwargs.items() if key != "device"}
        recompute = self._rows_to_recompute(fp)
        if recompute is None:
            result = knn_search(points, self.k, **kwargs)
            radius, nbr_fp = result.radius_N, fp[result.neighbours_NK]
            self.n_recomputed_ = len(fp)
        else:
            _, old_radius, old_nbr_fp = self._state
            rep = self._old_row_of(fp)
            radius, nbr_fp = old_radius[rep].copy(), old_nbr_fp[rep].copy()
            rows = np.flatnonzero(recompute)
            if len(rows):
                result = knn_search(points, self.k, queries=rows, **kwargs)
                radius[rows] = result.radius_N
                nbr_fp[rows] = fp[result.neighbours_NK]
            self.n_recomputed_ = len(rows)
        self._state = (fp, radius, nbr_fp)
        return radius

    def _old_row_of(self, fp):
        old_fp = self._state[0]
        order = np.argsort(old_fp, kind="stable")
        return order[np.searchsorted(old_fp[order], fp)]

    def _rows_to_recompute(self, fp):
        """Boolean mask of rows to recompute, or None when everything must be."""
        if self._state is None or len(fp) < self.k:
            return None
        old_fp, _, old_nbr_fp = self._state
        old_u, old_c = np.unique(old_fp, return_counts=True)
        new_u, new_c = np.unique(fp, return_counts=True)
        pos = np.searchsorted(old_u, new_u)
        pos_ok = pos < len(old_u)
        if not (pos_ok.all() and (old_u[np.minimum(pos, len(old_u) - 1)] == new_u).all()):
            return None  # new rows appeared (or features changed): no reuse
        if (new_c > old_c[pos]).any():
            return None
        kept = np.zeros(len(old_u), dtype=np.int64)
        kept[pos] = new_c
        lost_fp = old_u[kept < old_c]
        old_affected = np.isin(old_nbr_fp, lost_fp).any(axis=1)
        return old_affected[self._old_row_of(fp)] | np.isin(fp, lost_fp)
