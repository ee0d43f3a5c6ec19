"""BatchBALD for preference pairs (Kirsch et al., 2019): greedy joint mutual information.

The batch's labels y_1..y_n (binary: which response is preferred) and the ensemble member
w (uniform over the K members) have the joint mutual information

    I(y_1..y_n; w) = H(y_1..y_n) - sum_i E_w H(y_i | w),

and the greedy batch adds, at each step, the pair x with the largest gain

    I(y_S, y_x; w) - I(y_S; w) = E_{y_S}[ h(sum_k w_k(y_S) p_k(x)) ] - mean_k h(p_k(x)),

where h is the binary entropy, p_k(x) member k's probability and w_k(y_S) the posterior
weight of member k given the configuration y_S of the batch's labels. The expectation runs
over the 2^n configurations exactly while 2^n <= ``num_samples`` (each weighted by its
probability), and over ``num_samples`` configurations drawn from the ensemble beyond (each
drawn by picking a member, equally often per member, and drawing every label from it), as
the authors do. A drawn configuration is extended by one label per pick, so the samples
stay one draw across the batch.

The gain never grows as the batch grows (conditioning does not increase entropy), so each
step evaluates candidates in the order of their last gain and stops once the best gain
found beats every unevaluated candidate's last gain (lazy greedy; exact in the exact
regime, up to rounding). The candidate blocks are chunked so that no array is larger than
``chunk_size`` elements.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state

from skbalpm.acquisition._base import BaseQueryStrategy, check_n_instances
from skbalpm.acquisition._knn import _resolve_device
from skbalpm.acquisition._params import check_bool, check_device, check_int
from skbalpm.acquisition._scores import _check_member_probs

__all__ = ["BatchBALDQueryStrategy", "batchbald_batch"]


def _binary_entropy(p):
    p = p.clamp(0.0, 1.0)  # a weighted mean may round a hair outside [0, 1]
    return torch.special.entr(p) + torch.special.entr(1.0 - p)


class _Configurations:
    """The batch's label configurations: log-likelihood under each member, and weights.

    ``log_lik_MK[m, k]`` = log P(configuration m | member k). Exact: every configuration,
    weighted by its probability. Sampled: configurations drawn from the ensemble (member
    ``member_M[m]`` drew configuration m), weighted equally.
    """

    def __init__(self, n_members, device):
        self.log_lik_MK = torch.zeros((1, n_members), dtype=torch.float64, device=device)
        self.member_M = None  # set once sampled
        self.n_labels = 0

    def posterior_and_weights(self):
        """Posterior member weights of each configuration (M, K) and its weight (M,)."""
        posterior_MK = torch.softmax(self.log_lik_MK, dim=1)
        if self.member_M is not None:
            n = self.log_lik_MK.shape[0]
            device = self.log_lik_MK.device
            return posterior_MK, torch.full((n,), 1.0 / n, dtype=torch.float64, device=device)
        log_p_M = torch.logsumexp(self.log_lik_MK, dim=1) - np.log(self.log_lik_MK.shape[1])
        return posterior_MK, torch.exp(log_p_M)

    def add_exact(self, log_q_K, log_1mq_K):
        """Every configuration, with the new label 0 (prob. q) or 1."""
        both = torch.cat([self.log_lik_MK + log_q_K, self.log_lik_MK + log_1mq_K])
        # configurations impossible under every member carry no weight
        self.log_lik_MK = both[torch.isfinite(both).any(dim=1)]
        self.n_labels += 1

    def resample(self, q_KB, n_samples, rng):
        """Draw ``n_samples`` configurations of the labels of q_KB's columns afresh."""
        n_members = q_KB.shape[0]
        per_member = max(1, n_samples // n_members)
        self.member_M = torch.arange(n_members, device=q_KB.device).repeat_interleave(per_member)
        self.log_lik_MK = torch.zeros(
            (len(self.member_M), n_members), dtype=torch.float64, device=q_KB.device
        )
        self.n_labels = 0
        for column in range(q_KB.shape[1]):
            self.add_sampled(q_KB[:, column], rng)

    def add_sampled(self, q_K, rng):
        """Extend every drawn configuration by the new label, drawn from its member."""
        uniform_M = torch.as_tensor(rng.random_sample(len(self.member_M)), device=q_K.device)
        label_0_M = uniform_M < q_K[self.member_M]
        self.log_lik_MK += torch.where(
            label_0_M[:, None], torch.log(q_K)[None, :], torch.log1p(-q_K)[None, :]
        )
        self.n_labels += 1


def _gains(q_KN, conditional_N, rows, posterior_MK, weight_M):
    """Gain of adding each of ``rows`` to the batch, shape (len(rows),)."""
    mixed_MR = posterior_MK @ q_KN[:, rows]
    return weight_M @ _binary_entropy(mixed_MR) - conditional_N[rows]


def batchbald_batch(
    probs_MN,
    n_instances,
    *,
    num_samples=10_000,
    lazy=True,
    device="auto",
    chunk_size=2**22,
    random_state=None,
):
    """BatchBALD's greedy batch for binary outcomes (preference pairs), a pure function.

    Greedily maximises the joint mutual information between the batch's labels and the
    ensemble member (module docstring): exactly while the batch's 2^n label
    configurations number at most ``num_samples``, by sampled configurations beyond.

    Parameters
    ----------
    probs_MN : array-like of shape (n_members, n_pool)
        Member m's probability of class 0 (response_a preferred) for pool row i.
    n_instances : int
        Batch size, 1 <= n_instances <= n_pool.
    num_samples : int, default=10_000
        Most label configurations held: exact enumeration up to it, then this many drawn
        configurations (rounded down to a multiple of the number of members).
    lazy : bool, default=True
        Evaluate candidates in the order of their last gain and stop once no other can
        beat the best (the gains never grow); False evaluates every candidate each step.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the configurations and the candidates' gains are computed.
    chunk_size : int, default=2**22
        Most elements of one (configurations x candidates) block.
    random_state : int, RandomState instance or None, default=None
        Seeds the drawn configurations (only used past exact enumeration).

    Returns
    -------
    indices : ndarray of shape (n_instances,), int
        Pool positions in pick order.
    scores : ndarray of shape (n_instances,)
        The joint mutual information (nats) of the batch up to and including each pick:
        the first is the first pick's BALD, and they never decrease (exactly; estimated
        past exact enumeration).

    Raises
    ------
    ValueError
        Bad probabilities, ``n_instances`` or parameters.

    References
    ----------
    A. Kirsch, J. van Amersfoort, Y. Gal, "BatchBALD: Efficient and Diverse Batch
    Acquisition for Deep Bayesian Active Learning", NeurIPS 2019, arXiv:1906.08158.

    N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", arXiv:1112.5745, 2011.

    Examples
    --------
    Rows 0 and 1 are copies that split the four members one way, row 2 splits them
    another way: BALD would take both copies, BatchBALD takes one and row 2.

    >>> import numpy as np
    >>> probs = np.array([
    ...     [0.95, 0.95, 0.9, 0.5],
    ...     [0.05, 0.05, 0.9, 0.5],
    ...     [0.95, 0.95, 0.1, 0.5],
    ...     [0.05, 0.05, 0.1, 0.5],
    ... ])
    >>> idx, scores = batchbald_batch(probs, 2, device="cpu")
    >>> idx.tolist()
    [0, 2]
    >>> scores.round(3).tolist()  # joint mutual information of the batch so far
    [0.495, 0.863]
    """
    probs_MN = _check_member_probs(probs_MN)
    check_n_instances(n_instances, probs_MN.shape[1])
    holder = BatchBALDQueryStrategy(
        num_samples=num_samples, lazy=lazy, device=device, chunk_size=chunk_size
    )
    holder._validate_params()  # the strategy's checks, with its messages
    rng = check_random_state(random_state)
    q_KN = torch.as_tensor(probs_MN, device=_resolve_device(device))
    conditional_N = _binary_entropy(q_KN).mean(dim=0)
    bound_N = _binary_entropy(q_KN.mean(dim=0)) - conditional_N  # BALD: the first gains
    available_N = torch.ones(q_KN.shape[1], dtype=torch.bool, device=q_KN.device)
    configurations = _Configurations(q_KN.shape[0], q_KN.device)
    picks, scores, total = [], [], 0.0
    for b in range(int(n_instances)):
        posterior_MK, weight_M = configurations.posterior_and_weights()
        step = max(1, chunk_size // posterior_MK.shape[0])
        j, gain = _best_candidate(
            q_KN, conditional_N, bound_N, available_N, posterior_MK, weight_M, step, lazy
        )
        total += gain
        picks.append(j)
        scores.append(total)
        available_N[j] = False
        if b + 1 == n_instances:
            break
        if configurations.member_M is None and 2 ** (configurations.n_labels + 1) <= num_samples:
            q_K = q_KN[:, j]
            configurations.add_exact(torch.log(q_K), torch.log1p(-q_K))
        elif configurations.member_M is None:
            configurations.resample(q_KN[:, picks], num_samples, rng)
        else:
            configurations.add_sampled(q_KN[:, j], rng)
    return np.asarray(picks, dtype=np.intp), np.asarray(scores, dtype=np.float64)


def _best_candidate(q_KN, conditional_N, bound_N, available_N, posterior_MK, weight_M, step, lazy):
    """(row, gain) of the best available candidate; refreshes the evaluated bounds."""
    rows = torch.nonzero(available_N).squeeze(1)
    if lazy:  # by last gain, largest first (ties: lower row first)
        rows = rows[torch.sort(-bound_N[rows], stable=True).indices]
    best_row, best_gain = -1, -np.inf
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        gains = _gains(q_KN, conditional_N, chunk, posterior_MK, weight_M)
        bound_N[chunk] = gains
        top = torch.max(gains)
        # ties go to the lowest pool row, whatever the evaluation order
        row = int(chunk[gains == top].min())
        if float(top) > best_gain or (float(top) == best_gain and row < best_row):
            best_row, best_gain = row, float(top)
        rest = rows[start + step :]
        if lazy and (len(rest) == 0 or float(bound_N[rest[0]]) < best_gain):
            break
    return best_row, best_gain


class BatchBALDQueryStrategy(BaseQueryStrategy):
    """BatchBALD for preference pairs: the batch with the largest joint mutual information.

    Greedy: each pick maximises the mutual information between the labels of the batch so
    far plus the candidate and the ensemble member; near-copies of a picked pair add
    little and are passed over, where top-B BALD takes them all
    (:func:`~skbalpm.acquisition.batchbald_batch`).
    Label configurations of the batch are enumerated exactly while they number at most
    ``num_samples``, and sampled from the ensemble beyond, as Kirsch et al. do.

    Parameters
    ----------
    num_samples : int, default=10_000
        Most label configurations held (exact up to it, then this many drawn).
    lazy : bool, default=True
        Lazy greedy evaluation (the same picks, fewer candidates scored per step).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the gains are computed.
    chunk_size : int, default=2**22
        Most elements of one (configurations x candidates) block (bounds memory).
    random_state : int, RandomState instance or None, default=None
        Seeds the drawn configurations; the strategy keeps one generator across calls.

    Notes
    -----
    The returned scores are the batch's joint mutual information up to each pick
    (:func:`~skbalpm.acquisition.batchbald_batch`). The members are the classifier's
    (``predict_member_proba``), or the learners of a modAL Committee.

    References
    ----------
    A. Kirsch, J. van Amersfoort, Y. Gal, "BatchBALD: Efficient and Diverse Batch
    Acquisition for Deep Bayesian Active Learning", NeurIPS 2019, arXiv:1906.08158.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:  # a fitted classifier with four members; rows 0 and 1 are copies
    ...     def predict_member_proba(self, X):
    ...         return np.array([[0.95, 0.95, 0.9, 0.5], [0.05, 0.05, 0.9, 0.5],
    ...                          [0.95, 0.95, 0.1, 0.5], [0.05, 0.05, 0.1, 0.5]])
    >>> idx, scores = BatchBALDQueryStrategy(device="cpu")(Fixed(), np.zeros((4, 6)), 2)
    >>> idx.tolist()  # one of the two copies, then the next most informative pair
    [0, 2]
    """

    name = "batchbald"
    _reads = frozenset({"members"})

    def __init__(
        self, num_samples=10_000, lazy=True, device="auto", chunk_size=2**22, random_state=None
    ):
        self.num_samples = num_samples
        self.lazy = lazy
        self.device = device
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        check_int(self, "num_samples", minimum=1)
        check_bool(self, "lazy")
        check_device(self)
        check_int(self, "chunk_size", minimum=1)

    def _select(self, context, n_instances):
        return batchbald_batch(
            context.member_probs,
            n_instances,
            num_samples=self.num_samples,
            lazy=bool(self.lazy),
            device=self.device,
            chunk_size=self.chunk_size,
            random_state=self._random_state(),
        )
