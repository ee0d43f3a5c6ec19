"""The feature layout contract shared by the embedder, the classifier and the strategies.

A row of preference-pair features holds equal-width blocks, in this order:

* ``"a|b|prompt"`` (what :class:`~skbalpm.PreferencePairEmbedder` emits):
  phi(prompt + response_a) | phi(prompt + response_b) | phi(prompt)
* ``"a|b"`` (plain pair features from users who embed elsewhere):
  phi(prompt + response_a) | phi(prompt + response_b)

Swapping response_a and response_b swaps the first two blocks and nothing else.
"""

from __future__ import annotations

import numpy as np

FEATURE_LAYOUTS = ("a|b|prompt", "a|b")
"""The accepted values of every ``feature_layout`` parameter."""

_N_BLOCKS = {"a|b|prompt": 3, "a|b": 2}


def n_feature_blocks(feature_layout: str) -> int:
    """Number of equal-width blocks in a row of the given layout.

    Parameters
    ----------
    feature_layout : {"a|b|prompt", "a|b"}
        The layout name.

    Returns
    -------
    n_blocks : int
        3 for ``"a|b|prompt"``, 2 for ``"a|b"``.

    Examples
    --------
    >>> n_feature_blocks("a|b|prompt")
    3
    """
    try:
        return _N_BLOCKS[feature_layout]
    except (KeyError, TypeError):
        raise ValueError(
            f"feature_layout must be one of {FEATURE_LAYOUTS}, got {feature_layout!r}."
        ) from None


def block_width(n_features: int, feature_layout: str) -> int:
    """Width d of one block, with a clear error when the width does not fit the layout.

    Parameters
    ----------
    n_features : int
        Total number of feature columns.
    feature_layout : {"a|b|prompt", "a|b"}
        The layout the columns should follow.

    Returns
    -------
    d : int
        ``n_features // n_blocks``.

    Raises
    ------
    ValueError
        If ``n_features`` is not a positive multiple of the number of blocks.

    Examples
    --------
    >>> block_width(1152, "a|b|prompt")
    384
    """
    n_blocks = n_feature_blocks(feature_layout)
    if n_features < n_blocks or n_features % n_blocks:
        names = " | ".join(f"phi({b})" for b in _block_names(feature_layout))
        other = "a|b" if feature_layout == "a|b|prompt" else "a|b|prompt"
        raise ValueError(
            f"feature_layout={feature_layout!r} expects {n_blocks} equal-width blocks "
            f"[{names}], so the number of features must be a positive multiple of "
            f"{n_blocks}; got {n_features} features. If your features are laid out "
            f"differently, pass feature_layout={other!r}."
        )
    return n_features // n_blocks


def _block_names(feature_layout: str) -> tuple[str, ...]:
    return ("prompt+a", "prompt+b", "prompt")[: n_feature_blocks(feature_layout)]


def split_feature_blocks(X, feature_layout: str = "a|b|prompt"):
    """Split feature rows into their response and prompt blocks (views, no copy).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_blocks * d)
        Feature rows in the given layout (numpy array or torch tensor).
    feature_layout : {"a|b|prompt", "a|b"}, default="a|b|prompt"
        The layout of the columns.

    Returns
    -------
    X_a : array of shape (n_samples, d)
        Features of prompt + response_a.
    X_b : array of shape (n_samples, d)
        Features of prompt + response_b.
    X_prompt : array of shape (n_samples, d) or None
        Features of the prompt alone; None for the ``"a|b"`` layout.

    Examples
    --------
    >>> import numpy as np
    >>> a, b, p = split_feature_blocks(np.arange(6.0).reshape(1, 6))
    >>> a.tolist(), b.tolist(), p.tolist()
    ([[0.0, 1.0]], [[2.0, 3.0]], [[4.0, 5.0]])
    """
    d = block_width(X.shape[1], feature_layout)
    X_prompt = X[:, 2 * d : 3 * d] if n_feature_blocks(feature_layout) == 3 else None
    return X[:, :d], X[:, d : 2 * d], X_prompt


def swap_response_blocks(X, feature_layout: str = "a|b|prompt") -> np.ndarray:
    """Return a copy of ``X`` with response_a and response_b exchanged in every row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_blocks * d)
        Feature rows in the given layout.
    feature_layout : {"a|b|prompt", "a|b"}, default="a|b|prompt"
        The layout of the columns.

    Returns
    -------
    X_swapped : ndarray of shape (n_samples, n_blocks * d)
        The same rows with the first two blocks exchanged.

    Examples
    --------
    >>> import numpy as np
    >>> swap_response_blocks(np.array([[1.0, 2.0, 3.0]])).tolist()
    [[2.0, 1.0, 3.0]]
    """
    X = np.asarray(X)
    X_a, X_b, X_prompt = split_feature_blocks(X, feature_layout)
    blocks = [X_b, X_a] + ([] if X_prompt is None else [X_prompt])
    return np.concatenate(blocks, axis=1)
