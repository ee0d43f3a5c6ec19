"""Scale on Ray: embedding throughput, and one BAL-PM round at N = 10^6 with faiss.

Run: ``python benchmarks/bench_scale.py [--n 1000000] [--n-subset 100000] [--n-texts 3000]``

(a) ``skbalpm.distributed.embed_pairs`` on a local Ray cluster (one node, an actor per CPU
    or GPU) against ``PreferencePairEmbedder`` fit + transform in one process on the same
    pairs (real HH-RLHF pairs, the default model): each arm's fixed cost (a job of 10
    pairs), the end-to-end time, and the steady throughputs' ratio, target >= 0.9
    (``--n-texts 0`` skips).
(b) one BAL-PM round at N = ``--n`` synthetic 384-d prompts: k-NN radii from a faiss index
    (``--method``), then the greedy batch on the driver; the radii's error and the picks'
    overlap against exact radii on the first ``--n-subset`` prompts (``--n 0`` skips).
(c) the scaling plan's figures, computed from (a) and (b): the hours to embed 10^7 pairs
    with one actor at the measured per-actor throughput (divide by the number of actors;
    a 7B model is slower per actor by its cost per token: measure it with ``--model``);
    the share of a round the driver's greedy batch takes with faiss radii; and the number
    of workers past which the driver's greedy batch outlasts the exact radii sharded over
    them (the subset's exact time scaled by (N / subset)^2, the search's work).

``--sections`` reruns some of (a) and (b) only: the figures of the others are kept from the
existing result file of the same device, each with the date and commit it was measured at
(``details["measured"]``), and (c) is computed again from the union; the 10^6 round takes
a while on two cores, and a new embedder need not repeat it.

Both arms of every comparison run in the same process on the same device. Writes
``docs/benchmarks/speed/bench_scale_<device>.json`` (``--results-dir``), which the
documentation renders (the benchmarks page and the "Scaling out" guide).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from _results import RESULTS_DIR, describe, figure, write_result

PAIRS_TO_PLAN = 10**7
SECTIONS = ("embedding", "pool")


def _details(entry):
    return entry.get("details") or {}


def plan_figures(embedding, pool):
    """(c): the projections of the scaling plan, from the figures of (a) and (b)."""
    figures = []
    steady = next((f for f in embedding if f["unit"] == "pairs/s"), None)
    if steady is not None and _details(steady).get("actors"):
        per_actor = steady["value"] / _details(steady)["actors"]
        figures.append(
            figure(
                f"hours to embed {PAIRS_TO_PLAN:,} pairs with one actor at the measured rate",
                PAIRS_TO_PLAN / per_actor / 3600,
                "h",
                setting=steady["setting"],
                details={
                    "per-actor pairs/s": per_actor,
                    "with N actors": "divide by N (actors share nothing but the input)",
                },
            )
        )
    round_ = next((f for f in pool if "radii_seconds" in _details(f)), None)
    if round_ is None:
        return figures
    radii_s = _details(round_)["radii_seconds"]
    greedy_s = _details(round_)["greedy_batch_seconds"]
    figures.append(
        figure(
            "share of the round the driver's greedy batch takes, faiss radii",
            greedy_s / (radii_s + greedy_s),
            "fraction of the round",
            setting=round_["setting"],
            details={"radii s (faiss)": radii_s, "greedy batch s (driver)": greedy_s},
        )
    )
    exact = next(
        (f for f in pool if (f.get("baseline") or {}).get("name", "").startswith("exact")), None
    )
    sizes = _details(round_).get("n"), _details(round_).get("n_subset")
    if exact is not None and all(sizes):
        # the exact search does n^2 distance work: scale the subset's time quadratically
        exact_s = exact["baseline"]["value"] * (sizes[0] / sizes[1]) ** 2
        figures.append(
            figure(
                "workers past which the driver's greedy batch outlasts the sharded exact radii",
                exact_s / greedy_s,
                "workers",
                setting=round_["setting"],
                details={
                    "exact radii s at N, one worker (subset's time x (N / subset)^2)": exact_s,
                    "greedy batch s (driver)": greedy_s,
                },
            )
        )
    return figures


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="of the in-process embedding arm")
    parser.add_argument("--n-texts", type=int, default=3000, help="inputs of (a); 0 skips")
    parser.add_argument("--model", default="default", help="embedding model of (a)")
    parser.add_argument("--n", type=int, default=10**6, help="pool of (b); 0 skips")
    parser.add_argument("--n-subset", type=int, default=10**5, help="exact comparison of (b)")
    parser.add_argument("--method", default="faiss-ivf", choices=("faiss-ivf", "faiss-hnsw"))
    parser.add_argument("--num-cpus", type=int, default=None, help="of the local Ray cluster")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure; the others' figures are kept from the existing result file",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="default: docs/benchmarks/speed/"
    )
    return parser


def _tagged(figures, section):
    for entry in figures:
        entry["details"]["section"] = section
    return figures


def _with_sizes(figures, n, n_subset):
    for entry in figures:
        entry["details"].setdefault("n", n)
        entry["details"].setdefault("n_subset", min(n, n_subset))
    return figures


def kept_figures(path, sections):
    """The figures of the sections not rerun, from the result file at ``path`` (if any)."""
    if not Path(path).is_file():
        return {}
    previous = json.loads(Path(path).read_text(encoding="utf-8"))
    kept = {}
    for entry in previous["figures"]:
        section = entry["details"].get("section")
        if section in SECTIONS and section not in sections:
            entry["details"].setdefault("measured", f"{previous['date']} at {previous['commit']}")
            kept.setdefault(section, []).append(entry)
    if "pool" in kept:  # files written before the pool figures carried their sizes
        params = previous["parameters"]
        _with_sizes(kept["pool"], params["n"], params["n_subset"])
    return kept


def _measure(section, args):
    if section == "embedding" and args.n_texts > 0:
        import _scale_embedding

        return _scale_embedding.run(args.n_texts, device=args.device, model=args.model)
    if section == "pool" and args.n > 0:
        import _scale_pool

        figures = _scale_pool.run(args.n, n_subset=args.n_subset, method=args.method)
        return _with_sizes(figures, args.n, args.n_subset)
    return []


def main(argv=None):
    args = build_parser().parse_args(argv)
    print("machine:", describe_machine())
    if "embedding" in args.sections and args.n_texts > 0:  # (b)'s faiss radii need no Ray
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    folder = args.results_dir or RESULTS_DIR
    by_section = kept_figures(folder / f"bench_scale_{args.device}.json", args.sections)
    for section in args.sections:
        by_section[section] = _tagged(_measure(section, args), section)
        for entry in by_section[section]:
            print(describe(entry))
    embedding, pool = by_section.get("embedding", []), by_section.get("pool", [])
    plan = _tagged(plan_figures(embedding, pool), "plan")
    for entry in plan:
        print(describe(entry))
    path = write_result(
        "bench_scale", args.device, vars(args), [*embedding, *pool, *plan], argv=argv, folder=folder
    )
    print("wrote", path)


if __name__ == "__main__":
    main()
