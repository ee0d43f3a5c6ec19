"""The fixed feature map of the Laplace Bradley–Terry model: linear and random Fourier blocks.

A response's features x (one block of the pair features) are standardised with the mean
and spread of the training responses, z = (x - mean) / scale, and mapped to

    phi(z) = [ z / sqrt(d) | sqrt(2 / H) cos(z Omega_1 / (c_1 sqrt(d)) + b_1) | ... ]

one linear block and one block of H random Fourier features per length scale c_j (times
sqrt(d), the typical distance between standardised points). A Gaussian prior on the
weights of each block makes the reward a Gaussian process whose kernel is a linear
kernel plus a sum of RBF kernels (Rahimi & Recht, 2007); the evidence chooses how much of
each the data supports.

References
----------
A. Rahimi and B. Recht, "Random features for large-scale kernel machines", NeurIPS 2007.
F. X. Yu, A. T. Suresh, K. Choromanski, D. Holtmann-Rice and S. Kumar, "Orthogonal random
features", NeurIPS 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FeatureMap:
    """A fitted map from response features to the model's features.

    Attributes
    ----------
    mean, scale : tensor of shape (d,)
        Standardisation of the response features.
    frequencies : list of tensor of shape (d, H)
        One random frequency matrix per length scale, already divided by c_j sqrt(d).
    phases : list of tensor of shape (H,)
        Random phases, uniform on [0, 2 pi).
    linear : bool
        Whether the map starts with the linear block.
    """

    mean: torch.Tensor
    scale: torch.Tensor
    frequencies: list
    phases: list
    linear: bool

    @property
    def block_sizes(self):
        """Widths of the blocks, in order: the linear block (if any), then each scale's."""
        sizes = [self.mean.shape[0]] if self.linear else []
        return sizes + [W.shape[1] for W in self.frequencies]

    def __call__(self, X):
        """phi(X) for response features X of shape (n, d), a tensor on the map's device."""
        z = (X - self.mean) / self.scale
        blocks = [z / math.sqrt(z.shape[1])] if self.linear else []
        for W, b in zip(self.frequencies, self.phases, strict=True):
            blocks.append(math.sqrt(2.0 / W.shape[1]) * torch.cos(z @ W + b))
        return torch.cat(blocks, dim=1)

    def to(self, device):
        """The same map with its tensors on ``device``."""
        return FeatureMap(
            self.mean.to(device),
            self.scale.to(device),
            [W.to(device) for W in self.frequencies],
            [b.to(device) for b in self.phases],
            self.linear,
        )


def orthogonal_gaussian(d, n_columns, generator):
    """A (d, n_columns) matrix whose columns are N(0, I_d) draws, orthogonal in blocks of d.

    Orthogonal random features (Yu et al., 2016): each block of d columns is a random
    orthogonal matrix (QR of a Gaussian one, signs fixed so it is Haar-distributed) whose
    columns are rescaled by independent chi(d) norms, so every column has the law of a
    standard normal vector while the columns of a block are exactly orthogonal. The
    kernel approximation then has a smaller variance than with independent columns.

    Parameters
    ----------
    d : int
        Dimension of the columns.
    n_columns : int
        Number of columns.
    generator : torch.Generator
        Source of randomness (CPU).

    Returns
    -------
    W : tensor of shape (d, n_columns), float64

    Examples
    --------
    >>> W = orthogonal_gaussian(3, 5, torch.Generator().manual_seed(0))
    >>> W.shape
    torch.Size([3, 5])
    >>> bool(abs(float(W[:, 0] @ W[:, 1])) < 1e-9)
    True
    """
    blocks = []
    for _ in range(-(-n_columns // d)):
        gaussian = torch.randn(d, d, generator=generator, dtype=torch.float64)
        q, r = torch.linalg.qr(gaussian)
        q = q * torch.sign(torch.diagonal(r))  # Haar: fix the signs QR leaves free
        norms = torch.randn(d, d, generator=generator, dtype=torch.float64).norm(dim=0)
        blocks.append(q * norms)
    return torch.cat(blocks, dim=1)[:, :n_columns]


def column_mean_and_spread(X):
    """Mean and standard deviation (ddof 0) of each column, without overflow or underflow.

    Each column is divided by the power of two nearest its largest magnitude first. That
    is exact in floating point, so ordinary features get the bits of the plain formulas,
    while features of size 1e200 (whose squares overflow) or 1e-200 (whose squares
    underflow) get their true spread.

    Parameters
    ----------
    X : tensor of shape (n_rows, d)
        Finite values.

    Returns
    -------
    mean, spread : tensor of shape (d,)

    Examples
    --------
    >>> X = torch.tensor([[1e200, 0.0], [3e200, 0.0]], dtype=torch.float64)
    >>> [f"{float(v):.3g}" for v in column_mean_and_spread(X)[1]]
    ['1e+200', '0']
    """
    _, exponent = torch.frexp(X.abs().amax(dim=0))  # amax = m 2^e, 1/2 <= m < 1
    unit = torch.ldexp(torch.ones_like(X[0]), exponent - 1)  # 2^e itself may overflow
    X_unit = X / unit
    return X_unit.mean(dim=0) * unit, X_unit.std(dim=0, correction=0) * unit


def fit_feature_map(X_responses, *, length_scales, n_random_features, linear, seed):
    """Standardise on ``X_responses`` and draw the random Fourier features.

    Parameters
    ----------
    X_responses : tensor of shape (n_rows, d)
        The training responses' features (both responses of every pair, so the map does
        not depend on which response is called a).
    length_scales : sequence of float
        Length scale of each RBF block, in units of sqrt(d).
    n_random_features : int
        Features H per length scale.
    linear : bool
        Include the linear block.
    seed : int
        Seed of the random frequencies (orthogonal random features) and phases, drawn on
        the CPU, so the map does not depend on the device.

    Returns
    -------
    feature_map : FeatureMap
    """
    device, dtype = X_responses.device, X_responses.dtype
    mean, spread = column_mean_and_spread(X_responses)
    # A constant column carries nothing; dividing by a floor keeps it at zero. The floor
    # is relative to the features' own magnitude, so that the standardisation does not
    # depend on their unit (features of size 1e-30 are not all "constant").
    reference = max(float(spread.max()), float(X_responses.abs().max()))
    scale = torch.where(spread > 1e-12 * reference, spread, 1.0)
    d = X_responses.shape[1]
    generator = torch.Generator().manual_seed(int(seed) % 2**63)
    frequencies, phases = [], []
    for length_scale in length_scales:
        W = orthogonal_gaussian(d, n_random_features, generator)
        b = torch.rand(n_random_features, generator=generator, dtype=torch.float64) * 2 * np.pi
        frequencies.append((W / (length_scale * math.sqrt(d))).to(device, dtype))
        phases.append(b.to(device, dtype))
    return FeatureMap(mean, scale, frequencies, phases, linear)
