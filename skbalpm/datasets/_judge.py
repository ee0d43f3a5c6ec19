"""LLM-judge benchmark files with human labels: PandaLM test set and LLMBar."""

from __future__ import annotations

from collections import Counter

from skbalpm.datasets._common import (
    MalformedRecordError,
    TripleCollector,
    as_paths,
    iter_json_list,
    require_fields,
    same_response,
    stable_id,
)


def _scalar_text(record, position, fields):
    """Text fields, where a JSON scalar (the PandaLM file has responses ``true``) is its text."""
    if not isinstance(record, dict):
        raise MalformedRecordError(
            f"{position}: expected a JSON object, got {type(record).__name__}."
        )
    coerced = {
        field: str(record[field])
        if isinstance(record[field], (bool, int, float))
        else record[field]
        for field in fields
        if field in record
    }
    return require_fields(coerced, position, fields)


def _instruction_prompt(instruction: str, extra_input: str) -> str:
    return instruction if not extra_input.strip() else f"{instruction}\n\n{extra_input}"


def load_pandalm(path):
    """Load the PandaLM human-annotated test set (a JSON list).

    Each record has ``instruction``, ``input``, ``response1``, ``response2`` and three
    labels ``annotator1..3`` (0 = tie, 1 = response1 better, 2 = response2 better). The
    label is the majority of the three annotators;
    a response stored as a JSON boolean or number (six records of the public file answer
    ``true``) is read as its text (``"True"``); records whose majority is a tie, or
    with no majority, are skipped as ``tie``; identical responses as
    ``identical_responses``. The prompt is the instruction, then a blank line and the
    input when there is one.

    Parameters
    ----------
    path : str, Path or sequence of them
        The JSON file(s); several are pooled.

    Returns
    -------
    data : Bunch
        ``X`` object array (n, 3); ``y`` = 0 when response1 won; ``groups`` prompt hashes;
        ``n_records``, ``n_skipped``, ``skipped``, ``source``, ``DESCR``.

    References
    ----------
    Wang et al., "PandaLM: An Automatic Evaluation Benchmark for LLM Instruction Tuning
    Optimization", arXiv:2306.05087, 2023.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "p.json"
    >>> rec = {"instruction": "Say hi", "input": "", "response1": "hi", "response2": "no",
    ...        "annotator1": 1, "annotator2": 1, "annotator3": 2}
    >>> _ = tmp.write_text(json.dumps([rec]))
    >>> load_pandalm(tmp).y.tolist()
    [0]
    """
    paths = as_paths(path)
    collector = TripleCollector()
    for file in paths:
        for position, record in iter_json_list(file):
            collector.n_records += 1
            instruction, extra, r1, r2 = _scalar_text(
                record, position, ("instruction", "input", "response1", "response2")
            )
            votes = require_fields(
                record, position, ("annotator1", "annotator2", "annotator3"), int
            )
            if any(v not in (0, 1, 2) for v in votes):
                raise MalformedRecordError(
                    f"{position}: annotator labels should be 0, 1 or 2, got {votes}."
                )
            winner, count = Counter(votes).most_common(1)[0]
            prompt = _instruction_prompt(instruction, extra)
            if count < 2 or winner == 0:
                collector.skip("tie")
            elif same_response(r1, r2):
                collector.skip("identical_responses")
            else:
                collector.add(prompt, r1, r2, winner - 1, stable_id(prompt))
    return collector.to_bunch(
        sources=paths,
        with_groups=True,
        descr="PandaLM test set; label = majority of three annotators, ties skipped.",
    )


def load_llmbar(path):
    """Load LLMBar evaluation files (JSON lists of ``input``, ``output_1/2``, ``label``).

    ``label`` 1 (output_1 better) becomes ``y = 0`` and 2 becomes ``y = 1``. Identical
    outputs are skipped (``identical_responses``).

    Parameters
    ----------
    path : str, Path or sequence of them
        The JSON file(s); several are pooled.

    Returns
    -------
    data : Bunch
        ``X`` object array (n, 3); ``y`` int array; ``groups`` prompt hashes;
        ``n_records``, ``n_skipped``, ``skipped``, ``source``, ``DESCR``.

    References
    ----------
    Zeng et al., "Evaluating Large Language Models at Evaluating Instruction Following",
    arXiv:2310.07641, 2023.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "l.json"
    >>> _ = tmp.write_text(json.dumps([{"input": "Q", "output_1": "x", "output_2": "y",
    ...                                 "label": 2}]))
    >>> load_llmbar(tmp).y.tolist()
    [1]
    """
    paths = as_paths(path)
    collector = TripleCollector()
    for file in paths:
        for position, record in iter_json_list(file):
            collector.n_records += 1
            prompt, out1, out2 = require_fields(record, position, ("input", "output_1", "output_2"))
            (label,) = require_fields(record, position, ("label",), int)
            if label not in (1, 2):
                raise MalformedRecordError(f"{position}: 'label' should be 1 or 2, got {label!r}.")
            if same_response(out1, out2):
                collector.skip("identical_responses")
            else:
                collector.add(prompt, out1, out2, label - 1, stable_id(prompt))
    return collector.to_bunch(
        sources=paths, with_groups=True, descr="LLMBar pairs; label 1/2 -> y 0/1."
    )
