"""Torch code behind :class:`~skbalpm.ensemble.PreferenceEnsembleClassifier`.

An ensemble of ``n_members`` MLP reward adapters held as batched parameters: layer ``l``
has weights of shape (n_members, n_in, n_out), so one forward pass (``torch.baddbmm`` /
``einsum``) evaluates every member and one optimizer step updates every member. The loss is
the sum over members of each member's mean Bradley–Terry log-loss, so member ``m``'s
gradient depends on member ``m``'s parameters and batch only: training them together is the
same computation as training them one after another, just faster.

Nothing here knows about scikit-learn; the estimator converts arrays and validates input.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import torch
from joblib import effective_n_jobs
from scipy.special import expit
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "gelu": F.gelu}
"""Hidden-layer activations by name."""

_INFERENCE_CHUNK_ELEMENTS = 2**23
"""Upper bound on n_members * rows * widest layer per inference chunk (32 MiB in float32)."""


@contextlib.contextmanager
def cpu_threads(n_jobs):
    """Run torch's CPU kernels on ``n_jobs`` threads for the duration of the block.

    The adapters are small: their matrix products gain little from many threads, while
    torch's default of one thread per core spins badly when the cores are shared (another
    process, or parallel fits under joblib), making a sub-second fit take tens of
    seconds. ``n_jobs`` follows scikit-learn: None means 1, -1 means every core.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(effective_n_jobs(n_jobs))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class BatchedMLP(nn.Module):
    """``n_members`` independent scalar-output MLPs evaluated with batched matrix products.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, *hidden_layer_sizes, 1)``.
    n_members : int
        Number of independent networks.
    activation : {"tanh", "relu", "gelu"}
        Hidden-layer activation (none after the output layer).
    dtype : torch.dtype
        Parameter dtype.
    """

    def __init__(self, layer_sizes, n_members, activation, dtype):
        super().__init__()
        self.activation = ACTIVATIONS[activation]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.zeros(n_members, n_in, n_out, dtype=dtype))
            for n_in, n_out in itertools.pairwise(layer_sizes)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.zeros(n_members, 1, n_out, dtype=dtype)) for n_out in layer_sizes[1:]
        )

    def forward(self, X):
        """Rewards of every member.

        Parameters
        ----------
        X : tensor of shape (n_rows, n_in) or (n_members, n_rows, n_in)
            Shared rows for all members, or one batch of rows per member.

        Returns
        -------
        rewards_MN : tensor of shape (n_members, n_rows)
        """
        h = self.last_hidden(X)
        W, b = self.weights[-1], self.biases[-1]
        return _linear(h, W, b).squeeze(-1)

    def last_hidden(self, X):
        """Every member's input to its output layer (the last hidden layer's activations).

        Parameters
        ----------
        X : tensor of shape (n_rows, n_in) or (n_members, n_rows, n_in)

        Returns
        -------
        hidden_MNH : tensor of shape (n_members, n_rows, n_hidden)
            ``X`` itself, one copy per member, when the network has no hidden layer.
        """
        h = X
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = self.activation(_linear(h, W, b))
        if h.dim() == 2:
            h = h.expand(self.weights[-1].shape[0], *h.shape)
        return h

    def widest_layer(self):
        """Largest layer width (input included): sizes the inference chunks."""
        return max(max(W.shape[1], W.shape[2]) for W in self.weights)


def _linear(h, W, b):
    if h.dim() == 2:  # the same rows for every member
        return torch.einsum("ni,mio->mno", h, W) + b
    return torch.baddbmm(b, h, W)


def init_normal_(model, member_seeds, init_std):
    """Draw every member's weights from N(0, init_std^2) with its own seed; zero biases.

    Weights are drawn on the CPU with one ``torch.Generator`` per member, so a member's
    initialisation does not depend on the device or on how many members there are.
    """
    with torch.no_grad():
        for W, b in zip(model.weights, model.biases, strict=True):
            for m, seed in enumerate(member_seeds):
                gen = torch.Generator().manual_seed(int(seed))
                draw = torch.randn(W.shape[1:], generator=gen, dtype=torch.float64)
                W[m].copy_(draw * init_std)
            b.zero_()


def load_state(model, coefs, intercepts):
    """Copy numpy weights (the estimator's fitted state) into ``model``."""
    with torch.no_grad():
        for param, value in zip(model.weights, coefs, strict=True):
            param.copy_(torch.as_tensor(value))
        for param, value in zip(model.biases, intercepts, strict=True):
            param.copy_(torch.as_tensor(value))


def export_state(model):
    """The model's weights as CPU numpy arrays: (coefs, intercepts) lists."""
    coefs = [W.detach().cpu().numpy().copy() for W in model.weights]
    intercepts = [b.detach().cpu().numpy().copy() for b in model.biases]
    return coefs, intercepts


def _member_losses(model, pairs_MRD, target_MB):
    """Bradley–Terry log-loss of each member on its batch, shape (n_members,).

    ``pairs_MRD`` holds each member's B pairs as 2B rows, the B responses a first and
    then the B responses b, so both responses go through the network in one pass (half
    the kernel launches of two passes: the adapters are small enough for launch overhead
    to count). A 2-d ``pairs_MRD`` (2B, d) with ``target_MB`` (B,) is one batch shared by
    every member: the first layer is then one matrix product for all members.
    """
    n_pairs = target_MB.shape[-1]
    rewards = model(pairs_MRD)
    diff_MB = rewards[..., :n_pairs] - rewards[..., n_pairs:]
    loss_MB = F.binary_cross_entropy_with_logits(
        diff_MB, target_MB.expand_as(diff_MB), reduction="none"
    )
    return loss_MB.mean(dim=-1)


def _pair_rows(idx_MB, n_samples):
    """Row indices into ``X_ab`` (a rows, then b rows) of both responses of pairs ``idx_MB``."""
    return torch.cat([idx_MB, idx_MB + n_samples], dim=-1)


def make_optimizer(model, learning_rate, weight_decay, l2_strength):
    """Adam(W) for ``model``, with the L2 prior's gradient applied inside the update.

    The prior adds ``l2_strength * W`` to each weight's gradient (not the biases'). With
    no decoupled ``weight_decay`` that is exactly Adam's own (coupled) ``weight_decay`` on
    the weights' parameter group, so the optimizer adds it as part of its update; with
    one, AdamW takes the decoupled decay and the caller adds the prior's gradient
    (:func:`add_l2_gradient_`). Torch's fused single-kernel update is used where the
    device supports it: on CPU the unfused update is several passes over the weights
    and cost a fifth of a training step.

    Returns
    -------
    optimizer : torch.optim.Optimizer
    prior_in_optimizer : bool
        Whether the optimizer applies the L2 prior itself.
    """
    prior_in_optimizer = weight_decay == 0
    if prior_in_optimizer:
        groups = [
            {"params": list(model.weights), "weight_decay": l2_strength},
            {"params": list(model.biases), "weight_decay": 0.0},
        ]
        make = torch.optim.Adam
    else:
        groups = [{"params": list(model.parameters()), "weight_decay": weight_decay}]
        make = torch.optim.AdamW
    try:
        optimizer = make(groups, lr=learning_rate, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        optimizer = make(groups, lr=learning_rate)
    return optimizer, prior_in_optimizer


def add_l2_gradient_(model, l2_strength):
    """Add the L2 prior's gradient ``l2_strength * W`` to every weight's gradient in place.

    Member m's weights only get their own term (no autograd graph needed).
    """
    with torch.no_grad():
        for W in model.weights:
            W.grad.add_(W, alpha=l2_strength)


def _holdout_orders(member_rngs, n_samples, validation_fraction, groups):
    """Each member's row order, its first ``n_val`` rows held out for early stopping.

    Without groups every member permutes the rows on its own. With groups the held-out
    rows are whole groups, drawn in a random order up to the count nearest the validation
    fraction, and the same for every member (equal-sized hold-outs keep the members
    batched); the training rows after them are shuffled per member.
    """
    n_val = int(np.floor(validation_fraction * n_samples))
    if groups is None or n_val == 0:
        return [rng.permutation(n_samples) for rng in member_rngs], n_val
    _, group_index = np.unique(groups, return_inverse=True)
    group_order = member_rngs[0].permutation(group_index.max() + 1)
    rank_of_group = np.empty_like(group_order)
    rank_of_group[group_order] = np.arange(len(group_order))
    rows = np.argsort(rank_of_group[group_index], kind="stable")
    sizes = np.bincount(rank_of_group[group_index])
    cumulative = np.cumsum(sizes)
    n_val = int(cumulative[np.argmin(np.abs(cumulative - n_val))])  # whole groups, nearest
    held_out, rest = rows[:n_val], rows[n_val:]
    return [np.concatenate([held_out, rng.permutation(rest)]) for rng in member_rngs], n_val


def train_ensemble(
    model,
    X_ab,
    a_preferred,
    *,
    member_rngs,
    learning_rate,
    weight_decay,
    batch_size,
    max_epochs,
    validation_fraction,
    n_iter_no_change,
    alpha=0.0,
    groups=None,
    progress=None,
):
    """Train every member at once with AdamW on the Bradley–Terry loss.

    With early stopping, every member holds out the same whole groups of pairs (when
    ``groups`` is given: pairs that share a prompt never straddle the split) or its own
    random rows (``groups=None``). Members that train on their own rows draw their own
    shuffle every epoch from their own rng; members that train on the same rows (a
    grouped split, or no early stopping) share one shuffle, so each step's first layer
    is one matrix product for all of them, and they differ by their initialisation. With
    early stopping, the validation loss is measured before the first step too, and each
    member ends with the weights of its best validation loss, so a member that never
    improves on its (near-constant) initial prediction keeps it.

    Parameters
    ----------
    model : BatchedMLP
        Initialised model, on the training device.
    X_ab : tensor of shape (2 * n_samples, d)
        Response features, on the training device, in the model's dtype: response a of
        every pair, then response b of every pair (one tensor, so that a step gathers
        both responses of its pairs with one index).
    a_preferred : tensor of shape (n_samples,)
        1.0 where response_a is the preferred one, else 0.0.
    member_rngs : list of numpy.random.Generator
        One per member, for its validation split and shuffles.
    learning_rate, weight_decay : float
        AdamW settings.
    alpha : float, default=0.0
        Strength of the L2 penalty on the weights (not the biases), added to each member's
        mean loss as ``0.5 * alpha * ||W_m||^2 / n_train``: a Gaussian prior whose pull
        weighs more against the likelihood the fewer labels there are.
    batch_size : int
        Rows per member per step (capped at the training-set size).
    max_epochs : int
        Passes over each member's training rows.
    validation_fraction : float
        Fraction of rows each member holds out for early stopping; 0 disables it.
    n_iter_no_change : int or None
        Epochs without a better validation loss before stopping; None disables early
        stopping.
    groups : ndarray of shape (n_samples,) or None
        Group id of each pair (e.g. its prompt): the validation rows are whole groups,
        the same for every member. None: each member holds out its own random rows.
    progress : tqdm or None
        Advanced once per epoch.

    Returns
    -------
    n_epochs : int
        Epochs run.
    best_val_loss_M : ndarray of shape (n_members,) or None
        Each member's best validation loss (None without early stopping).
    """
    n_members = len(member_rngs)
    n_samples = a_preferred.shape[0]
    device = X_ab.device
    orders, n_val = _holdout_orders(member_rngs, n_samples, validation_fraction, groups)
    early_stopping = n_iter_no_change is not None and 1 <= n_val < n_samples
    if not early_stopping:
        n_val = 0
    n_train = n_samples - n_val
    train_idx_MN = np.stack([order[n_val:] for order in orders])
    val_idx = torch.as_tensor(np.stack([order[:n_val] for order in orders]), device=device)

    # The gradient of the prior 0.5 * alpha * ||W||^2 / n_train.
    l2_strength = alpha / n_train
    optimizer, prior_in_optimizer = make_optimizer(model, learning_rate, weight_decay, l2_strength)
    batch_size = min(batch_size, n_train)
    val_rows = _pair_rows(val_idx, n_samples)

    def validation_losses():
        with torch.no_grad():
            losses_M = _member_losses(model, X_ab[val_rows], a_preferred[val_idx])
            return losses_M.cpu().numpy()

    if early_stopping:
        best_loss_M = validation_losses()
        best_params = [p.detach().clone() for p in model.parameters()]
        epochs_since_best_M = np.zeros(n_members, dtype=int)

    # Members that train on the same rows share each minibatch (one shuffle per epoch):
    # the first layer is then a single wide matrix product instead of one per member.
    shared_rows = bool((train_idx_MN == train_idx_MN[:1]).all())
    n_epochs = 0
    for _ in range(max_epochs):
        if shared_rows:
            shuffled_MN = train_idx_MN[0][member_rngs[0].permutation(n_train)]
        else:
            shuffled_MN = np.take_along_axis(
                train_idx_MN,
                np.stack([rng.permutation(n_train) for rng in member_rngs]),
                axis=1,
            )
        shuffled_MN = torch.as_tensor(shuffled_MN, device=device)
        for start in range(0, n_train, batch_size):
            idx_MB = shuffled_MN[..., start : start + batch_size]
            rows = _pair_rows(idx_MB, n_samples)
            loss = _member_losses(model, X_ab[rows], a_preferred[idx_MB]).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if l2_strength and not prior_in_optimizer:
                add_l2_gradient_(model, l2_strength)
            optimizer.step()
        n_epochs += 1
        if progress is not None:
            progress.update(1)
        if not early_stopping:
            continue
        loss_M = validation_losses()
        improved_M = loss_M < best_loss_M
        best_loss_M = np.where(improved_M, loss_M, best_loss_M)
        epochs_since_best_M = np.where(improved_M, 0, epochs_since_best_M + 1)
        if improved_M.any():
            mask = torch.as_tensor(improved_M, device=device)
            with torch.no_grad():
                for best, param in zip(best_params, model.parameters(), strict=True):
                    best[mask] = param[mask]
        if progress is not None:
            progress.set_postfix(val_loss=f"{best_loss_M.mean():.4f}")
        if (epochs_since_best_M >= n_iter_no_change).all():
            break

    if early_stopping:
        with torch.no_grad():
            for best, param in zip(best_params, model.parameters(), strict=True):
                param.copy_(best)
        return n_epochs, best_loss_M
    return n_epochs, None


def _row_chunks(model, n_rows):
    n_members = model.weights[0].shape[0]
    chunk = max(1, _INFERENCE_CHUNK_ELEMENTS // (n_members * model.widest_layer()))
    return [slice(start, start + chunk) for start in range(0, n_rows, chunk)]


def _to_model(model, X_chunk):
    W = model.weights[0]
    return torch.as_tensor(np.ascontiguousarray(X_chunk)).to(device=W.device, dtype=W.dtype)


def predict_rewards(model, X):
    """Rewards of single responses, chunked over rows.

    Parameters
    ----------
    model : BatchedMLP
    X : ndarray of shape (n_rows, d)
        Moved to the model's device and dtype one chunk at a time.

    Returns
    -------
    rewards_MN : ndarray of shape (n_members, n_rows), float64.
    """
    n_members = model.weights[0].shape[0]
    out_MN = np.empty((n_members, X.shape[0]), dtype=np.float64)
    with torch.no_grad():
        for rows in _row_chunks(model, X.shape[0]):
            out_MN[:, rows] = model(_to_model(model, X[rows])).double().cpu().numpy()
    return out_MN


def predict_reward_differences(model, X_a, X_b):
    """r_m(a) - r_m(b) for every member and row, chunked over rows.

    r(a) and r(b) of a chunk come from two calls of identical shape, so exchanging ``X_a``
    and ``X_b`` negates the result exactly (bit for bit).

    Parameters
    ----------
    model : BatchedMLP
    X_a, X_b : ndarray of shape (n_rows, d)

    Returns
    -------
    diff_MN : ndarray of shape (n_members, n_rows), float64.
    """
    n_members = model.weights[0].shape[0]
    out_MN = np.empty((n_members, X_a.shape[0]), dtype=np.float64)
    with torch.no_grad():
        for rows in _row_chunks(model, X_a.shape[0]):
            r_a = model(_to_model(model, X_a[rows]))
            r_b = model(_to_model(model, X_b[rows]))
            out_MN[:, rows] = (r_a - r_b).double().cpu().numpy()
    return out_MN


class EnsemblePredictor:
    """Predictions of a fitted deep ensemble (the interface of the Laplace predictor).

    Parameters
    ----------
    model : BatchedMLP
        The fitted members, on the prediction device.
    """

    def __init__(self, model):
        self.model = model

    def member_differences(self, X_a, X_b):
        """r_m(a) - r_m(b) of every member, shape (n_members, n), float64."""
        return predict_reward_differences(self.model, X_a, X_b)

    def predict_proba(self, X_a, X_b):
        """[P(a preferred), P(b preferred)]: the members' mean, shape (n, 2)."""
        diff_MN = self.member_differences(X_a, X_b)
        # sigmoid(d) and sigmoid(-d) computed alike, so a swap exchanges the columns bitwise
        return np.stack([expit(diff_MN).mean(axis=0), expit(-diff_MN).mean(axis=0)], axis=1)

    def decision(self, X_a, X_b):
        """Mean reward margin of response_b over response_a, shape (n,)."""
        return -self.member_differences(X_a, X_b).mean(axis=0)

    def member_rewards(self, X):
        """r_m(x) of every member for single responses, shape (n_members, n), float64."""
        return predict_rewards(self.model, X)

    def last_layer(self, X_a, X_b):
        """Each member's last-hidden-layer difference h_m(a) - h_m(b), shape
        (n_members, n, n_hidden), and its logit r_m(a) - r_m(b), shape (n_members, n)."""
        model = self.model
        W_last = model.weights[-1]  # (n_members, n_hidden, 1); the bias cancels
        n_members, n_hidden = W_last.shape[0], W_last.shape[1]
        features = np.empty((n_members, X_a.shape[0], n_hidden), dtype=np.float64)
        logits = np.empty((n_members, X_a.shape[0]), dtype=np.float64)
        with torch.no_grad():
            for rows in _row_chunks(model, X_a.shape[0]):
                diff = model.last_hidden(_to_model(model, X_a[rows])) - model.last_hidden(
                    _to_model(model, X_b[rows])
                )
                features[:, rows] = diff.double().cpu().numpy()
                logits[:, rows] = torch.bmm(diff, W_last).squeeze(-1).double().cpu().numpy()
        return features, logits
