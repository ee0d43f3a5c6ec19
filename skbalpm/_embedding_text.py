"""Text assembly and token-level truncation for the embedder (pure functions).

A model input is a template filled with a prompt and (for the response blocks) one
response. The templates hold the placeholders ``{prompt}`` and ``{response}`` literally;
any other text, braces included, is copied as it is. A response template may leave the
prompt out (``"{response}"``: the response alone).

When an input is longer than the model's window, tokens are removed, never characters:

1. from the **left of the prompt** first (the end of a conversation is what the responses
   answer);
2. only when the response alone does not fit, from the response: its start is kept, but if
   the two responses of a pair agree (token for token) on everything that would be kept,
   half of the response budget moves to a window around the first token where they
   differ, so that two different responses never become the same model input.
"""

from __future__ import annotations

import numpy as np

PROMPT_FIELD = "{prompt}"
RESPONSE_FIELD = "{response}"


def validate_template(template, *, needs_response: bool, name: str) -> None:
    """Check that a template holds the placeholders it needs, at most once each.

    A response template (``needs_response=True``) holds ``{response}`` once and
    ``{prompt}`` at most once (without it the block embeds the response alone); a prompt
    template holds ``{prompt}`` once and no ``{response}``.

    Parameters
    ----------
    template : str
        The template to check.
    needs_response : bool
        Whether ``{response}`` must appear (pair template) or must not (prompt template).
    name : str
        Parameter name used in the error message.

    Raises
    ------
    ValueError
        If the template is not a string or has a placeholder missing, repeated or extra.

    Examples
    --------
    >>> validate_template("Q: {prompt}", needs_response=False, name="prompt_template")
    >>> validate_template("{response}", needs_response=True, name="pair_template")
    """
    if not isinstance(template, str):
        raise ValueError(f"{name} must be a str, got {type(template).__name__}.")
    n_prompt = template.count(PROMPT_FIELD)
    n_response = template.count(RESPONSE_FIELD)
    if needs_response and (n_response != 1 or n_prompt > 1):
        raise ValueError(
            f"{name} must contain '{RESPONSE_FIELD}' once and '{PROMPT_FIELD}' at most once; "
            f"got {template!r}."
        )
    if not needs_response and (n_prompt != 1 or n_response):
        raise ValueError(
            f"{name} must contain '{PROMPT_FIELD}' once and no '{RESPONSE_FIELD}'; "
            f"got {template!r}."
        )


def fill_template(template: str, prompt: str, response: str | None = None):
    """Fill a template and report where the prompt and the response sit in the result.

    Parameters
    ----------
    template : str
        Holds ``{response}`` once when ``response`` is given, and ``{prompt}`` once
        (a response template may leave it out).
    prompt : str or None
        The prompt text (None, or anything, when the template has no ``{prompt}``).
    response : str or None, default=None
        The response text; None for the prompt-alone template.

    Returns
    -------
    text : str
        The filled template.
    prompt_span : tuple of int or None
        ``(start, end)`` character positions of the prompt in ``text``, or None when the
        template has no ``{prompt}``.
    response_span : tuple of int or None
        ``(start, end)`` of the response, or None.

    Examples
    --------
    >>> fill_template("{prompt}\\n\\nResponse: {response}", "Hi?", "Hello.")
    ('Hi?\\n\\nResponse: Hello.', (0, 3), (15, 21))
    >>> fill_template("Answer: {response}", "Hi?", "Hello.")
    ('Answer: Hello.', None, (8, 14))
    """
    fields = []
    if PROMPT_FIELD in template:
        fields.append((template.index(PROMPT_FIELD), PROMPT_FIELD, prompt))
    if response is not None:
        fields.append((template.index(RESPONSE_FIELD), RESPONSE_FIELD, response))
    fields.sort()
    parts, spans, cursor, length = [], {}, 0, 0
    for position, field, value in fields:
        literal = template[cursor:position]
        parts.append(literal)
        length += len(literal)
        spans[field] = (length, length + len(value))
        parts.append(value)
        length += len(value)
        cursor = position + len(field)
    parts.append(template[cursor:])
    return "".join(parts), spans.get(PROMPT_FIELD), spans.get(RESPONSE_FIELD)


def split_token_roles(offsets, special_tokens_mask, prompt_span, response_span):
    """Positions of the tokens that lie wholly inside the prompt and inside the response.

    Special tokens, template text and tokens straddling a boundary belong to neither and
    are never removed.

    Parameters
    ----------
    offsets : sequence of (int, int)
        Character span of each token (a fast tokenizer's ``offset_mapping``).
    special_tokens_mask : sequence of int
        1 for special tokens.
    prompt_span : (int, int) or None
        Character span of the prompt, or None (a template without the prompt).
    response_span : (int, int) or None
        Character span of the response, or None.

    Returns
    -------
    in_prompt, in_response : list of int
        Token positions, increasing.

    Examples
    --------
    >>> split_token_roles([(0, 0), (0, 2), (2, 4), (4, 6), (0, 0)], [1, 0, 0, 0, 1],
    ...                   (0, 2), (4, 6))
    ([1], [3])
    """
    in_prompt, in_response = [], []
    for index, ((start, end), special) in enumerate(zip(offsets, special_tokens_mask, strict=True)):
        if special or end <= start:
            continue
        if prompt_span is not None and prompt_span[0] <= start and end <= prompt_span[1]:
            in_prompt.append(index)
        elif response_span is not None and response_span[0] <= start and end <= response_span[1]:
            in_response.append(index)
    return in_prompt, in_response


def truncate_tokens(
    input_ids,
    offsets,
    special_tokens_mask,
    prompt_span,
    response_span,
    max_length: int,
    partner_response_ids=None,
) -> list[int]:
    """Shorten one tokenized model input to ``max_length`` tokens (see module docstring).

    Parameters
    ----------
    input_ids : sequence of int, length n
        Token ids of the filled template, special tokens included.
    offsets : sequence of (int, int), length n
        Character span of each token in the filled text (a fast tokenizer's
        ``offset_mapping``).
    special_tokens_mask : sequence of int, length n
        1 for special tokens (always kept).
    prompt_span : (int, int) or None
        Character span of the prompt in the filled text, or None when it has no prompt.
    response_span : (int, int) or None
        Character span of the response, or None for the prompt-alone input.
    max_length : int
        The model's window in tokens.
    partner_response_ids : sequence of int or None, default=None
        Token ids of the other response of the pair (its tokens inside its response span,
        see :func:`split_token_roles`); None when the two responses are equal.

    Returns
    -------
    input_ids : list of int
        At most ``max_length`` ids, in their original order.

    Raises
    ------
    ValueError
        If the template text and special tokens alone leave no room within ``max_length``.

    Examples
    --------
    Tokens 1-3 are the prompt, 4 is template text, 5-6 the response; the window of 6
    tokens drops the first two prompt tokens:

    >>> truncate_tokens([0, 1, 2, 3, 4, 5, 6, 9],
    ...                 [(0, 0), (0, 1), (1, 2), (2, 3), (3, 5), (5, 6), (6, 7), (0, 0)],
    ...                 [1, 0, 0, 0, 0, 0, 0, 1], (0, 3), (5, 7), max_length=6)
    [0, 3, 4, 5, 6, 9]
    """
    n_tokens = len(input_ids)
    if n_tokens <= max_length:
        return list(input_ids)
    in_prompt, in_response = split_token_roles(
        offsets, special_tokens_mask, prompt_span, response_span
    )
    excess = n_tokens - max_length
    n_drop_prompt = min(excess, len(in_prompt))
    dropped = set(in_prompt[:n_drop_prompt])  # from the left: keep the prompt's end
    excess -= n_drop_prompt
    if excess > 0:
        n_keep = len(in_response) - excess
        if n_keep < 1:
            n_fixed = n_tokens - len(in_prompt) - len(in_response)
            raise ValueError(
                f"The template text and special tokens alone take {n_fixed} tokens, which "
                f"leaves no room for the text within max_length={max_length}; use a shorter "
                "template or a larger max_length."
            )
        response_ids = [input_ids[i] for i in in_response]
        kept = _kept_response_positions(response_ids, partner_response_ids, n_keep)
        dropped.update(in_response[i] for i in set(range(len(in_response))) - set(kept))
    return [token for index, token in enumerate(input_ids) if index not in dropped]


def _kept_response_positions(response_ids, partner_response_ids, n_keep) -> list[int]:
    """Which of a response's tokens to keep when only ``n_keep`` of them fit."""
    if partner_response_ids is None:
        return list(range(n_keep))  # equal responses: nothing to keep apart
    # number of leading tokens the two responses share
    pairs = zip(response_ids, partner_response_ids, strict=False)
    n_shared = next(
        (i for i, (x, y) in enumerate(pairs) if x != y),
        min(len(response_ids), len(partner_response_ids)),
    )
    if n_shared < n_keep:
        return list(range(n_keep))  # the start already tells the two apart
    # Head of the response + a window that starts just before the first differing token.
    # Both responses get the same head and window start (they depend on n_shared and
    # n_keep only), so the first differing token lies inside both windows.
    n_head = n_keep // 2
    n_window = n_keep - n_head
    start = max(n_head, n_shared - n_window // 4)
    window = range(start, min(start + n_window, len(response_ids)))
    return [*range(n_head), *window]


def sort_order(lengths, tie_keys) -> np.ndarray:
    """Order that sorts inputs by length, ties broken by a content key (not input order).

    Batches then depend only on the set of inputs, so the same texts give bit-identical
    features whatever row order they come in.

    Parameters
    ----------
    lengths : sequence of int
        Token counts.
    tie_keys : sequence of comparable
        Content keys of the inputs (e.g. the token ids as tuples).

    Returns
    -------
    order : ndarray of int

    Examples
    --------
    >>> sort_order([3, 1, 3], [b"b", b"z", b"a"]).tolist()
    [1, 2, 0]
    """
    return np.array(
        sorted(range(len(lengths)), key=lambda i: (lengths[i], tie_keys[i])), dtype=np.intp
    )
