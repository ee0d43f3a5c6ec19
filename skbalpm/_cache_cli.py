"""``skbalpm cache info|clear``: inspect and empty the embedding cache."""

from __future__ import annotations

import json
import sys
from pathlib import Path

_FINGERPRINT_PREFIX_MIN = 6  # hex digits of a fingerprint or namespace that name it


def add_cache_arguments(parser):
    """Add the ``cache info`` and ``cache clear`` subcommands to an argparse parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``cache`` command's parser.

    Returns
    -------
    parser : argparse.ArgumentParser
        The same parser.

    Examples
    --------
    >>> import argparse
    >>> parser = add_cache_arguments(argparse.ArgumentParser())
    >>> parser.parse_args(["clear", "--yes"]).yes
    True
    """
    actions = parser.add_subparsers(dest="cache_action", metavar="ACTION", required=True)
    info = actions.add_parser(
        "info",
        help="where the cache is, its size on disk, its entries and the models in it",
        description="Show the embedding cache: its file, size on disk, number of entries "
        "and, per model and settings (a namespace), the entries and bytes it holds.",
    )
    clear = actions.add_parser(
        "clear",
        help="delete cached embeddings (all, or one model's)",
        description="Delete cached embeddings: every entry, or with --model those of one "
        "model. Safe while other processes use the cache.",
    )
    for sub in (info, clear):
        sub.add_argument(
            "--cache-dir",
            default="auto",
            help="cache folder (default: auto, i.e. $SKBALPM_CACHE_DIR, else "
            "~/.cache/skbalpm, as the embedder's cache_dir='auto').",
        )
    info.add_argument("--json", action="store_true", help="print the report as JSON.")
    clear.add_argument(
        "--model",
        default=None,
        help="delete only the entries of this model: its folder (or 'default', or a "
        "cached hub id), or the first digits (at least 6) of a fingerprint or namespace "
        "that 'skbalpm cache info' lists (default: every entry).",
    )
    clear.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask for confirmation (needed when not run from a terminal).",
    )
    return parser


def _cache_dir(value) -> Path:
    from skbalpm._embedding_cache import default_cache_dir

    return default_cache_dir() if value == "auto" else Path(value).expanduser()


def format_bytes(n: int) -> str:
    """A byte count for people: ``"1.5 kB"``, ``"12.0 MB"`` (powers of 1000).

    Parameters
    ----------
    n : int
        Bytes.

    Returns
    -------
    text : str

    Examples
    --------
    >>> format_bytes(999), format_bytes(1536), format_bytes(12_000_000)
    ('999 B', '1.5 kB', '12.0 MB')
    """
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _namespace_line(entry) -> str:
    fingerprint = str(entry.get("model_fingerprint") or "?")[:12]
    settings = ", ".join(
        f"{name}={entry[name]!r}"
        for name in ("backend", "max_length", "pair_template", "prompt_template", "dtype")
        if name in entry
    )
    return (
        f"  {entry['namespace'][:12]}  {entry['n_entries']:>9,}  "
        f"{format_bytes(entry['vector_bytes']):>9}  {entry['dim']:>5}  "
        f"{entry.get('model_path', '?')} [{fingerprint}]\n      {settings}"
    )


def print_cache_info(report) -> None:
    """Print a :func:`~skbalpm._embedding_cache.cache_report` for people."""
    print(f"embedding cache: {report['path']}")
    if not report["exists"]:
        print("  no cache file (nothing cached yet)")
    else:
        parts = ", ".join(f"{role} {format_bytes(size)}" for role, size in report["files"].items())
        print(f"size on disk: {format_bytes(report['size_bytes'])} ({parts})")
        n_models = len({entry.get("model_fingerprint") for entry in report["namespaces"]})
        print(
            f"entries: {report['n_entries']:,} in {len(report['namespaces'])} namespaces "
            f"(a model with its settings) of {n_models} model(s)"
        )
        if report["namespaces"]:
            print("  namespace       entries    vectors    dim  model [fingerprint]")
            for entry in report["namespaces"]:
                print(_namespace_line(entry))
    if report["unused_files"]:
        total = sum(report["unused_files"].values())
        print(
            f"unused files (older schema or set aside as unreadable), "
            f"{format_bytes(total)}; 'skbalpm cache clear' deletes them:"
        )
        for path, size in report["unused_files"].items():
            print(f"  {path} ({format_bytes(size)})")


def select_namespaces(report, model) -> list[str]:
    """The namespaces of a cache report that belong to ``model``.

    Parameters
    ----------
    report : dict
        From :func:`~skbalpm._embedding_cache.cache_report`.
    model : str
        A model folder, ``"default"`` or a cached hub id (matched against the stored
        model path), or at least 6 leading hex digits of a model fingerprint or namespace.

    Returns
    -------
    namespaces : list of str

    Examples
    --------
    >>> report = {"namespaces": [{"namespace": "ab12cd34", "model_path": "/m",
    ...                           "model_fingerprint": "99ff00aa"}]}
    >>> [select_namespaces(report, model) for model in ("/m", "99ff00", "/other")]
    [['ab12cd34'], ['ab12cd34'], []]
    """
    paths = {str(model)}
    try:
        from skbalpm._embedding_backends import resolve_model_path

        paths.add(str(resolve_model_path(model)))
    except ValueError:
        pass  # not a model on this machine (any more): match the stored path as given
    prefix = str(model).lower()
    is_prefix = len(prefix) >= _FINGERPRINT_PREFIX_MIN and all(
        c in "0123456789abcdef" for c in prefix
    )
    return [
        entry["namespace"]
        for entry in report["namespaces"]
        if entry.get("model_path") in paths
        or (
            is_prefix
            and (
                str(entry.get("model_fingerprint", "")).startswith(prefix)
                or entry["namespace"].startswith(prefix)
            )
        )
    ]


def _confirmed(question: str, yes: bool) -> bool | None:
    """True to go ahead, False if refused, None if no one can be asked."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return None
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def run_cache_command(args) -> int:
    """Run ``skbalpm cache info|clear`` with parsed arguments; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser set up with :func:`add_cache_arguments`.

    Returns
    -------
    status : int
        0 on success, 1 when nothing matched or the user declined, 2 on an error.
    """
    from skbalpm._embedding_cache import cache_report, clear_cache

    cache_dir = _cache_dir(args.cache_dir)
    try:
        report = cache_report(cache_dir)
    except ValueError as exc:
        print(f"skbalpm cache: error: {exc}", file=sys.stderr)
        return 2
    if args.cache_action == "info":
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print_cache_info(report)
        return 0
    namespaces = None
    n_entries = report["n_entries"]
    what = f"all {n_entries:,} entries of {report['path']}"
    if args.model is not None:
        namespaces = select_namespaces(report, args.model)
        if not namespaces:
            print(f"no cached entries of model {args.model!r} in {report['path']}.")
            return 1
        chosen = [e for e in report["namespaces"] if e["namespace"] in namespaces]
        n_entries = sum(e["n_entries"] for e in chosen)
        what = f"{n_entries:,} entries of model {args.model!r} ({len(chosen)} namespaces)"
    elif not report["exists"] and not report["unused_files"]:
        print(f"nothing to clear in {cache_dir}.")
        return 0
    answer = _confirmed(f"Delete {what}?", args.yes)
    if answer is None:
        print(
            "skbalpm cache clear: error: not run from a terminal; pass --yes to delete "
            "without confirmation.",
            file=sys.stderr,
        )
        return 2
    if not answer:
        print("nothing deleted.")
        return 1
    n_deleted = clear_cache(cache_dir, namespaces)
    after = cache_report(cache_dir)
    print(
        f"deleted {n_deleted:,} entries; the cache now holds {after['n_entries']:,} entries, "
        f"{format_bytes(after['size_bytes'])} on disk."
    )
    return 0
