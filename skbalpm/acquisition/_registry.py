"""The one registry of query strategies: a class with a ``name`` is found everywhere.

A subclass of :class:`~skbalpm.acquisition.BaseQueryStrategy` that sets a class attribute
``name`` (lower case, letters, digits and ``-``) registers itself when it is defined. The
benchmark harness (``make_strategy``, ``--strategies``), the command line's help, the
documentation test and the parametrized tests all read this registry, so a new strategy
is one class (plus its line in ``docs/api.rst``, which a test checks).
"""

from __future__ import annotations

import ast
import re
from types import MappingProxyType

from sklearn.base import clone

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")

_REGISTRY: dict[str, type] = {}


def register_strategy(cls):
    """Register ``cls`` under ``cls.name``; called by ``BaseQueryStrategy.__init_subclass__``.

    A name taken by another class is an error; the same class defined again (a module
    reloaded) replaces its earlier self.
    """
    name = cls.__dict__["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{cls.__qualname__}.name must be lower-case letters, digits and '-', starting "
            f"with a letter; got {name!r}."
        )
    held = _REGISTRY.get(name)
    if held is not None and (held.__module__, held.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise ValueError(
            f"The strategy name {name!r} is taken by {held.__module__}.{held.__qualname__}; "
            f"{cls.__module__}.{cls.__qualname__} needs another."
        )
    _REGISTRY[name] = cls
    return cls


def registered_strategies():
    """Every registered strategy: a read-only mapping name -> class, in definition order.

    Returns
    -------
    strategies : mapping of str to type
        A live view: strategies defined later appear in it.

    Examples
    --------
    >>> from skbalpm.acquisition import registered_strategies
    >>> registered_strategies()["bald"].__name__
    'BALDQueryStrategy'
    """
    return MappingProxyType(_REGISTRY)


def _key(name) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def strategy_class(name):
    """The registered strategy class of a name (case, ``_`` and ``-`` insensitive).

    Parameters
    ----------
    name : str
        A registered name, e.g. ``"bald"``, ``"BAL-PM"`` or ``"entropy_only"``.

    Returns
    -------
    cls : type
        The :class:`~skbalpm.acquisition.BaseQueryStrategy` subclass.

    Raises
    ------
    ValueError
        If no strategy has that name; the message lists the names.

    Examples
    --------
    >>> from skbalpm.acquisition import strategy_class
    >>> strategy_class("BAL-PM").__name__
    'BALPMQueryStrategy'
    """
    key = _key(name)
    for registered, cls in _REGISTRY.items():
        if _key(registered) == key:
            return cls
    raise ValueError(f"Unknown query strategy {name!r}; expected one of {sorted(_REGISTRY)}.")


_SPEC = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


def split_top_level(text, separator=","):
    """Split ``text`` at ``separator`` outside parentheses, brackets and quotes.

    Parameters
    ----------
    text : str
    separator : str, default=","

    Returns
    -------
    parts : list of str
        Stripped, empty parts dropped.

    Examples
    --------
    >>> split_top_level("stochastic(bald, mode=power), balpm(k=7), x='a,b'")
    ['stochastic(bald, mode=power)', 'balpm(k=7)', "x='a,b'"]
    """
    parts, depth, quote, current = [], 0, None, []
    for char in str(text):
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word or a nested spec: a string option


def parse_spec(spec):
    """Split a strategy spec into its class and constructor arguments.

    ``NAME`` or ``NAME(arguments)``; arguments are ``key=value`` or, before those and
    where the class allows them (its ``_positional_params``), positional values. Values
    are Python literals, else strings (``scaling=rank``, or a nested spec such as the
    ``bald`` of ``stochastic(bald, mode=power)``).

    Parameters
    ----------
    spec : str

    Returns
    -------
    cls : type
        The registered strategy class.
    params : dict
        The keyword arguments.

    Raises
    ------
    ValueError
        If the name is unknown or the arguments do not parse.
    """
    match = _SPEC.match(str(spec))
    if match is None:
        raise ValueError(
            f"Cannot read the strategy {spec!r}: expected NAME or NAME(key=value, ...)."
        )
    cls = strategy_class(match.group(1))
    positional_names = tuple(getattr(cls, "_positional_params", ()))
    params, n_positional = {}, 0
    for item in split_top_level(match.group(2) or ""):
        key, sep, value = item.partition("=")
        if sep and key.strip().isidentifier() and not key.strip().startswith(("'", '"')):
            params[key.strip()] = _value(value.strip())
            continue
        if params:
            raise ValueError(
                f"Cannot read {item!r} in the strategy {spec!r}: a positional argument "
                "after key=value ones."
            )
        if n_positional >= len(positional_names):
            takes = f"; {cls.name} takes {positional_names} so" if positional_names else ""
            raise ValueError(
                f"Cannot read {item!r} in the strategy {spec!r}: expected key=value{takes}."
            )
        params[positional_names[n_positional]] = _value(item)
        n_positional += 1
    return cls, params


def make_from_spec(spec, **params):
    """A strategy instance from a spec (see :func:`parse_spec`); ``params`` override it.

    Parameters
    ----------
    spec : str or BaseQueryStrategy
        A spec, or a strategy instance (returned as it is when no ``params`` are given,
        else a copy with them set).
    **params
        Constructor arguments.

    Returns
    -------
    strategy : BaseQueryStrategy
    """
    if not isinstance(spec, str):
        return clone(spec).set_params(**params) if params else spec
    cls, spec_params = parse_spec(spec)
    return cls(**{**spec_params, **params})
