"""Persistent on-disk cache of text embeddings (SQLite, standard library only).

One SQLite file, ``embeddings-v1.sqlite3``, in the cache folder holds the embeddings of
every model. A row is keyed by ``(namespace, text_key)``:

* ``namespace`` -- a hash of everything that changes the numbers besides the text: the
  model identity (see :func:`skbalpm._embedding_backends.model_fingerprint`), the backend,
  the templates, ``max_length``, ``normalize``, the pooling and the dtype;
* ``text_key`` -- the SHA-256 of the exact text pieces (prompt, response, ...).

Values are raw little-endian float32 bytes. Safety:

* two processes may share a folder: WAL journal, a generous busy timeout, and every batch
  of writes in one ``BEGIN IMMEDIATE`` transaction;
* a crash mid-write leaves the previous state (SQLite transactions are atomic);
* every read is checked (blob length against the namespace's dimension, finite values) and
  a bad entry is treated as a miss and overwritten;
* a file that is not a readable SQLite database is moved aside with a warning and a fresh
  cache is started; if even that fails the transform runs without the cache.

WAL needs a local file system (not NFS); see the SQLite documentation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
import warnings
from pathlib import Path

import numpy as np

CACHE_FILENAME = "embeddings-v1.sqlite3"
"""Name of the SQLite file inside the cache folder (the suffix versions the schema)."""

_BUSY_TIMEOUT_MS = 120_000  # a writer of a big batch may hold the lock for a while
_SQL_CHUNK = 500  # stay below SQLite's limit on bound parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY,
    dim INTEGER NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    namespace TEXT NOT NULL,
    text_key BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (namespace, text_key)
) WITHOUT ROWID;
"""


def default_cache_dir() -> Path:
    """The cache folder used when ``cache_dir="auto"``.

    ``$SKBALPM_CACHE_DIR`` when set, else the platform's user cache folder:
    ``$XDG_CACHE_HOME/skbalpm`` or ``~/.cache/skbalpm`` (``%LOCALAPPDATA%\\skbalpm`` on
    Windows).

    Returns
    -------
    path : Path
        The folder (not created here).

    Examples
    --------
    >>> default_cache_dir().name in ("skbalpm", os.environ.get("SKBALPM_CACHE_DIR", ""))
    True
    """
    env = os.environ.get("SKBALPM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "skbalpm"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skbalpm"


def text_key(*pieces: str | None) -> bytes:
    """SHA-256 of the exact text pieces (unambiguous: JSON-encoded as a list).

    Parameters
    ----------
    *pieces : str or None
        The pieces that together determine one model input.

    Returns
    -------
    key : bytes of length 32

    Examples
    --------
    >>> text_key("a", "bc") != text_key("ab", "c")
    True
    """
    return hashlib.sha256(json.dumps(list(pieces)).encode("utf-8")).digest()


def namespace_key(description: dict) -> str:
    """Hex SHA-256 of a JSON-serialisable description of the settings.

    Parameters
    ----------
    description : dict
        Everything besides the text that changes the embedding.

    Returns
    -------
    namespace : str

    Examples
    --------
    >>> namespace_key({"a": 1, "b": 2}) == namespace_key({"b": 2, "a": 1})
    True
    """
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """SQLite store of float32 vectors for one namespace; use as a context manager.

    The connection is opened on ``__enter__`` and closed on ``__exit__`` so that nothing
    process-bound outlives one transform (safe with fork, pickling and joblib).

    Parameters
    ----------
    cache_dir : str or Path
        Folder of the SQLite file; created when missing.
    namespace : str
        From :func:`namespace_key`.
    description : dict
        Stored beside the namespace for people inspecting the file.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with EmbeddingCache(d, "ns", {}) as cache:
    ...         cache.put([b"k"], np.ones((1, 2), dtype=np.float32))
    ...         found = cache.get([b"k", b"missing"])
    >>> sorted(found), found[b"k"].tolist()
    ([b'k'], [1.0, 1.0])
    """

    def __init__(self, cache_dir, namespace: str, description: dict):
        self.cache_dir = Path(cache_dir)
        self.namespace = namespace
        self.description = description
        self._conn: sqlite3.Connection | None = None
        self._dim: int | None = None

    @property
    def path(self) -> Path:
        """Path of the SQLite file."""
        return self.cache_dir / CACHE_FILENAME

    # -- connection ---------------------------------------------------------------------

    def __enter__(self) -> EmbeddingCache:
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._close()
            self._move_aside(exc)
            try:
                self._open()
            except (sqlite3.Error, OSError) as exc2:
                self._disable(f"the cache could not be recreated ({exc2})")
        except OSError as exc:
            self._disable(f"the cache folder is not usable ({exc})")
        return self

    def __exit__(self, *exc_info) -> None:
        self._close()

    def _open(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self._conn = conn
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: atomic, durable enough
        conn.executescript(_SCHEMA)
        row = conn.execute(
            "SELECT dim FROM namespaces WHERE namespace = ?", (self.namespace,)
        ).fetchone()
        self._dim = None if row is None else int(row[0])

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _move_aside(self, exc: Exception) -> None:
        target = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}-{os.getpid()}")
        warnings.warn(
            f"The embedding cache {self.path} is not a readable SQLite database ({exc}); "
            f"moving it to {target.name} and starting a fresh cache.",
            UserWarning,
            stacklevel=3,
        )
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            with contextlib.suppress(FileNotFoundError):
                source.replace(Path(str(target) + suffix))

    def _disable(self, reason: str) -> None:
        warnings.warn(
            f"Embedding cache disabled for this call: {reason}. Features are computed without it.",
            UserWarning,
            stacklevel=3,
        )
        self._close()

    @property
    def enabled(self) -> bool:
        """Whether the cache is open and usable."""
        return self._conn is not None

    @property
    def dim(self) -> int | None:
        """Embedding width recorded for this namespace, or None before the first write."""
        return self._dim

    # -- reads and writes ---------------------------------------------------------------

    def get(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """Look up vectors; bad or missing entries are simply absent from the result.

        Parameters
        ----------
        keys : list of bytes
            Text keys from :func:`text_key`.

        Returns
        -------
        found : dict mapping key -> float32 ndarray of shape (dim,)
        """
        if self._conn is None or self._dim is None:
            return {}
        found = {}
        try:
            for start in range(0, len(keys), _SQL_CHUNK):
                chunk = keys[start : start + _SQL_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT text_key, vector FROM embeddings "
                    f"WHERE namespace = ? AND text_key IN ({marks})",
                    (self.namespace, *chunk),
                ).fetchall()
                for key, blob in rows:
                    vector = self._decode(blob)
                    if vector is not None:
                        found[bytes(key)] = vector
        except sqlite3.DatabaseError as exc:
            self._disable(f"reading {self.path} failed ({exc})")
            return {}
        return found

    def _decode(self, blob) -> np.ndarray | None:
        if not isinstance(blob, bytes) or len(blob) != 4 * self._dim:
            return None  # torn or foreign entry: recompute and overwrite
        vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        if not np.isfinite(vector).all():
            return None
        return vector

    def put(self, keys: list[bytes], vectors_nd: np.ndarray) -> None:
        """Store vectors (one transaction; replaces existing entries).

        Parameters
        ----------
        keys : list of bytes
            Text keys, one per row of ``vectors_nd``.
        vectors_nd : ndarray of shape (n, dim)
            The embeddings; stored as float32.
        """
        if self._conn is None or not keys:
            return
        vectors_nd = np.ascontiguousarray(vectors_nd, dtype="<f4")
        dim = vectors_nd.shape[1]
        rows = [
            (self.namespace, key, vector.tobytes())
            for key, vector in zip(keys, vectors_nd, strict=True)
        ]
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                recorded = self._conn.execute(
                    "SELECT dim FROM namespaces WHERE namespace = ?", (self.namespace,)
                ).fetchone()
                if recorded is None:
                    self._conn.execute(
                        "INSERT INTO namespaces VALUES (?, ?, ?)",
                        (self.namespace, dim, json.dumps(self.description, sort_keys=True)),
                    )
                elif int(recorded[0]) != dim:
                    # The settings hash the model files, so this means the files changed in
                    # place in a way the fingerprint missed: start the namespace afresh.
                    self._conn.execute(
                        "DELETE FROM embeddings WHERE namespace = ?", (self.namespace,)
                    )
                    self._conn.execute(
                        "UPDATE namespaces SET dim = ? WHERE namespace = ?",
                        (dim, self.namespace),
                    )
                self._conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._dim = dim
        except sqlite3.DatabaseError as exc:
            self._disable(f"writing {self.path} failed ({exc})")
