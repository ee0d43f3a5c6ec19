"""Every public class, function and method has a numpydoc docstring with its sections.

Public names are those of ``skbalpm.__all__``, the ``__all__`` of the public subpackages
and the command-line module; the API reference of the documentation is generated from the
same docstrings, and their Examples sections run as doctests in the suite.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

PUBLIC_MODULES = (
    "skbalpm",
    "skbalpm.acquisition",
    "skbalpm.datasets",
    "skbalpm.benchmark",
    "skbalpm.labeling",
    "skbalpm.cli",
    "skbalpm.distributed",
)

# Methods and functions that implement a method from a paper, and so cite it.
CITING = (
    "skbalpm.BALPMQueryStrategy",
    "skbalpm.EntropyOnlyQueryStrategy",
    "skbalpm.BALDQueryStrategy",
    "skbalpm.PowerBALDQueryStrategy",
    "skbalpm.SoftmaxBALDQueryStrategy",
    "skbalpm.SoftRankBALDQueryStrategy",
    "skbalpm.PredictiveEntropyQueryStrategy",
    "skbalpm.CoresetQueryStrategy",
    "skbalpm.PreferenceEnsembleClassifier",
    "skbalpm.PreferencePairEmbedder",
    "skbalpm.acquisition.bald",
    "skbalpm.acquisition.predictive_entropy",
    "skbalpm.acquisition.knn_radius",
    "skbalpm.acquisition.ball_counts",
    "skbalpm.acquisition.ksg_entropy_term",
    "skbalpm.acquisition.gumbel_noise",
    "skbalpm.acquisition.epig_scores",
    "skbalpm.acquisition.KNNRadiusCache",
    "skbalpm.benchmark.run_benchmark",
    "skbalpm.benchmark.fraction_labels_saved",
    "skbalpm.benchmark.summarize_results",
    "skbalpm.datasets.make_synthetic_preferences",
    "skbalpm.datasets.load_hh_rlhf",
    "skbalpm.datasets.load_summarize_from_feedback",
    "skbalpm.datasets.load_pandalm",
    "skbalpm.datasets.load_llmbar",
    "skbalpm.distributed.embed_pairs",
    "skbalpm.distributed.score_pool",
    "skbalpm.distributed.knn_radii",
)


def _public_names(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name
        ]
    return [(f"{module_name}.{name}", getattr(module, name)) for name in names]


def _own_methods(cls):
    """Public methods (and ``__call__``) that skbalpm itself defines for ``cls``."""
    methods = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("skbalpm"):
            continue
        for name, obj in vars(klass).items():
            if (name.startswith("_") and name != "__call__") or not inspect.isfunction(obj):
                continue
            methods[name] = obj
    return {name: getattr(cls, name) for name in methods}


def _documented_objects():
    seen = {}
    for module_name in PUBLIC_MODULES:
        for qualname, obj in _public_names(module_name):
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants and the version string
            seen.setdefault(id(obj), (qualname, obj))
    items = []
    for qualname, obj in seen.values():
        items.append((qualname, obj))
        if inspect.isclass(obj):
            items += [(f"{qualname}.{name}", m) for name, m in _own_methods(obj).items()]
    return sorted(items, key=lambda item: item[0])


DOCUMENTED = _documented_objects()


def _sections(doc):
    """Names of the numpydoc sections of a docstring (a title underlined with dashes)."""
    lines = inspect.cleandoc(doc).splitlines()
    return {
        lines[i].strip()
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
    }


def _section_text(doc, title):
    lines = inspect.cleandoc(doc).splitlines()
    start = next(i for i in range(len(lines) - 1) if lines[i].strip() == title) + 2
    end = next(
        (
            i
            for i in range(start, len(lines) - 1)
            if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
        ),
        len(lines),
    )
    return "\n".join(lines[start:end])


def _parameters(obj):
    """Names a docstring must describe: the signature's, without self and cls."""
    target = obj
    if inspect.isclass(obj) and getattr(obj, "_is_protocol", False):
        return []  # a typing.Protocol: never instantiated, no constructor to describe
    if inspect.isclass(obj):
        owner = next(k for k in obj.__mro__ if "__init__" in k.__dict__)
        if not owner.__module__.startswith("skbalpm"):
            return []  # e.g. exceptions: the constructor is Python's own
        target = owner.__dict__["__init__"]
    names = []
    for p in inspect.signature(target).parameters.values():
        if p.name in ("self", "cls"):
            continue
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        names.append(prefix + p.name)
    return names


def test_the_walk_finds_the_public_api():
    names = {name for name, _ in DOCUMENTED}
    assert "skbalpm.BALPMQueryStrategy" in names
    assert "skbalpm.BALPMQueryStrategy.__call__" in names
    assert "skbalpm.PreferenceEnsembleClassifier.fit" in names
    assert "skbalpm.datasets.make_synthetic_preferences" in names
    assert "skbalpm.benchmark.run_benchmark" in names
    assert len(names) > 60


@pytest.mark.parametrize("qualname, obj", DOCUMENTED, ids=[name for name, _ in DOCUMENTED])
def test_docstring_has_the_numpydoc_sections(qualname, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    sections = _sections(doc)
    params = _parameters(obj)
    if params:
        assert "Parameters" in sections, f"{qualname}: no Parameters section"
        described = _section_text(doc, "Parameters")
        for name in params:
            pattern = rf"^(\S.*, )?{re.escape(name)}(,| :|$)"
            assert re.search(pattern, described, flags=re.M), (
                f"{qualname}: parameter {name!r} is not described under Parameters"
            )
    if not inspect.isclass(obj):
        assert "Returns" in sections or "Yields" in sections, f"{qualname}: no Returns section"
    assert "Examples" in sections, f"{qualname}: no Examples section"
    assert ">>>" in _section_text(doc, "Examples"), f"{qualname}: Examples has no doctest"


def _registered_strategies_from_papers():
    """Every registered strategy but random sampling implements a published method."""
    from skbalpm.acquisition import registered_strategies

    return tuple(
        f"{cls.__module__.rsplit('._', 1)[0]}.{cls.__name__}"
        for name, cls in registered_strategies().items()
        if name != "random"
    )


@pytest.mark.parametrize(
    "qualname",
    sorted(
        {
            *CITING,
            *_registered_strategies_from_papers(),
            "skbalpm.acquisition.stochastic_log_weights",
        }
    ),
)
def test_methods_from_papers_cite_them(qualname):
    module_name, name = qualname.rsplit(".", 1)
    obj = getattr(importlib.import_module(module_name), name)
    assert "References" in _sections(inspect.getdoc(obj)), f"{qualname}: no References"


def test_section_parser_catches_a_missing_section():
    def undocumented(x):
        """Do something.

        Returns
        -------
        y : int
        """

    assert _sections(inspect.getdoc(undocumented)) == {"Returns"}
    assert _parameters(undocumented) == ["x"]
