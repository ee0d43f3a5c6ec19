"""Names of the query strategies the benchmark can build: views of the one registry.

Every strategy class of :mod:`skbalpm.acquisition` with a ``name`` registers itself
(:func:`skbalpm.acquisition.registered_strategies`); these functions read that registry,
so a new strategy needs no edit here.
"""

from __future__ import annotations

from collections.abc import Mapping

from skbalpm.acquisition._registry import (
    make_from_spec,
    parse_spec,
    registered_strategies,
    split_top_level,
    strategy_class,
)


class _StrategyNames(Mapping):
    """Read-only, live view of the registry: strategy name -> class name."""

    def __getitem__(self, name):
        return registered_strategies()[name].__name__

    def __iter__(self):
        return iter(registered_strategies())

    def __len__(self):
        return len(registered_strategies())

    def __repr__(self):
        return repr(dict(self))


STRATEGY_CLASSES = _StrategyNames()
"""Benchmark names -> names of the classes of :mod:`skbalpm.acquisition` (a read-only view
of the registry: every strategy class with a ``name`` is in it)."""

DEFAULT_STRATEGIES = ("random", "bald", "powerbald", "balpm")
"""Strategies a benchmark compares when none are named: random, BALD, PowerBALD, BAL-PM."""


def parse_strategy_spec(spec):
    """Split a strategy spec such as ``"balpm(beta=0.001, scaling='rank')"`` into parts.

    Parameters
    ----------
    spec : str
        A name of :data:`STRATEGY_CLASSES`, optionally followed by constructor arguments
        in parentheses: ``key=value``, or before those positional values where the class
        takes them (the wrapped score of ``stochastic``). Values are Python literals, or bare
        words and nested specs taken as strings (``scaling=rank``, the ``bald`` of
        ``stochastic(bald, mode=power)``).

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
    >>> parse_strategy_spec("stochastic(bald, mode=power)")
    ('stochastic', {'score': 'bald', 'mode': 'power'})
    """
    cls, params = parse_spec(spec)
    return cls.name, params


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
    return split_top_level(text)


def make_strategy(name, **params):
    """Build a query strategy of :mod:`skbalpm.acquisition` from its benchmark name or spec.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGY_CLASSES` (case and ``_`` / ``-`` insensitive, e.g. "BAL-PM"),
        optionally with arguments: ``"balpm(beta=0.001)"``,
        ``"stochastic(bald, mode=power)"`` (see :func:`parse_strategy_spec`).
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
    >>> make_strategy("stochastic(entropy, mode=softmax)")
    StochasticQueryStrategy(mode='softmax', score='entropy')
    >>> try:
    ...     make_strategy("nope")
    ... except ValueError as e:
    ...     print(str(e)[:24])
    Unknown query strategy '
    """
    return make_from_spec(name, **params)


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
    return strategy_class(name).name


def cold_start_strategies():
    """Names of the registered strategies that can pick an initial set: no classifier.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> {"random", "typiclust", "probcover", "coreset"} <= set(cold_start_strategies())
    True
    """
    return [name for name, cls in registered_strategies().items() if not cls()._needs_classifier()]
