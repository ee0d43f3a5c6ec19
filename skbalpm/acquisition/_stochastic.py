"""Stochastic batch acquisition (Kirsch et al.): top-B of Gumbel-perturbed log-weights.

Adding Gumbel(0, 1/beta) noise to a log-weight and taking the top B samples B rows
without replacement with probability proportional to exp(beta * log-weight). Any strategy
that scores each pool row on its own can be wrapped, as in BaaL's stochastic heuristics:

* ``mode="softmax"``: score + noise, p(i) ∝ exp(beta * score_i);
* ``mode="power"``: log score + noise, p(i) ∝ score_i ** beta;
* ``mode="softrank"``: log(1 / rank) + noise, p(i) ∝ rank_i ** -beta (rank 1 = best).

PowerBALD, SoftmaxBALD and SoftRankBALD are these three modes around BALD. Kirsch et al.
use beta = 1 throughout; that is the default here.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from skbalpm.acquisition._base import BaseQueryStrategy, top_n
from skbalpm.acquisition._params import check_option, check_real
from skbalpm.acquisition._registry import make_from_spec
from skbalpm.acquisition._scores import gumbel_noise

__all__ = [
    "STOCHASTIC_MODES",
    "PowerBALDQueryStrategy",
    "SoftRankBALDQueryStrategy",
    "SoftmaxBALDQueryStrategy",
    "StochasticQueryStrategy",
    "stochastic_log_weights",
]

_TINY = np.finfo(np.float64).tiny


def _power(scores_N):
    # floored at the smallest positive float: rows scored 0 get a finite, very low weight
    return np.log(np.maximum(scores_N, _TINY))


def _softmax(scores_N):
    return np.asarray(scores_N, dtype=np.float64)


def _softrank(scores_N):
    rank = np.empty(len(scores_N))
    rank[top_n(scores_N, len(scores_N))] = np.arange(1, len(scores_N) + 1)
    return -np.log(rank)


_LOG_WEIGHTS = {"power": _power, "softmax": _softmax, "softrank": _softrank}

STOCHASTIC_MODES = tuple(_LOG_WEIGHTS)
"""How :class:`~skbalpm.StochasticQueryStrategy` turns scores into log-weights (``mode=``)."""


def stochastic_log_weights(scores_N, mode):
    """The log-weights that stochastic acquisition perturbs, from per-row scores.

    Parameters
    ----------
    scores_N : array-like of shape (n_samples,)
        Scores, larger is better (``"power"`` needs them >= 0; 0 and below are floored at
        the smallest positive float).
    mode : {"power", "softmax", "softrank"}
        ``log score``, ``score`` or ``log(1 / rank)`` (rank 1 = largest score; ties get
        consecutive ranks in pool order).

    Returns
    -------
    log_weights_N : ndarray of shape (n_samples,)

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron, Y. Gal,
    "Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning",
    arXiv:2106.12059, 2023.

    Examples
    --------
    >>> stochastic_log_weights([0.5, 2.0, 1.0], "softrank").round(3).tolist()
    [-1.099, -0.0, -0.693]
    """
    if mode not in _LOG_WEIGHTS:
        raise ValueError(f"mode must be one of {STOCHASTIC_MODES}; got {mode!r}.")
    return _LOG_WEIGHTS[mode](np.asarray(scores_N, dtype=np.float64))


class StochasticQueryStrategy(BaseQueryStrategy):
    """Sample the batch from any per-row score: top-B of log-weight + Gumbel(0, 1/beta).

    Wraps a strategy that scores each pool row on its own (BALD, predictive entropy, ...)
    and samples ``n_instances`` rows without replacement with probability proportional to
    ``score ** beta`` (``mode="power"``), ``exp(beta * score)`` (``"softmax"``) or
    ``rank ** -beta`` (``"softrank"``). In a benchmark spec:
    ``stochastic(bald, mode=power)``, ``stochastic(entropy, mode=softmax, beta=2)``.

    Parameters
    ----------
    score : str or BaseQueryStrategy, default="bald"
        The wrapped strategy: a registered name or spec (``"bald"``, ``"entropy"``) or an
        instance. It must score each row on its own (a greedy batch such as BAL-PM's
        has no per-row score to sample from).
    mode : {"power", "softmax", "softrank"}, default="power"
        How scores become log-weights (:func:`~skbalpm.acquisition.stochastic_log_weights`).
    beta : float, default=1.0
        Inverse temperature (> 0): the Gumbel noise has scale 1/beta. Large beta tends to
        the wrapped strategy's top-B, small beta to random sampling.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise; the strategy keeps one generator across calls, so rounds get
        fresh noise and a new object with the same seed replays them.

    Notes
    -----
    When called, the perturbed log-weights of the picked rows are returned as their
    scores. With the same seed, ``stochastic(bald, mode=power)`` picks what
    :class:`~skbalpm.PowerBALDQueryStrategy` picks (and likewise for the other two modes).

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron, Y. Gal,
    "Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning",
    arXiv:2106.12059, 2023.

    P. Atighehchian, F. Branchaud-Charron, J. Freyberg, R. Pardinas, L. Schell,
    G. Pearse, "Baal, a Bayesian active learning library", 2022 (stochastic heuristics).

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     n_members_ = 2
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.5, 0.9, 0.1, 0.4], [0.5, 0.1, 0.2, 0.6]])
    >>> strategy = StochasticQueryStrategy("entropy", mode="softrank", random_state=0)
    >>> idx, scores = strategy(Fixed(), np.zeros((4, 6)), 2)
    >>> idx.shape, len(set(idx.tolist()))
    ((2,), 2)
    """

    name = "stochastic"
    _positional_params = ("score",)  # the spec stochastic(bald, ...)

    def __init__(self, score="bald", mode="power", beta=1.0, random_state=None):
        self.score = score
        self.mode = mode
        self.beta = beta
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_option(self, "mode", STOCHASTIC_MODES)
        check_real(self, "beta", minimum=0.0, strict=True)
        self._wrapped()

    def _wrapped(self):
        """The wrapped strategy, checked to score rows on their own."""
        owner = type(self).__name__
        if not isinstance(self.score, str | BaseQueryStrategy):
            raise ValueError(
                f"{owner}: score must be a strategy name, spec or instance; got {self.score!r}."
            )
        try:
            wrapped = make_from_spec(self.score)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{owner}: score={self.score!r}: {exc}") from None
        if not wrapped._scores_each_row():
            raise ValueError(
                f"{owner}: score={self.score!r} does not score each pool row on its own (its "
                "batch is built pick by pick), so there is nothing to sample from; wrap a "
                "per-row score such as 'bald' or 'entropy'."
            )
        wrapped._validate_params()
        return wrapped

    def _reads_acquired_set(self):
        return self._wrapped()._reads_acquired_set()

    @property
    def _reads(self):
        return self._wrapped()._reads

    def _select(self, context, n_instances):
        wrapped = self._wrapped()
        if wrapped.get_params().get("random_state", 0) is None:
            # a wrapped score that draws (EPIG's targets) and has no seed of its own draws
            # from this generator: seeded by the wrapper, fresh every round
            wrapped = clone(wrapped).set_params(random_state=self._random_state())
        log_weight = stochastic_log_weights(wrapped._score(context), self.mode)
        perturbed = log_weight + gumbel_noise(len(log_weight), self.beta, self._random_state())
        indices = top_n(perturbed, n_instances)
        return indices, perturbed[indices]


_PRESET_DOC = """
    Parameters
    ----------
    beta : float, default=1.0
        Inverse temperature (> 0): the Gumbel noise has scale 1/beta. Large beta tends to
        top-B BALD, small beta to random sampling.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise; the strategy keeps one generator across calls, so rounds get
        fresh noise and a new object with the same seed replays them.

    Notes
    -----
    ``{spec}`` with the same arguments: the same picks for the same seed. When called,
    the perturbed scores of the picked rows are returned as their scores.

    References
    ----------
    A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron, Y. Gal,
    "Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning",
    arXiv:2106.12059, 2023.

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024 (baselines).

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     n_members_ = 2
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.5, 0.9, 0.1, 0.4], [0.5, 0.1, 0.2, 0.6]])
    >>> idx, scores = {name}(random_state=0)(Fixed(), np.zeros((4, 6)), 2)
    >>> idx.shape, len(set(idx.tolist()))
    ((2,), 2)
"""


class _StochasticBALD(StochasticQueryStrategy):
    """A stochastic mode around BALD, fixed by the class (only beta and the seed vary)."""

    score = "bald"

    def __init__(self, beta=1.0, random_state=None):
        self.beta = beta
        self.random_state = random_state


class PowerBALDQueryStrategy(_StochasticBALD):
    __doc__ = (
        "Top-B of log BALD + Gumbel(0, 1/beta): samples rows with p ∝ BALD ** beta.\n\n"
        "    BALD is floored at the smallest positive float before the log, so rows where\n"
        "    the members agree exactly get a finite, very low log-weight.\n"
        + _PRESET_DOC.format(name="PowerBALDQueryStrategy", spec="stochastic(bald, mode=power)")
    )
    name = "powerbald"
    mode = "power"


class SoftmaxBALDQueryStrategy(_StochasticBALD):
    __doc__ = (
        "Top-B of BALD + Gumbel(0, 1/beta): samples rows with p ∝ exp(beta * BALD).\n"
        + _PRESET_DOC.format(name="SoftmaxBALDQueryStrategy", spec="stochastic(bald, mode=softmax)")
    )
    name = "softmaxbald"
    mode = "softmax"


class SoftRankBALDQueryStrategy(_StochasticBALD):
    __doc__ = (
        "Top-B of log(1/rank) + Gumbel(0, 1/beta): samples rows with p ∝ rank ** -beta.\n\n"
        "    Rank 1 is the highest BALD; tied scores get consecutive ranks in pool order.\n"
        + _PRESET_DOC.format(
            name="SoftRankBALDQueryStrategy", spec="stochastic(bald, mode=softrank)"
        )
    )
    name = "softrankbald"
    mode = "softrank"
