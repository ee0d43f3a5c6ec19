"""Label maps: which values of a file's label column mean "a preferred", "b preferred", "tie"."""

from __future__ import annotations

import math
import numbers

import numpy as np

from skbalpm.datasets._common import MalformedRecordError

LABEL_MEANINGS = ("a", "b", "tie")
DEFAULT_LABEL_MAP = {"a": (0,), "b": (1,), "tie": (0.5, "tie")}
"""The generic tables' labels: 0 = response_a preferred, 1 = response_b, 0.5 or "tie"."""


def label_token(value):
    """The comparable form of a label value, or None for a value that is never a label.

    Numbers compare by value whatever their type or spelling (``1``, ``1.0``, ``"1"``,
    ``" 1 "``); other text compares stripped and case-insensitively; booleans only equal
    booleans. NaN, None, lists and other values have no token.

    Parameters
    ----------
    value : object
        A label as read from a file (or given in a label map).

    Returns
    -------
    token : tuple or None

    Examples
    --------
    >>> label_token(1) == label_token("1.0") == label_token(np.int64(1))
    True
    >>> label_token(" Tie "), label_token(True), label_token(float("nan"))
    (('text', 'tie'), ('bool', True), None)
    """
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, numbers.Integral):
        return ("number", int(value))  # equal and hashed alike to the float of its value
    if isinstance(value, numbers.Real):
        number = float(value)
        return None if math.isnan(number) else ("number", number)
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            number = float(text)
        except ValueError:
            return ("text", text) if text else None
        return None if math.isnan(number) else ("number", number)
    return None


def check_label_map(label_map) -> dict:
    """Validate a label map and turn it into ``token -> meaning``.

    Parameters
    ----------
    label_map : dict or None
        ``{"a": values, "b": values, "tie": values}``: which label values mean response_a
        preferred, response_b preferred and a tie (skipped); each entry one value or a
        list of them, ``"tie"`` optional. None: :data:`DEFAULT_LABEL_MAP`.

    Returns
    -------
    meanings : dict
        :func:`label_token` of every value -> ``"a"``, ``"b"`` or ``"tie"``.

    Raises
    ------
    ValueError
        If a key is unknown, ``"a"`` or ``"b"`` is missing, a value can never be a label,
        or one value has two meanings.

    Examples
    --------
    >>> meanings = check_label_map({"a": 1, "b": 2, "tie": [0, "tie"]})
    >>> meanings[label_token("2")], meanings[label_token("TIE")]
    ('b', 'tie')
    """
    if label_map is None:
        label_map = DEFAULT_LABEL_MAP
    if not isinstance(label_map, dict):
        raise ValueError(
            f"label_map must be a dict such as {{'a': 1, 'b': 2, 'tie': 0}}, got "
            f"{type(label_map).__name__}."
        )
    unknown = set(label_map) - set(LABEL_MEANINGS)
    if unknown or not {"a", "b"} <= set(label_map):
        raise ValueError(
            f"label_map needs the keys 'a' and 'b' (and optionally 'tie') and no others; "
            f"got {sorted(map(str, label_map))}."
        )
    meanings = {}
    for meaning, values in label_map.items():
        values = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
        if not values:
            raise ValueError(f"label_map[{meaning!r}] lists no value.")
        for value in values:
            token = label_token(value)
            if token is None:
                raise ValueError(f"label_map[{meaning!r}]: {value!r} cannot be a label value.")
            if meanings.get(token, meaning) != meaning:
                raise ValueError(
                    f"label_map: the value {value!r} means both {meanings[token]!r} and "
                    f"{meaning!r}."
                )
            meanings[token] = meaning
    return meanings


def describe_label_map(label_map) -> str:
    """``"a: 0; b: 1; tie: 0.5, 'tie'"``, for error messages.

    Parameters
    ----------
    label_map : dict or None
        As for :func:`check_label_map`.

    Returns
    -------
    text : str

    Examples
    --------
    >>> describe_label_map({"a": 1, "b": [2, "B"]})
    "a: 1; b: 2, 'B'"
    """
    label_map = DEFAULT_LABEL_MAP if label_map is None else label_map
    parts = []
    for meaning, values in label_map.items():
        values = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
        parts.append(f"{meaning}: " + ", ".join(map(repr, values)))
    return "; ".join(parts)


def read_label(value, meanings: dict, position: str, description: str):
    """The label of one record: 0 (a preferred), 1 (b preferred) or None (a tie).

    Parameters
    ----------
    value : object
        The value of the record's label column.
    meanings : dict
        From :func:`check_label_map`.
    position : str
        Where the record is (file and line / row), for the error message.
    description : str
        From :func:`describe_label_map`, for the error message.

    Returns
    -------
    label : int or None

    Raises
    ------
    MalformedRecordError
        If the value is not in the label map.

    Examples
    --------
    >>> meanings = check_label_map({"a": 0, "b": 1, "tie": 2})
    >>> [read_label(v, meanings, "x", "") for v in (0, "1", 2.0)]
    [0, 1, None]
    """
    meaning = meanings.get(label_token(value))
    if meaning is None:
        raise MalformedRecordError(
            f"{position}: label {value!r:.60} is not one of the label map's values "
            f"({description}); pass label_map= (on the command line --label-map) to say "
            "which values mean response_a preferred, response_b preferred and a tie."
        )
    return {"a": 0, "b": 1, "tie": None}[meaning]
