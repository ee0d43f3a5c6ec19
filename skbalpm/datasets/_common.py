"""Shared pieces of the loaders: reading records with their positions, skip counting, Bunch."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
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
    """Open a UTF-8 text file (a leading byte-order mark is dropped), transparently
    decompressing ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


def first_undecodable_line(path: Path) -> int | None:
    """Number of the first line of a (gzipped) file that is not UTF-8, or None.

    Line by line is exact: the newline byte never occurs inside a UTF-8 sequence.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for lineno, line in enumerate(handle, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return lineno
    except (OSError, EOFError, zlib.error):
        return None
    return None


@contextlib.contextmanager
def naming_unreadable(path: Path):
    """Re-raise a failure to decode ``path`` (not UTF-8, broken gzip) as a
    :class:`MalformedRecordError` that names the file (and the line, for bad UTF-8)."""
    try:
        yield
    except UnicodeDecodeError as exc:
        lineno = first_undecodable_line(path)
        where = f"{path}, line {lineno}" if lineno is not None else str(path)
        raise MalformedRecordError(
            f"{where}: not UTF-8 text ({exc.reason}); re-save the file as UTF-8."
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
            yield position, parse_json(line, position)


def parse_json(text: str, position: str, *, whole_file: bool = False):
    """``json.loads`` whose every failure is a :class:`MalformedRecordError` at ``position``.

    Besides syntax errors: integers past Python's digit limit (a ``ValueError``) and
    nesting deeper than the recursion limit (a ``RecursionError``). ``whole_file``: the
    syntax error's line and column are named too.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}: " if whole_file else ""
        raise MalformedRecordError(f"{position}: not valid JSON ({where}{exc.msg}).") from None
    except RecursionError:
        raise MalformedRecordError(f"{position}: JSON nested too deeply.") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise MalformedRecordError(f"{position}: not usable JSON ({exc}).") from None


def holds_json_list(path: Path) -> bool:
    """Whether the file's first non-blank character opens a JSON list (not JSON Lines)."""
    with naming_unreadable(path), open_text(path) as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[0] == "["
    return False


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def iter_json_list(path: Path) -> Iterator[tuple[str, object]]:
    """Yield ``(position, record)`` for each element of a file holding one JSON list.

    The elements are decoded one by one, so that an error inside one (bad syntax, a
    giant integer, too deep nesting) names its record index as well as its line.
    """
    with naming_unreadable(path), open_text(path) as handle:
        text = handle.read()
    start = _JSON_SPACE.match(text).end()
    if not text.startswith("[", start):
        whole = parse_json(text, str(path), whole_file=True)  # names any syntax error
        raise MalformedRecordError(
            f"{path}: expected a JSON list of records, got a {type(whole).__name__}."
        )
    decoder = json.JSONDecoder()
    at = _JSON_SPACE.match(text, start + 1).end()  # at the first record, or "]"
    index = 0
    while not (index == 0 and text.startswith("]", at)):
        position = f"{path}, record {index}"
        record, at = _decode_element(decoder, text, at, position)
        yield position, record
        at = _JSON_SPACE.match(text, at).end()
        if text.startswith("]", at):
            break
        if not text.startswith(",", at):
            raise MalformedRecordError(
                f"{position}: not valid JSON (line {_line_of(text, at)}: expected ',' or ']' "
                "after the record)."
            )
        at = _JSON_SPACE.match(text, at + 1).end()
        index += 1
    if _JSON_SPACE.match(text, at + 1).end() != len(text):
        raise MalformedRecordError(
            f"{path}: not valid JSON (line {_line_of(text, at + 1)}: extra data after the list)."
        )


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _decode_element(decoder, text: str, at: int, position: str):
    """One JSON value of ``text`` at offset ``at``: (value, offset after it)."""
    where = f"{position} (line {_line_of(text, at)})"
    try:
        return decoder.raw_decode(text, at)
    except json.JSONDecodeError as exc:
        raise MalformedRecordError(
            f"{where}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})."
        ) from None
    except RecursionError:
        raise MalformedRecordError(f"{where}: JSON nested too deeply.") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise MalformedRecordError(f"{where}: not usable JSON ({exc}).") from None


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
        if kind is str:
            check_unicode(value, position, field)
        values.append(value)
    return values


def check_unicode(text: str, position: str, field: str) -> None:
    """Refuse text that cannot be written as UTF-8: a lone surrogate (JSON ``"\\ud800"``),
    which no tokenizer takes and no hash of the text can be made of."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedRecordError(
            f"{position}: field {field!r} is not valid Unicode text ({exc.reason} at "
            f"character {exc.start})."
        ) from None


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
