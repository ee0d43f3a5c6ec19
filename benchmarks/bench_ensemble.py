"""Batched ensemble vs. one-adapter-at-a-time: time to fit on (n=20,000, d=384) features.

Both arms use the same settings (default architecture and optimiser, fixed epochs, no
early stopping, same device and threads); the loop arm fits ``n_members`` single-member
classifiers one after another. Prints the machine and the speed-up measured in this run.

Run:  python benchmarks/bench_ensemble.py [--epochs 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import describe_machine  # benchmarks/ is on the path when run as a script

from skbalpm.ensemble import PreferenceEnsembleClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--n-jobs", type=int, default=None, help="CPU threads for torch (None: 1, -1: all)"
    )
    args = parser.parse_args()

    print(f"machine: {describe_machine()}; fits use n_jobs={args.n_jobs}")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, 2 * args.d)).astype(np.float32) / np.sqrt(args.d)
    w = rng.normal(size=args.d)
    y = ((X[:, args.d :] - X[:, : args.d]) @ w > 0).astype(int)
    settings = dict(
        feature_layout="a|b",
        max_epochs=args.epochs,
        n_iter_no_change=None,
        device=args.device,
        n_jobs=args.n_jobs,
    )
    print(
        f"n={args.n}, d={args.d}, {args.epochs} epochs, default adapter "
        f"{PreferenceEnsembleClassifier().hidden_layer_sizes}, batch 32"
    )
    PreferenceEnsembleClassifier(**settings, n_members=1).fit(X[:500], y[:500])  # warm-up

    for n_members in (5, 10):
        start = time.perf_counter()
        PreferenceEnsembleClassifier(**settings, n_members=n_members, random_state=0).fit(X, y)
        batched = time.perf_counter() - start
        start = time.perf_counter()
        for member in range(n_members):
            PreferenceEnsembleClassifier(**settings, n_members=1, random_state=member).fit(X, y)
        looped = time.perf_counter() - start
        print(
            f"n_members={n_members:>2}: batched {batched:7.2f} s, one after another "
            f"{looped:7.2f} s, speed-up {looped / batched:.2f}x"
        )


if __name__ == "__main__":
    main()
