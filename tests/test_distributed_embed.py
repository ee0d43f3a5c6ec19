"""embed_pairs on a real local Ray cluster against PreferencePairEmbedder.transform."""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HH_SAMPLE_MAX_LENGTH

from skbalpm import PreferencePairEmbedder
from skbalpm._embedding_backends import resolve_model_path, tokenize_with_offsets
from skbalpm._embedding_cache import namespace_key, text_key
from skbalpm.datasets import load_hh_rlhf
from skbalpm.distributed import embed_pairs
from skbalpm.distributed._embed import (
    KEY_BYTES,
    _append_to_store,
    _PairEmbedder,
    _read_store,
)
from skbalpm.embedding import _distinct_inputs

ray = pytest.importorskip("ray")

DIM = 16


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    # the actors unpickle this module's CountingBackend: send it by value, not by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    ray.shutdown()


_TOKENIZERS = {}


class CountingBackend:
    """An EmbeddingBackend: the default model's tokenizer, vectors seeded by the token ids,
    and a log line per input it embeds in the folder named by ``model`` (any process)."""

    def __init__(self, folder, max_length):
        from transformers import AutoTokenizer

        path = str(resolve_model_path("default"))
        if path not in _TOKENIZERS:
            _TOKENIZERS[path] = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer = _TOKENIZERS[path]
        self.max_length = max_length or 256
        self.log = Path(folder) / f"{os.getpid()}-{uuid.uuid4().hex}.log"

    @classmethod
    def identity(cls, model):
        return {"name": "counting", "dim": DIM}

    @classmethod
    def embedding_dim(cls, model):
        return DIM

    @classmethod
    def load(cls, model, *, device, dtype, trust_remote_code, max_length):
        return cls(model, max_length)

    def tokenize(self, texts):
        return tokenize_with_offsets(self.tokenizer, texts)

    def embed(self, input_ids):
        digests = [
            hashlib.sha256(np.asarray(ids, np.int64).tobytes()).digest() for ids in input_ids
        ]
        with open(self.log, "a", encoding="ascii") as log:
            log.writelines(f"{digest.hex()}\n" for digest in digests)
        rows = [
            np.random.default_rng(int.from_bytes(d[:8], "little")).standard_normal(DIM)
            for d in digests
        ]
        return np.asarray(rows, dtype=np.float32)


def embedded(folder):
    """Every input the CountingBackends embedded so far (hex digests of the token ids)."""
    return [line for log in sorted(Path(folder).glob("*.log")) for line in log.read_text().split()]


def counting_embedder(folder):
    return PreferencePairEmbedder(
        str(folder), backend=CountingBackend, max_length=HH_SAMPLE_MAX_LENGTH, cache_dir=None
    )


@pytest.fixture(scope="module")
def hh_pairs(shared_data_dir):
    """36 rows of real HH-RLHF pairs in which prompts repeat: 24 pairs, 6 of them again
    with the responses swapped, and 6 prompts again with other pairs' responses."""
    X = load_hh_rlhf(shared_data_dir / "hh-rlhf" / "helpful-base-test.jsonl.gz").X[:30]
    base = X[:24]
    swapped = base[:6][:, [0, 2, 1]]
    reused = np.column_stack([base[6:12, 0], X[24:30, 1], X[24:30, 2]])
    return np.concatenate([base, swapped, reused]), X


def as_dataset(triples, n_blocks=3):
    rows = [{"prompt": p, "response_a": a, "response_b": b} for p, a, b in triples]
    return ray.data.from_items(rows).repartition(n_blocks)


# --- what is embedded, and how often ------------------------------------------------------


@pytest.mark.real_data
@pytest.mark.slow
def test_each_input_once_a_rerun_nothing_and_new_pairs_only_theirs(hh_pairs, tmp_path):
    triples, X = hh_pairs
    log, store = tmp_path / "log", tmp_path / "store"
    log.mkdir()
    specs, _ = _distinct_inputs(triples)
    assert len(specs) == 24 * 3 + 6 * 2  # 12 of the 36 prompts are repeats

    expected = counting_embedder(log).fit(triples).transform(triples)
    (log / "in-process").mkdir()
    for file in log.glob("*.log"):  # the in-process transform's own log, set aside
        file.rename(log / "in-process" / file.name)

    # an unfitted embedder; small batches over both actors; the dataset in 3 blocks
    features = embed_pairs(
        as_dataset(triples), counting_embedder(log), output=store, batch_size=5, concurrency=2
    )
    # the actors' vectors are seeded by the token ids, as in process: identical features
    pd.testing.assert_frame_equal(features, expected)
    first_run = embedded(log)
    assert len(first_run) == len(specs) == len(set(first_run))  # every input once, no more

    # the rerun embeds nothing, and reads the vectors back from the store
    again = embed_pairs(as_dataset(triples), counting_embedder(log), output=store)
    pd.testing.assert_frame_equal(again, expected)
    assert embedded(log) == first_run

    # four new pairs (two with a prompt seen before), read from a Parquet file
    more = np.concatenate(
        [triples, X[26:28], np.column_stack([triples[:2, 0], X[28:30, 2], X[28:30, 1]])]
    )
    frame = pd.DataFrame(more, columns=["prompt", "response_a", "response_b"]).assign(id=1)
    frame.to_parquet(tmp_path / "pairs.parquet")
    grown = embed_pairs(
        tmp_path / "pairs.parquet", counting_embedder(log), output=store, concurrency=1
    )
    pd.testing.assert_frame_equal(grown.iloc[: len(triples)], expected)
    assert grown.shape == (len(more), 3 * DIM)
    new_inputs = len(_distinct_inputs(more)[0]) - len(specs)
    assert new_inputs == 2 * 3 + 2 * 2  # the two repeated prompts were stored already
    assert len(embedded(log)) == len(first_run) + new_inputs
    (folder,) = store.iterdir()  # one settings hash; a part file per run that embedded
    assert len(list(folder.glob("*.parquet"))) == 2 and (folder / "settings.json").is_file()
    assert sum(pq.read_metadata(f).num_rows for f in folder.glob("*.parquet")) == len(specs) + 10


@pytest.mark.real_model
@pytest.mark.real_data
@pytest.mark.slow
def test_features_equal_the_in_process_ones_with_the_default_model(hh_pairs):
    triples, _ = hh_pairs
    # a prompt in two pairs, one of them with equal responses
    triples = np.concatenate([triples[:12], [[triples[0, 0], "Same.", "Same."]]])
    embedder = PreferencePairEmbedder(max_length=HH_SAMPLE_MAX_LENGTH, cache_dir=None).fit(triples)
    expected = embedder.transform(triples)
    features = embed_pairs(as_dataset(triples), embedder, batch_size=4, concurrency=2)
    assert list(features.columns) == list(expected.columns)
    assert features.to_numpy().dtype == np.float32
    # other inputs share the forward passes (other padding): float32 rounding only
    np.testing.assert_allclose(features.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-6)
    assert embedder.device == "auto"  # the actors' device was set on a copy


# --- pieces, in process --------------------------------------------------------------------


def test_keys_ending_in_nul_bytes_survive_the_actor_and_the_store(tmp_path):
    # a prompt whose key ends in b"\0": numpy's bytes scalars would drop it
    prompt = next(
        f"Prompt {i}?"
        for i in range(5000)
        if text_key("prompt", f"Prompt {i}?", None, None)[-1] == 0
    )
    embedder = counting_embedder(tmp_path).fit([(prompt, "a", "b")])
    key = text_key("prompt", prompt, None, None)
    row = np.frombuffer(
        b"".join(text_key(*s) for s in [("pair", prompt, "a", "b"), ("pair", prompt, "b", "a")])
        + key,
        dtype=f"S{3 * KEY_BYTES}",
    )
    namespace = namespace_key(embedder._settings(embedder._current_identity()))
    owned = np.frombuffer(key, dtype=f"S{KEY_BYTES}")
    actor = _PairEmbedder(embedder, (owned, row), namespace, True)
    table = pa.table({"prompt": [prompt], "response_a": ["a"], "response_b": ["b"]})
    out = actor(table)
    assert out["key"].to_pylist() == [key] and out["vector"].type.list_size == DIM
    vector = np.asarray(out["vector"].to_pylist(), dtype=np.float32)
    _append_to_store(tmp_path / "store", owned, vector, {"settings": 1})
    keys, vectors = _read_store(tmp_path / "store", owned, DIM)
    assert keys.tobytes() == key and np.array_equal(vectors, vector)


def test_a_worker_with_another_model_is_refused(tmp_path):
    embedder = counting_embedder(tmp_path).fit([("q", "a", "b")])
    empty = np.empty(0, f"S{KEY_BYTES}")
    with pytest.raises(RuntimeError, match="not the driver's"):
        _PairEmbedder(embedder, (empty, empty), "another namespace", True)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"embedder": object()}, TypeError, "PreferencePairEmbedder"),
        ({"batch_size": 0}, ValueError, "batch_size must be None or an int >= 1"),
        ({"concurrency": 1.5}, ValueError, "concurrency must be None or an int >= 1"),
        ({"num_gpus": -1}, ValueError, "num_gpus must be None or a number >= 0"),
        ({"output": 3}, TypeError, "output must be None or a folder path"),
        ({"dataset": [("q", "a", "b")]}, TypeError, "ray.data.Dataset or a Parquet path"),
    ],
)
def test_embed_pairs_checks_its_arguments(tmp_path, kwargs, error, match):
    args = {"dataset": "unused.parquet", "embedder": counting_embedder(tmp_path), **kwargs}
    with pytest.raises(error, match=match):
        embed_pairs(args.pop("dataset"), args.pop("embedder"), **args)


def test_embed_pairs_refuses_bad_datasets(tmp_path):
    embedder = counting_embedder(tmp_path)
    no_b = ray.data.from_items([{"prompt": "q", "response_a": "a", "answer": "b"}])
    with pytest.raises(ValueError, match=r"missing \['response_b'\]"):
        embed_pairs(no_b, embedder)
    not_text = ray.data.from_items([{"prompt": "q", "response_a": "a", "response_b": None}])
    with pytest.raises(ValueError, match="must hold text"):
        embed_pairs(not_text, embedder)
    assert embedded(tmp_path) == []  # nothing was embedded


def test_a_cuda_embedder_without_gpus_is_refused_before_any_work(tmp_path):
    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("the cluster has GPUs")
    cuda = counting_embedder(tmp_path).set_params(device="cuda")
    with pytest.raises(ValueError, match="actors get no GPU"):
        embed_pairs(as_dataset([("q", "a", "b")]), cuda)
