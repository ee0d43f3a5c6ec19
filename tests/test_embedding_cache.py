"""The embedding cache's guarantees: the model identity, its size, inspecting and clearing
it (``skbalpm cache``), and several processes writing it at once.

The model-identity tests run a tiny real BERT (sentence-transformers layout, 16-d) built
in a temporary folder, so that weights can be changed in place; the others use the fake
model of ``test_embedding.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import struct
import warnings

import numpy as np
import pytest
from test_embedding import PAIRS, FakeBackend, expected_ids, fake_vector, minilm_tokenizer

from skbalpm import PreferencePairEmbedder
from skbalpm import _embedding_backends as backends
from skbalpm._embedding_cache import (
    CACHE_FILENAME,
    EmbeddingCache,
    cache_report,
    namespace_key,
    text_key,
)
from skbalpm._embedding_text import fill_template
from skbalpm.cli import main

TINY_DIM = 16


@pytest.fixture
def fake_model(monkeypatch):
    """The fake model of test_embedding.py in place of the loader; lists the loads."""
    created = []
    monkeypatch.setattr(
        backends, "load_backend", lambda *args: created.append(FakeBackend(256)) or created[-1]
    )
    return created


def build_tiny_sentence_transformer(folder):
    """A 16-d one-layer BERT with the MiniLM tokenizer, saved as a sentence-transformers
    folder (modules.json, mean pooling); random weights from a fixed seed."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = minilm_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=TINY_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)  # test fixture only: a reproducible random model
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": TINY_DIM, "pooling_mode_mean_tokens": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


def perturb_weights_in_place(path):
    """Scale every float32 tensor of a safetensors file, writing into the same file.

    The size, the inode and (restored afterwards) the modification time stay the same, as
    when a tool copies times along: only the bytes, and the change time, differ.
    """
    before = os.stat(path)
    with open(path, "r+b") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
        for name, info in header.items():
            if name == "__metadata__" or info["dtype"] != "F32":
                continue
            begin, end = info["data_offsets"]
            handle.seek(8 + header_size + begin)
            values = np.frombuffer(handle.read(end - begin), dtype="<f4")
            handle.seek(8 + header_size + begin)
            handle.write((values * 1.5 + 0.01).astype("<f4").tobytes())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (
        before.st_size,
        before.st_ino,
        before.st_mtime_ns,
    )


# -- the model identity -------------------------------------------------------------------


@pytest.mark.slow
def test_weights_changed_in_place_give_new_vectors_not_cached_ones(tmp_path):
    folder = build_tiny_sentence_transformer(tmp_path / "tiny")
    cache = tmp_path / "cache"
    embedder = PreferencePairEmbedder(str(folder), cache_dir=cache, device="cpu").fit(PAIRS)
    assert embedder.backend_ == "sentence-transformers" and embedder.embedding_dim_ == TINY_DIM
    before = embedder.transform(PAIRS)
    np.testing.assert_array_equal(embedder.transform(PAIRS), before)  # served by the cache

    perturb_weights_in_place(folder / "model.safetensors")
    fresh = PreferencePairEmbedder(str(folder), cache_dir=None, device="cpu").fit_transform(PAIRS)
    assert not np.allclose(fresh, before, atol=1e-3)  # the change does change the vectors
    # the same fitted embedder: new cache entries and the model reloaded from the new files
    after = embedder.transform(PAIRS)
    np.testing.assert_allclose(after, fresh, rtol=1e-5, atol=1e-6)
    # a new embedder on the same cache is served the new vectors
    refit = PreferencePairEmbedder(str(folder), cache_dir=cache, device="cpu").fit(PAIRS)
    assert refit.model_fingerprint_ != embedder.model_fingerprint_
    np.testing.assert_array_equal(refit.transform(PAIRS), after)
    assert len(cache_report(cache)["namespaces"]) == 2


def test_fingerprint_hashes_big_files_in_full(tmp_path):
    size = 20 << 20  # beyond any "hash the start, middle and end" shortcut
    weights = tmp_path / "model.safetensors"
    with open(weights, "wb") as handle:
        handle.truncate(size)  # sparse zeros
    (tmp_path / "config.json").write_text("{}")
    before = backends.model_fingerprint(tmp_path)
    with open(weights, "r+b") as handle:
        handle.seek(size // 4 + 12345)
        handle.write(b"\x01")
    assert weights.stat().st_size == size
    assert backends.model_fingerprint(tmp_path) != before


def test_fingerprint_reads_each_file_version_once(tmp_path, monkeypatch):
    for name, content in (("config.json", b"{}"), ("w.bin", b"abc" * 1000), ("vocab.txt", b"x")):
        (tmp_path / name).write_bytes(content)
    reads = []
    real_hash = backends._hash_file
    monkeypatch.setattr(backends, "_hash_file", lambda path: reads.append(path) or real_hash(path))
    monkeypatch.setattr(backends, "_FILE_DIGESTS", {})
    first = backends.model_fingerprint(tmp_path)
    assert [backends.model_fingerprint(tmp_path) for _ in range(5)] == [first] * 5
    assert len(reads) == 3  # one read per file in all six calls
    (tmp_path / "w.bin").write_bytes(b"abd" * 1000)  # same size
    assert backends.model_fingerprint(tmp_path) != first
    assert len(reads) == 4  # only the changed file is read again
    assert os.path.basename(reads[-1]) == "w.bin"


def test_library_versions_are_part_of_the_cache_key(fake_model, tmp_path, monkeypatch):
    embedder = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS)
    embedder.transform(PAIRS)
    (backend,) = fake_model
    n_inputs = len(backend.inputs)
    embedder.transform(PAIRS)
    assert len(backend.inputs) == n_inputs  # all cached
    real = backends.library_versions
    assert set(real("sentence-transformers")) >= {"sentence-transformers", "transformers", "torch"}
    monkeypatch.setattr(
        backends,
        "library_versions",
        lambda backend: {**real(backend), "transformers": "0.0.1-another"},
    )
    embedder.transform(PAIRS)
    assert len(backend.inputs) == 2 * n_inputs  # another transformers: computed again


@pytest.mark.slow
def test_verbose_zero_loads_the_model_without_progress_bars(tmp_path, capfd):
    folder = build_tiny_sentence_transformer(tmp_path / "tiny")
    capfd.readouterr()
    PreferencePairEmbedder(str(folder), cache_dir=None, device="cpu").fit_transform(PAIRS)
    err = capfd.readouterr().err
    assert "Loading" not in err and "it/s" not in err and "%|" not in err, err


# -- the size on disk ---------------------------------------------------------------------


@pytest.mark.parametrize("dim", [384, 4096])
def test_an_entry_costs_about_its_vector_on_disk(tmp_path, dim):
    n, chunk = (2000, 500) if dim == 384 else (400, 100)
    rng = np.random.default_rng(0)
    with EmbeddingCache(tmp_path, namespace_key({"dim": dim}), {}) as cache:
        for start in range(0, n, chunk):
            keys = [text_key("pair", f"prompt {i}", "a", None) for i in range(start, start + chunk)]
            cache.put(keys, rng.standard_normal((chunk, dim)).astype(np.float32))
    with sqlite3.connect(tmp_path / CACHE_FILENAME) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    report = cache_report(tmp_path)
    assert report["n_entries"] == n
    per_entry = report["size_bytes"] / n
    # documented: 2.1 kB for d = 384 (1.37 x the vector), 17 kB for d = 4096
    assert per_entry < 1.45 * 4 * dim, per_entry


# -- skbalpm cache info | clear -----------------------------------------------------------


def _fill_cache(cache_dir):
    """Two namespaces of the fake model (two templates) in ``cache_dir``."""
    plain = PreferencePairEmbedder(cache_dir=cache_dir).fit(PAIRS)
    plain.transform(PAIRS)
    other = PreferencePairEmbedder(cache_dir=cache_dir, pair_template="Q: {prompt} A: {response}")
    other.fit(PAIRS).transform(PAIRS[:2])
    return plain


def test_cache_info_reports_location_size_entries_and_models(fake_model, tmp_path, capsys):
    embedder = _fill_cache(tmp_path)
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / CACHE_FILENAME) in out
    assert "entries: 16 in 2 namespaces" in out  # 10 distinct inputs of PAIRS, 6 of PAIRS[:2]
    assert str(embedder.model_path_) in out and embedder.model_fingerprint_[:12] in out
    assert "size on disk:" in out
    assert main(["cache", "info", "--cache-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_entries"] == 16 and report["size_bytes"] > 16 * 4 * 384
    assert sorted(e["n_entries"] for e in report["namespaces"]) == [6, 10]


def test_cache_info_uses_the_auto_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKBALPM_CACHE_DIR", str(tmp_path / "auto"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "auto" / CACHE_FILENAME) in out and "nothing cached yet" in out


def test_cache_clear_one_model_then_everything(fake_model, tmp_path, capsys):
    embedder = _fill_cache(tmp_path)
    (tmp_path / "embeddings-v1.sqlite3").write_bytes(b"an older schema")
    assert main(["cache", "clear", "--cache-dir", str(tmp_path), "--model", "/no/such"]) == 1
    assert cache_report(tmp_path)["n_entries"] == 16
    fingerprint = embedder.model_fingerprint_[:8]
    assert main(["cache", "clear", "--cache-dir", str(tmp_path), "--model", fingerprint, "-y"]) == 0
    report = cache_report(tmp_path)
    assert report["n_entries"] == 0 and report["namespaces"] == []
    assert report["unused_files"]  # a --model clear leaves other files alone
    _fill_cache(tmp_path)
    assert main(["cache", "clear", "--cache-dir", str(tmp_path), "--model", "default", "-y"]) == 0
    assert cache_report(tmp_path)["n_entries"] == 0
    _fill_cache(tmp_path)
    size_full = cache_report(tmp_path)["size_bytes"]
    assert main(["cache", "clear", "--cache-dir", str(tmp_path), "--yes"]) == 0
    report = cache_report(tmp_path)
    assert report["n_entries"] == 0 and report["unused_files"] == {}
    assert report["size_bytes"] < size_full  # the space went back to the file system
    assert "deleted 16 entries" in capsys.readouterr().out
    embedder.transform(PAIRS)  # the cleared cache works on
    assert cache_report(tmp_path)["n_entries"] == 10


def test_cache_clear_asks_first(fake_model, tmp_path, monkeypatch, capsys):
    _fill_cache(tmp_path)

    class Terminal:
        def isatty(self):
            return True

    class Pipe:
        def isatty(self):
            return False

    monkeypatch.setattr("sys.stdin", Pipe())
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 2
    assert "--yes" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda question: "n")
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 1
    assert cache_report(tmp_path)["n_entries"] == 16  # declined twice: nothing deleted
    monkeypatch.setattr("builtins.input", lambda question: "y")
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert cache_report(tmp_path)["n_entries"] == 0


def test_cache_commands_name_an_unreadable_file(tmp_path, capsys):
    (tmp_path / CACHE_FILENAME).write_bytes(b"not a database" * 100)
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 2
    assert str(tmp_path / CACHE_FILENAME) in capsys.readouterr().err


# -- four processes, one cache ------------------------------------------------------------


def _write_in_child(cache_dir, rows, barrier, queue):
    """Child process: fake model; several transforms (each one write transaction)."""
    backends.load_backend = lambda *args: FakeBackend(256)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embedder = PreferencePairEmbedder(cache_dir=cache_dir, batch_size=8).fit(rows)
        barrier.wait(timeout=120)
        outputs = [
            embedder.transform(rows[start : start + 40]) for start in range(0, len(rows), 40)
        ]
    queue.put((np.concatenate(outputs).tobytes(), [str(w.message) for w in caught]))


def _rows_of_child(child):
    """Child k: its own 120 rows plus 60 rows shared with child k + 1 (distinct and
    overlapping texts; prompts repeat across all children)."""
    own = [
        (f"prompt {i % 23}", f"answer {child}-{i} A", f"answer {child}-{i} B") for i in range(120)
    ]
    shared = [
        (f"prompt {i % 23}", f"shared {i} A", f"shared {i} B")
        for i in range(child * 30, child * 30 + 60)
    ]
    return own + shared


def _expected_features(rows):
    """A fresh embedding of every row, computed without any cache."""
    template = "{prompt}\n\nResponse: {response}"
    blocks = []
    for prompt, response_a, response_b in rows:
        texts = [
            fill_template(template, prompt, response_a)[0],
            fill_template(template, prompt, response_b)[0],
            prompt,
        ]
        blocks.append(np.concatenate([fake_vector(expected_ids(text)) for text in texts]))
    return np.stack(blocks)


@pytest.mark.slow
def test_four_processes_write_one_cache_and_every_vector_reads_back_right(tmp_path, monkeypatch):
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(4), context.Queue()
    rows = [_rows_of_child(k) for k in range(4)]
    children = [
        context.Process(target=_write_in_child, args=(tmp_path, rows[k], barrier, queue))
        for k in range(4)
    ]
    for child in children:
        child.start()
    results = [queue.get(timeout=300) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert all(messages == [] for _, messages in results)  # no "cache disabled" fallbacks
    written = {features for features, _ in results}
    for k in range(4):
        assert _expected_features(rows[k]).tobytes() in written  # each child's own output

    def refuse(*args):
        raise AssertionError("a text was missing from the cache")

    monkeypatch.setattr(backends, "load_backend", refuse)
    every_row = list(dict.fromkeys(row for child_rows in rows for row in child_rows))
    read_back = PreferencePairEmbedder(cache_dir=tmp_path).fit(every_row).transform(every_row)
    np.testing.assert_array_equal(read_back, _expected_features(every_row))
    with sqlite3.connect(tmp_path / CACHE_FILENAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    n_texts = 2 * len(every_row) + 23
    assert cache_report(tmp_path)["n_entries"] == n_texts
    print(f"4 writers: {len(every_row)} rows, {n_texts} cached vectors all read back equal")
