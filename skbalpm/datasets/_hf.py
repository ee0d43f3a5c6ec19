"""Preference data sets from the Hugging Face hub (optional extra ``hf``)."""

from __future__ import annotations

from skbalpm.datasets._generic import preferences_from_records
from skbalpm.datasets._hh_rlhf import hh_from_records
from skbalpm.datasets._labels import check_label_map
from skbalpm.datasets._summarize import summarize_from_records

HF_LAYOUTS = ("auto", "hh-rlhf", "summarize", "table")


def _import_datasets():
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            "load_hf_dataset needs the optional Hugging Face `datasets` package: "
            "pip install 'skbalpm[hf]'. Offline, download the files once and use "
            "load_hh_rlhf / load_summarize_from_feedback / load_preference_file instead."
        ) from exc
    return datasets


def load_hf_dataset(
    name,
    split="test",
    *,
    layout="auto",
    columns=None,
    label_map=None,
    random_state=0,
    **load_kwargs,
):
    """Load a preference data set by its Hugging Face hub name (needs the ``hf`` extra).

    The rows are read with ``datasets.load_dataset`` (online, or from its local cache)
    and parsed by the loader of their layout: HH-RLHF (``chosen``/``rejected``
    conversations, e.g. ``"Anthropic/hh-rlhf"``), summarize-from-feedback comparisons
    (``info``, ``summaries``, ``choice``) or a plain table (see
    :func:`load_preference_file`).

    Parameters
    ----------
    name : str
        Hub name or local data set directory, passed to ``datasets.load_dataset``.
    split : str, default="test"
        The split to load.
    layout : {"auto", "hh-rlhf", "summarize", "table"}, default="auto"
        "auto" picks by the columns: ``info``+``summaries`` -> summarize; ``chosen``+
        ``rejected`` without ``prompt`` -> hh-rlhf; otherwise table.
    columns : dict or None, default=None
        Column names of the table layout (keys of :func:`load_preference_file`'s
        ``*_column`` parameters without the suffix, e.g. ``{"prompt": "question"}``).
    label_map : dict or None, default=None
        Label values of the table layout, as in :func:`load_preference_file`
        (e.g. ``{"a": 0, "b": 1, "tie": 2}``).
    random_state : int, RandomState instance or None, default=0
        Seed of the a/b assignment of chosen/rejected layouts.
    **load_kwargs
        Passed to ``datasets.load_dataset`` (e.g. ``data_dir="harmless-base"``).

    Returns
    -------
    data : Bunch
        As the file loader of the layout.

    Raises
    ------
    ImportError
        If the ``datasets`` package is not installed (install ``skbalpm[hf]``).

    Examples
    --------
    On the hub: ``load_hf_dataset("Anthropic/hh-rlhf", data_dir="harmless-base")`` (needs a
    network connection, or the data set in the ``datasets`` cache). Offline, the
    ``datasets`` package reads local files too; here a JSON Lines file in the
    chosen/rejected layout (where the ``hf`` extra is not installed, the load is skipped):

    >>> import importlib.util, json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> record = {"prompt": "Hi?", "chosen": "Hello!", "rejected": "Go away."}
    >>> _ = (folder / "pairs.jsonl").write_text(json.dumps(record) + "\\n")
    >>> if importlib.util.find_spec("datasets") is None:  # no hf extra
    ...     data = None
    ... else:
    ...     data = load_hf_dataset("json", split="train", cache_dir=str(folder),
    ...                            data_files=str(folder / "pairs.jsonl"))
    >>> data is None or (data.X.shape, data.y.tolist(), data.source) == (
    ...     (1, 3), [0], ["json[train]"])
    True
    """
    if layout not in HF_LAYOUTS:
        raise ValueError(f"layout must be one of {HF_LAYOUTS}, got {layout!r}.")
    check_label_map(label_map)
    datasets = _import_datasets()
    rows = datasets.load_dataset(name, split=split, **load_kwargs)
    names = set(rows.column_names)
    if layout == "auto":
        if {"info", "summaries"} <= names:
            layout = "summarize"
        elif {"chosen", "rejected"} <= names and "prompt" not in names:
            layout = "hh-rlhf"
        else:
            layout = "table"
    source = f"{name}[{split}]"
    records = ((f"{source} row {i}", row) for i, row in enumerate(rows))
    if layout == "hh-rlhf":
        return hh_from_records(((0, p, r) for p, r in records), random_state, sources=[source])
    if layout == "summarize":
        return summarize_from_records(records, sources=[source])
    table_columns = dict(
        prompt="prompt",
        response_a="response_a",
        response_b="response_b",
        label="label",
        chosen="chosen",
        rejected="rejected",
        group=None,
    )
    table_columns.update(columns or {})
    return preferences_from_records(
        records,
        sources=[source],
        columns=table_columns,
        random_state=random_state,
        label_map=label_map,
    )
