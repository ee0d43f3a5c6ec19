"""Shared fixtures: where the real preference data lives, and marker handling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


def pytest_collection_modifyitems(config, items):
    """Skip ``gpu`` tests where no CUDA device is present: the only tests CI may skip."""
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
