"""End to end on raw text: Pipeline(PreferencePairEmbedder, PreferenceEnsembleClassifier)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HH_SAMPLE_MAX_LENGTH
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import skbalpm.embedding
from skbalpm import (
    BALPMQueryStrategy,
    PreferenceEnsembleClassifier,
    PreferencePairEmbedder,
    split_feature_blocks,
)

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def make_raw_pipeline(cache_dir):
    return make_pipeline(
        PreferencePairEmbedder(max_length=HH_SAMPLE_MAX_LENGTH, cache_dir=cache_dir),
        PreferenceEnsembleClassifier(n_members=3, random_state=0),
    )


def test_pipeline_fits_and_predicts_on_raw_hh_rlhf_pairs(hh_helpful_sample, embedding_cache_dir):
    X, y = hh_helpful_sample
    pipeline = make_raw_pipeline(embedding_cache_dir).fit(X[:150], y[:150])

    proba = pipeline.predict_proba(X[150:])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(pipeline.predict(X[150:]))) <= {0, 1}
    features = pipeline[:-1].transform(X[150:])
    assert pipeline[-1].predict_member_proba(features).shape == (3, 50)
    np.testing.assert_array_equal(pipeline[-1].predict_proba(features), proba)

    # The label contract end to end: swapping the two responses swaps the columns.
    swapped = X[150:][:, [0, 2, 1]]
    np.testing.assert_allclose(pipeline.predict_proba(swapped), proba[:, ::-1], atol=1e-6)


def test_clone_and_grid_search_are_served_by_the_cache(
    hh_helpful_sample, embedding_cache_dir, monkeypatch
):
    X, y = hh_helpful_sample
    pipeline = make_raw_pipeline(embedding_cache_dir)
    pipeline.fit(X, y)  # fills the cache (a no-op where earlier tests already did)

    def no_model_load(*args, **kwargs):
        raise AssertionError("the embedding model was loaded although every text is cached")

    monkeypatch.setattr(skbalpm.embedding.backends, "load_backend", no_model_load)
    clone(pipeline).fit(X, y)
    search = GridSearchCV(
        pipeline,
        {"preferenceensembleclassifier__weight_decay": [0.01, 1.0]},
        cv=2,
        scoring="neg_log_loss",
    ).fit(X, y)
    assert search.best_params_["preferenceensembleclassifier__weight_decay"] in (0.01, 1.0)
    assert np.isfinite(search.best_score_)


def test_the_layout_reaches_classifier_and_strategy_with_no_argument(
    hh_helpful_sample, embedding_cache_dir
):
    # 3 x 384 = 1152 columns also split as 2 x 576: the embedder's column names say which
    X, y = hh_helpful_sample
    pipeline = make_raw_pipeline(embedding_cache_dir).fit(X[:100], y[:100])
    assert pipeline[-1].feature_layout == "auto"
    assert pipeline[-1].feature_layout_ == "a|b|prompt"
    names = pipeline[0].get_feature_names_out()
    assert pipeline[-1].feature_names_in_.tolist() == names.tolist()
    # the strategy on the raw pool takes the same prompt block as one given it by hand
    pool, acquired = X[100:160], X[:100]
    strategy = BALPMQueryStrategy(random_state=0)
    picked = strategy(pipeline, pool, n_instances=5, X_acquired=acquired)
    _, _, pool_prompts = split_feature_blocks(pipeline[:-1].transform(pool))
    _, _, acquired_prompts = split_feature_blocks(pipeline[:-1].transform(acquired))
    given = strategy(
        pipeline,
        pool,
        n_instances=5,
        prompt_features=pool_prompts,
        acquired_prompt_features=acquired_prompts,
    )
    np.testing.assert_array_equal(picked[0], given[0])
    np.testing.assert_allclose(picked[1], given[1])
