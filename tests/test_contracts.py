"""Unit tests of the raw-input and feature-layout contracts."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skbalpm import as_raw_triples, split_feature_blocks, swap_response_blocks
from skbalpm._features import block_width


def test_raw_triples_accepts_the_three_forms():
    rows = [("p1", "a1", "b1"), ("p2", "a2", "b2")]
    frame = pd.DataFrame(rows, columns=["prompt", "response_a", "response_b"])
    frame["extra"] = 1
    expected = np.array(rows, dtype=object)
    for form in (rows, np.array(rows, dtype=object), frame):
        out = as_raw_triples(form)
        assert out.dtype == object
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([], "shape"),
        ([("p", "a")], r"shape \(n_samples, 3\)"),
        ([("p", "a", None)], "row 0, column 'response_b'"),
        (pd.DataFrame({"prompt": ["p"], "response_a": ["a"]}), "missing \\['response_b'\\]"),
        (np.empty((0, 3), dtype=object), "empty"),
    ],
)
def test_raw_triples_errors_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        as_raw_triples(bad)


def test_split_blocks_hand_checked():
    X = np.arange(12.0).reshape(2, 6)
    a, b, p = split_feature_blocks(X, "a|b|prompt")
    np.testing.assert_array_equal(a, [[0, 1], [6, 7]])
    np.testing.assert_array_equal(b, [[2, 3], [8, 9]])
    np.testing.assert_array_equal(p, [[4, 5], [10, 11]])
    a, b, p = split_feature_blocks(X, "a|b")
    assert p is None
    np.testing.assert_array_equal(b, [[3, 4, 5], [9, 10, 11]])


@pytest.mark.parametrize(("n_features", "layout"), [(7, "a|b|prompt"), (3, "a|b"), (0, "a|b")])
def test_block_width_rejects_widths_off_the_layout(n_features, layout):
    with pytest.raises(ValueError, match="equal-width blocks"):
        block_width(n_features, layout)


def test_unknown_layout():
    with pytest.raises(ValueError, match="feature_layout must be one of"):
        block_width(6, "prompt|a|b")


@given(
    arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4).map(lambda d: 3 * d))),
)
def test_swapping_twice_is_identity_and_keeps_prompt(X):
    layout = "a|b|prompt"
    swapped = swap_response_blocks(X, layout)
    np.testing.assert_array_equal(swap_response_blocks(swapped, layout), X)
    a, b, p = split_feature_blocks(X, layout)
    a_swapped, b_swapped, p_swapped = split_feature_blocks(swapped, layout)
    np.testing.assert_array_equal(p_swapped, p)
    np.testing.assert_array_equal(a_swapped, b)
    np.testing.assert_array_equal(b_swapped, a)
