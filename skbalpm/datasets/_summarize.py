"""The "Learning to summarize from human feedback" comparisons format (TL;DR, CNN/DM)."""

from __future__ import annotations

from skbalpm.datasets._common import (
    MalformedRecordError,
    TripleCollector,
    as_paths,
    iter_jsonl,
    require_fields,
    same_response,
)


def summarize_prompt(info: dict, position: str) -> str:
    """The prompt text of a comparison's ``info``: a Reddit post or a news article.

    Parameters
    ----------
    info : dict
        ``{"id", "post", "title", "subreddit"}`` (TL;DR) or
        ``{"id", "article", "title", "site"}`` (CNN/DailyMail).
    position : str
        Where the record is, for error messages.

    Returns
    -------
    prompt : str
        The text in the format of the original release's policies, ending in ``"TL;DR:"``.

    Examples
    --------
    >>> print(summarize_prompt({"subreddit": "cats", "title": "Hi", "post": "A cat."}, "x"))
    SUBREDDIT: r/cats
    TITLE: Hi
    POST: A cat.
    TL;DR:
    """
    if "post" in info:
        subreddit, title, post = require_fields(
            info, position + " (info)", ("subreddit", "title", "post")
        )
        return f"SUBREDDIT: r/{subreddit}\nTITLE: {title}\nPOST: {post}\nTL;DR:"
    if "article" in info:
        (article,) = require_fields(info, position + " (info)", ("article",))
        title = ""  # CNN/DM comparisons may lack a title
        if info.get("title") is not None:
            (title,) = require_fields(info, position + " (info)", ("title",))
        return f"TITLE: {title}\nARTICLE: {article}\nTL;DR:"
    raise MalformedRecordError(
        f"{position}: 'info' has neither 'post' (TL;DR) nor 'article' (CNN/DailyMail); "
        f"fields present: {sorted(info)}."
    )


def load_summarize_from_feedback(path):
    """Load summary comparisons in the summarize-from-feedback format (TL;DR, CNN/DM).

    Each line holds ``{"info": {...}, "summaries": [{"text": ...}, {"text": ...}],
    "choice": 0 or 1, ...}``. ``response_a`` / ``response_b`` are ``summaries[0/1].text``
    and ``y = choice`` (the index of the preferred summary). ``groups`` is ``info.id``:
    one post or article usually has several comparisons, and a train/test split should
    keep them together. Records whose two summaries are the same text are skipped
    (``identical_responses``).

    Parameters
    ----------
    path : str, Path or sequence of them
        The jsonl / jsonl.gz file(s); several are pooled.

    Returns
    -------
    data : Bunch
        ``X`` object array (n, 3); ``y`` int array; ``groups`` object array of post /
        article ids; ``n_records``, ``n_skipped``, ``skipped``, ``source``, ``DESCR``.

    Raises
    ------
    MalformedRecordError
        A line is not JSON, lacks a field, has not exactly two summaries, or has a choice
        other than 0 or 1 (the message names the file and line number).

    References
    ----------
    Stiennon et al., "Learning to summarize from human feedback", NeurIPS 2020,
    arXiv:2009.01325.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "c.jsonl"
    >>> rec = {"info": {"id": "t3_1", "post": "P", "title": "T", "subreddit": "s"},
    ...        "summaries": [{"text": "x"}, {"text": "y"}], "choice": 1}
    >>> _ = tmp.write_text(json.dumps(rec) + "\\n")
    >>> data = load_summarize_from_feedback(tmp)
    >>> data.y.tolist(), data.groups.tolist()
    ([1], ['t3_1'])
    """
    paths = as_paths(path)
    records = (pr for file in paths for pr in iter_jsonl(file))
    return summarize_from_records(records, sources=paths)


def summarize_from_records(records, *, sources):
    """Parse ``(position, record)`` comparisons into a Bunch (see the loader above)."""
    collector = TripleCollector()
    for position, record in records:
        collector.n_records += 1
        (info,) = require_fields(record, position, ("info",), kind=dict)
        (summaries,) = require_fields(record, position, ("summaries",), kind=list)
        (choice,) = require_fields(record, position, ("choice",), kind=int)
        if len(summaries) != 2:
            raise MalformedRecordError(
                f"{position}: 'summaries' should hold 2 summaries, got {len(summaries)}."
            )
        if isinstance(choice, bool) or choice not in (0, 1):
            raise MalformedRecordError(f"{position}: 'choice' should be 0 or 1, got {choice!r}.")
        texts = [
            require_fields(s, f"{position} (summaries[{k}])", ("text",))[0]
            for k, s in enumerate(summaries)
        ]
        (post_id,) = require_fields(info, position + " (info)", ("id",))
        prompt = summarize_prompt(info, position)
        if same_response(*texts):
            collector.skip("identical_responses")
            continue
        collector.add(prompt, texts[0], texts[1], choice, post_id)
    return collector.to_bunch(
        sources=sources,
        with_groups=True,
        descr="Summary comparisons (summarize-from-feedback format); y = choice.",
    )
