"""``skbalpm fit`` and ``skbalpm score``: the final reward model, saved, and scoring with it."""

from __future__ import annotations

import numpy as np

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

# ---------------------------------------------------------------------------------------
# skbalpm fit / score
# ---------------------------------------------------------------------------------------


def add_fit_arguments(parser):
    """Add the ``fit`` options to an argparse parser; return it."""
    parser.add_argument(
        "--labeled", required=True, metavar="FILE", help="the labeled file (every label is used)."
    )
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="the model file to write (joblib)."
    )
    models = parser.add_argument_group("models")
    add_model_arguments(models)
    models.add_argument(
        "--round",
        type=int,
        default=None,
        help="seed the fit as round ROUND of skbalpm select (and of the benchmark harness) "
        "with --seed (default: seeded by --seed alone).",
    )
    add_quiet_argument(parser)
    return parser


def run_fit_command(args):
    """Run ``skbalpm fit`` with parsed arguments; return the exit status (2: a bad option or
    labeled file).
    """
    from skbalpm.benchmark._experiment import _derived_seed
    from skbalpm.labeling._labels import count_judgments, read_labels, trainable
    from skbalpm.labeling._model import RewardModel

    try:
        check_model_options(args)
        if args.round is not None and args.round < 0:
            raise ValueError(f"--round must be >= 0, got {args.round}.")
        labels = read_labels(args.labeled)
        train = trainable(labels.label)
        y = labels.label[train].astype(np.int64)
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"{args.labeled}: a reward model needs labels of both kinds (response_a and "
                f"response_b preferred); it holds {count_judgments(labels.label)}."
            )
    except (ValueError, OSError) as exc:
        return fail("fit", exc)
    seed = args.seed if args.round is None else _derived_seed(args.seed, args.round, 0)
    with quietly(args):
        model = RewardModel(make_embedder(args), make_classifier(args, random_state=seed))
        model.fit(labels.X[train], y)
        report = _fit_report(model, labels, train, y, args)
    model.save(args.out)
    counts = count_judgments(labels.label)
    print(
        f"{args.out}: reward model fitted on {counts['labels']} labels "
        f"({counts['ties']} ties and {counts['skips']} skips left out); embedder "
        f"{model.embedder_identity_['model']} ({model.embedder_identity_['model_path']})"
    )
    if report is not None:
        from skbalpm.labeling._report import format_report

        print("\n".join(format_report(report)))
    return 0


def _fit_report(model, labels, train, y, args):
    """The grouped cross-validation of the labels (None with --cv-folds 0)."""
    if not args.cv_folds:
        return None
    from skbalpm.datasets._common import stable_id
    from skbalpm.labeling._report import grouped_cv_report

    return grouped_cv_report(
        model.features(labels.X[train]),
        y,
        [stable_id(prompt) for prompt in labels.X[train, 0]],
        model.classifier_,
        n_splits=args.cv_folds,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )


def add_score_arguments(parser):
    """Add the ``score`` options to an argparse parser; return it."""
    parser.add_argument(
        "--model", required=True, metavar="FILE", help="a model file of skbalpm fit."
    )
    add_pairs_arguments(parser.add_argument_group("pairs"), "--pairs", "the pairs to score")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the scores to write (JSON Lines: pair_id, p_a_preferred, reward_a, reward_b).",
    )
    embedding = parser.add_argument_group("embedding (default: as the model was fitted)")
    embedding.add_argument(
        "--embedder-model",
        default=None,
        help="another path to the embedding model (e.g. on another machine); refused "
        "unless its files and settings give the features the model was fitted on.",
    )
    embedding.add_argument("--cache-dir", default=None, help="embedding cache folder.")
    embedding.add_argument("--device", default=None, help="torch device of the embedder.")
    add_quiet_argument(parser)
    return parser


def run_score_command(args):
    """Run ``skbalpm score`` with parsed arguments; return the exit status (2: a bad file, or
    an embedder that is not the model's).
    """
    from skbalpm.benchmark._metrics import preference_accuracy, preference_log_likelihood
    from skbalpm.labeling._model import RewardModel
    from skbalpm.labeling._pairs import write_jsonl

    try:
        model = RewardModel.load(args.model)
        pairs = read_pairs(args.pairs, args)
        with quietly(args):
            _switch_embedder(model, args, pairs.X)
            scores = model.score_pairs(pairs.X)
    except (ValueError, OSError) as exc:
        return fail("score", exc)
    scores.insert(0, "pair_id", pairs.pair_ids)
    write_jsonl(args.out, scores.to_dict(orient="records"))
    print(f"{args.out}: {len(scores)} pairs scored")
    if pairs.y is not None:
        proba_a = scores["p_a_preferred"].to_numpy()
        print(
            f"against the file's labels: log-likelihood "
            f"{preference_log_likelihood(pairs.y, proba_a):.4f} (chance -0.6931), accuracy "
            f"{preference_accuracy(pairs.y, proba_a):.3f}"
        )
    return 0


def _switch_embedder(model, args, X):
    """Embed with the options given (another model path, cache, device), if the model
    accepts that embedder (the saved one is checked too: its files may have changed)."""
    from sklearn.base import clone

    overrides = {
        key: value
        for key, value in (
            ("model", args.embedder_model),
            ("cache_dir", args.cache_dir),
            ("device", args.device),
        )
        if value is not None
    }
    overrides["verbose"] = 0 if args.quiet else 1
    model.use_embedder(clone(model.embedder_).set_params(**overrides).fit(X))
