"""The README's example runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.real_model
@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has no python example"
    monkeypatch.setenv("SKBALPM_CACHE_DIR", str(tmp_path))  # keep the user's cache clean
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    assert "[[" in printed  # predict_proba's rows were printed


def test_readme_labeling_loop_runs_as_written(tmp_path, monkeypatch, capsys, fake_embedding_model):
    """The three commands of the labeling loop, then a second round (a stand-in embedding
    model keeps it fast; the loop itself is what is checked)."""
    import shlex

    from skbalpm.cli import main
    from skbalpm.labeling import SelectionState, read_labels

    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The labeling loop") :]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    commands = [shlex.split(line) for line in block.splitlines() if line.startswith("skbalpm ")]
    assert [argv[1] for argv in commands] == ["select", "import", "select"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKBALPM_CACHE_DIR", str(tmp_path / "cache"))
    for argv in [*commands, *commands[1:]]:  # two rounds
        assert main(argv[1:]) == 0, argv
    printed = capsys.readouterr().out
    assert "20 pairs picked by coreset (cold start" in printed
    assert "20 pairs picked by balpm (round 0)" in printed
    assert "20 pairs picked by balpm (round 1)" in printed
    assert len(read_labels("labels.jsonl").label) == 40
    state = SelectionState.load("skbalpm-select-state.json")
    sent = [pid for batch in state.batches for pid in batch["pair_ids"]]
    assert len(sent) == len(set(sent)) == 60  # no pair sent twice
