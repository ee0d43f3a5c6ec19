"""Options and helpers that the labeling desk's commands share."""

from __future__ import annotations

import sys

from skbalpm.benchmark._cli import DATA_FORMATS, parse_columns, parse_label_map, parse_n_members

# ---------------------------------------------------------------------------------------
# Options shared by several commands
# ---------------------------------------------------------------------------------------


def add_pairs_arguments(group, option, what, required=True):
    """Add ``option`` (files of pairs) and the options that say how to read them."""
    group.add_argument(
        option,
        nargs="+",
        required=required,
        metavar="PATH",
        help=f"{what}: preference files of any format skbalpm benchmark reads, pooled, a "
        "table (jsonl/csv/parquet) of prompt, response_a, response_b with no label column, "
        "or sample:hh-rlhf / sample:tldr (the real pairs bundled with the package).",
    )
    group.add_argument(
        "--format",
        default="auto",
        choices=DATA_FORMATS,
        help="format of those files, as skbalpm benchmark's --format (default: auto).",
    )
    group.add_argument(
        "--columns",
        type=parse_columns,
        default=None,
        metavar="KEY=COLUMN,...",
        help="column names of generic tables, as skbalpm benchmark's --columns.",
    )
    group.add_argument(
        "--label-map",
        type=parse_label_map,
        default=None,
        metavar="a=V,b=V[,tie=V]",
        help="label values of a labelled generic table, as skbalpm benchmark's --label-map.",
    )


def add_embedder_arguments(group):
    """Add the embedding model's options (as ``skbalpm benchmark`` names them)."""
    group.add_argument(
        "--embedder-model",
        default="default",
        help="embedding model: 'default' (all-MiniLM-L6-v2, offline), a "
        "sentence-transformers folder or a Hugging Face causal LM folder (default: default).",
    )
    group.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="token window of the embedder (default: the model's own).",
    )
    group.add_argument(
        "--cache-dir",
        default="auto",
        help="embedding cache folder (default: auto, i.e. $SKBALPM_CACHE_DIR, else "
        "~/.cache/skbalpm).",
    )
    group.add_argument(
        "--device",
        default="auto",
        help="torch device of the embedder and the classifier: auto, cpu, cuda, cuda:0 ... "
        "(default: auto).",
    )


def add_model_arguments(group):
    """Add the embedder's and the reward ensemble's options, the seed and the CV folds."""
    add_embedder_arguments(group)
    group.add_argument(
        "--method",
        default="laplace",
        choices=("laplace", "deep-ensemble"),
        help="how the reward ensemble learns, as skbalpm benchmark's --method (default: laplace).",
    )
    group.add_argument(
        "--n-members",
        type=parse_n_members,
        default="auto",
        help="ensemble members: posterior draws or adapters; 'auto' is 50 draws for "
        "laplace, 5 adapters for deep-ensemble (default: auto).",
    )
    group.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="training epochs cap of a deep-ensemble fit (default: the classifier's).",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the loop (default: 0). With --round, a fit is seeded from (seed, "
        "round) exactly as the benchmark harness seeds its rounds.",
    )
    group.add_argument(
        "--cv-folds",
        type=int,
        default=5,
        help="folds of the cross-validation grouped by prompt that says what the labels "
        "so far teach; 0 skips it (default: 5).",
    )


def add_quiet_argument(parser):
    """Add ``--quiet``."""
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (the model-loading ones included) and only errors from "
        "transformers and sentence-transformers.",
    )


def make_embedder(args):
    """The embedder the options describe."""
    from skbalpm.embedding import PreferencePairEmbedder

    return PreferencePairEmbedder(
        args.embedder_model,
        max_length=args.max_length,
        device=args.device,
        cache_dir=args.cache_dir,
        verbose=0 if args.quiet else 1,
    )


def make_classifier(args, random_state=None):
    """The reward ensemble the options describe (layout ``"a|b|prompt"``)."""
    from skbalpm.ensemble import PreferenceEnsembleClassifier

    params = {
        "method": args.method,
        "n_members": args.n_members,
        "device": args.device,
        "feature_layout": "a|b|prompt",
        "random_state": random_state,
    }
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    return PreferenceEnsembleClassifier(**params)


def check_model_options(args):
    """Cheap checks of the model options, before any file is read."""
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}.")
    if args.cv_folds < 0 or args.cv_folds == 1:
        raise ValueError(f"--cv-folds must be 0 (skip) or >= 2, got {args.cv_folds}.")
    if args.max_length is not None and args.max_length < 4:
        raise ValueError(f"--max-length must be >= 4, got {args.max_length}.")


def fail(command, exc):
    """Report ``exc`` as one line on stderr; the exit status 2."""
    print(f"skbalpm {command}: error: {exc}", file=sys.stderr)
    return 2


def read_pairs(paths, args):
    """The pairs of ``paths``, read as the format options say."""
    from skbalpm.labeling._pairs import read_pool

    return read_pool(paths, args.format, columns=args.columns, label_map=args.label_map)


def quietly(args):
    """Quiet model loading (bars and logs) under ``--quiet``."""
    from skbalpm._embedding_backends import quiet_model_loading

    return quiet_model_loading(enabled=args.quiet, logs=True)
