"""Member probabilities and BALD over the shards of a Ray Dataset of pool features.

The fitted classifier goes to the object store once (``ray.put``); each actor of the
``map_batches`` pool takes it from there when it starts and scores every batch it is
given, so the model is shipped once per worker, not once per batch.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from skbalpm.acquisition._scores import bald
from skbalpm.distributed._ray import import_ray

__all__ = ["collect_scores", "score_pool"]

PROBS_COLUMN = "probs"
BALD_COLUMN = "bald"


def member_proba(classifier, X_ND) -> np.ndarray:
    """``predict_member_proba`` of a classifier, or of a Pipeline's last step.

    Parameters
    ----------
    classifier : estimator
        Fitted; has ``predict_member_proba``, or is a Pipeline whose last step has it
        (the earlier steps transform ``X_ND`` first).
    X_ND : ndarray of shape (n_samples, n_features)

    Returns
    -------
    probs_MN : ndarray of shape (n_members, n_samples), float64
    """
    if isinstance(classifier, Pipeline):
        X_ND = classifier[:-1].transform(X_ND)
        classifier = classifier[-1]
    return np.asarray(classifier.predict_member_proba(X_ND), dtype=np.float64)


def _check_classifier(classifier):
    final = classifier[-1] if isinstance(classifier, Pipeline) else classifier
    if not hasattr(final, "predict_member_proba"):
        raise TypeError(
            "score_pool needs a fitted classifier with predict_member_proba(X) -> "
            "(n_members, n_samples) (or a Pipeline ending in one), like "
            f"skbalpm.PreferenceEnsembleClassifier; got {type(final).__name__}."
        )


def _feature_matrix(batch, feature_columns):
    """The batch's features as one (n_rows, n_features) array."""
    if isinstance(feature_columns, str):
        X = np.asarray(batch[feature_columns])
        if X.dtype == object:  # a column of lists: stack them
            X = np.stack(list(X))
        return X.reshape(len(X), -1)
    return np.column_stack([np.asarray(batch[c]) for c in feature_columns])


class _PoolScorer:
    """Ray Data class UDF: holds the fitted classifier, scores batches of feature rows."""

    def __init__(self, classifier_ref, id_column, feature_columns):
        ray = import_ray()
        # the reference arrives as is: fetch the model once, when the actor starts
        is_ref = isinstance(classifier_ref, ray.ObjectRef)
        self.classifier = ray.get(classifier_ref) if is_ref else classifier_ref
        self.id_column = id_column
        self.feature_columns = feature_columns

    def __call__(self, batch):
        probs_MN = member_proba(self.classifier, _feature_matrix(batch, self.feature_columns))
        return {
            self.id_column: np.asarray(batch[self.id_column]),
            PROBS_COLUMN: np.ascontiguousarray(probs_MN.T),
            BALD_COLUMN: bald(probs_MN),
        }


def _check_columns(id_column, feature_columns):
    if not isinstance(id_column, str):
        raise TypeError(f"id_column must be a str; got {type(id_column).__name__}.")
    names = [feature_columns] if isinstance(feature_columns, str) else feature_columns
    if not (
        isinstance(names, list | tuple) and names and all(isinstance(name, str) for name in names)
    ):
        raise TypeError(
            "feature_columns must be a column name or a non-empty list of column names; "
            f"got {feature_columns!r}."
        )
    return feature_columns if isinstance(feature_columns, str) else list(feature_columns)


def _check_positive_int(value, name, allow_none):
    if value is None and allow_none:
        return
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1):
        expected = "None or an int >= 1" if allow_none else "an int >= 1"
        raise ValueError(f"{name} must be {expected}; got {value!r}.")


def _as_dataset(dataset):
    """A Ray Dataset, or one read from a Parquet path."""
    data = import_ray("ray.data")
    if isinstance(dataset, data.Dataset):
        return dataset
    if isinstance(dataset, str) or hasattr(dataset, "__fspath__"):
        return data.read_parquet(str(dataset))
    raise TypeError(
        f"dataset must be a ray.data.Dataset or a Parquet path; got {type(dataset).__name__}."
    )


def score_pool(
    dataset,
    classifier,
    *,
    id_column="row_id",
    feature_columns="features",
    batch_size=4096,
    concurrency=2,
    num_gpus=0,
):
    """Member probabilities and BALD of every row of a pool held as a Ray Dataset.

    Each batch of rows goes through the classifier's ``predict_member_proba`` and
    :func:`~skbalpm.acquisition.bald` in an actor of a ``map_batches`` pool; the fitted
    classifier is put in the object store once and each actor fetches it once, when it
    starts. Row by row the values are those of the same calls in this process, up to the
    rounding of the classifier's matrix products, which can depend on how many rows share
    a batch (last bits: about 1e-16 for a float64 classifier, 1e-8 for float32); BALD is
    a function of each row's member probabilities alone.

    Parameters
    ----------
    dataset : ray.data.Dataset or str or path
        Pool rows, or a Parquet path (file or folder) that ``ray.data.read_parquet``
        reads. Needs the column ``id_column`` and the feature column(s). A Dataset that
        is not materialized yet is materialized first (held in the object store, which
        spills to disk): a step upstream of the actors that needs every block at once
        (``repartition``, ``sort``, ``random_shuffle``) would otherwise wait forever for
        CPUs the actors hold. A Parquet path is streamed, never held whole.
    classifier : estimator
        Fitted, with ``predict_member_proba(X) -> (n_members, n_samples)`` (e.g.
        :class:`~skbalpm.PreferenceEnsembleClassifier`), or a Pipeline ending in one.
    id_column : str, default="row_id"
        Column that identifies a row; copied to the output (Ray Data keeps no order
        guarantee across shards, so join or sort on it).
    feature_columns : str or list of str, default="features"
        One column holding each row's feature vector (a tensor column or lists), or
        several scalar columns taken in this order.
    batch_size : int, default=4096
        Rows scored per call of the classifier.
    concurrency : int, default=2
        Actors in the pool (each holds one copy of the classifier).
    num_gpus : float, default=0
        GPUs reserved per actor (for a classifier set to ``device="cuda"``).

    Returns
    -------
    scores : ray.data.Dataset
        Lazy; columns ``id_column``, ``"probs"`` (tensor of shape (n_members,) per row:
        each member's probability that response_a is preferred) and ``"bald"`` (nats).
        Gather it on the driver with :func:`collect_scores`, or write it with
        ``scores.write_parquet(path)``.

    Raises
    ------
    ImportError
        If Ray is not installed (``pip install "skbalpm[ray]"``).
    TypeError
        If the classifier has no ``predict_member_proba`` or the column names are not
        strings.
    ValueError
        If ``batch_size`` or ``concurrency`` is not a positive int, or ``num_gpus`` is
        negative.

    See Also
    --------
    skbalpm.acquisition.bald : The score, in process.

    References
    ----------
    N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", arXiv:1112.5745, 2011.

    L. Melo, P. Tigas, A. Abate, Y. Gal, "Deep Bayesian Active Learning for Preference
    Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> import numpy as np, ray  # doctest: +SKIP
    >>> from skbalpm import PreferenceEnsembleClassifier  # doctest: +SKIP
    >>> X = np.random.default_rng(0).normal(size=(100, 6))  # doctest: +SKIP
    >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b").fit(X, np.arange(100) % 2)
    ... # doctest: +SKIP
    >>> pool = ray.data.from_items([{"row_id": i, "features": x} for i, x in enumerate(X)])
    ... # doctest: +SKIP
    >>> scores = collect_scores(score_pool(pool, clf))  # doctest: +SKIP
    >>> np.allclose(scores.bald_N, skbalpm.acquisition.bald(clf.predict_member_proba(X)))
    ... # doctest: +SKIP
    True
    """
    _check_classifier(classifier)
    feature_columns = _check_columns(id_column, feature_columns)
    _check_positive_int(batch_size, "batch_size", allow_none=False)
    _check_positive_int(concurrency, "concurrency", allow_none=False)
    if not (isinstance(num_gpus, numbers.Real) and num_gpus >= 0):
        raise ValueError(f"num_gpus must be a number >= 0; got {num_gpus!r}.")
    ray = import_ray()
    data = import_ray("ray.data")
    materialized = import_ray("ray.data.dataset").MaterializedDataset
    lazy = isinstance(dataset, data.Dataset) and not isinstance(dataset, materialized)
    dataset = _as_dataset(dataset)  # a Parquet path is read as it streams: nothing waits
    if lazy:
        # A lazy upstream step that needs every block at once (repartition, sort, shuffle)
        # would wait for CPUs the actor pool holds: run such steps before the actors start.
        dataset = dataset.materialize()
    classifier_ref = ray.put(classifier)
    return dataset.map_batches(
        _PoolScorer,
        fn_constructor_args=(classifier_ref, id_column, feature_columns),
        batch_size=batch_size,
        batch_format="numpy",
        compute=data.ActorPoolStrategy(size=concurrency),
        num_gpus=num_gpus,
    )


def collect_scores(scores, id_column="row_id"):
    """The rows of :func:`score_pool`'s dataset as arrays on the driver, sorted by id.

    Parameters
    ----------
    scores : ray.data.Dataset
        What :func:`score_pool` returned (it runs now, if it has not yet).
    id_column : str, default="row_id"

    Returns
    -------
    result : Bunch
        ``ids`` (n_rows,), ``probs_MN`` (n_members, n_rows) and ``bald_N`` (n_rows,), in
        increasing id order.

    Examples
    --------
    >>> scores = score_pool(pool, clf)  # doctest: +SKIP
    >>> collect_scores(scores).probs_MN.shape  # doctest: +SKIP
    (5, 100)
    """
    parts = {id_column: [], PROBS_COLUMN: [], BALD_COLUMN: []}
    for batch in scores.iter_batches(batch_size=None, batch_format="numpy"):
        for name, values in parts.items():
            values.append(np.asarray(batch[name]))
    ids = np.concatenate(parts[id_column])
    order = np.argsort(ids, kind="stable")
    probs_NM = np.concatenate(parts[PROBS_COLUMN])[order]
    return Bunch(
        ids=ids[order],
        probs_MN=np.ascontiguousarray(probs_NM.T),
        bald_N=np.concatenate(parts[BALD_COLUMN])[order],
    )
