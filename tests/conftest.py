"""Shared fixtures: the real preference data (bundled sample and ``../shared``), markers."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (or ``$SKBALPM_SHARED_DATA``).

    Real-data tests must run in CI, so a missing folder fails there instead of skipping.
    """
    path = Path(os.environ.get("SKBALPM_SHARED_DATA", _DEFAULT_SHARED_DATA))
    if not path.is_dir():
        message = f"real preference data not found at {path} (set SKBALPM_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def embedding_cache_dir(tmp_path_factory) -> Path:
    """One embedding cache for the whole test session.

    The real-model tests embed the same real pairs with the same settings, so each text
    passes through the model once per session; later transforms are cache look-ups.
    """
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def hh_helpful_sample():
    """200 real HH-RLHF helpful-base pairs (raw triples, labels), drawn with a fixed seed
    from the sample bundled with the package (no ``../shared`` needed)."""
    import numpy as np

    from skbalpm.datasets import load_sample_preferences

    data = load_sample_preferences("hh-rlhf", random_state=0)
    rows = np.random.default_rng(0).choice(len(data.y), size=200, replace=False)
    return data.X[rows], data.y[rows]


HH_SAMPLE_MAX_LENGTH = 128
"""Token window used by every real-model test on ``hh_helpful_sample`` (shares the cache)."""


def fuzz(n_examples):
    """Hypothesis settings of the fuzz tests: the same inputs on every run."""
    return settings(
        max_examples=n_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def print_past_capture(request, lines):
    """Print ``lines`` even under pytest's output capture (the fuzz modules' counts)."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + "\n".join(lines))


class FixedProbs:
    """A fitted-classifier double returning given member probabilities (whatever X)."""

    feature_layout = "a|b|prompt"

    def __init__(self, probs_MN):
        self.probs_MN = probs_MN

    def predict_member_proba(self, X):
        return self.probs_MN


def pytest_collection_modifyitems(config, items):
    """Skip ``gpu`` tests where no CUDA device is present: the only tests CI may skip."""
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


class HashingBackend:
    """A stand-in for the embedding model: the real tokenizer, and for each input a
    pseudo-random vector seeded by its token ids (features with no signal, in no time)."""

    pooling = "fake"

    def __init__(self, tokenizer, max_length, dim=384):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.dim = dim
        self.n_inputs = 0

    def tokenize(self, texts):
        from skbalpm._embedding_backends import tokenize_with_offsets

        return tokenize_with_offsets(self.tokenizer, texts)

    def embed(self, input_ids):
        import hashlib

        import numpy as np

        self.n_inputs += len(input_ids)
        rows = []
        for ids in input_ids:
            digest = hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            rows.append(rng.standard_normal(self.dim).astype(np.float32))
        return np.stack(rows)


@pytest.fixture
def fake_embedding_model(monkeypatch):
    """Replace the embedding model by a :class:`HashingBackend` (the default model's
    tokenizer and config, fake vectors). Use with a temporary cache: the vectors would
    otherwise be cached under the real model's settings. Returns the backends created."""
    from transformers import AutoTokenizer

    from skbalpm import _embedding_backends as backends

    created = []

    def load(path, backend, device, dtype, trust_remote_code, max_length):
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        created.append(HashingBackend(tokenizer, max_length or 256))
        return created[-1]

    monkeypatch.setattr(backends, "load_backend", load)
    return created
