"""Round trips with labeling tools: a batch out as Label Studio tasks or Argilla records, the
tools' exports back into the labeled file. The exports are written here in each tool's
documented format (Label Studio's JSON export; Argilla's record dictionaries, produced by
the Argilla SDK's own code where it is installed); no server is needed."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from skbalpm.cli import main
from skbalpm.datasets import MalformedRecordError
from skbalpm.labeling import (
    ARGILLA_SETTINGS,
    LABEL_STUDIO_CONFIG,
    argilla_records,
    import_annotations,
    label_studio_tasks,
    pair_id,
    read_labels,
    write_jsonl,
)
from skbalpm.labeling._pairs import read_jsonl


def _batch(n=6):
    rows = []
    for i in range(n):
        triple = (f"Prompt {i}?", f"Answer A{i}.", f"Answer B{i}.")
        rows.append(
            dict(zip(("prompt", "response_a", "response_b"), triple, strict=True))
            | {"pair_id": pair_id(*triple), "rank": i + 1, "score": 0.1, "label": None}
        )
    return rows


@pytest.fixture
def batch_file(tmp_path):
    return write_jsonl(tmp_path / "batch.jsonl", _batch())


# -- Label Studio ------------------------------------------------------------------------


def test_label_studio_tasks_fit_the_labeling_interface(batch_file, capsys):
    out = batch_file.parent / "ls" / "tasks.json"
    assert main(["export", str(batch_file), "--to", "label-studio", "--out", str(out)]) == 0
    tasks = json.loads(out.read_text())
    assert [t["data"]["pair_id"] for t in tasks] == [r["pair_id"] for r in _batch()]
    config = ET.fromstring((out.parent / "tasks.label_config.xml").read_text())
    assert (out.parent / "tasks.label_config.xml").read_text() == LABEL_STUDIO_CONFIG
    texts = {tag.get("name"): tag.get("value") for tag in config.iter("Text")}
    assert {value[1:] for value in texts.values()} <= set(tasks[0]["data"])  # $prompt ...
    pairwise = next(config.iter("Pairwise"))
    assert pairwise.get("toName") == "response_a,response_b"  # left = a, right = b
    tie = next(config.iter("Choices"))
    assert tie.get("toName") in texts and [c.get("value") for c in tie.iter("Choice")] == ["Tie"]
    assert "6 label-studio tasks" in capsys.readouterr().out


def _ls_annotation(annotation_id, results, cancelled=False, user=1):
    return {
        "id": annotation_id,
        "completed_by": user,
        "was_cancelled": cancelled,
        "ground_truth": False,
        "lead_time": 3.2,
        "result": results,
    }


def _pairwise(side):
    return {
        "id": uuid.uuid4().hex[:10],
        "from_name": "preference",
        "to_name": "response_a,response_b",
        "type": "pairwise",
        "value": {"selected": side},
    }


def _tie():
    return {
        "id": uuid.uuid4().hex[:10],
        "from_name": "tie",
        "to_name": "prompt",
        "type": "choices",
        "value": {"choices": ["Tie"]},
    }


def _label_studio_export(tasks):
    """What Label Studio's JSON export holds after the annotators' work on ``tasks``."""
    answers = [
        [
            _ls_annotation(101, [_pairwise("left")]),
            _ls_annotation(102, [_pairwise("right")], user=2),
        ],
        [_ls_annotation(103, [_pairwise("right")])],
        [_ls_annotation(104, [_tie()])],
        [_ls_annotation(105, [], cancelled=True)],  # skipped
        [],  # nobody answered yet
        [_ls_annotation(106, [_pairwise("left"), _tie()])],  # both: unreadable
    ]
    return [
        {
            "id": 7000 + k,
            "data": task["data"],
            "annotations": annotations,
            "predictions": [],
            "project": 3,
            "created_at": "2026-01-01T10:00:00.000000Z",
        }
        for k, (task, annotations) in enumerate(zip(tasks, answers, strict=True))
    ]


def test_label_studio_answers_come_back_with_ties_and_skips_apart(batch_file, capsys):
    export = batch_file.parent / "export.json"
    export.write_text(json.dumps(_label_studio_export(label_studio_tasks(_batch()))))
    labeled = batch_file.parent / "labels.jsonl"
    assert main(["import", str(export), "--labeled", str(labeled)]) == 0
    out = capsys.readouterr().out
    assert "added 3 labels, 1 ties, 1 skips from label-studio (0 imported before)" in out
    assert "1 pairs have no answer yet: they stay pending" in out
    assert "annotation 106: both a side and a tie selected" in out
    labels = read_labels(labeled)
    ids = [r["pair_id"] for r in _batch()]
    assert labels.pair_ids.tolist() == [ids[0], ids[0], ids[1], ids[2], ids[3]]
    assert labels.label.tolist() == [0, 1, 1, "tie", "skip"]  # left = response_a
    assert [r["annotator"] for r in labels.records[:2]] == ["1", "2"]

    assert main(["import", str(export), "--labeled", str(labeled)]) == 0
    assert "added 0 labels, 0 ties, 0 skips from label-studio (5 imported before)" in (
        capsys.readouterr().out
    )


def test_an_edited_task_is_refused_by_name(batch_file, capsys):
    tasks = _label_studio_export(label_studio_tasks(_batch()))
    tasks[2]["data"]["response_a"] = "Edited in the tool."
    export = batch_file.parent / "export.json"
    export.write_text(json.dumps(tasks))
    with pytest.raises(MalformedRecordError, match=r"export.json, record 2: pair id .* texts"):
        import_annotations(export, batch_file.parent / "labels.jsonl")
    assert main(["import", str(export), "--labeled", str(batch_file.parent / "l.jsonl")]) == 2
    assert "export.json, record 2" in capsys.readouterr().err
    assert not (batch_file.parent / "l.jsonl").exists()


# -- Argilla ----------------------------------------------------------------------------


def _users(n):
    return [str(uuid.UUID(int=k + 1)) for k in range(n)]


def _flat(records, answers):
    """Argilla's flat form (``to_list(flatten=True)``) of ``records`` with ``answers``."""
    flat = []
    for record, responses in zip(records, answers, strict=True):
        row = {"id": record["id"], **record["fields"], "status": "pending", "_server_id": None}
        row["preference.responses"] = [value for value, _, _ in responses] or None
        row["preference.responses.users"] = [user for _, user, _ in responses] or None
        row["preference.responses.status"] = [status for _, _, status in responses] or None
        flat.append(row)
    return flat


ANSWERS = [
    [("a", _users(2)[0], "submitted"), ("b", _users(2)[1], "submitted")],
    [("tie", _users(1)[0], "submitted")],
    [("b", _users(1)[0], "discarded")],  # discarded: a skip
    [("a", _users(1)[0], "draft")],  # not given yet
    [],
    [("maybe", _users(1)[0], "submitted")],
]


def test_argilla_flat_export_keeps_drafts_pending_and_discards_as_skips(batch_file, capsys):
    out = batch_file.parent / "records.json"
    assert main(["export", str(batch_file), "--to", "argilla", "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [r["id"] for r in records] == [r["pair_id"] for r in _batch()]
    settings = json.loads((out.parent / "records.settings.json").read_text())
    assert settings == json.loads(json.dumps(ARGILLA_SETTINGS))
    export = batch_file.parent / "answers.json"
    export.write_text(json.dumps(_flat(records, ANSWERS)))
    labeled = batch_file.parent / "labels.jsonl"
    assert main(["import", str(export), "--labeled", str(labeled)]) == 0
    printed = capsys.readouterr().out
    assert "added 2 labels, 1 ties, 1 skips from argilla" in printed
    assert "3 pairs have no answer yet" in printed  # the draft, the empty, the unreadable
    assert "response 0: unknown answer 'maybe'" in printed
    assert read_labels(labeled).label.tolist() == [0, 1, "tie", "skip"]


def test_argilla_nested_export_counts_every_response(batch_file):
    records = argilla_records(_batch())
    for record, responses in zip(records, ANSWERS, strict=True):
        record["responses"] = {
            "preference": [{"value": value, "user_id": user} for value, user, _ in responses]
        }
    (batch_file.parent / "answers.json").write_text(json.dumps(records))
    result = import_annotations(batch_file.parent / "answers.json", batch_file.parent / "l.jsonl")
    # the nested form carries no status: the discarded and the draft answers count as given
    assert result.format == "argilla"
    assert result.counts == {"labels": 4, "ties": 1, "skips": 0}


def test_argilla_sdk_reads_the_records_and_writes_exports_we_read(batch_file):
    rg = pytest.importorskip("argilla", reason="needs the `argilla` extra")
    from argilla.records._io import GenericIO

    exported = argilla_records([record for _, record in read_jsonl(batch_file)])
    answered = []
    for record, responses in zip(exported, ANSWERS, strict=True):
        sdk_record = rg.Record.from_dict(record)  # Argilla's own reading of the record
        assert sdk_record.id == record["id"] and dict(sdk_record.fields) == record["fields"]
        with_answers = dict(record)
        with_answers["responses"] = {
            "preference": [
                {"value": value, "user_id": user, "status": status}
                for value, user, status in responses
            ]
        }
        answered.append(rg.Record.from_dict(with_answers))
    folder = batch_file.parent
    (folder / "flat.json").write_text(json.dumps(GenericIO.to_list(answered, flatten=True)))
    flat = import_annotations(folder / "flat.json", folder / "flat-labels.jsonl")
    assert flat.counts == {"labels": 2, "ties": 1, "skips": 1}
    (folder / "nested.json").write_text(json.dumps(GenericIO.to_list(answered, flatten=False)))
    nested = import_annotations(folder / "nested.json", folder / "nested-labels.jsonl")
    assert nested.counts == {"labels": 4, "ties": 1, "skips": 0}


def test_unknown_annotation_files_are_refused(tmp_path, capsys):
    (tmp_path / "other.json").write_text('[{"text": "hello"}]')
    assert main(["import", str(tmp_path / "other.json"), "--labeled", "l.jsonl"]) == 2
    assert "cannot tell which tool wrote it" in capsys.readouterr().err
