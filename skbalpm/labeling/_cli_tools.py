"""``skbalpm import``: the labelers' answers back into the labeled file."""

from __future__ import annotations

from skbalpm.labeling._cli_options import add_pairs_arguments, fail, read_pairs

# ---------------------------------------------------------------------------------------
# skbalpm export / import
# ---------------------------------------------------------------------------------------


def add_import_arguments(parser):
    """Add the ``import`` options to an argparse parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``import`` command's parser.

    Returns
    -------
    parser : argparse.ArgumentParser
        The same parser.

    Examples
    --------
    >>> import argparse
    >>> parser = add_import_arguments(argparse.ArgumentParser())
    >>> vars(parser.parse_args(["export.json", "--labeled", "l.jsonl"]))["from"]
    'auto'
    """
    parser.add_argument(
        "annotations",
        metavar="FILE",
        help="a batch file whose "
        "label fields were filled in by hand (0, 1, tie, skip; null: no answer yet), or with "
        "--from pool a batch file to answer from the pool's own labels.",
    )
    parser.add_argument(
        "--labeled", required=True, metavar="FILE", help="the labeled file to add the answers to."
    )
    parser.add_argument(
        "--from",
        default="auto",
        choices=("auto", "skbalpm", "pool"),
        help="who answered: auto (read the file), skbalpm (a batch "
        "labeled by hand) or pool (replay the labels the --pool file holds: a dry run of "
        "the loop on labelled data; default: auto).",
    )
    add_pairs_arguments(
        parser.add_argument_group("pool (with --from pool)"),
        "--pool",
        "the labelled pool the batch was picked from",
        required=False,
    )
    return parser


def run_import_command(args):
    """Run ``skbalpm import`` with parsed arguments; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`add_import_arguments`' parser.

    Returns
    -------
    status : int
        0, or 2 when a file cannot be read.

    Examples
    --------
    >>> import argparse, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> parser = add_import_arguments(argparse.ArgumentParser())
    >>> run_import_command(parser.parse_args([str(folder / "none.json"), "--labeled",
    ...                                       str(folder / "l.jsonl")]))
    2
    """
    from skbalpm.labeling._import import import_annotations, replay_pool_labels

    source = vars(args)["from"]
    try:
        if source == "pool":
            if not args.pool:
                raise ValueError("--from pool needs --pool: the labelled pool of the batch.")
            pool = read_pairs(args.pool, args)
            result = replay_pool_labels(args.annotations, pool, args.labeled)
        else:
            result = import_annotations(args.annotations, args.labeled, format=source)
    except (ValueError, OSError) as exc:
        return fail("import", exc)
    counts = result.counts
    print(
        f"{args.labeled}: added {counts['labels']} labels, {counts['ties']} ties, "
        f"{counts['skips']} skips from {result.format} ({result.n_already} imported before)"
    )
    if result.unanswered:
        print(f"{len(result.unanswered)} pairs have no answer yet: they stay pending")
    for problem in result.problems[:10]:
        print(f"not imported (the pair stays pending): {problem}")
    if len(result.problems) > 10:
        print(f"... and {len(result.problems) - 10} more answers not imported")
    return 0
