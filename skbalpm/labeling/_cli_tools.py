"""``skbalpm export`` and ``skbalpm import``: batches to labeling tools, answers back."""

from __future__ import annotations

import json
from pathlib import Path

from skbalpm.labeling._cli_options import add_pairs_arguments, fail, read_pairs

# ---------------------------------------------------------------------------------------
# skbalpm export / import
# ---------------------------------------------------------------------------------------

EXPORT_TARGETS = ("label-studio", "argilla")


def add_export_arguments(parser):
    """Add the ``export`` options to an argparse parser; return it."""
    parser.add_argument("batch", metavar="BATCH", help="a batch file of skbalpm select.")
    parser.add_argument(
        "--to",
        required=True,
        choices=EXPORT_TARGETS,
        help="label-studio: tasks for a pairwise comparison, and its labeling interface "
        "beside them (.label_config.xml); argilla: records, and the dataset settings beside "
        "them (.settings.json).",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write (JSON).")
    return parser


def _sidecar(out, suffix):
    out = Path(out)
    return out.with_name(out.name.split(".")[0] + suffix)


def run_export_command(args):
    """Run ``skbalpm export`` with parsed arguments; return the exit status (2: the batch
    cannot be read).
    """
    from skbalpm.labeling._argilla import ARGILLA_SETTINGS, argilla_records
    from skbalpm.labeling._import import checked_triple, read_annotation_file
    from skbalpm.labeling._label_studio import LABEL_STUDIO_CONFIG, label_studio_tasks
    from skbalpm.labeling._pairs import write_text

    try:
        records = read_annotation_file(args.batch)
        for position, record in records:
            checked_triple(record, position, "the record")
    except (ValueError, OSError) as exc:
        return fail("export", exc)
    batch = [record for _, record in records]
    if args.to == "label-studio":
        payload, sidecar = label_studio_tasks(batch), _sidecar(args.out, ".label_config.xml")
        write_text(sidecar, LABEL_STUDIO_CONFIG)
        what = ("tasks", "the labeling interface")
    else:
        payload, sidecar = argilla_records(batch), _sidecar(args.out, ".settings.json")
        write_text(sidecar, json.dumps(ARGILLA_SETTINGS, indent=1) + "\n")
        what = ("records", "the dataset settings")
    write_text(args.out, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    print(f"{args.out}: {len(batch)} {args.to} {what[0]}")
    print(f"{sidecar}: {what[1]}")
    return 0


def add_import_arguments(parser):
    """Add the ``import`` options to an argparse parser; return it."""
    parser.add_argument(
        "annotations",
        metavar="FILE",
        help="Label Studio's JSON export, exported Argilla records, a batch file whose "
        "label fields were filled in by hand (0, 1, tie, skip; null: no answer yet), or with "
        "--from pool a batch file to answer from the pool's own labels.",
    )
    parser.add_argument(
        "--labeled", required=True, metavar="FILE", help="the labeled file to add the answers to."
    )
    parser.add_argument(
        "--from",
        default="auto",
        choices=("auto", "label-studio", "argilla", "skbalpm", "pool"),
        help="who answered: auto (read the file), label-studio, argilla, skbalpm (a batch "
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
    """Run ``skbalpm import`` with parsed arguments; return the exit status (2: a file cannot
    be read).
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
