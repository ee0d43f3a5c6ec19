"""Names of the query strategies the benchmark can build (resolved lazily)."""

from __future__ import annotations

import importlib

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


def make_strategy(name, **params):
    """Build a query strategy of :mod:`skbalpm.acquisition` from its benchmark name.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGY_CLASSES` (case and ``_`` / ``-`` insensitive, e.g. "BAL-PM").
    **params
        Passed to the strategy's constructor.

    Returns
    -------
    strategy : object
        The strategy instance (callable in modAL's convention).

    Examples
    --------
    >>> try:
    ...     make_strategy("nope")
    ... except ValueError as e:
    ...     print(str(e)[:24])
    Unknown query strategy '
    """
    key = str(name).lower().replace("_", "").replace("-", "")
    lookup = {k.replace("-", ""): v for k, v in STRATEGY_CLASSES.items()}
    if key not in lookup:
        raise ValueError(
            f"Unknown query strategy {name!r}; expected one of {sorted(STRATEGY_CLASSES)}."
        )
    module = importlib.import_module("skbalpm.acquisition")
    return getattr(module, lookup[key])(**params)


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
