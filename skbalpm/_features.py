"""The feature layout contract shared by the embedder, the classifier and the strategies.

A row of preference-pair features holds equal-width blocks, in this order:

* ``"a|b|prompt"`` (what :class:`~skbalpm.PreferencePairEmbedder` emits):
  phi(prompt + response_a) | phi(prompt + response_b) | phi(prompt)
* ``"a|b"`` (plain pair features from users who embed elsewhere):
  phi(prompt + response_a) | phi(prompt + response_b)

Swapping response_a and response_b swaps the first two blocks and nothing else.

**Column names.** A layout's blocks are named by its parts (``"a"``, ``"b"``,
``"prompt"``) and column ``i`` of block ``name`` is ``f"{name}_{i}"``: a block of width d
is ``a_0 .. a_{d-1}``, then ``b_0 .. b_{d-1}``, then ``prompt_0 .. prompt_{d-1}``
(:func:`feature_names`; the embedder's ``get_feature_names_out``). A prefix ending in
``"__"`` (what scikit-learn's ``ColumnTransformer`` adds) is ignored. Columns so
named carry their layout: :func:`layout_from_names` reads it back, and a table whose
names look like blocks but are dropped, reordered or of unequal width is an error.

**Resolving a layout** (:func:`resolve_feature_layout`, used by the classifier, the
strategies and :func:`split_feature_blocks`). ``feature_layout="auto"`` takes the layout
from the column names when they spell one; on columns without such names it uses the one
layout whose number of blocks divides the width, and refuses a width that both divide
(a multiple of 6, e.g. 768 = 2 x 384 = 3 x 256) instead of guessing. An explicit layout is
used as given on unnamed columns, and is an error when the column names spell the other.
"""

from __future__ import annotations

import re

import numpy as np
from sklearn.base import clone

_BLOCKS = {"a|b|prompt": ("a", "b", "prompt"), "a|b": ("a", "b")}

FEATURE_LAYOUTS = tuple(_BLOCKS)
"""The concrete feature layouts; every ``feature_layout`` parameter also takes ``"auto"``."""

_BLOCK_COLUMN = re.compile(r"(?:a|b|prompt)_\d+")

FEATURE_DTYPES = (np.float64, np.float32)
"""The dtypes feature arrays are validated to: float32 input stays float32, anything else
(lists of floats, ints) becomes float64. (Listed float32 first, scikit-learn's check_array
would round lists of Python floats to float32.)"""


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
        return len(_BLOCKS[feature_layout])
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
    if not _fits(n_features, feature_layout):
        other = "a|b" if feature_layout == "a|b|prompt" else "a|b|prompt"
        raise ValueError(
            f"feature_layout={feature_layout!r} expects {n_blocks} equal-width blocks "
            f"[{_describe(feature_layout)}], so the number of features must be a positive "
            f"multiple of {n_blocks}; got {n_features} features. If your features are laid "
            f"out differently, pass feature_layout={other!r}."
        )
    return n_features // n_blocks


def _fits(n_features: int, feature_layout: str) -> bool:
    n_blocks = n_feature_blocks(feature_layout)
    return n_features >= n_blocks and n_features % n_blocks == 0


def _describe(feature_layout: str) -> str:
    """``"phi(prompt+a) | phi(prompt+b) | phi(prompt)"`` for ``"a|b|prompt"``."""
    return " | ".join(
        f"phi({'prompt' if block == 'prompt' else 'prompt+' + block})"
        for block in _BLOCKS[feature_layout]
    )


def feature_names(feature_layout: str, d: int) -> np.ndarray:
    """Column names of features in a layout: ``a_0 .. a_{d-1}, b_0 .., prompt_0 ..``.

    Parameters
    ----------
    feature_layout : {"a|b|prompt", "a|b"}
        The layout.
    d : int
        Width of one block.

    Returns
    -------
    names : ndarray of str of shape (n_blocks * d,)
        ``f"{block}_{i}"`` for every block of the layout, in order, and i in 0 .. d-1.

    Examples
    --------
    >>> feature_names("a|b", 2).tolist()
    ['a_0', 'a_1', 'b_0', 'b_1']
    """
    n_feature_blocks(feature_layout)  # a clear error for an unknown layout
    blocks = _BLOCKS[feature_layout]
    return np.asarray([f"{block}_{i}" for block in blocks for i in range(d)], dtype=object)


def column_names(X) -> list[str] | None:
    """The column names of a data frame, or None (an array, or columns not all strings).

    Parameters
    ----------
    X : array-like
        A pandas or polars DataFrame, or anything else.

    Returns
    -------
    names : list of str or None
        The names when ``X`` has columns that are all strings (as scikit-learn's
        ``feature_names_in_``), else None.

    Examples
    --------
    >>> import pandas as pd
    >>> column_names(pd.DataFrame([[1.0, 2.0]], columns=["a_0", "b_0"]))
    ['a_0', 'b_0']
    >>> column_names(np.zeros((1, 2))) is None
    True
    """
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    return names if names and all(isinstance(name, str) for name in names) else None


def layout_from_names(names) -> str | None:
    """The layout that column names spell, or None when they do not name blocks at all.

    Parameters
    ----------
    names : sequence of str or None
        Column names (e.g. ``feature_names_in_``), in column order.

    Returns
    -------
    feature_layout : {"a|b|prompt", "a|b"} or None
        The layout whose :func:`feature_names` the names are (a prefix ending in ``"__"``
        ignored); None when no name looks like a block column (``a_0``, ``prompt_3``, ...).

    Raises
    ------
    ValueError
        Names that look like block columns but spell no layout (columns dropped,
        reordered, or blocks of unequal width): splitting them would be a guess.

    Examples
    --------
    >>> layout_from_names(["a_0", "a_1", "b_0", "b_1"])
    'a|b'
    >>> layout_from_names(["x", "y"]) is None
    True
    """
    if names is None:
        return None
    short = [str(name).rsplit("__", 1)[-1] for name in names]
    for layout in FEATURE_LAYOUTS:
        if _fits(len(short), layout):
            d = len(short) // n_feature_blocks(layout)
            if short == feature_names(layout, d).tolist():
                return layout
    looks_like_blocks = [name for name in short if _BLOCK_COLUMN.fullmatch(name)]
    if looks_like_blocks:
        raise ValueError(
            f"The {len(short)} column names look like feature blocks (e.g. "
            f"{looks_like_blocks[0]!r}) but spell no layout: expected a_0..a_<d-1>, "
            "b_0..b_<d-1> and, for 'a|b|prompt', prompt_0..prompt_<d-1>, in this order and "
            "all blocks of one width d. Were columns dropped or reordered? Pass the "
            "embedder's output as it is, or a bare array with feature_layout='a|b' or "
            "'a|b|prompt'."
        )
    return None


def resolve_feature_layout(feature_layout: str, n_features: int, names=None) -> str:
    """The layout of features, from the parameter, the column names and the width.

    Parameters
    ----------
    feature_layout : {"auto", "a|b|prompt", "a|b"}
        The parameter. ``"auto"``: the layout the column names spell, else the only layout
        the width fits. A layout name: that layout, which the names must not contradict.
    n_features : int
        Number of feature columns.
    names : sequence of str or None, default=None
        The column names, when the features came with them.

    Returns
    -------
    feature_layout : {"a|b|prompt", "a|b"}
        The resolved layout; ``n_features`` fits it.

    Raises
    ------
    ValueError
        An unknown parameter value; names that contradict an explicit layout (or spell
        none, see :func:`layout_from_names`); a width that fits no layout, or, with
        ``"auto"`` and no names, both (a multiple of 6).

    Examples
    --------
    >>> resolve_feature_layout("auto", 9)
    'a|b|prompt'
    >>> resolve_feature_layout("auto", 6, ["a_0", "a_1", "a_2", "b_0", "b_1", "b_2"])
    'a|b'
    >>> resolve_feature_layout("a|b", 6)
    'a|b'
    """
    if feature_layout != "auto":
        n_feature_blocks(feature_layout)
    named = layout_from_names(names)
    if feature_layout != "auto":
        if named is not None and named != feature_layout:
            raise ValueError(
                f"feature_layout={feature_layout!r} contradicts the column names, which "
                f"spell the layout {named!r} [{_describe(named)}]. Pass "
                f"feature_layout={named!r} or 'auto', or give the features as a bare array."
            )
        block_width(n_features, feature_layout)
        return feature_layout
    if named is not None:
        return named
    fitting = [layout for layout in FEATURE_LAYOUTS if _fits(n_features, layout)]
    if len(fitting) == 1:
        return fitting[0]
    readings = " or ".join(
        f"{n_feature_blocks(layout)} blocks of {n_features // n_feature_blocks(layout)} "
        f"(feature_layout={layout!r}: {_describe(layout)})"
        for layout in FEATURE_LAYOUTS
    )
    if fitting:
        problem = f"they split as {readings}, and nothing says which"
    else:
        problem = "that fits no layout: 'a|b|prompt' needs a multiple of 3, 'a|b' of 2"
    raise ValueError(
        f"Cannot tell the layout of {n_features} feature columns: {problem}. Pass "
        "feature_layout='a|b' (plain pair features) or feature_layout='a|b|prompt' "
        "(with a prompt block), or give the features as a DataFrame whose columns name "
        "the blocks (a_0.., b_0.., prompt_0..), as PreferencePairEmbedder's output does."
    )


def split_feature_blocks(X, feature_layout: str = "auto"):
    """Split feature rows into their response and prompt blocks (views, no copy).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_blocks * d)
        Feature rows: a numpy array, a torch tensor, or a DataFrame (whose block-named
        columns give the layout, e.g. the embedder's output).
    feature_layout : {"auto", "a|b|prompt", "a|b"}, default="auto"
        The layout of the columns (see :ref:`contracts_feature_layout`): ``"auto"``
        reads the column names, else the width, and refuses a bare array whose width
        fits both layouts; an explicit layout must agree with the column names.

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
    >>> a, b, p = split_feature_blocks(np.arange(6.0).reshape(1, 6), "a|b|prompt")
    >>> a.tolist(), b.tolist(), p.tolist()
    ([[0.0, 1.0]], [[2.0, 3.0]], [[4.0, 5.0]])
    """
    layout = resolve_feature_layout(feature_layout, X.shape[1], column_names(X))
    if hasattr(X, "columns"):  # a data frame: its values (a view for one float dtype)
        X = np.asarray(X)
    d = block_width(X.shape[1], layout)
    X_prompt = X[:, 2 * d : 3 * d] if n_feature_blocks(layout) == 3 else None
    return X[:, :d], X[:, d : 2 * d], X_prompt


def swap_response_blocks(X, feature_layout: str = "auto") -> np.ndarray:
    """Return a copy of ``X`` with response_a and response_b exchanged in every row.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_blocks * d)
        Feature rows (an array, or a DataFrame whose block-named columns give the layout).
    feature_layout : {"auto", "a|b|prompt", "a|b"}, default="auto"
        The layout of the columns (``"auto"``: as in :func:`split_feature_blocks`).

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
    if not hasattr(X, "columns"):
        X = np.asarray(X)
    X_a, X_b, X_prompt = split_feature_blocks(X, feature_layout)
    blocks = [X_b, X_a] + ([] if X_prompt is None else [X_prompt])
    return np.concatenate(blocks, axis=1)


def with_feature_layout(estimator, feature_layout: str):
    """The estimator, told the layout wherever its ``feature_layout`` is left at "auto".

    For code that hands bare arrays of a known layout to an estimator it was given (the
    benchmark harness): an ``"auto"`` estimator would have to guess from the width.

    Parameters
    ----------
    estimator : estimator
        A classifier, or a Pipeline (every step's ``feature_layout`` is looked at).
    feature_layout : {"a|b|prompt", "a|b"}
        The layout of the features the estimator will get.

    Returns
    -------
    estimator : estimator
        A clone with every ``feature_layout="auto"`` set to ``feature_layout``, or the
        estimator itself when it has none (an explicit layout is left as it is).

    Examples
    --------
    >>> from skbalpm import PreferenceEnsembleClassifier
    >>> with_feature_layout(PreferenceEnsembleClassifier(), "a|b").feature_layout
    'a|b'
    """
    n_feature_blocks(feature_layout)
    if not hasattr(estimator, "get_params"):
        return estimator
    unset = {
        name: feature_layout
        for name, value in estimator.get_params().items()
        if name.rsplit("__", 1)[-1] == "feature_layout"
        and isinstance(value, str)
        and value == "auto"
    }
    return clone(estimator).set_params(**unset) if unset else estimator
