"""Label Studio: a batch as pairwise-comparison tasks, and its JSON export read back.

The tasks use Label Studio's ``Pairwise`` control (the two responses side by side;
clicking one selects it) and a ``Choices`` control for a tie; the prompt is shown above.
Label Studio's JSON export lists every task with its ``data`` and ``annotations``; each
annotation has a ``result`` list (a ``pairwise`` result whose ``value.selected`` is
``"left"`` or ``"right"``, and/or a ``choices`` result) and ``was_cancelled`` (true when
the annotator skipped the task).
"""

from __future__ import annotations

from skbalpm.labeling._labels import judgment_record

LABEL_STUDIO_CONFIG = """\
<View>
  <Header value="Which response is better? Click it (or mark a tie)."/>
  <Text name="prompt" value="$prompt"/>
  <Pairwise name="preference" toName="response_a,response_b"/>
  <View style="display: flex; gap: 1em;">
    <View style="flex: 1;"><Text name="response_a" value="$response_a"/></View>
    <View style="flex: 1;"><Text name="response_b" value="$response_b"/></View>
  </View>
  <Choices name="tie" toName="prompt" choice="single" showInline="true">
    <Choice value="Tie"/>
  </Choices>
</View>
"""
"""The labeling interface of the exported tasks (paste it under Settings > Labeling
Interface > Code): left is ``response_a``, right ``response_b``, a ``Tie`` choice."""

TIE_CHOICE = "Tie"
"""The value of the tie choice in :data:`LABEL_STUDIO_CONFIG`."""


def label_studio_tasks(batch):
    """Label Studio tasks (its JSON import format) of a batch of pairs.

    Parameters
    ----------
    batch : list of dict
        Records with ``pair_id``, ``prompt``, ``response_a``, ``response_b`` (a batch
        file of ``skbalpm select``).

    Returns
    -------
    tasks : list of dict
        ``{"data": {"pair_id", "prompt", "response_a", "response_b"}}`` per pair, in
        the batch's order; write them as one JSON list and import it into a project
        whose labeling interface is :data:`LABEL_STUDIO_CONFIG`.

    Examples
    --------
    >>> batch = [{"pair_id": "x1", "prompt": "Hi?", "response_a": "Hello!",
    ...           "response_b": "Go away.", "score": 0.3}]
    >>> label_studio_tasks(batch)[0]["data"]["response_b"]
    'Go away.'
    """
    keys = ("pair_id", "prompt", "response_a", "response_b")
    return [{"data": {key: record[key] for key in keys}} for record in batch]


def _answer(results, position):
    """The judgment of one annotation's results: 0, 1, "tie", or None with a problem."""
    sides, tie = set(), False
    for result in results:
        if not isinstance(result, dict):
            continue
        value = result.get("value") or {}
        if result.get("type") == "pairwise":
            sides.add(value.get("selected"))
        elif result.get("type") == "choices":
            choices = value.get("choices") or []
            tie = tie or any(str(c).strip().lower() == TIE_CHOICE.lower() for c in choices)
    sides.discard("none")
    if tie and sides:
        return None, f"{position}: both a side and a tie selected"
    if tie:
        return "tie", None
    if sides == {"left"}:
        return 0, None
    if sides == {"right"}:
        return 1, None
    if not sides:
        return None, f"{position}: no side and no tie selected"
    return None, f"{position}: unreadable selection {sorted(map(str, sides))}"


def read_label_studio_export(records):
    """The judgments in Label Studio's JSON export of tasks made by :func:`label_studio_tasks`.

    Parameters
    ----------
    records : list of (str, object)
        ``(position, task)`` pairs of the export file (see :func:`read_annotation_file`).

    Returns
    -------
    result : Bunch
        ``judgments`` (labeled-file records: a side, a tie, or a skip for a cancelled
        annotation), ``unanswered`` (pair ids of tasks with no annotation: still
        pending) and ``problems`` (annotations that could not be read, each named; their
        pairs stay pending).

    Raises
    ------
    MalformedRecordError
        A task without the exported ``data`` fields, or whose ``pair_id`` is not its
        texts'.

    Examples
    --------
    >>> from skbalpm.labeling import pair_id
    >>> task = {"id": 7, "data": {"pair_id": "0", "prompt": "Hi?", "response_a": "Hello!",
    ...                           "response_b": "Go away."},
    ...         "annotations": [{"id": 70, "was_cancelled": False, "completed_by": 1,
    ...                          "result": [{"type": "pairwise", "from_name": "preference",
    ...                                      "to_name": "response_a,response_b",
    ...                                      "value": {"selected": "right"}}]}]}
    >>> task["data"]["pair_id"] = pair_id("Hi?", "Hello!", "Go away.")
    >>> read_label_studio_export([("export.json, record 0", task)]).judgments[0]["label"]
    1
    """
    from sklearn.utils import Bunch

    from skbalpm.labeling._import import checked_triple

    judgments, unanswered, problems = [], [], []
    for position, task in records:
        data = task.get("data") if isinstance(task, dict) else None
        triple, pid = checked_triple(data, position, "data")
        annotations = task.get("annotations") or []
        if not annotations:
            unanswered.append(pid)
        for k, annotation in enumerate(annotations):
            where = f"{position}, annotation {annotation.get('id', k)}"
            if annotation.get("was_cancelled"):
                label = "skip"
            else:
                label, problem = _answer(annotation.get("result") or [], where)
                if problem:
                    problems.append(problem)
                    continue
            judgments.append(
                judgment_record(
                    triple,
                    label,
                    source="label-studio",
                    annotation_id=_annotation_id(task, annotation, k),
                    annotator=_annotator(annotation.get("completed_by")),
                )
            )
    return Bunch(judgments=judgments, unanswered=unanswered, problems=problems)


def _annotation_id(task, annotation, k):
    if annotation.get("id") is not None:
        return f"label-studio:{annotation['id']}"
    return f"label-studio:task-{task.get('id')}:{k}"


def _annotator(completed_by):
    if isinstance(completed_by, dict):  # some exports expand the user
        return completed_by.get("email") or completed_by.get("id")
    return completed_by
