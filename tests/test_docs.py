"""The documentation's own code: the Getting started snippet runs, the benchmarks page builds.

The full documentation build (``python -m sphinx -W ... docs docs/_build/html``, which
also runs the gallery examples) is a separate step of ``.ci/run``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load_docs_extension():
    spec = importlib.util.spec_from_file_location("skbalpm_docs", DOCS / "_ext" / "skbalpm_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _api_entries():
    """``module.name`` of every autosummary entry of docs/api.rst."""
    module, names = "skbalpm", set()
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)$", line)
        if current:
            module = current.group(1)
        elif re.fullmatch(r"   [A-Za-z_]\w*", line):
            names.add(f"{module}.{line.strip()}")
    return names


def test_api_reference_lists_every_public_name():
    entries = _api_entries()
    documented = set()
    for entry in entries:
        module_name, name = entry.rsplit(".", 1)
        documented.add(id(getattr(importlib.import_module(module_name), name)))
    missing = []
    modules = (
        "skbalpm",
        "skbalpm.acquisition",
        "skbalpm.datasets",
        "skbalpm.benchmark",
        "skbalpm.distributed",
    )
    for module_name in (*modules, "skbalpm.labeling"):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name != "__version__" and id(getattr(module, name)) not in documented:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"docs/api.rst does not list {missing}"
    assert "skbalpm.BALPMQueryStrategy" in entries and "skbalpm.cli.main" in entries


def test_api_reference_lists_every_registered_strategy():
    # a strategy class with a name is found by the harness and the CLI; its page is here
    from skbalpm.acquisition import registered_strategies

    entries = _api_entries()
    missing = [
        f"{name}: {cls.__name__}"
        for name, cls in registered_strategies().items()
        if not {f"skbalpm.{cls.__name__}", f"skbalpm.acquisition.{cls.__name__}"} & entries
    ]
    assert not missing, f"docs/api.rst does not list the registered strategies {missing}"


def _python_blocks(rst_text):
    """The bodies of the ``.. code-block:: python`` directives of an rst text."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", rst_text, re.M):
        lines = [line[3:] for line in match.group(1).splitlines()]
        blocks.append("\n".join(lines).strip() + "\n")
    return blocks


@pytest.mark.real_model
@pytest.mark.slow
def test_getting_started_pipeline_runs(tmp_path, monkeypatch, capsys):
    page = DOCS / "getting_started.rst"
    blocks = _python_blocks(page.read_text(encoding="utf-8"))
    assert blocks, "getting_started.rst has no python example"
    monkeypatch.setenv("SKBALPM_CACHE_DIR", str(tmp_path))  # keep the user's cache clean
    namespace = {"__name__": "__getting_started__"}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
    indices = namespace["indices"]
    assert indices.shape == (10,) and len(set(indices.tolist())) == 10
    assert "[[" in capsys.readouterr().out  # predict_proba's rows were printed


def _fake_benchmark(folder, with_plot):
    """What ``skbalpm benchmark`` writes, for two strategies and two seeds."""
    from skbalpm.benchmark import summarize_results

    rows = [
        dict(strategy=s, seed=k, n_labels=n, test_log_likelihood=v - 0.01 * k, test_accuracy=0.6)
        for s, curve in {"random": [-0.69, -0.65, -0.62], "balpm": [-0.69, -0.62, -0.60]}.items()
        for k in (0, 1)
        for n, v in zip((20, 40, 60), curve, strict=True)
    ]
    folder.mkdir(parents=True)
    summarize_results(pd.DataFrame(rows), n_boot=50).to_csv(folder / "summary.csv", index=False)
    config = {
        "dataset": folder.name,
        "n_samples": 500,
        "n_features": 1152,
        "strategies": {"random": "RandomQueryStrategy()", "balpm": "BALPMQueryStrategy()"},
        "classifier": "PreferenceEnsembleClassifier(max_epochs=30, n_members=3)",
        "seeds": [0, 1],
        "initial_size": 20,
        "batch_size": 20,
        "n_rounds": 2,
        "test_size": 0.2,
        "grouped_split": True,
        "compute_ceiling": True,
        "source": ["/somewhere/shared/data/hh-rlhf/helpful-base-test.jsonl.gz"],
    }
    ceiling = [
        dict(seed=k, n_labels=400, test_log_likelihood=-0.55, test_accuracy=0.7) for k in (0, 1)
    ]
    payload = {
        "config": config,
        "versions": {"platform": "Linux-x", "torch": "2.x"},
        "ceiling": ceiling,
    }
    (folder / "results.json").write_text(json.dumps(payload), encoding="utf-8")
    if with_plot:
        (folder / "learning_curve_test_log_likelihood.png").write_bytes(b"\x89PNG")


def test_benchmarks_page_shows_results_when_present(tmp_path):
    ext = _load_docs_extension()
    out = tmp_path / "results.rst.inc"
    ext.write_benchmark_results(tmp_path, out)
    assert "Not yet run" in out.read_text(encoding="utf-8")

    _fake_benchmark(tmp_path / "benchmarks" / "hh-small", with_plot=True)
    _fake_benchmark(tmp_path / "benchmarks" / "other", with_plot=False)
    (tmp_path / "benchmarks" / "other" / "machine.txt").write_text("AMD EPYC; 2026-11-27\n")
    ext.write_benchmark_results(tmp_path, out)
    text = out.read_text(encoding="utf-8")
    assert "Not yet run" not in text
    assert text.index("hh-small\n--------") < text.index("other\n-----")
    # the command rebuilt from results.json, data path as seen from the repository root
    assert (
        "skbalpm benchmark --dataset ../shared/data/hh-rlhf/helpful-base-test.jsonl.gz "
        "--name hh-small --seeds 2 --initial-size 20 --batch-size 20 --rounds 2 "
        "--strategies random,balpm --n-members 3 --max-epochs 30"
    ) in text
    assert "**Machine.** AMD EPYC; 2026-11-27 — Linux-x; torch 2.x" in text
    assert "   * - ``balpm``" in text and "   * - ``random``" in text
    assert "test log-likelihood -0.5500, accuracy 0.700" in text  # the ceiling
    assert ".. figure:: /benchmarks/hh-small/learning_curve_test_log_likelihood.png" in text
    assert "/benchmarks/other/learning_curve" not in text
    saved = pd.read_csv(tmp_path / "benchmarks" / "hh-small" / "summary.csv")
    balpm = saved[saved["strategy"] == "balpm"].iloc[0]
    assert f"{balpm['labels_saved']:+.0%}" in text
    assert np.isfinite(balpm["labels_saved"])


def test_benchmarks_page_shows_tables_written_into_the_folder(tmp_path):
    ext = _load_docs_extension()
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    pd.DataFrame({"data set": ["synthetic"], "beta_equal": [0.0123456]}).to_csv(
        folder / "spread.csv", index=False
    )
    (folder / "study.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    out = tmp_path / "results.rst.inc"
    ext.write_benchmark_results(tmp_path, out)
    text = out.read_text(encoding="utf-8")
    assert "Not yet run" in text  # no strategy comparison yet
    assert "   * - data set\n     - beta_equal\n   * - synthetic\n     - 0.01235" in text
    assert ".. literalinclude:: /benchmarks/study.md" in text


def test_benchmarks_page_prefers_the_recorded_command(tmp_path):
    ext = _load_docs_extension()
    _fake_benchmark(tmp_path / "benchmarks" / "run", with_plot=False)
    (tmp_path / "benchmarks" / "run" / "command.txt").write_text("skbalpm benchmark --x 1\n")
    out = tmp_path / "results.rst.inc"
    ext.write_benchmark_results(tmp_path, out)
    text = out.read_text(encoding="utf-8")
    assert "   skbalpm benchmark --x 1\n" in text
    assert "--initial-size" not in text


def test_cli_help_is_generated_whatever_the_terminal(tmp_path, monkeypatch):
    ext = _load_docs_extension()
    texts = []
    for columns in ("40", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        ext.write_cli_help(tmp_path / "help.txt")
        texts.append((tmp_path / "help.txt").read_text(encoding="utf-8"))
    assert texts[0] == texts[1]
    assert texts[0].startswith("usage: skbalpm benchmark")
    assert "--strategies" in texts[0]


def test_benchmark_command_and_protocol_name_a_fixed_test_set(tmp_path):
    ext = _load_docs_extension()
    folder = tmp_path / "benchmarks" / "ood"
    _fake_benchmark(folder, with_plot=False)
    payload = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    payload["config"].update(
        test_size=None,
        grouped_split=False,
        test_set={"n_samples": 321, "sha1": "0" * 40},
        test_source=["/x/shared/data/hh-rlhf/helpful-online-test.jsonl.gz"],
    )
    (folder / "results.json").write_text(json.dumps(payload), encoding="utf-8")
    out = tmp_path / "results.rst.inc"
    ext.write_benchmark_results(tmp_path, out)
    text = out.read_text(encoding="utf-8")
    assert "--test-dataset ../shared/data/hh-rlhf/helpful-online-test.jsonl.gz" in text
    assert "--test-fraction" not in text
    assert (
        "a fixed test set of 321 pairs (../shared/data/hh-rlhf/helpful-online-test.jsonl.gz)"
        in text
    )


# ------------------------------------------------------------------------- the design page

REPO = DOCS.parent
DESIGN_PAGE = DOCS / "design.rst"
OUTSIDE_NOTES = "DESIGN" + ".md"  # spelt in two parts so this file does not cite it


def _repository_text_files():
    for folder in ("skbalpm", "tests", "docs", "tools"):
        for path in sorted((REPO / folder).rglob("*")):
            build_output = {"_build", "generated", "auto_examples", "__pycache__"}
            if path.suffix in {".py", ".rst", ".md", ".txt"} and not build_output & set(path.parts):
                yield path
    yield REPO / "README.md"


def test_nothing_cites_design_notes_outside_the_repository():
    citing = [
        str(path.relative_to(REPO))
        for path in _repository_text_files()
        if OUTSIDE_NOTES in path.read_text(encoding="utf-8")
    ]
    assert not citing, f"{citing} cite {OUTSIDE_NOTES}; point them at docs/design.rst"


def _section_titles(rst_text):
    lines = rst_text.splitlines()
    return {
        title.strip()
        for title, underline in itertools.pairwise(lines)
        if title.strip()
        and re.fullmatch(r"([=\-~^])\1+", underline)
        and len(underline) >= len(title.strip())
    }


def test_citations_of_the_design_page_name_its_sections():
    design = DESIGN_PAGE.read_text(encoding="utf-8")
    titles = _section_titles(design)
    labels = set(re.findall(r"^\.\. _(design\w*):$", design, re.M))
    assert {"Contracts", "The BAL-PM acquisition", "Conventions of the reference code"} <= titles
    n_citations = 0
    for path in _repository_text_files():
        text = path.read_text(encoding="utf-8")
        # docs/design.rst, section <its title in double quotes>: comments, private docstrings
        for title in re.findall(r'docs/design\.rst,\s+(?:section\s+)?"([^"]+)"', text):
            n_citations += 1
            assert " ".join(title.split()) in titles, (path, title)
        # :ref:`design_...` in the public docstrings (rendered in the API reference)
        for label in re.findall(r":ref:`(?:[^<`]*<)?(design\w*)>?`", text):
            n_citations += 1
            assert label in labels, (path, label)
    assert n_citations >= 8  # the code does cite it
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    assert re.search(r"\.\. toctree::(\n(   .*)?)*\n   design\n", index)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {
                "classifier": "PreferenceEnsembleClassifier()",
                "classifier_params": {"method": "laplace"},
            },
            "method ``'laplace'``",
        ),
        ({"classifier": "PreferenceEnsembleClassifier()"}, "predate the Laplace default"),
        (
            {"classifier": "PreferenceEnsembleClassifier(method='deep-ensemble')"},
            "``PreferenceEnsembleClassifier(method='deep-ensemble')``.",
        ),
        ({"classifier": "LogisticRegression()"}, "``LogisticRegression()``."),
    ],
)
def test_learner_line_says_which_classifier_made_the_results(config, expected):
    line = _load_docs_extension()._learner(config)
    assert expected in line
    assert ("predate" in line) == (expected == "predate the Laplace default")
