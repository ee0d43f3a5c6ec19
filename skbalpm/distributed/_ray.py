"""Ray, imported on first use: the core package never needs it."""

from __future__ import annotations

import importlib

EXTRA_HINT = 'pip install "skbalpm[ray]"'


def import_ray(module="ray"):
    """Import ``module`` (``"ray"``, ``"ray.data"``, ...), or say which extra provides it.

    Parameters
    ----------
    module : str, default="ray"

    Returns
    -------
    module : module

    Raises
    ------
    ImportError
        If Ray is not installed; the message names the extra ``ray``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"skbalpm.distributed needs Ray ({module}): {EXTRA_HINT}") from exc
