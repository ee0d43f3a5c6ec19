"""The final reward model: an ensemble fitted on every label, saved with its embedder's identity.

Features of two embedding models (or of one model with other templates or another window)
are not interchangeable: a reward model fitted on one and fed the other predicts noise
without any error. The saved model therefore records the identity of its embedder (the
hash of the model files and every setting that changes the features) and refuses to
score with an embedder whose identity differs, including its own after the model files
changed on disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from skbalpm._embedding_backends import backend_name
from skbalpm._features import split_feature_blocks, with_feature_layout
from skbalpm._raw import as_raw_triples

MODEL_FORMAT = "skbalpm-reward-model"
"""The ``format`` field of a saved :class:`RewardModel` file."""

IDENTITY_KEYS = (
    "model_fingerprint",
    "backend",
    "pair_template",
    "prompt_template",
    "max_length",
    "normalize",
    "embedding_dim",
)
"""What makes two embedders' features the same (the model folder's path does not)."""

_LAYOUT = "a|b|prompt"


def embedder_identity(embedder):
    """What identifies the features of a fitted :class:`~skbalpm.PreferencePairEmbedder`.

    Parameters
    ----------
    embedder : PreferencePairEmbedder
        A fitted embedder.

    Returns
    -------
    identity : dict
        The model as named and its folder (``model``, ``model_path``), and the
        identity keys: the hash of the model files as they are now, the backend,
        the templates, the token window, the normalisation and the width of a block.

    Examples
    --------
    >>> from skbalpm import PreferencePairEmbedder
    >>> embedder = PreferencePairEmbedder(cache_dir=None).fit([("q", "a", "b")])
    >>> identity = embedder_identity(embedder)
    >>> identity["embedding_dim"], len(identity["model_fingerprint"]) > 10
    (384, True)
    """
    check_is_fitted(embedder, "embedding_dim_")
    return {
        "model": str(embedder.model),
        "model_path": str(embedder.model_path_),
        "model_fingerprint": embedder._current_fingerprint(),
        "backend": backend_name(embedder.backend_),
        "pair_template": embedder.pair_template,
        "prompt_template": embedder.prompt_template,
        "max_length": None if embedder.max_length is None else int(embedder.max_length),
        "normalize": bool(embedder.normalize),
        "embedding_dim": int(embedder.embedding_dim_),
    }


def identity_differences(expected, actual):
    """The identity keys on which two embedders differ.

    Parameters
    ----------
    expected, actual : dict
        From :func:`embedder_identity`.

    Returns
    -------
    keys : list of str
        Empty when the two give the same features.

    Examples
    --------
    >>> identity_differences({"max_length": 128}, {"max_length": 256})
    ['max_length']
    """
    return [key for key in IDENTITY_KEYS if expected.get(key) != actual.get(key)]


class RewardModel(BaseEstimator):
    """A reward ensemble on raw pairs that knows, and checks, the embedder of its features.

    ``fit`` embeds the pairs with (a clone of) ``embedder`` and fits (a clone of)
    ``classifier`` on the features; every later prediction embeds with that embedder
    after checking that it still gives the same features (:func:`embedder_identity`).
    :meth:`save` and :meth:`load` keep it on disk with joblib.

    Parameters
    ----------
    embedder : PreferencePairEmbedder or None, default=None
        Default ``PreferencePairEmbedder()`` (all-MiniLM-L6-v2, cached).
    classifier : estimator or None, default=None
        Default :class:`~skbalpm.PreferenceEnsembleClassifier` (method ``"laplace"``);
        told the embedder's layout ``"a|b|prompt"`` when left at ``"auto"``.

    Attributes
    ----------
    embedder_ : PreferencePairEmbedder
        The fitted embedder (no weights kept: they load when first needed).
    classifier_ : estimator
        The fitted classifier.
    embedder_identity_ : dict
        The identity of the features the classifier was fitted on.
    n_labels_ : int
        Labels it was fitted on.

    Examples
    --------
    >>> from skbalpm import PreferencePairEmbedder
    >>> X = [("Is ice cold?", "Yes.", "No."), ("Is fire hot?", "No.", "Yes."),
    ...      ("Is snow white?", "Yes.", "No."), ("Is coal white?", "Yes.", "No.")]
    >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1, 0, 1])
    >>> model.predict_proba(X[:1]).shape, model.embedder_identity_["embedding_dim"]
    ((1, 2), 384)
    """

    def __init__(self, embedder=None, classifier=None):
        self.embedder = embedder
        self.classifier = classifier

    def fit(self, X, y):
        """Embed the labelled pairs and fit the classifier on them.

        Parameters
        ----------
        X : ndarray of shape (n, 3), DataFrame or list of 3-tuples
            Raw pairs (prompt, response_a, response_b).
        y : array-like of shape (n,)
            0 (response_a preferred) or 1.

        Returns
        -------
        self : RewardModel

        Examples
        --------
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1]).n_labels_
        2
        """
        X = as_raw_triples(X)
        y = np.asarray(y)
        if len(y) != len(X) or not np.isin(y, (0, 1)).all():
            raise ValueError(f"y must hold one label, 0 or 1, per pair ({len(X)}); got {y!r:.80}.")
        if self.embedder is None:
            from skbalpm.embedding import PreferencePairEmbedder

            embedder = PreferencePairEmbedder()
        else:
            embedder = clone(self.embedder)
        if self.classifier is None:
            from skbalpm.ensemble import PreferenceEnsembleClassifier

            classifier = PreferenceEnsembleClassifier()
        else:
            classifier = clone(self.classifier)
        self.embedder_ = embedder.fit(X)
        self.embedder_identity_ = embedder_identity(self.embedder_)
        features = self._embed(X)
        self.classifier_ = with_feature_layout(classifier, _LAYOUT).fit(features, y.astype(int))
        self.n_labels_ = len(y)
        return self

    def _embed(self, X):
        return np.array(self.embedder_.transform(X), dtype=np.float32)  # writable, owned

    def check_embedder(self, embedder):
        """Raise unless a fitted embedder gives the features this model was fitted on.

        Parameters
        ----------
        embedder : PreferencePairEmbedder
            A fitted embedder.

        Returns
        -------
        identity : dict
            Its identity (the same as ``embedder_identity_`` on every key that matters).

        Raises
        ------
        ValueError
            Naming what differs: another model, changed model files, other templates,
            another window.

        Examples
        --------
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1])
        >>> other = PreferencePairEmbedder(max_length=16, cache_dir=None).fit(X)
        >>> try:
        ...     model.check_embedder(other)
        ... except ValueError as error:
        ...     print(str(error)[:50])
        The reward model was fitted on features of another
        """
        check_is_fitted(self, "embedder_identity_")
        actual = embedder_identity(embedder)
        differing = identity_differences(self.embedder_identity_, actual)
        if differing:
            details = "; ".join(
                f"{key}: fitted with {self.embedder_identity_.get(key)!r:.60}, "
                f"given {actual.get(key)!r:.60}"
                for key in differing
            )
            raise ValueError(
                "The reward model was fitted on features of another embedder "
                f"({self.embedder_identity_['model']} at {self.embedder_identity_['model_path']}) "
                f"and refuses these: {details}. Score with the embedder it was fitted with, "
                "or fit a new model on features of this one."
            )
        return actual

    def use_embedder(self, embedder):
        """Embed with another fitted embedder from now on (e.g. another device or cache),
        if it gives the same features.

        Parameters
        ----------
        embedder : PreferencePairEmbedder
            A fitted embedder.

        Returns
        -------
        self : RewardModel

        Raises
        ------
        ValueError
            As :meth:`check_embedder`.

        Examples
        --------
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1])
        >>> same = PreferencePairEmbedder(cache_dir=None, batch_size=8).fit(X)
        >>> model.use_embedder(same).embedder_.batch_size
        8
        """
        self.check_embedder(embedder)
        self.embedder_ = embedder
        return self

    def features(self, X):
        """The features of raw pairs, from the embedder the model was fitted with.

        Parameters
        ----------
        X : ndarray of shape (n, 3), DataFrame or list of 3-tuples
            Raw pairs.

        Returns
        -------
        features : ndarray of shape (n, 3 * d), float32
            Layout ``"a|b|prompt"``.

        Raises
        ------
        ValueError
            The embedder's model files changed since the fit (see :meth:`check_embedder`).

        Examples
        --------
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1])
        >>> model.features(X).shape
        (2, 1152)
        """
        check_is_fitted(self, "classifier_")
        self.check_embedder(self.embedder_)  # its files may have changed on disk
        return self._embed(as_raw_triples(X))

    def predict_proba(self, X):
        """P(response_a preferred) and P(response_b preferred) of raw pairs.

        Parameters
        ----------
        X : ndarray of shape (n, 3), DataFrame or list of 3-tuples
            Raw pairs.

        Returns
        -------
        proba : ndarray of shape (n, 2)

        Examples
        --------
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1])
        >>> bool(np.allclose(model.predict_proba(X).sum(axis=1), 1.0))
        True
        """
        return self.classifier_.predict_proba(self.features(X))

    def score_pairs(self, X):
        """The model's view of raw pairs: preference probability and each response's reward.

        Parameters
        ----------
        X : ndarray of shape (n, 3), DataFrame or list of 3-tuples
            Raw pairs.

        Returns
        -------
        scores : DataFrame
            ``p_a_preferred`` (P(response_a preferred)), ``reward_a`` and ``reward_b``
            (the members' mean reward of each response; rewards are defined up to a
            constant, only differences mean something).

        Examples
        --------
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1])
        >>> model.score_pairs(X).columns.tolist()
        ['p_a_preferred', 'reward_a', 'reward_b']
        """
        features = self.features(X)
        X_a, X_b, _ = split_feature_blocks(features, _LAYOUT)
        return pd.DataFrame(
            {
                "p_a_preferred": self.classifier_.predict_proba(features)[:, 0],
                "reward_a": self.classifier_.predict_member_rewards(X_a).mean(axis=0),
                "reward_b": self.classifier_.predict_member_rewards(X_b).mean(axis=0),
            }
        )

    def save(self, path):
        """Save the fitted model with joblib, atomically.

        Parameters
        ----------
        path : str or Path
            The file (e.g. ``reward_model.joblib``).

        Returns
        -------
        path : Path

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from skbalpm import PreferencePairEmbedder
        >>> X = [("Hi?", "Hello!", "Go away."), ("Bye?", "No.", "Bye!")]
        >>> model = RewardModel(PreferencePairEmbedder(cache_dir=None)).fit(X, [0, 1])
        >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "model.joblib")
        >>> RewardModel.load(path).n_labels_
        2
        """
        import joblib

        from skbalpm import __version__
        from skbalpm.benchmark._checkpoint import replacing

        check_is_fitted(self, "classifier_")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": MODEL_FORMAT, "version": 1, "skbalpm": __version__, "model": self}
        with replacing(path) as tmp:
            joblib.dump(payload, tmp)
        return path

    @classmethod
    def load(cls, path):
        """Load a model saved by :meth:`save` (a pickle: load only files you trust).

        Parameters
        ----------
        path : str or Path
            The file.

        Returns
        -------
        model : RewardModel

        Raises
        ------
        ValueError
            The file is not a saved reward model.

        Examples
        --------
        >>> import tempfile, pathlib, joblib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "other.joblib"
        >>> _ = joblib.dump({"something": "else"}, path)
        >>> try:
        ...     RewardModel.load(path)
        ... except ValueError as error:
        ...     print(str(error).split(": ", 1)[1][:32])
        not a reward model saved by skba
        """
        import pickle

        import joblib

        try:
            payload = joblib.load(path)
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a reward model saved by skbalpm ({exc}).") from None
        if (
            not isinstance(payload, dict)
            or payload.get("format") != MODEL_FORMAT
            or not isinstance(payload.get("model"), cls)
        ):
            raise ValueError(f"{path}: not a reward model saved by skbalpm fit.")
        return payload["model"]
