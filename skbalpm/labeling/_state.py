"""The state file of ``skbalpm select``: which pairs went out and have not come back yet.

Every batch is recorded in two steps around writing its file: ``"prepared"`` (with its
pair ids) before the batch file is written, ``"sent"`` after. A crash between the two
leaves a prepared batch, which the next run settles: sent if its file holds exactly those
pairs, else dropped (nothing went out). Every write replaces the whole file atomically,
so a crash mid-write leaves the previous state, never a torn one. A pair stays pending
until the labeled file holds a judgment of it (a label, a tie or a skip), or until its
batch is released.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from skbalpm.labeling._pairs import read_jsonl, write_text

STATE_FILENAME = "skbalpm-select-state.json"
"""Name of the state file that ``skbalpm select`` keeps beside its output by default."""

_FORMAT = "skbalpm-select-state"
_STATUSES = ("prepared", "sent", "released")


class SelectionState:
    """The batches a labeling loop has sent out, kept in a small JSON file.

    Parameters
    ----------
    path : str or Path
        The state file (created on the first write).

    Attributes
    ----------
    batches : list of dict
        One entry per batch, oldest first: ``file``, ``status`` (``"prepared"``,
        ``"sent"`` or ``"released"``), ``kind`` (``"initial"``: a cold-start pick with
        no model, or ``"round"``), ``round``, ``strategy``, ``seed``, ``created`` and
        ``pair_ids``.
    notes : list of str
        What :meth:`load` settled (prepared batches of a run that crashed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> state = SelectionState(folder / "state.json")
    >>> state.record_batch(folder / "batch.jsonl", ["p1", "p2"], kind="initial", write=None)
    >>> sorted(SelectionState.load(folder / "state.json").pending_ids(returned={"p1"}))
    ['p2']
    """

    def __init__(self, path):
        self.path = Path(path)
        self.batches = []
        self.notes = []

    @classmethod
    def load(cls, path):
        """Read a state file (a missing one is an empty state) and settle prepared batches.

        Parameters
        ----------
        path : str or Path
            The state file.

        Returns
        -------
        state : SelectionState

        Raises
        ------
        ValueError
            The file is not a state file of ``skbalpm select``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> SelectionState.load(pathlib.Path(tempfile.mkdtemp()) / "none.json").batches
        []
        """
        state = cls(path)
        if not state.path.exists():
            return state
        try:
            saved = json.loads(state.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{state.path}: not a state file of skbalpm select ({exc}).") from None
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            raise ValueError(
                f"{state.path}: not a state file of skbalpm select (no 'format': {_FORMAT!r})."
            )
        state.batches = list(saved.get("batches", []))
        for batch in state.batches:
            if batch.get("status") not in _STATUSES or not isinstance(batch.get("pair_ids"), list):
                raise ValueError(f"{state.path}: malformed batch entry {str(batch)[:120]}.")
        state._settle_prepared()
        return state

    def _settle_prepared(self):
        """Sent if the batch file holds exactly the prepared pairs; else never sent."""
        kept = []
        for batch in self.batches:
            if batch["status"] == "prepared":
                if _file_pair_ids(batch["file"]) == batch["pair_ids"]:
                    batch["status"] = "sent"
                    self.notes.append(f"batch {batch['file']} was written before a crash: sent")
                else:
                    self.notes.append(
                        f"batch {batch['file']} was not written before a crash: its "
                        f"{len(batch['pair_ids'])} pairs go back to the pool"
                    )
                    continue
            kept.append(batch)
        self.batches = kept

    def save(self):
        """Write the state atomically.

        Returns
        -------
        path : Path
            The state file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> SelectionState(pathlib.Path(tempfile.mkdtemp()) / "s.json").save().name
        's.json'
        """
        payload = {"format": _FORMAT, "version": 1, "batches": self.batches}
        return write_text(self.path, json.dumps(payload, indent=1) + "\n")

    def sent_ids(self):
        """Ids of the pairs of every batch sent out and not released.

        Returns
        -------
        ids : set of str

        Examples
        --------
        >>> SelectionState("unused.json").sent_ids()
        set()
        """
        return {i for batch in self.batches if batch["status"] == "sent" for i in batch["pair_ids"]}

    def pending_ids(self, returned):
        """Ids of the pairs sent out that have not come back.

        Parameters
        ----------
        returned : set of str
            Ids of the pairs the labeled file holds a judgment of.

        Returns
        -------
        ids : set of str

        Examples
        --------
        >>> SelectionState("unused.json").pending_ids(returned=set())
        set()
        """
        return self.sent_ids() - set(returned)

    def n_rounds(self):
        """How many batches a fitted model chose (the next round's number).

        Returns
        -------
        n_rounds : int

        Examples
        --------
        >>> SelectionState("unused.json").n_rounds()
        0
        """
        return sum(1 for batch in self.batches if batch.get("kind") == "round")

    def record_batch(self, file, ids, *, kind, write, round_index=None, strategy=None, seed=None):
        """Record a batch as prepared, write its file with ``write()``, then mark it sent.

        Parameters
        ----------
        file : str or Path
            The batch file.
        ids : list of str
            Its pair ids, in its order.
        kind : {"initial", "round"}
            A cold-start pick or a model's.
        write : callable or None
            Writes the batch file (None: it is already written).
        round_index, strategy, seed : optional
            Recorded with the batch.

        Returns
        -------
        None

        Examples
        --------
        >>> import tempfile, pathlib
        >>> state = SelectionState(pathlib.Path(tempfile.mkdtemp()) / "s.json")
        >>> state.record_batch("b.jsonl", ["p1"], kind="round", write=None, round_index=0)
        >>> state.batches[0]["status"], state.n_rounds()
        ('sent', 1)
        """
        self.batches.append(
            {
                "file": str(Path(file).resolve()),
                "status": "prepared",
                "kind": kind,
                "round": round_index,
                "strategy": strategy,
                "seed": seed,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "pair_ids": list(ids),
            }
        )
        self.save()
        if write is not None:
            write()
        self.batches[-1]["status"] = "sent"
        self.save()

    def release(self, file):
        """Put the pairs of a batch that have not come back into the pool again.

        Parameters
        ----------
        file : str or Path
            The batch file, as it was written.

        Returns
        -------
        n_batches : int
            How many batches were released (0 when none was sent under that file).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> state = SelectionState(pathlib.Path(tempfile.mkdtemp()) / "s.json")
        >>> state.record_batch("b.jsonl", ["p1"], kind="initial", write=None)
        >>> state.release("b.jsonl"), state.sent_ids()
        (1, set())
        """
        target = str(Path(file).resolve())
        released = 0
        for batch in self.batches:
            if batch["file"] == target and batch["status"] == "sent":
                batch["status"] = "released"
                released += 1
        if released:
            self.save()
        return released


def _file_pair_ids(file):
    """The pair ids a batch file holds, in order (None when it cannot be read)."""
    from skbalpm.datasets import MalformedRecordError

    path = Path(file)
    if not path.is_file():
        return None
    try:
        return [record.get("pair_id") for _, record in read_jsonl(path)]
    except (MalformedRecordError, OSError, AttributeError):
        return None
