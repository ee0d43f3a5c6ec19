"""``skbalpm select`` and ``skbalpm import`` on files, with a stand-in embedding model (the
real tokenizer, pseudo-random vectors): the loop's bookkeeping, crash safety, messages."""

from __future__ import annotations

import json

import pytest

from skbalpm.cli import main
from skbalpm.labeling import SelectionState, read_labels, write_jsonl
from skbalpm.labeling._pairs import read_jsonl


@pytest.fixture
def desk(tmp_path, fake_embedding_model):
    """A pool of 40 unlabelled pairs over 20 prompts, and the command's common options."""
    rows = [
        {
            "prompt": f"How do I care for plant {i // 2}?",
            "response_a": f"Water it every {i} days.",
            "response_b": f"Plants {i} need nothing.",
        }
        for i in range(40)
    ]
    write_jsonl(tmp_path / "pool.jsonl", rows)
    common = ["--pool", str(tmp_path / "pool.jsonl"), "--labeled", str(tmp_path / "labels.jsonl")]
    common += ["--cache-dir", str(tmp_path / "cache"), "--quiet"]
    return tmp_path, common


def _select(common, out, *extra):
    return main(["select", *common, "--out", str(out), *extra])


def _ids(path):
    return [record["pair_id"] for _, record in read_jsonl(path)]


def _label_by_hand(batch, out, labels):
    """The batch file with its label fields filled in (None: no answer yet)."""
    records = [record for _, record in read_jsonl(batch)]
    for record, label in zip(records, labels, strict=True):
        record["label"] = label
    write_jsonl(out, records)


def test_the_loop_never_sends_a_pair_twice(desk, capsys):
    folder, common = desk
    assert _select(common, folder / "b1.jsonl", "--n", "8") == 0
    out = capsys.readouterr().out
    assert "pool 40 pairs; labeled 0 (ties 0, skips 0); pending 0; 40 left to pick from" in out
    assert "8 pairs picked by coreset (cold start: no model yet)" in out
    first = [record for _, record in read_jsonl(folder / "b1.jsonl")]
    assert [r["rank"] for r in first] == list(range(1, 9))
    assert all(r["label"] is None for r in first)

    # no answer yet: the next batch leaves the pending pairs alone
    assert _select(common, folder / "b2.jsonl", "--n", "8") == 0
    assert "pending 8; 32 left" in capsys.readouterr().out
    assert not set(_ids(folder / "b1.jsonl")) & set(_ids(folder / "b2.jsonl"))

    # half of the first batch comes back, a tie and a skip among it
    _label_by_hand(
        folder / "b1.jsonl", folder / "b1-done.jsonl", [0, 1, 0, "tie", "skip", 1, None, None]
    )
    assert main(["import", str(folder / "b1-done.jsonl"), "--labeled", common[3]]) == 0
    out = capsys.readouterr().out
    assert "added 4 labels, 1 ties, 1 skips from skbalpm" in out
    assert "2 pairs have no answer yet: they stay pending" in out

    assert _select(common, folder / "b3.jsonl", "--n", "8", "--cv-folds", "2") == 0
    out = capsys.readouterr().out
    assert "labeled 4 (ties 1, skips 1); pending 10; 24 left" in out
    assert "8 pairs picked by balpm (round 0)" in out
    assert "what the labels teach: not yet known (4 labels" in out
    sent_before = set(_ids(folder / "b1.jsonl")) | set(_ids(folder / "b2.jsonl"))
    third = [record for _, record in read_jsonl(folder / "b3.jsonl")]
    assert not {r["pair_id"] for r in third} & sent_before
    assert all(r["round"] == 0 and r["strategy"] == "balpm" for r in third)
    assert all(0 <= r["p_a_preferred"] <= 1 and r["bald"] >= 0 for r in third)

    assert _select(common, folder / "b4.jsonl", "--n", "4", "--strategy", "bald") == 0
    assert {r["round"] for _, r in read_jsonl(folder / "b4.jsonl")} == {1}
    state = SelectionState.load(folder / "skbalpm-select-state.json")
    assert [b["kind"] for b in state.batches] == ["initial", "initial", "round", "round"]


def test_importing_twice_adds_nothing(desk, capsys):
    folder, common = desk
    _select(common, folder / "b1.jsonl", "--n", "3")
    _label_by_hand(folder / "b1.jsonl", folder / "done.jsonl", [1, 0, "tie"])
    main(["import", str(folder / "done.jsonl"), "--labeled", common[3]])
    assert main(["import", str(folder / "done.jsonl"), "--labeled", common[3]]) == 0
    assert "added 0 labels, 0 ties, 0 skips from skbalpm (3 imported before)" in (
        capsys.readouterr().out
    )
    assert len(read_labels(common[3]).label) == 3


def test_a_released_batch_goes_back_to_the_pool(desk, capsys):
    folder, common = desk
    _select(common, folder / "b1.jsonl", "--n", "36")
    assert _select(common, folder / "b2.jsonl", "--release", str(folder / "b1.jsonl")) == 0
    assert "released the batch" in capsys.readouterr().out
    assert _select(common, folder / "b2.jsonl", "--release", str(folder / "b9.jsonl")) == 2
    assert "lists no batch sent as" in capsys.readouterr().err
    assert _select(common, folder / "b2.jsonl", "--n", "40") == 0
    assert "pending 0; 40 left" in capsys.readouterr().out
    assert len(_ids(folder / "b2.jsonl")) == 40


def test_a_crash_while_writing_the_batch_sends_nothing(desk, monkeypatch, capsys):
    folder, common = desk
    import skbalpm.labeling._round as round_module

    real_write = round_module.write_jsonl

    def crash(path, records):
        raise KeyboardInterrupt

    monkeypatch.setattr(round_module, "write_jsonl", crash)
    with pytest.raises(KeyboardInterrupt):
        _select(common, folder / "b1.jsonl", "--n", "30")
    assert not (folder / "b1.jsonl").exists()
    monkeypatch.setattr(round_module, "write_jsonl", real_write)
    assert _select(common, folder / "b1.jsonl", "--n", "40") == 0
    out = capsys.readouterr().out
    assert "was not written before a crash: its 30 pairs go back to the pool" in out
    assert "pending 0; 40 left" in out


def test_quiet_silences_the_progress_bars(desk, capfd):
    folder, common = desk
    _select(common, folder / "b1.jsonl", "--n", "2")
    assert capfd.readouterr().err == ""
    loud = [option for option in common if option != "--quiet"]
    loud[loud.index("--cache-dir") + 1] = str(folder / "new-cache")  # nothing cached
    _select(loud, folder / "b2.jsonl", "--n", "2")
    assert "embedding" in capfd.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strategy", "nope"], "Unknown query strategy 'nope'"),
        (["--n", "0"], "--n must be >= 1"),
        (["--cv-folds", "1"], "--cv-folds must be 0 (skip) or >= 2"),
    ],
)
def test_bad_options_fail_before_reading_anything(tmp_path, capsys, extra, message):
    argv = ["select", "--pool", str(tmp_path / "none.jsonl"), "--labeled", "l.jsonl"]
    assert main([*argv, "--out", str(tmp_path / "b.jsonl"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_malformed_files_are_named(desk, capsys):
    folder, common = desk
    with open(folder / "pool.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"prompt": "Q?", "response_a": "A", "response_b": 7}\n')
    assert _select(common, folder / "b.jsonl") == 2
    err = capsys.readouterr().err
    assert "skbalpm select: error:" in err and "pool.jsonl, line 41" in err
    assert not (folder / "b.jsonl").exists()

    (folder / "done.jsonl").write_text('{"pair_id": "x", "label": 0, "prompt": "Q"}\n')
    assert main(["import", str(folder / "done.jsonl"), "--labeled", common[3]]) == 2
    assert "done.jsonl, line 1" in capsys.readouterr().err


def test_replaying_the_pools_labels(tmp_path, fake_embedding_model, capsys):
    rows = [
        {"prompt": f"Q{i}?", "response_a": f"A{i}.", "response_b": f"B{i}.", "label": i % 2}
        for i in range(12)
    ]
    write_jsonl(tmp_path / "pool.jsonl", rows)
    common = ["--pool", str(tmp_path / "pool.jsonl"), "--labeled", str(tmp_path / "l.jsonl")]
    options = [*common, "--cache-dir", str(tmp_path / "c"), "--quiet"]
    _select(options, tmp_path / "b.jsonl", "--n", "5")
    assert main(["import", str(tmp_path / "b.jsonl"), "--from", "pool", *common]) == 0
    labels = read_labels(tmp_path / "l.jsonl")
    expected = {json.dumps(r["prompt"]): r["label"] for r in rows}
    assert [expected[json.dumps(p)] for p in labels.X[:, 0]] == labels.label.tolist()
    assert main(["import", str(tmp_path / "b.jsonl"), "--from", "pool", "--labeled", "x"]) == 2
    assert "--from pool needs --pool" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["select", "--pool", "{d}/none.jsonl", "--labeled", "{d}/l.jsonl", "--out", "{d}/b"],
         "Preference file not found"),
        (["export", "{d}/none.jsonl", "--to", "argilla", "--out", "{d}/r.json"], "none.jsonl"),
        (["import", "{d}/none.json", "--labeled", "{d}/l.jsonl"], "none.json"),
        (["fit", "--labeled", "{d}/none.jsonl", "--out", "{d}/m"], "needs labels of both kinds"),
        (["score", "--model", "{d}/none", "--pairs", "{d}/p", "--out", "{d}/s"], "none"),
    ],
)  # fmt: skip
def test_missing_files_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main([arg.format(d=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"skbalpm {argv[0]}: error:") and message in err
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written
