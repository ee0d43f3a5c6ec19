"""The Bradley–Terry preference classifier (scikit-learn estimator).

Two ways to learn the reward, behind one estimator: a Bayesian reward model with a
Laplace posterior whose prior strength is set by the evidence (``method="laplace"``,
the default; the math is in :mod:`skbalpm._laplace` and :mod:`skbalpm._random_features`),
and a deep ensemble of MLP adapters trained with AdamW (``method="deep-ensemble"``, as in
BAL-PM; the torch code is in :mod:`skbalpm._torch_ensemble`).
"""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from skbalpm import _laplace, _torch_ensemble
from skbalpm._embedding_backends import resolve_device
from skbalpm._features import (
    FEATURE_DTYPES,
    FEATURE_LAYOUTS,
    block_width,
    column_names,
    resolve_feature_layout,
    split_feature_blocks,
)
from skbalpm._random_features import FeatureMap, fit_feature_map

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
METHODS = ("laplace", "deep-ensemble")
"""The accepted values of ``PreferenceEnsembleClassifier(method=...)``."""

AUTO_N_MEMBERS = {"laplace": 50, "deep-ensemble": 5}
"""Members that ``n_members="auto"`` gives each method. A posterior draw costs one matrix
product, and BALD from 5 draws ranks a pool noisily (Spearman 0.24-0.70 against another
20); with 50, BALD and BAL-PM gained area over random on the synthetic task (data seeds
1 and 2, not the reported seed 0). A network costs a training run: 5, as in the paper."""


def prompt_groups(X_prompt):
    """Group ids of pairs by their prompt features: equal prompt rows share a group.

    Parameters
    ----------
    X_prompt : ndarray of shape (n_samples, d)
        The prompt block of the pair features.

    Returns
    -------
    groups : ndarray of shape (n_samples,), int
        ``groups[i] == groups[j]`` exactly when rows i and j hold the same prompt features.

    Examples
    --------
    >>> prompt_groups(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])).tolist()
    [1, 0, 1]
    """
    _, groups = np.unique(np.ascontiguousarray(X_prompt), axis=0, return_inverse=True)
    return groups.reshape(-1)


def _sorted_codes(values, name, what):
    """``np.unique(values, return_inverse=True)``, with a clear error for unsortable ids.

    Examples
    --------
    >>> _sorted_codes(np.array(["b", "a", "b"]), "y", "labels")[1].tolist()
    [1, 0, 1]
    """
    try:
        uniques, codes = np.unique(values, return_inverse=True)
    except TypeError:  # e.g. ints and strs in one object array
        types = sorted({type(value).__name__ for value in values.ravel()})
        raise TypeError(
            f"{name} mixes {what} of types {types}, which cannot be sorted; give {what} of "
            "one type (all numbers or all strings)."
        ) from None
    return uniques, codes.reshape(-1)


def _check_finite_output(values, rows_axis, method, dtype):
    """``values``, or a clear error naming the rows where the model overflowed.

    Examples
    --------
    >>> _check_finite_output(np.array([0.5, 1.0]), 0, "predict_proba", "float32").tolist()
    [0.5, 1.0]
    """
    finite = np.isfinite(values)
    if finite.all():
        return values
    other_axes = tuple(axis for axis in range(values.ndim) if axis != rows_axis)
    bad = np.flatnonzero(~finite.all(axis=other_axes))
    raise ValueError(
        f"{method}: the model's output is NaN or infinite for {len(bad)} row(s) (first: "
        f"{bad[:5].tolist()}): their features lie too far from the training features for "
        f"the model to compute in dtype={dtype!r}. Pass dtype='float64' or rescale the "
        "features."
    )


class PreferenceEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Bradley–Terry preference model on frozen features, with an ensemble of rewards.

    Every member ``m`` is a reward ``r_m`` applied to the features of one response;
    member ``m`` predicts P(response_a preferred) = sigmoid(r_m(a) - r_m(b)) (Bradley &
    Terry, 1952). The members express the model's epistemic uncertainty: the acquisition
    functions (BALD, BAL-PM, ...) read their disagreement through
    :meth:`predict_member_proba`. Two methods learn them:

    ``method="laplace"`` (default): Bayesian Bradley–Terry regression. The reward is
    linear in fixed features of the response, ``r(x) = w . phi(x)``, where ``phi`` holds
    the standardised features (a linear block) and random Fourier features at a few length
    scales (RBF blocks; Rahimi & Recht, 2007), so the reward is a Gaussian process with a
    linear-plus-RBF kernel. Each block has its own Gaussian prior precision, set by
    maximising the Laplace approximation of the marginal likelihood (MacKay's evidence
    framework, 1992): every label trains the model, nothing is held out, and the
    regularisation follows the data (strong where the features carry little signal that
    generalises, weak where they carry much). The members are draws from the Laplace
    posterior of ``w``, and :meth:`predict_proba` is the posterior predictive (MacKay's
    probit approximation), the limit of the members' mean as their number grows. The
    fit is deterministic given ``random_state`` and convex in ``w``: no initialisation,
    no early stopping, no learning rate.

    ``method="deep-ensemble"``: the BAL-PM paper's learner (Melo et al., 2024). Each
    member is an MLP adapter with its own initialisation; all members train at once as
    batched torch parameters with AdamW and early stopping on held-out pairs (whole
    prompt groups: pairs that share a prompt never straddle the split); the prediction is
    the members' mean (a deep ensemble, Lakshminarayanan et al., 2017).

    Labels: ``y[i]`` names the preferred response. Any two labels are accepted;
    ``classes_`` holds them sorted and ``classes_[0]`` means "response_a preferred". With
    the package's label contract (0 = response_a, 1 = response_b), ``classes_`` is
    ``array([0, 1])`` and ``predict_proba(X)[:, 0]`` is P(response_a preferred).

    Parameters
    ----------
    n_members : int or "auto", default="auto"
        Number of members: posterior draws (``"laplace"``) or independently initialised
        adapters (``"deep-ensemble"``; 5 in the paper). ``"auto"`` takes
        ``AUTO_N_MEMBERS`` of the method: 50 draws, or 5 adapters.
    method : {"laplace", "deep-ensemble"}, default="laplace"
        How the rewards are learned (see above).
    feature_layout : {"auto", "a|b|prompt", "a|b"}, default="auto"
        Column layout of X: equal-width blocks phi(prompt+a) | phi(prompt+b) | phi(prompt)
        (what :class:`~skbalpm.PreferencePairEmbedder` emits) or plain pair features
        phi(a) | phi(b). The classifier models the response blocks; the prompt block only
        identifies which pairs share a prompt (deep-ensemble early stopping). ``"auto"``
        reads the layout from X's column names (the embedder's output names its columns
        ``a_*``, ``b_*``, ``prompt_*``), else from its width when only one layout fits
        it; a bare array whose width fits both (a multiple of 6, e.g. 768 = 2 x 384 =
        3 x 256) is refused rather than guessed, with a message naming both layouts. An
        explicit layout is used on bare arrays and must agree with X's column names.
    n_random_features : int, default=256
        ``"laplace"``: random Fourier features per length scale. 0 gives a linear reward
        (Bayesian logistic regression on the response features).
    length_scales : tuple of float, default=(1.0, 2.0, 4.0)
        ``"laplace"``: length scales of the RBF blocks, in units of sqrt(d) (about the
        distance between two standardised response features). The evidence weighs the
        blocks, switching off those the data do not support.
    prior_precision : "evidence" or float, default="evidence"
        ``"laplace"``: "evidence" tunes one prior precision per block by evidence
        maximisation; a float fixes every block's precision to it (no tuning).
    random_features_seed : int or None, default=0
        ``"laplace"``: seed of the random Fourier features (orthogonal random features,
        Yu et al., 2016). Fixed by default, so that refits on a growing label set (an
        active-learning loop, a learning curve) use the same kernel approximation: with a
        new draw at every fit, the evidence can share the weight between the RBF blocks
        differently each time, which moves the test log-likelihood by about 0.01 nats
        (the size of a round's gain). None draws them from ``random_state``.
    hidden_layer_sizes : tuple of int, default=(256, 64)
        ``"deep-ensemble"``: widths of the adapter's hidden layers (the paper uses 2048 ->
        256 on 4096-d 7B features; the default is scaled to the 384-d all-MiniLM-L6-v2
        features). ``()`` gives a linear reward.
    activation : {"tanh", "relu", "gelu"}, default="tanh"
        ``"deep-ensemble"``: hidden-layer activation (tanh in the paper).
    init_std : float, default=0.1
        ``"deep-ensemble"``: standard deviation of the N(0, init_std^2) weight
        initialisation; biases start at zero. The paper uses 0.01 with its learning rate
        of 3e-5; on 384-d MiniLM features that start hardly moves in a small-label budget
        and the members start nearly identical, so BALD is near zero.
    learning_rate : float, default=1e-3
        ``"deep-ensemble"``: AdamW learning rate.
    weight_decay : float, default=0.0
        ``"deep-ensemble"``: AdamW (decoupled) weight decay. Off by default: ``alpha``
        regularises instead, with a strength that adapts to the number of labels.
    alpha : float, default=1.0
        ``"deep-ensemble"``: L2 penalty on the weights, scaled as in scikit-learn's
        ``MLPClassifier``: ``0.5 * alpha * ||W||^2 / n_train`` is added to each member's
        mean loss (a Gaussian prior whose pull grows relative to the data as the labels
        get fewer). Chosen on a validation split of HH-RLHF helpful-base.
    batch_size : int, default=32
        ``"deep-ensemble"``: pairs per member per optimizer step (32 in the paper).
    max_epochs : int, default=100
        ``"deep-ensemble"``: most passes over each member's training rows.
    validation_fraction : float, default=0.2
        ``"deep-ensemble"``: fraction of the labelled pairs held out for early stopping.
        0 turns early stopping off.
    n_iter_no_change : int or None, default=10
        ``"deep-ensemble"``: stop once no member's validation log-loss improved for this
        many epochs; every member then gets back the weights of its best epoch (the
        untrained initialisation counts as epoch 0). None turns early stopping off.
    early_stopping_split : {"grouped", "random"}, default="grouped"
        ``"deep-ensemble"``: "grouped" holds out whole groups of pairs (from ``groups``
        passed to :meth:`fit`, else pairs with equal prompt features), the same for every
        member, so no prompt is on both sides; "random" lets each member hold out its own
        random rows (before version 0.2 the only behaviour: where prompts repeat it
        rewards memorising them).
    device : str, default="auto"
        Torch device for training and prediction; "auto" picks CUDA when available, else
        the CPU. A model trained on a GPU predicts on a machine without one (the fitted
        state is stored as numpy arrays).
    dtype : {"float32", "float64"}, default="float32"
        Torch dtype of the network (``"deep-ensemble"``) or of the features at prediction
        (``"laplace"``, whose posterior is always computed in float64). Outputs are
        float64. Features the dtype cannot hold (float32: beyond about 3.4e38, or a
        spread below 1.2e-38) are refused with a ValueError, as are predictions that
        overflow inside the model; float64 has the range to spare.
    random_state : int, RandomState instance or None, default=None
        Seeds the posterior draws (``"laplace"``; the random features too when
        ``random_features_seed=None``) or the members' initialisations, validation splits
        and shuffles (``"deep-ensemble"``; each member gets its own seed, derived with
        :class:`numpy.random.SeedSequence`).
    verbose : int, default=0
        Show a tqdm progress bar (evidence iterations or epochs) when > 0.
    warm_start : bool, default=False
        When True and the estimator is already fitted with the same method: the
        ``"deep-ensemble"`` continues from the fitted weights (same architecture needed),
        the ``"laplace"`` evidence iterations start from the fitted prior precisions.
    n_jobs : int or None, default=None
        CPU threads torch uses while this estimator fits and predicts (None means 1, -1
        every core, as in scikit-learn). Small fits run fastest on one thread, and it
        keeps parallel fits (GridSearchCV, several seeds) from fighting over the cores.
        Ignored on a GPU.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; ``classes_[0]`` means response_a preferred.
    n_features_in_ : int
        Number of feature columns seen in fit.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the feature columns seen in fit; defined only when X had string
        column names (e.g. the embedder's output).
    feature_layout_ : {"a|b|prompt", "a|b"}
        The layout resolved at fit (from ``feature_layout``, the column names and the
        width); prediction and the query strategies split the columns by it.
    device_ : str
        The device the last fit trained on.
    n_members_ : int
        Number of members of the fitted ensemble (``n_members`` resolved).
    coef_ : ndarray of shape (n_weights,)
        ``"laplace"``: posterior mean of the reward weights ``w`` (linear block first,
        then each length scale's random features).
    member_coefs_ : ndarray of shape (n_members, n_weights)
        ``"laplace"``: the members, draws from the posterior of ``w``.
    posterior_cov_root_ : ndarray of shape (n_weights, n_weights)
        ``"laplace"``: a matrix R with R^T R the posterior covariance of ``w`` (the
        inverse Cholesky factor of the posterior precision), float32.
    prior_precision_ : ndarray of shape (n_blocks,)
        ``"laplace"``: each block's prior precision (1e8 marks a block switched off).
    effective_parameters_ : ndarray of shape (n_blocks,)
        ``"laplace"``: how many weights of each block the data determine (MacKay's gamma).
    log_evidence_ : float
        ``"laplace"``: Laplace approximation of the log marginal likelihood.
    n_iter_ : int
        ``"laplace"``: evidence iterations run.
    response_mean_, response_scale_ : ndarray of shape (d,)
        ``"laplace"``: standardisation of the response features.
    random_frequencies_ : list of ndarray of shape (d, n_random_features)
        ``"laplace"``: each RBF block's random frequencies (divided by its length scale).
    random_phases_ : list of ndarray of shape (n_random_features,)
        ``"laplace"``: each RBF block's random phases.
    coefs_ : list of ndarray
        ``"deep-ensemble"``: layer weights, each of shape (n_members, n_in, n_out).
    intercepts_ : list of ndarray
        ``"deep-ensemble"``: layer biases, each of shape (n_members, 1, n_out).
    n_epochs_ : int
        ``"deep-ensemble"``: epochs run by the last fit.
    best_validation_loss_ : ndarray of shape (n_members,) or None
        ``"deep-ensemble"``: each member's best validation log-loss (None without early
        stopping).

    See Also
    --------
    skbalpm.split_feature_blocks : How the feature columns are laid out.

    References
    ----------
    .. [1] R. A. Bradley and M. E. Terry, "Rank Analysis of Incomplete Block Designs: I.
       The Method of Paired Comparisons", Biometrika 39(3/4), 1952.
    .. [2] D. J. C. MacKay, "The Evidence Framework Applied to Classification Networks",
       Neural Computation 4(5), 1992.
    .. [3] A. Rahimi and B. Recht, "Random Features for Large-Scale Kernel Machines",
       NeurIPS 2007.
    .. [4] N. Houlsby, F. Huszár, Z. Ghahramani and M. Lengyel, "Bayesian Active Learning
       for Classification and Preference Learning", arXiv:1112.5745, 2011.
    .. [5] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
       Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.
    .. [6] L. C. Melo, P. Tigas, A. Abate and Y. Gal, "Deep Bayesian Active Learning for
       Preference Modeling in Large Language Models", arXiv:2406.10023, 2024.
    .. [7] F. X. Yu, A. T. Suresh, K. Choromanski, D. Holtmann-Rice and S. Kumar,
       "Orthogonal Random Features", NeurIPS 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skbalpm.ensemble import PreferenceEnsembleClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 8)).astype(np.float32)   # phi(a) | phi(b), d = 4
    >>> w = np.array([2.0, -2.0, 1.0, 0.0])
    >>> margin = X[:, 4:] @ w - X[:, :4] @ w                # r(b) - r(a)
    >>> y = (margin + rng.logistic(size=200) > 0).astype(int)  # 1: response_b preferred
    >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
    >>> clf.classes_
    array([0, 1])
    >>> clf.predict_proba(X[:2]).shape, clf.predict_member_proba(X[:2]).shape
    ((2, 2), (50, 2))
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_members": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "method": [StrOptions(set(METHODS))],
        "feature_layout": [StrOptions({"auto", *FEATURE_LAYOUTS})],
        "n_random_features": [Interval(numbers.Integral, 0, None, closed="left")],
        "length_scales": ["array-like"],
        "prior_precision": [
            StrOptions({"evidence"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "random_features_seed": [Interval(numbers.Integral, 0, None, closed="left"), None],
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
        "early_stopping_split": [StrOptions({"grouped", "random"})],
        "device": [str],
        "dtype": [StrOptions(set(_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self,
        n_members="auto",
        method="laplace",
        feature_layout="auto",
        n_random_features=256,
        length_scales=(1.0, 2.0, 4.0),
        prior_precision="evidence",
        random_features_seed=0,
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
        early_stopping_split="grouped",
        device="auto",
        dtype="float32",
        random_state=None,
        verbose=0,
        warm_start=False,
        n_jobs=None,
    ):
        self.n_members = n_members
        self.method = method
        self.feature_layout = feature_layout
        self.n_random_features = n_random_features
        self.length_scales = length_scales
        self.prior_precision = prior_precision
        self.random_features_seed = random_features_seed
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
        self.early_stopping_split = early_stopping_split
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

    def fit(self, X, y, groups=None):
        """Train the model on labelled preference pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in ``feature_layout`` (a DataFrame's block-named columns give
            the layout).
        y : array-like of shape (n_samples,)
            Two distinct labels; the smaller one (``classes_[0]``) means response_a was
            preferred (0 / 1 in the package's label contract).
        groups : array-like of shape (n_samples,) or None, default=None
            Group of each pair (e.g. a prompt or post id). ``"deep-ensemble"`` holds out
            whole groups for early stopping; without ``groups`` pairs with equal prompt
            features form the groups. ``"laplace"`` holds nothing out and ignores them.
            Ids of one type (numbers or strings), none missing (None or NaN).
            Routed by scikit-learn's metadata routing (``set_fit_request(groups=True)``).

        Returns
        -------
        self : PreferenceEnsembleClassifier
            The fitted estimator.

        Examples
        --------
        >>> from skbalpm.datasets import make_synthetic_preferences
        >>> data = make_synthetic_preferences(n_samples=200, n_features=4, random_state=0)
        >>> clf = PreferenceEnsembleClassifier(
        ...     n_members=3, feature_layout=data.feature_layout, random_state=0
        ... ).fit(data.X, data.y)
        >>> clf.classes_.tolist(), clf.member_coefs_.shape
        ([0, 1], (3, 772))
        >>> bool(clf.log_evidence_ < 0)
        True
        """
        self._validate_params()
        self._check_method_params()
        first_fit = not (self.warm_start and self._fitted_method() == self.method)
        X, y = validate_data(self, X, y, reset=first_fit, dtype=FEATURE_DTYPES, y_numeric=False)
        classes, y_index = _sorted_codes(y, "y", "labels")  # before sklearn sorts them
        check_classification_targets(y)
        if classes.shape[0] != 2:
            raise ValueError(
                "Only binary classification is supported: PreferenceEnsembleClassifier "
                "needs labels of exactly two classes (which response was preferred: "
                f"0 = response_a, 1 = response_b); got {classes.shape[0]} class(es): "
                f"{classes[:10].tolist()}."
            )
        if not first_fit and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start fit got classes {classes.tolist()}, but the model was fitted "
                f"on {self.classes_.tolist()}."
            )
        self._check_dtype_range(X, "X")
        groups = self._check_groups(groups, X.shape[0])
        layout = resolve_feature_layout(
            self.feature_layout, X.shape[1], getattr(self, "feature_names_in_", None)
        )
        X_a, X_b, X_prompt = split_feature_blocks(X, layout)
        a_preferred = (y_index == 0).astype(np.float64)
        rng = check_random_state(self.random_state)
        seed_seq = np.random.SeedSequence(rng.randint(np.iinfo(np.int32).max))
        device = self._resolve_device(for_fit=True)
        self.n_members_ = (
            AUTO_N_MEMBERS[self.method] if self.n_members == "auto" else self.n_members
        )
        with _torch_ensemble.cpu_threads(self.n_jobs):
            if self.method == "laplace":
                self._fit_laplace(X_a, X_b, a_preferred, seed_seq, device, first_fit)
            else:
                if groups is None and self.early_stopping_split == "grouped":
                    groups = None if X_prompt is None else prompt_groups(X_prompt)
                self._fit_deep_ensemble(X_a, X_b, a_preferred, seed_seq, device, groups)
        # set last: a fit that fails leaves no model that looks fitted
        self.classes_, self.feature_layout_, self.device_ = classes, layout, str(device)
        return self

    def _check_method_params(self):
        """Checks that _parameter_constraints cannot express (cheap; before any work)."""
        sizes = list(self.hidden_layer_sizes)
        if not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold positive ints (one width per hidden layer, "
                f"() for a linear reward); got {self.hidden_layer_sizes!r}."
            )
        scales = np.asarray(self.length_scales, dtype=object)
        scales = list(scales) if scales.ndim == 1 else [None]  # nested: refused below
        if not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool) and np.isfinite(s) and s > 0
            for s in scales
        ):
            raise ValueError(
                f"length_scales must hold positive finite numbers (one per RBF block); got "
                f"{self.length_scales!r}."
            )
        if self.n_random_features > 0 and not scales:
            raise ValueError(
                "length_scales is empty but n_random_features > 0: give at least one "
                "length scale, or n_random_features=0 for a linear reward."
            )

    def _check_groups(self, groups, n_samples):
        if groups is None:
            return None
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.shape[0] != n_samples:
            raise ValueError(
                f"groups must hold one group id per pair, shape ({n_samples},); got shape "
                f"{groups.shape}."
            )
        missing = np.flatnonzero(pd.isna(groups))
        if len(missing):
            raise ValueError(
                f"groups holds no group id (None or NaN) for {len(missing)} pair(s) (first: "
                f"rows {missing[:5].tolist()}); give every pair an id, or pass groups=None to "
                "group the pairs by their prompt features."
            )
        return _sorted_codes(groups, "groups", "ids")[1]

    def _check_dtype_range(self, X, name):
        """Values beyond the range of the model's dtype would turn into inf inside it."""
        limit = float(np.finfo(self.dtype).max)
        largest = float(np.abs(X).max()) if X.size else 0.0
        if largest > limit:
            raise ValueError(
                f"{name} holds values up to {largest:.3g} in magnitude, beyond the range of "
                f"dtype={self.dtype!r} (about {limit:.3g}) in which the model computes. Pass "
                "dtype='float64' or rescale the features."
            )

    def _fitted_method(self):
        if hasattr(self, "coef_"):
            return "laplace"
        if hasattr(self, "coefs_"):
            return "deep-ensemble"
        return None

    def _forget_other_method(self):
        """Drop the fitted state of the other method (a refit may switch methods)."""
        other = (
            ("coefs_", "intercepts_", "n_epochs_", "best_validation_loss_")
            if self.method == "laplace"
            else (
                "coef_",
                "member_coefs_",
                "posterior_cov_root_",
                "prior_precision_",
                "effective_parameters_",
                "log_evidence_",
                "n_iter_",
                "response_mean_",
                "response_scale_",
                "random_frequencies_",
                "random_phases_",
            )
        )
        for name in other:
            self.__dict__.pop(name, None)

    def _fit_laplace(self, X_a, X_b, a_preferred, seed_seq, device, first_fit):
        feature_seed, draw_seed = seed_seq.generate_state(2)
        if self.random_features_seed is not None:
            feature_seed = self.random_features_seed

        def to_device(array):
            return torch.as_tensor(np.ascontiguousarray(array)).to(device, torch.float64)

        A, B = to_device(X_a), to_device(X_b)
        n_features = self.n_random_features
        feature_map = fit_feature_map(
            torch.cat([A, B]),
            length_scales=tuple(float(s) for s in self.length_scales) if n_features else (),
            n_random_features=n_features,
            linear=True,
            seed=int(feature_seed),
        )
        D = feature_map(A) - feature_map(B)
        self._check_feature_map(feature_map, D)
        n_blocks = len(feature_map.block_sizes)
        tune = self.prior_precision == "evidence"
        start = 1.0 if tune else float(self.prior_precision)
        alphas = torch.full((n_blocks,), start, dtype=torch.float64, device=device)
        if tune and not first_fit and len(self.prior_precision_) == n_blocks:
            alphas = torch.as_tensor(self.prior_precision_, dtype=torch.float64).to(device)
        with tqdm(desc="fit (evidence)", unit="iter", disable=not self.verbose) as progress:
            try:
                posterior = _laplace.fit_laplace(
                    D,
                    to_device(a_preferred),
                    feature_map.block_sizes,
                    alphas=alphas,
                    tune=tune,
                    callback=lambda _: progress.update(1),
                )
            except torch.linalg.LinAlgError:  # a Cholesky factorisation failed
                raise ValueError(
                    "The Laplace posterior cannot be computed: its precision matrix is not "
                    f"positive definite in float64 (prior_precision={self.prior_precision!r}). "
                    "A fixed prior precision this small leaves the weights undetermined; use "
                    "a larger one, or 'evidence'."
                ) from None
        if tune and not posterior.converged:
            warnings.warn(
                f"The evidence iterations did not converge in {posterior.n_iter} steps; "
                "the prior precisions may be off their optimum.",
                RuntimeWarning,
                stacklevel=3,
            )
        generator = torch.Generator().manual_seed(int(draw_seed))
        members = _laplace.posterior_draws(posterior, self.n_members_, generator)
        eye = torch.eye(D.shape[1], dtype=torch.float64, device=device)
        cov_root = torch.linalg.solve_triangular(posterior.precision_chol, eye, upper=False)

        def to_numpy(tensor):
            return tensor.detach().cpu().numpy()

        self._forget_other_method()
        self.coef_ = to_numpy(posterior.coef)
        self.member_coefs_ = to_numpy(members.T).copy()
        self.posterior_cov_root_ = to_numpy(cov_root).astype(np.float32)
        self.prior_precision_ = to_numpy(posterior.alphas)
        self.effective_parameters_ = to_numpy(posterior.effective_parameters)
        self.log_evidence_ = posterior.log_evidence
        self.n_iter_ = posterior.n_iter
        self.response_mean_ = to_numpy(feature_map.mean)
        self.response_scale_ = to_numpy(feature_map.scale)
        self.random_frequencies_ = [to_numpy(W) for W in feature_map.frequencies]
        self.random_phases_ = [to_numpy(b) for b in feature_map.phases]

    def _check_feature_map(self, feature_map, D):
        """Refuse a feature map that overflows, here or in the dtype the model predicts in."""
        finfo = np.finfo(self.dtype)
        largest, smallest = float(finfo.max), float(finfo.tiny)
        frequency = max((float(W.abs().max()) for W in feature_map.frequencies), default=0.0)
        if not torch.isfinite(D).all() or frequency > largest:  # tiny length scales
            raise ValueError(
                f"The random features overflow with length_scales={self.length_scales!r} "
                f"(dtype={self.dtype!r}): use length scales of moderate size (about 0.1 to 10, "
                "in units of the standardised features' typical distance)."
            )
        spread = float(feature_map.scale.min())
        if spread < smallest:  # standardising would divide by zero at prediction
            raise ValueError(
                f"X has features whose spread ({spread:.3g}) is below the range of "
                f"dtype={self.dtype!r}. Pass dtype='float64' or rescale the features."
            )

    def _fit_deep_ensemble(self, X_a, X_b, a_preferred, seed_seq, device, groups):
        first_fit = not (self.warm_start and self._fitted_method() == "deep-ensemble")
        init_seq, train_seq = seed_seq.spawn(2)
        init_seeds = init_seq.generate_state(self.n_members_, dtype=np.uint64) >> np.uint64(1)
        member_rngs = [np.random.default_rng(s) for s in train_seq.spawn(self.n_members_)]
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

        X_ab = np.concatenate([X_a, X_b])
        with tqdm(
            total=self.max_epochs, disable=not self.verbose, desc="fit ensemble", unit="epoch"
        ) as progress:
            n_epochs, best_validation_loss = _torch_ensemble.train_ensemble(
                model,
                to_device(X_ab),
                to_device(a_preferred),
                member_rngs=member_rngs,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                alpha=self.alpha,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                validation_fraction=self.validation_fraction,
                n_iter_no_change=self.n_iter_no_change,
                groups=groups,
                progress=progress,
            )
        if not np.isfinite(_torch_ensemble.predict_rewards(model, X_ab)).all():
            raise ValueError(
                "The deep ensemble's rewards of its training responses are NaN or infinite: "
                f"the training diverged or started too large (learning_rate="
                f"{self.learning_rate!r}, init_std={self.init_std!r}, alpha={self.alpha!r}, "
                f"weight_decay={self.weight_decay!r}). Lower them, or standardise the features."
            )
        self._forget_other_method()
        self.n_epochs_, self.best_validation_loss_ = n_epochs, best_validation_loss
        self.coefs_, self.intercepts_ = _torch_ensemble.export_state(model)

    def _layer_sizes(self, n_in):
        return (n_in, *(int(h) for h in self.hidden_layer_sizes), 1)

    def _build_model(self, n_in):
        return _torch_ensemble.BatchedMLP(
            self._layer_sizes(n_in), self.n_members_, self.activation, _DTYPES[self.dtype]
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
        device = torch.device(resolve_device(self.device))  # "auto" and the name checked
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

    def _predict_state(self):
        """What prediction needs, on the prediction device: a model or a feature map."""
        check_is_fitted(self, "classes_")
        device = self._resolve_device(for_fit=False)
        if self._fitted_method() == "laplace":
            dtype = _DTYPES[self.dtype]

            def to_device(array):
                return torch.as_tensor(array).to(device, dtype)

            feature_map = FeatureMap(
                to_device(self.response_mean_),
                to_device(self.response_scale_),
                [to_device(W) for W in self.random_frequencies_],
                [to_device(b) for b in self.random_phases_],
                linear=True,
            )
            return _laplace.LaplacePredictor(
                feature_map,
                to_device(self.coef_),
                to_device(self.member_coefs_),
                to_device(self.posterior_cov_root_),
            )
        model = self._build_model(self.coefs_[0].shape[1])
        _torch_ensemble.load_state(model, self.coefs_, self.intercepts_)
        return _torch_ensemble.EnsemblePredictor(model.to(device))

    def _pair_blocks(self, X):
        names = column_names(X)
        X = validate_data(self, X, reset=False, dtype=FEATURE_DTYPES)
        self._check_dtype_range(X, "X")
        # columns named for another layout than the fitted one are an error, not a re-split
        layout = resolve_feature_layout(self.feature_layout_, X.shape[1], names)
        X_a, X_b, _ = split_feature_blocks(X, layout)
        return X_a, X_b

    def _member_differences(self, X):
        """r_m(a) - r_m(b), shape (n_members, n_samples), float64."""
        predictor = self._predict_state()
        X_a, X_b = self._pair_blocks(X)
        with _torch_ensemble.cpu_threads(self.n_jobs):
            return predictor.member_differences(X_a, X_b)

    def predict_member_proba(self, X):
        """Each member's probability that response_a is preferred.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in the fitted layout ``feature_layout_``.

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
        ...                                    random_state=0).fit(X, y)
        >>> clf.predict_member_proba(X).shape
        (3, 40)
        """
        proba_MN = expit(self._member_differences(X))
        return _check_finite_output(proba_MN, 1, "predict_member_proba", self.dtype)

    def predict_proba(self, X):
        """Probabilities of each label: the model's predictive distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in the fitted layout ``feature_layout_``.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2), float64
            Columns follow ``classes_``: column 0 is P(response_a preferred), column 1
            P(response_b preferred). ``"laplace"``: the posterior predictive (the
            members' mean in the limit of many members); ``"deep-ensemble"``: the mean
            over members of sigmoid(r_m(a) - r_m(b)). Exchanging response_a and
            response_b exchanges the columns exactly.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
        >>> np.allclose(clf.predict_proba(X).sum(axis=1), 1.0)
        True
        """
        predictor = self._predict_state()
        X_a, X_b = self._pair_blocks(X)
        with _torch_ensemble.cpu_threads(self.n_jobs):
            proba = predictor.predict_proba(X_a, X_b)
        return _check_finite_output(proba, 0, "predict_proba", self.dtype)

    def decision_function(self, X):
        """Reward margin of response_b over response_a, positive when ``classes_[1]`` wins.

        Follows scikit-learn's binary convention (a positive score favours ``classes_[1]``,
        response_b), so ROC-AUC scorers and ``predict`` agree with it: the posterior-mean
        margin r(b) - r(a) (``"laplace"``) or its mean over members (``"deep-ensemble"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in the fitted layout ``feature_layout_``.

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
        >>> clf.decision_function(X).shape
        (40,)
        """
        predictor = self._predict_state()
        X_a, X_b = self._pair_blocks(X)
        with _torch_ensemble.cpu_threads(self.n_jobs):
            scores = predictor.decision(X_a, X_b)
        return _check_finite_output(scores, 0, "decision_function", self.dtype)

    def predict(self, X):
        """The preferred response's label: ``classes_[1]`` where its probability is larger.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in the fitted layout ``feature_layout_``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``; ties go to ``classes_[0]``.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
        >>> set(clf.predict(X)) <= {0, 1}
        True
        """
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > proba[:, 0]).astype(int)]

    def predict_last_layer(self, X):
        """The pairs' features at the reward's last (linear) layer, and the logits on them.

        Where the reward is linear in features ``phi`` (``r(x) = w . phi(x)``), a pair's
        logit of "response_a preferred" is ``w . (phi(a) - phi(b))``, and the Fisher
        information of ``w`` from the pair's label is ``p (1 - p) d d^T`` with ``d`` that
        difference (what the D-optimal design strategy reads). ``"laplace"``: one head,
        the fixed feature map with the posterior-mean weights. ``"deep-ensemble"``: one
        head per member, its last hidden layer with its output weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pair features in the fitted layout ``feature_layout_``.

        Returns
        -------
        features_HND : ndarray of shape (n_heads, n_samples, n_last), float64
            ``phi_h(a) - phi_h(b)`` of every head h.
        logits_HN : ndarray of shape (n_heads, n_samples), float64
            ``w_h . features_HND[h]``: the head's logit of P(``classes_[0]``).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", n_random_features=8,
        ...                                    random_state=0).fit(X, y)
        >>> features, logits = clf.predict_last_layer(X)
        >>> features.shape, logits.shape  # one head: 3 linear + 3 x 8 random features
        ((1, 40, 27), (1, 40))
        >>> bool(np.allclose(logits[0], -clf.decision_function(X)))
        True
        """
        predictor = self._predict_state()
        X_a, X_b = self._pair_blocks(X)
        with _torch_ensemble.cpu_threads(self.n_jobs):
            features_HND, logits_HN = predictor.last_layer(X_a, X_b)
        _check_finite_output(logits_HN, 1, "predict_last_layer", self.dtype)
        return features_HND, logits_HN

    def predict_member_rewards(self, X_response):
        """Each member's reward of single responses.

        Parameters
        ----------
        X_response : array-like of shape (n_samples, d)
            Features of prompt + response, one block wide (d = ``n_features_in_`` divided
            by the number of blocks of ``feature_layout_``).

        Returns
        -------
        rewards_MN : ndarray of shape (n_members, n_samples), float64
            Entry [m, i] = r_m(X_response[i]) (rewards are defined up to a constant:
            only differences between responses are learned).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 6))
        >>> y = np.arange(40) % 2
        >>> clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=0).fit(X, y)
        >>> clf.predict_member_rewards(X[:, :3]).shape
        (50, 40)
        """
        predictor = self._predict_state()
        X_response = self._check_response_rows(X_response)
        with _torch_ensemble.cpu_threads(self.n_jobs):
            rewards_MN = predictor.member_rewards(X_response)
        return _check_finite_output(rewards_MN, 1, "predict_member_rewards", self.dtype)

    def _check_response_rows(self, X_response):
        X_response = check_array(X_response, dtype=FEATURE_DTYPES)
        self._check_dtype_range(X_response, "X_response")
        d = block_width(self.n_features_in_, self.feature_layout_)
        if X_response.shape[1] != d:
            raise ValueError(
                f"predict_member_rewards expects features of single responses, one block of "
                f"width {d} (the model was fitted on {self.n_features_in_} columns in layout "
                f"{self.feature_layout_!r}); got {X_response.shape[1]} columns."
            )
        return X_response
