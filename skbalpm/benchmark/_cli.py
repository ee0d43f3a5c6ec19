"""``skbalpm benchmark``: the command line of the benchmark harness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skbalpm.benchmark._experiment import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_INITIAL_SIZE,
    DEFAULT_N_JOBS,
    DEFAULT_N_ROUNDS,
    DEFAULT_SEEDS,
    DEFAULT_TEST_SIZE,
)
from skbalpm.benchmark._strategies import (
    DEFAULT_STRATEGIES,
    STRATEGY_CLASSES,
    split_strategy_list,
)

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


def add_benchmark_arguments(parser):
    """Add the ``benchmark`` options to an argparse parser."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        nargs="+",
        default=["synthetic"],
        metavar="PATH",
        help="'synthetic' (the built-in default task, features directly, no embedding) or "
        "one or more preference files, pooled (default: synthetic).",
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
        default=2000,
        help="pairs of the synthetic task (default: 2000).",
    )
    data.add_argument(
        "--synthetic-features",
        type=int,
        default=16,
        help="feature block width of the synthetic task (default: 16).",
    )
    data.add_argument(
        "--synthetic-topics",
        type=int,
        default=150,
        help="topics of the synthetic task (default: 150).",
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
    model.add_argument("--n-members", type=int, default=5, help="ensemble members (default: 5).")
    model.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="training epochs cap of each fit (default: the classifier's).",
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
        "(default: resume an interrupted run with the same configuration).",
    )
    out.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: print the table and redraw the plots of the results in "
        "--output-dir (of an unfinished run: the seeds every strategy finished).",
    )
    out.add_argument("--quiet", action="store_true", help="no progress bars.")
    return parser


def _detect_format(path: Path) -> str:
    """Guess the file format from its first record."""
    from skbalpm.datasets._common import iter_json_list, iter_jsonl

    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in (".csv", ".parquet"):
        return suffixes[-1][1:]
    if suffixes and suffixes[-1] == ".json":
        _, first = next(iter_json_list(path))
        if isinstance(first, dict) and "annotator1" in first:
            return "pandalm"
        if isinstance(first, dict) and "output_1" in first:
            return "llmbar"
        if isinstance(first, dict) and "prompt" in first:
            return "jsonl"  # a list of generic records (the loader checks the columns)
        raise ValueError(f"Cannot tell the format of {path}; pass --format.")
    _, first = next(iter_jsonl(path))
    if isinstance(first, dict) and {"info", "summaries"} <= set(first):
        return "summarize"
    if isinstance(first, dict) and {"chosen", "rejected"} <= set(first) and "prompt" not in first:
        return "hh-rlhf"
    return "jsonl"


def load_benchmark_data(paths, file_format="auto", **synthetic):
    """Load the data set of a benchmark: 'synthetic' or preference files of one format.

    Parameters
    ----------
    paths : list of str
        ``["synthetic"]`` or file paths (pooled).
    file_format : str, default="auto"
        One of :data:`DATA_FORMATS`.
    **synthetic
        ``n_samples``, ``n_features``, ``n_topics`` of the synthetic task.

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
    paths = [Path(p) for p in paths]
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
        return loaders[file_format](paths)
    return datasets.load_preference_file(paths, format=file_format)


def run_benchmark_command(args):
    """Run ``skbalpm benchmark`` with parsed arguments; return the exit status."""
    from skbalpm.benchmark._experiment import run_benchmark

    if args.report_only:
        return report_saved_results(args)
    synthetic = args.dataset == ["synthetic"]
    data = load_benchmark_data(
        args.dataset,
        args.format,
        **(
            dict(
                n_samples=args.synthetic_samples,
                n_features=args.synthetic_features,
                n_topics=args.synthetic_topics,
            )
            if synthetic
            else {}
        ),
    )
    test = None
    if args.test_dataset:
        if synthetic:
            print(
                "--test-dataset needs preference files in --dataset: the synthetic task "
                "comes as features and has its own held-out split (--test-fraction)."
            )
            return 2
        test = load_benchmark_data(args.test_dataset, args.test_format)
    name = args.name or _default_name(args.dataset, args.test_dataset)
    output_dir = Path(args.output_dir or Path("skbalpm-benchmark") / name)
    print(
        f"data set {name}: {len(data.y)} pairs ({data.n_skipped} records skipped: "
        f"{data.skipped or 'none'}); output in {output_dir}"
    )
    if test is not None:
        print(
            f"test set: {len(test.y)} pairs from {', '.join(args.test_dataset)} "
            f"({test.n_skipped} records skipped: {test.skipped or 'none'})"
        )

    from skbalpm.ensemble import PreferenceEnsembleClassifier

    params = {"n_members": args.n_members, "device": args.device}
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
    if synthetic:
        extra["bayes_accuracy"] = data.bayes_accuracy
        extra["bayes_log_likelihood"] = data.bayes_log_likelihood
    out = run_benchmark(
        data.X,
        data.y,
        strategies=split_strategy_list(args.strategies),
        classifier=classifier,
        embedder=embedder,
        seeds=args.seeds,
        initial_size=args.initial_size,
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
        verbose=0 if args.quiet else 1,
    )
    arguments = {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}
    return report_results(output_dir, out.results, out.ceiling, name, arguments=arguments)


def _default_name(dataset_paths, test_paths):
    """'synthetic', the first file's name, or '<pool>_test-<test>' with a test set."""
    if list(dataset_paths) == ["synthetic"]:
        return "synthetic"

    def stem(path):
        return Path(path).name.split(".")[0]

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
