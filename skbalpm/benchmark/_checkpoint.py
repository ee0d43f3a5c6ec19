"""The benchmark's files on disk: the checkpoint a run resumes from, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

from skbalpm.benchmark._workers import exit_if_orphaned

_TMP_SUFFIX = ".tmp"


@contextmanager
def replacing(path):
    """A temporary path beside ``path`` that replaces it when the block ends without error.

    The temporary name is unique to the writer, so two processes writing one path never
    mix their bytes; a reader sees the old file or the new one, never a part.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}{_TMP_SUFFIX}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path, text: str):
    """Write ``text`` to ``path`` atomically (see :func:`replacing`)."""
    with replacing(path) as tmp, open(tmp, "x", encoding="utf-8") as f:
        f.write(text)


def remove_stale_temporaries(folder):
    """Delete the temporary files that writers killed mid-write left in ``folder``."""
    for tmp in Path(folder).glob(f".*{_TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)


def run_key(name, seed):
    """The key of run (strategy ``name``, ``seed``) in the checkpoint."""
    return f"{name}|{seed}"


class Checkpoint:
    """The JSON file that lets an interrupted run resume exactly where it stopped.

    ``state["runs"][run_key(name, seed)]`` holds a run's rows and labelled positions,
    ``state["ceiling"][str(seed)]`` a seed's full-pool fit. Worker processes keep their
    run in a partial file of its own between rounds (:meth:`partial_path`); a resumed
    run takes those up (:meth:`merge_partial_runs`).
    """

    def __init__(self, output_dir, config, resume):
        self.path = None if output_dir is None else Path(output_dir) / "checkpoint.json"
        self.state = {"config": config, "runs": {}, "ceiling": {}}
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for folder in (self.path.parent, self.path.parent / "partial"):
            remove_stale_temporaries(folder)
        if resume and self.path.exists():
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            saved["config"] = self._merged_config(saved["config"], config)
            self.state = saved

    def _merged_config(self, saved, config):
        """The saved configuration, with the strategies ``config`` adds to it.

        A folder accumulates strategies: a resumed benchmark may name strategies the
        checkpoint does not hold (their runs are added beside the others, which share the
        splits and initial sets of their seeds). Anything else that differs, a strategy
        name included whose arguments changed, is refused.
        """
        differing = sorted(k for k in set(config) | set(saved) if config.get(k) != saved.get(k))
        if differing == ["strategies"]:
            held, asked = saved["strategies"], config["strategies"]
            changed = sorted(
                name for name in held.keys() & asked.keys() if held[name] != asked[name]
            )
            if not changed:
                return {**saved, "strategies": {**held, **asked}}
            differing = [f"strategies ({', '.join(changed)})"]
        if differing:
            raise ValueError(
                f"{self.path} holds a run with a different configuration (differs in "
                f"{differing}); pass a new output directory or resume=False."
            )
        return saved

    def save(self):
        if self.path is not None:
            atomic_write(self.path, json.dumps(self.state))

    def run(self, name, seed):
        return self.state["runs"][run_key(name, seed)]

    def start_run(self, name, seed, initial):
        """Register run (name, seed) with its initial labelled positions, unless known."""
        self.state["runs"].setdefault(run_key(name, seed), {"rows": [], "labelled": initial})

    def rows(self):
        """Every finished round of every run, run by run."""
        return [row for run in self.state["runs"].values() for row in run["rows"]]

    def partial_path(self, seed, name):
        """Where a worker process keeps run (name, seed) between rounds (or None)."""
        if self.path is None:
            return None
        digest = hashlib.sha1(run_key(name, seed).encode()).hexdigest()[:16]
        return self.path.parent / "partial" / f"run-{digest}.json"

    def remove_partial(self, seed, name):
        path = self.partial_path(seed, name)
        if path is not None:
            path.unlink(missing_ok=True)

    def merge_partial_runs(self):
        """Take up the rounds that worker processes of an interrupted run had finished.

        Once the checkpoint holds them, the partial files go (a run that a worker had
        finished would otherwise leave its file behind for good).
        """
        if self.path is None or not (self.path.parent / "partial").is_dir():
            return
        merged = []
        for key, run in self.state["runs"].items():
            name, seed = key.rsplit("|", 1)
            path = self.partial_path(seed, name)
            if path.exists():
                saved = json.loads(path.read_text(encoding="utf-8"))
                if len(saved["rows"]) > len(run["rows"]):
                    self.state["runs"][key] = saved
                merged.append(path)
        self.save()
        for path in merged:
            path.unlink(missing_ok=True)


class PartialRunWriter:
    """``on_round`` of a run in a worker process: its state to its partial file.

    Writes nothing, and ends the worker, once the process that started it is dead: a
    resumed run may be working in the same folder by then.
    """

    def __init__(self, path, parent_pid):
        self.path = Path(path)
        self.parent_pid = parent_pid

    def __call__(self, run, row):
        exit_if_orphaned(self.parent_pid)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(run))
