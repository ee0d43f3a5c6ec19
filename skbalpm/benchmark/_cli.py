"""``skbalpm benchmark``: the command line of the benchmark harness."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

import numpy as np

from skbalpm.benchmark._experiment import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_INITIAL_SIZE,
    DEFAULT_N_JOBS,
    DEFAULT_N_ROUNDS,
    DEFAULT_SEEDS,
    DEFAULT_TEST_SIZE,
    ENGINES,
    _check_engine,
)
from skbalpm.benchmark._strategies import (
    DEFAULT_STRATEGIES,
    STRATEGY_CLASSES,
    cold_start_strategies,
    split_strategy_list,
)


def _synthetic_defaults():
    from skbalpm.datasets import make_synthetic_preferences

    parameters = inspect.signature(make_synthetic_preferences).parameters
    return {name: parameters[name].default for name in ("n_samples", "n_features", "n_topics")}


SYNTHETIC_DEFAULTS = _synthetic_defaults()
"""The synthetic task's shape in the command line: the function's own defaults."""

DATA_FORMATS = (
    "auto",
    "hh-rlhf",
    "summarize",
    "pandalm",
    "llmbar",
    "jsonl",
    "csv",
    "parquet",
)
COLUMN_KEYS = ("prompt", "response_a", "response_b", "label", "group", "chosen", "rejected")
"""The columns ``--columns`` can name (the generic loader's ``<key>_column`` parameters)."""


def _assignments(text: str, keys, option: str) -> dict:
    """``"k1=v1,k2=v2"`` -> ``{k1: v1, k2: v2}``, keys from ``keys``, each at most once."""
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise argparse.ArgumentTypeError(
                f"expected KEY=VALUE pairs separated by commas, got {item!r} in {text!r}."
            )
        if key not in keys:
            raise argparse.ArgumentTypeError(
                f"unknown key {key!r}; {option} takes {', '.join(keys)}."
            )
        if key in out:
            raise argparse.ArgumentTypeError(f"{key!r} given twice in {text!r}.")
        out[key] = value.strip()
    return out


def parse_n_members(text: str):
    """Parse ``--n-members``: a positive integer or ``"auto"``.

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    n_members : int or "auto"

    Raises
    ------
    argparse.ArgumentTypeError
        On anything else.

    Examples
    --------
    >>> parse_n_members("auto"), parse_n_members("20")
    ('auto', 20)
    """
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}.")
    return value


def parse_columns(text: str) -> dict:
    """Parse ``--columns``: which columns of a generic table hold what.

    Parameters
    ----------
    text : str
        ``KEY=COLUMN`` pairs separated by commas, keys from :data:`COLUMN_KEYS`; spaces
        around names are dropped, inside them kept.

    Returns
    -------
    columns : dict
        Key -> column name.

    Raises
    ------
    argparse.ArgumentTypeError
        On a malformed item, an unknown or repeated key.

    Examples
    --------
    >>> parse_columns("response_a=response 1, response_b=response 2")
    {'response_a': 'response 1', 'response_b': 'response 2'}
    """
    return _assignments(text, COLUMN_KEYS, "--columns")


def parse_label_map(text: str) -> dict:
    """Parse ``--label-map``: which label values mean a preferred, b preferred, a tie.

    Parameters
    ----------
    text : str
        ``a=VALUES,b=VALUES[,tie=VALUES]``, several values of one meaning joined by ``|``.

    Returns
    -------
    label_map : dict
        ``{"a": [...], "b": [...], "tie": [...]}`` of strings; numbers match by value
        (``"1"`` matches 1 and 1.0 in the file).

    Raises
    ------
    argparse.ArgumentTypeError
        On a malformed item, an unknown or repeated key, a missing ``a`` or ``b``, or one
        value given two meanings.

    Examples
    --------
    >>> parse_label_map("a=0,b=1,tie=2|tie")
    {'a': ['0'], 'b': ['1'], 'tie': ['2', 'tie']}
    """
    from skbalpm.datasets._labels import LABEL_MEANINGS, check_label_map

    pairs = _assignments(text, LABEL_MEANINGS, "--label-map")
    label_map = {key: [v.strip() for v in value.split("|")] for key, value in pairs.items()}
    try:
        check_label_map(label_map)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return label_map


def add_benchmark_arguments(parser):
    """Add the ``benchmark`` options to an argparse parser."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        nargs="+",
        default=["synthetic"],
        metavar="PATH",
        help="'synthetic' (the built-in default task, features directly, no embedding), "
        "'sample' or 'sample:NAME' (the real pairs bundled with the package: sample:hh-rlhf, "
        "the default, or sample:tldr), or one or more preference files, pooled "
        "(default: synthetic).",
    )
    data.add_argument(
        "--format",
        default="auto",
        choices=DATA_FORMATS,
        help="format of the files: hh-rlhf (chosen/rejected conversations), summarize "
        "(summarize-from-feedback comparisons: TL;DR, CNN/DM), pandalm, llmbar, or a "
        "generic table jsonl/csv/parquet (columns prompt, response_a, response_b, label "
        "or prompt, chosen, rejected). 'auto' looks at the first record (default: auto).",
    )
    data.add_argument(
        "--columns",
        type=parse_columns,
        default=None,
        metavar="KEY=COLUMN,...",
        help="column names of generic tables (jsonl/csv/parquet, --dataset and "
        f"--test-dataset alike), keys {', '.join(COLUMN_KEYS)}; e.g. --columns "
        "'response_a=response 1,response_b=response 2,group=post_id' (default: prompt, "
        "response_a, response_b, label, or prompt, chosen, rejected; rows grouped by "
        "prompt). Names cannot hold ',' or '='.",
    )
    data.add_argument(
        "--label-map",
        type=parse_label_map,
        default=None,
        metavar="a=V,b=V[,tie=V]",
        help="which values of a generic table's label column mean response_a preferred, "
        "response_b preferred and a tie (several values joined by '|'); ties are skipped "
        "and counted. E.g. --label-map 'a=0,b=1,tie=2' for a judge file whose 2 is a tie "
        "(default: a=0,b=1,tie=0.5|tie).",
    )
    data.add_argument(
        "--test-dataset",
        nargs="+",
        default=None,
        metavar="PATH",
        help="preference files (pooled) to score every round on instead of a held-out "
        "split, e.g. another distribution; all of --dataset is then the pool "
        "(default: a --test-fraction split of --dataset).",
    )
    data.add_argument(
        "--test-format",
        default="auto",
        choices=DATA_FORMATS,
        help="format of the --test-dataset files, as --format (default: auto).",
    )
    data.add_argument(
        "--name",
        default=None,
        help="data set name in the results (default: 'synthetic' or the first file's name, "
        "with '_test-' and the first test file's name after it when --test-dataset is set).",
    )
    data.add_argument(
        "--synthetic-samples",
        type=int,
        default=SYNTHETIC_DEFAULTS["n_samples"],
        help=f"pairs of the synthetic task (default: {SYNTHETIC_DEFAULTS['n_samples']}).",
    )
    data.add_argument(
        "--synthetic-features",
        type=int,
        default=SYNTHETIC_DEFAULTS["n_features"],
        help="feature block width of the synthetic task (default: "
        f"{SYNTHETIC_DEFAULTS['n_features']}).",
    )
    data.add_argument(
        "--synthetic-topics",
        type=int,
        default=SYNTHETIC_DEFAULTS["n_topics"],
        help=f"topics of the synthetic task (default: {SYNTHETIC_DEFAULTS['n_topics']}).",
    )
    data.add_argument(
        "--synthetic-test-pairs",
        type=int,
        default=2000,
        help="the synthetic task scores every round on this many new pairs whose topics are "
        "equally likely (a reward model judged on every kind of prompt, the rare ones "
        "too); 0 scores on a --test-fraction split of the pool instead (default: 2000).",
    )

    model = parser.add_argument_group("models")
    model.add_argument(
        "--embedder-model",
        default="default",
        help="embedding model for text data: 'default' (all-MiniLM-L6-v2, offline), a "
        "sentence-transformers path or a Hugging Face causal LM path (default: default).",
    )
    model.add_argument(
        "--cache-dir",
        default="auto",
        help="embedding cache directory (default: the embedder's 'auto').",
    )
    model.add_argument(
        "--device",
        default="auto",
        help="torch device of the embedder and the classifier: auto, cpu, "
        "cuda, cuda:0 ... (default: auto).",
    )
    model.add_argument(
        "--method",
        default="laplace",
        choices=("laplace", "deep-ensemble"),
        help="how the classifier learns: 'laplace' (Bayesian Bradley-Terry reward with an "
        "evidence-tuned prior; members are posterior draws) or 'deep-ensemble' (MLP "
        "adapters trained with AdamW, as in the BAL-PM paper) (default: laplace).",
    )
    model.add_argument(
        "--n-members",
        type=parse_n_members,
        default="auto",
        help="ensemble members: posterior draws or adapters; 'auto' is 50 draws for "
        "laplace, 5 adapters for deep-ensemble (default: auto).",
    )
    model.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="training epochs cap of each deep-ensemble fit (default: the classifier's).",
    )

    loop = parser.add_argument_group("protocol")
    loop.add_argument(
        "--strategies",
        default=",".join(DEFAULT_STRATEGIES),
        help="comma-separated query strategies, from: "
        f"{', '.join(STRATEGY_CLASSES)}; each may take constructor arguments, e.g. "
        "'balpm(beta=0.001)' or 'balpm(scaling=rank)' "
        f"(default: {','.join(DEFAULT_STRATEGIES)}).",
    )
    loop.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"number of seeds 0..N-1 (default: {DEFAULT_SEEDS}; at least 5 for intervals "
        "worth reading).",
    )
    loop.add_argument(
        "--initial-size",
        type=int,
        default=DEFAULT_INITIAL_SIZE,
        help=f"initial labelled pairs (default: {DEFAULT_INITIAL_SIZE}).",
    )
    loop.add_argument(
        "--initial-strategy",
        default=None,
        metavar="SPEC",
        help="what picks each seed's initial labelled set, before any classifier is "
        "fitted (the same set for every strategy): random, or a strategy that reads no "
        f"classifier, from: {', '.join(cold_start_strategies())}; e.g. 'typiclust' or "
        "'probcover(n_clusters=20)' on the prompt features (default: random).",
    )
    loop.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"pairs acquired per round (default: {DEFAULT_BATCH_SIZE}).",
    )
    loop.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_N_ROUNDS,
        help=f"acquisition rounds (default: {DEFAULT_N_ROUNDS}).",
    )
    loop.add_argument(
        "--n-jobs",
        type=int,
        default=DEFAULT_N_JOBS,
        help="processes running (strategy, seed) runs side by side; -1: one per CPU core "
        f"(default: {DEFAULT_N_JOBS}). Results do not depend on it.",
    )
    loop.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where the (strategy, seed) runs go: 'local' (this process or --n-jobs "
        "processes) or 'ray' (one Ray task each, same checkpoints and rows; needs "
        'pip install "skbalpm[ray]"). Results do not depend on it (default: local).',
    )
    loop.add_argument(
        "--address",
        default=None,
        help="with --engine ray: the Ray cluster to join ('auto', 'host:6379', "
        "'ray://host:10001'); default: start a local one. Machines share --output-dir.",
    )
    loop.add_argument(
        "--test-fraction",
        type=float,
        default=DEFAULT_TEST_SIZE,
        help=f"fraction held out for testing, groups kept whole (default: {DEFAULT_TEST_SIZE}).",
    )
    loop.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the full-pool fit per seed (the ceiling of the curves).",
    )

    out = parser.add_argument_group("output")
    out.add_argument(
        "--output-dir",
        default=None,
        help="results, checkpoint and plots (default: ./skbalpm-benchmark/<name>).",
    )
    out.add_argument(
        "--no-resume",
        action="store_true",
        help="start afresh even if the output directory holds a checkpoint "
        "(default: resume an interrupted run with the same configuration, or add the "
        "strategies it does not hold yet beside its runs).",
    )
    out.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: print the table and redraw the plots of the results in "
        "--output-dir (of an unfinished run: the seeds every strategy finished).",
    )
    out.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (the model-loading ones included) and only errors from "
        "transformers and sentence-transformers.",
    )
    return parser


def _first_record(records, path: Path):
    """The first record of a loader's ``(position, record)`` iterator."""
    for _, record in records:
        return record
    raise ValueError(f"{path}: holds no records.")


def _detect_format(path: Path) -> str:
    """Guess the file format from its first record."""
    from skbalpm.datasets._common import iter_json_list, iter_jsonl

    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in (".csv", ".parquet"):
        return suffixes[-1][1:]
    if suffixes and suffixes[-1] == ".json":
        first = _first_record(iter_json_list(path), path)
        if isinstance(first, dict) and "annotator1" in first:
            return "pandalm"
        if isinstance(first, dict) and "output_1" in first:
            return "llmbar"
        if isinstance(first, dict) and "prompt" in first:
            return "jsonl"  # a list of generic records (the loader checks the columns)
        raise ValueError(f"Cannot tell the format of {path}; pass --format.")
    first = _first_record(iter_jsonl(path), path)
    if isinstance(first, dict) and {"info", "summaries"} <= set(first):
        return "summarize"
    if isinstance(first, dict) and {"chosen", "rejected"} <= set(first) and "prompt" not in first:
        return "hh-rlhf"
    return "jsonl"


def load_benchmark_data(paths, file_format="auto", *, columns=None, label_map=None, **synthetic):
    """Load the data set of a benchmark: 'synthetic' or preference files of one format.

    Parameters
    ----------
    paths : list of str
        ``["synthetic"]``, ``["sample"]`` or ``["sample:NAME"]`` (a real sample bundled
        with the package, see :func:`skbalpm.datasets.load_sample_preferences`), or file
        paths (pooled).
    file_format : str, default="auto"
        One of :data:`DATA_FORMATS`.
    columns : dict or None, default=None
        Column names of generic tables (keys from :data:`COLUMN_KEYS`); with "auto", the
        files are then read as generic tables, by extension.
    label_map : dict or None, default=None
        Label values of generic tables (see
        :func:`~skbalpm.datasets.load_preference_file`).
    **synthetic
        ``n_samples``, ``n_features``, ``n_topics``, ``n_test_samples`` of the synthetic
        task.

    Returns
    -------
    data : Bunch
        The loader's Bunch.

    Examples
    --------
    >>> load_benchmark_data(["synthetic"], n_samples=50, n_features=4).X.shape
    (50, 12)
    """
    from skbalpm import datasets

    if list(paths) == ["synthetic"]:
        return datasets.make_synthetic_preferences(random_state=0, **synthetic)
    sample = _sample_name(paths)
    if sample is not None:
        return datasets.load_sample_preferences(sample)
    paths = [Path(p) for p in paths]
    generic_options = {f"{key}_column": name for key, name in (columns or {}).items()}
    if label_map is not None:
        generic_options["label_map"] = label_map
    if generic_options and file_format == "auto":
        return datasets.load_preference_file(paths, **generic_options)
    if file_format == "auto":
        found = {_detect_format(p) for p in paths}
        if len(found) > 1:
            raise ValueError(f"The files have different formats {sorted(found)}; pass --format.")
        file_format = found.pop()
    loaders = {
        "hh-rlhf": datasets.load_hh_rlhf,
        "summarize": datasets.load_summarize_from_feedback,
        "pandalm": datasets.load_pandalm,
        "llmbar": datasets.load_llmbar,
    }
    if file_format in loaders:
        if generic_options:
            raise ValueError(
                f"--columns and --label-map apply to generic tables (--format jsonl, csv, "
                f"parquet or auto), not to --format {file_format}."
            )
        return loaders[file_format](paths)
    return datasets.load_preference_file(paths, format=file_format, **generic_options)


def _load_command_data(args, synthetic):
    """The pool and the optional fixed test set of ``skbalpm benchmark``."""
    table_options = {"columns": args.columns, "label_map": args.label_map}
    if synthetic:
        if args.synthetic_test_pairs < 0:
            raise ValueError(
                f"--synthetic-test-pairs must be >= 0, got {args.synthetic_test_pairs}."
            )
        data = load_benchmark_data(
            args.dataset,
            args.format,
            n_samples=args.synthetic_samples,
            n_features=args.synthetic_features,
            n_topics=args.synthetic_topics,
            n_test_samples=args.synthetic_test_pairs,
        )
        return data, _synthetic_test_set(data)
    data = load_benchmark_data(args.dataset, args.format, **table_options)
    test = None
    if args.test_dataset:
        test = load_benchmark_data(args.test_dataset, args.test_format, **table_options)
    return data, test


def _synthetic_test_set(data):
    """The synthetic task's own test pairs as a loaded data set, or None without them."""
    if "X_test" not in data:
        return None
    from sklearn.utils import Bunch

    return Bunch(
        X=data.X_test,
        y=data.y_test,
        groups=data.groups_test,
        n_skipped=0,
        skipped={},
        source=["make_synthetic_preferences: test pairs, topics uniform"],
    )


def _sample_name(paths):
    """The bundled sample that ``paths`` names ('sample' or 'sample:NAME'), else None."""
    specs = [str(p) for p in paths if str(p) == "sample" or str(p).startswith("sample:")]
    if not specs:
        return None
    if len(paths) > 1:
        raise ValueError(f"{specs[0]!r} names the bundled sample: it cannot be pooled.")
    from skbalpm.datasets._sample import DEFAULT_SAMPLE

    return specs[0].partition(":")[2] or DEFAULT_SAMPLE


def run_benchmark_command(args):
    """Run ``skbalpm benchmark`` with parsed arguments; return the exit status.

    A data set that cannot be read (a missing or malformed file, no usable pair) is
    reported as one line naming the file and record, exit status 2, before anything is
    written.
    """
    if args.report_only:
        return report_saved_results(args)
    try:  # before any data is read: --address without --engine ray, Ray missing
        _check_engine(args.engine, args.address)
    except (ValueError, ImportError) as exc:
        print(f"skbalpm benchmark: error: {exc}", file=sys.stderr)
        return 2
    synthetic = args.dataset == ["synthetic"]
    if args.test_dataset and synthetic:
        print(
            "--test-dataset needs preference files in --dataset: the synthetic task "
            "comes as features and has its own held-out split (--test-fraction)."
        )
        return 2
    try:
        data, test = _load_command_data(args, synthetic)
    except (ValueError, OSError) as exc:  # MalformedRecordError is a ValueError
        print(f"skbalpm benchmark: error: {exc}", file=sys.stderr)
        return 2
    from skbalpm._embedding_backends import quiet_model_loading

    with quiet_model_loading(enabled=args.quiet and not synthetic, logs=True):
        return _run_on_data(args, data, test, synthetic)


def _run_on_data(args, data, test, synthetic):
    """The benchmark proper, on loaded data; returns the exit status."""
    from skbalpm.benchmark._experiment import run_benchmark

    name = args.name or _default_name(args.dataset, args.test_dataset)
    output_dir = Path(args.output_dir or Path("skbalpm-benchmark") / name)
    print(
        f"data set {name}: {len(data.y)} pairs ({data.n_skipped} records skipped: "
        f"{data.skipped or 'none'}); output in {output_dir}"
    )
    if test is not None and synthetic:
        print(f"test set: {len(test.y)} new pairs of the task, every topic equally likely")
    elif test is not None:
        print(
            f"test set: {len(test.y)} pairs from {', '.join(args.test_dataset)} "
            f"({test.n_skipped} records skipped: {test.skipped or 'none'})"
        )

    from skbalpm.ensemble import PreferenceEnsembleClassifier

    params = {"method": args.method, "n_members": args.n_members, "device": args.device}
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    classifier = PreferenceEnsembleClassifier(**params)
    embedder = None
    if not synthetic:
        from skbalpm.embedding import PreferencePairEmbedder

        embedder = PreferencePairEmbedder(
            args.embedder_model,
            device=args.device,
            cache_dir=args.cache_dir,
            verbose=0 if args.quiet else 1,
        )
    extra = {"source": data.source}
    if test is not None:
        extra["test_source"] = test.source
    if synthetic:  # the best any model can do on the pairs it is scored on
        on_test = "_test" if test is not None else ""
        extra["bayes_accuracy"] = data[f"bayes_accuracy{on_test}"]
        extra["bayes_log_likelihood"] = data[f"bayes_log_likelihood{on_test}"]
    out = run_benchmark(
        data.X,
        data.y,
        strategies=split_strategy_list(args.strategies),
        classifier=classifier,
        embedder=embedder,
        seeds=args.seeds,
        initial_size=args.initial_size,
        initial_strategy=args.initial_strategy,
        batch_size=args.batch_size,
        n_rounds=args.rounds,
        test_size=args.test_fraction,
        groups=data.groups,
        X_test=None if test is None else test.X,
        y_test=None if test is None else test.y,
        dataset_name=name,
        output_dir=output_dir,
        resume=not args.no_resume,
        compute_ceiling=not args.no_ceiling,
        extra_config=extra,
        n_jobs=args.n_jobs,
        engine=args.engine,
        address=args.address,
        verbose=0 if args.quiet else 1,
    )
    arguments = {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}
    return report_results(output_dir, out.results, out.ceiling, name, arguments=arguments)


def _default_name(dataset_paths, test_paths):
    """'synthetic', the first file's name, or '<pool>_test-<test>' with a test set."""
    if list(dataset_paths) == ["synthetic"]:
        return "synthetic"

    def stem(path):
        sample = _sample_name([path])
        return f"sample-{sample}" if sample else Path(path).name.split(".")[0]

    name = stem(dataset_paths[0])
    return f"{name}_test-{stem(test_paths[0])}" if test_paths else name


def report_saved_results(args):
    """``--report-only``: the table and plots of the results saved in the output folder."""
    import pandas as pd

    if args.output_dir is None:
        print("--report-only needs --output-dir: the folder of a (possibly unfinished) run.")
        return 2
    output_dir = Path(args.output_dir)
    if not (output_dir / "results.json").exists():
        print(f"{output_dir} holds no results.json.")
        return 2
    payload = json.loads((output_dir / "results.json").read_text(encoding="utf-8"))
    results = pd.DataFrame(payload["rows"])
    name = payload.get("config", {}).get("dataset") or output_dir.name
    return report_results(output_dir, results, pd.DataFrame(payload.get("ceiling", [])), name)


def _complete_seeds(results):
    """The rows of the seeds that every strategy ran to the last round (paired figures)."""
    last = results["round"].max()
    finished = results[results["round"] == last].groupby("seed")["strategy"].nunique()
    seeds = finished[finished == results["strategy"].nunique()].index
    return results[results["seed"].isin(seeds)]


def report_results(output_dir, results, ceiling, name, arguments=None):
    """Print the summary table and write ``summary.csv``, the summary in ``results.json``
    and the learning-curve plots; return the exit status.

    Only seeds that every strategy finished count (an interrupted run reports the seeds
    it completed), so every figure stays paired by seed. ``arguments`` (the command
    line's options, e.g. the synthetic task's size or the embedding model) are recorded in
    ``results.json`` so that a run can be reproduced from its results.
    """
    from skbalpm.benchmark._checkpoint import atomic_write
    from skbalpm.benchmark._metrics import (
        LABELS_SAVED_UNDEFINED,
        format_summary,
        labels_saved_note,
        summarize_results,
    )
    from skbalpm.benchmark._plots import plot_learning_curves

    output_dir = Path(output_dir)
    payload = json.loads((output_dir / "results.json").read_text(encoding="utf-8"))
    results = _complete_seeds(results)
    if results.empty:
        print(f"{output_dir}: no seed has been run to the end by every strategy yet.")
        return 1
    seeds = sorted(results["seed"].unique().tolist())
    if len(ceiling):
        ceiling = ceiling[ceiling["seed"].isin(seeds)]
    summary = summarize_results(results)
    references = {"test_log_likelihood": {}, "test_accuracy": {}}
    print(f"\n{name}: seeds {seeds} finished by every strategy")
    config = payload.get("config", {})
    if config.get("test_set"):
        print(
            f"scored on a fixed test set: {config['test_set']['n_samples']} pairs from "
            f"{', '.join(config.get('test_source') or ['the given X_test'])}"
        )
    if len(ceiling):
        ll, acc = ceiling["test_log_likelihood"].mean(), ceiling["test_accuracy"].mean()
        n_full = int(ceiling["n_labels"].mean())
        print(
            f"ceiling (all {n_full} training pairs, mean over seeds): "
            f"test log-likelihood {ll:.4f}, accuracy {acc:.3f}"
        )
        references["test_log_likelihood"][f"all {n_full} labels"] = ll
        references["test_accuracy"][f"all {n_full} labels"] = acc
    if "bayes_log_likelihood" in config:
        print(
            f"Bayes (true reward): log-likelihood {config['bayes_log_likelihood']:.4f}, "
            f"accuracy {config['bayes_accuracy']:.3f}"
        )
        references["test_log_likelihood"]["Bayes"] = config["bayes_log_likelihood"]
        references["test_accuracy"]["Bayes"] = config["bayes_accuracy"]
    print()
    print(format_summary(summary))
    atomic_write(output_dir / "summary.csv", summary.to_csv(index=False))
    payload["summary"] = json.loads(
        summary.replace([np.inf, -np.inf], None).to_json(orient="records")
    )
    payload["summary_seeds"] = seeds
    if arguments is not None:
        payload["arguments"] = arguments
    atomic_write(output_dir / "results.json", json.dumps(payload, indent=1))
    undefined = labels_saved_note(summary) is not None
    paths = plot_learning_curves(
        results,
        output_dir,
        reference_lines=references,
        title=name,
        notes={"test_log_likelihood": LABELS_SAVED_UNDEFINED} if undefined else None,
    )
    print(
        f"\nresults: {output_dir / 'results.csv'} and results.json; summary: "
        f"{output_dir / 'summary.csv'}"
    )
    print("plots: " + ", ".join(str(p) for p in paths))
    return 0
