"""The real preference sample bundled with the package: loader, provenance, licences, the
command line, and its presence in the built wheel."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer

import skbalpm.embedding
from skbalpm.benchmark._cli import _default_name, load_benchmark_data
from skbalpm.cli import main
from skbalpm.datasets import load_sample_preferences

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "skbalpm" / "datasets" / "data"
SAMPLE_FILES = ["hh-rlhf-helpful-base.jsonl.gz", "tldr-batch13.jsonl.gz"]
LICENCE_FILES = ["LICENSE-hh-rlhf.txt", "LICENSE-tldr.txt"]
PIP = [sys.executable, "-m", "pip", "--quiet", "--no-input", "--disable-pip-version-check"]
OFFLINE = ["--no-index", "--no-deps"]  # the wheel alone: nothing is downloaded


def _records(path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _tools_module():
    spec = importlib.util.spec_from_file_location(
        "make_sample_preferences", REPO / "tools" / "make_sample_preferences.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------ the loader


@pytest.mark.parametrize(
    ("name", "file", "n_pairs"),
    [("hh-rlhf", SAMPLE_FILES[0], 500), ("tldr", SAMPLE_FILES[1], 400)],
)
def test_sample_has_the_loaders_bunch(name, file, n_pairs):
    data = load_sample_preferences(name)
    assert data.X.shape == (n_pairs, 3) and data.X.dtype == object
    assert data.y.shape == (n_pairs,) and set(np.unique(data.y)) == {0, 1}
    assert data.groups.shape == (n_pairs,)
    assert data.n_records == len(data.y) + data.n_skipped == len(_records(DATA_DIR / file))
    assert all(isinstance(text, str) for text in data.X.ravel())
    assert all(prompt.strip() for prompt in data.X[:, 0])  # (a few real responses are blank)
    assert [Path(s).name for s in data.source] == [file]
    assert "Licence" in data.DESCR and str(n_pairs) in data.DESCR


def test_hh_sample_reads_like_the_hh_loader():
    data = load_sample_preferences("hh-rlhf", random_state=0)
    records = _records(DATA_DIR / SAMPLE_FILES[0])
    assert int(data.y.sum()) == len(records) // 2  # balanced a/b assignment
    for (prompt, response_a, response_b), label, record in zip(
        data.X, data.y, records, strict=True
    ):
        chosen, rejected = (response_a, response_b) if label == 0 else (response_b, response_a)
        assert prompt + chosen == record["chosen"] and prompt + rejected == record["rejected"]
    other = load_sample_preferences("hh-rlhf", random_state=1)
    assert not np.array_equal(other.y, data.y)  # the seed moves the a/b assignment only
    swapped = other.y != data.y
    np.testing.assert_array_equal(other.X[swapped][:, [0, 2, 1]], data.X[swapped])


def test_tldr_sample_keeps_the_choice_and_the_posts():
    data = load_sample_preferences("tldr")
    records = _records(DATA_DIR / SAMPLE_FILES[1])
    assert data.y.tolist() == [r["choice"] for r in records]
    assert data.groups.tolist() == [r["info"]["id"] for r in records]
    assert len(set(data.groups)) == 335
    assert all(prompt.endswith("TL;DR:") for prompt in data.X[:, 0])


@pytest.mark.parametrize("name", ["tldr ", "hh", "", None, 1])
def test_unknown_sample_name_lists_the_samples(name):
    with pytest.raises(ValueError, match=r"Unknown sample.*\['hh-rlhf', 'tldr'\]"):
        load_sample_preferences(name)


# ---------------------------------------------------------------------- size and licences


def test_sample_is_small_and_carries_its_licences():
    sizes = {path.name: path.stat().st_size for path in DATA_DIR.iterdir()}
    assert set(SAMPLE_FILES + LICENCE_FILES) <= set(sizes)
    assert sum(sizes.values()) <= 2_000_000
    mit = (DATA_DIR / "LICENSE-hh-rlhf.txt").read_text()
    assert "MIT License" in mit and "Anthropic" in mit
    cc = (DATA_DIR / "LICENSE-tldr.txt").read_text()
    assert "creativecommons.org/licenses/by/4.0" in cc and "Stiennon" in cc


@pytest.mark.real_data
def test_sample_is_the_seeded_selection_of_the_public_files(shared_data_dir):
    """The bundled records are exactly what tools/make_sample_preferences.py selects."""
    selected = _tools_module().build(shared_data_dir)
    for name, file in zip(("hh-rlhf", "tldr"), SAMPLE_FILES, strict=True):
        assert [json.loads(line) for line in selected[name]] == _records(DATA_DIR / file)


@pytest.mark.real_data
def test_tldr_sample_holds_every_comparison_of_its_posts(shared_data_dir):
    path = shared_data_dir / "summarize-from-feedback" / "tldr-batch13.jsonl"
    full = [json.loads(line) for line in path.open(encoding="utf-8")]
    sample = _records(DATA_DIR / SAMPLE_FILES[1])
    posts = {r["info"]["id"] for r in sample}
    assert [r for r in full if r["info"]["id"] in posts] == sample


def test_selection_keeps_posts_whole_and_is_seeded():
    tools = _tools_module()

    def comparison(post, i):
        info = {"id": post, "post": "p", "title": "t", "subreddit": "s"}
        summaries = [{"text": f"a{i}"}, {"text": f"b{i}"}]
        return json.dumps({"info": info, "summaries": summaries, "choice": i % 2}) + "\n"

    lines = [comparison(f"t3_{i % 7}", i) for i in range(30)]
    picked = tools.select_tldr(lines, n_min=10, seed=3)
    posts = {json.loads(line)["info"]["id"] for line in picked}
    assert picked == [line for line in lines if json.loads(line)["info"]["id"] in posts]
    assert len(picked) >= 10 and len(posts) < 7
    assert tools.select_tldr(lines, n_min=10, seed=3) == picked


# ------------------------------------------------------------------------ command line


def test_command_line_names_the_sample():
    assert _default_name(["sample"], None) == "sample-hh-rlhf"
    assert _default_name(["sample:tldr"], None) == "sample-tldr"
    assert _default_name(["sample:tldr"], ["sample:hh-rlhf"]) == "sample-tldr_test-sample-hh-rlhf"
    hh = load_benchmark_data(["sample"])
    np.testing.assert_array_equal(hh.X, load_sample_preferences("hh-rlhf").X)
    assert load_benchmark_data(["sample:tldr"]).X.shape == (400, 3)
    with pytest.raises(ValueError, match="cannot be pooled"):
        load_benchmark_data(["sample", "other.jsonl"])
    with pytest.raises(ValueError, match="Unknown sample 'cnn'"):
        load_benchmark_data(["sample:cnn"])


class HashingPairEmbedder(TransformerMixin, BaseEstimator):
    """Stand-in for the embedding model (fast, offline): hashed word counts of
    prompt + response_a, prompt + response_b and the prompt; records what it embeds."""

    seen: ClassVar[list] = []

    def __init__(self, model="default", device="auto", cache_dir=None, verbose=0):
        self.model = model
        self.device = device
        self.cache_dir = cache_dir
        self.verbose = verbose

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=object)
        HashingPairEmbedder.seen.append(X)
        # 15 columns a block: 45 in all, which splits into three blocks and not into two
        hashing = HashingVectorizer(n_features=15, alternate_sign=False)
        blocks = [X[:, 0] + X[:, 1], X[:, 0] + X[:, 2], X[:, 0]]
        return np.hstack([hashing.transform(b).toarray() for b in blocks]).astype(np.float32)


@pytest.mark.slow
def test_benchmark_command_runs_on_the_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(skbalpm.embedding, "PreferencePairEmbedder", HashingPairEmbedder)
    HashingPairEmbedder.seen = []
    argv = ["benchmark", "--dataset", "sample:tldr", "--strategies", "random,balpm"]
    argv += ["--seeds", "1", "--initial-size", "20", "--batch-size", "10", "--rounds", "2"]
    argv += ["--n-members", "2", "--max-epochs", "2", "--device", "cpu", "--n-jobs", "1"]
    argv += ["--output-dir", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    assert "data set sample-tldr: 400 pairs" in capsys.readouterr().out
    # the real text of the sample went through the embedder
    np.testing.assert_array_equal(HashingPairEmbedder.seen[0], load_sample_preferences("tldr").X)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [Path(s).name for s in saved["config"]["source"]] == [SAMPLE_FILES[1]]
    rounds = {(r["strategy"], r["round"]) for r in saved["rows"]}
    assert rounds == {(s, k) for s in ("random", "balpm") for k in range(3)}


# ------------------------------------------------------------------------------- the wheel


def _build_wheel(tmp_path) -> Path:
    """Build the wheel from a copy of the project (the checkout is left untouched)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, project / name)
    shutil.copytree(
        REPO / "skbalpm", project / "skbalpm", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [*PIP, "wheel", *OFFLINE, "--no-build-isolation", "--wheel-dir", str(dist), str(project)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("skbalpm-*.whl")
    return wheel


@pytest.mark.slow
def test_built_wheel_carries_the_sample_and_loads_it_when_installed(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for file in SAMPLE_FILES + LICENCE_FILES:
        assert f"skbalpm/datasets/data/{file}" in names

    # A fresh environment holding the installed wheel; its dependencies (numpy, torch...)
    # come from this environment's site-packages through a .pth file, which does not
    # run this environment's own .pth files, so the editable checkout is not importable.
    env_dir = tmp_path / "fresh-env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    fresh_python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    fresh_site = Path(
        subprocess.run(
            [str(fresh_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [*PIP, "install", *OFFLINE, "--target", str(fresh_site), str(wheel)],
        check=True,
    )
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    script = (
        "import json, skbalpm\n"
        "from skbalpm.datasets import load_sample_preferences\n"
        "hh, tldr = load_sample_preferences('hh-rlhf'), load_sample_preferences('tldr')\n"
        "print(json.dumps({'package': skbalpm.__file__, 'sources': hh.source + tldr.source,\n"
        "                  'shapes': [hh.X.shape, tldr.X.shape]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        [str(fresh_python), "-c", script],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: its skbalpm/ must not be importable
        env=env,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["shapes"] == [[500, 3], [400, 3]]
    for path in [loaded["package"], *loaded["sources"]]:
        assert Path(path).resolve().is_relative_to(fresh_site.resolve()), path
        assert not Path(path).resolve().is_relative_to(REPO), path
