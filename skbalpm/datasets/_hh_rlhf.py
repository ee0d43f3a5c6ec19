"""Anthropic HH-RLHF (``{"chosen": ..., "rejected": ...}`` conversations)."""

from __future__ import annotations

import os

import numpy as np

from skbalpm.datasets._common import (
    TripleCollector,
    as_paths,
    iter_jsonl,
    positions_to_swap,
    require_fields,
    same_response,
    stable_id,
)

ASSISTANT_TURN = "\n\nAssistant:"


def split_hh_conversations(chosen: str, rejected: str):
    """Split two HH-RLHF conversations into their shared prompt and the two responses.

    The prompt is the longest common prefix of the two conversations, cut back to end at
    its last ``"\\n\\nAssistant:"``; each response is what follows. Cutting inside the
    common prefix (rather than at each conversation's own last ``"\\n\\nAssistant:"``)
    handles the few records whose response itself contains an ``"\\n\\nAssistant:"``.

    Parameters
    ----------
    chosen, rejected : str
        The two conversations.

    Returns
    -------
    prompt, chosen_response, rejected_response : str or None
        ``(None, None, None)`` when the conversations share no prefix ending in
        ``"\\n\\nAssistant:"``.

    Examples
    --------
    >>> split_hh_conversations("\\n\\nHuman: Hi\\n\\nAssistant: Hello",
    ...                        "\\n\\nHuman: Hi\\n\\nAssistant: Go away")
    ('\\n\\nHuman: Hi\\n\\nAssistant:', ' Hello', ' Go away')
    """
    shared = os.path.commonprefix([chosen, rejected])  # noqa: RUF071 (text, not paths)
    cut = shared.rfind(ASSISTANT_TURN)
    if cut < 0:
        return None, None, None
    end = cut + len(ASSISTANT_TURN)
    return chosen[:end], chosen[end:], rejected[end:]


def load_hh_rlhf(path, random_state=0):
    """Load Anthropic HH-RLHF preference pairs from one or several jsonl / jsonl.gz files.

    Each line holds ``{"chosen": conversation, "rejected": conversation}``. The prompt is
    the shared conversation up to its last ``"\\n\\nAssistant:"`` (see
    :func:`split_hh_conversations`). Which response becomes ``response_a`` is randomised
    with ``random_state`` so that exactly half of the labels (rounded down) are 1: no model
    can learn "a always wins". Several paths are pooled (randomised together).

    Skipped records (counted in ``skipped``): ``identical_responses`` (the two responses
    are the same text) and ``no_shared_prompt`` (no shared prefix ending in an assistant
    turn).

    Parameters
    ----------
    path : str, Path or sequence of them
        The file(s); ``.gz`` is decompressed.
    random_state : int, RandomState instance or None, default=0
        Seed of the a/b assignment.

    Returns
    -------
    data : Bunch
        ``X`` object array (n, 3) of (prompt, response_a, response_b); ``y`` int array,
        index of the preferred response; ``groups`` object array of prompt hashes (pairs
        with the same conversation prefix share a group); ``file_index`` int array, which
        path each row came from; ``n_records``, ``n_skipped``, ``skipped`` (reason ->
        count), ``source`` and ``DESCR``.

    Raises
    ------
    MalformedRecordError
        A line is not JSON, or lacks a string ``chosen`` / ``rejected`` (the message names
        the file and line number).

    References
    ----------
    Bai et al., "Training a Helpful and Harmless Assistant with Reinforcement Learning
    from Human Feedback", arXiv:2204.05862, 2022.

    Examples
    --------
    >>> import gzip, json, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "hh.jsonl.gz"
    >>> with gzip.open(tmp, "wt") as f:
    ...     _ = f.write(json.dumps({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello",
    ...                             "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: No"}) + "\\n")
    >>> data = load_hh_rlhf(tmp)
    >>> data.X.shape, data.n_skipped
    ((1, 3), 0)
    """
    paths = as_paths(path)
    records = (
        (index, position, record)
        for index, file in enumerate(paths)
        for position, record in iter_jsonl(file)
    )
    return hh_from_records(records, random_state, sources=paths)


def hh_from_records(records, random_state, *, sources):
    """Parse ``(file_index, position, record)`` HH-RLHF records into a Bunch (see above)."""
    collector = TripleCollector()
    file_index = []
    for index, position, record in records:
        collector.n_records += 1
        chosen, rejected = require_fields(record, position, ("chosen", "rejected"))
        prompt, good, bad = split_hh_conversations(chosen, rejected)
        if prompt is None:
            collector.skip("no_shared_prompt")
        elif same_response(good, bad):
            collector.skip("identical_responses")
        else:
            collector.add(prompt, good, bad, 0, stable_id(prompt))
            file_index.append(index)

    # Balanced a/b assignment: exactly floor(n/2) rows get the chosen response as b.
    for i in np.sort(positions_to_swap(len(collector.triples), random_state)):
        prompt, good, bad = collector.triples[i]
        collector.triples[i] = (prompt, bad, good)
        collector.labels[i] = 1
    return collector.to_bunch(
        sources=sources,
        with_groups=True,
        descr="Anthropic HH-RLHF preference pairs (chosen/rejected, a/b randomised).",
        file_index=np.asarray(file_index, dtype=np.int64),
    )
