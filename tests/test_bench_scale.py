"""benchmarks/bench_scale.py: the plan's projections, partial reruns, and the docs' rendering."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"


@pytest.fixture
def scale(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_results"), importlib.import_module("bench_scale")


def _docs_extension():
    path = REPO / "docs" / "_ext" / "skbalpm_docs.py"
    spec = importlib.util.spec_from_file_location("skbalpm_docs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _embedding_figure(results, pairs_per_s, actors):
    return results.figure(
        "embed_pairs throughput",
        pairs_per_s,
        "pairs/s",
        setting="demo pairs",
        details={"actors": actors},
    )


def _round_figures(results, radii_s, greedy_s, exact_subset_s=2.0, n=100, n_subset=10):
    sizes = {"n": n, "n_subset": n_subset}
    round_ = results.figure(
        "BAL-PM round",
        radii_s + greedy_s,
        "s",
        setting="N = 100",
        details={"radii_seconds": radii_s, "greedy_batch_seconds": greedy_s, **sizes},
    )
    radii = results.figure(
        "faiss-ivf k-NN radii",
        0.5,
        "s",
        setting="N = 10 (subset)",
        baseline=("exact blocked GEMM", exact_subset_s, "s"),
        ratio="baseline/value",
        details=dict(sizes),
    )
    return [round_, radii]


def test_plan_divides_by_the_actors_and_compares_radii_with_the_greedy_batch(scale):
    results, bench = scale
    embedding = [_embedding_figure(results, 20.0, actors=2)]  # 10 pairs/s per actor
    pool = _round_figures(results, radii_s=120.0, greedy_s=30.0, exact_subset_s=3.0)
    hours, share, workers = bench.plan_figures(embedding, pool)
    assert hours["value"] == pytest.approx(bench.PAIRS_TO_PLAN / 10.0 / 3600)
    assert hours["details"]["per-actor pairs/s"] == 10.0
    assert share["value"] == pytest.approx(30.0 / 150.0)
    # exact radii at N = 100: the subset's 3 s x (100 / 10)^2 = 300 s, over a 30 s batch
    assert workers["value"] == pytest.approx(10.0) and workers["unit"] == "workers"


def test_plan_skips_what_was_not_measured(scale):
    results, bench = scale
    assert bench.plan_figures([], []) == []
    no_actors = results.figure("throughput", 5.0, "pairs/s", setting="x")
    assert bench.plan_figures([no_actors], []) == []


def test_a_partial_rerun_keeps_the_other_section_with_when_it_was_measured(scale, tmp_path):
    results, bench = scale
    old = [
        *bench._tagged([_embedding_figure(results, 20.0, actors=2)], "embedding"),
        *bench._tagged(_round_figures(results, 1.0, 1.0), "pool"),
        *bench._tagged([results.figure("stale plan", 1.0, "h", setting="x")], "plan"),
    ]
    path = results.write_result("bench_scale", "cpu", {}, old, argv=[], folder=tmp_path)
    stored = json.loads(path.read_text(encoding="utf-8"))
    kept = bench.kept_figures(path, ["pool"])
    assert list(kept) == ["embedding"]  # the rerun section and the old plan are not kept
    (entry,) = kept["embedding"]
    assert entry["details"]["measured"] == f"{stored['date']} at {stored['commit']}"
    assert bench.kept_figures(tmp_path / "absent.json", ["pool"]) == {}


def test_pool_section_runs_without_ray_and_merges_into_the_result(scale, tmp_path):
    results, bench = scale
    old = bench._tagged([_embedding_figure(results, 20.0, actors=2)], "embedding")
    results.write_result("bench_scale", "cpu", {}, old, argv=[], folder=tmp_path)
    argv = [
        "--sections",
        "pool",
        "--n",
        "3000",
        "--n-subset",
        "1500",
        "--results-dir",
        str(tmp_path),
    ]
    bench.main(argv)
    result = json.loads((tmp_path / "bench_scale_cpu.json").read_text(encoding="utf-8"))
    sections = [entry["details"]["section"] for entry in result["figures"]]
    assert sections[0] == "embedding" and "pool" in sections and sections[-3:] == ["plan"] * 3
    overlap = [e for e in result["figures"] if e["unit"] == "fraction of the batch"]
    assert overlap and all(0.0 <= e["value"] <= 1.0 for e in overlap)
    radii = next(e for e in result["figures"] if e["name"].endswith("k-NN radii"))
    assert 0.0 <= radii["details"]["fraction_within_1pct"] <= 1.0


def test_docs_render_the_plan_and_the_table(scale, tmp_path):
    results, bench = scale
    docs = tmp_path / "docs"
    folder = docs / "benchmarks" / "speed"
    folder.mkdir(parents=True)
    out = tmp_path / "scale.rst.inc"
    _docs_extension().write_scale_results(docs, out)
    assert "Not yet measured" in out.read_text(encoding="utf-8")

    embedding = bench._tagged([_embedding_figure(results, 20.0, actors=2)], "embedding")
    pool = bench._tagged(_round_figures(results, 120.0, 30.0, exact_subset_s=3.0), "pool")
    plan = bench._tagged(bench.plan_figures(embedding, pool), "plan")
    results.write_result(
        "bench_scale", "cpu", {}, [*embedding, *pool, *plan], argv=[], folder=folder
    )
    _docs_extension().write_scale_results(docs, out)
    text = out.read_text(encoding="utf-8")
    assert f"* {plan[2]['name']}: **10 workers**" in text
    assert "278 h" in text  # 10**7 pairs / 10 pairs/s per actor
    assert "embed_pairs throughput" in text and "section:" not in text.split("**Machine")[0]


def test_kept_pool_figures_of_an_older_file_get_its_sizes(scale, tmp_path):
    results, bench = scale
    old = bench._tagged([results.figure("BAL-PM round", 3.0, "s", setting="x")], "pool")
    params = {"n": 1000, "n_subset": 100}
    path = results.write_result("bench_scale", "cpu", params, old, argv=[], folder=tmp_path)
    (entry,) = bench.kept_figures(path, ["embedding"])["pool"]
    assert entry["details"]["n"] == 1000 and entry["details"]["n_subset"] == 100
