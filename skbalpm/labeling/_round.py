"""A round of ``skbalpm select`` on files: pool, labels and state in, the next batch out.

:func:`select_next_batch` reads what the loop knows (the pool, every judgment so far, the
pairs sent out and not returned), embeds the pairs (cached), runs one
:func:`~skbalpm.labeling.select_batch` round, writes the batch and records it in the
state file (crash-safe), and says what the labels so far teach
(:func:`~skbalpm.labeling.grouped_cv_report`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from skbalpm.datasets._common import stable_id
from skbalpm.labeling._labels import count_judgments, trainable
from skbalpm.labeling._pairs import write_jsonl
from skbalpm.labeling._report import grouped_cv_report
from skbalpm.labeling._select import FEATURE_LAYOUT, select_batch
from skbalpm.labeling._state import STATE_FILENAME, SelectionState


def embed_pairs(embedder, X):
    """Features of raw pairs as a float32 array (layout ``"a|b|prompt"``).

    Parameters
    ----------
    embedder : PreferencePairEmbedder
        A fitted embedder.
    X : ndarray of shape (n, 3)
        Raw pairs (may be empty).

    Returns
    -------
    features : ndarray of shape (n, 3 * d), float32

    Examples
    --------
    >>> from skbalpm import PreferencePairEmbedder
    >>> embedder = PreferencePairEmbedder(cache_dir=None).fit([("q", "a", "b")])
    >>> embed_pairs(embedder, np.empty((0, 3), dtype=object)).shape
    (0, 1152)
    """
    if len(X) == 0:
        return np.empty((0, 3 * embedder.embedding_dim_), dtype=np.float32)
    return np.array(embedder.transform(X), dtype=np.float32)


def _default_classifier():
    from skbalpm.ensemble import PreferenceEnsembleClassifier

    return PreferenceEnsembleClassifier(feature_layout=FEATURE_LAYOUT)


def _batch_records(pool, batch, strategy):
    """The batch file's records, in pick order."""
    records = []
    for rank, i in enumerate(batch.indices):
        prompt, response_a, response_b = pool.X[i]
        records.append(
            {
                "pair_id": pool.pair_ids[i],
                "prompt": prompt,
                "response_a": response_a,
                "response_b": response_b,
                "rank": rank + 1,
                "score": batch.scores[rank],
                "bald": batch.bald[rank],
                "entropy_term": batch.entropy_term[rank],
                "p_a_preferred": batch.proba_a[rank],
                "strategy": batch.strategy,
                "round": batch.round_index if batch.kind == "round" else None,
                "label": None,
            }
        )
    return records


def _prompt_spread(pool, indices, covered_prompts):
    """How the batch spreads over prompts."""
    prompts = Counter(pool.X[i][0] for i in indices)
    return {
        "n_prompts": len(prompts),
        "most_pairs_per_prompt": max(prompts.values()) if prompts else 0,
        "new_prompts": sum(1 for p in prompts if p not in covered_prompts),
    }


def select_next_batch(
    pool,
    labels,
    out,
    *,
    state_path=None,
    n_instances=320,
    strategy="balpm",
    initial_strategy="coreset",
    embedder=None,
    classifier=None,
    random_state=0,
    round_index=None,
    cv_folds=5,
    verbose=0,
):
    """Pick the next batch to label and write it, never repeating a pair sent out before.

    A pair is not picked again once the labeled file holds a judgment of it (a label, a
    tie or a skip) or while it is pending (sent in a batch of the state file, not yet
    returned). The round is seeded from ``(random_state, round_index)`` as the benchmark
    harness seeds its rounds; ``round_index`` defaults to the number of model-chosen
    batches in the state file.

    Parameters
    ----------
    pool : Bunch
        From :func:`~skbalpm.labeling.read_pool`.
    labels : Bunch
        From :func:`~skbalpm.labeling.read_labels`.
    out : str or Path
        The batch file to write (JSON Lines, one pair a line, in pick order).
    state_path : str or Path or None, default=None
        The state file; default :data:`~skbalpm.labeling.STATE_FILENAME` in ``out``'s
        folder.
    n_instances : int, default=320
        Batch size (at most the pairs left).
    strategy : str, default="balpm"
        Query strategy spec (:func:`skbalpm.benchmark.make_strategy`).
    initial_strategy : str, default="coreset"
        Cold-start picker (:data:`~skbalpm.labeling.INITIAL_STRATEGIES`).
    embedder : PreferencePairEmbedder or None, default=None
        Default ``PreferencePairEmbedder()``.
    classifier : estimator or None, default=None
        Default :class:`~skbalpm.PreferenceEnsembleClassifier`.
    random_state : int, default=0
        The loop's seed.
    round_index : int or None, default=None
        The round's number (seeds its fit and strategy).
    cv_folds : int, default=5
        Folds of the grouped cross-validation of the labels so far; 0 skips it.
    verbose : int, default=0
        Progress bars when > 0.

    Returns
    -------
    result : Bunch
        ``records`` (the batch written), ``batch`` (from
        :func:`~skbalpm.labeling.select_batch`), ``report`` (from
        :func:`~skbalpm.labeling.grouped_cv_report`, or None), ``counts`` (pool size,
        labels, ties, skips, pending, candidates), ``spread`` (the batch's prompts),
        ``notes`` (what the state file settled), ``out`` and ``state_path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skbalpm import PreferencePairEmbedder
    >>> from skbalpm.labeling import read_labels, read_pool
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pool = read_pool("sample:hh-rlhf")
    >>> pool.X, pool.pair_ids, pool.y = pool.X[:12], pool.pair_ids[:12], pool.y[:12]
    >>> embedder = PreferencePairEmbedder(max_length=32, cache_dir=folder / "cache")
    >>> result = select_next_batch(pool, read_labels(folder / "labels.jsonl"),
    ...                            folder / "batch.jsonl", n_instances=4, embedder=embedder)
    >>> result.batch.kind, len(result.records), result.counts["pending"]
    ('initial', 4, 0)
    """
    out = Path(out)
    state = SelectionState.load(out.parent / STATE_FILENAME if state_path is None else state_path)
    returned = set(labels.pair_ids)
    pending = state.pending_ids(returned)
    pool_pending = np.array([pid in pending for pid in pool.pair_ids], dtype=bool)
    exclude = pool_pending | np.array([pid in returned for pid in pool.pair_ids], dtype=bool)
    if exclude.all():
        raise ValueError(
            f"Every pair of the pool ({len(pool.pair_ids)}) is labelled or pending: "
            "nothing is left to select."
        )

    if embedder is None:
        from skbalpm.embedding import PreferencePairEmbedder

        embedder = PreferencePairEmbedder()
    embedder = clone(embedder).fit(pool.X)
    X_pool = embed_pairs(embedder, pool.X)
    X_judged = embed_pairs(embedder, labels.X)
    train = trainable(labels.label)
    _, first_judgment = np.unique(labels.pair_ids.astype(str), return_index=True)
    X_acquired = np.vstack([X_judged[np.sort(first_judgment)], X_pool[pool_pending]])
    if round_index is None:
        round_index = state.n_rounds()
    batch = select_batch(
        X_pool,
        X_judged[train],
        labels.label[train].astype(np.int64),
        exclude=exclude,
        X_acquired=X_acquired,
        n_instances=n_instances,
        strategy=strategy,
        initial_strategy=initial_strategy,
        classifier=_default_classifier() if classifier is None else classifier,
        random_state=random_state,
        round_index=round_index,
        verbose=verbose,
    )
    batch.strategy = strategy if batch.kind == "round" else initial_strategy
    records = _batch_records(pool, batch, strategy)
    state.record_batch(
        out,
        [record["pair_id"] for record in records],
        kind=batch.kind,
        write=lambda: write_jsonl(out, records),
        round_index=round_index if batch.kind == "round" else None,
        strategy=batch.strategy,
        seed=random_state,
    )
    report = None
    if cv_folds and train.any():
        report = grouped_cv_report(
            X_judged[train],
            labels.label[train].astype(np.int64),
            [stable_id(prompt) for prompt in labels.X[train, 0]],
            _default_classifier() if classifier is None else classifier,
            n_splits=cv_folds,
            random_state=random_state,
            verbose=verbose,
        )
    covered = {prompt for prompt in labels.X[:, 0]} | set(pool.X[pool_pending, 0])
    return Bunch(
        records=records,
        batch=batch,
        report=report,
        counts={
            "pool": len(pool.pair_ids),
            **count_judgments(labels.label),
            "pending": len(pending),
            "candidates": batch.n_candidates,
        },
        spread=_prompt_spread(pool, batch.indices, covered),
        notes=list(state.notes),
        out=out,
        state_path=state.path,
    )


def format_round_summary(result):
    """The short summary ``skbalpm select`` prints after a round.

    Parameters
    ----------
    result : Bunch
        From :func:`select_next_batch`.

    Returns
    -------
    lines : list of str

    Examples
    --------
    >>> from sklearn.utils import Bunch
    >>> result = Bunch(
    ...     records=[{}] * 2, notes=[], out="batch.jsonl", state_path="state.json",
    ...     batch=Bunch(kind="initial", round_index=0, strategy="coreset"),
    ...     counts={"pool": 10, "labels": 0, "ties": 0, "skips": 0, "pending": 0,
    ...             "candidates": 10},
    ...     spread={"n_prompts": 2, "most_pairs_per_prompt": 1, "new_prompts": 2},
    ...     report=None)
    >>> print("\\n".join(format_round_summary(result)))  # doctest: +NORMALIZE_WHITESPACE
    pool 10 pairs; labeled 0 (ties 0, skips 0); pending 0; 10 left to pick from
    batch.jsonl: 2 pairs picked by coreset (cold start: no model yet) over 2 prompts
    (2 new; at most 1 pair per prompt)
    state: state.json
    """
    counts, spread, batch = result.counts, result.spread, result.batch
    how = (
        f"{batch.strategy} (round {batch.round_index})"
        if batch.kind == "round"
        else f"{batch.strategy} (cold start: no model yet)"
    )
    lines = [*result.notes]
    lines.append(
        f"pool {counts['pool']} pairs; labeled {counts['labels']} (ties {counts['ties']}, "
        f"skips {counts['skips']}); pending {counts['pending']}; "
        f"{counts['candidates']} left to pick from"
    )
    most = spread["most_pairs_per_prompt"]
    lines.append(
        f"{result.out}: {len(result.records)} pairs picked by {how} over "
        f"{spread['n_prompts']} prompts ({spread['new_prompts']} new; at most {most} "
        f"pair{'s' if most > 1 else ''} per prompt)"
    )
    lines.append(f"state: {result.state_path}")
    if result.report is not None:
        from skbalpm.labeling._report import format_report

        lines += format_report(result.report)
    return lines
