"""The ``skbalpm`` command line (``python -m skbalpm`` does the same)."""

from __future__ import annotations

import argparse

from skbalpm._cache_cli import add_cache_arguments, run_cache_command
from skbalpm.benchmark._cli import add_benchmark_arguments, run_benchmark_command


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
    return run_benchmark_command(args)
