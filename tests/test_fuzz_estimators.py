"""Fuzz: generated bad and edge-case input for the estimators and the query strategies.

Each example draws a small valid problem (preference-pair features in a layout, labels
from a linear reward, a classifier's settings), then one mutation: a width that fits no
layout or two, NaN or infinity, no rows, one row, one class, three classes, labels of
other types, ``y`` of the wrong length or shape, 1-d, 3-d, object or complex arrays,
DataFrames whose column names are shuffled, duplicated, dropped or spell another layout,
``groups`` of the wrong length or with missing ids, bad constructor parameters, huge or
tiny magnitudes, constant features, and, for prediction, another width than at fit. The
query strategies get bad ``n_instances``, empty or NaN pools, acquired sets of another
width, unfitted classifiers and bad parameters; the embedder gets malformed raw pairs
(checked before any model is loaded). Every input must be either handled (the outputs
keep their contract: finite probabilities in [0, 1] summing to 1, distinct indices into
the pool, ...) or refused with a ``ValueError`` or ``TypeError`` whose message names the
problem -- never another exception, a NaN output or a hang.

The examples are derandomized (the same inputs on every run); the module prints how many
inputs it tried, and each test checks that it tried at least its ``max_examples``.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import fuzz, print_past_capture
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from test_acquisition_strategies import check_prompt_distances_scale

from skbalpm import (
    BALPMQueryStrategy,
    CoresetQueryStrategy,
    EntropyOnlyQueryStrategy,
    PreferenceEnsembleClassifier,
    PreferencePairEmbedder,
    TypiClustQueryStrategy,
    swap_response_blocks,
)
from skbalpm._features import feature_names, n_feature_blocks
from skbalpm.acquisition import registered_strategies

pytestmark = pytest.mark.slow  # about 30 s on a 2-core box

TRIED: Counter = Counter()  # test -> generated inputs
OUTCOMES: Counter = Counter()  # (test, "handled" | "refused") -> count
KINDS: Counter = Counter()  # (test, kind of input) -> generated inputs

# examples per kind of input (and per method or strategy)
N_FIT = 3
N_PREDICT = 4
N_BAD_VALUE = 2  # per known-bad parameter value
N_ANY_VALUE = 6  # per parameter, values of any kind
N_SCALE = 25
N_QUERY = 2
N_QUERY_PARAMS = 4
N_PROMPT_SCALE = 25
N_EMBEDDER = 6

METHODS = ("laplace", "deep-ensemble")


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    """Print the number of generated inputs when the module is done."""
    yield
    total = sum(TRIED.values())
    handled = sum(n for (_, outcome), n in OUTCOMES.items() if outcome == "handled")
    lines = [
        f"fuzz: {total} generated inputs ({handled} handled, {total - handled} refused with "
        "a clear error)",
        "  " + ", ".join(f"{name} {n}" for name, n in sorted(TRIED.items())),
        f"  {len(KINDS)} kinds of input (mutations, parameters, properties)",
    ]
    print_past_capture(request, lines)


def run_counted(name, fuzz_test, n_examples, *args):
    """Run a hypothesis test and check that it tried at least ``n_examples`` inputs."""
    before = TRIED[name]
    fuzz_test(*args)
    assert TRIED[name] - before >= n_examples


# ------------------------------------------------------------------ the oracle

INTERNAL = (IndexError, KeyError, AttributeError, ZeroDivisionError, RuntimeError)


@dataclass
class Case:
    """One generated input: what to call and what must come of it.

    ``error``: a pattern the error message must match (the problem it names); None for a
    valid input, which must be handled. ``may_pass``: the input may also be handled (its
    outputs are then checked as for a valid one).
    """

    kind: str
    error: str | None = None
    may_pass: bool = False
    data: dict = field(default_factory=dict)


def attempt(name, case, call):
    """Run ``call()`` on one generated input and check the outcome; return the result.

    Returns None when the input was refused (as its case allows).
    """
    TRIED[name] += 1
    KINDS[name.split("[")[0], case.kind.split("=")[0]] += 1
    try:
        with warnings.catch_warnings():
            # expected warnings: n_instances > pool, no acquired set, unconverged evidence,
            # a column-vector y, feature names present at predict only
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            result = call()
    except (ValueError, TypeError) as exc:
        OUTCOMES[name, "refused"] += 1
        message = f"{case.kind}: {type(exc).__name__}: {exc}"
        internal = isinstance(exc, INTERNAL) and not isinstance(exc, NotFittedError)
        assert not internal, f"an internal error, not a clear one: {message}"
        assert case.error is not None, f"a valid input was refused: {message}"
        assert re.search(case.error, str(exc), re.IGNORECASE), (
            f"the message does not name the problem /{case.error}/: {message}"
        )
        return None
    OUTCOMES[name, "handled"] += 1
    assert case.error is None or case.may_pass, f"{case.kind}: bad input was accepted"
    return result


# -------------------------------------------------------------- generated data


@dataclass
class Pairs:
    """A valid problem: features ``X`` in ``layout`` (block width ``d``), labels ``y``."""

    X: np.ndarray
    y: np.ndarray
    layout: str
    d: int

    @property
    def names(self):
        return feature_names(self.layout, self.d)

    def frame(self, X=None):
        return pd.DataFrame(self.X if X is None else X, columns=self.names)


def make_pairs(n, d, layout, seed):
    """n pairs, labels from a linear reward (learnable), both labels present."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_feature_blocks(layout) * d))
    w = rng.normal(size=d)
    y = (X[:, d : 2 * d] @ w > X[:, :d] @ w).astype(int)  # 1: response_b preferred
    y[:2] = [0, 1]
    return Pairs(X, y, layout, d)


@st.composite
def pairs(draw, min_n=2):
    """A valid problem of 2 to 40 pairs, 2 to 48 columns."""
    layout = draw(st.sampled_from(("a|b", "a|b|prompt")))
    d = draw(st.integers(1, 16 if layout == "a|b|prompt" else 24))
    n = draw(st.integers(min_n, 40))
    return make_pairs(n, d, layout, draw(st.integers(0, 2**16)))


@st.composite
def classifier_params(draw, method):
    """Small, fast settings of either method (n <= 40 rows, widths <= 48)."""
    common = {
        "method": method,
        "random_state": draw(st.integers(0, 3)),
        "dtype": draw(st.sampled_from(["float32", "float64"])),
    }
    if method == "laplace":
        return common | {
            "n_members": draw(st.integers(1, 3)),
            "n_random_features": draw(st.sampled_from([0, 4, 16])),
            "prior_precision": draw(st.sampled_from(["evidence", "evidence", 1.0])),
        }
    return common | {
        "n_members": draw(st.integers(1, 2)),
        "max_epochs": draw(st.integers(1, 2)),
        "hidden_layer_sizes": draw(st.sampled_from([(), (4,), (8, 4)])),
        "activation": draw(st.sampled_from(["tanh", "relu", "gelu"])),
        "batch_size": draw(st.integers(1, 16)),
        "validation_fraction": draw(st.sampled_from([0.0, 0.2, 0.5])),
        "n_iter_no_change": draw(st.sampled_from([None, 1, 10])),
        "early_stopping_split": draw(st.sampled_from(["grouped", "random"])),
    }


def check_predictions(clf, X, classes=None):
    """The outputs' contract on rows ``X`` of a fitted classifier."""
    n = len(X)
    proba = clf.predict_proba(X)
    assert proba.shape == (n, 2)
    assert np.isfinite(proba).all(), "NaN or inf probabilities"
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    member = clf.predict_member_proba(X)
    assert member.shape == (clf.n_members, n)
    assert np.isfinite(member).all() and ((member >= 0) & (member <= 1)).all()
    decision = clf.decision_function(X)
    assert decision.shape == (n,) and np.isfinite(decision).all()
    predicted = clf.predict(X)
    assert set(predicted.tolist()) <= set(clf.classes_.tolist())
    if classes is not None:
        assert clf.classes_.tolist() == sorted(classes)
    # exchanging the responses exchanges the columns
    swapped = swap_response_blocks(X, clf.feature_layout_)
    if hasattr(X, "columns"):
        swapped = pd.DataFrame(swapped, columns=X.columns)
    np.testing.assert_allclose(clf.predict_proba(swapped), proba[:, ::-1], rtol=0, atol=1e-12)
    if clf.method == "laplace":
        # the posterior predictive and the posterior-mean margin agree on the winner
        clear = np.abs(proba[:, 1] - 0.5) > 1e-6
        assert ((decision > 0) == (proba[:, 1] > 0.5))[clear].all(), "decision vs proba"
    return proba


# ------------------------------------------------------------- fit mutations

BAD_CLASSIFIER_PARAMS = {
    "n_members": [0, -1, 1.5, "3", None],
    "method": ["bayes", None, 1],
    "feature_layout": ["a|b|c", "", None, "A|B"],
    "n_random_features": [-1, 2.5, "8"],
    "length_scales": [(0.0,), (-1.0,), (np.nan,), (np.inf,), ("x",), (True,), [[1.0]], None],
    "prior_precision": [0, -1.0, np.nan, np.inf, "auto", None],
    "random_features_seed": [-1, 1.5, "0"],
    "hidden_layer_sizes": [(0,), (-4,), (2.5,), ("8",), (True,), None],
    "activation": ["sigmoid", None],
    "init_std": [0, -0.1, np.nan, np.inf],
    "learning_rate": [0, -1.0, np.nan, np.inf],
    "weight_decay": [-1.0, np.nan, np.inf],
    "alpha": [-1.0, np.nan, np.inf],
    "batch_size": [0, -1, 2.5],
    "max_epochs": [0, -1, 1.5],
    "validation_fraction": [1.0, -0.1, 2, np.nan],
    "n_iter_no_change": [0, -1, 1.5],
    "early_stopping_split": ["groups", None],
    "device": [1, None, "tpu", "cuda:x"] + ([] if torch.cuda.is_available() else ["cuda"]),
    "dtype": ["float16", "bfloat16", None],
    "random_state": ["0", 1.5, -1],
    "verbose": [-1, "1"],
    "warm_start": ["yes", 2],
    "n_jobs": [1.5, "2"],
}

LABEL_PAIRS = [
    (0, 1),
    (1, 2),
    (-1, 1),
    ("a", "b"),
    ("no", "yes"),
    (False, True),
    (0.0, 1.0),
    (np.int8(3), np.int8(7)),
]


def width_where(draw, predicate, limit=48):
    return draw(st.sampled_from([w for w in range(1, limit + 1) if predicate(w)]))


FIT_KINDS = (
    "valid",
    "frame_auto",
    "width_auto",
    "labels",
    "magnitude",
    "far_magnitude",
    "column_magnitudes",
    "constant_columns",
    "ties",
    "duplicate_rows",
    "float32",
    "nested_list",
    "object_numbers",
    "bool_features",
    "y_column",
    "groups_valid",
    "warm_start_refit",
    "width_misfit",
    "width_ambiguous",
    "width_unfit",
    "nan",
    "inf",
    "no_rows",
    "no_columns",
    "one_row",
    "one_class",
    "three_classes",
    "y_length",
    "y_nan",
    "y_continuous",
    "y_mixed_types",
    "y_none",
    "y_2d",
    "x_1d",
    "x_3d",
    "x_strings",
    "x_none_cell",
    "x_complex",
    "frame_shuffled",
    "frame_duplicated",
    "frame_dropped",
    "frame_other_layout",
    "frame_mixed_names",
    "frame_plain_names_ambiguous",
    "groups_length",
    "groups_missing",
    "groups_mixed_types",
    "groups_2d",
    "warm_start_width",
    "warm_start_classes",
    "beyond_dtype",
)


@st.composite
def fit_case(draw, method, kind):
    """(case, params, X, y, fit kwargs) of one fit: a valid problem and one mutation."""
    base = draw(pairs())
    params = draw(classifier_params(method)) | {"feature_layout": base.layout}
    X, y, kwargs = base.X, base.y, {}
    n, width = X.shape
    case = Case(kind)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "frame_auto":
        X, params["feature_layout"] = base.frame(), "auto"
    elif kind == "width_auto":
        # a width only one layout fits: 'auto' reads it
        layout = base.layout
        d = draw(st.sampled_from([1, 2, 4, 5, 7, 8] if layout == "a|b" else [1, 3, 5, 7]))
        base = make_pairs(n, d, layout, int(rng.integers(2**16)))
        X, y, params["feature_layout"] = base.X, base.y, "auto"
    elif kind == "labels":
        labels = draw(st.sampled_from(LABEL_PAIRS))
        y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y]
        case.data["classes"] = list(labels)
    elif kind == "magnitude":
        X = X * 10.0 ** draw(st.integers(-30, 30))
    elif kind == "far_magnitude":
        # handled, or refused where the model's dtype cannot hold the features
        X = X * 10.0 ** (draw(st.integers(31, 300)) * draw(st.sampled_from([-1, 1])))
        case.error, case.may_pass = r"range of dtype", True
    elif kind == "column_magnitudes":
        X = X * 10.0 ** rng.integers(-30, 31, size=width)
    elif kind == "constant_columns":
        value = draw(st.sampled_from([0.0, 1.0, -3.5, 1e30, -1e-30]))
        columns = rng.random(width) < draw(st.sampled_from([0.3, 1.0]))
        X = X.copy()
        X[:, columns] = value
    elif kind == "ties":
        d = base.d
        X = X.copy()
        X[:, d : 2 * d] = X[:, :d]  # response_b == response_a in every pair
        case.data["ties"] = True
    elif kind == "duplicate_rows":
        X, y = np.concatenate([X, X[:3]]), np.concatenate([y, y[:3]])
    elif kind == "float32":
        X = X.astype(np.float32)
    elif kind == "nested_list":
        X, y = X.tolist(), y.tolist()
    elif kind == "object_numbers":
        X = X.astype(object)
    elif kind == "bool_features":
        X = X > 0
    elif kind == "y_column":
        y = y.reshape(-1, 1)
    elif kind == "groups_valid":
        groups = rng.integers(0, draw(st.integers(1, 6)), size=n)
        kwargs["groups"] = np.array([f"post-{g}" for g in groups]) if rng.random() < 0.5 else groups
    elif kind == "warm_start_refit":
        params["warm_start"] = True
        case.data["refit"] = (X[::-1].copy(), y[::-1].copy())
    elif kind == "width_misfit":
        blocks = n_feature_blocks(base.layout)
        w = width_where(draw, lambda w: w % blocks != 0)
        X = rng.normal(size=(n, w))
        case.error = r"multiple of"
    elif kind == "width_ambiguous":
        X = rng.normal(size=(n, draw(st.sampled_from([6, 12, 18, 24, 36, 48]))))
        params["feature_layout"], case.error = "auto", r"Cannot tell the layout.*both|split as"
    elif kind == "width_unfit":
        X = rng.normal(size=(n, width_where(draw, lambda w: w % 2 and w % 3)))
        params["feature_layout"], case.error = "auto", r"fits no layout"
    elif kind in ("nan", "inf"):
        X = X.copy()
        X[rng.integers(n), rng.integers(width)] = np.nan if kind == "nan" else -np.inf
        case.error = r"NaN|infinity"
    elif kind == "no_rows":
        X, y, case.error = X[:0], y[:0], r"0 sample"
    elif kind == "no_columns":
        X, case.error = X[:, :0], r"0 feature"
    elif kind == "one_row":
        X, y, case.error = X[:1], y[:1], r"two classes"
    elif kind == "one_class":
        y, case.error = np.full(n, draw(st.sampled_from([0, 1, "a"]))), r"two classes"
    elif kind == "three_classes":
        if n < 3:
            X = np.concatenate([X, X])
        y = np.arange(len(X)) % 3
        case.error = r"two classes"
    elif kind == "y_length":
        y = np.concatenate([y, y[:1]]) if rng.random() < 0.5 else y[:-1]
        case.error = r"inconsistent numbers of samples"
    elif kind == "y_nan":
        y = y.astype(float)
        y[rng.integers(n)] = np.nan
        case.error = r"y contains NaN"
    elif kind == "y_continuous":
        y, case.error = rng.normal(size=n), r"label type"
    elif kind == "y_mixed_types":
        y = np.array([0, "b"] * n, dtype=object)[:n]
        case.error = r"y mixes labels of types|Unknown label type"
    elif kind == "y_none":
        y, case.error = None, r"requires y"
    elif kind == "y_2d":
        y, case.error = np.stack([y, 1 - y], axis=1), r"1d array|shape"
    elif kind == "x_1d":
        X, case.error = X[:, 0], r"Expected 2D array"
    elif kind == "x_3d":
        X, case.error = X[:, :, None], r"dim 3"
    elif kind == "x_strings":
        X = X.astype(object)
        X[rng.integers(n), rng.integers(width)] = draw(st.sampled_from(["x", "1,5", ""]))
        case.error = r"string"
    elif kind == "x_none_cell":
        X = X.astype(object)
        X[rng.integers(n), rng.integers(width)] = None
        case.error = r"NaN"
    elif kind == "x_complex":
        X, case.error = X + 1j, r"Complex"
    elif kind == "frame_shuffled":
        names = base.names.copy()
        names[[0, -1]] = names[[-1, 0]]  # the first and the last: another block's names
        X, params["feature_layout"] = pd.DataFrame(X, columns=names), "auto"
        case.error = r"spell no layout"
    elif kind == "frame_duplicated":
        names = base.names.copy()
        names[-1] = names[0]
        X, params["feature_layout"] = pd.DataFrame(X, columns=names), "auto"
        # scikit-learn >= 1.9 refuses duplicated names itself, before the layout is read
        case.error = r"spell no layout|Expected unique column names"
    elif kind == "frame_dropped":
        names = base.names
        drop = int(rng.integers(len(names)))
        X = pd.DataFrame(np.delete(X, drop, axis=1), columns=np.delete(names, drop))
        params["feature_layout"], case.error = "auto", r"spell no layout"
    elif kind == "frame_other_layout":
        # 6k columns named for one layout, the parameter naming the other
        k = draw(st.integers(1, 8))
        named = draw(st.sampled_from(["a|b", "a|b|prompt"]))
        other = "a|b|prompt" if named == "a|b" else "a|b"
        columns = feature_names(named, 6 * k // n_feature_blocks(named))
        X = pd.DataFrame(rng.normal(size=(n, 6 * k)), columns=columns)
        params["feature_layout"], case.error = other, r"contradicts"
    elif kind == "frame_mixed_names":
        names = list(base.names)
        names[0] = 0
        X, case.error = pd.DataFrame(X, columns=names), r"feature names|string names"
    elif kind == "frame_plain_names_ambiguous":
        w = draw(st.sampled_from([6, 12, 24]))
        X = pd.DataFrame(rng.normal(size=(n, w)), columns=[f"x{i}" for i in range(w)])
        params["feature_layout"], case.error = "auto", r"Cannot tell the layout"
    elif kind == "groups_length":
        kwargs["groups"], case.error = np.arange(n + draw(st.sampled_from([-1, 1, 5]))), r"groups"
    elif kind == "groups_missing":
        groups = rng.integers(0, 3, size=n).astype(object)
        groups[rng.integers(n)] = draw(st.sampled_from([None, np.nan, float("nan")]))
        kwargs["groups"], case.error = groups, r"groups holds no group id"
    elif kind == "groups_mixed_types":
        kwargs["groups"] = np.array([1, "post"] * n, dtype=object)[:n]
        case.error = r"groups mixes ids of types"
    elif kind == "groups_2d":
        kwargs["groups"], case.error = np.zeros((n, 2)), r"groups must hold one group id"
    elif kind == "warm_start_width":
        params["warm_start"] = True
        case.data["refit"] = (np.concatenate([X, X[:, :1]], axis=1), y)
        case.error = r"features"
    elif kind == "warm_start_classes":
        params["warm_start"] = True
        case.data["refit"] = (X, np.where(y == 1, 2, 0))
        case.error = r"classes"
    elif kind == "beyond_dtype":
        params["dtype"] = "float32"
        X = X.copy()
        X[rng.integers(n), rng.integers(width)] = draw(st.sampled_from([1e39, -1e300, 3e38 * 2]))
        case.error = r"beyond the range of dtype='float32'"
    return case, params, X, y, kwargs


def fit_and_check(case, params, X, y, kwargs):
    clf = PreferenceEnsembleClassifier(**params).fit(X, y, **kwargs)
    if "refit" in case.data:  # a warm-start second fit
        clf.fit(*case.data["refit"])
        X = case.data["refit"][0]
    proba = check_predictions(clf, X, case.data.get("classes"))
    if case.data.get("ties"):
        np.testing.assert_allclose(proba, 0.5, rtol=0, atol=1e-12)
    return clf


@fuzz(N_FIT)
@given(data=st.data())
def _fuzz_fit(method, kind, data):
    case, params, X, y, kwargs = data.draw(fit_case(method, kind), label="case")
    attempt(f"fit[{method}]", case, lambda: fit_and_check(case, params, X, y, kwargs))


@pytest.mark.parametrize("kind", FIT_KINDS)
@pytest.mark.parametrize("method", METHODS)
def test_fuzz_classifier_fit(method, kind):
    run_counted(f"fit[{method}]", _fuzz_fit, N_FIT, method, kind)


# ------------------------------------------------------- constructor parameters

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "auto", "cpu", "cuda:0", "float64", "a|b", "tanh", "random"]),
    st.lists(st.one_of(st.integers(-2, 6), st.floats(-2.0, 6.0), st.text(max_size=2)), max_size=3),
)
"""Any value, valid or not, for any parameter (small: a valid one stays fast)."""


ANY_VALUE = object()
"""In place of a parameter value: draw one from ``JUNK`` (it may be valid)."""


def _classifier_param(name, value, data):
    method = data.draw(st.sampled_from(METHODS), label="method")
    base = data.draw(pairs(), label="pairs")
    params = data.draw(classifier_params(method)) | {"feature_layout": base.layout}
    known_bad = value is not ANY_VALUE
    params[name] = value if known_bad else data.draw(JUNK, label=name)
    case = Case(f"{name}={params[name]!r}", error=re.escape(name), may_pass=not known_bad)
    attempt("params", case, lambda: fit_and_check(case, params, base.X, base.y, {}))


_fuzz_bad_value = fuzz(N_BAD_VALUE)(given(data=st.data())(_classifier_param))
_fuzz_any_value = fuzz(N_ANY_VALUE)(given(data=st.data())(_classifier_param))


@pytest.mark.parametrize("name", sorted(BAD_CLASSIFIER_PARAMS))
def test_fuzz_classifier_parameters(name):
    """Every known-bad value of the parameter, then values of any kind."""
    for value in BAD_CLASSIFIER_PARAMS[name]:
        run_counted("params", _fuzz_bad_value, N_BAD_VALUE, name, value)
    run_counted("params", _fuzz_any_value, N_ANY_VALUE, name, ANY_VALUE)


# -------------------------------------------------------------- scale-freedom


@fuzz(N_SCALE)
@given(base=pairs(), exponent=st.integers(-900, 900), params=classifier_params("laplace"))
def _fuzz_laplace_scale(base, exponent, params):
    params = params | {"feature_layout": base.layout}
    if abs(exponent) > 100:  # beyond float32's range
        params["dtype"] = "float64"
    scale = 2.0**exponent  # exact: the standardised features are the same bits

    def call():
        reference = PreferenceEnsembleClassifier(**params).fit(base.X, base.y)
        scaled = PreferenceEnsembleClassifier(**params).fit(base.X * scale, base.y)
        proba = check_predictions(scaled, base.X * scale)
        np.testing.assert_allclose(proba, reference.predict_proba(base.X), rtol=0, atol=1e-12)

    attempt("laplace scale", Case("scale"), call)


def test_fuzz_laplace_is_scale_free():
    """The Laplace learner standardises: features times 2**k, |k| <= 900, predict alike."""
    run_counted("laplace scale", _fuzz_laplace_scale, N_SCALE)


# ---------------------------------------------------------------- prediction

PREDICT_METHODS = ("predict_proba", "predict_member_proba", "decision_function", "predict")


PREDICT_KINDS = (
    "same_rows",
    "one_row",
    "new_rows",
    "float32",
    "constant_at_fit",
    "magnitude",
    "far_magnitude",
    "rewards",
    "width_change",
    "nan",
    "inf",
    "no_rows",
    "x_1d",
    "x_3d",
    "x_strings",
    "frame_reordered",
    "frame_other_layout",
    "beyond_dtype",
    "unfitted",
    "rewards_width",
)


@st.composite
def predict_case(draw, method, kind):
    """(case, params, X_fit, y, X_pred, method name) of one prediction after a valid fit."""
    base = draw(pairs(min_n=4))
    params = draw(classifier_params(method)) | {"feature_layout": base.layout}
    as_frame = draw(st.booleans())
    X_fit = base.frame() if as_frame else base.X
    X, (n, width) = base.X, base.X.shape
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    call = draw(st.sampled_from(PREDICT_METHODS))
    case = Case(kind)
    wrap = base.frame if as_frame else (lambda X: X)
    X_pred = wrap(X)
    if kind == "one_row":
        X_pred = wrap(X[:1])
    elif kind == "new_rows":
        X_pred = wrap(make_pairs(n, base.d, base.layout, int(rng.integers(2**16))).X)
    elif kind == "float32":
        X_pred = wrap(X.astype(np.float32))
    elif kind == "constant_at_fit":
        X_const = X.copy()
        X_const[:, rng.random(width) < 0.5] = 1.0
        X_fit = wrap(X_const)
    elif kind == "magnitude":  # 1e-30 .. 1e30 times the training scale: sane outputs
        X_pred = wrap(X * 10.0 ** (draw(st.integers(1, 30)) * draw(st.sampled_from([-1, 1]))))
    elif kind == "far_magnitude":
        # sane outputs, or a clear error where the model cannot compute in its dtype
        X_pred = wrap(X * 10.0 ** (draw(st.integers(31, 300)) * draw(st.sampled_from([-1, 1]))))
        case.error, case.may_pass = r"NaN or infinite|beyond the range", True
    elif kind == "width_change":
        change = draw(st.sampled_from([-1, 1, width]))
        X_pred = rng.normal(size=(n, max(width + change, 1)))
        case.error = r"features"
    elif kind in ("nan", "inf"):
        X_bad = X.copy()
        X_bad[rng.integers(n), rng.integers(width)] = np.nan if kind == "nan" else np.inf
        X_pred, case.error = wrap(X_bad), r"NaN|infinity"
    elif kind == "no_rows":
        X_pred, case.error = wrap(X[:0]), r"0 sample"
    elif kind == "x_1d":
        X_pred, case.error = X[0], r"Expected 2D array"
    elif kind == "x_3d":
        X_pred, case.error = X[:, :, None], r"dim 3"
    elif kind == "x_strings":
        X_pred = X.astype(object)
        X_pred[rng.integers(n), rng.integers(width)] = "x"
        case.error = r"string"
    elif kind == "frame_reordered":
        X_pred = pd.DataFrame(X[:, ::-1], columns=base.names[::-1])
        case.error = r"feature names|spell no layout"
    elif kind == "frame_other_layout":
        # fitted on a bare array of 6k columns in one layout; the frame names the other
        k = draw(st.integers(1, 8))
        other = "a|b|prompt" if base.layout == "a|b" else "a|b"
        base = make_pairs(n, 6 * k // n_feature_blocks(base.layout), base.layout, 0)
        X_fit = base.X
        X_pred = pd.DataFrame(
            base.X, columns=feature_names(other, 6 * k // n_feature_blocks(other))
        )
        case.error = r"contradicts"
    elif kind == "beyond_dtype":
        params["dtype"] = "float32"
        X_pred = X.copy()
        X_pred[rng.integers(n), rng.integers(width)] = draw(st.sampled_from([1e39, -1e300]))
        X_pred, case.error = wrap(X_pred), r"beyond the range of dtype='float32'"
    elif kind == "unfitted":
        case.data["unfitted"], case.error = True, r"not fitted"
    elif kind == "rewards":
        X_pred, call = X[:, : base.d], "predict_member_rewards"
    elif kind == "rewards_width":
        X_pred, call = X[:, : base.d + 1], "predict_member_rewards"
        case.error = r"one block"
    return case, params, X_fit, base.y, X_pred, call


def predict_and_check(case, params, X_fit, y, X_pred, call):
    clf = PreferenceEnsembleClassifier(**params)
    if not case.data.get("unfitted"):
        clf.fit(X_fit, y)
    if call == "predict_member_rewards":
        rewards = clf.predict_member_rewards(X_pred)
        assert rewards.shape == (clf.n_members, len(X_pred)) and np.isfinite(rewards).all()
        return rewards
    if case.error is None or case.may_pass:
        return check_predictions(clf, X_pred)
    return getattr(clf, call)(X_pred)


@fuzz(N_PREDICT)
@given(data=st.data())
def _fuzz_predict(method, kind, data):
    case, *args = data.draw(predict_case(method, kind), label="case")
    attempt(f"predict[{method}]", case, lambda: predict_and_check(case, *args))


@pytest.mark.parametrize("kind", PREDICT_KINDS)
@pytest.mark.parametrize("method", METHODS)
def test_fuzz_classifier_predict(method, kind):
    run_counted(f"predict[{method}]", _fuzz_predict, N_PREDICT, method, kind)


# ---------------------------------------------------------- query strategies


def _fuzz_params(cls):
    """Every registered strategy, seeded, on the CPU where it has a device."""
    params = {"random_state": 0}
    if "device" in cls().get_params():
        params["device"] = "cpu"
    return params


STRATEGIES = {cls: _fuzz_params(cls) for cls in registered_strategies().values()}
D_PROMPT = 4  # block width of the fitted classifiers


@pytest.fixture(scope="module")
def fitted_classifiers():
    """Classifiers fitted once for the strategy fuzz: name -> (classifier, layout)."""
    models = {}
    for name, method, layout in [
        ("laplace", "laplace", "a|b|prompt"),
        ("deep-ensemble", "deep-ensemble", "a|b|prompt"),
        ("laplace a|b", "laplace", "a|b"),
    ]:
        data = make_pairs(40, D_PROMPT, layout, seed=0)
        clf = PreferenceEnsembleClassifier(
            n_members=3,
            method=method,
            feature_layout=layout,
            n_random_features=8,
            max_epochs=2,
            hidden_layer_sizes=(8,),
            random_state=0,
        )
        models[name] = (clf.fit(data.X, data.y), layout)
    return models


N_BAD = [0, -1, -7, 2.0, 1.5, "2", None, True, np.float64(2.0), [2]]


QUERY_KINDS = (
    "valid",
    "no_acquired_set",
    "duplicate_rows",
    "frame_pool",
    "n_too_big",
    "magnitude",
    "n_bad",
    "empty_pool",
    "nan_pool",
    "inf_pool",
    "pool_width",
    "pool_1d",
    "pool_3d",
    "pool_strings",
    "acquired_width",
    "acquired_nan",
    "acquired_1d",
    "prompt_rows",
    "prompt_nan",
    "acquired_prompt_width",
    "unfitted",
    "no_classifier",
)


@st.composite
def strategy_case(draw, cls, models, kind):
    """(case, strategy, classifier, X_pool, n_instances, keyword arguments)."""
    clf, layout = models[draw(st.sampled_from(sorted(models)), label="classifier")]
    params = dict(STRATEGIES[cls])
    if cls is BALPMQueryStrategy:
        params["scaling"] = draw(st.sampled_from(["fixed", "standardize", "rank", "tiebreak"]))
        params["beta"] = draw(st.sampled_from([0.0, 0.01, 1.0]))
    if cls in (BALPMQueryStrategy, EntropyOnlyQueryStrategy):
        params["k"] = draw(st.integers(1, 15))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n_pool = draw(st.integers(1, 30))
    width = n_feature_blocks(layout) * D_PROMPT
    X_pool = rng.normal(size=(n_pool, width))
    X_acquired = rng.normal(size=(draw(st.integers(0, 10)), width))
    kwargs = {"X_acquired": X_acquired}
    if layout == "a|b":  # no prompt block: the prompts come as keywords
        kwargs["prompt_features"] = rng.normal(size=(n_pool, D_PROMPT))
        kwargs["acquired_prompt_features"] = rng.normal(size=(len(X_acquired), D_PROMPT))
    n_instances = draw(st.integers(1, n_pool))
    if draw(st.booleans()):
        n_instances = np.int64(n_instances)
    case = Case(kind)
    reads = cls(**params)._reads
    # the classifier's member probabilities or its last layer: read the same way
    reads_prompts, reads_members = "prompts" in reads, bool({"members", "last_layer"} & reads)
    # The pool's features are read for member probabilities, or for their prompt block
    # when no prompt_features are given; the random strategy reads nothing.
    reads_pool = reads_members or (reads_prompts and "prompt_features" not in kwargs)

    def error_if(reads, pattern):
        if reads:
            case.error = pattern
        elif reads_prompts:  # the pool's rows still have to match the prompts'
            case.error, case.may_pass = pattern + "|prompt_features must have one row", True
        # else: the strategy does not read this input, which is then handled

    if kind == "no_acquired_set":
        kwargs.pop("X_acquired")
        kwargs.pop("acquired_prompt_features", None)
    elif kind == "duplicate_rows":
        X_pool = np.repeat(X_pool[:1], n_pool, axis=0)
        if "prompt_features" in kwargs:
            kwargs["prompt_features"] = np.repeat(kwargs["prompt_features"][:1], n_pool, axis=0)
    elif kind == "frame_pool":
        X_pool = pd.DataFrame(X_pool, columns=feature_names(layout, D_PROMPT))
    elif kind == "n_too_big":
        n_instances = n_pool + draw(st.integers(1, 5))
    elif kind == "magnitude":
        scale = 10.0 ** draw(st.integers(-300, 300))
        X_pool, kwargs["X_acquired"] = X_pool * scale, X_acquired * scale
        for key in ("prompt_features", "acquired_prompt_features"):
            if key in kwargs:
                kwargs[key] = kwargs[key] * scale
        # the classifier may not compute at that magnitude (its dtype): a clear error
        case.error, case.may_pass = r"NaN or infinite|beyond the range", True
    elif kind == "n_bad":
        n_instances, case.error = draw(st.sampled_from(N_BAD)), r"n_instances"
    elif kind == "empty_pool":
        X_pool, case.error = X_pool[:0], r"pool is empty"
    elif kind in ("nan_pool", "inf_pool"):
        X_pool[rng.integers(n_pool), rng.integers(width)] = np.nan if kind == "nan_pool" else np.inf
        error_if(reads_pool, r"X_pool contains (NaN|infinity)")
    elif kind == "pool_width":
        X_pool = rng.normal(size=(n_pool, width + draw(st.sampled_from([-1, 1, 3]))))
        error_if(reads_pool, r"features|columns|multiple of")
        case.may_pass = case.may_pass or not reads_members  # its own width, read on its own
    elif kind == "pool_1d":
        X_pool = X_pool[0]
        error_if(reads_pool, r"Expected 2D array")
    elif kind == "pool_3d":
        X_pool = X_pool[:, :, None]
        error_if(reads_pool, r"dim 3")
    elif kind == "pool_strings":
        X_pool = X_pool.astype(object)
        X_pool[rng.integers(n_pool), rng.integers(width)] = "x"
        error_if(reads_pool, r"string")
    elif kind == "acquired_width":
        kwargs["X_acquired"] = rng.normal(size=(3, width + draw(st.sampled_from([-1, 1, 3]))))
        kwargs.pop("acquired_prompt_features", None)
        error_if(reads_prompts, r"columns|multiple of|prompt")
    elif kind == "acquired_nan":
        kwargs["X_acquired"] = np.full((2, width), np.nan)
        kwargs.pop("acquired_prompt_features", None)
        error_if(reads_prompts, r"X_acquired contains NaN|prompt")
    elif kind == "acquired_1d":
        kwargs["X_acquired"] = X_pool[0]
        kwargs.pop("acquired_prompt_features", None)
        error_if(reads_prompts, r"Expected 2D array|prompt")
    elif kind == "prompt_rows":
        kwargs["prompt_features"] = rng.normal(size=(n_pool + 1, D_PROMPT))
        error_if(reads_prompts, r"prompt_features")
    elif kind == "prompt_nan":
        kwargs["prompt_features"] = np.full((n_pool, D_PROMPT), np.nan)
        error_if(reads_prompts, r"prompt_features contains NaN")
    elif kind == "acquired_prompt_width":
        kwargs["acquired_prompt_features"] = rng.normal(size=(3, D_PROMPT + 1))
        error_if(reads_prompts, r"columns")
    elif kind == "unfitted":
        clf = PreferenceEnsembleClassifier(feature_layout=layout)
        error_if(reads_members, r"not fitted")
    elif kind == "no_classifier":
        clf = None
        error_if(reads_members, r"predict_member_proba|predict_last_layer")
        if reads_prompts and not reads_members:  # no layout to read: 'auto' on the width
            case.error, case.may_pass = r"Cannot tell the layout", True
    return case, cls(**params), clf, X_pool, n_instances, kwargs


def query_and_check(strategy, clf, X_pool, n_instances, kwargs):
    indices, scores = strategy(clf, X_pool, n_instances, **kwargs)
    n_pool = len(X_pool)
    assert indices.dtype.kind == "i" and scores.shape == indices.shape
    assert len(indices) == min(int(n_instances), n_pool)
    assert len(set(indices.tolist())) == len(indices), "a row was picked twice"
    assert ((indices >= 0) & (indices < n_pool)).all()
    assert not np.isnan(scores).any(), "NaN scores"
    # documented infinite scores: core-set's random first pick, tiebreak's non-candidates,
    # TypiClust's typicality of exact duplicates
    infinite_allowed = isinstance(strategy, CoresetQueryStrategy | TypiClustQueryStrategy)
    if not infinite_allowed and getattr(strategy, "scaling", "") != "tiebreak":
        assert np.isfinite(scores).all(), "infinite scores"
    return indices


@fuzz(N_QUERY)
@given(data=st.data())
def _fuzz_strategy(cls, models, kind, data):
    case, strategy, *args = data.draw(strategy_case(cls, models, kind), label="case")
    attempt(f"query[{cls.__name__}]", case, lambda: query_and_check(strategy, *args))


@pytest.mark.parametrize("kind", QUERY_KINDS)
@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda cls: cls.name)
def test_fuzz_query_strategy(cls, kind, fitted_classifiers):
    name = f"query[{cls.__name__}]"
    run_counted(name, _fuzz_strategy, N_QUERY, cls, fitted_classifiers, kind)


@fuzz(N_QUERY_PARAMS)
@given(data=st.data())
def _fuzz_strategy_param(cls, models, name, data):
    clf, _ = models["laplace"]
    params = dict(STRATEGIES[cls])
    params[name] = data.draw(JUNK, label=name)
    X = make_pairs(12, D_PROMPT, "a|b|prompt", seed=1).X
    case = Case(f"{name}={params[name]!r}", error=rf"{cls.__name__}: {name}\b", may_pass=True)
    attempt(
        "strategy params",
        case,
        lambda: query_and_check(cls(**params), clf, X, 3, {"X_acquired": X[:4]}),
    )


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda cls: cls.name)
def test_fuzz_query_strategy_parameters(cls, fitted_classifiers):
    for name in sorted(cls().get_params()):
        run_counted(
            "strategy params", _fuzz_strategy_param, N_QUERY_PARAMS, cls, fitted_classifiers, name
        )


@fuzz(N_PROMPT_SCALE)
@given(
    cls=st.sampled_from([BALPMQueryStrategy, EntropyOnlyQueryStrategy, CoresetQueryStrategy]),
    exponent=st.integers(-1000, 1000),
    n_pool=st.integers(2, 30),
    n_acquired=st.integers(0, 8),
    seed=st.integers(0, 2**16),
)
def _fuzz_prompt_scale(cls, exponent, n_pool, n_acquired, seed):
    """Prompts times 2**k: the same distances times 2**k (no overflow, no underflow)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_pool + n_acquired, 3 * D_PROMPT))
    X[:, 2 * D_PROMPT :] = np.round(X[:, 2 * D_PROMPT :], 1)  # near-ties and duplicates
    params = dict(STRATEGIES[cls]) | ({"k": 3} if cls is not CoresetQueryStrategy else {})
    pool, acquired, scale = X[:n_pool], X[n_pool:], 2.0**exponent
    check = check_prompt_distances_scale
    attempt("prompt scale", Case("scale"), lambda: check(cls, params, pool, acquired, scale))


def test_fuzz_prompt_distances_are_scale_free():
    """The k-NN radii and core-set distances of prompts 2**-1000 .. 2**1000 in size."""
    run_counted("prompt scale", _fuzz_prompt_scale, N_PROMPT_SCALE)


# ------------------------------------------------------------------ embedder

TEXT = st.text(max_size=8)
NOT_TEXT = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=4),
    st.lists(TEXT, max_size=2),
    st.booleans(),
)


RAW_KINDS = (
    "none",
    "empty_list",
    "empty_array",
    "short_rows",
    "long_rows",
    "ragged",
    "not_text",
    "frame_not_text",
    "frame_missing_column",
    "one_string",
    "flat_strings",
    "three_d",
    "scalar",
)


@st.composite
def raw_case(draw, kind):
    """(case, raw input) of malformed raw pairs (prompt, response_a, response_b)."""
    rows = draw(st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=1, max_size=5))
    case = Case(kind)
    if kind == "none":
        X, case.error = None, r"shape \(n_samples, 3\)"
    elif kind == "empty_list":
        X, case.error = [], r"shape \(n_samples, 3\)|empty"
    elif kind == "empty_array":
        X, case.error = np.empty((0, 3), dtype=object), r"empty"
    elif kind in ("short_rows", "long_rows"):
        width = draw(st.integers(0, 2) if kind == "short_rows" else st.integers(4, 6))
        X = [tuple(draw(TEXT) for _ in range(width)) for _ in rows]
        case.error = r"shape \(n_samples, 3\)"
    elif kind == "ragged":
        X = [*rows, rows[0][:2]]
        case.error = r"could not read the input as a table|shape \(n_samples, 3\)"
    elif kind in ("not_text", "frame_not_text"):
        X = np.array(rows, dtype=object)
        row, col = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, 2))
        X[row, col] = draw(NOT_TEXT)
        if kind == "frame_not_text":
            X = pd.DataFrame(X, columns=["prompt", "response_a", "response_b"])
        case.error = rf"must hold text: row {row}"
    elif kind == "frame_missing_column":
        columns = ["prompt", "response_a", "response_b"]
        dropped = draw(st.sampled_from(columns))
        X = pd.DataFrame(rows, columns=columns).drop(columns=dropped)
        case.error = rf"missing \['{dropped}'\]"
    elif kind == "one_string":
        X, case.error = draw(TEXT), r"shape \(n_samples, 3\)"
    elif kind == "flat_strings":
        X, case.error = np.array([draw(TEXT) for _ in range(3)], dtype=object), r"shape"
    elif kind == "three_d":
        X, case.error = np.array([rows], dtype=object), r"shape"
    elif kind == "scalar":
        X, case.error = draw(st.one_of(st.integers(), st.floats())), r"shape"
    return case, X


@pytest.fixture(scope="module")
def fitted_embedder(tmp_path_factory):
    """The default embedder, fitted (settles the model; loads no weights)."""
    cache_dir = tmp_path_factory.mktemp("fuzz-embedding-cache")
    return PreferencePairEmbedder(cache_dir=cache_dir).fit([("q", "a", "b")])


@fuzz(N_EMBEDDER)
@given(data=st.data())
def _fuzz_embedder(embedder, kind, data):
    case, X = data.draw(raw_case(kind), label="case")
    step = data.draw(st.sampled_from(["fit", "transform"]), label="step")
    call = (lambda: embedder.transform(X)) if step == "transform" else (lambda: embedder.fit(X))
    attempt("embedder", case, call)
    assert not hasattr(embedder, "_loaded_backend"), "the model was loaded"


@pytest.mark.parametrize("kind", RAW_KINDS)
def test_fuzz_embedder_input(kind, fitted_embedder):
    """Malformed raw pairs are refused before the model is loaded (nothing is embedded)."""
    run_counted("embedder", _fuzz_embedder, N_EMBEDDER, fitted_embedder, kind)
