"""Label-efficiency evidence: the harness on the real data sets and the synthetic default.

Runs ``skbalpm benchmark`` (random, BALD, PowerBALD, BAL-PM) on

* HH-RLHF helpful-base and harmless-base (two separate benchmarks),
* the three HH-RLHF helpful splits pooled,
* Reddit TL;DR batch13 (grouped by post),
* HH-RLHF helpful-rejection-sampled as the pool, scored on helpful-base, and helpful-base
  as the pool, scored on helpful-online (long multi-turn conversations): pools and test
  sets from different collection rounds (shifted test distributions),
* the built-in synthetic default task,

embedded with the default model, and writes each one's results, summary and learning
curves to ``docs/benchmarks/<name>/``, with ``command.txt`` (the equivalent
``skbalpm benchmark`` command) and ``machine.txt`` (the machine and the date) for the
documentation's benchmarks page. Checkpointed: rerunning resumes. Usage::

    python benchmarks/run_label_efficiency.py [--seeds 5] [--suite scaling] [--only NAME ...]

``--suite scaling`` adds the BAL-PM variants of the beta study: fixed beta in
{0.1, 0.01, 0.001, 0.0001} and the scale-free modes standardize, rank and tiebreak.
``--suite strategies`` runs every registered strategy. The suites write to the same
folders: a folder accumulates strategies (the runs it holds are kept, not rerun).

Each run prints its ceiling (all training labels) next to the table: a benchmark on data
the model cannot learn shows nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
from pathlib import Path

import torch
from _machine import describe_machine  # benchmarks/ is on the path when run as a script

from skbalpm.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
HH = DATA / "hh-rlhf"

BENCHMARKS = {
    "hh-helpful-base": [str(HH / "helpful-base-test.jsonl.gz")],
    "hh-harmless-base": [str(HH / "harmless-base-test.jsonl.gz")],
    "hh-helpful-pooled": [
        str(HH / f"{name}-test.jsonl.gz")
        for name in ("helpful-base", "helpful-online", "helpful-rejection-sampled")
    ],
    "tldr-batch13": [str(DATA / "summarize-from-feedback" / "tldr-batch13.jsonl")],
    "hh-rejection-sampled_test-base": [str(HH / "helpful-rejection-sampled-test.jsonl.gz")],
    "hh-helpful-base_test-online": [str(HH / "helpful-base-test.jsonl.gz")],
    "synthetic": ["synthetic"],
}

FIXED_TEST_SETS = {
    "hh-rejection-sampled_test-base": [str(HH / "helpful-base-test.jsonl.gz")],
    "hh-helpful-base_test-online": [str(HH / "helpful-online-test.jsonl.gz")],
}
"""Benchmarks scored on other files (``--test-dataset``) instead of a held-out split."""

SUITES = {
    "core": "random,bald,powerbald,balpm",
    "scaling": (
        "random,bald,powerbald,balpm,balpm(beta=0.1),balpm(beta=0.001),balpm(beta=0.0001),"
        "balpm(scaling=standardize),balpm(scaling=rank),balpm(scaling=tiebreak)"
    ),
    # every registered strategy (the generic stochastic(...) wrapper through its presets);
    # the costly BatchBALD last, so that a cut run holds the others
    "strategies": (
        "random,bald,powerbald,balpm,entropy,coreset,dopt,badge,softmaxbald,softrankbald,"
        "entropy-only,epig,typiclust,probcover,batchbald"
    ),
}


def main_script(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--suite", choices=sorted(SUITES), default="core")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-jobs", type=int, default=-1, help="processes (-1: every core)")
    parser.add_argument("--initial-size", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--output-root", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args(argv)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"cuda {torch.cuda.is_available()}"
    )
    for name in args.only or BENCHMARKS:
        paths = BENCHMARKS[name]
        print(f"\n===== {name}")
        cli = [
            "benchmark",
            "--dataset",
            *paths,
            "--name",
            name,
            "--seeds",
            str(args.seeds),
            "--strategies",
            SUITES[args.suite],
            "--device",
            args.device,
            "--n-jobs",
            str(args.n_jobs),
            "--output-dir",
            str(Path(args.output_root) / name),
        ]
        if name in FIXED_TEST_SETS:
            cli += ["--test-dataset", *FIXED_TEST_SETS[name]]
        if name != "synthetic":  # the synthetic default keeps its own protocol
            cli += [
                "--initial-size",
                str(args.initial_size),
                "--batch-size",
                str(args.batch_size),
                "--rounds",
                str(args.rounds),
            ]
        main(cli)
        # the command (paths relative to the repository root) and the machine, for the docs
        shown = [os.path.relpath(a, ROOT) if os.path.isabs(a) else a for a in cli]
        out = Path(args.output_root) / name
        (out / "command.txt").write_text(shlex.join(["skbalpm", *shown]) + "\n", encoding="utf-8")
        (out / "machine.txt").write_text(
            f"{describe_machine()}; {datetime.date.today():%Y-%m-%d}\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main_script()
