"""The Bradley–Terry ensemble preference classifier (scikit-learn estimator)."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from skbalpm import _torch_ensemble
from skbalpm._features import FEATURE_LAYOUTS, block_width, split_feature_blocks

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class PreferenceEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Bradley–Terry preference model: an ensemble of MLP reward adapters on frozen features.

    Each member ``m`` is an MLP reward ``r_m`` applied to the features of one response;
    member ``m`` predicts P(response_a preferred) = sigmoid(r_m(a) - r_m(b)) (Bradley &
    Terry, 1952) and the ensemble predicts the mean of its members' probabilities (a deep
    ensemble, Lakshminarayanan et al., 2017). All members train at once as batched torch
    parameters: one AdamW step updates every member, each member with its own
    initialisation seed, its own validation rows and its own data shuffle. As in BAL-PM
    (Melo et al., 2024), each :meth:`fit` retrains from scratch unless ``warm_start=True``.

    Labels: ``y[i]`` names the preferred response. Any two labels are accepted;
    ``classes_`` holds them sorted and ``classes_[0]`` means "response_a preferred". With
    the package's label contract (0 = response_a, 1 = response_b), ``classes_`` is
    ``array([0, 1])`` and ``predict_proba(X)[:, 0]`` is P(response_a preferred).

    Parameters
    ----------
    n_members : int, default=5
        Number of independently initialised adapters (5 in the paper).
    feature_layout : {"a|b|prompt", "a|b"}, default="a|b|prompt"
        Column layout of X: equal-width blocks phi(prompt+a) | phi(prompt+b) | phi(prompt)
        (what :class:`~skbalpm.PreferencePairEmbedder` emits) or plain pair features
        phi(a) | phi(b). The prompt block is ignored by the classifier.
    hidden_layer_sizes : tuple of int, default=(256, 64)
        Widths of the adapter's hidden layers (the paper uses 2048 -> 256 on 4096-d 7B
        features; the default is scaled to the 384-d all-MiniLM-L6-v2 features). ``()``
        gives a linear reward.
    activation : {"tanh", "relu", "gelu"}, default="tanh"
        Hidden-layer activation (tanh in the paper).
    init_std : float, default=0.1
        Standard deviation of the N(0, init_std^2) weight initialisation; biases start at
        zero. The paper uses 0.01 with its learning rate of 3e-5; on 384-d MiniLM features
        that start hardly moves in a small-label budget (test log-likelihood stays at
        log(1/2) from 50 to 1,000 labels, ``benchmarks/learning_curve_stability.py``), and
        the members start nearly identical, so BALD is near zero. 0.1 gives the members
        distinct starting points while still predicting close to P = 1/2.
    learning_rate : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=0.0
        AdamW (decoupled) weight decay. Off by default: ``alpha`` regularises instead,
        with a strength that adapts to the number of labels.
    alpha : float, default=1.0
        L2 penalty on the weights, scaled as in scikit-learn's ``MLPClassifier``:
        ``0.5 * alpha * ||W||^2 / n_train`` is added to each member's mean loss, i.e. a
        Gaussian prior whose pull grows relative to the data as the labels get fewer.
        Chosen on a validation split of HH-RLHF helpful-base (alpha in {0, 1, 3, 10}):
        1.0 keeps the 50-label fit above chance with small spread across seeds and costs
        nothing at 1,000 labels; without it, 50-label fits fall below log(1/2).
    batch_size : int, default=32
        Pairs per member per optimizer step (32 in the paper).
    max_epochs : int, default=100
        Most passes over each member's training rows.
    validation_fraction : float, default=0.2
        Fraction of the labelled pairs each member holds out (its own random draw) for
        early stopping. 0 turns early stopping off.
    n_iter_no_change : int or None, default=10
        Stop once no member's validation log-loss improved for this many epochs; every
        member then gets back the weights of its best epoch (the untrained initialisation
        counts as epoch 0). None turns early stopping off.
    device : str, default="auto"
        Torch device for training and prediction; "auto" picks CUDA when available, else
        the CPU. A model trained on a GPU predicts on a machine without one (the fitted
        weights are stored as numpy arrays).
    dtype : {"float32", "float64"}, default="float32"
        Torch dtype of the weights and of the features inside the network. Outputs are
        float64.
    random_state : int, RandomState instance or None, default=None
        Seeds the members' initialisations, validation splits and shuffles (each member
        gets its own seed, derived with :class:`numpy.random.SeedSequence`).
    verbose : int, default=0
        Show a tqdm progress bar over epochs when > 0.
    warm_start : bool, default=False
        When True and the estimator is already fitted with the same architecture, continue
        from the fitted weights instead of re-initialising.
    n_jobs : int or None, default=None
        CPU threads torch uses while this estimator fits and predicts (None means 1, -1
        every core, as in scikit-learn). The adapters are small, so one thread is usually
        fastest, and it keeps parallel fits (GridSearchCV, several seeds) from fighting
        over the cores. Ignored on a GPU.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; ``classes_[0]`` means response_a preferred.
    n_features_in_ : int
        Number of feature columns seen in fit.
    coefs_ : list of ndarray
        Layer weights, each of shape (n_members, n_in, n_out), CPU numpy.
    intercepts_ : list of ndarray
        Layer biases, each of shape (n_members, 1, n_out), CPU numpy.
    n_epochs_ : int
        Epochs run by the last fit.
    best_validation_loss_ : ndarray of shape (n_members,) or None
        Each member's best validation log-loss (None without early stopping).
    device_ : str
        The device the last fit trained on.

    See Also
    --------
    skbalpm.split_feature_blocks : How the feature columns are laid out.

    References
    ----------
    .. [1] R. A. Bradley and M. E. Terry, "Rank Analysis of Incomplete Block Designs: I.
       The Method of Paired Comparisons", Biometrika 39(3/4), 1952.
    .. [2] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
       Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.
    .. [3] L. C. Melo, P. Tigas, A. Abate and Y. Gal, "Deep Bayesian Active Learning for
       Preference Modeling in Large Language Models", arXiv:2406.10023, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skbalpm.ensemble import PreferenceEnsembleClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 8)).astype(np.float32)   # phi(a) | phi(b), d = 4
    >>> w = np.array([1.0, -1.0, 0.5, 0.0])
    >>> y = (X[:, 4:] @ w > X[:, :4] @ w).astype(int)      # 1: response_b preferred
    >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
    >>> clf.classes_
    array([0, 1])
    >>> clf.predict_proba(X[:2]).shape, clf.predict_member_proba(X[:2]).shape
    ((2, 2), (5, 2))
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_members": [Interval(numbers.Integral, 1, None, closed="left")],
        "feature_layout": [StrOptions(set(FEATURE_LAYOUTS))],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(_torch_ensemble.ACTIVATIONS))],
        "init_std": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "device": [str],
        "dtype": [StrOptions(set(_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self,
        n_members=5,
        feature_layout="a|b|prompt",
        hidden_layer_sizes=(256, 64),
        activation="tanh",
        init_std=0.1,
        learning_rate=1e-3,
        weight_decay=0.0,
        alpha=1.0,
        batch_size=32,
        max_epochs=100,
        validation_fraction=0.2,
        n_iter_no_change=10,
        device="auto",
        dtype="float32",
        random_state=None,
        verbose=0,
        warm_start=False,
        n_jobs=None,
    ):
        self.n_members = n_members
        self.feature_layout = feature_layout
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init_std = init_std
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.poor_score = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ fit

    def fit(self, X, y):
        """Train the ensemble on labelled preference pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in ``feature_layout``.
        y : array-like of shape (n_samples,)
            Two distinct labels; the smaller one (``classes_[0]``) means response_a was
            preferred (0 / 1 in the package's label contract).

        Returns
        -------
        self : PreferenceEnsembleClassifier
            The fitted estimator.

        Examples
        --------
        >>> from skbalpm.datasets import make_synthetic_preferences
        >>> data = make_synthetic_preferences(n_samples=200, n_features=4, random_state=0)
        >>> clf = PreferenceEnsembleClassifier(n_members=3, max_epochs=20, random_state=0)
        >>> clf = clf.fit(data.X, data.y)
        >>> clf.classes_.tolist(), len(clf.coefs_), clf.coefs_[0].shape
        ([0, 1], 3, (3, 4, 256))
        >>> 1 <= clf.n_epochs_ <= 20
        True
        """
        self._validate_params()
        sizes = list(self.hidden_layer_sizes)
        if not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold positive ints (one width per hidden layer, "
                f"() for a linear reward); got {self.hidden_layer_sizes!r}."
            )
        first_fit = not (self.warm_start and hasattr(self, "coefs_"))
        X, y = validate_data(
            self, X, y, reset=first_fit, dtype=[np.float32, np.float64], y_numeric=False
        )
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.shape[0] != 2:
            raise ValueError(
                "Only binary classification is supported: PreferenceEnsembleClassifier "
                "needs labels of exactly two classes (which response was preferred: "
                f"0 = response_a, 1 = response_b); got {classes.shape[0]} class(es): "
                f"{classes[:10].tolist()}."
            )
        X_a, X_b, _ = split_feature_blocks(X, self.feature_layout)
        if not first_fit and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start fit got classes {classes.tolist()}, but the model was fitted "
                f"on {self.classes_.tolist()}."
            )
        self.classes_ = classes

        rng = check_random_state(self.random_state)
        seed_seq = np.random.SeedSequence(rng.randint(np.iinfo(np.int32).max))
        init_seq, train_seq = seed_seq.spawn(2)
        init_seeds = init_seq.generate_state(self.n_members, dtype=np.uint64) >> np.uint64(1)
        member_rngs = [np.random.default_rng(s) for s in train_seq.spawn(self.n_members)]

        device = self._resolve_device(for_fit=True)
        torch_dtype = _DTYPES[self.dtype]
        model = self._build_model(X_a.shape[1])
        if first_fit:
            _torch_ensemble.init_normal_(model, init_seeds, self.init_std)
        else:
            self._check_warm_start_shapes(model)
            _torch_ensemble.load_state(model, self.coefs_, self.intercepts_)
        model.to(device)

        def to_device(array):
            return torch.as_tensor(np.ascontiguousarray(array)).to(device, torch_dtype)

        a_preferred = to_device((y_index == 0).astype(np.float64))
        with (
            tqdm(
                total=self.max_epochs, disable=not self.verbose, desc="fit ensemble", unit="epoch"
            ) as progress,
            _torch_ensemble.cpu_threads(self.n_jobs),
        ):
            self.n_epochs_, self.best_validation_loss_ = _torch_ensemble.train_ensemble(
                model,
                to_device(np.concatenate([X_a, X_b])),
                a_preferred,
                member_rngs=member_rngs,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                alpha=self.alpha,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                validation_fraction=self.validation_fraction,
                n_iter_no_change=self.n_iter_no_change,
                progress=progress,
            )
        self.coefs_, self.intercepts_ = _torch_ensemble.export_state(model)
        self.device_ = str(device)
        return self

    def _layer_sizes(self, n_in):
        return (n_in, *(int(h) for h in self.hidden_layer_sizes), 1)

    def _build_model(self, n_in):
        return _torch_ensemble.BatchedMLP(
            self._layer_sizes(n_in), self.n_members, self.activation, _DTYPES[self.dtype]
        )

    def _check_warm_start_shapes(self, model):
        fitted = [c.shape for c in self.coefs_]
        wanted = [tuple(W.shape) for W in model.weights]
        if fitted != wanted:
            raise ValueError(
                "warm_start=True needs the fitted architecture: fitted weight shapes "
                f"{fitted}, current parameters give {wanted}. Set warm_start=False to "
                "retrain from scratch."
            )

    def _resolve_device(self, for_fit):
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            if for_fit:
                raise ValueError(f"device={self.device!r} was requested but CUDA is unavailable.")
            warnings.warn(
                f"device={self.device!r} is unavailable here; predicting on the CPU.",
                RuntimeWarning,
                stacklevel=3,
            )
            return torch.device("cpu")
        return device

    # ------------------------------------------------------------ predict

    def _fitted_model(self):
        check_is_fitted(self)
        model = self._build_model(self.coefs_[0].shape[1])
        _torch_ensemble.load_state(model, self.coefs_, self.intercepts_)
        return model.to(self._resolve_device(for_fit=False))

    def _member_differences(self, X):
        """r_m(a) - r_m(b), shape (n_members, n_samples), float64."""
        model = self._fitted_model()
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        X_a, X_b, _ = split_feature_blocks(X, self.feature_layout)
        with _torch_ensemble.cpu_threads(self.n_jobs):
            return _torch_ensemble.predict_reward_differences(model, X_a, X_b)

    def predict_member_proba(self, X):
        """Each member's probability that response_a is preferred.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in ``feature_layout``.

        Returns
        -------
        proba_MN : ndarray of shape (n_members, n_samples), float64
            Entry [m, i] = sigmoid(r_m(a_i) - r_m(b_i)), member m's P(``classes_[0]``).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(n_members=3, feature_layout="a|b",
        ...                                    max_epochs=2, random_state=0).fit(X, y)
        >>> clf.predict_member_proba(X).shape
        (3, 40)
        """
        return expit(self._member_differences(X))

    def predict_proba(self, X):
        """Ensemble-mean probabilities of each label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in ``feature_layout``.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2), float64
            Columns follow ``classes_``: column 0 is P(response_a preferred), the mean over
            members of sigmoid(r_m(a) - r_m(b)); column 1 the mean of sigmoid(r_m(b) -
            r_m(a)). Exchanging response_a and response_b exchanges the columns exactly.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", max_epochs=2,
        ...                                    random_state=0).fit(X, y)
        >>> np.allclose(clf.predict_proba(X).sum(axis=1), 1.0)
        True
        """
        diff_MN = self._member_differences(X)
        # sigmoid(d) and sigmoid(-d) computed alike, so a swap exchanges the columns bitwise
        return np.stack([expit(diff_MN).mean(axis=0), expit(-diff_MN).mean(axis=0)], axis=1)

    def decision_function(self, X):
        """Ensemble-mean reward difference, positive when ``classes_[1]`` is predicted.

        Follows scikit-learn's binary convention (a positive score favours ``classes_[1]``,
        response_b), so ROC-AUC scorers and ``predict`` agree with it: the score is
        mean_m (r_m(b) - r_m(a)). Its negation is the reward margin of response_a.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in ``feature_layout``.

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", max_epochs=2,
        ...                                    random_state=0).fit(X, y)
        >>> clf.decision_function(X).shape
        (40,)
        """
        return -self._member_differences(X).mean(axis=0)

    def predict(self, X):
        """The preferred response's label: ``classes_[1]`` where its probability is larger.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in ``feature_layout``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``; ties go to ``classes_[0]``.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", max_epochs=2,
        ...                                    random_state=0).fit(X, y)
        >>> set(clf.predict(X)) <= {0, 1}
        True
        """
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > proba[:, 0]).astype(int)]

    def predict_member_rewards(self, X_response):
        """Each member's reward of single responses.

        Parameters
        ----------
        X_response : array-like of shape (n_samples, d)
            Features of prompt + response, one block wide (d = ``n_features_in_`` divided
            by the number of blocks of ``feature_layout``).

        Returns
        -------
        rewards_MN : ndarray of shape (n_members, n_samples), float64
            Entry [m, i] = r_m(X_response[i]).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", max_epochs=2,
        ...                                    random_state=0).fit(X, y)
        >>> clf.predict_member_rewards(X[:, :3]).shape
        (5, 40)
        """
        model = self._fitted_model()
        with _torch_ensemble.cpu_threads(self.n_jobs):
            return _torch_ensemble.predict_rewards(model, self._check_response_rows(X_response))

    def _check_response_rows(self, X_response):
        X_response = check_array(X_response, dtype=[np.float32, np.float64])
        d = block_width(self.n_features_in_, self.feature_layout)
        if X_response.shape[1] != d:
            raise ValueError(
                f"predict_member_rewards expects features of single responses, one block of "
                f"width {d} (the model was fitted on {self.n_features_in_} columns in layout "
                f"{self.feature_layout!r}); got {X_response.shape[1]} columns."
            )
        return X_response
