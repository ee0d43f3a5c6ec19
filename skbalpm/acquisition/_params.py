"""Checks of the query strategies' constructor parameters, run before any work on the pool.

Each check names the parameter and the strategy and says what is allowed, so that a bad
value is reported at the start of a call, not after an all-pairs k-NN pass over the pool.
"""

from __future__ import annotations

import importlib.util
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state


def _owner(strategy) -> str:
    return type(strategy).__name__


def check_real(strategy, name: str, *, minimum: float, strict: bool = False) -> None:
    """``strategy.<name>`` is a finite real number ``>= minimum`` (``> minimum`` if strict)."""
    value = getattr(strategy, name)
    bound = f"> {minimum}" if strict else f">= {minimum}"
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not is_real or not np.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ValueError(
            f"{_owner(strategy)}: {name} must be a finite number {bound}; got {value!r}."
        )


def check_int(strategy, name: str, *, minimum: int) -> None:
    """``strategy.<name>`` is an int (not a bool) ``>= minimum``."""
    value = getattr(strategy, name)
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    if not is_int or value < minimum:
        raise ValueError(f"{_owner(strategy)}: {name} must be an int >= {minimum}; got {value!r}.")


def check_option(strategy, name: str, options) -> None:
    """``strategy.<name>`` is one of ``options``."""
    value = getattr(strategy, name)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{_owner(strategy)}: {name} must be one of {options}; got {value!r}.")


def check_bool(strategy, name: str) -> None:
    """``strategy.<name>`` is True or False."""
    value = getattr(strategy, name)
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{_owner(strategy)}: {name} must be True or False; got {value!r}.")


def check_verbose(strategy) -> None:
    """``verbose`` is a bool or an int >= 0."""
    if isinstance(strategy.verbose, bool | np.bool_):
        return
    check_int(strategy, "verbose", minimum=0)


def check_random_state_param(strategy) -> None:
    """``random_state``, where the strategy has one, is None, an int or a RandomState."""
    random_state = getattr(strategy, "random_state", None)
    try:
        check_random_state(random_state)
    except ValueError:
        raise ValueError(
            f"{_owner(strategy)}: random_state must be None, an int or a "
            f"numpy.random.RandomState; got {random_state!r}."
        ) from None


def check_device(strategy) -> None:
    """``device`` names a torch device that this machine has ("auto" always does)."""
    device = strategy.device
    if device is None or device == "auto":
        return
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{_owner(strategy)}: device must be 'auto', 'cpu', 'cuda', 'cuda:<n>' or a "
            f"torch.device; got {device!r}."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{_owner(strategy)}: device={device!r}, but torch sees no CUDA device here; "
            "use device='auto' or 'cpu'."
        )


def check_faiss_installed(strategy) -> None:
    """``knn_backend="faiss"`` needs the faiss package (the ``faiss`` extra)."""
    if strategy.knn_backend == "faiss" and importlib.util.find_spec("faiss") is None:
        raise ImportError(
            f"{_owner(strategy)}: knn_backend='faiss' needs faiss: pip install skbalpm[faiss]"
        )
