"""The benchmark's files: atomic writes, leftovers of killed writers, partial runs."""

from __future__ import annotations

import json

import pytest

from skbalpm.benchmark._checkpoint import Checkpoint, atomic_write, replacing


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    atomic_write(path, "old")
    atomic_write(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    atomic_write(path, "old")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_two_writers_get_their_own_temporary(tmp_path):
    path = tmp_path / "run.json"
    with replacing(path) as first, replacing(path) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("first")
        second.write_text("second")
    assert path.read_text() == "first"  # the outer block ends last


def test_a_new_run_removes_what_killed_writers_left(tmp_path):
    (tmp_path / "partial").mkdir()
    stale = [tmp_path / ".checkpoint.json.123-abc.tmp", tmp_path / "partial" / ".run-x.json.9.tmp"]
    for path in stale:
        path.write_text("{")
    kept = tmp_path / "notes.tmp"  # not one of ours
    kept.write_text("keep")
    Checkpoint(tmp_path, {"n_rounds": 1}, resume=True)
    assert not any(path.exists() for path in stale) and kept.exists()


def test_partial_runs_are_taken_up_once_then_removed(tmp_path):
    config = {"n_rounds": 2}
    checkpoint = Checkpoint(tmp_path, config, resume=True)
    checkpoint.start_run("random", 0, [1, 2])
    checkpoint.start_run("random", 1, [3, 4])
    ahead = {"rows": [{"round": 0}], "labelled": [1, 2, 5]}
    behind = {"rows": [], "labelled": [3, 4]}
    for seed, run in ((0, ahead), (1, behind)):
        path = checkpoint.partial_path(seed, "random")
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(run))
    checkpoint.merge_partial_runs()
    assert checkpoint.run("random", 0) == ahead
    assert checkpoint.run("random", 1) == behind
    assert not list((tmp_path / "partial").iterdir())
    saved = json.loads((tmp_path / "checkpoint.json").read_text())
    assert saved["runs"]["random|0"] == ahead and saved["config"] == config
