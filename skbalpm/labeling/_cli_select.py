"""``skbalpm select``: the next batch for the labelers."""

from __future__ import annotations

from pathlib import Path

from skbalpm.labeling._cli_options import (
    add_model_arguments,
    add_pairs_arguments,
    add_quiet_argument,
    check_model_options,
    fail,
    make_classifier,
    make_embedder,
    quietly,
    read_pairs,
)
from skbalpm.labeling._select import INITIAL_STRATEGIES

# ---------------------------------------------------------------------------------------
# skbalpm select
# ---------------------------------------------------------------------------------------


def add_select_arguments(parser):
    """Add the ``select`` options to an argparse parser; return it."""
    files = parser.add_argument_group("files")
    add_pairs_arguments(files, "--pool", "the pairs to pick from")
    files.add_argument(
        "--labeled",
        required=True,
        metavar="FILE",
        help="the labeled file (JSON Lines: prompt, response_a, response_b, label 0/1/tie/"
        "skip); missing or empty before the first labels come back.",
    )
    files.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the batch to write (JSON Lines, in pick order: pair_id, the texts, rank, "
        "score, bald, entropy_term, p_a_preferred, label null).",
    )
    files.add_argument(
        "--state",
        default=None,
        metavar="FILE",
        help="the state file of pairs sent out and not yet returned (default: "
        "skbalpm-select-state.json beside --out). Keep one per labeling project.",
    )
    loop = parser.add_argument_group("selection")
    loop.add_argument("--n", type=int, default=320, help="pairs in the batch (default: 320).")
    loop.add_argument(
        "--strategy",
        default="balpm",
        help="query strategy once labels of both kinds exist, as in skbalpm benchmark "
        "(e.g. balpm, bald, random, 'balpm(beta=0.001)'; default: balpm).",
    )
    loop.add_argument(
        "--initial-strategy",
        default="coreset",
        choices=INITIAL_STRATEGIES,
        help="cold-start picker while no model can be fitted: coreset (a spread over "
        "prompts), entropy-only (BAL-PM's diversity term) or random (the benchmark's "
        "initial draw; default: coreset).",
    )
    loop.add_argument(
        "--round",
        type=int,
        default=None,
        help="the round's number, which seeds its fit and strategy with --seed (default: "
        "the number of model-chosen batches in the state file).",
    )
    loop.add_argument(
        "--release",
        default=None,
        metavar="BATCH",
        help="do not select: put the pairs of an earlier batch file that have not come "
        "back into the pool again (e.g. a batch that was never sent).",
    )
    add_model_arguments(parser.add_argument_group("models"))
    add_quiet_argument(parser)
    return parser


def _check_select(args):
    from skbalpm.benchmark._strategies import parse_strategy_spec

    check_model_options(args)
    if args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}.")
    if args.round is not None and args.round < 0:
        raise ValueError(f"--round must be >= 0, got {args.round}.")
    parse_strategy_spec(args.strategy)


def _state_path(args):
    from skbalpm.labeling._state import STATE_FILENAME

    return Path(args.state) if args.state else Path(args.out).parent / STATE_FILENAME


def run_select_command(args):
    """Run ``skbalpm select`` with parsed arguments; return the exit status (2: a bad option or
    file, one line on stderr).
    """
    from skbalpm.labeling._labels import read_labels
    from skbalpm.labeling._round import format_round_summary, select_next_batch
    from skbalpm.labeling._state import SelectionState

    try:
        _check_select(args)
        if args.release:
            state = SelectionState.load(_state_path(args))
            if not state.release(args.release):
                raise ValueError(f"{state.path} lists no batch sent as {args.release}.")
            print(f"released the batch {args.release}: its pairs not yet back are in the pool")
            return 0
        pool = read_pairs(args.pool, args)
        labels = read_labels(args.labeled)
    except (ValueError, OSError) as exc:  # MalformedRecordError is a ValueError
        return fail("select", exc)
    with quietly(args):
        try:
            result = select_next_batch(
                pool,
                labels,
                args.out,
                state_path=_state_path(args),
                n_instances=args.n,
                strategy=args.strategy,
                initial_strategy=args.initial_strategy,
                embedder=make_embedder(args),
                classifier=make_classifier(args),
                random_state=args.seed,
                round_index=args.round,
                cv_folds=args.cv_folds,
                verbose=0 if args.quiet else 1,
            )
        except ValueError as exc:
            return fail("select", exc)
    print("\n".join(format_round_summary(result)))
    return 0
