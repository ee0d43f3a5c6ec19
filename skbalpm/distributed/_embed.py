"""Features of raw preference pairs held as a Ray Dataset: each distinct text embedded once.

1. The driver reads the pairs, in the dataset's order, and keys each: the content
   hashes of its three model inputs (the keys of the embedder's cache,
   :func:`skbalpm._embedding_cache.text_key`); it keeps the keys (96 bytes a pair), not
   the texts.
2. It finds the distinct inputs that the Parquet store (``output``) does not hold yet and
   gives each one an owner: the first pair that holds it, named by its three keys. A
   prompt shared by many pairs has one owner, so it is embedded once however the pairs
   fall into batches and in whatever order the workers read them.
3. An actor pool (``map_batches``) reads the pairs again (materialized in the object
   store in step 1); each actor loads the model once, from the fitted embedder in the
   object store, keys the pairs of each batch and embeds the inputs they own.

The new vectors come back to the driver, which appends them to the store (one Parquet file
per run) and assembles the features of every pair from the store and the new vectors.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import numbers
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skbalpm._embedding_cache import namespace_key, text_key
from skbalpm._raw import RAW_COLUMNS, as_raw_triples
from skbalpm.distributed._ray import import_ray
from skbalpm.distributed._score import _as_dataset, _check_positive_int
from skbalpm.embedding import PreferencePairEmbedder, _row_specs

__all__ = ["embed_pairs"]

KEY_BYTES = 32
STORE_SUFFIX = ".parquet"
_BATCHES_PER_ACTOR = 4  # batch_size=None: enough batches to keep every actor busy
_MAX_AUTO_BATCH = 1024


# -- keys ---------------------------------------------------------------------------------


def _row_keys(table, prompt_in_pair):
    """The raw pairs of an Arrow batch and their input keys, (n, 3) ``S32`` (a|b|prompt)."""
    triples = as_raw_triples(table.select(list(RAW_COLUMNS)).to_pandas())
    keys = b"".join(
        text_key(*spec)
        for row in triples
        for spec in _row_specs(*row, prompt_in_pair=prompt_in_pair)
    )
    return triples, np.frombuffer(keys, dtype=f"S{KEY_BYTES}").reshape(-1, 3)


def _fixed_binary(data, width, n):
    import pyarrow as pa

    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(data)])


def _fixed_bytes(column, width):
    """A fixed-size binary Arrow column as a (n,) numpy array of ``S<width>`` (no copy)."""
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.empty(0, dtype=f"S{width}")
    raw = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    raw = raw[array.offset * width : (array.offset + len(array)) * width]
    return raw.view(f"S{width}")


# -- step 3: the actors -------------------------------------------------------------------


class _PairEmbedder:
    """Ray Data class UDF: loads the model once, embeds the inputs its pairs own."""

    def __init__(self, embedder_ref, owners_ref, namespace, prompt_in_pair):
        ray = import_ray()
        self.embedder = (
            ray.get(embedder_ref) if isinstance(embedder_ref, ray.ObjectRef) else embedder_ref
        )
        owned_keys, owned_rows = (
            ray.get(owners_ref) if isinstance(owners_ref, ray.ObjectRef) else owners_ref
        )
        self.owned_keys, self.owned_rows = owned_keys, owned_rows
        self.prompt_in_pair = prompt_in_pair
        identity = self.embedder._current_identity()
        if namespace_key(self.embedder._settings(identity)) != namespace:
            raise RuntimeError(
                "The embedding model on this Ray worker is not the driver's (its files, "
                "or the versions of the libraries that run it, differ): install the same "
                f"model and libraries on every node. Worker's identity: {identity}."
            )
        self.fingerprint = self.embedder._fingerprint(identity)
        self.embedder._get_backend(self.fingerprint)  # load the model now, once

    def __call__(self, table):
        import pyarrow as pa

        triples, keys_R3 = _row_keys(table, self.prompt_in_pair)
        at = np.minimum(np.searchsorted(self.owned_keys, keys_R3), len(self.owned_keys) - 1)
        rows_R = keys_R3.reshape(-1).view(f"S{3 * KEY_BYTES}")  # a pair's name: its keys
        owned_R3 = (self.owned_keys[at] == keys_R3) & (self.owned_rows[at] == rows_R[:, None])
        specs = {}  # key -> spec; a pair with equal responses holds one input twice
        for row in np.flatnonzero(owned_R3.any(axis=1)):
            row_specs = _row_specs(*triples[row], prompt_in_pair=self.prompt_in_pair)
            for j in np.flatnonzero(owned_R3[row]):
                # the bytes of the array, not of its element (numpy drops trailing NULs)
                specs.setdefault(keys_R3[row, j : j + 1].tobytes(), row_specs[j])
        dim = self.embedder.embedding_dim_
        vectors = (
            self.embedder._embed(list(specs.values()), self.fingerprint)
            if specs
            else np.empty((0, dim), dtype=np.float32)
        )
        return pa.table(
            {
                "key": _fixed_binary(b"".join(specs), KEY_BYTES, len(specs)),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel()), dim
                ),
            }
        )


# -- the Parquet store --------------------------------------------------------------------


def _read_store(folder, wanted, dim):
    """The vectors of the keys in ``wanted`` (sorted S32) that the store holds."""
    import pyarrow.parquet as pq

    found_keys, found_vectors = [], []
    for path in sorted(folder.glob(f"*{STORE_SUFFIX}")):
        table = pq.read_table(path, columns=["key", "vector"])
        keys = _fixed_bytes(table["key"], KEY_BYTES)
        keep = np.isin(keys, wanted)
        if not keep.any():
            continue
        vectors = table["vector"].combine_chunks()
        if vectors.type.list_size != dim:
            raise ValueError(
                f"The embedding store {path} holds {vectors.type.list_size}-d vectors under "
                f"the settings of a {dim}-d model: it is not a store written by embed_pairs."
            )
        flat = vectors.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
        found_keys.append(keys[keep])
        found_vectors.append(flat[keep])
    if not found_keys:
        return np.empty(0, dtype=f"S{KEY_BYTES}"), np.empty((0, dim), dtype=np.float32)
    return np.concatenate(found_keys), np.concatenate(found_vectors).astype(np.float32)


def _append_to_store(folder, keys, vectors, settings):
    """One new Parquet file of (key, vector) rows, written whole or not at all."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    description = folder / "settings.json"
    if not description.exists():
        _atomic(description, lambda tmp: tmp.write_text(json.dumps(settings, indent=1)))
    table = pa.table(
        {
            "key": _fixed_binary(np.ascontiguousarray(keys).tobytes(), KEY_BYTES, len(keys)),
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel()), vectors.shape[1]
            ),
        }
    )
    _atomic(
        folder / f"part-{uuid.uuid4().hex}{STORE_SUFFIX}", lambda tmp: pq.write_table(table, tmp)
    )


def _atomic(path, write):
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# -- the driver ---------------------------------------------------------------------------


@contextlib.contextmanager
def _preserving_order(dataset):
    """Run the dataset's executions in its own row order (Ray Data may reorder blocks)."""
    options = dataset.context.execution_options
    before = options.preserve_order
    options.preserve_order = True
    try:
        yield
    finally:
        options.preserve_order = before


def _fitted(embedder):
    if not isinstance(embedder, PreferencePairEmbedder):
        raise TypeError(
            "embedder must be a skbalpm.PreferencePairEmbedder (fitted or not); got "
            f"{type(embedder).__name__}."
        )
    try:
        check_is_fitted(embedder, "embedding_dim_")
    except NotFittedError:
        return clone(embedder).fit([("", "", "")])  # fit reads no data: only the model
    return embedder


def _check_columns(dataset):
    schema = dataset.schema()
    names = [] if schema is None else list(schema.names)
    missing = [name for name in RAW_COLUMNS if name not in names]
    if missing:
        raise ValueError(
            f"The dataset of raw pairs needs the columns {list(RAW_COLUMNS)}; missing "
            f"{missing} (it has {names})."
        )


def _placement(embedder, num_gpus, concurrency, resources):
    """GPUs per actor, the number of actors, and the device the actors embed on."""
    device = embedder.device
    cluster_gpus = float(resources.get("GPU", 0))
    if num_gpus is None:
        wants_gpu = device == "auto" or str(device).startswith("cuda")
        num_gpus = 1 if wants_gpu and cluster_gpus > 0 else 0
    if num_gpus == 0 and str(device).startswith("cuda"):
        raise ValueError(
            f"The embedder's device is {device!r} but its actors get no GPU "
            f"(num_gpus={num_gpus}; the cluster has {cluster_gpus:g}): pass num_gpus=1 on "
            "a cluster with GPUs, or an embedder with device='auto' or 'cpu'."
        )
    if device == "auto":
        device = "cuda" if num_gpus > 0 else "cpu"
    if concurrency is None:
        if num_gpus > 0:
            concurrency = max(1, int(cluster_gpus // num_gpus))
        else:
            concurrency = max(1, int(resources.get("CPU", 1)))
    return num_gpus, concurrency, device


def embed_pairs(
    dataset,
    embedder,
    *,
    output=None,
    batch_size=None,
    concurrency=None,
    num_gpus=None,
):
    """Features of raw preference pairs held as a Ray Dataset, each distinct text once.

    The pairs' features, ``phi(prompt+a) | phi(prompt+b) | phi(prompt)``, are those of
    ``embedder.transform`` on the same rows, computed by a pool of Ray actors
    (``map_batches``), each of which loads the model once. Every distinct model input is
    embedded once however many pairs share it (a prompt compared in many pairs, a response
    in several), and, with ``output``, once ever: the vectors are kept in a Parquet store
    keyed by the content hash of the input (the key of the embedder's own cache) under
    the hash of the embedder's settings and model identity, and a later call embeds only
    the inputs the store lacks. The pairs' text columns are materialized in the object
    store (Ray spills to disk what does not fit), read by the driver to key them (it
    keeps 96 bytes a pair, not the texts), and by the actors.

    Row by row the values are ``embedder.transform``'s up to the rounding of the model's
    matrix products, which can depend on which inputs share a forward pass (for the
    default model on the CPU about 1e-7; the same texts batched alike give identical
    values).

    Parameters
    ----------
    dataset : ray.data.Dataset or str or path
        Raw pairs, or a Parquet path (file or folder) that ``ray.data.read_parquet``
        reads, with the string columns ``prompt``, ``response_a`` and ``response_b``
        (others are ignored).
    embedder : PreferencePairEmbedder
        Fitted or not (an unfitted one is fitted on a clone: fitting reads no data). Its
        model, templates, ``max_length``, ``normalize``, ``batch_size`` (inputs per
        forward pass), ``dtype`` and ``backend`` (a plug-in
        :class:`~skbalpm.EmbeddingBackend` class must be importable on the workers)
        apply; its ``cache_dir`` does not (the store under ``output`` plays that part).
        Its ``device`` ``"auto"`` means the GPU where the actors get one, else the CPU.
    output : str or path or None, default=None
        Folder of the Parquet store, on a file system the driver writes (each run adds
        one file of new vectors under ``<output>/<settings hash>/``, beside a
        ``settings.json`` that says which model and settings they are of). None: no
        store; everything is embedded.
    batch_size : int or None, default=None
        Pairs per call of an actor (it embeds the distinct inputs those pairs own,
        sorted by length). None: the pairs split into about four batches per actor,
        at most 1024 pairs each.
    concurrency : int or None, default=None
        Actors in the pool (each holds one copy of the model). None: one per GPU when
        the actors get GPUs, else one per CPU of the cluster.
    num_gpus : float or None, default=None
        GPUs reserved per actor. None: 1 when the cluster has GPUs and the embedder's
        device is ``"auto"`` or a CUDA device, else 0.

    Returns
    -------
    features : DataFrame of shape (n_pairs, 3 * ``embedding_dim_``), float32
        In the dataset's row order (the order Ray Data reads it in with
        ``preserve_order``: the Parquet files' and their rows', or ``from_items``'),
        with the columns of ``embedder.get_feature_names_out()`` and the index
        0 .. n_pairs-1, as ``embedder.transform`` returns them.

    Raises
    ------
    ImportError
        If Ray is not installed (``pip install "skbalpm[ray]"``).
    TypeError
        If ``embedder`` is not a :class:`~skbalpm.PreferencePairEmbedder`, or
        ``dataset`` neither a Ray Dataset nor a path.
    ValueError
        For a parameter out of range, a dataset without the raw columns, with no rows or
        with an entry that is not a string, a CUDA device for actors without GPUs, or a
        store written under other settings.
    RuntimeError
        If a worker's model or libraries differ from the driver's.

    See Also
    --------
    skbalpm.PreferencePairEmbedder.transform : The same features, in process.
    score_pool : BALD of a pool of features held as a Ray Dataset.

    References
    ----------
    P. Moritz, R. Nishihara, S. Wang, et al., "Ray: A Distributed Framework for Emerging
    AI Applications", OSDI 2018.

    S. Luan, S. Wang, E. Liang, et al., "Exoshuffle: An Extensible Shuffle Architecture",
    SIGCOMM 2023 (the data layer Ray Data is built on).

    N. Reimers, I. Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
    BERT-Networks", EMNLP 2019.

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> from skbalpm import PreferencePairEmbedder
    >>> pairs = ray.data.from_items([
    ...     {"prompt": "What is 2 + 2?", "response_a": "4.", "response_b": "5."},
    ...     {"prompt": "What is 2 + 2?", "response_a": "Four.", "response_b": "4."},
    ... ])  # doctest: +SKIP
    >>> embedder = PreferencePairEmbedder(cache_dir=None)
    >>> features = embed_pairs(pairs, embedder, output="embeddings/")  # doctest: +SKIP
    >>> features.shape  # doctest: +SKIP
    (2, 1152)

    A second call embeds only what the store lacks (here nothing):

    >>> again = embed_pairs(pairs, embedder, output="embeddings/")  # doctest: +SKIP
    >>> bool((again == features).all().all())  # doctest: +SKIP
    True
    """
    embedder = _fitted(embedder)
    _check_positive_int(batch_size, "batch_size", allow_none=True)
    _check_positive_int(concurrency, "concurrency", allow_none=True)
    if num_gpus is not None and not (
        isinstance(num_gpus, numbers.Real) and not isinstance(num_gpus, bool) and num_gpus >= 0
    ):
        raise ValueError(f"num_gpus must be None or a number >= 0; got {num_gpus!r}.")
    if output is not None and not isinstance(output, (str, os.PathLike)):
        raise TypeError(f"output must be None or a folder path; got {type(output).__name__}.")
    ray = import_ray()
    data = import_ray("ray.data")
    dataset = _as_dataset(dataset)
    _check_columns(dataset)
    if not ray.is_initialized():
        ray.init()
    num_gpus, concurrency, device = _placement(
        embedder, num_gpus, concurrency, ray.cluster_resources()
    )
    worker = copy.copy(embedder)  # the user's embedder keeps its device
    worker.device = device
    settings = worker._settings(worker._current_identity())
    namespace = namespace_key(settings)
    prompt_in_pair = "{prompt}" in worker.pair_template
    dim = worker.embedding_dim_

    # 1. the keys of every pair, in the dataset's order (texts read, not kept). The pairs
    # are materialized first: read once whatever made them, and no upstream task waits
    # for a CPU that the actors hold.
    raw = dataset.select_columns(list(RAW_COLUMNS))
    keys = []
    with _preserving_order(raw):
        raw = raw.materialize()
        for table in raw.iter_batches(batch_size=None, batch_format="pyarrow"):
            keys.append(_row_keys(table, prompt_in_pair)[1])
    keys_N3 = np.concatenate(keys) if keys else np.empty((0, 3), f"S{KEY_BYTES}")
    n = len(keys_N3)
    if n == 0:
        raise ValueError("The dataset holds no pairs: got 0 rows of raw pairs.")

    # 2. the distinct inputs, those the store holds, and an owner pair for each new one
    unique, first = np.unique(keys_N3.ravel(), return_index=True)
    folder = None if output is None else Path(output) / namespace
    if folder is not None and folder.is_dir():
        stored_keys, stored_vectors = _read_store(folder, unique, dim)
    else:
        stored_keys, stored_vectors = np.empty(0, f"S{KEY_BYTES}"), np.empty((0, dim), np.float32)
    new = ~np.isin(unique, stored_keys)
    new_keys, new_vectors = [], []
    if new.any():
        # 3. the actors embed the inputs their pairs own
        owner_rows = keys_N3.reshape(-1).view(f"S{3 * KEY_BYTES}")[first[new] // 3]
        if batch_size is None:
            batch_size = min(_MAX_AUTO_BATCH, math.ceil(n / (_BATCHES_PER_ACTOR * concurrency)))
        # an actor is handed whole blocks: enough of them for every actor to get work
        n_blocks = min(math.ceil(n / batch_size), _BATCHES_PER_ACTOR * concurrency)
        if raw.num_blocks() < n_blocks:
            raw = raw.repartition(n_blocks).materialize()
        vectors = raw.map_batches(
            _PairEmbedder,
            fn_constructor_args=(
                ray.put(worker),
                ray.put((unique[new], owner_rows)),
                namespace,
                prompt_in_pair,
            ),
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=data.ActorPoolStrategy(size=concurrency),
            num_gpus=num_gpus,
        )
        for table in vectors.iter_batches(batch_size=None, batch_format="pyarrow"):
            if table.num_rows:
                new_keys.append(_fixed_bytes(table["key"], KEY_BYTES).copy())
                flat = table["vector"].combine_chunks().flatten()
                new_vectors.append(flat.to_numpy(zero_copy_only=False).reshape(-1, dim))
    new_keys = np.concatenate(new_keys) if new_keys else np.empty(0, f"S{KEY_BYTES}")
    new_vectors = np.concatenate(new_vectors) if new_vectors else np.empty((0, dim), np.float32)
    # identical pairs each own their inputs: keep one vector of each
    new_keys, once = np.unique(new_keys, return_index=True)
    new_vectors = new_vectors[once]
    if not np.array_equal(new_keys, unique[new]):
        raise RuntimeError(
            f"embed_pairs expected {int(new.sum())} new vectors and got {len(new_keys)} "
            "(was the dataset changed while it was read?)."
        )
    if folder is not None and len(new_keys):
        _append_to_store(folder, new_keys, new_vectors, settings)

    # the features of every row, from the store and the new vectors
    all_keys = np.concatenate([stored_keys, new_keys])
    all_vectors = np.concatenate([stored_vectors, new_vectors]).astype(np.float32, copy=False)
    order = np.argsort(all_keys, kind="stable")
    at = order[np.searchsorted(all_keys[order], keys_N3)]
    features = all_vectors[at.ravel()].reshape(n, 3 * dim)
    return pd.DataFrame(features, columns=embedder.get_feature_names_out(), copy=False)
