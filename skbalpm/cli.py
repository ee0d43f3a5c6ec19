"""The ``skbalpm`` command line (``python -m skbalpm`` does the same)."""

from __future__ import annotations

import argparse

from skbalpm._cache_cli import add_cache_arguments, run_cache_command
from skbalpm.benchmark._cli import add_benchmark_arguments, run_benchmark_command
from skbalpm.labeling import _cli_model, _cli_select, _cli_tools

_LABELING_COMMANDS = {
    "select": (
        "pick the next batch of pairs for the labelers (active learning on your pool)",
        "Pick the next batch of pairs to label from a pool: embed the pairs (cached), fit "
        "the reward ensemble on the labels so far, score the pool with a query strategy "
        "(BAL-PM by default; a spread over prompts before any label) and write the batch, "
        "never a pair already judged or still out with the labelers (a state file beside "
        "the batch records what went out). Prints the pool, the labels, the pending pairs, "
        "the batch's spread over prompts and what the labels so far teach under "
        "cross-validation grouped by prompt.",
        _cli_select.add_select_arguments,
        _cli_select.run_select_command,
    ),
    "export": (
        "a batch as Label Studio tasks or Argilla records",
        "Write a batch of skbalpm select as Label Studio tasks for a pairwise comparison "
        "(with the labeling interface beside them) or as Argilla records (with the "
        "dataset settings beside them).",
        _cli_tools.add_export_arguments,
        _cli_tools.run_export_command,
    ),
    "import": (
        "answers from Label Studio, Argilla or by hand into the labeled file",
        "Add the answers of a labeling tool's export (Label Studio JSON, Argilla records), "
        "of a batch labeled by hand, or the pool's own labels (--from pool) to the labeled "
        "file. Labels, ties and skips are counted apart; pairs with no answer stay "
        "pending; an answer imported before is not added twice.",
        _cli_tools.add_import_arguments,
        _cli_tools.run_import_command,
    ),
    "fit": (
        "train the final reward ensemble on every label and save it",
        "Fit the reward ensemble on every label of the labeled file (ties and skips left "
        "out) and save it with joblib, with the identity of the embedder whose features "
        "it reads.",
        _cli_model.add_fit_arguments,
        _cli_model.run_fit_command,
    ),
    "score": (
        "score pairs with a saved reward model",
        "Write P(response_a preferred) and each response's reward for the pairs of a file, "
        "with a model saved by skbalpm fit; refuses an embedder that does not give the "
        "features the model was fitted on. With labelled pairs, prints the log-likelihood "
        "and accuracy.",
        _cli_model.add_score_arguments,
        _cli_model.run_score_command,
    ),
}


def build_parser():
    """The argument parser of ``skbalpm``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> build_parser().parse_args(["benchmark"]).dataset
    ['synthetic']
    """
    parser = argparse.ArgumentParser(
        prog="skbalpm",
        description="Bayesian active learning of LLM preference models (BAL-PM).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    benchmark = commands.add_parser(
        "benchmark",
        help="compare query strategies over seeds: curves, labels saved, areas",
        description="Compare active-learning query strategies on a preference data set: "
        "an initial labelled set, then rounds of acquisition; after every round a fresh "
        "ensemble is fitted and scored on a held-out split. Prints the labels saved vs "
        "random and the areas under the curves (bootstrap intervals over seeds) and "
        "writes results.csv/json, summary.csv and the learning curves (PNG, SVG). With no "
        "options it runs the built-in synthetic task. Interrupted runs resume.",
    )
    add_benchmark_arguments(benchmark)
    cache = commands.add_parser(
        "cache",
        help="inspect or clear the embedding cache (info, clear)",
        description="The embedding cache on disk: 'info' shows where it is, its size, "
        "its entries and the models in it; 'clear' deletes entries.",
    )
    add_cache_arguments(cache)
    for name, (summary, description, add_arguments, _) in _LABELING_COMMANDS.items():
        add_arguments(commands.add_parser(name, help=summary, description=description))
    return parser


def main(argv=None):
    """Entry point of the ``skbalpm`` console script.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        The exit status.

    Examples
    --------
    >>> main([])  # doctest: +ELLIPSIS
    usage: skbalpm ...
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage()
        return 2
    if args.command == "cache":
        return run_cache_command(args)
    if args.command in _LABELING_COMMANDS:
        return _LABELING_COMMANDS[args.command][3](args)
    return run_benchmark_command(args)
