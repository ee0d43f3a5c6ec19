"""The labeled file: every judgment returned so far, one JSON object a line.

A judgment record holds the pair's texts, its ``pair_id`` and ``label``: 0 (response_a
preferred), 1 (response_b preferred), ``"tie"`` or ``"skip"`` (the labeler passed). Ties
and skips are kept, and counted apart, but do not train the reward model. Records from a
labeling tool also say where they came from (``source``, ``annotation_id``,
``annotator``), so that importing the same export twice adds nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from skbalpm._raw import RAW_COLUMNS
from skbalpm.labeling._pairs import jsonl_text, pair_id, read_jsonl, write_text

JUDGMENTS = (0, 1, "tie", "skip")
"""What a labeler can answer: 0 = response_a preferred, 1 = response_b, a tie, a skip."""

_LABEL_WORDS = {"a": 0, "b": 1, "tie": "tie", "skip": "skip"}


def parse_judgment(value, position):
    """A judgment as read from a file: 0, 1, ``"tie"`` or ``"skip"``.

    Parameters
    ----------
    value : object
        0 / 1 (also ``"0"``, ``1.0``, ``"a"``, ``"b"``), ``"tie"`` (or 0.5) or ``"skip"``.
    position : str
        Where the record is, for the error message.

    Returns
    -------
    judgment : {0, 1, "tie", "skip"}

    Raises
    ------
    MalformedRecordError
        Any other value, named with its position.

    Examples
    --------
    >>> [parse_judgment(v, "x") for v in (0, "1", 0.5, "b", "Skip")]
    [0, 1, 'tie', 1, 'skip']
    """
    from skbalpm.datasets import MalformedRecordError
    from skbalpm.datasets._labels import label_token

    token = label_token(value)
    if token == ("number", 0):
        return 0
    if token == ("number", 1):
        return 1
    if token == ("number", 0.5):
        return "tie"
    if token is not None and token[0] == "text" and token[1] in _LABEL_WORDS:
        return _LABEL_WORDS[token[1]]
    raise MalformedRecordError(
        f"{position}: label {value!r:.60} is not a judgment: expected 0 (response_a "
        "preferred), 1 (response_b preferred), 'tie' or 'skip'."
    )


def judgment_record(triple, label, *, source, annotation_id=None, annotator=None):
    """The labeled file's record of one judgment.

    Parameters
    ----------
    triple : sequence of str
        (prompt, response_a, response_b), in the orientation the labeler saw.
    label : {0, 1, "tie", "skip"}
        The judgment.
    source : str
        Where it came from (``"label-studio"``, ``"argilla"``, ``"skbalpm"``, ...).
    annotation_id : str or None, default=None
        The tool's id of the annotation (importing it again adds nothing).
    annotator : str or None, default=None
        Who answered, as the tool names them.

    Returns
    -------
    record : dict

    Examples
    --------
    >>> record = judgment_record(("Hi?", "Hello!", "Go away."), 0, source="hand")
    >>> record["label"], record["pair_id"] == pair_id("Hi?", "Hello!", "Go away.")
    (0, True)
    """
    if label not in JUDGMENTS or isinstance(label, bool):
        raise ValueError(f"label must be one of {JUDGMENTS}, got {label!r}.")
    prompt, response_a, response_b = triple
    record = {
        "pair_id": pair_id(prompt, response_a, response_b),
        "prompt": prompt,
        "response_a": response_a,
        "response_b": response_b,
        "label": label,
        "source": source,
    }
    if annotation_id is not None:
        record["annotation_id"] = str(annotation_id)
    if annotator is not None:
        record["annotator"] = str(annotator)
    return record


def read_labels(path):
    """Read the labeled file: every judgment so far, in the order they were added.

    A missing file holds no judgment (the first round of a labeling loop). Records need
    ``prompt``, ``response_a``, ``response_b`` and ``label``; a ``pair_id``, when
    present, must be the id of its texts (a record edited by hand would otherwise be
    matched to the wrong pair).

    Parameters
    ----------
    path : str or Path
        The JSON Lines file.

    Returns
    -------
    labels : Bunch
        ``X`` (object array (n, 3)), ``pair_ids`` (object array (n,)), ``label``
        (object array (n,) of 0, 1, ``"tie"``, ``"skip"``), ``annotation_ids`` (list,
        None where the record has none), ``records`` (the records as read) and
        ``path``.

    Raises
    ------
    MalformedRecordError
        A record with a missing or non-text field, an unknown label or a pair id that
        is not its texts', named with its file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl"
    >>> read_labels(path).label.tolist()  # no file yet: no judgment
    []
    >>> _ = path.write_text('{"prompt": "Hi?", "response_a": "Hello!", '
    ...                     '"response_b": "Go away.", "label": 0}\\n')
    >>> read_labels(path).label.tolist()
    [0]
    """
    from skbalpm.datasets import MalformedRecordError
    from skbalpm.datasets._common import require_fields

    path = Path(path)
    records = read_jsonl(path) if path.exists() else []
    triples, ids, labels, annotation_ids = [], [], [], []
    for position, record in records:
        triple = require_fields(record, position, RAW_COLUMNS)
        if "label" not in record:
            raise MalformedRecordError(
                f"{position}: missing field 'label' (fields present: {sorted(record)})."
            )
        labels.append(parse_judgment(record["label"], position))
        ids.append(pair_id(*triple))
        if "pair_id" in record and record["pair_id"] != ids[-1]:
            raise MalformedRecordError(
                f"{position}: pair_id {record['pair_id']!r:.40} is not the id of the "
                f"record's texts ({ids[-1]!r}); were the texts edited? Remove the pair_id "
                "field to take the texts as they are."
            )
        triples.append(triple)
        annotation_ids.append(record.get("annotation_id"))
    X = np.empty((len(triples), 3), dtype=object)
    X[:] = triples if triples else np.empty((0, 3), dtype=object)
    return Bunch(
        X=X,
        pair_ids=np.array(ids, dtype=object),
        label=np.array(labels, dtype=object),
        annotation_ids=annotation_ids,
        records=[record for _, record in records],
        path=path,
    )


def trainable(labels):
    """Which judgments train the reward model (0 or 1; not ties, not skips).

    Parameters
    ----------
    labels : array-like of judgments
        0, 1, ``"tie"`` or ``"skip"`` each.

    Returns
    -------
    mask : ndarray of bool

    Examples
    --------
    >>> trainable([0, "tie", 1, "skip"]).tolist()
    [True, False, True, False]
    """
    return np.array([not isinstance(v, str) for v in labels], dtype=bool)


def count_judgments(labels):
    """How many labels, ties and skips.

    Parameters
    ----------
    labels : array-like of judgments
        0, 1, ``"tie"`` or ``"skip"`` each.

    Returns
    -------
    counts : dict
        ``{"labels": ..., "ties": ..., "skips": ...}``.

    Examples
    --------
    >>> count_judgments([0, "tie", 1, "skip", 1])
    {'labels': 3, 'ties': 1, 'skips': 1}
    """
    labels = list(labels)
    return {
        "labels": int(trainable(labels).sum()),
        "ties": sum(1 for v in labels if v == "tie"),
        "skips": sum(1 for v in labels if v == "skip"),
    }


def append_judgments(path, records):
    """Add judgments to the labeled file; those already in it (same annotation) are left out.

    The file is rewritten atomically (old records first, unchanged), so a crash leaves
    either the old file or the new one.

    Parameters
    ----------
    path : str or Path
        The labeled file (created when missing).
    records : list of dict
        Records from :func:`judgment_record`.

    Returns
    -------
    result : Bunch
        ``added`` (the records added), ``n_added`` and ``n_already`` (records whose
        ``annotation_id`` the file holds, left out).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.jsonl"
    >>> record = judgment_record(("Hi?", "Hello!", "Go away."), 1, source="x",
    ...                          annotation_id="7")
    >>> append_judgments(path, [record]).n_added, append_judgments(path, [record]).n_added
    (1, 0)
    """
    path = Path(path)
    existing = read_labels(path)  # also checks the file before anything is added
    known = {a for a in existing.annotation_ids if a is not None}
    new = []
    for record in records:
        annotation = record.get("annotation_id")
        if annotation is not None and annotation in known:
            continue
        known.add(annotation)
        new.append(record)
    if new:
        old_text = path.read_text(encoding="utf-8") if path.exists() else ""
        if old_text and not old_text.endswith("\n"):
            old_text += "\n"
        write_text(path, old_text + jsonl_text(new))
    return Bunch(added=new, n_added=len(new), n_already=len(records) - len(new))
