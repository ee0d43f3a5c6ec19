"""Names of the query strategies the benchmark can build (resolved lazily)."""

from __future__ import annotations

import ast
import importlib
import re

STRATEGY_CLASSES = {
    "random": "RandomQueryStrategy",
    "bald": "BALDQueryStrategy",
    "powerbald": "PowerBALDQueryStrategy",
    "softmaxbald": "SoftmaxBALDQueryStrategy",
    "softrankbald": "SoftRankBALDQueryStrategy",
    "entropy": "PredictiveEntropyQueryStrategy",
    "entropy-only": "EntropyOnlyQueryStrategy",
    "coreset": "CoresetQueryStrategy",
    "balpm": "BALPMQueryStrategy",
}
"""Benchmark names -> classes of :mod:`skbalpm.acquisition`."""

DEFAULT_STRATEGIES = ("random", "bald", "powerbald", "balpm")
"""Strategies a benchmark compares when none are named: random, BALD, PowerBALD, BAL-PM."""


_SPEC = re.compile(r"^\s*([A-Za-z_-]+)\s*(?:\((.*)\))?\s*$", re.DOTALL)


def parse_strategy_spec(spec):
    """Split a strategy spec such as ``"balpm(beta=0.001, scaling='rank')"`` into parts.

    Parameters
    ----------
    spec : str
        A name of :data:`STRATEGY_CLASSES`, optionally followed by constructor keyword
        arguments in parentheses; values are Python literals, or bare words taken as
        strings (``scaling=rank``).

    Returns
    -------
    name : str
        The canonical benchmark name ("BAL-PM" -> "balpm").
    params : dict
        The keyword arguments.

    Raises
    ------
    ValueError
        If the name is unknown or the arguments do not parse.

    Examples
    --------
    >>> parse_strategy_spec("BAL-PM(beta=0.001, scaling=rank)")
    ('balpm', {'beta': 0.001, 'scaling': 'rank'})
    >>> parse_strategy_spec("bald")
    ('bald', {})
    """
    match = _SPEC.match(str(spec))
    if match is None:
        raise ValueError(
            f"Cannot read the strategy {spec!r}: expected NAME or NAME(key=value, ...)."
        )
    name, arguments = canonical_name(match.group(1)), match.group(2)
    params = {}
    for item in filter(None, (part.strip() for part in (arguments or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"Cannot read {item!r} in the strategy {spec!r}: expected key=value.")
        try:
            params[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            params[key.strip()] = value.strip()  # a bare word: a string option
    return name, params


def strategy_label(spec):
    """The label of a strategy spec in results tables: canonical name and sorted arguments.

    Parameters
    ----------
    spec : str
        As for :func:`parse_strategy_spec`.

    Returns
    -------
    label : str

    Examples
    --------
    >>> strategy_label("BAL-PM( scaling=rank,beta=0.1 )")
    'balpm(beta=0.1,scaling=rank)'
    """
    name, params = parse_strategy_spec(spec)
    if not params:
        return name
    return f"{name}({','.join(f'{key}={params[key]}' for key in sorted(params))})"


def split_strategy_list(text):
    """Split a comma-separated list of strategy specs, keeping commas inside parentheses.

    Parameters
    ----------
    text : str
        E.g. ``"random,bald,balpm(beta=0.1,k=7)"``.

    Returns
    -------
    specs : list of str

    Examples
    --------
    >>> split_strategy_list("random, balpm(beta=0.1,k=7),bald")
    ['random', 'balpm(beta=0.1,k=7)', 'bald']
    """
    specs, depth, current = [], 0, []
    for char in str(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            specs.append("".join(current))
            current = []
        else:
            current.append(char)
    specs.append("".join(current))
    return [spec.strip() for spec in specs if spec.strip()]


def make_strategy(name, **params):
    """Build a query strategy of :mod:`skbalpm.acquisition` from its benchmark name or spec.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGY_CLASSES` (case and ``_`` / ``-`` insensitive, e.g. "BAL-PM"),
        optionally with arguments: ``"balpm(beta=0.001)"`` (see
        :func:`parse_strategy_spec`).
    **params
        Passed to the strategy's constructor (override the spec's arguments).

    Returns
    -------
    strategy : object
        The strategy instance (callable in modAL's convention).

    Examples
    --------
    >>> make_strategy("balpm(scaling=rank)").scaling
    'rank'
    >>> try:
    ...     make_strategy("nope")
    ... except ValueError as e:
    ...     print(str(e)[:24])
    Unknown query strategy '
    """
    canonical, spec_params = parse_strategy_spec(name)
    module = importlib.import_module("skbalpm.acquisition")
    return getattr(module, STRATEGY_CLASSES[canonical])(**{**spec_params, **params})


def canonical_name(name):
    """The benchmark name of a strategy name ("BAL-PM" -> "balpm").

    Parameters
    ----------
    name : str
        A strategy name.

    Returns
    -------
    name : str

    Examples
    --------
    >>> canonical_name("BAL-PM"), canonical_name("entropy_only")
    ('balpm', 'entropy-only')
    """
    key = str(name).lower().replace("_", "").replace("-", "")
    for canonical in STRATEGY_CLASSES:
        if canonical.replace("-", "") == key:
            return canonical
    raise ValueError(
        f"Unknown query strategy {name!r}; expected one of {sorted(STRATEGY_CLASSES)}."
    )
