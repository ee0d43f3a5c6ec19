"""Batched deep ensemble vs. one adapter at a time: time to fit on (n=20,000, d=384) features.

Both arms use the same settings (default architecture and optimiser, fixed epochs, no
early stopping, same device and threads); the loop arm fits ``n_members`` single-member
classifiers one after another. The arms alternate for ``--repeats`` rounds and the
speed-up is the ratio of their medians (a shared machine's speed drifts between runs).

It also prints a compute floor: the fit's matrix-product FLOPs divided by the rate this
machine reaches on the batched first-layer product (the largest one, measured here). No
implementation on the same threads can fit the batched ensemble faster than that, so
``looped / floor`` bounds the speed-up any batching could reach against this loop.

Run:  python benchmarks/bench_ensemble.py [--epochs 2] [--repeats 3] [--n-jobs -1]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
import torch
from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from _results import figure, write_result

from skbalpm._torch_ensemble import cpu_threads
from skbalpm.ensemble import PreferenceEnsembleClassifier


def fit_matmul_flops(layer_sizes, n_pairs, n_epochs):
    """Matrix-product FLOPs of one member's fit (forward and backward, no validation).

    Each step puts 2 rows per pair through every layer; a layer of shape (n_in, n_out)
    costs 2 * rows * n_in * n_out FLOPs forward, as much for its weight gradient and, past
    the first layer (whose input needs no gradient), as much again for its input gradient.
    """
    rows = 2 * n_pairs * n_epochs
    flops = 0
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(layer_sizes)):
        passes = 2 if layer == 0 else 3
        flops += passes * 2 * rows * n_in * n_out
    return flops


def batched_matmul_rate(n_members, rows, n_in, n_out, device, seconds=1.0):
    """FLOP/s of ``torch.bmm`` on (n_members, rows, n_in) x (n_members, n_in, n_out)."""
    X = torch.randn(n_members, rows, n_in, device=device)
    W = torch.randn(n_members, n_in, n_out, device=device)
    for _ in range(10):
        torch.bmm(X, W)
    n_calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.bmm(X, W)
        n_calls += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n_members * rows * n_in * n_out * n_calls / (time.perf_counter() - start)


def timed_fit(X, y, settings, n_members, seeds):
    """Seconds to fit one ``n_members`` ensemble per seed, one after another."""
    start = time.perf_counter()
    for seed in seeds:
        PreferenceEnsembleClassifier(**settings, n_members=n_members, random_state=seed).fit(X, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds per arm")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--n-jobs", type=int, default=None, help="CPU threads for torch (None: 1, -1: all)"
    )
    args = parser.parse_args()

    with cpu_threads(args.n_jobs):
        print(f"machine: {describe_machine()}; fits use n_jobs={args.n_jobs}")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, 2 * args.d)).astype(np.float32) / np.sqrt(args.d)
    w = rng.normal(size=args.d)
    y = ((X[:, args.d :] - X[:, : args.d]) @ w > 0).astype(int)
    settings = dict(
        method="deep-ensemble",  # the batched torch training timed here
        feature_layout="a|b",
        max_epochs=args.epochs,
        n_iter_no_change=None,
        device=args.device,
        n_jobs=args.n_jobs,
    )
    defaults = PreferenceEnsembleClassifier(method="deep-ensemble")
    layer_sizes = (args.d, *defaults.hidden_layer_sizes, 1)
    print(
        f"n={args.n}, d={args.d}, {args.epochs} epochs, default adapter "
        f"{defaults.hidden_layer_sizes}, batch {defaults.batch_size}, "
        f"{args.repeats} alternating rounds per arm (median shown)"
    )
    PreferenceEnsembleClassifier(**settings, n_members=1).fit(X[:500], y[:500])  # warm-up

    figures = []
    for n_members in (5, 10):
        batched, looped = [], []
        for _ in range(args.repeats):
            batched.append(timed_fit(X, y, settings, n_members, seeds=[0]))
            looped.append(timed_fit(X, y, settings, 1, seeds=range(n_members)))
        batched_s, looped_s = statistics.median(batched), statistics.median(looped)

        with cpu_threads(args.n_jobs):
            rate = batched_matmul_rate(
                n_members,
                2 * defaults.batch_size,
                args.d,
                layer_sizes[1],
                torch.device(args.device),
            )
        floor_s = n_members * fit_matmul_flops(layer_sizes, args.n, args.epochs) / rate
        print(
            f"n_members={n_members:>2}: batched {batched_s:7.2f} s, one after another "
            f"{looped_s:7.2f} s, speed-up {looped_s / batched_s:.2f}x "
            f"(rounds: batched {', '.join(f'{t:.2f}' for t in batched)}; "
            f"looped {', '.join(f'{t:.2f}' for t in looped)})"
        )
        print(
            f"             compute floor of the batched fit {floor_s:6.2f} s "
            f"(matrix products at {rate / 1e9:.1f} GFLOP/s, the measured rate of the batched "
            f"first layer): no batching can beat {looped_s / floor_s:.2f}x against this loop"
        )
        setting = (
            f"n = {args.n:,} pairs, d = {args.d}, {args.epochs} epochs, default adapter, "
            f"n_jobs = {args.n_jobs}; medians of {args.repeats} alternating rounds"
        )
        looped_arm = (f"{n_members} single-member fits one after another", looped_s, "s")
        figures += [
            figure(
                f"batched ensemble fit, {n_members} members",
                batched_s,
                "s",
                setting=setting,
                baseline=looped_arm,
                ratio="baseline/value",
                reads="× faster",
                details={"batched rounds s": batched, "looped rounds s": looped},
            ),
            figure(
                f"compute floor of the batched fit, {n_members} members",
                floor_s,
                "s",
                setting=setting,
                baseline=looped_arm,
                ratio="baseline/value",
                reads="× faster: the most any batching could reach",
                details={"measured matrix-product rate GFLOP/s": rate / 1e9},
            ),
        ]
    print("wrote", write_result("bench_ensemble", args.device, vars(args), figures))


if __name__ == "__main__":
    main()
