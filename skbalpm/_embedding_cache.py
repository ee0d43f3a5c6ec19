"""Persistent on-disk cache of text embeddings (SQLite, standard library only).

One SQLite file, ``embeddings-v2.sqlite3``, in the cache folder holds the embeddings of
every model. A row is keyed by ``(namespace, text_key)``:

* ``namespace`` -- a hash of everything that changes the numbers besides the text: the
  model identity (see :func:`skbalpm._embedding_backends.model_fingerprint`), the
  versions of the libraries that run it, the backend, the templates, ``max_length``,
  ``normalize``, the pooling and the dtype (stored once, with a small integer id that the
  rows carry);
* ``text_key`` -- the SHA-256 of the exact text pieces (prompt, response, ...).

Values are raw little-endian float32 bytes. Size: an entry is one distinct model input
(a prompt + response text, or a prompt alone) and costs its 4 * d bytes of vector plus
key, index and page slack: measured 2.1 kB for d = 384 (the default model; 1.37 times the
vector), 4.2 kB for d = 768, 17 kB for d = 4096 (a 7B LLM). Nothing is evicted: the file
grows with every distinct input embedded. ``skbalpm cache info`` reports the size and
the models in it, ``skbalpm cache clear`` empties it. (Schema 1 keyed rows by the
64-character namespace in a WITHOUT ROWID table, where rows past about 1 kB spill into
mostly empty overflow pages: 4.7 kB per 384-d entry.)

Safety:

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

CACHE_FILENAME = "embeddings-v2.sqlite3"
"""Name of the SQLite file inside the cache folder (the suffix versions the schema)."""

_BUSY_TIMEOUT_MS = 120_000  # a writer of a big batch may hold the lock for a while
_SQL_CHUNK = 500  # stay below SQLite's limit on bound parameters

# A rowid table: rows up to ~4 kB stay in their leaf page and longer ones fill whole
# overflow pages, where a WITHOUT ROWID table spills rows past ~1 kB into mostly empty ones.
# AUTOINCREMENT: a namespace id is never reused, so a process that looked an id up before
# another one cleared the cache cannot read a later namespace's rows under it.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL UNIQUE,
    dim INTEGER NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    namespace_id INTEGER NOT NULL,
    text_key BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (namespace_id, text_key)
);
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
        self._namespace_id: int | None = None

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
            "SELECT id, dim FROM namespaces WHERE namespace = ?", (self.namespace,)
        ).fetchone()
        self._namespace_id, self._dim = (None, None) if row is None else map(int, row)

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

    def _namespace_row(self, dim: int) -> int:
        """Id of this namespace, registered with ``dim`` (inside a write transaction)."""
        recorded = self._conn.execute(
            "SELECT id, dim FROM namespaces WHERE namespace = ?", (self.namespace,)
        ).fetchone()
        if recorded is None:
            return self._conn.execute(
                "INSERT INTO namespaces (namespace, dim, description) VALUES (?, ?, ?)",
                (self.namespace, dim, json.dumps(self.description, sort_keys=True)),
            ).lastrowid
        namespace_id, recorded_dim = map(int, recorded)
        if recorded_dim != dim:
            # The settings hash the model files, so this means the files changed in place
            # in a way the fingerprint missed: start the namespace afresh.
            self._conn.execute("DELETE FROM embeddings WHERE namespace_id = ?", (namespace_id,))
            self._conn.execute("UPDATE namespaces SET dim = ? WHERE id = ?", (dim, namespace_id))
        return namespace_id

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
        if self._conn is None or self._dim is None or self._namespace_id is None:
            return {}
        found = {}
        try:
            for start in range(0, len(keys), _SQL_CHUNK):
                chunk = keys[start : start + _SQL_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT text_key, vector FROM embeddings "
                    f"WHERE namespace_id = ? AND text_key IN ({marks})",
                    (self._namespace_id, *chunk),
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
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                namespace_id = self._namespace_row(dim)
                self._conn.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                    [
                        (namespace_id, key, vector.tobytes())
                        for key, vector in zip(keys, vectors_nd, strict=True)
                    ],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._dim, self._namespace_id = dim, namespace_id
        except sqlite3.DatabaseError as exc:
            self._disable(f"writing {self.path} failed ({exc})")


# -- inspecting and clearing a cache folder (``skbalpm cache info|clear``) --------------


def _live_files(cache_dir: Path) -> dict[str, int]:
    """Sizes of the database file and of its write-ahead log and shared-memory files."""
    path = cache_dir / CACHE_FILENAME
    roles = {
        "database": path,
        "write-ahead log": Path(f"{path}-wal"),
        "shared memory": Path(f"{path}-shm"),
    }
    return {role: file.stat().st_size for role, file in roles.items() if file.is_file()}


def _unused_files(cache_dir: Path) -> dict[str, int]:
    """Files this version never reads: older schemas and files moved aside as unreadable."""
    live = {CACHE_FILENAME, f"{CACHE_FILENAME}-wal", f"{CACHE_FILENAME}-shm"}
    return {
        str(file): file.stat().st_size
        for file in sorted(cache_dir.glob("embeddings-v*.sqlite3*"))
        if file.is_file() and file.name not in live
    }


def _connect_existing(path: Path) -> sqlite3.Connection:
    """A connection to an existing cache file (never creates one)."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=rw",
        uri=True,
        timeout=_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
    )
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return conn


def cache_report(cache_dir) -> dict:
    """What an embedding cache folder holds: files, size on disk, entries per namespace.

    Parameters
    ----------
    cache_dir : str or Path
        The cache folder (see :func:`default_cache_dir`).

    Returns
    -------
    report : dict
        ``path`` (the database file), ``exists``, ``size_bytes`` (database, write-ahead
        log and shared-memory files together), ``files`` (role -> bytes), ``n_entries``,
        ``namespaces`` (one dict per namespace, largest first: ``namespace``, ``dim``,
        ``n_entries``, ``vector_bytes`` and the settings stored with it, such as
        ``model_path``, ``model_fingerprint``, ``backend``, the templates) and
        ``unused_files`` (path -> bytes: older schemas, files moved aside as unreadable).

    Raises
    ------
    ValueError
        If the database file exists but is not a readable embedding cache.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with EmbeddingCache(d, "ns", {"model_path": "/m"}) as cache:
    ...         cache.put([b"k"], np.ones((1, 4), dtype=np.float32))
    ...     report = cache_report(d)
    >>> report["n_entries"], report["namespaces"][0]["model_path"]
    (1, '/m')
    """
    cache_dir = Path(cache_dir)
    path = cache_dir / CACHE_FILENAME
    files = _live_files(cache_dir)
    report = {
        "path": str(path),
        "exists": path.is_file(),
        "size_bytes": sum(files.values()),
        "files": files,
        "n_entries": 0,
        "namespaces": [],
        "unused_files": _unused_files(cache_dir),
    }
    if not report["exists"]:
        return report
    try:
        conn = _connect_existing(path)
        try:
            described = conn.execute(
                "SELECT id, namespace, dim, description FROM namespaces"
            ).fetchall()
            counts = {
                namespace_id: (n, size)
                for namespace_id, n, size in conn.execute(
                    "SELECT namespace_id, COUNT(*), SUM(LENGTH(vector)) FROM embeddings "
                    "GROUP BY namespace_id"
                )
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is not a readable embedding cache ({exc}).") from None
    for namespace_id, namespace, dim, description in described:
        try:
            settings = json.loads(description)
        except ValueError:
            settings = None
        n, size = counts.get(namespace_id, (0, 0))
        report["namespaces"].append(
            {
                **(settings if isinstance(settings, dict) else {}),
                "namespace": namespace,
                "dim": int(dim),
                "n_entries": int(n),
                "vector_bytes": int(size or 0),
            }
        )
    report["namespaces"].sort(key=lambda entry: -entry["n_entries"])
    report["n_entries"] = sum(entry["n_entries"] for entry in report["namespaces"])
    return report


def clear_cache(cache_dir, namespaces=None) -> int:
    """Delete entries of an embedding cache and give the space back to the file system.

    Safe while other processes use the cache: the rows go in one transaction, then
    ``VACUUM`` shrinks the file (skipped, the space kept for reuse, when another process
    holds the database past the busy timeout).

    Parameters
    ----------
    cache_dir : str or Path
        The cache folder.
    namespaces : sequence of str or None, default=None
        The namespaces to delete (from :func:`cache_report`); None deletes every entry and
        the files this version does not use (older schemas, files moved aside).

    Returns
    -------
    n_deleted : int
        Entries deleted.

    Raises
    ------
    ValueError
        If the database file exists but is not a readable embedding cache.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with EmbeddingCache(d, "ns", {}) as cache:
    ...         cache.put([b"a", b"b"], np.ones((2, 4), dtype=np.float32))
    ...     n_deleted = clear_cache(d)
    ...     n_left = cache_report(d)["n_entries"]
    >>> n_deleted, n_left
    (2, 0)
    """
    cache_dir = Path(cache_dir)
    path = cache_dir / CACHE_FILENAME
    n_deleted = 0
    if namespaces is not None:
        namespaces = list(namespaces)
        if not namespaces:
            return 0
    if path.is_file():
        try:
            n_deleted = _delete_namespaces(path, namespaces)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{path} is not a readable embedding cache ({exc}).") from None
    if namespaces is None:
        for file in _unused_files(cache_dir):
            Path(file).unlink(missing_ok=True)
    return n_deleted


def _delete_namespaces(path: Path, namespaces) -> int:
    chosen, params = "SELECT id FROM namespaces", ()
    if namespaces is not None:
        chosen += f" WHERE namespace IN ({','.join('?' * len(namespaces))})"
        params = tuple(namespaces)
    conn = _connect_existing(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            n_deleted = conn.execute(
                f"DELETE FROM embeddings WHERE namespace_id IN ({chosen})", params
            ).rowcount
            conn.execute(f"DELETE FROM namespaces WHERE id IN ({chosen})", params)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the pages stay for reuse
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return max(n_deleted, 0)
