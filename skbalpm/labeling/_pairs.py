"""Pairs of a labeling desk: stable pair ids, the unlabeled pool and JSON Lines files.

A pair's id is a hash of its text, so that it is the same in every file, on every machine
and in every run, whatever order the pool comes in; the responses are sorted before
hashing, so that the same comparison shown the other way round keeps its id.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from skbalpm._raw import RAW_COLUMNS
from skbalpm.benchmark._checkpoint import atomic_write

PAIR_ID_DIGITS = 16
"""Hex digits of a pair id (64 bits: no two pairs of a pool of 10^8 share one in practice)."""


def pair_id(prompt, response_a, response_b):
    """The stable id of a comparison: a hash of its prompt and its two responses.

    Parameters
    ----------
    prompt, response_a, response_b : str
        The pair's texts.

    Returns
    -------
    pair_id : str
        16 hex digits; the same for ``(prompt, b, a)`` as for ``(prompt, a, b)``.

    Examples
    --------
    >>> pair_id("Hi?", "Hello!", "Go away.")
    'b66c10d9a186d884'
    >>> pair_id("Hi?", "Go away.", "Hello!") == pair_id("Hi?", "Hello!", "Go away.")
    True
    """
    responses = sorted((response_a, response_b))
    text = json.dumps([prompt, *responses], ensure_ascii=False)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=PAIR_ID_DIGITS // 2)
    return digest.hexdigest()


def pair_ids(X):
    """The ids of raw pairs, row by row (see :func:`pair_id`).

    Parameters
    ----------
    X : ndarray of shape (n, 3)
        Raw (prompt, response_a, response_b) triples.

    Returns
    -------
    ids : ndarray of shape (n,), object
        One id per row.

    Examples
    --------
    >>> pair_ids([("Hi?", "Hello!", "Go away."), ("Hi?", "Go away.", "Hello!")]).tolist()
    ['b66c10d9a186d884', 'b66c10d9a186d884']
    """
    return np.array([pair_id(*row) for row in X], dtype=object)


def read_jsonl(path):
    """The records of a JSON Lines file, each with its position (``"FILE, line N"``).

    Parameters
    ----------
    path : str or Path
        The file (``.gz`` is decompressed).

    Returns
    -------
    records : list of (str, object)
        ``(position, record)`` per non-blank line.

    Raises
    ------
    MalformedRecordError
        A line that is not JSON, named with its file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = path.write_text('{"a": 1}\\n\\n{"a": 2}\\n')
    >>> [position.split(", ")[1] for position, _ in read_jsonl(path)]
    ['line 1', 'line 3']
    """
    from skbalpm.datasets._common import iter_jsonl

    return list(iter_jsonl(Path(path)))


def jsonl_text(records):
    """JSON Lines text of records (UTF-8 text kept as it is, one record a line).

    Parameters
    ----------
    records : iterable of dict
        JSON-serialisable records; NaN floats are written as ``null``.

    Returns
    -------
    text : str

    Examples
    --------
    >>> print(jsonl_text([{"a": 1, "b": float("nan")}]), end="")
    {"a": 1, "b": null}
    """
    return "".join(json.dumps(_json_safe(record), ensure_ascii=False) + "\n" for record in records)


def write_jsonl(path, records):
    """Write records as JSON Lines, atomically: a reader sees the old file or the new one.

    Parameters
    ----------
    path : str or Path
        The file to (over)write; its folder is created.
    records : iterable of dict
        The records.

    Returns
    -------
    path : Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = write_jsonl(pathlib.Path(tempfile.mkdtemp()) / "out.jsonl", [{"a": 1}])
    >>> path.read_text()
    '{"a": 1}\\n'
    """
    return write_text(path, jsonl_text(records))


def write_text(path, text):
    """Write text to ``path`` atomically (tmp file + rename), its folder created.

    Parameters
    ----------
    path : str or Path
        The file to (over)write.
    text : str
        Its new content (UTF-8).

    Returns
    -------
    path : Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> write_text(pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt", "hi").read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    return path


def _json_safe(value):
    """Numpy scalars as Python numbers and NaN as None, through dicts and lists."""
    if isinstance(value, dict):
        return {key: _json_safe(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------
# The pool
# ---------------------------------------------------------------------------------------


def _is_unlabelled_table(path, file_format, columns):
    """Whether ``path`` is a generic table of prompt, response_a, response_b with no labels."""
    from skbalpm.benchmark._cli import _detect_format
    from skbalpm.datasets._generic import _iter_table

    if file_format == "auto":
        file_format = _detect_format(path)
    if file_format not in ("jsonl", "csv", "parquet"):
        return False
    for _, record in _iter_table(path, file_format):
        if not isinstance(record, dict):
            return False
        names = _column_names(columns)
        has_label = names["label"] in record or names["chosen"] in record
        return not has_label and names["response_a"] in record
    return False


def _column_names(columns):
    names = {
        key: key for key in ("prompt", "response_a", "response_b", "label", "chosen", "rejected")
    }
    names.update(columns or {})
    return names


def _read_unlabelled(paths, file_format, columns):
    """Raw triples of generic tables that hold no labels (identical responses skipped)."""
    from skbalpm.benchmark._cli import _detect_format
    from skbalpm.datasets._common import same_response
    from skbalpm.datasets._generic import _iter_table, _text

    names = _column_names(columns)
    triples, n_records, n_identical = [], 0, 0
    for path in paths:
        fmt = _detect_format(path) if file_format == "auto" else file_format
        for position, record in _iter_table(path, fmt):
            n_records += 1
            if not isinstance(record, dict):
                from skbalpm.datasets import MalformedRecordError

                raise MalformedRecordError(
                    f"{position}: expected an object / row, got {type(record).__name__}."
                )
            row = [_text(record, names[key], position) for key in RAW_COLUMNS]
            if same_response(row[1], row[2]):
                n_identical += 1
                continue
            triples.append(row)
    if not triples:
        raise ValueError(
            f"No usable pairs in {[str(p) for p in paths]}: {n_records} records read, "
            f"{n_identical} with identical responses."
        )
    X = np.empty((len(triples), 3), dtype=object)
    X[:] = triples
    skipped = {"identical_responses": n_identical} if n_identical else {}
    return Bunch(X=X, y=None, n_records=n_records, skipped=skipped, source=[str(p) for p in paths])


def read_pool(paths, file_format="auto", *, columns=None, label_map=None):
    """Read a pool of pairs to label: raw triples with their ids, duplicates dropped.

    The pool may be a generic table (JSON Lines, CSV, Parquet) of ``prompt``,
    ``response_a``, ``response_b`` with no label column, any labelled file that
    ``skbalpm benchmark`` reads (its labels are kept as ``y``, e.g. to replay them), or
    ``"sample"`` / ``"sample:NAME"``, a real sample bundled with the package. A pair that
    occurs twice (the same id) is kept once, at its first position.

    Parameters
    ----------
    paths : str, Path or list of them
        The file(s), pooled in order, or ``"sample:hh-rlhf"`` / ``"sample:tldr"``.
    file_format : str, default="auto"
        One of ``skbalpm benchmark``'s ``--format`` values.
    columns : dict or None, default=None
        Column names of generic tables (keys prompt, response_a, response_b, label,
        chosen, rejected, group).
    label_map : dict or None, default=None
        Label values of a labelled generic table (see
        :func:`~skbalpm.datasets.load_preference_file`).

    Returns
    -------
    pool : Bunch
        ``X`` (object array (n, 3)), ``pair_ids`` (object array (n,)), ``y`` (the
        file's labels, int array, or None for an unlabelled table), ``n_records``,
        ``skipped`` (reason -> count, with ``duplicate_pairs``) and ``source``.

    Raises
    ------
    MalformedRecordError
        A record that does not follow its format, named with its file and line.
    ValueError, OSError
        A missing file, an unknown format, or no usable pair.

    Examples
    --------
    >>> pool = read_pool("sample:hh-rlhf")
    >>> pool.X.shape, len(set(pool.pair_ids)), pool.y.shape
    ((500, 3), 500, (500,))
    """
    from skbalpm.benchmark._cli import _sample_name, load_benchmark_data

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ValueError("read_pool needs at least one file.")
    unlabelled = _sample_name(paths) is None and all(
        _is_unlabelled_table(Path(p), file_format, columns) for p in _existing(paths)
    )
    if unlabelled:
        data = _read_unlabelled([Path(p) for p in paths], file_format, columns)
    else:
        data = load_benchmark_data(
            [str(p) for p in paths], file_format, columns=columns, label_map=label_map
        )
    ids = pair_ids(data.X)
    _, first = np.unique(ids.astype(str), return_index=True)
    keep = np.sort(first)
    skipped = dict(data.skipped)
    if len(keep) < len(ids):
        skipped["duplicate_pairs"] = len(ids) - len(keep)
    return Bunch(
        X=data.X[keep],
        pair_ids=ids[keep],
        y=None if data.y is None else np.asarray(data.y)[keep],
        n_records=data.n_records,
        skipped=skipped,
        source=list(data.source),
    )


def _existing(paths):
    """The paths, each checked to exist (a clear error before any format detection)."""
    from skbalpm.datasets._common import as_paths

    return as_paths(paths)
