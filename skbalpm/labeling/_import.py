"""Answers back into the labeled file: from Label Studio, Argilla, a batch labeled by hand,
or the pool's own labels (a replay of known labels, to try the loop on labelled data).

Every answer is checked against the pair it claims (its ``pair_id`` must be the id of its
texts), and becomes a judgment in the labeled file: a label, a tie or a skip, counted
apart. An answer already imported (the same annotation) is not added twice; pairs with no
answer yet stay pending; answers that cannot be read are reported, never dropped quietly.
"""

from __future__ import annotations

from sklearn.utils import Bunch

from skbalpm._raw import RAW_COLUMNS
from skbalpm.labeling._labels import append_judgments, count_judgments, judgment_record
from skbalpm.labeling._pairs import pair_id

ANNOTATION_FORMATS = ("auto", "label-studio", "argilla", "skbalpm")
"""Files :func:`import_annotations` reads: Label Studio's JSON export, exported Argilla
records, or a batch file of ``skbalpm select`` whose ``label`` fields were filled in."""


def checked_triple(data, position, what):
    """The (prompt, response_a, response_b) of an exported record, checked against its id.

    Parameters
    ----------
    data : dict or None
        The record's texts and ``pair_id``.
    position : str
        Where the record is, for the error message.
    what : str
        Which part of the record ``data`` is (``"data"``, ``"fields"``), for the message.

    Returns
    -------
    triple : tuple of str
    pair_id : str

    Raises
    ------
    MalformedRecordError
        Missing or non-text fields, or a ``pair_id`` that is not the texts' id.

    Examples
    --------
    >>> data = {"prompt": "Hi?", "response_a": "Hello!", "response_b": "Go away."}
    >>> data["pair_id"] = pair_id(*data.values())
    >>> checked_triple(data, "x", "data")[0]
    ('Hi?', 'Hello!', 'Go away.')
    """
    from skbalpm.datasets import MalformedRecordError
    from skbalpm.datasets._common import require_fields

    if not isinstance(data, dict):
        raise MalformedRecordError(
            f"{position}: expected a record with {what!r} holding the pair; was this file "
            "exported from tasks or records that skbalpm export wrote?"
        )
    triple = tuple(require_fields(data, f"{position}, {what}", RAW_COLUMNS))
    expected = pair_id(*triple)
    if data.get("pair_id") != expected:
        raise MalformedRecordError(
            f"{position}: pair id {data.get('pair_id')!r:.40} is not the id of the record's "
            f"texts ({expected!r}): the texts were changed after export, or the record does "
            "not come from skbalpm export."
        )
    return triple, expected


def read_annotation_file(path):
    """The records of an annotation file: a JSON list (Label Studio, Argilla) or JSON Lines.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    records : list of (str, object)
        ``(position, record)`` per record (``"FILE, record N"`` or ``"FILE, line N"``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "export.json"
    >>> _ = path.write_text('[{"id": 1}, {"id": 2}]')
    >>> [position.split(", ")[1] for position, _ in read_annotation_file(path)]
    ['record 0', 'record 1']
    """
    from skbalpm.datasets._common import as_paths, holds_json_list, iter_json_list, iter_jsonl

    (path,) = as_paths(path)
    reader = iter_json_list if holds_json_list(path) else iter_jsonl
    return list(reader(path))


def detect_annotation_format(records, path):
    """Which tool wrote an annotation file, from its first record.

    Parameters
    ----------
    records : list of (str, object)
        From :func:`read_annotation_file`.
    path : str or Path
        The file, for the error message.

    Returns
    -------
    format : {"label-studio", "argilla", "skbalpm"}

    Raises
    ------
    ValueError
        An empty file or one of none of these forms.

    Examples
    --------
    >>> detect_annotation_format([("x", {"data": {}, "annotations": []})], "x")
    'label-studio'
    """
    if not records:
        raise ValueError(f"{path}: holds no records.")
    first = records[0][1]
    if isinstance(first, dict):
        if "data" in first and ("annotations" in first or "id" in first):
            return "label-studio"
        if "id" in first and ("fields" in first or "_server_id" in first):
            return "argilla"  # Argilla's nested or flat form
        if "pair_id" in first and "label" in first:
            return "skbalpm"
    raise ValueError(
        f"{path}: cannot tell which tool wrote it (expected Label Studio's JSON export, "
        "exported Argilla records, or a batch file with its 'label' fields filled in); "
        "pass the format."
    )


def _read_hand_labels(records):
    """Judgments of a batch file whose ``label`` fields were filled in (null: no answer)."""
    from skbalpm.labeling._labels import parse_judgment

    judgments, unanswered = [], []
    for position, record in records:
        triple, pid = checked_triple(record, position, "the record")
        value = record.get("label")
        if value is None or (isinstance(value, str) and not value.strip()):
            unanswered.append(pid)
            continue
        judgments.append(
            judgment_record(
                triple,
                parse_judgment(value, position),
                source="skbalpm",
                annotation_id=f"skbalpm:{pid}",
                annotator=record.get("annotator"),
            )
        )
    return Bunch(judgments=judgments, unanswered=unanswered, problems=[])


def import_annotations(path, labeled_path, *, format="auto"):
    """Import a labeling tool's answers into the labeled file.

    Parameters
    ----------
    path : str or Path
        Label Studio's JSON export, exported Argilla records (JSON list or JSON Lines),
        or a batch file of ``skbalpm select`` with its ``label`` fields filled in
        (0, 1, ``"tie"`` or ``"skip"``; null for no answer yet).
    labeled_path : str or Path
        The labeled file (created when missing); rewritten atomically.
    format : {"auto", "label-studio", "argilla", "skbalpm"}, default="auto"
        Which tool wrote ``path``; ``"auto"`` reads the first record.

    Returns
    -------
    result : Bunch
        ``format``; ``counts`` (``labels``, ``ties``, ``skips`` added); ``n_already``
        (answers imported before); ``unanswered`` (pair ids with no answer yet: still
        pending); ``problems`` (answers that could not be read, named: their pairs stay
        pending).

    Raises
    ------
    MalformedRecordError
        A record whose texts do not match its pair id, or without the exported fields.
    ValueError
        An unknown format.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> batch = [{"pair_id": pair_id("Hi?", "Hello!", "Go away."), "prompt": "Hi?",
    ...           "response_a": "Hello!", "response_b": "Go away.", "label": "tie"}]
    >>> _ = (folder / "batch.jsonl").write_text(json.dumps(batch[0]) + "\\n")
    >>> result = import_annotations(folder / "batch.jsonl", folder / "labels.jsonl")
    >>> result.format, result.counts
    ('skbalpm', {'labels': 0, 'ties': 1, 'skips': 0})
    """
    from skbalpm.labeling._argilla import read_argilla_export
    from skbalpm.labeling._label_studio import read_label_studio_export

    if format not in ANNOTATION_FORMATS:
        raise ValueError(f"format must be one of {ANNOTATION_FORMATS}, got {format!r}.")
    records = read_annotation_file(path)
    if format == "auto":
        format = detect_annotation_format(records, path)
    readers = {
        "label-studio": read_label_studio_export,
        "argilla": read_argilla_export,
        "skbalpm": _read_hand_labels,
    }
    found = readers[format](records)
    return _merge(found, labeled_path, format)


def _merge(found, labeled_path, format):
    """Add what was found to the labeled file; the import's result."""
    added = append_judgments(labeled_path, found.judgments)
    return Bunch(
        format=format,
        counts=count_judgments([record["label"] for record in added.added]),
        n_already=added.n_already,
        unanswered=found.unanswered,
        problems=found.problems,
    )


def replay_pool_labels(batch_path, pool, labeled_path):
    """Answer a batch with the labels the pool file already holds (a dry run of the loop).

    For trying the loop, or checking it, on labelled data such as the bundled samples:
    every pair of the batch gets the label its pool file gives it, in the batch's order.

    Parameters
    ----------
    batch_path : str or Path
        A batch file of ``skbalpm select``.
    pool : Bunch
        The pool it was picked from, with its labels (:func:`read_pool` of a labelled
        file).
    labeled_path : str or Path
        The labeled file (created when missing).

    Returns
    -------
    result : Bunch
        As :func:`import_annotations` returns, ``format`` ``"pool"``.

    Raises
    ------
    ValueError
        The pool holds no labels, or a pair of the batch is not in it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skbalpm.labeling import read_pool, write_jsonl
    >>> pool = read_pool("sample:hh-rlhf")
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> batch = [dict(zip(("prompt", "response_a", "response_b"), pool.X[0]),
    ...               pair_id=pool.pair_ids[0])]
    >>> _ = write_jsonl(folder / "batch.jsonl", batch)
    >>> result = replay_pool_labels(folder / "batch.jsonl", pool, folder / "labels.jsonl")
    >>> result.counts["labels"]
    1
    """
    if pool.y is None:
        raise ValueError("The pool holds no labels to replay: it is an unlabelled table.")
    position_of = {pid: i for i, pid in enumerate(pool.pair_ids)}
    judgments = []
    for position, record in read_annotation_file(batch_path):
        triple, pid = checked_triple(record, position, "the record")
        if pid not in position_of:
            raise ValueError(f"{position}: pair {pid} is not in the pool.")
        i = position_of[pid]
        label = int(pool.y[i])
        if pool.X[i][1] != triple[1]:  # shown the other way round
            label = 1 - label
        judgments.append(judgment_record(triple, label, source="pool", annotation_id=f"pool:{pid}"))
    found = Bunch(judgments=judgments, unanswered=[], problems=[])
    return _merge(found, labeled_path, "pool")
