"""The speed figures of the documentation come from result files, not from hand-typed text.

The speed benchmarks (``benchmarks/bench_*.py``) write ``docs/benchmarks/speed/*.json``
through ``benchmarks/_results.py``; the documentation build renders them
(``write_speed_results`` in ``docs/_ext/skbalpm_docs.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
BENCHMARKS = REPO / "benchmarks"


def _docs_extension():
    spec = importlib.util.spec_from_file_location("skbalpm_docs", DOCS / "_ext" / "skbalpm_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(monkeypatch):
    """The benchmark scripts' modules (they import each other from benchmarks/)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_results"), importlib.import_module("bench_acquisition")


def _sample_result():
    """A result as a benchmark writes it (schema skbalpm-speed/1), typed by hand."""
    return {
        "schema": "skbalpm-speed/1",
        "script": "bench_demo",
        "device": "cpu",
        "machine": "Demo CPU, 2 logical cores, torch 9.9 (2 threads), no CUDA device",
        "date": "2026-11-27T10:00:00+00:00",
        "commit": "0123456789abcdef0123456789abcdef01234567+dirty",
        "versions": {"python": "3.11.7", "torch": "9.9"},
        "command": "python benchmarks/bench_demo.py --n 20000",
        "parameters": {"n": 20000},
        "figures": [
            {
                "name": "fast batch",
                "setting": "N = 20,000",
                "value": 0.51234,
                "unit": "s",
                "baseline": {"name": "naive batch", "value": 15.678, "unit": "s"},
                "ratio": {"value": 15.678 / 0.51234, "of": "baseline/value", "reads": "× faster"},
                "target": {"op": ">=", "value": 10.0},
                "details": {"same indices": True},
            },
            {
                "name": "radius pass",
                "setting": "N = 20,000",
                "value": 1.875,
                "unit": "s",
                "baseline": {"name": "one product", "value": 0.25, "unit": "s"},
                "ratio": {"value": 7.5, "of": "value/baseline", "reads": "× the product's time"},
                "target": {"op": "<=", "value": 2.0},
                "details": {"rounds s": [1.875, 2.5]},
            },
            {
                "name": "large batch",
                "setting": "N = 100,000",
                "value": 12345.6,
                "unit": "s",
                "baseline": None,
                "ratio": None,
                "target": None,
                "details": {},
            },
        ],
    }


def _fake_checkout(tmp_path, scripts=("bench_demo",)):
    docs = tmp_path / "docs"
    (docs / "benchmarks" / "speed").mkdir(parents=True)
    (tmp_path / "benchmarks").mkdir()
    for name in scripts:
        (tmp_path / "benchmarks" / f"{name}.py").write_text(f'"""Speed of {name}."""\n')
    return docs


def _tables(rst_text):
    """Every table of an rst text as lists of cell texts; fails on any rst error.

    docutils comes with the ``docs`` extra (CI's first environment runs these tests); the
    README's install has no docutils, and the rest of this module needs none.
    """
    docutils_core = pytest.importorskip("docutils.core", reason="needs the `docs` extra")
    nodes = pytest.importorskip("docutils.nodes", reason="needs the `docs` extra")
    doctree = docutils_core.publish_doctree(
        rst_text, settings_overrides={"report_level": 2, "halt_level": 2, "warning_stream": False}
    )
    tables = []
    for table in doctree.findall(nodes.table):
        rows = [
            [entry.astext() for entry in row.findall(nodes.entry)]
            for row in table.findall(nodes.row)
        ]
        tables.append(rows)
    return tables


def _rst_without_sphinx_directives(text):
    """``code-block`` is Sphinx's: read it as docutils' ``code`` to parse the text alone."""
    return text.replace(".. code-block:: bash", ".. code:: bash")


def test_renderer_turns_a_result_into_a_table_with_its_numbers(tmp_path):
    docs = _fake_checkout(tmp_path)
    result = _sample_result()
    path = docs / "benchmarks" / "speed" / "bench_demo_cpu.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    out = tmp_path / "speed.rst.inc"
    _docs_extension().write_speed_results(docs, out)
    text = out.read_text(encoding="utf-8")

    assert "Speed of bench_demo." in text
    assert result["machine"] in text and "2026-11-27T10:00:00+00:00" in text
    assert "``0123456789ab+dirty``" in text
    assert f"   {result['command']}\n" in text
    assert "Not yet measured on a CUDA GPU" in text and "Not yet measured on CPU" not in text
    (table,) = _tables(_rst_without_sphinx_directives(text))
    header, *rows = table
    assert header[:5] == [
        "what is timed",
        "setting",
        "measured",
        "baseline (same run, same device)",
        "ratio",
    ]
    assert len(rows) == len(result["figures"])
    for row, entry in zip(rows, result["figures"], strict=True):
        assert row[0] == entry["name"] and row[1] == entry["setting"]
        value = entry["value"]
        shown = f"{value:,.0f}" if value >= 1000 else f"{value:.3g}"
        assert row[2] == f"{shown} {entry['unit']}"
        if entry["baseline"] is None:
            assert row[3] == row[4] == "–"
            continue
        base = entry["baseline"]
        assert row[3] == f"{base['name']}: {base['value']:.3g} {base['unit']}"
        assert row[4].startswith(f"{entry['ratio']['value']:.3g}{entry['ratio']['reads']} (target")
    assert rows[0][4].endswith("≥ 10: met)") and rows[0][5] == "same indices: True"
    assert rows[1][4].endswith("≤ 2: not met)")  # 7.5 > 2
    assert rows[1][5] == "rounds s: 1.88, 2.5"


def test_renderer_says_not_yet_measured_without_result_files(tmp_path):
    docs = _fake_checkout(tmp_path, scripts=("bench_one", "bench_two"))
    out = tmp_path / "speed.rst.inc"
    _docs_extension().write_speed_results(docs, out)
    text = out.read_text(encoding="utf-8")
    for name in ("bench_one", "bench_two"):
        for device, label in (("cpu", "CPU"), ("cuda", "a CUDA GPU")):
            assert (
                f"Not yet measured on {label}: ``python benchmarks/{name}.py --device {device}`` "
                f"writes ``docs/benchmarks/speed/{name}_{device}.json``"
            ) in text
    assert _tables(_rst_without_sphinx_directives(text)) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON speed result"),
        (json.dumps({"schema": "other/1"}), "not a skbalpm-speed/1 result"),
        (json.dumps({"schema": "skbalpm-speed/1", "script": "x"}), "lacks ['command', 'date'"),
    ],
)
def test_a_malformed_result_file_stops_the_build_naming_the_file(tmp_path, content, message):
    docs = _fake_checkout(tmp_path)
    path = docs / "benchmarks" / "speed" / "bench_demo_cpu.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        _docs_extension().write_speed_results(docs, tmp_path / "speed.rst.inc")
    assert str(path) in str(error.value)


def test_figure_takes_the_ratio_the_way_it_says(bench):
    results, _ = bench
    faster = results.figure(
        "fast", 2.0, "s", setting="", baseline=("slow", 50.0, "s"), ratio="baseline/value"
    )
    share = results.figure(
        "fast", 2.0, "s", setting="", baseline=("slow", 50.0, "s"), ratio="value/baseline"
    )
    assert faster["ratio"]["value"] == 25.0 and share["ratio"]["value"] == 0.04
    with pytest.raises(ValueError, match="with a baseline"):
        results.figure("fast", 2.0, "s", setting="", ratio="baseline/value")
    with pytest.raises(ValueError, match="finite"):
        results.figure("fast", float("nan"), "s", setting="")
    with pytest.raises(ValueError, match="target"):
        results.figure("fast", 2.0, "s", setting="", target=(">=", 3))


def test_written_result_renders_with_the_numbers_it_holds(bench, tmp_path):
    results, _ = bench
    docs = _fake_checkout(tmp_path)
    folder = docs / "benchmarks" / "speed"
    figures = [
        results.figure(
            "fast batch",
            0.25,
            "s",
            setting="N = 100",
            baseline=("naive batch", 8.0, "s"),
            ratio="baseline/value",
            reads="× faster",
            target=(">=", 10),
        )
    ]
    path = results.write_result(
        "bench_demo",
        "cuda:0",
        {"n": 100, "data": REPO.parent / "shared"},
        figures,
        argv=["--n", "100"],
        folder=folder,
    )
    assert path == folder / "bench_demo_cuda.json"
    assert sorted(p.name for p in folder.iterdir()) == ["bench_demo_cuda.json"]  # no tmp file
    stored = _docs_extension().read_speed_result(path)
    assert stored["command"] == "python benchmarks/bench_demo.py --n 100"
    assert stored["parameters"] == {"n": 100, "data": "../shared"}
    assert stored["figures"] == figures and stored["device"] == "cuda"
    out = tmp_path / "speed.rst.inc"
    _docs_extension().write_speed_results(docs, out)
    (table,) = _tables(_rst_without_sphinx_directives(out.read_text(encoding="utf-8")))
    assert table[1][2:5] == ["0.25 s", "naive batch: 8 s", "32× faster (target ≥ 10: met)"]


@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("beta", [0.01, 1.0])
def test_naive_reference_picks_what_the_strategy_picks(bench, duplicates, beta):
    _, acquisition = bench
    P = acquisition.unit_vectors(150, 6, seed=3)
    if duplicates:  # ties on the rims: a point and its copies share a radius
        P[100:] = P[:50]
    probs = np.random.default_rng(0).uniform(size=(5, len(P)))
    naive = acquisition.naive_balpm(probs, P, 12, "cpu", beta=beta)
    fast = acquisition.fast_balpm(probs, P, 12, "cpu", beta=beta)
    np.testing.assert_array_equal(naive, fast)
    if beta == 1.0:  # the entropy term decides here: a wrong radius picks other rows
        wrong = acquisition.naive_balpm(probs, P, 12, "cpu", beta=beta, k=acquisition.K + 1)
        assert not np.array_equal(wrong, fast)


@pytest.mark.gpu
def test_naive_reference_on_cuda_picks_what_the_strategy_picks_there(bench):
    _, acquisition = bench
    P = acquisition.unit_vectors(3000, 32, seed=4)
    P[2000:] = P[:1000]
    probs = np.random.default_rng(1).uniform(size=(5, len(P)))
    naive = acquisition.naive_balpm(probs, P, 20, "cuda", beta=1.0)
    np.testing.assert_array_equal(naive, acquisition.fast_balpm(probs, P, 20, "cuda", beta=1.0))
    np.testing.assert_array_equal(naive, acquisition.naive_balpm(probs, P, 20, "cpu", beta=1.0))


def test_naive_radius_is_the_kth_exact_distance(bench):
    _, acquisition = bench
    P = acquisition.unit_vectors(90, 5, seed=1).astype(np.float64)
    P[60:] = P[:30]
    radius = acquisition.naive_knn_radius(torch.from_numpy(P), 4).numpy()
    expected = np.sort(cdist(P, P), axis=1)[:, 3]  # the point itself is its first neighbour
    np.testing.assert_allclose(radius, expected, rtol=1e-12, atol=1e-15)


def test_bench_acquisition_writes_a_result_the_docs_render(bench, tmp_path):
    _, acquisition = bench
    docs = _fake_checkout(tmp_path, scripts=("bench_acquisition",))
    folder = docs / "benchmarks" / "speed"
    argv = ["--n", "120", "--n-large", "160", "--batch", "4", "--dim", "6", "--strategy-batch", "5"]
    acquisition.main([*argv, "--datasets", "random", "--results-dir", str(folder)])
    result = json.loads((folder / "bench_acquisition_cpu.json").read_text(encoding="utf-8"))
    assert result["parameters"]["n"] == 120 and result["parameters"]["device"] == "cpu"
    knn, batch, large, batchbald, dopt, badge, epig, *coldstart = result["figures"]
    assert knn["baseline"]["name"].startswith("one torch.mm")
    assert batch["baseline"]["name"].startswith("naive BAL-PM")
    assert batch["details"]["same indices"] is True
    assert batch["ratio"]["value"] == pytest.approx(batch["baseline"]["value"] / batch["value"])
    assert large["baseline"] is None and large["setting"].endswith("N = 160, d = 6")
    assert batchbald["name"].startswith("BatchBALD batch (B = 5,")
    assert dopt["name"].startswith("D-optimal") and badge["name"].startswith("BADGE")
    assert epig["name"].startswith("EPIG batch (B = 5,") and "no peer" in epig["details"]["note"]
    radius, typiclust, probcover, coreset = coldstart
    assert radius["name"].startswith("ProbCover radius") and radius["baseline"] is None
    for entry, name in [(typiclust, "TypiClust"), (probcover, "ProbCover"), (coreset, "core-set")]:
        assert entry["name"].startswith(f"{name} batch (B = 5,")
    for entry in (batchbald, badge, typiclust, probcover, coreset):  # peers where installed
        assert entry["baseline"] is not None or "not installed" in entry["details"]["note"]
    out = tmp_path / "speed.rst.inc"
    _docs_extension().write_speed_results(docs, out)
    (table,) = _tables(_rst_without_sphinx_directives(out.read_text(encoding="utf-8")))
    assert [row[1] for row in table[1:]] == [f["setting"] for f in result["figures"]]


def test_every_speed_benchmark_writes_a_result_file():
    scripts = sorted(BENCHMARKS.glob("bench_*.py"))
    assert scripts
    for script in scripts:
        assert "write_result(" in script.read_text(encoding="utf-8"), script.name


def test_committed_speed_results_follow_the_schema():
    ext = _docs_extension()
    for path in sorted((DOCS / "benchmarks" / "speed").glob("*.json")):
        result = ext.read_speed_result(path)
        assert path.name == f"{result['script']}_{result['device']}.json"
        assert (BENCHMARKS / f"{result['script']}.py").is_file()


FIGURE = re.compile(r"\d[\d,.]*\s*(?:×|x faster|s\b|ms\b|pairs/s|GFLOP/s|%)")


def _outside_code_blocks(rst_text):
    return re.sub(r"^\.\. code-block::.*\n\n(?:(?:   .*)?\n)+", "", rst_text, flags=re.M)


def test_speed_section_has_no_hand_typed_figures():
    page = (DOCS / "benchmarks.rst").read_text(encoding="utf-8")
    start = page.index("Speed of the parts\n==================\n")
    end = page.find("\n=====", start + 40)
    section = page[start : page.rfind("\n", 0, end) if end > 0 else len(page)]
    assert ".. include:: generated/speed_results.rst.inc" in section
    assert FIGURE.findall(_outside_code_blocks(section)) == []
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert not re.findall(r"\d[\d,.]*\s*(?:×|x faster|min \d+ s)", readme)


def test_no_internal_issue_numbers_in_public_text():
    public = [REPO / "README.md", *DOCS.rglob("*.rst"), *DOCS.glob("examples/*.py")]
    public += [*(REPO / "skbalpm").rglob("*.py"), *BENCHMARKS.glob("*.py")]
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in public
        if "generated" not in path.parts and "_build" not in path.parts
        for match in re.finditer(r"\bissues?\s*#?\d+", path.read_text(encoding="utf-8"), re.I)
    ]
    assert found == []
