"""BAL-PM and its entropy-only ablation: a greedy batch (docs/design.rst, "The BAL-PM
acquisition").

score(x) = BALD(x) + beta * e(x), e(x) = log(2 r_k(x) + 1e-4) - digamma(n_D(x) + 1) / d.
r_k and BALD are computed once per call; after each pick only the ball counts n_D of
the rows whose ball holds the picked point change (one distance row per pick, computed
against the pool held once on the device; the pool is never copied).

How the two terms are combined is a small object (``_Combination``) fixed at the start of a
call from the pool's values: the paper's fixed beta, or one of the scale-free modes of
:mod:`skbalpm.acquisition._scaling`. It maps the current values of some rows to their
scores, so the in-batch updates of e(x) go through the same map.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch, check_array
from tqdm.auto import tqdm

from skbalpm._features import FEATURE_DTYPES
from skbalpm.acquisition._base import BaseQueryStrategy, check_n_instances
from skbalpm.acquisition._knn import (
    BallUpdater,
    KNNRadiusCache,
    _Points,
    _resolve_device,
    count_within,
    distance_unit,
    knn_search,
    knn_search_faiss,
)
from skbalpm.acquisition._params import (
    check_bool,
    check_device,
    check_faiss_installed,
    check_int,
    check_option,
    check_real,
    check_verbose,
)
from skbalpm.acquisition._scaling import bald_jackknife_se, empirical_cdf, robust_location_spread
from skbalpm.acquisition._scores import _check_member_probs, bald, ksg_entropy_term

__all__ = ["BALPMQueryStrategy", "EntropyOnlyQueryStrategy", "balpm_batch"]


SCALINGS = ("fixed", "standardize", "rank", "tiebreak")
"""Ways :class:`BALPMQueryStrategy` combines BALD and the entropy term (``scaling=``)."""

KNN_BACKENDS = ("torch", "faiss")
"""Where the k-NN radii come from (``knn_backend=``)."""


class _Combination:
    """score(rows) from the current BALD and entropy values of those rows.

    Built once per call from the values over the available pool; the map stays fixed for
    the whole greedy batch so that scores before and after an in-batch update compare.
    ``effective_beta`` is the weight of the raw entropy term that the map amounts to (for
    the affine modes), else NaN.
    """

    def __init__(
        self, scaling, beta, relative_beta, epistemic_N, entropy_N, member_probs, n_instances
    ):
        self.scaling = scaling
        self.effective_beta = np.nan
        if scaling == "fixed":
            self.effective_beta = beta
        elif scaling == "standardize":
            _, bald_spread = robust_location_spread(epistemic_N)
            _, entropy_spread = robust_location_spread(entropy_N)
            # z(BALD) + w z(e) ranks rows exactly like BALD + (w s_BALD / s_e) e.
            self.effective_beta = relative_beta * bald_spread / entropy_spread
        elif scaling == "rank":
            self.relative_beta = relative_beta
            self.epistemic_reference_N = np.array(epistemic_N)
            self.entropy_reference_N = np.array(entropy_N)
        elif scaling == "tiebreak":
            # Candidates: pairs whose BALD is within one jackknife standard error of the
            # n_instances-th best BALD (the one-standard-error rule); among them the
            # entropy term decides. A confident ensemble reduces to BALD top-B, one
            # that cannot rank its uncertainties to diversity alone.
            n_top = min(n_instances, len(epistemic_N))
            threshold = np.partition(epistemic_N, -n_top)[-n_top]
            se_N = bald_jackknife_se(member_probs)
            self.candidate_N = epistemic_N + se_N >= threshold
        else:  # validated by the strategy
            raise ValueError(f"Unknown scaling {scaling!r}.")

    def __call__(self, epistemic, entropy, rows):
        if self.scaling == "rank":
            return empirical_cdf(self.epistemic_reference_N, epistemic) + (
                self.relative_beta * empirical_cdf(self.entropy_reference_N, entropy)
            )
        if self.scaling == "tiebreak":
            return np.where(self.candidate_N[rows], entropy, -np.inf)
        return epistemic + self.effective_beta * entropy


class _GreedyKSG(BaseQueryStrategy):
    """Greedy batch on epistemic(x) combined with e(x), with in-batch ball-count updates."""

    def _epistemic(self, context):
        raise NotImplementedError

    def _combination(self, epistemic_N, entropy_N, context, n_instances):
        """The :class:`_Combination` of this call."""
        raise NotImplementedError

    def _validate_params(self):
        super()._validate_params()
        check_int(self, "k", minimum=1)
        check_real(self, "d", minimum=0.0, strict=True)
        check_option(self, "knn_backend", KNN_BACKENDS)
        check_bool(self, "reuse_knn")
        check_device(self)
        check_int(self, "chunk_size", minimum=1)
        check_verbose(self)
        check_faiss_installed(self)

    def _reads_acquired_set(self):
        return True

    def _radius(self, prompts_ND, points):
        k = min(self.k, len(prompts_ND))  # a pool smaller than k: the farthest neighbour
        if self.knn_backend == "faiss":
            return knn_search_faiss(prompts_ND, k)
        kwargs = {"chunk_size": self.chunk_size}
        if not self.reuse_knn:
            return knn_search(points, k, **kwargs).radius_N
        cache = getattr(self, "knn_cache_", None)
        if cache is None or cache.k != k:
            cache = self.knn_cache_ = KNNRadiusCache(k, **kwargs)
        return cache.radius(prompts_ND, points=points)

    def _select(self, context, n_instances):
        epistemic_N = self._epistemic(context)
        picks, scores, self.last_components_ = _greedy_ksg_batch(
            epistemic_N,
            context.pool_prompts,
            context.acquired_prompts,
            n_instances,
            radius=self._radius,
            combination=lambda entropy_N: self._combination(
                epistemic_N, entropy_N, context, n_instances
            ),
            d=self.d,
            device=self.device,
            chunk_size=self.chunk_size,
            progress={"disable": not self.verbose, "desc": type(self).__name__},
        )
        return picks, scores


def _greedy_ksg_batch(
    epistemic_N,
    prompts_ND,
    acquired_AD,
    n_instances,
    *,
    radius,
    combination,
    d,
    device,
    chunk_size,
    progress,
):
    """The greedy batch of BAL-PM and its ablation, shared by the classes and the function.

    ``radius(prompts_ND, points) -> radius_N`` gives the k-NN radii and
    ``combination(entropy_N)`` the :class:`_Combination` of the call. Returns the picks,
    their scores and the per-pick components (a Bunch).
    """
    # one unit for both sets: their distances stay in float range whatever their size
    unit = distance_unit(prompts_ND, acquired_AD)
    points = _Points(prompts_ND, _resolve_device(device), unit=unit)
    radius_N = radius(prompts_ND, points)
    counts_N = count_within(points, radius_N, acquired_AD, chunk_size=chunk_size)
    entropy_N = ksg_entropy_term(radius_N, counts_N, d)
    combine = combination(entropy_N)
    score_N = combine(epistemic_N, entropy_N, slice(None))
    available = np.ones(len(score_N), dtype=bool)
    balls = BallUpdater(points, radius_N)
    picks = np.empty(n_instances, dtype=np.intp)
    parts = {name: np.empty(n_instances) for name in ("bald", "entropy_term", "radius")}
    parts["ball_count"] = np.empty(n_instances, dtype=np.int64)
    picked_scores = np.empty(n_instances)
    for b in tqdm(range(n_instances), **progress):
        i = int(np.argmax(np.where(available, score_N, -np.inf)))  # ties: lowest index
        picks[b], picked_scores[b] = i, score_N[i]
        parts["bald"][b], parts["entropy_term"][b] = epistemic_N[i], entropy_N[i]
        parts["radius"][b], parts["ball_count"][b] = radius_N[i], counts_N[i]
        available[i] = False
        if b + 1 == n_instances or combine.effective_beta == 0:
            continue
        # The new acquired point joins every ball that holds it: one distance row.
        grown = balls.rows_containing(i)
        counts_N[grown] += 1
        entropy_N[grown] = ksg_entropy_term(radius_N[grown], counts_N[grown], d)
        score_N[grown] = combine(epistemic_N[grown], entropy_N[grown], grown)
    components = Bunch(**parts, effective_beta=float(combine.effective_beta))
    return picks, picked_scores, components


def balpm_batch(
    probs_MN,
    pool_prompts,
    acquired_prompts,
    n_instances,
    *,
    beta=0.01,
    k=13,
    d=1.0,
    scaling="fixed",
    relative_beta=1.0,
    device="auto",
    chunk_size=2**23,
    radius_N=None,
):
    """BAL-PM's greedy batch as a pure function: arrays in, picks and scores out.

    The twin of :class:`~skbalpm.BALPMQueryStrategy` (same loop, same picks) for callers that
    hold the member probabilities and prompt features themselves: score(x) = BALD(x) +
    beta * e(x), e(x) = log(2 r_k(x) + 1e-4) - digamma(n_D(x) + 1) / d, with each pick
    joining the acquired set D before the next (:ref:`design_balpm`). The k-NN radii are
    computed afresh (the class can reuse them across rounds), unless given.

    Parameters
    ----------
    probs_MN : array-like of shape (n_members, n_pool)
        Member probabilities of class 0 (response_a preferred).
    pool_prompts : array-like of shape (n_pool, d_prompt)
        Prompt features of the pool.
    acquired_prompts : array-like of shape (n_acquired, d_prompt)
        Prompt features of the acquired set (may have 0 rows).
    n_instances : int
        Batch size, 1 <= n_instances <= n_pool.
    beta, k, d, scaling, relative_beta, device, chunk_size
        As for :class:`~skbalpm.BALPMQueryStrategy`.
    radius_N : array-like of shape (n_pool,) or None, default=None
        The pool's k-NN radii computed elsewhere (e.g. at scale by
        :func:`skbalpm.distributed.knn_radii`; ``k`` is then not used); None computes
        them exactly here.

    Returns
    -------
    indices : ndarray of shape (n_instances,), int
        Pool positions in pick order.
    scores : ndarray of shape (n_instances,)
        Each pick's score when it was picked.

    Raises
    ------
    ValueError
        A parameter out of range, or arrays whose shapes disagree.

    References
    ----------
    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.2, 0.2, 0.2, 0.2], [0.8, 0.8, 0.8, 0.8]])  # equal BALD
    >>> prompts = np.array([[0.0], [0.01], [0.02], [5.0]])  # three close, one apart
    >>> idx, scores = balpm_batch(probs, prompts, prompts[:0], 2, beta=1.0, k=2, device="cpu")
    >>> idx.tolist()
    [3, 0]
    """
    params = {"beta": beta, "k": k, "d": d, "scaling": scaling, "relative_beta": relative_beta}
    # the strategy's own checks, with its messages
    BALPMQueryStrategy(**params, device=device, chunk_size=chunk_size)._validate_params()
    probs_MN = _check_member_probs(probs_MN)
    pool_prompts = check_array(pool_prompts, dtype=FEATURE_DTYPES, input_name="pool_prompts")
    acquired_prompts = np.asarray(acquired_prompts)
    if acquired_prompts.size == 0:
        acquired_prompts = np.empty((0, pool_prompts.shape[1]), dtype=pool_prompts.dtype)
    acquired_prompts = check_array(
        acquired_prompts,
        dtype=FEATURE_DTYPES,
        ensure_min_samples=0,
        input_name="acquired_prompts",
    )
    n_pool = pool_prompts.shape[0]
    if probs_MN.shape[1] != n_pool or acquired_prompts.shape[1] != pool_prompts.shape[1]:
        raise ValueError(
            f"probs_MN has {probs_MN.shape[1]} columns and pool_prompts {n_pool} rows of "
            f"width {pool_prompts.shape[1]} (acquired_prompts: width "
            f"{acquired_prompts.shape[1]}); they must agree."
        )
    check_n_instances(n_instances, n_pool)
    radius = _given_or_exact_radius(radius_N, n_pool, min(k, n_pool), chunk_size)
    epistemic_N = bald(probs_MN)
    picks, scores, _ = _greedy_ksg_batch(
        epistemic_N,
        np.ascontiguousarray(pool_prompts),
        np.ascontiguousarray(acquired_prompts),
        int(n_instances),
        radius=radius,
        combination=lambda entropy_N: _Combination(
            scaling,
            float(beta),
            float(relative_beta),
            epistemic_N,
            entropy_N,
            probs_MN,
            int(n_instances),
        ),
        d=d,
        device=device,
        chunk_size=chunk_size,
        progress={"disable": True},
    )
    return picks, scores


def _given_or_exact_radius(radius_N, n_pool, k, chunk_size):
    """The ``radius(prompts, points)`` of :func:`balpm_batch`: the given radii, checked."""
    if radius_N is None:
        return lambda prompts, points: knn_search(points, k, chunk_size=chunk_size).radius_N
    radius_N = np.asarray(radius_N, dtype=np.float64)
    if radius_N.shape != (n_pool,) or not (np.isfinite(radius_N) & (radius_N >= 0)).all():
        raise ValueError(
            f"radius_N must hold {n_pool} finite radii >= 0 (one per pool row); got shape "
            f"{radius_N.shape}."
        )
    return lambda prompts, points: radius_N.copy()


class BALPMQueryStrategy(_GreedyKSG):
    """BAL-PM: BALD plus a prompt-diversity (KSG entropy) term, greedy batch.

    score(x) = BALD(x) + beta * [log(2 r_k(x) + 1e-4) - digamma(n_D(x) + 1) / d], with r_k
    the distance from x's prompt features to its k-th nearest neighbour in the pool (x
    itself first) and n_D the acquired prompts within r_k. The batch is greedy: each pick
    joins the acquired set and the ball counts around it grow (:ref:`design_balpm`).

    Parameters
    ----------
    beta : float, default=0.01
        Weight of the entropy term; 0 gives BALD top-B.
    k : int, default=13
        Which neighbour sizes the balls (self counted first). Pools smaller than k use
        their farthest neighbour.
    d : float, default=1.0
        Divisor of the digamma term.
    scaling : {"fixed", "standardize", "rank", "tiebreak"}, default="fixed"
        How the two terms are combined (see the user guide, "Choosing beta"):

        - ``"fixed"``: the paper's ``BALD + beta * e`` (``beta`` is used).
        - ``"standardize"``: ``z(BALD) + relative_beta * z(e)``, each term centred on its
          median and divided by its interquartile range over the pool at the start of the
          call; the same as a ``beta`` set every call to ``relative_beta`` times the ratio
          of the terms' spreads.
        - ``"rank"``: ``F_BALD(BALD) + relative_beta * F_e(e)``, with F the pool's empirical
          CDF of each term (a rank transform, blind to outliers and to scale).
        - ``"tiebreak"``: BALD decides which pairs are candidates — those whose BALD is
          within one jackknife standard error (over members) of the ``n_instances``-th
          best — and the entropy term picks among them. A confident ensemble gives BALD's
          top batch; one whose BALD values are within noise of each other gives a
          diversity pick.

        ``"standardize"``, ``"rank"`` and ``"tiebreak"`` ignore ``beta``.
    relative_beta : float, default=1.0
        Weight of the entropy term relative to BALD for ``scaling="standardize"`` and
        ``"rank"``: 1 gives the two terms the same spread over the pool.
    knn_backend : {"torch", "faiss"}, default="torch"
        ``"torch"``: exact radii (blocked float32 GEMM with a float64 re-check), reused
        across rounds when the pool only lost rows. ``"faiss"``: approximate radii from an
        HNSW index, for pools past about 10^5 (``pip install skbalpm[faiss]``).
    reuse_knn : bool, default=True
        Keep the radii between calls and recompute only rows whose k-NN set lost a
        member (rows are matched by their feature bytes).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the distance computations run.
    chunk_size : int, default=2**23
        Most float32 elements of one distance block (bounds memory).
    verbose : int, default=0
        Progress bar over the picks when > 0.
    random_state : None
        Unused: BAL-PM is deterministic (ties go to the lower pool position); accepted so
        every strategy has the same parameters.

    Attributes
    ----------
    last_components_ : Bunch
        Per pick of the last call, in pick order: ``bald``, ``entropy_term`` (e(x) at pick
        time), ``ball_count`` (n_D(x) at pick time) and ``radius`` (r_k(x)), and
        ``effective_beta``: the weight of the raw entropy term in this call (``beta`` for
        ``"fixed"``, the data-set weight for ``"standardize"``, NaN for the rank-based
        modes). With ``"fixed"`` the returned score is ``bald + beta * entropy_term``.
    knn_cache_ : KNNRadiusCache
        The radii kept between calls (``reuse_knn=True``, torch backend).

    Notes
    -----
    The acquired set D is ``learner.X_training`` for a modAL ActiveLearner, else the
    ``X_acquired=`` keyword (same kind of rows as the pool). Called outside modAL
    without it, the strategy takes the acquired set as empty (all n_D start at 0) and
    warns once per strategy object; an explicit empty set (``X_acquired=X_pool[:0]``) is
    silent. The parameters are checked at the start of each call, before any work on the
    pool. Prompt features are the ``"prompt"`` block of the features; for the
    ``"a|b"`` layout pass ``prompt_features=`` and ``acquired_prompt_features=``.

    References
    ----------
    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
    Physical Review E 69, 066138, 2004.

    N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", arXiv:1112.5745, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:  # a fitted classifier with member probabilities
    ...     n_members_ = 2
    ...     feature_layout = "a|b|prompt"
    ...     def predict_member_proba(self, X):
    ...         return np.vstack([np.full(len(X), 0.2), np.full(len(X), 0.8)])
    >>> X_pool = np.zeros((4, 3))
    >>> X_pool[:, 2] = [0.0, 0.01, 0.02, 5.0]  # prompt features: three close, one apart
    >>> strategy = BALPMQueryStrategy(beta=1.0, k=2, device="cpu")
    >>> nothing_labelled = X_pool[:0]
    >>> idx, scores = strategy(Fixed(), X_pool, n_instances=2, X_acquired=nothing_labelled)
    >>> idx.tolist()  # equal BALD: the isolated prompt wins
    [3, 0]
    """

    name = "balpm"
    _reads = frozenset({"members", "prompts"})

    def __init__(
        self,
        beta=0.01,
        k=13,
        d=1.0,
        scaling="fixed",
        relative_beta=1.0,
        knn_backend="torch",
        reuse_knn=True,
        device="auto",
        chunk_size=2**23,
        verbose=0,
        random_state=None,
    ):
        self.beta = beta
        self.k = k
        self.scaling = scaling
        self.relative_beta = relative_beta
        self.d = d
        self.knn_backend = knn_backend
        self.reuse_knn = reuse_knn
        self.device = device
        self.chunk_size = chunk_size
        self.verbose = verbose
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_real(self, "beta", minimum=0.0)
        check_option(self, "scaling", SCALINGS)
        check_real(self, "relative_beta", minimum=0.0)

    def _reads_acquired_set(self):
        # The paper's score with beta = 0 is BALD alone: the acquired set plays no part.
        return not (self.scaling == "fixed" and self.beta == 0)

    def _combination(self, epistemic_N, entropy_N, context, n_instances):
        return _Combination(
            self.scaling,
            float(self.beta),
            float(self.relative_beta),
            epistemic_N,
            entropy_N,
            context.member_probs,
            n_instances,
        )

    def _epistemic(self, context):
        return bald(context.member_probs)


class EntropyOnlyQueryStrategy(_GreedyKSG):
    """The BAL-PM entropy term alone (the paper's ablation): prompt diversity, no BALD.

    score(x) = log(2 r_k(x) + 1e-4) - digamma(n_D(x) + 1) / d, greedy batch with the same
    in-batch ball-count update as :class:`BALPMQueryStrategy`. The classifier's member
    probabilities are not used (only its Pipeline steps, to get features);
    ``last_components_.bald`` is 0.

    Parameters
    ----------
    k : int, default=13
    d : float, default=1.0
    knn_backend : {"torch", "faiss"}, default="torch"
    reuse_knn : bool, default=True
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    chunk_size : int, default=2**23
    verbose : int, default=0
    random_state : None
        Unused (deterministic).
        See :class:`BALPMQueryStrategy` for the meaning of each parameter.

    Attributes
    ----------
    last_components_ : Bunch
        As for :class:`BALPMQueryStrategy`.

    References
    ----------
    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
    Physical Review E 69, 066138, 2004.

    N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", arXiv:1112.5745, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> X_pool = np.array([[0.0], [1.0], [2.0], [9.0]])
    >>> strategy = EntropyOnlyQueryStrategy(k=2, device="cpu")
    >>> nothing_labelled = np.empty((0, 1))
    >>> idx, _ = strategy(
    ...     None, X_pool, 2, prompt_features=X_pool, acquired_prompt_features=nothing_labelled
    ... )
    >>> idx.tolist()
    [3, 0]
    """

    name = "entropy-only"
    _reads = frozenset({"prompts"})

    def __init__(
        self,
        k=13,
        d=1.0,
        knn_backend="torch",
        reuse_knn=True,
        device="auto",
        chunk_size=2**23,
        verbose=0,
        random_state=None,
    ):
        self.k = k
        self.d = d
        self.knn_backend = knn_backend
        self.reuse_knn = reuse_knn
        self.device = device
        self.chunk_size = chunk_size
        self.verbose = verbose
        self.random_state = random_state

    def _combination(self, epistemic_N, entropy_N, context, n_instances):
        return _Combination("fixed", 1.0, 1.0, epistemic_N, entropy_N, None, n_instances)

    def _epistemic(self, context):
        return np.zeros(context.n_pool)
