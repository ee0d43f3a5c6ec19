"""ProbCover (Yehuda et al., 2022): greedy maximum coverage of the prompts by delta-balls.

A low-budget, cold-start strategy: it needs no classifier. Every prompt (pool and
acquired) is a vertex of the covering graph, with an edge x -> y where
``||x - y|| <= delta``; a prompt within ``delta`` of an acquired one is covered. Each pick
is the pool row whose ball holds the most prompts not yet covered; its ball is then
covered. The graph is held sparse (:func:`~skbalpm.acquisition._knn.radius_graph`: float32
GEMM blocks, float64 re-check near the radius, exact): memory grows with the number of
edges, ``n`` times the mean ball size, never ``n^2``.

The radius comes from the paper's purity rule (:func:`probcover_radius`): the largest
delta at which a fraction ``purity`` of the prompts have balls inside their own k-means
cluster.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from skbalpm._features import FEATURE_LAYOUTS
from skbalpm.acquisition._base import BaseQueryStrategy, check_n_instances
from skbalpm.acquisition._knn import _resolve_device, nearest_other_label, radius_graph
from skbalpm.acquisition._params import check_device, check_int, check_option, check_real
from skbalpm.acquisition._typiclust import _checked_points, kmeans_labels

__all__ = ["ProbCoverQueryStrategy", "probcover_batch", "probcover_radius"]


def probcover_radius(features_ND, *, n_clusters=10, purity=0.95, random_state=None, device="cpu"):
    """The paper's ball radius: the largest delta at which ``purity`` of the balls are pure.

    The rows are clustered by k-means into ``n_clusters``; a row's ball of radius delta
    is pure when it holds no row of another cluster, i.e. when delta is below the
    distance to the nearest row of another cluster. The radius is the largest delta at
    which at least a fraction ``purity`` of the balls are pure, computed exactly (a
    quantile of those distances) rather than on a grid of deltas.

    Parameters
    ----------
    features_ND : array-like of shape (n, d)
        The rows: the pool's and the acquired prompts' features.
    n_clusters : int, default=10
        k-means clusters (the paper: the number of classes; prompts have none, so this
        is the number of topics one expects; more clusters give a smaller radius).
    purity : float in (0, 1], default=0.95
        Fraction of pure balls (the paper's alpha).
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.
    device : {"auto", "cpu", "cuda"} or torch.device, default="cpu"
        Where the distances to the nearest row of another cluster are computed.

    Returns
    -------
    delta : float
        The radius (in the features' units); 0.0 for a single row.

    References
    ----------
    O. Yehuda, A. Dekel, G. Hacohen, D. Weinshall, "Active Learning Through a Covering
    Lens", NeurIPS 2022, arXiv:2205.11320.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.5], [1.0], [10.0], [10.5], [11.0]])
    >>> float(probcover_radius(X, n_clusters=2, purity=1.0, random_state=0)) < 9.0
    True
    """
    points_MD, _, unit = _checked_points(features_ND, None)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral):
        raise ValueError(f"n_clusters must be an int >= 2; got {n_clusters!r}.")
    if n_clusters < 2:
        raise ValueError(f"n_clusters must be an int >= 2; got {n_clusters!r}.")
    is_real = isinstance(purity, numbers.Real) and not isinstance(purity, bool)
    if not is_real or not 0.0 < purity <= 1.0:
        raise ValueError(f"purity must be a number in (0, 1]; got {purity!r}.")
    n = len(points_MD)
    if n == 1:
        return 0.0
    labels_M = kmeans_labels(points_MD, min(n_clusters, n), random_state)
    nearest_other_M = np.sort(nearest_other_label(points_MD, labels_M, device=device))
    # at most n_impure balls may hold a row of another cluster: delta must stay below
    # the (n_impure + 1)-th smallest distance (balls are closed: ||x - y|| <= delta)
    n_impure = int(np.floor((1.0 - purity) * n + 1e-9))
    return float(np.nextafter(nearest_other_M[n_impure], 0.0) * unit)


def probcover_batch(
    pool_ND, n_instances, *, delta, acquired_AD=None, random_state=None, device="cpu"
):
    """ProbCover's batch, a pure function: greedy maximum coverage by delta-balls.

    The prompts within ``delta`` of an acquired row (the acquired rows included) are
    covered. Each pick is the pool row, not yet picked, whose ball holds the most
    uncovered rows (ties: drawn at random, as in the paper), and its ball is then covered.

    Parameters
    ----------
    pool_ND : array-like of shape (n_pool, d)
        Features of the pool (prompt features, for preference pairs).
    n_instances : int
        Batch size, 1 <= n_instances <= n_pool.
    delta : float
        Ball radius, >= 0 (:func:`probcover_radius` gives the paper's).
    acquired_AD : array-like of shape (n_acquired, d), default=None
        Features of the acquired (labelled) rows; None or empty at a cold start.
    random_state : int, RandomState instance or None, default=None
        Breaks ties among the rows that cover the most.
    device : {"auto", "cpu", "cuda"} or torch.device, default="cpu"
        Where the covering graph's distances are computed.

    Returns
    -------
    indices : ndarray of shape (n_instances,), int
        Pool positions in pick order.
    scores : ndarray of shape (n_instances,)
        The number of rows each pick newly covered.

    References
    ----------
    O. Yehuda, A. Dekel, G. Hacohen, D. Weinshall, "Active Learning Through a Covering
    Lens", NeurIPS 2022, arXiv:2205.11320.

    Examples
    --------
    >>> import numpy as np
    >>> pool = np.array([[0.0], [0.4], [0.8], [5.0], [5.5], [20.0]])
    >>> idx, covered = probcover_batch(pool, 3, delta=0.5, random_state=0)
    >>> idx.tolist(), covered.tolist()
    ([1, 3, 5], [3.0, 2.0, 1.0])
    """
    points_MD, n_pool, unit = _checked_points(pool_ND, acquired_AD)
    check_n_instances(n_instances, n_pool)
    is_real = isinstance(delta, numbers.Real) and not isinstance(delta, bool)
    if not is_real or not np.isfinite(delta) or delta < 0:
        raise ValueError(f"delta must be a finite number >= 0; got {delta!r}.")
    rng = check_random_state(random_state)
    graph = radius_graph(points_MD, delta / unit, device=_resolve_device(device))
    picks, scores, _ = _greedy_cover(graph, n_pool, n_instances, rng)
    return picks, scores


def _greedy_cover(graph, n_pool, n_instances, rng):
    """Greedy max coverage on a symmetric CSR graph, picking among its first n_pool rows:
    the picks, their gains and the covered rows after the batch."""
    covered_M = np.zeros(graph.shape[0], dtype=bool)
    covered_M[graph[n_pool:].indices] = True  # balls of the acquired rows
    # uncovered rows in each ball; a newly covered row leaves every ball holding it,
    # and the balls holding it are its own ball's rows (the graph is symmetric)
    gain_M = graph @ (~covered_M).astype(np.int64)
    available_N = np.ones(n_pool, dtype=bool)
    picks = np.empty(n_instances, dtype=np.intp)
    scores = np.empty(n_instances)
    for b in range(n_instances):
        gain_N = np.where(available_N, gain_M[:n_pool], -1)
        ties = np.flatnonzero(gain_N == gain_N.max())
        pick = int(ties[0] if len(ties) == 1 else rng.choice(ties))
        picks[b], scores[b] = pick, gain_N[pick]
        available_N[pick] = False
        ball = graph.indices[graph.indptr[pick] : graph.indptr[pick + 1]]
        newly = ball[~covered_M[ball]]
        covered_M[newly] = True
        gain_M -= np.bincount(graph[newly].indices, minlength=len(gain_M))
    return picks, scores, covered_M


class ProbCoverQueryStrategy(BaseQueryStrategy):
    """ProbCover: greedy maximum coverage of the prompts by balls of radius delta.

    A cold-start strategy for low budgets: it reads only prompt features, so it runs with
    ``classifier=None`` (pass the pool's features as ``X_pool`` with ``feature_layout``,
    or the prompts as ``prompt_features=``) and can pick the harness's initial set
    (``skbalpm benchmark --initial-strategy probcover``). Mid-loop it counts the acquired
    set: prompts within ``delta`` of an acquired one are covered already
    (:func:`~skbalpm.acquisition.probcover_batch`).

    Parameters
    ----------
    delta : float or "purity", default="purity"
        Ball radius (>= 0, in the prompt features' units), or ``"purity"``: the paper's
        rule, the largest radius at which a fraction ``purity`` of the balls lie inside
        their own k-means cluster (:func:`~skbalpm.acquisition.probcover_radius`), on the
        pool and acquired prompts of each call. Too large a radius covers everything at
        once (and the graph grows with the balls); too small makes each ball one prompt.
        To choose one by hand, look at the ``coverage_`` a batch reaches: the paper aims
        at high coverage for the budget.
    n_clusters : int, default=10
        k-means clusters of the purity rule (the paper: the number of classes; prompts
        have none, so the number of topics one expects).
    purity : float in (0, 1], default=0.95
        Fraction of pure balls of the purity rule (the paper's alpha).
    feature_layout : {"auto", "a|b|prompt", "a|b"}, default="auto"
        Where the prompt block of ``X_pool`` lies when the classifier does not say (no
        classifier at a cold start); see :func:`~skbalpm.split_feature_blocks`.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the distance passes run (float32 GEMM blocks, float64 re-check).
    random_state : int, RandomState instance or None, default=None
        Seeds k-means and the tie-breaks; the strategy keeps one generator across calls.

    Attributes
    ----------
    delta_ : float
        The radius of the last call.
    coverage_ : float
        Fraction of the pool and acquired prompts covered after the last batch.
    n_edges_ : int
        Edges of the last call's covering graph (its memory: about 5 bytes each, 8 more
        while it is built).

    Notes
    -----
    The returned scores are the numbers of prompts each pick newly covered. The graph's
    balls are closed (``<=``, as in scikit-activeml's ``ProbCover``; the authors' code
    uses ``<``). scikit-activeml picks delta from a grid of radii, builds the dense
    ``n x n`` distance matrix and clusters into the number of classes of the labels;
    here the largest radius of the purity rule is computed exactly and the graph is
    sparse. Prompt features come as for :class:`BALPMQueryStrategy`.

    References
    ----------
    O. Yehuda, A. Dekel, G. Hacohen, D. Weinshall, "Active Learning Through a Covering
    Lens", NeurIPS 2022, arXiv:2205.11320.

    Examples
    --------
    A cold start (no classifier, nothing labelled) on features ``a|b|prompt``:

    >>> from skbalpm import ProbCoverQueryStrategy
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=200, n_features=4, random_state=0)
    >>> strategy = ProbCoverQueryStrategy(feature_layout=data.feature_layout, random_state=0)
    >>> idx, newly_covered = strategy(None, data.X, n_instances=5, X_acquired=data.X[:0])
    >>> len(set(idx.tolist())), bool(strategy.delta_ > 0), bool(strategy.coverage_ > 0)
    (5, True, True)
    """

    name = "probcover"
    _reads = frozenset({"prompts"})

    def __init__(
        self,
        delta="purity",
        n_clusters=10,
        purity=0.95,
        feature_layout="auto",
        device="auto",
        random_state=None,
    ):
        self.delta = delta
        self.n_clusters = n_clusters
        self.purity = purity
        self.feature_layout = feature_layout
        self.device = device
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        if not (isinstance(self.delta, str) and self.delta == "purity"):
            if isinstance(self.delta, str):
                raise ValueError(
                    f"ProbCoverQueryStrategy: delta must be 'purity' or a finite number "
                    f">= 0; got {self.delta!r}."
                )
            check_real(self, "delta", minimum=0.0)
        check_int(self, "n_clusters", minimum=2)
        check_real(self, "purity", minimum=0.0, strict=True)
        if self.purity > 1.0:
            raise ValueError(
                f"ProbCoverQueryStrategy: purity must lie in (0, 1]; got {self.purity!r}."
            )
        check_option(self, "feature_layout", ("auto", *FEATURE_LAYOUTS))
        check_device(self)

    def _reads_acquired_set(self):
        return True

    def _select(self, context, n_instances):
        pool_ND, acquired_AD = context.pool_prompts, context.acquired_prompts
        rng = self._random_state()
        device = _resolve_device(self.device)
        delta = self.delta
        if delta == "purity":
            delta = probcover_radius(
                np.vstack([pool_ND, acquired_AD]),
                n_clusters=self.n_clusters,
                purity=self.purity,
                random_state=rng,
                device=device,
            )
        points_MD, n_pool, unit = _checked_points(pool_ND, acquired_AD)
        graph = radius_graph(points_MD, delta / unit, device=device)
        picks, scores, covered_M = _greedy_cover(graph, n_pool, n_instances, rng)
        self.delta_ = float(delta)
        self.n_edges_ = int(graph.nnz)
        self.coverage_ = float(covered_M.mean())
        return picks, scores
