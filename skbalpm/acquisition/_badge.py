"""BADGE (Ash et al., 2020): k-means++ seeding on gradient embeddings of the binary head.

A pair's gradient embedding is the gradient of its log-loss, at the label the model
predicts, with respect to the reward head's last-layer weights. For the Bradley–Terry head
the logit of "response_a preferred" is f = w . d (d = phi(a) - phi(b)), so with
p = sigmoid(f) and y = 1 when the model predicts response_a:

    g = (p - y) d,

one vector of the last layer's width per head (the members of a deep ensemble are heads
side by side): large where the model is uncertain (|p - y| near 1/2) and where d is long.
A batch is drawn by k-means++ seeding on these vectors: the first pick is the longest
(as in the authors' code), each next one is drawn with probability proportional to its
squared distance to the nearest pick so far. The embeddings are (n, sum of the heads'
widths): the (n, d, classes) array of the multi-class form is never built, as a binary
head has one logit.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.utils import check_random_state

from skbalpm.acquisition._base import BaseQueryStrategy, check_n_instances
from skbalpm.acquisition._params import check_int

__all__ = ["BadgeQueryStrategy", "badge_batch", "gradient_embeddings"]


def gradient_embeddings(features_HND, logits_HN):
    """Gradient of each pair's log-loss at the predicted label, per head, side by side.

    Parameters
    ----------
    features_HND : array-like of shape (n_heads, n, d)
        Each head's last-layer features of the pairs, ``phi(a) - phi(b)``.
    logits_HN : array-like of shape (n_heads, n)
        Each head's logit of "response_a preferred".

    Returns
    -------
    embeddings_ND : ndarray of shape (n, n_heads * d)
        ``(p_h - y) * features_HND[h]`` for every head h, where ``p_h = sigmoid(logit)``
        and ``y = 1`` where the heads' mean probability of response_a is at least 1/2
        (the label the model predicts), else 0.

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford, A. Agarwal, "Deep Batch Active
    Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020, arXiv:1906.03671.

    Examples
    --------
    >>> import numpy as np
    >>> features = np.array([[[1.0, 2.0], [3.0, 0.0]]])  # one head, two pairs
    >>> gradient_embeddings(features, np.array([[0.0, -np.log(3.0)]])).tolist()
    [[-0.5, -1.0], [0.75, 0.0]]
    """
    features_HND = np.asarray(features_HND, dtype=np.float64)
    p_HN = expit(np.asarray(logits_HN, dtype=np.float64))
    if features_HND.ndim != 3 or p_HN.shape != features_HND.shape[:2]:
        raise ValueError(
            "features_HND must have shape (n_heads, n, d) and logits_HN (n_heads, n); got "
            f"{features_HND.shape} and {p_HN.shape}."
        )
    predicted_a_N = (p_HN.mean(axis=0) >= 0.5).astype(np.float64)
    residual_HN = p_HN - predicted_a_N
    n_heads, n, d = features_HND.shape
    embeddings_ND = np.empty((n, n_heads * d))
    for h in range(n_heads):  # one head at a time: no (n_heads, n, d) temporary
        block = embeddings_ND[:, h * d : (h + 1) * d]
        np.multiply(features_HND[h], residual_HN[h][:, None], out=block)
    return embeddings_ND


def badge_batch(embeddings_ND, n_instances, *, random_state=None, chunk_size=2**22):
    """k-means++ seeding on embeddings: BADGE's batch, a pure function.

    The first pick is the row with the largest squared norm (ties: the lowest row); each
    next pick is drawn with probability proportional to its squared distance to the
    nearest pick so far (uniformly among the unpicked rows when every such distance is 0).

    Parameters
    ----------
    embeddings_ND : array-like of shape (n_pool, d)
        Gradient embeddings (:func:`~skbalpm.acquisition.gradient_embeddings`) or any features.
    n_instances : int
        Batch size, 1 <= n_instances <= n_pool.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws (``RandomState.choice(n, 1, replace=False, p=...)`` per pick).
    chunk_size : int, default=2**22
        Most elements of one block of the distance pass.

    Returns
    -------
    indices : ndarray of shape (n_instances,), int
        Pool positions in pick order.
    scores : ndarray of shape (n_instances,)
        Each pick's squared distance to the nearest earlier pick when it was drawn (the
        first pick: its squared norm).

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford, A. Agarwal, "Deep Batch Active
    Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020, arXiv:1906.03671.

    D. Arthur, S. Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007.

    Examples
    --------
    >>> import numpy as np
    >>> embeddings = np.array([[3.0, 0.0], [2.9, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> idx, scores = badge_batch(embeddings, 2, random_state=0)
    >>> int(idx[0]), float(scores[0])  # the longest first
    (0, 9.0)
    """
    embeddings_ND = np.asarray(embeddings_ND, dtype=np.float64)
    if embeddings_ND.ndim != 2 or not np.isfinite(embeddings_ND).all():
        raise ValueError(
            "embeddings_ND must be a finite 2-D array (n_pool, d); got shape "
            f"{embeddings_ND.shape}."
        )
    n_pool = embeddings_ND.shape[0]
    check_n_instances(n_instances, n_pool)
    rng = check_random_state(random_state)
    step = max(1, chunk_size // max(embeddings_ND.shape[1], 1))
    nearest_N = np.einsum("nd,nd->n", embeddings_ND, embeddings_ND)
    picks = np.empty(n_instances, dtype=np.intp)
    scores = np.empty(n_instances)
    picks[0] = int(np.argmax(nearest_N))
    scores[0] = nearest_N[picks[0]]
    nearest_N = np.full(n_pool, np.inf)
    for t in range(1, n_instances):
        center = embeddings_ND[picks[t - 1]]
        for start in range(0, n_pool, step):  # exact differences: a pick's own distance is 0
            block = embeddings_ND[start : start + step] - center
            np.minimum(
                nearest_N[start : start + step],
                np.einsum("nd,nd->n", block, block),
                out=nearest_N[start : start + step],
            )
        weight_N = nearest_N.copy()
        weight_N[picks[:t]] = 0.0
        if weight_N.sum() == 0:  # every unpicked row sits on a pick
            weight_N = np.ones(n_pool)
            weight_N[picks[:t]] = 0.0
        picks[t] = int(rng.choice(n_pool, 1, replace=False, p=weight_N / weight_N.sum())[0])
        scores[t] = nearest_N[picks[t]]
    return picks, scores


class BadgeQueryStrategy(BaseQueryStrategy):
    """BADGE: k-means++ seeding on the gradient embeddings of the reward head.

    Each pair's embedding is the gradient of its log-loss at the predicted label with
    respect to the Bradley–Terry head's last-layer weights, ``(p - y) (phi(a) - phi(b))``
    (:func:`~skbalpm.acquisition.gradient_embeddings`): long for uncertain pairs with long
    feature differences. The batch is drawn by k-means++ seeding on them
    (:func:`~skbalpm.acquisition.badge_batch`), so it is both uncertain and diverse.

    The last layer is the classifier's
    (:meth:`~skbalpm.PreferenceEnsembleClassifier.predict_last_layer`): the Laplace
    learner's feature map with its posterior-mean weights, or each deep-ensemble member's
    last hidden layer (members side by side; so are the learners of a modAL Committee).

    Parameters
    ----------
    chunk_size : int, default=2**22
        Most elements of one block of the distance pass.
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means++ draws; the strategy keeps one generator across calls.

    Notes
    -----
    The returned scores are each pick's squared distance to the nearest earlier pick
    (the first pick's squared norm). scikit-activeml's ``Badge`` also counts the origin as
    a center (distances are capped at each embedding's norm); the authors' code and this
    strategy do not.

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford, A. Agarwal, "Deep Batch Active
    Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020, arXiv:1906.03671.

    Examples
    --------
    >>> from skbalpm import BadgeQueryStrategy, PreferenceEnsembleClassifier
    >>> from skbalpm.datasets import make_synthetic_preferences
    >>> data = make_synthetic_preferences(n_samples=120, n_features=4, random_state=0)
    >>> clf = PreferenceEnsembleClassifier(
    ...     n_random_features=16, feature_layout=data.feature_layout, random_state=0
    ... ).fit(data.X[:40], data.y[:40])
    >>> idx, scores = BadgeQueryStrategy(random_state=0)(clf, data.X[40:], n_instances=5)
    >>> len(set(idx.tolist()))
    5
    """

    name = "badge"
    _reads = frozenset({"last_layer"})

    def __init__(self, chunk_size=2**22, random_state=None):
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_int(self, "chunk_size", minimum=1)

    def _select(self, context, n_instances):
        embeddings_ND = gradient_embeddings(*context.last_layer)
        return badge_batch(
            embeddings_ND,
            n_instances,
            random_state=self._random_state(),
            chunk_size=self.chunk_size,
        )
