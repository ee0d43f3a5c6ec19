"""Tests of PreferencePairEmbedder, its text assembly, truncation, backends and cache.

Most tests swap the model for ``FakeBackend``: the real all-MiniLM-L6-v2 tokenizer and a
"model" whose vector is a seeded function of the exact token ids, so that every test can
see which inputs reached the model and how often. Tests that load real weights are
marked ``real_model``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import typing
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import skbalpm
from skbalpm import PreferencePairEmbedder, split_feature_blocks, swap_response_blocks
from skbalpm import _embedding_backends as backends
from skbalpm._embedding_cache import CACHE_FILENAME, EmbeddingCache, cache_report
from skbalpm._embedding_text import (
    fill_template,
    sort_order,
    split_token_roles,
    truncate_tokens,
    validate_template,
)
from skbalpm._features import layout_from_names
from skbalpm.datasets import load_hh_rlhf
from skbalpm.embedding import DEFAULT_PAIR_TEMPLATE

DIM = 384  # width of the default model, which fit() reads from its config files

PAIRS = [
    ("What is the capital of France?", "Paris.", "It is Lyon."),
    ("Give me a synonym for happy.", "Joyful.", "Sad."),
    ("What is the capital of France?", "I think Paris.", "Paris."),  # repeated prompt
    ("Tell me a joke.", "Same answer.", "Same answer."),  # identical responses
]


# -- helpers ------------------------------------------------------------------------------


def _minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        str(backends.resolve_model_path("default")), local_files_only=True
    )


_TOKENIZER = None


def minilm_tokenizer():
    global _TOKENIZER
    if _TOKENIZER is None:
        _TOKENIZER = _minilm_tokenizer()
    return _TOKENIZER


def fake_vector(ids) -> np.ndarray:
    """The fake model's output: a pseudo-random vector seeded by the exact token ids."""
    seed = int.from_bytes(hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).digest()[:8])
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


class FakeBackend:
    """Real MiniLM tokenizer, fake model; records every batch it is asked to embed."""

    pooling = "fake"

    def __init__(self, max_length=256):
        self.tokenizer = minilm_tokenizer()
        self.max_length = max_length
        self.batches = []

    def tokenize(self, texts):
        return backends.tokenize_with_offsets(self.tokenizer, texts)

    def embed(self, input_ids):
        self.batches.append([list(ids) for ids in input_ids])
        return np.stack([fake_vector(ids) for ids in input_ids])

    @property
    def inputs(self):
        return [ids for batch in self.batches for ids in batch]


@pytest.fixture
def fake_backend(monkeypatch):
    """Install a FakeBackend in place of the model loader; counts loads."""
    created = []

    def load(path, backend, device, dtype, trust_remote_code, max_length):
        created.append(FakeBackend(max_length or 256))
        return created[-1]

    monkeypatch.setattr(backends, "load_backend", load)
    return created


def forbid_model_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded although every text was cached")

    monkeypatch.setattr(backends, "load_backend", refuse)


def expected_ids(template_text, max_length=256):
    """Token ids of an input short enough to need no truncation (computed independently)."""
    ids = minilm_tokenizer()(template_text)["input_ids"]
    assert len(ids) <= max_length
    return ids


# -- text assembly: pure functions --------------------------------------------------------


def test_fill_template_spans_by_hand():
    text, p_span, r_span = fill_template("Post: {prompt}\nSummary: {response}", "ab", "xyz")
    assert text == "Post: ab\nSummary: xyz"
    assert text[slice(*p_span)] == "ab" and p_span == (6, 8)
    assert text[slice(*r_span)] == "xyz" and r_span == (18, 21)
    # response before prompt, literal braces elsewhere
    text, p_span, r_span = fill_template("{response} {x} <- {prompt}", "P", "R")
    assert (text, p_span, r_span) == ("R {x} <- P", (9, 10), (0, 1))
    assert fill_template("{prompt}", "only", None) == ("only", (0, 4), None)


@pytest.mark.parametrize(
    ("template", "needs_response"),
    [
        ("{prompt}", True),
        ("{prompt}{response}{response}", True),
        ("{prompt}{prompt}{response}", True),
        ("{prompt} {response}", False),
        (3, False),
    ],
)
def test_validate_template_rejects(template, needs_response):
    with pytest.raises(ValueError, match="must"):
        validate_template(template, needs_response=needs_response, name="t")


@pytest.mark.parametrize("template", ["{response}", "Answer: {response}", "{response} <- {prompt}"])
def test_validate_template_accepts_a_response_template_without_the_prompt(template):
    validate_template(template, needs_response=True, name="pair_template")


def test_fill_template_without_the_prompt():
    assert fill_template("A: {response}", "ignored", "xyz") == ("A: xyz", None, (3, 6))
    assert fill_template("{response}", None, "xyz") == ("xyz", None, (0, 3))


def test_sort_order_ignores_input_order():
    lengths, keys = [5, 2, 5, 2], [b"d", b"c", b"a", b"b"]
    order = sort_order(lengths, keys)
    assert order.tolist() == [3, 1, 2, 0]
    permuted = [2, 0, 3, 1]
    order_p = sort_order([lengths[i] for i in permuted], [keys[i] for i in permuted])
    assert [keys[permuted[i]] for i in order_p] == [keys[i] for i in order]


# token layout used in the hand-checked truncation cases below:
# [CLS] p0 p1 p2 p3 | ": " | r0 r1 r2 r3 r4 r5 [SEP]
_PROMPT = (0, 4)
_RESPONSE = (6, 12)
_IDS = [100, 1, 2, 3, 4, 50, 10, 11, 12, 13, 14, 15, 101]
_OFFSETS = [(0, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 6)] + [(6 + i, 7 + i) for i in range(6)]
_OFFSETS += [(0, 0)]
_SPECIAL = [1] + [0] * 11 + [1]


def test_truncation_cuts_the_prompt_from_the_left():
    out = truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, max_length=11)
    assert out == [100, 3, 4, 50, 10, 11, 12, 13, 14, 15, 101]
    assert truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, 13) == _IDS


def test_truncation_keeps_the_response_start_when_it_alone_overflows():
    out = truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, max_length=7)
    # 3 fixed tokens ([CLS], ": ", [SEP]) leave 4 response tokens, all prompt tokens go
    assert out == [100, 50, 10, 11, 12, 13, 101]


def test_truncation_moves_to_the_first_difference():
    # The partner shares r0..r4 (ids 10..14): keeping r0..r3 would make both inputs equal.
    # Budget 4 = 2 head tokens (r0 r1) + a 2-token window starting at the first differing
    # token r5 (n_window // 4 = 0 tokens of context before it).
    partner = [10, 11, 12, 13, 14, 99, 98]
    out = truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, 7, partner)
    assert out == [100, 50, 10, 11, 15, 101]
    # shared r0..r3: the window starts at r4 and holds r4 r5
    out = truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, 7, [10, 11, 12, 13])
    assert out == [100, 50, 10, 11, 14, 15, 101]
    # a difference inside the kept start changes nothing
    out = truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, 7, [10, 11, 77])
    assert out == [100, 50, 10, 11, 12, 13, 101]
    # budget 5, shared r0..r3: the start r0..r4 already holds the difference
    out = truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, 8, [10, 11, 12, 13])
    assert out == [100, 50, 10, 11, 12, 13, 14, 101]


def test_split_token_roles_by_hand():
    in_prompt, in_response = split_token_roles(_OFFSETS, _SPECIAL, _PROMPT, _RESPONSE)
    assert in_prompt == [1, 2, 3, 4] and in_response == [6, 7, 8, 9, 10, 11]


def test_truncation_without_a_prompt_cuts_the_response_and_keeps_pairs_apart():
    # [CLS] r0..r5 [SEP], no prompt in the template
    ids = [100, 10, 11, 12, 13, 14, 15, 101]
    offsets = [(0, 0)] + [(i, i + 1) for i in range(6)] + [(0, 0)]
    special = [1, 0, 0, 0, 0, 0, 0, 1]
    out = truncate_tokens(ids, offsets, special, None, (0, 6), 6, [10, 11, 12, 13, 14, 99])
    assert out == [100, 10, 11, 15, 101]  # head r0 r1 + a window from the difference r5
    assert truncate_tokens(ids, offsets, special, None, (0, 6), 6) == [100, 10, 11, 12, 13, 101]


def test_truncation_rejects_a_window_without_room_for_text():
    with pytest.raises(ValueError, match="template text and special tokens"):
        truncate_tokens(_IDS, _OFFSETS, _SPECIAL, _PROMPT, _RESPONSE, max_length=3)


_words = st.text(alphabet="abc xyz.!?é", min_size=0, max_size=60)


@settings(max_examples=60, deadline=None)
@given(prompt=_words, shared=_words, tail_a=_words, tail_b=_words, max_length=st.integers(8, 40))
def test_truncation_properties_with_the_real_tokenizer(prompt, shared, tail_a, tail_b, max_length):
    """Fits the window, keeps the prompt's end, keeps different responses different."""
    tokenizer = minilm_tokenizer()
    template = "{prompt}\n\nResponse: {response}"
    response_a, response_b = shared + tail_a, shared + tail_b
    filled = [fill_template(template, prompt, r) for r in (response_a, response_b)]
    encs = [
        tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
        for text, _, _ in filled
    ]
    response_ids = [
        [
            enc["input_ids"][i]
            for i in split_token_roles(
                enc["offset_mapping"], enc["special_tokens_mask"], p_span, r_span
            )[1]
        ]
        for enc, (_, p_span, r_span) in zip(encs, filled, strict=True)
    ]
    outs, fulls = [], []
    for side, ((_, p_span, r_span), enc) in enumerate(zip(filled, encs, strict=True)):
        partner = None if response_a == response_b else response_ids[1 - side]
        out = truncate_tokens(
            enc["input_ids"],
            enc["offset_mapping"],
            enc["special_tokens_mask"],
            p_span,
            r_span,
            max_length,
            partner,
        )
        assert len(out) <= max_length
        if len(enc["input_ids"]) <= max_length:
            assert out == enc["input_ids"]
        outs.append(out)
        fulls.append(enc["input_ids"])
    if fulls[0] != fulls[1]:
        assert outs[0] != outs[1]
    else:
        assert outs[0] == outs[1]


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize("max_length", [256, 64])
def test_truncation_keeps_long_hh_rlhf_responses_distinct(shared_data_dir, max_length):
    """All long multi-turn conversations of helpful-online: differing replies stay apart."""
    triples = load_hh_rlhf(shared_data_dir / "hh-rlhf" / "helpful-online-test.jsonl.gz").X
    assert len(triples) > 1000
    embedder = PreferencePairEmbedder(max_length=max_length, cache_dir=None).fit(triples[:1])
    backend = FakeBackend(max_length)
    n_truncated = n_prompt_cut_only = 0
    for prompt, response_a, response_b in triples:
        equal = response_a == response_b
        specs = [
            ("pair", prompt, response_a, None if equal else response_b),
            ("pair", prompt, response_b, None if equal else response_a),
        ]
        ids_a, ids_b = embedder._tokenize(backend, specs)
        assert len(ids_a) <= max_length and len(ids_b) <= max_length
        full = expected_ids_untruncated(prompt, response_a)
        # different token sequences stay different (texts that differ only in what the
        # tokenizer normalises away, e.g. private-use characters, are the same input)
        if full != expected_ids_untruncated(prompt, response_b):
            assert ids_a != ids_b, (prompt[-200:], response_a[:200], response_b[:200])
        if len(full) > max_length:
            n_truncated += 1
            text, p_span, r_span = fill_template(embedder.pair_template, prompt, response_a)
            enc = minilm_tokenizer()(
                text, return_offsets_mapping=True, return_special_tokens_mask=True, verbose=False
            )
            in_prompt, _ = split_token_roles(
                enc["offset_mapping"], enc["special_tokens_mask"], p_span, r_span
            )
            n_dropped = len(full) - len(ids_a)
            if n_dropped <= len(in_prompt):  # the response fits: only the prompt's start goes
                n_prompt_cut_only += 1
                assert ids_a == full[:1] + full[1 + n_dropped :]
    assert n_truncated > 100  # the test really exercises truncation
    assert n_prompt_cut_only > 10  # ... of both kinds
    assert n_truncated - n_prompt_cut_only > 10


def expected_ids_untruncated(prompt, response):
    text, _, _ = fill_template("{prompt}\n\nResponse: {response}", prompt, response)
    return minilm_tokenizer()(text, verbose=False)["input_ids"]


def _contains(sequence, part):
    n = len(part)
    return any(sequence[i : i + n] == part for i in range(len(sequence) - n + 1))


# -- the transformer with a fake model ----------------------------------------------------


# scikit-learn's common checks, run on the embedder. The ones below fit or transform
# random numeric arrays; the embedder takes (prompt, response_a, response_b) text triples
# and rejects numbers with a ValueError that says so (scikit-learn skips these checks for
# its own text vectorizers). The API checks (cloning, parameters, tags, unfitted errors,
# 1-d input) all run and pass; the input contract has its own tests in this file.
_NUMERIC_INPUT = "feeds numeric arrays; the embedder takes text triples"
EMBEDDER_EXPECTED_FAILED_CHECKS = dict.fromkeys(
    (
        "check_complex_data",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimators_dtypes",
        "check_estimators_empty_data_messages",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
    ),
    _NUMERIC_INPUT,
)


@parametrize_with_checks(
    [PreferencePairEmbedder(cache_dir=None)],
    expected_failed_checks=lambda est: EMBEDDER_EXPECTED_FAILED_CHECKS,
)
def test_embedder_sklearn_checks(estimator, check):
    check(estimator)


def test_output_layout_dtype_and_names(fake_backend):
    embedder = PreferencePairEmbedder(cache_dir=None)
    features = embedder.fit_transform(PAIRS)
    assert isinstance(features, pd.DataFrame) and features.shape == (len(PAIRS), 3 * DIM)
    assert features.to_numpy().dtype == np.float32 and set(features.dtypes) == {
        np.dtype(np.float32)
    }
    assert features.index.tolist() == list(range(len(PAIRS)))
    for row, (prompt, response_a, response_b) in enumerate(PAIRS):
        X_a, X_b, X_p = split_feature_blocks(features[row : row + 1])
        text_a, _, _ = fill_template(embedder.pair_template, prompt, response_a)
        text_b, _, _ = fill_template(embedder.pair_template, prompt, response_b)
        np.testing.assert_array_equal(X_a[0], fake_vector(expected_ids(text_a)))
        np.testing.assert_array_equal(X_b[0], fake_vector(expected_ids(text_b)))
        np.testing.assert_array_equal(X_p[0], fake_vector(expected_ids(prompt)))
    names = embedder.get_feature_names_out()
    assert names.shape == (3 * DIM,)
    assert names[[0, DIM - 1, DIM, 2 * DIM, 3 * DIM - 1]].tolist() == [
        "a_0",
        f"a_{DIM - 1}",
        "b_0",
        "prompt_0",
        f"prompt_{DIM - 1}",
    ]
    assert features.columns.tolist() == names.tolist()  # the layout travels with the features
    assert layout_from_names(features.columns) == "a|b|prompt"


def test_pandas_output_keeps_names_and_the_input_index(fake_backend):
    frame = pd.DataFrame(PAIRS, columns=["prompt", "response_a", "response_b"])
    frame.index = [f"pair {i}" for i in range(len(PAIRS))]
    embedder = PreferencePairEmbedder(cache_dir=None)
    default = embedder.fit_transform(frame)
    assert default.index.tolist() == frame.index.tolist()  # rows line up with the table's
    as_pandas = clone(embedder).set_output(transform="pandas").fit_transform(frame)
    pd.testing.assert_frame_equal(as_pandas, default)
    assert embedder.set_output(transform="default").transform(frame).equals(default)
    bare = np.asarray(default)
    assert bare.dtype == np.float32 and bare.shape == (len(PAIRS), 3 * DIM)


def test_accepts_dataframe_and_array(fake_backend):
    frame = pd.DataFrame(PAIRS, columns=["prompt", "response_a", "response_b"])
    embedder = PreferencePairEmbedder(cache_dir=None).fit(frame)
    np.testing.assert_array_equal(
        embedder.transform(frame), embedder.transform(np.array(PAIRS, dtype=object))
    )


def test_each_distinct_text_reaches_the_model_once(fake_backend):
    embedder = PreferencePairEmbedder(cache_dir=None, batch_size=3)
    embedder.fit_transform(PAIRS + PAIRS)
    (backend,) = fake_backend
    inputs = [tuple(ids) for ids in backend.inputs]
    assert len(inputs) == len(set(inputs))
    # 8 response inputs: row 4's two are identical, and "Paris." after the France prompt
    # appears in rows 1 and 3 (with different partners, but neither overflows so the
    # token ids are the same) -> 6 inputs, plus 3 distinct prompts
    assert len(inputs) == 6 + 3
    assert all(len(batch) <= 3 for batch in backend.batches)
    lengths = [len(ids) for ids in backend.inputs]
    assert lengths == sorted(lengths)  # sorted by length before batching


def test_swap_property_exact(fake_backend):
    X = np.array(PAIRS, dtype=object)
    embedder = PreferencePairEmbedder(cache_dir=None).fit(X)
    features = embedder.transform(X)
    swapped = embedder.transform(X[:, [0, 2, 1]])
    np.testing.assert_array_equal(swapped, swap_response_blocks(features))


def test_response_only_template_embeds_responses_alone(fake_backend, tmp_path):
    rows = [
        ("What is the capital of France?", "Paris.", "Lyon."),
        ("Name a French city.", "Paris.", "Nice."),  # the same response under another prompt
    ]
    embedder = PreferencePairEmbedder(cache_dir=tmp_path, pair_template="{response}").fit(rows)
    features = embedder.transform(rows)
    X_a, X_b, X_p = split_feature_blocks(features)
    np.testing.assert_array_equal(X_a[0], fake_vector(expected_ids("Paris.")))
    np.testing.assert_array_equal(X_b[1], fake_vector(expected_ids("Nice.")))
    np.testing.assert_array_equal(X_a[0], X_a[1])  # the prompt plays no part in a response block
    np.testing.assert_array_equal(X_p[1], fake_vector(expected_ids(rows[1][0])))  # BAL-PM's
    (backend,) = fake_backend
    assert len(backend.inputs) == 3 + 2  # "Paris.", "Lyon.", "Nice." and the two prompts
    swapped = embedder.transform(np.array(rows, dtype=object)[:, [0, 2, 1]])
    np.testing.assert_array_equal(swapped, swap_response_blocks(features))
    # one cache, two templates: each template's own vectors
    with_prompt = PreferencePairEmbedder(cache_dir=tmp_path).fit(rows).transform(rows)
    text, _, _ = fill_template(DEFAULT_PAIR_TEMPLATE, rows[0][0], "Paris.")
    np.testing.assert_array_equal(with_prompt.to_numpy()[0, :DIM], fake_vector(expected_ids(text)))
    np.testing.assert_array_equal(embedder.transform(rows), features)  # served from the cache


def test_response_only_template_keeps_long_responses_of_a_pair_apart(fake_backend):
    shared = " ".join(["word"] * 40)
    rows = [("Prompt?", f"{shared} yes", f"{shared} no")]
    embedder = PreferencePairEmbedder(cache_dir=None, pair_template="{response}", max_length=12)
    X_a, X_b, _ = split_feature_blocks(embedder.fit_transform(rows))
    assert not np.array_equal(X_a, X_b)
    (backend,) = fake_backend
    assert all(len(ids) <= 12 for ids in backend.inputs)


def test_normalize(fake_backend):
    features = PreferencePairEmbedder(cache_dir=None, normalize=True).fit_transform(PAIRS)
    norms = np.linalg.norm(features.to_numpy().reshape(-1, DIM), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)


def test_fit_loads_no_model_and_unfitted_transform_fails(monkeypatch):
    forbid_model_loading(monkeypatch)
    embedder = PreferencePairEmbedder(cache_dir=None)
    with pytest.raises(NotFittedError):
        embedder.transform(PAIRS)
    assert embedder.fit(PAIRS) is embedder
    assert embedder.embedding_dim_ == DIM
    assert embedder.backend_ == "sentence-transformers"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"pair_template": "{prompt} only"}, "pair_template"),
        ({"prompt_template": "{prompt}{response}"}, "prompt_template"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 2}, "max_length"),
        ({"backend": "onnx"}, "backend"),
        ({"dtype": "int8"}, "dtype"),
        ({"cache_dir": 3}, "cache_dir"),
        ({"device": "tpu"}, "device"),
        ({"normalize": "yes"}, "normalize"),
        ({"trust_remote_code": "no"}, "trust_remote_code"),
        ({"verbose": -1}, "verbose"),
        ({"verbose": 0.5}, "verbose"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_parameters_raise_value_error(params, match):
    with pytest.raises(ValueError, match=match):
        PreferencePairEmbedder(**params).fit(PAIRS)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="shape"):
        PreferencePairEmbedder(cache_dir=None).fit([("only", "two")])


def test_unknown_model_fails_at_once_without_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ValueError, match="never downloads") as info:
        PreferencePairEmbedder(model="nobody/no-such-model-xyz").fit(PAIRS)
    assert "model='default'" in str(info.value)


def test_auto_backend_cannot_tell(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"]}))
    with pytest.raises(ValueError, match="backend='sentence-transformers'"):
        backends.detect_backend(tmp_path)


def test_fingerprint_changes_with_the_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 1000)
    before = backends.model_fingerprint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 999 + b"\1")
    assert backends.model_fingerprint(tmp_path) != before
    (tmp_path / "README.md").write_text("notes")
    assert backends.model_fingerprint(tmp_path) != before  # weights differ still
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 1000)
    assert backends.model_fingerprint(tmp_path) == before  # READMEs do not count


def test_clone_and_pickle_drop_the_model(fake_backend, tmp_path):
    embedder = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS)
    features = embedder.transform(PAIRS)
    assert getattr(embedder, "_loaded_backend", None) is not None
    restored = pickle.loads(pickle.dumps(embedder))
    assert getattr(restored, "_loaded_backend", None) is None
    assert clone(embedder).get_params() == embedder.get_params()
    np.testing.assert_array_equal(restored.transform(PAIRS), features)
    assert len(fake_backend) == 1  # restored served from the cache, never loaded a model


# -- backends as plug-ins (the EmbeddingBackend protocol) ----------------------------------


REAL_LOAD_BACKEND = backends.load_backend  # before any fixture replaces it


class PluginBackend:
    """FakeBackend's vectors behind the EmbeddingBackend protocol (a class, no loader patch)."""

    version = 1
    loads: typing.ClassVar[list] = []

    def __init__(self, max_length):
        self.max_length = max_length or 256
        self.inner = FakeBackend(self.max_length)

    @classmethod
    def identity(cls, model):
        return {"name": "plugin", "model": str(model), "version": cls.version}

    @classmethod
    def embedding_dim(cls, model):
        return DIM

    @classmethod
    def load(cls, model, *, device, dtype, trust_remote_code, max_length):
        cls.loads.append((model, device, dtype, trust_remote_code, max_length))
        return cls(max_length)

    def tokenize(self, texts):
        return self.inner.tokenize(texts)

    def embed(self, input_ids):
        return self.inner.embed(input_ids)


def test_a_backend_class_runs_like_the_built_in_backend(fake_backend, monkeypatch, tmp_path):
    monkeypatch.setattr(PluginBackend, "loads", [])
    built_in = PreferencePairEmbedder(cache_dir=None, max_length=16).fit(PAIRS)
    expected = built_in.transform(PAIRS)  # FakeBackend through the patched loader
    monkeypatch.setattr(backends, "load_backend", REAL_LOAD_BACKEND)
    plugin = PreferencePairEmbedder(
        "any-name", backend=PluginBackend, cache_dir=tmp_path, max_length=16
    ).fit(PAIRS)
    assert isinstance(PluginBackend(None), skbalpm.EmbeddingBackend)
    assert plugin.backend_ is PluginBackend and plugin.model_path_ is None
    assert PluginBackend.loads == []  # the class gave the width: fit loaded nothing
    # the same token ids, truncated by the embedder alike, give the same vectors
    np.testing.assert_array_equal(plugin.transform(PAIRS), expected)
    assert PluginBackend.loads == [("any-name", "cpu", "float32", False, 16)]
    # a clone of the same identity is served from the cache, loading nothing
    again = clone(plugin)
    assert again.get_params()["backend"] is PluginBackend
    np.testing.assert_array_equal(again.fit(PAIRS).transform(PAIRS), expected)
    assert len(PluginBackend.loads) == 1
    # a new identity is a new cache namespace, and the model is loaded again
    monkeypatch.setattr(PluginBackend, "version", 2)
    plugin.transform(PAIRS)
    assert len(PluginBackend.loads) == 2
    description = cache_report(tmp_path)["namespaces"]
    assert {entry["backend"] for entry in description} == {"test_embedding.PluginBackend"}
    assert sorted(entry["version"] for entry in description) == [1, 2]


def test_a_backend_class_without_a_width_is_measured_at_fit(monkeypatch):
    monkeypatch.setattr(PluginBackend, "loads", [])
    monkeypatch.setattr(PluginBackend, "embedding_dim", classmethod(lambda cls, model: None))
    embedder = PreferencePairEmbedder("m", backend=PluginBackend, cache_dir=None).fit(PAIRS)
    assert embedder.embedding_dim_ == DIM and len(PluginBackend.loads) == 1


def test_a_backend_class_missing_a_method_is_refused():
    class NoEmbed:
        max_length = 8

        @classmethod
        def identity(cls, model):
            return {}

        @classmethod
        def embedding_dim(cls, model):
            return 4

        @classmethod
        def load(cls, model, **kwargs):
            return cls()

        def tokenize(self, texts):
            return []

    with pytest.raises(ValueError, match="NoEmbed has no embed"):
        PreferencePairEmbedder(backend=NoEmbed).fit(PAIRS)
    with pytest.raises(ValueError, match="backend must be one of"):
        PreferencePairEmbedder(backend=PluginBackend(8)).fit(PAIRS)  # an instance


def test_built_in_identity_keeps_the_cache_keys_of_earlier_versions():
    embedder = PreferencePairEmbedder(cache_dir=None).fit(PAIRS)
    settings = embedder._settings(embedder._current_identity())
    # the namespace as it was computed before the backend protocol existed
    assert settings == {
        "model_fingerprint": backends.model_fingerprint(embedder.model_path_),
        "libraries": backends.library_versions("sentence-transformers"),
        "backend": "sentence-transformers",
        "pooling": "st-modules",
        "pair_template": DEFAULT_PAIR_TEMPLATE,
        "prompt_template": "{prompt}",
        "max_length": None,
        "normalize": False,
        "dtype": "float32",
        "format": 1,
    }


# -- the cache ----------------------------------------------------------------------------


def test_cache_hit_is_bit_identical_and_loads_no_model(fake_backend, monkeypatch, tmp_path):
    first = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS).transform(PAIRS)
    forbid_model_loading(monkeypatch)
    second = clone(PreferencePairEmbedder(cache_dir=tmp_path)).fit(PAIRS).transform(PAIRS)
    assert first.to_numpy().tobytes() == second.to_numpy().tobytes()


def test_cache_computes_only_the_misses(fake_backend, tmp_path):
    embedder = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS)
    embedder.transform(PAIRS[:2])
    new_row = ("A new prompt?", "Paris.", "It is Lyon.")
    embedder.transform([*PAIRS[:2], new_row])
    (backend,) = fake_backend
    assert len(backend.inputs) == 6 + 3  # 6 for the first two rows, then 3 new texts


def test_cache_keys_separate_settings(fake_backend, tmp_path):
    plain = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS)
    other = PreferencePairEmbedder(cache_dir=tmp_path, pair_template="Q: {prompt} A: {response}")
    short = PreferencePairEmbedder(cache_dir=tmp_path, max_length=8)
    X = [("A prompt that is long enough to be cut here.", "Yes.", "No.")]
    features = [e.fit(X).transform(X).to_numpy() for e in (plain, other, short)]
    assert not np.array_equal(features[0][:, :DIM], features[1][:, :DIM])
    assert not np.array_equal(features[0][:, :DIM], features[2][:, :DIM])


def test_corrupted_cache_file_is_moved_aside(fake_backend, tmp_path):
    embedder = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS)
    expected = embedder.transform(PAIRS)
    for suffix in ("-wal", "-shm"):
        (tmp_path / (CACHE_FILENAME + suffix)).unlink(missing_ok=True)
    (tmp_path / CACHE_FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.warns(UserWarning, match="not a readable SQLite database"):
        again = embedder.transform(PAIRS)
    np.testing.assert_array_equal(again, expected)
    assert list(tmp_path.glob(CACHE_FILENAME + ".corrupt-*"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(embedder.transform(PAIRS), expected)  # fresh cache


def test_corrupted_entries_are_misses(fake_backend, tmp_path):
    embedder = PreferencePairEmbedder(cache_dir=tmp_path).fit(PAIRS)
    expected = embedder.transform(PAIRS)
    with sqlite3.connect(tmp_path / CACHE_FILENAME) as conn:
        keys = [row[0] for row in conn.execute("SELECT text_key FROM embeddings")]
        conn.execute("UPDATE embeddings SET vector = ? WHERE text_key = ?", (b"\0" * 7, keys[0]))
        nan_blob = np.full(DIM, np.nan, dtype="<f4").tobytes()
        conn.execute("UPDATE embeddings SET vector = ? WHERE text_key = ?", (nan_blob, keys[1]))
    (backend,) = fake_backend
    n_before = len(backend.inputs)
    np.testing.assert_array_equal(embedder.transform(PAIRS), expected)
    assert len(backend.inputs) - n_before == 2  # exactly the two bad entries recomputed


def test_unusable_cache_folder_falls_back(fake_backend, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    embedder = PreferencePairEmbedder(cache_dir=blocker / "cache").fit(PAIRS)
    with pytest.warns(UserWarning, match="cache disabled"):
        features = embedder.transform(PAIRS)
    assert features.shape == (len(PAIRS), 3 * DIM)


def _texts(row):
    prompt, response_a, response_b = row
    template = "{prompt}\n\nResponse: {response}"
    return [
        fill_template(template, prompt, response_a)[0],
        fill_template(template, prompt, response_b)[0],
        prompt,
    ]


def test_cache_class_round_trip(tmp_path):
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    with EmbeddingCache(tmp_path, "ns", {"x": 1}) as cache:
        cache.put([b"a", b"b", b"c"], vectors)
    with EmbeddingCache(tmp_path, "other", {}) as cache:
        assert cache.get([b"a"]) == {}  # namespaces are separate
    with EmbeddingCache(tmp_path, "ns", {}) as cache:
        found = cache.get([b"c", b"a", b"zz"])
    assert set(found) == {b"a", b"c"}
    np.testing.assert_array_equal(found[b"c"], [4.0, 5.0])


# -- real models --------------------------------------------------------------------------


@pytest.mark.real_model
@pytest.mark.slow
def test_default_model_matches_sentence_transformers_encode(tmp_path):
    from sentence_transformers import SentenceTransformer

    embedder = PreferencePairEmbedder(cache_dir=tmp_path, device="cpu").fit(PAIRS)
    features = embedder.transform(PAIRS)
    model = SentenceTransformer(
        str(backends.resolve_model_path("default")), device="cpu", local_files_only=True
    )
    reference = np.stack(
        [np.concatenate(model.encode(_texts(row), convert_to_numpy=True)) for row in PAIRS]
    )
    np.testing.assert_allclose(features, reference, atol=2e-5)
    X = np.array(PAIRS, dtype=object)
    swapped = PreferencePairEmbedder(cache_dir=None, device="cpu").fit(X).transform(X[:, [0, 2, 1]])
    np.testing.assert_array_equal(swapped, swap_response_blocks(features))


@pytest.mark.real_model
@pytest.mark.real_data
@pytest.mark.slow
def test_default_model_on_long_hh_rlhf_keeps_pairs_apart(shared_data_dir):
    triples = load_hh_rlhf(shared_data_dir / "hh-rlhf" / "helpful-online-test.jsonl.gz").X
    lengths = np.array([len(p) + len(a) for p, a, _ in triples])
    longest = triples[np.argsort(lengths)[-24:]]  # all far beyond 256 tokens
    features = PreferencePairEmbedder(cache_dir=None, device="cpu").fit_transform(longest)
    X_a, X_b, _ = split_feature_blocks(features)
    # pairs whose texts differ only in what the tokenizer normalises away are one input
    differ = np.array(
        [expected_ids_untruncated(p, a) != expected_ids_untruncated(p, b) for p, a, b in longest]
    )
    assert differ.sum() > 20
    assert (np.abs(X_a - X_b).max(axis=1)[differ] > 1e-4).all()


_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (test)")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    from skbalpm import PreferencePairEmbedder

    X = [("Is the sky blue?", "Yes.", "No.")]
    features = PreferencePairEmbedder(cache_dir=None, device="cpu").fit_transform(X)
    print("shape", features.shape, features.to_numpy().dtype)
    """
)


@pytest.mark.real_model
@pytest.mark.slow
def test_default_model_loads_offline_without_network(tmp_path):
    env = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-home"),  # nothing cached to fall back on
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "shape (1, 1152) float32" in done.stdout


# -- causal-LM backend on a tiny random model ---------------------------------------------


def _tiny_causal_lm(folder, architecture, padding_side):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = minilm_tokenizer()
    vocab_size = len(tokenizer)
    torch.manual_seed(0)  # test fixture only: a reproducible random model
    if architecture == "gpt2":
        config = GPT2Config(vocab_size=vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=2)
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
        model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.padding_side = padding_side
    tokenizer.save_pretrained(folder)
    tokenizer.padding_side = "right"
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["gpt2", "llama"])
@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_causal_lm_last_token_pooling(tmp_path, architecture, padding_side):
    import torch
    from transformers import AutoModel

    folder = _tiny_causal_lm(tmp_path / "lm", architecture, padding_side)
    embedder = PreferencePairEmbedder(str(folder), cache_dir=None, device="cpu", batch_size=8)
    rows = [("Hi?", "Hello there, how are you doing today?", "No."), *PAIRS]
    features = embedder.fit_transform(rows).to_numpy()
    assert embedder.backend_ == "causal-lm" and embedder.embedding_dim_ == 32
    assert embedder._loaded_backend.tokenizer.padding_side == padding_side
    assert features.shape == (len(rows), 96) and features.dtype == np.float32
    # independent reference: each text alone, no padding, hidden state of its last token
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    for row, triple in enumerate(rows):
        for block, text in enumerate(_texts(triple)):
            ids = torch.tensor([minilm_tokenizer()(text)["input_ids"]])
            with torch.inference_mode():
                expected = model(input_ids=ids).last_hidden_state[0, -1].numpy()
            got = features[row, block * 32 : (block + 1) * 32]
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_causal_lm_truncates_to_its_window(tmp_path):
    folder = _tiny_causal_lm(tmp_path / "lm", "llama", "left")
    long_prompt = " ".join(["word"] * 200)
    rows = [(long_prompt, "Short yes.", "Short no.")]
    embedder = PreferencePairEmbedder(str(folder), cache_dir=None, device="cpu").fit(rows)
    X_a, X_b, _ = split_feature_blocks(embedder.transform(rows))  # would fail past 64 tokens
    assert embedder._loaded_backend.max_length == 64
    assert not np.array_equal(X_a, X_b)


@pytest.mark.gpu
def test_causal_lm_bfloat16_on_cuda(tmp_path):
    folder = _tiny_causal_lm(tmp_path / "lm", "llama", "left")
    rows = PAIRS
    gpu = PreferencePairEmbedder(str(folder), cache_dir=None, device="cuda").fit(rows)
    cpu = PreferencePairEmbedder(str(folder), cache_dir=None, device="cpu").fit(rows)
    features_gpu, features_cpu = gpu.transform(rows).to_numpy(), cpu.transform(rows).to_numpy()
    assert gpu._loaded_backend.model.dtype.__str__() == "torch.bfloat16"
    assert features_gpu.dtype == np.float32
    cosine = (features_gpu * features_cpu).sum(1) / (
        np.linalg.norm(features_gpu, axis=1) * np.linalg.norm(features_cpu, axis=1)
    )
    assert (cosine > 0.98).all()


@pytest.mark.gpu
@pytest.mark.real_model
def test_default_model_on_cuda_matches_cpu():
    gpu = PreferencePairEmbedder(cache_dir=None, device="cuda").fit_transform(PAIRS)
    cpu = PreferencePairEmbedder(cache_dir=None, device="cpu").fit_transform(PAIRS)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)
