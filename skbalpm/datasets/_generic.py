"""Generic preference tables: JSON Lines, CSV or Parquet with configurable column names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skbalpm.datasets._common import (
    MalformedRecordError,
    TripleCollector,
    as_paths,
    check_unicode,
    holds_json_list,
    iter_json_list,
    iter_jsonl,
    naming_unreadable,
    positions_to_swap,
    same_response,
    stable_id,
)
from skbalpm.datasets._labels import check_label_map, describe_label_map, read_label

FILE_FORMATS = ("auto", "jsonl", "csv", "parquet")


def _detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    by_suffix = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
    if last not in by_suffix:
        raise ValueError(
            f"Cannot tell the format of {path} from its extension; pass format= one of "
            f"{FILE_FORMATS[1:]}."
        )
    return by_suffix[last]


def _iter_table(path: Path, file_format: str):
    """Yield ``(position, record dict)`` for every row of a file."""
    if file_format == "jsonl":  # JSON Lines, or a .json file holding one list of records
        yield from (iter_json_list(path) if holds_json_list(path) else iter_jsonl(path))
        return
    import pandas as pd

    if file_format == "csv":
        # Text stays text (no "NA" -> NaN); labels are parsed below.
        with naming_unreadable(path):
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            except pd.errors.EmptyDataError:
                raise MalformedRecordError(f"{path}: empty file (no header row).") from None
            except pd.errors.ParserError as exc:
                raise MalformedRecordError(f"{path}: not valid CSV ({str(exc).strip()}).") from None
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas reads rows one field wider than the header as index + columns,
            # which would shift every text one column left.
            raise MalformedRecordError(
                f"{path}: the data rows have more fields than the header "
                f"{list(frame.columns)}; quote text that contains commas."
            )
        for i, record in enumerate(frame.to_dict(orient="records")):
            yield f"{path}, data row {i + 1}", record
    elif file_format == "parquet":
        frame = _read_parquet(path)
        for i, record in enumerate(frame.to_dict(orient="records")):
            yield f"{path}, row {i}", record
    else:
        raise ValueError(f"format must be one of {FILE_FORMATS}, got {file_format!r}.")


def _read_parquet(path: Path):
    """``pandas.read_parquet``, its failures on a broken file named as the file's."""
    import pandas as pd
    from pyarrow import ArrowException  # pandas reads Parquet through pyarrow

    try:
        return pd.read_parquet(path)
    except (ArrowException, ValueError, OSError) as exc:
        raise MalformedRecordError(f"{path}: not a Parquet file pandas can read ({exc}).") from None


def parse_label(value, position: str, label_map=None):
    """Read a preference label: 0 (response_a preferred), 1 (response_b) or None (tie).

    Parameters
    ----------
    value : int, float or str
        With the default map: 0 / 1 (also ``"0"``, ``"1"``, ``0.0``, ``1.0``); a tie is
        0.5, ``"0.5"`` or ``"tie"``.
    position : str
        Where the record is, for the error message.
    label_map : dict or None, default=None
        Which values mean a, b and tie (see :func:`load_preference_file`).

    Returns
    -------
    label : int or None
        0 (response_a preferred), 1 (response_b preferred) or None (tie).

    Raises
    ------
    MalformedRecordError
        If the value is not in the label map.

    Examples
    --------
    >>> parse_label("1", "x"), parse_label(0.0, "x"), parse_label("tie", "x")
    (1, 0, None)
    >>> parse_label(2, "x", {"a": 0, "b": 1, "tie": 2}) is None
    True
    """
    return read_label(value, check_label_map(label_map), position, describe_label_map(label_map))


def _layout(record: dict, columns: dict, position: str, label_map) -> str:
    """``"labelled"`` or ``"chosen/rejected"``, from the columns of the first record."""
    if columns["label"] in record and columns["response_a"] in record:
        return "labelled"
    if columns["chosen"] in record and columns["rejected"] in record:
        if label_map is not None:
            raise ValueError(
                f"{position}: a label map was given, but the records hold the chosen/rejected "
                f"columns {columns['chosen']!r}, {columns['rejected']!r} and no label column "
                f"{columns['label']!r}."
            )
        return "chosen/rejected"
    raise MalformedRecordError(
        f"{position}: found neither the columns {columns['response_a']!r}, "
        f"{columns['response_b']!r}, {columns['label']!r} nor "
        f"{columns['chosen']!r}, {columns['rejected']!r} "
        f"(columns present: {sorted(record)}). Pass the column names (on the command line: "
        "--columns)."
    )


def _group(record: dict, columns: dict, position: str) -> str:
    """A record's group id: text or an integer, as text."""
    column = columns["group"]
    if column not in record:
        raise MalformedRecordError(
            f"{position}: missing group column {column!r} (columns present: {sorted(record)})."
        )
    value = record[column]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
        raise MalformedRecordError(
            f"{position}: the group column {column!r} should hold text or an integer id, "
            f"got {type(value).__name__} ({value!r:.60})."
        )
    return str(value)


def _text(record: dict, column: str, position: str) -> str:
    if column not in record:
        raise MalformedRecordError(
            f"{position}: missing column {column!r} (columns present: {sorted(record)})."
        )
    value = record[column]
    if not isinstance(value, str):
        raise MalformedRecordError(
            f"{position}: column {column!r} should hold text, got {type(value).__name__} "
            f"({value!r:.60})."
        )
    check_unicode(value, position, column)
    return value


def load_preference_file(
    path,
    format="auto",
    *,
    prompt_column="prompt",
    response_a_column="response_a",
    response_b_column="response_b",
    label_column="label",
    chosen_column="chosen",
    rejected_column="rejected",
    group_column=None,
    label_map=None,
    random_state=0,
):
    """Load preference pairs from JSON Lines, CSV or Parquet with configurable columns.

    Two layouts are read (chosen by the columns of the first record):

    * ``prompt, response_a, response_b, label``: by default ``label`` is the index of the
      preferred response (0 or 1; 0.5 or ``"tie"`` marks a tie); ``label_map`` says
      otherwise. Ties are skipped and counted (``skipped["tie"]``, ``n_ties``), never an
      error;
    * ``prompt, chosen, rejected``: which response becomes ``response_a`` is randomised
      with ``random_state`` so that half the labels (rounded down) are 1.

    Records with identical responses are skipped (``identical_responses``).

    Parameters
    ----------
    path : str, Path or sequence of them
        The file(s); several are pooled. ``.jsonl.gz`` is decompressed.
    format : {"auto", "jsonl", "csv", "parquet"}, default="auto"
        "auto" picks by extension (``.jsonl``/``.json``, ``.csv``, ``.parquet``). "jsonl"
        reads JSON Lines, or a file holding one JSON list of records.
    prompt_column, response_a_column, response_b_column, label_column : str
        Column names of the labelled layout.
    chosen_column, rejected_column : str
        Column names of the chosen/rejected layout.
    group_column : str or None, default=None
        Column holding group ids (e.g. post id: text or integers); None groups rows by a
        hash of the prompt.
    label_map : dict or None, default=None
        Which values of the label column mean response_a preferred (``"a"``), response_b
        preferred (``"b"``) and a tie (``"tie"``, optional), each one value or a list:
        e.g. ``{"a": 0, "b": 1, "tie": 2}`` for a judge file whose label 2 is a tie.
        Numbers match by value (``1``, ``1.0`` and ``"1"`` are one label), text stripped
        and case-insensitively. None: ``{"a": 0, "b": 1, "tie": [0.5, "tie"]}``. Only
        for the labelled layout.
    random_state : int, RandomState instance or None, default=0
        Seed of the a/b assignment of the chosen/rejected layout.

    Returns
    -------
    data : Bunch
        ``X`` object array (n, 3); ``y`` int array; ``groups`` object array;
        ``n_records``, ``n_skipped``, ``skipped`` (reason -> count), ``n_ties``,
        ``source``, ``DESCR``.

    Raises
    ------
    MalformedRecordError
        A file is not valid JSON / CSV / Parquet / UTF-8, or a record lacks a column,
        holds non-text, or has a label the label map does not know (the message names
        the file and line / row). It is a ValueError.
    ValueError
        A bad parameter (format, label map), or no usable pair in the files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "pairs.csv"
    >>> _ = tmp.write_text("prompt,response_a,response_b,label\\nHi?,Hello,Go away,0\\n")
    >>> load_preference_file(tmp).y.tolist()
    [0]

    A judge file whose columns are ``prompt, response 1, response 2, label`` with 2 for
    a tie:

    >>> _ = tmp.write_text("prompt,response 1,response 2,label\\n"
    ...                    "Hi?,Hello,Go away,0\\nBye?,Bye!,No,2\\n")
    >>> data = load_preference_file(tmp, response_a_column="response 1",
    ...                             response_b_column="response 2",
    ...                             label_map={"a": 0, "b": 1, "tie": 2})
    >>> data.y.tolist(), data.n_ties
    ([0], 1)
    """
    if format not in FILE_FORMATS:
        raise ValueError(f"format must be one of {FILE_FORMATS}, got {format!r}.")
    check_label_map(label_map)  # a bad map fails before any file is read
    paths = as_paths(path)
    records = (
        pr
        for file in paths
        for pr in _iter_table(file, _detect_format(file) if format == "auto" else format)
    )
    return preferences_from_records(
        records,
        sources=paths,
        columns=dict(
            prompt=prompt_column,
            response_a=response_a_column,
            response_b=response_b_column,
            label=label_column,
            chosen=chosen_column,
            rejected=rejected_column,
            group=group_column,
        ),
        label_map=label_map,
        random_state=random_state,
    )


def preferences_from_records(records, *, sources, columns, random_state, label_map=None):
    """Parse ``(position, record dict)`` rows into a Bunch (see :func:`load_preference_file`)."""
    meanings, description = check_label_map(label_map), describe_label_map(label_map)
    collector = TripleCollector()
    layout = None
    rows_chosen_first = []  # chosen/rejected layout: rows to randomise after reading
    for position, record in records:
        collector.n_records += 1
        if not isinstance(record, dict):
            raise MalformedRecordError(
                f"{position}: expected an object / row, got {type(record).__name__}."
            )
        if layout is None:
            layout = _layout(record, columns, position, label_map)
        prompt = _text(record, columns["prompt"], position)
        group = stable_id(prompt) if columns["group"] is None else _group(record, columns, position)
        if layout == "labelled":
            response_a = _text(record, columns["response_a"], position)
            response_b = _text(record, columns["response_b"], position)
            if columns["label"] not in record:
                raise MalformedRecordError(
                    f"{position}: missing column {columns['label']!r} (columns present: "
                    f"{sorted(record)})."
                )
            label = read_label(record[columns["label"]], meanings, position, description)
        else:
            response_a = _text(record, columns["chosen"], position)
            response_b = _text(record, columns["rejected"], position)
            label = 0
        if label is None:
            collector.skip("tie")
        elif same_response(response_a, response_b):
            collector.skip("identical_responses")
        else:
            if layout == "chosen/rejected":
                rows_chosen_first.append(len(collector.triples))
            collector.add(prompt, response_a, response_b, label, group)

    if rows_chosen_first:
        swap = positions_to_swap(len(rows_chosen_first), random_state)
        for i in np.asarray(rows_chosen_first)[swap]:
            prompt, good, bad = collector.triples[i]
            collector.triples[i] = (prompt, bad, good)
            collector.labels[i] = 1
    return collector.to_bunch(
        sources=sources, with_groups=True, descr=f"Preference pairs ({layout} layout)."
    )
