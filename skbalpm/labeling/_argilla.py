"""Argilla (2.x): a batch as records, and exported records with their responses read back.

The records follow Argilla's dictionary form (``rg.Record.to_dict()`` /
``rg.Record.from_dict()``): ``id``, ``fields``, ``metadata``, ``suggestions``,
``responses``, ``vectors``. The dataset has three text fields (prompt, response_a,
response_b) and one label question, ``preference``, whose labels are ``a``, ``b`` and
``tie`` (:data:`ARGILLA_SETTINGS`).

Exported records come in Argilla's two list forms:

* flat, ``dataset.records(with_responses=True).to_list(flatten=True)`` written with
  ``json.dump``: the fields at the top level and, per question, ``preference.responses``,
  ``preference.responses.users`` and ``preference.responses.status``. The status is kept:
  a ``discarded`` response is a skip, a ``draft`` one not an answer yet. Prefer this form.
* nested, ``dataset.records(with_responses=True).to_json(path)`` (or ``to_list()``):
  ``fields`` and ``responses`` as ``{"preference": [{"value": ..., "user_id": ...}]}``.
  Argilla leaves the status out of this form, so every response in it counts as given
  (a ``status`` key, where present, is read).
"""

from __future__ import annotations

from itertools import zip_longest

from skbalpm._raw import RAW_COLUMNS
from skbalpm.labeling._labels import judgment_record

QUESTION = "preference"
"""Name of the label question of the Argilla dataset."""

ARGILLA_LABELS = {"a": "Response A is better", "b": "Response B is better", "tie": "Tie"}
"""The question's labels (value -> text shown); the values map to 0, 1 and a tie."""

ARGILLA_SETTINGS = {
    "guidelines": "Read the prompt, then say which response is better (or that they tie).",
    "fields": [
        {"name": "prompt", "type": "text"},
        {"name": "response_a", "type": "text"},
        {"name": "response_b", "type": "text"},
    ],
    "questions": [
        {"name": QUESTION, "type": "label_selection", "labels": ARGILLA_LABELS},
    ],
}
"""The dataset settings the records need, as ``rg.Settings(fields=[rg.TextField(...)],
questions=[rg.LabelQuestion(name="preference", labels=ARGILLA_LABELS)])`` builds them."""

_VALUES = {"a": 0, "b": 1, "tie": "tie"}


def argilla_records(batch):
    """Argilla records (dictionary form) of a batch of pairs.

    Parameters
    ----------
    batch : list of dict
        Records with ``pair_id``, ``prompt``, ``response_a``, ``response_b`` (a batch
        file of ``skbalpm select``).

    Returns
    -------
    records : list of dict
        One per pair, in the batch's order, its ``id`` the pair id; log them with
        ``dataset.records.log([rg.Record.from_dict(r) for r in records])``.

    Examples
    --------
    >>> batch = [{"pair_id": "x1", "prompt": "Hi?", "response_a": "Hello!",
    ...           "response_b": "Go away.", "round": 2}]
    >>> record = argilla_records(batch)[0]
    >>> record["id"], sorted(record["fields"])
    ('x1', ['prompt', 'response_a', 'response_b'])
    """
    return [
        {
            "id": record["pair_id"],
            "fields": {key: record[key] for key in ("prompt", "response_a", "response_b")},
            "metadata": {},
            "suggestions": {},
            "responses": {},
            "vectors": {},
        }
        for record in batch
    ]


def _pair_and_responses(record):
    """The record's texts (with its id as ``pair_id``) and its responses to the question,
    from either export form."""
    if not isinstance(record, dict):
        return None, []
    if "fields" in record:  # nested form
        fields = dict(record.get("fields") or {})
        responses = list((record.get("responses") or {}).get(QUESTION) or [])
    else:  # flat form
        fields = {key: record[key] for key in RAW_COLUMNS if key in record}
        key = f"{QUESTION}.responses"
        responses = [
            {"value": value, "user_id": user, "status": status}
            for value, user, status in zip_longest(
                record.get(key) or [],
                record.get(f"{key}.users") or [],
                record.get(f"{key}.status") or [],
            )
        ]
    fields["pair_id"] = record.get("id")
    return fields, responses


def read_argilla_export(records):
    """The judgments in exported Argilla records made by :func:`argilla_records`.

    Parameters
    ----------
    records : list of (str, object)
        ``(position, record)`` pairs of the export file, flat or nested (see
        :func:`read_annotation_file`).

    Returns
    -------
    result : Bunch
        ``judgments`` (labeled-file records: ``a`` -> 0, ``b`` -> 1, ``tie``, and a
        skip for a discarded response), ``unanswered`` (pair ids of records with no
        submitted or discarded response: still pending) and ``problems`` (responses
        that could not be read, each named; their pairs stay pending).

    Raises
    ------
    MalformedRecordError
        A record without the exported fields, or whose ``id`` is not its texts' pair id.

    Examples
    --------
    >>> from skbalpm.labeling import pair_id
    >>> flat = {"id": pair_id("Hi?", "Hello!", "Go away."), "prompt": "Hi?",
    ...         "response_a": "Hello!", "response_b": "Go away.",
    ...         "preference.responses": ["tie", "b"],
    ...         "preference.responses.users": ["u1", "u2"],
    ...         "preference.responses.status": ["submitted", "draft"]}
    >>> found = read_argilla_export([("records.json, record 0", flat)])
    >>> [j["label"] for j in found.judgments]  # the draft is no answer yet
    ['tie']
    """
    from sklearn.utils import Bunch

    from skbalpm.labeling._import import checked_triple

    judgments, unanswered, problems = [], [], []
    for position, record in records:
        fields, responses = _pair_and_responses(record)
        triple, pid = checked_triple(fields, position, "fields")
        answered = False
        for k, response in enumerate(responses):
            where = f"{position}, response {k}"
            if not isinstance(response, dict):
                problems.append(f"{where}: not a response ({response!r:.40})")
                continue
            status = response.get("status") or "submitted"
            if status == "draft":
                continue
            if status == "discarded":
                label = "skip"
            else:
                value = response.get("value")
                label = _VALUES.get(str(value).strip().lower()) if value is not None else None
                if label is None:
                    problems.append(f"{where}: unknown answer {value!r:.40}")
                    continue
            answered = True
            user = response.get("user_id")
            judgments.append(
                judgment_record(
                    triple,
                    label,
                    source="argilla",
                    annotation_id=f"argilla:{pid}:{user if user is not None else k}",
                    annotator=user,
                )
            )
        if not answered:
            unanswered.append(pid)
    return Bunch(judgments=judgments, unanswered=unanswered, problems=problems)
