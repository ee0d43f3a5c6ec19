"""The k-NN machinery and BAL-PM on real prompts (TF-IDF + SVD features, no model
download), checked against a float64 brute force. The prompts are the 500 HH-RLHF
conversations of the real sample bundled with the package."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from skbalpm.acquisition import BALDQueryStrategy, BALPMQueryStrategy, knn_radius
from skbalpm.datasets import load_sample_preferences


@pytest.fixture(scope="module")
def hh_prompt_features():
    prompts = list(load_sample_preferences("hh-rlhf").X[:, 0])
    tfidf = TfidfVectorizer(min_df=2).fit_transform(prompts)
    X = TruncatedSVD(n_components=32, random_state=0).fit_transform(tfidf)
    return np.asarray(prompts, dtype=object), X.astype(np.float32)


def test_knn_radius_on_real_prompts_equals_brute_force(hh_prompt_features):
    _, X = hh_prompt_features
    expected = np.sort(cdist(X.astype(np.float64), X.astype(np.float64)), axis=1)[:, 12]
    np.testing.assert_allclose(knn_radius(X, k=13), expected, rtol=1e-12, atol=0)


def test_balpm_picks_more_distinct_prompts_than_bald(hh_prompt_features):
    prompts, P = hh_prompt_features
    rng = np.random.default_rng(0)
    # Uncertainty tied to the prompt (near-duplicate prompts get similar BALD), as with a
    # real reward model; BAL-PM's entropy term should spread the batch out.
    direction = rng.normal(size=P.shape[1])
    spread = np.abs(P @ direction)[None, :] * np.array([[1.0], [-1.0], [0.5]])
    probs = 1 / (1 + np.exp(-spread))

    class Fixed:
        feature_layout = "a|b|prompt"

        def predict_member_proba(self, X):
            return probs

    X = np.hstack([P, P, P])
    bald_idx, _ = BALDQueryStrategy()(Fixed(), X, 40)
    balpm_idx, _ = BALPMQueryStrategy(beta=1.0, device="cpu")(Fixed(), X, 40, X_acquired=X[:0])
    bald_spread = cdist(P[bald_idx], P[bald_idx]).mean()
    balpm_spread = cdist(P[balpm_idx], P[balpm_idx]).mean()
    assert balpm_spread > bald_spread
    assert len(set(prompts[balpm_idx])) >= len(set(prompts[bald_idx]))
