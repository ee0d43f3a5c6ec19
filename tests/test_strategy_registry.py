"""The one registry of query strategies, and composition by spec (``stochastic(...)``).

A strategy class with a ``name`` is found by the harness (``make_strategy``), the spec
parser, the command line's help and the parametrized tests; the stochastic modes wrap any
per-row score and give the same picks as the PowerBALD/SoftmaxBALD/SoftRankBALD classes.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FixedProbs
from sklearn.base import clone

import skbalpm.acquisition as acquisition
from skbalpm.acquisition import (
    BALDQueryStrategy,
    BaseQueryStrategy,
    PowerBALDQueryStrategy,
    SoftmaxBALDQueryStrategy,
    SoftRankBALDQueryStrategy,
    StochasticQueryStrategy,
    bald,
    predictive_entropy,
    registered_strategies,
    strategy_class,
)
from skbalpm.acquisition._registry import _REGISTRY
from skbalpm.benchmark import (
    STRATEGY_CLASSES,
    canonical_name,
    make_strategy,
    parse_strategy_spec,
    split_strategy_list,
    strategy_label,
)
from skbalpm.cli import build_parser

REGISTERED = dict(registered_strategies())


def random_probs(n=200, n_members=5, seed=0):
    return np.random.default_rng(seed).uniform(size=(n_members, n))


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_strategy_is_built_by_its_name_and_exported(name):
    cls = REGISTERED[name]
    assert cls.name == name and issubclass(cls, BaseQueryStrategy)
    assert type(make_strategy(name)) is cls
    assert canonical_name(name.upper().replace("-", "_")) == name
    assert strategy_class(name) is cls
    assert STRATEGY_CLASSES[name] == cls.__name__
    assert getattr(acquisition, cls.__name__) is cls and cls.__name__ in acquisition.__all__


def test_strategy_names_view_is_the_registry_and_read_only():
    assert list(STRATEGY_CLASSES) == list(REGISTERED)
    with pytest.raises(TypeError):
        STRATEGY_CLASSES["mine"] = "Mine"
    with pytest.raises(TypeError):
        registered_strategies()["mine"] = BALDQueryStrategy


@pytest.fixture
def new_strategy():
    """A strategy defined in a test, as a user would: one class with its name."""

    class LeastConfident(BaseQueryStrategy):
        name = "least-confident"

        def __init__(self, random_state=None):
            self.random_state = random_state

        def _score(self, context):
            return -np.abs(context.member_probs.mean(axis=0) - 0.5)

    yield LeastConfident
    _REGISTRY.pop("least-confident")


def test_a_new_strategy_class_is_found_everywhere_without_other_edits(new_strategy):
    assert STRATEGY_CLASSES["least-confident"] == "LeastConfident"
    assert type(make_strategy("Least_Confident")) is new_strategy
    assert parse_strategy_spec("least-confident(random_state=3)") == (
        "least-confident",
        {"random_state": 3},
    )
    benchmark = build_parser()._subparsers._group_actions[0].choices["benchmark"]
    assert "least-confident" in " ".join(benchmark.format_help().split())
    # a per-row score: top-B directly, and stochastic(...) samples from it
    probs = random_probs()
    idx, _ = make_strategy("least-confident")(FixedProbs(probs), np.zeros((200, 3)), 5)
    expected = np.argsort(np.abs(probs.mean(axis=0) - 0.5), kind="stable")[:5]
    assert idx.tolist() == expected.tolist()
    wrapped = make_strategy("stochastic(least-confident, mode=softmax, beta=1e9, random_state=0)")
    assert wrapped(FixedProbs(probs), np.zeros((200, 3)), 5)[0].tolist() == expected.tolist()


def test_a_taken_name_is_refused(new_strategy):
    with pytest.raises(ValueError, match="taken by"):

        class Impostor(BaseQueryStrategy):
            name = "bald"

    with pytest.raises(ValueError, match="lower-case"):

        class BadName(BaseQueryStrategy):
            name = "Bad Name"

    assert registered_strategies()["bald"] is BALDQueryStrategy


def test_subclasses_without_their_own_name_are_not_registered():
    class Recording(BALDQueryStrategy):
        pass

    assert Recording.name == "bald" and registered_strategies()["bald"] is BALDQueryStrategy


# --- composition --------------------------------------------------------------------------

PRESETS = [
    (PowerBALDQueryStrategy, "power"),
    (SoftmaxBALDQueryStrategy, "softmax"),
    (SoftRankBALDQueryStrategy, "softrank"),
]


@pytest.mark.parametrize("preset, mode", PRESETS)
@pytest.mark.parametrize("beta, seed", [(1.0, 0), (0.3, 5), (4.0, 11)])
def test_stochastic_spec_picks_what_the_preset_picks(preset, mode, beta, seed):
    probs = random_probs(n=150, seed=seed)
    probs[:, :4] = 0.5  # BALD 0: the power mode's floor
    X = np.zeros((150, 3))
    composed = make_strategy(f"stochastic(bald, mode={mode}, beta={beta}, random_state={seed})")
    direct = preset(beta=beta, random_state=seed)
    for _ in range(3):  # rounds: the same generator sequence
        got, want = composed(FixedProbs(probs), X, 12), direct(FixedProbs(probs), X, 12)
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_array_equal(got[1], want[1])


def test_stochastic_wraps_any_per_row_score_with_the_reference_formula():
    probs = random_probs(n=80, seed=2)
    noise = np.random.RandomState(4).gumbel(0.0, 1 / 2.0, 80)
    entropy = predictive_entropy(probs)
    for spec, key in [
        ("stochastic(entropy, mode=power, beta=2, random_state=4)", np.log(entropy) + noise),
        ("stochastic('entropy', mode=softmax, beta=2.0, random_state=4)", entropy + noise),
        ("stochastic(score=bald, mode=softmax, beta=2, random_state=4)", bald(probs) + noise),
    ]:
        idx, scores = make_strategy(spec)(FixedProbs(probs), np.zeros((80, 3)), 6)
        assert idx.tolist() == np.argsort(-key, kind="stable")[:6].tolist(), spec
        np.testing.assert_allclose(scores, key[idx])


def test_stochastic_takes_a_strategy_instance_and_clones():
    probs = random_probs(n=60)
    strategy = StochasticQueryStrategy(BALDQueryStrategy(), mode="softrank", random_state=1)
    twin = clone(strategy)
    X = np.zeros((60, 3))
    assert (
        strategy(FixedProbs(probs), X, 5)[0].tolist() == twin(FixedProbs(probs), X, 5)[0].tolist()
    )
    assert strategy.get_params()["score__random_state"] is None


@pytest.mark.parametrize(
    "spec, match",
    [
        ("stochastic(balpm)", "does not score each pool row"),
        ("stochastic(nope)", "Unknown query strategy"),
        ("stochastic(bald, mode=gumbel)", "mode must be one of"),
        ("stochastic(bald, beta=0)", "beta must be"),
        ("stochastic(score=3)", "score must be"),
    ],
)
def test_bad_stochastic_specs_are_reported_before_any_work(spec, match):
    class MustNotBeReached:
        def predict_member_proba(self, X):
            raise AssertionError("the pool was scored before the parameters were checked")

    with pytest.raises(ValueError, match=match):
        make_strategy(spec)(MustNotBeReached(), np.zeros((5, 3)), 2)


def test_specs_compose_and_label():
    assert parse_strategy_spec("stochastic(balpm(beta=0.1, k=7), mode=softmax)") == (
        "stochastic",
        {"score": "balpm(beta=0.1, k=7)", "mode": "softmax"},
    )
    assert split_strategy_list("random, stochastic(bald, mode=power),bald") == [
        "random",
        "stochastic(bald, mode=power)",
        "bald",
    ]
    assert strategy_label("stochastic(bald,mode=power)") == "stochastic(mode=power,score=bald)"
    with pytest.raises(ValueError, match="after key=value"):
        parse_strategy_spec("stochastic(mode=power, bald)")
    with pytest.raises(ValueError, match="expected key=value"):
        parse_strategy_spec("bald(3)")  # only stochastic takes a positional argument
