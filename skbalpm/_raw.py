"""The raw-input contract: rows of (prompt, response_a, response_b) text."""

from __future__ import annotations

import numpy as np

RAW_COLUMNS = ("prompt", "response_a", "response_b")
"""Column names of a raw preference pool given as a pandas DataFrame."""


def as_raw_triples(X) -> np.ndarray:
    """Convert any accepted raw preference input to an object array of shape (n, 3).

    Accepted forms (:ref:`design_raw_input`): a numpy array of shape (n, 3), a pandas
    DataFrame with columns ``prompt``, ``response_a``, ``response_b`` (other columns are
    ignored), or a sequence of 3-tuples.

    Parameters
    ----------
    X : ndarray of shape (n, 3), DataFrame or sequence of 3-tuples
        The raw pairs.

    Returns
    -------
    triples : ndarray of dtype object and shape (n, 3)
        Columns prompt, response_a, response_b; every entry a ``str``.

    Raises
    ------
    ValueError
        If the input is empty, not three columns wide, misses a DataFrame column, or holds
        an entry that is not a string (the message names the first offending row).

    Examples
    --------
    >>> as_raw_triples([("Hi?", "Hello!", "Go away.")]).shape
    (1, 3)
    """
    if hasattr(X, "columns"):  # pandas DataFrame
        missing = [c for c in RAW_COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(
                f"A DataFrame of raw pairs needs the columns {list(RAW_COLUMNS)}; "
                f"missing {missing} (got columns {list(X.columns)})."
            )
        X = X[list(RAW_COLUMNS)].to_numpy(dtype=object)
    else:
        try:
            X = np.asarray(X, dtype=object)
        except ValueError as exc:  # ragged nested sequences
            raise ValueError(
                "Raw pairs must be rows of (prompt, response_a, response_b); "
                f"could not read the input as a table: {exc}"
            ) from None
    if X.ndim != 2 or X.shape[1] != 3:
        raise ValueError(
            "Raw pairs must have shape (n_samples, 3): columns prompt, response_a, "
            f"response_b; got an array of shape {X.shape}."
        )
    if X.shape[0] == 0:
        raise ValueError("Raw pairs are empty: got 0 rows of (prompt, response_a, response_b).")
    for row, values in enumerate(X):
        for col, value in zip(RAW_COLUMNS, values, strict=True):
            if not isinstance(value, str):
                raise ValueError(
                    f"Raw pairs must hold text: row {row}, column {col!r} is "
                    f"{type(value).__name__} ({value!r:.60})."
                )
    return X
