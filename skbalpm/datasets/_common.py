"""Shared pieces of the loaders: reading records with their positions, skip counting, Bunch."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

SKIP_REASONS = {
    "identical_responses": "the two responses are the same text (after stripping whitespace)",
    "tie": "the labelers preferred neither response",
    "no_shared_prompt": (
        "HH-RLHF: the two conversations share no prefix ending in '\\n\\nAssistant:'"
    ),
}
"""Documented reasons for which a loader skips a well-formed record."""


class MalformedRecordError(ValueError):
    """A record in a preference file does not follow its format.

    The message names the file, the position (line number for JSON Lines, record index
    for JSON lists, row for tables) and what was wrong. It is a :class:`ValueError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skbalpm.datasets import MalformedRecordError, load_hh_rlhf
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "broken.jsonl"
    >>> _ = tmp.write_text('{"chosen": "Hi"}\\n')
    >>> try:
    ...     load_hh_rlhf(tmp)
    ... except MalformedRecordError as error:
    ...     print(str(error).split(": ", 1)[1])
    missing field 'rejected' (fields present: ['chosen']).
    """


def as_paths(path) -> list[Path]:
    """One path or a sequence of paths -> a list of existing :class:`Path`."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise ValueError("Expected at least one file path; got an empty sequence.")
    out = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"Preference file not found: {p}")
        out.append(p)
    return out


def open_text(path: Path):
    """Open a text file, transparently decompressing ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


@contextlib.contextmanager
def naming_unreadable(path: Path):
    """Re-raise a failure to decode ``path`` (not UTF-8, broken gzip) as a
    :class:`MalformedRecordError` that names the file."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise MalformedRecordError(
            f"{path}: not UTF-8 text ({exc.reason}); re-save the file as UTF-8."
        ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise MalformedRecordError(f"{path}: not a valid gzip file ({exc}).") from None


def iter_jsonl(path: Path) -> Iterator[tuple[str, object]]:
    """Yield ``(position, record)`` for each non-blank line of a JSON Lines file."""
    with naming_unreadable(path), open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            position = f"{path}, line {lineno}"
            try:
                yield position, json.loads(line)
            except json.JSONDecodeError as exc:
                raise MalformedRecordError(f"{position}: not valid JSON ({exc.msg}).") from None


def holds_json_list(path: Path) -> bool:
    """Whether the file's first non-blank character opens a JSON list (not JSON Lines)."""
    with naming_unreadable(path), open_text(path) as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[0] == "["
    return False


def iter_json_list(path: Path) -> Iterator[tuple[str, object]]:
    """Yield ``(position, record)`` for each element of a file holding one JSON list."""
    with naming_unreadable(path), open_text(path) as handle:
        try:
            records = json.load(handle)
        except json.JSONDecodeError as exc:
            raise MalformedRecordError(
                f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})."
            ) from None
    if not isinstance(records, list):
        raise MalformedRecordError(
            f"{path}: expected a JSON list of records, got a {type(records).__name__}."
        )
    for index, record in enumerate(records):
        yield f"{path}, record {index}", record


def require_fields(record, position: str, fields: Iterable[str], kind=str) -> list:
    """Return ``record[f]`` for each field, with a clear error if absent or of the wrong type."""
    if not isinstance(record, dict):
        raise MalformedRecordError(
            f"{position}: expected a JSON object, got {type(record).__name__}."
        )
    values = []
    for field in fields:
        if field not in record:
            raise MalformedRecordError(
                f"{position}: missing field {field!r} (fields present: {sorted(record)})."
            )
        value = record[field]
        # JSON true/false are Python bools, which are ints: not a valid int label.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise MalformedRecordError(
                f"{position}: field {field!r} should be {kind.__name__}, got "
                f"{type(value).__name__} ({value!r:.60})."
            )
        values.append(value)
    return values


def stable_id(text: str) -> str:
    """A short hash of a text that is the same on every machine and Python run."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def same_response(response_a: str, response_b: str) -> bool:
    """Whether two responses are the same text up to surrounding whitespace."""
    return response_a.strip() == response_b.strip()


def positions_to_swap(n, random_state):
    """Which of ``n`` chosen-first pairs get their responses swapped: exactly ``n // 2``.

    The positions come from a generator seeded by a draw from ``random_state``, not from
    ``check_random_state(random_state).permutation(n)`` itself: that permutation is the
    one behind scikit-learn's ``ShuffleSplit`` and ``train_test_split`` with the same
    seed, so ``train_test_split(X, y, random_state=0)`` of data loaded with
    ``random_state=0`` would put only swapped pairs (label 1) in its test split.

    Parameters
    ----------
    n : int
        Number of pairs.
    random_state : int, RandomState instance or None
        Seed of the draw.

    Returns
    -------
    positions : ndarray of shape (n // 2,), int
        Distinct positions in ``[0, n)``.

    Examples
    --------
    >>> positions_to_swap(5, 0).shape
    (2,)
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed).permutation(n)[: n // 2]


class TripleCollector:
    """Accumulate kept (prompt, response_a, response_b, label, group) rows and skip counts."""

    def __init__(self):
        self.triples: list[tuple[str, str, str]] = []
        self.labels: list[int] = []
        self.groups: list[str] = []
        self.skipped: Counter = Counter()
        self.n_records = 0

    def add(self, prompt, response_a, response_b, label, group=None):
        self.triples.append((prompt, response_a, response_b))
        self.labels.append(int(label))
        self.groups.append(group)

    def skip(self, reason: str):
        if reason not in SKIP_REASONS:  # only documented reasons
            raise RuntimeError(f"undocumented skip reason {reason!r}")
        self.skipped[reason] += 1

    def to_bunch(self, *, sources, descr: str, with_groups: bool, **extra) -> Bunch:
        if not self.triples:
            raise ValueError(
                f"No usable preference pairs in {[str(s) for s in sources]}: "
                f"{self.n_records} records read, skipped {dict(self.skipped)}."
            )
        X = np.empty((len(self.triples), 3), dtype=object)
        X[:] = self.triples
        groups = np.array(self.groups, dtype=object) if with_groups else None
        return Bunch(
            X=X,
            y=np.asarray(self.labels, dtype=np.int64),
            groups=groups,
            n_records=self.n_records,
            n_skipped=int(sum(self.skipped.values())),
            skipped=dict(self.skipped),
            n_ties=int(self.skipped.get("tie", 0)),
            source=[str(s) for s in sources],
            DESCR=descr,
            **extra,
        )
