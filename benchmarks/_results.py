"""The JSON result file of a speed benchmark, which the documentation renders as a table.

A speed benchmark times a fast implementation against a baseline in the same run, on the
same device, and calls :func:`write_result` once at the end. The file
``docs/benchmarks/speed/<script>_<device>.json`` holds (schema ``skbalpm-speed/1``):

* ``schema``, ``script`` (e.g. ``"bench_acquisition"``), ``device`` (``"cpu"``, ``"cuda"``);
* ``machine`` (:func:`_machine.describe_machine`), ``date`` (UTC, ISO 8601), ``commit``
  (the git commit measured, ``+dirty`` appended when tracked files had changes; null
  outside git), ``versions`` (python, numpy, torch, skbalpm);
* ``command`` (the command line as typed) and ``parameters`` (every option's value);
* ``figures``: one object per measured figure, made by :func:`figure`: ``name`` (what is
  timed), ``setting`` (data and sizes), ``value`` and ``unit``, ``baseline`` (``name``,
  ``value``, ``unit``: the reference it is compared to, measured in the same run; null
  when there is none), ``ratio`` (``value``, ``of``: how it is taken, ``reads``: what it
  means) and ``target`` (``op``, ``value``: the bound the ratio should meet; null when
  none), and ``details`` (further numbers of that measurement).

The documentation build (``write_speed_results`` in ``docs/_ext/skbalpm_docs.py``) renders
these files as tables; the page says "not yet measured" for a script and device without one.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from _machine import describe_machine  # benchmarks/ is on the path when run as a script

import skbalpm

SCHEMA = "skbalpm-speed/1"
REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "docs" / "benchmarks" / "speed"
RATIOS = ("value/baseline", "baseline/value")
TARGET_OPS = ("<=", ">=")


def _number(value, what):
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{what} must be a finite number; got {value!r}.")
    return number


def figure(
    name,
    value,
    unit,
    *,
    setting,
    baseline=None,
    ratio=None,
    reads="",
    target=None,
    details=None,
):
    """One measured figure, compared with a baseline timed in the same run.

    Parameters
    ----------
    name : str
        What is timed, e.g. ``"BAL-PM batch, B = 320"``.
    value : float
        The measured figure, in ``unit``.
    unit : str
        Its unit, e.g. ``"s"`` or ``"pairs/s"``.
    setting : str
        The data and sizes it was measured on.
    baseline : tuple of (str, float, str), optional
        ``(name, value, unit)`` of the reference measured in the same run on the same
        device, or None when the figure has none.
    ratio : {"value/baseline", "baseline/value"}, optional
        How the ratio is taken (needs ``baseline``); None: no ratio.
    reads : str, default=""
        What the ratio means, shown after it, e.g. ``"× faster"``.
    target : tuple of (str, float), optional
        ``("<=" or ">=", bound)`` the ratio should meet.
    details : dict, optional
        Further JSON-serialisable facts of the measurement.

    Returns
    -------
    dict
        The figure as it is stored in the result file.
    """
    entry = {
        "name": str(name),
        "setting": str(setting),
        "value": _number(value, f"{name}: value"),
        "unit": str(unit),
        "baseline": None,
        "ratio": None,
        "target": None,
        "details": dict(details or {}),
    }
    if baseline is not None:
        base_name, base_value, base_unit = baseline
        entry["baseline"] = {
            "name": str(base_name),
            "value": _number(base_value, f"{name}: baseline value"),
            "unit": str(base_unit),
        }
    if ratio is not None:
        if ratio not in RATIOS or entry["baseline"] is None:
            raise ValueError(f"{name}: ratio must be one of {RATIOS} with a baseline.")
        measured, base = entry["value"], entry["baseline"]["value"]
        quotient = measured / base if ratio == "value/baseline" else base / measured
        entry["ratio"] = {"value": quotient, "of": ratio, "reads": str(reads)}
    if target is not None:
        op, bound = target
        if op not in TARGET_OPS or entry["ratio"] is None:
            raise ValueError(f"{name}: target must be (op, bound) with op in {TARGET_OPS}.")
        entry["target"] = {"op": op, "value": _number(bound, f"{name}: target")}
    return entry


def _number_text(value):
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def describe(entry):
    """One line for the console: the figure, its baseline, the ratio and the target."""
    text = f"{entry['name']} [{entry['setting']}]: {_number_text(entry['value'])} {entry['unit']}"
    base = entry["baseline"]
    if base is not None:
        text += f" vs {base['name']} {_number_text(base['value'])} {base['unit']}"
    ratio = entry["ratio"]
    if ratio is not None:
        text += f": {_number_text(ratio['value'])}{ratio['reads']}"
    target = entry["target"]
    if target is not None:
        met = _meets(ratio["value"], target)
        text += f" (target {target['op']} {target['value']:g}: {'met' if met else 'NOT met'})"
    facts = "; ".join(f"{key}: {value}" for key, value in entry["details"].items())
    return text + (f"; {facts}" if facts else "")


def _meets(value, target):
    return value <= target["value"] if target["op"] == "<=" else value >= target["value"]


def _commit():
    """The commit of the measured code, with ``+dirty`` when the tree had changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if status else "")


def _command(script, argv):
    return shlex.join(["python", f"benchmarks/{script}.py", *argv])


def write_result(script, device, parameters, figures, *, argv=None, folder=None):
    """Write ``<folder>/<script>_<device>.json`` atomically and return its path.

    Parameters
    ----------
    script : str
        The benchmark's file name without ``.py``, e.g. ``"bench_acquisition"``.
    device : str
        The device both arms ran on, e.g. ``"cpu"`` or ``"cuda"``.
    parameters : dict
        Every option's value (``vars(args)``); paths are written as strings.
    figures : list of dict
        Made by :func:`figure`.
    argv : list of str, optional
        The options as typed; default ``sys.argv[1:]``.
    folder : path-like, optional
        Default ``docs/benchmarks/speed/`` of this checkout.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if not figures:
        raise ValueError(f"{script}: no figures to write.")
    device = str(torch.device(device).type)  # "cuda:0" -> "cuda": one file per kind
    payload = {
        "schema": SCHEMA,
        "script": script,
        "device": device,
        "machine": describe_machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "skbalpm": skbalpm.__version__,
        },
        "command": _command(script, sys.argv[1:] if argv is None else argv),
        "parameters": {key: _plain(value) for key, value in parameters.items()},
        "figures": list(figures),
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    folder = Path(RESULTS_DIR if folder is None else folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{script}_{device}.json"
    _atomic_write(path, text)
    return path


def _atomic_write(path, text):
    """tmp file + os.replace: an interrupted run never leaves half a result behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the result from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value):
    """A parameter as JSON holds it: paths beside the checkout relative to it."""
    if isinstance(value, os.PathLike):
        # as written first: ../shared may be a link to a folder elsewhere
        for path in (Path(os.path.abspath(value)), Path(value).resolve()):
            if path.is_relative_to(REPO.parent):  # e.g. ../shared/data: no machine's prefix
                return Path(os.path.relpath(path, REPO)).as_posix()
        return Path(value).resolve().as_posix()
    return value
