"""TypiClust (Hacohen et al., 2022): the most typical prompt of each uncovered cluster.

A low-budget, cold-start strategy: it needs no classifier. The prompts of the pool and of
the acquired set are clustered by k-means into ``|L| + B`` clusters (at most
``max_clusters``); a cluster holding an acquired prompt is covered. The batch takes the
uncovered clusters from the largest down, and from each the pool row of highest
typicality, the inverse mean distance to its ``k`` nearest neighbours in the cluster:

    typicality(x) = 1 / ( (1/k) sum_{x_i in kNN(x)} ||x - x_i|| ).

Where the clusters are fewer than the batch needs (``max_clusters`` reached), the clusters
are visited again in the same order, those with the fewest acquired and picked rows first,
as in the authors' code.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array

from skbalpm._features import FEATURE_DTYPES, FEATURE_LAYOUTS
from skbalpm.acquisition._base import BaseQueryStrategy, check_n_instances
from skbalpm.acquisition._knn import distance_unit
from skbalpm.acquisition._params import check_int, check_option

__all__ = ["TypiClustQueryStrategy", "typiclust_batch"]

MINIBATCH_ABOVE = 50
"""k-means runs as :class:`~sklearn.cluster.MiniBatchKMeans` above this many clusters (as
in the authors' code), as :class:`~sklearn.cluster.KMeans` up to it."""


def kmeans_labels(features_ND, n_clusters, random_state=None):
    """Cluster labels of k-means (mini-batch k-means above :data:`MINIBATCH_ABOVE` clusters)."""
    if n_clusters <= MINIBATCH_ABOVE:
        model = KMeans(n_clusters=n_clusters, random_state=random_state)
    else:
        model = MiniBatchKMeans(n_clusters=n_clusters, batch_size=5000, random_state=random_state)
    return model.fit_predict(features_ND)


def _checked_points(pool_ND, acquired_AD):
    """Pool and acquired rows stacked (pool first) in a safe distance unit; n_pool, unit."""
    pool_ND = check_array(pool_ND, dtype=FEATURE_DTYPES, input_name="pool_ND")
    if acquired_AD is None or np.size(acquired_AD) == 0:
        acquired_AD = np.empty((0, pool_ND.shape[1]), dtype=pool_ND.dtype)
    acquired_AD = check_array(
        acquired_AD, dtype=FEATURE_DTYPES, input_name="acquired_AD", ensure_min_samples=0
    )
    if acquired_AD.shape[1] != pool_ND.shape[1]:
        raise ValueError(
            f"acquired_AD has {acquired_AD.shape[1]} columns, pool_ND {pool_ND.shape[1]}."
        )
    # exact power-of-two rescaling: distances of huge or tiny features stay finite
    unit = distance_unit(pool_ND, acquired_AD)
    points_MD = np.vstack([pool_ND, acquired_AD])
    return (points_MD / unit if unit != 1.0 else points_MD), len(pool_ND), unit


def typicality(features_ND, k=20):
    """Inverse mean distance of each row to its ``k`` nearest other rows.

    Parameters
    ----------
    features_ND : array-like of shape (n, d)
        The rows (e.g. one cluster's prompt features).
    k : int, default=20
        Neighbours; ``min(k, n - 1)`` are used when the rows are fewer.

    Returns
    -------
    typicality_N : ndarray of shape (n,)
        ``1 / mean distance to the k nearest other rows``; ``inf`` for a row with ``k``
        exact duplicates, 0 for a lone row (no neighbour: no evidence of density).

    References
    ----------
    G. Hacohen, A. Dekel, D. Weinshall, "Active Learning on a Budget: Opposite Strategies
    Suit High and Low Budgets", ICML 2022, arXiv:2202.02794.

    Examples
    --------
    >>> import numpy as np
    >>> typicality(np.array([[0.0], [1.0], [3.0]]), k=1).tolist()
    [1.0, 1.0, 0.5]
    """
    features_ND = np.asarray(features_ND)
    n = len(features_ND)
    if n == 1:
        return np.zeros(1)
    n_neighbours = min(k, n - 1)
    # the row itself is among its n_neighbours + 1 nearest at distance 0 (with any
    # duplicates): the sum is that of the n_neighbours nearest other rows
    nn = NearestNeighbors(n_neighbors=n_neighbours + 1).fit(features_ND)
    distances_NK, _ = nn.kneighbors(features_ND)
    mean_N = distances_NK.sum(axis=1) / n_neighbours
    with np.errstate(divide="ignore"):
        return 1.0 / mean_N


def typiclust_batch(
    pool_ND,
    n_instances,
    *,
    acquired_AD=None,
    k=20,
    max_clusters=500,
    cluster_labels=None,
    random_state=None,
):
    """TypiClust's batch, a pure function: the most typical row of each uncovered cluster.

    The pool and the acquired rows are clustered together into
    ``min(n_acquired + n_instances, max_clusters)`` clusters by k-means (or
    ``cluster_labels`` is used). The clusters are visited in the order: fewest acquired
    and already picked rows first, then the largest, then the lowest label; from each,
    the pool row not yet picked with the highest typicality (``typicality``) among all rows of its
    cluster (ties: the lowest pool position). With the cluster count uncapped, the batch
    is one row from each of the ``n_instances`` largest uncovered clusters.

    Parameters
    ----------
    pool_ND : array-like of shape (n_pool, d)
        Features of the pool (prompt features, for preference pairs).
    n_instances : int
        Batch size, 1 <= n_instances <= n_pool.
    acquired_AD : array-like of shape (n_acquired, d), default=None
        Features of the acquired (labelled) rows; None or empty at a cold start.
    k : int, default=20
        Neighbours of the typicality (the paper's 20).
    max_clusters : int, default=500
        Most k-means clusters (the authors' cap: k-means with more is slow and its
        clusters too small to measure density in).
    cluster_labels : array-like of shape (n_pool + n_acquired,), default=None
        Precomputed cluster labels of the pool rows then the acquired rows (ints >= 0);
        then no k-means runs and ``max_clusters`` is not used.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means (:class:`~sklearn.cluster.KMeans` up to 50 clusters,
        :class:`~sklearn.cluster.MiniBatchKMeans` above, as in the authors' code).

    Returns
    -------
    indices : ndarray of shape (n_instances,), int
        Pool positions in pick order.
    scores : ndarray of shape (n_instances,)
        Each pick's typicality (in the features' units: 1 / distance).

    References
    ----------
    G. Hacohen, A. Dekel, D. Weinshall, "Active Learning on a Budget: Opposite Strategies
    Suit High and Low Budgets", ICML 2022, arXiv:2202.02794.

    Examples
    --------
    Two clumps of prompts; the batch takes the middle of each:

    >>> import numpy as np
    >>> pool = np.array([[0.0], [0.9], [1.0], [1.1], [10.0], [10.2], [10.3]])
    >>> idx, scores = typiclust_batch(pool, 2, k=2, random_state=0)
    >>> sorted(idx.tolist())
    [2, 5]
    """
    points_MD, n_pool, unit = _checked_points(pool_ND, acquired_AD)
    check_n_instances(n_instances, n_pool)
    for name, value in (("k", k), ("max_clusters", max_clusters)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    n_acquired = len(points_MD) - n_pool
    if cluster_labels is None:
        n_clusters = min(n_acquired + n_instances, max_clusters)
        labels_M = kmeans_labels(points_MD, n_clusters, random_state)
    else:
        labels_M = np.asarray(cluster_labels)
        if labels_M.shape != (len(points_MD),) or labels_M.dtype.kind not in "iu":
            raise ValueError(
                f"cluster_labels must be ints of shape ({len(points_MD)},) (the pool rows, "
                f"then the acquired rows); got {labels_M.dtype} of shape {labels_M.shape}."
            )
        if len(labels_M) and labels_M.min() < 0:
            raise ValueError("cluster_labels must be ints >= 0.")
    return _pick_from_clusters(points_MD, labels_M, n_pool, n_instances, k, unit)


def _pick_from_clusters(points_MD, labels_M, n_pool, n_instances, k, unit):
    """The batch from given clusters (pool rows first in ``points_MD``); see the caller."""
    n_clusters = int(labels_M.max()) + 1
    size_C = np.bincount(labels_M, minlength=n_clusters)
    taken_C = np.bincount(labels_M[n_pool:], minlength=n_clusters)  # acquired, then picked
    free_C = np.bincount(labels_M[:n_pool], minlength=n_clusters)  # pool rows not picked
    available_N = np.ones(n_pool, dtype=bool)
    typicality_of = {}
    picks = np.empty(n_instances, dtype=np.intp)
    scores = np.empty(n_instances)
    for b in range(n_instances):
        eligible = np.flatnonzero(free_C > 0)
        # fewest taken first, then the largest, then the lowest label
        order = np.lexsort((eligible, -size_C[eligible], taken_C[eligible]))
        cluster = eligible[order[0]]
        members = np.flatnonzero(labels_M == cluster)  # pool rows first (lower positions)
        if cluster not in typicality_of:
            typicality_of[cluster] = typicality(points_MD[members], k)
        value_R = typicality_of[cluster]
        in_pool = members < n_pool
        candidate = np.zeros(len(members), dtype=bool)  # pool rows not yet picked
        candidate[in_pool] = available_N[members[in_pool]]
        best = np.flatnonzero(candidate)[np.argmax(value_R[candidate])]
        picks[b], scores[b] = members[best], value_R[best] / unit
        available_N[members[best]] = False
        taken_C[cluster] += 1
        free_C[cluster] -= 1
    return picks, scores


class TypiClustQueryStrategy(BaseQueryStrategy):
    """TypiClust: the most typical prompt of each of the largest uncovered k-means clusters.

    A cold-start strategy for low budgets: it reads only prompt features, so it runs with
    ``classifier=None`` (pass the pool's features as ``X_pool`` with ``feature_layout``,
    or the prompts as ``prompt_features=``) and can pick the harness's initial set
    (``skbalpm benchmark --initial-strategy typiclust``). Mid-loop it counts the acquired
    set: ``|L| + B`` clusters, and those holding an acquired prompt are covered
    (:func:`~skbalpm.acquisition.typiclust_batch`).

    Parameters
    ----------
    k : int, default=20
        Neighbours of the typicality (the paper's 20).
    max_clusters : int, default=500
        Most k-means clusters (the authors' cap); beyond it clusters are revisited, the
        least covered first.
    feature_layout : {"auto", "a|b|prompt", "a|b"}, default="auto"
        Where the prompt block of ``X_pool`` lies when the classifier does not say (no
        classifier at a cold start); see :func:`~skbalpm.split_feature_blocks`.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means; the strategy keeps one generator across calls.

    Notes
    -----
    The returned scores are the picks' typicalities. The typicality is measured among all
    rows of the cluster (as scikit-activeml's ``TypiClust`` does), with Euclidean
    distances as in the paper; the authors' code uses squared distances from faiss, drops
    clusters of at most 5 rows and measures density among the cluster's unlabelled rows.
    Prompt features come as for :class:`BALPMQueryStrategy`.

    References
    ----------
    G. Hacohen, A. Dekel, D. Weinshall, "Active Learning on a Budget: Opposite Strategies
    Suit High and Low Budgets", ICML 2022, arXiv:2202.02794.

    Examples
    --------
    A cold start (no classifier, nothing labelled) on features ``a|b|prompt``:

    >>> from skbalpm import TypiClustQueryStrategy
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=200, n_features=4, random_state=0)
    >>> strategy = TypiClustQueryStrategy(feature_layout=data.feature_layout, random_state=0)
    >>> idx, scores = strategy(None, data.X, n_instances=5, X_acquired=data.X[:0])
    >>> len(set(idx.tolist())), bool((scores > 0).all())
    (5, True)
    """

    name = "typiclust"
    _reads = frozenset({"prompts"})

    def __init__(self, k=20, max_clusters=500, feature_layout="auto", random_state=None):
        self.k = k
        self.max_clusters = max_clusters
        self.feature_layout = feature_layout
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_int(self, "k", minimum=1)
        check_int(self, "max_clusters", minimum=1)
        check_option(self, "feature_layout", ("auto", *FEATURE_LAYOUTS))

    def _reads_acquired_set(self):
        return True

    def _select(self, context, n_instances):
        return typiclust_batch(
            context.pool_prompts,
            n_instances,
            acquired_AD=context.acquired_prompts,
            k=self.k,
            max_clusters=self.max_clusters,
            random_state=self._random_state(),
        )
