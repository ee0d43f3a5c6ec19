"""Random-order learning curve of PreferenceEnsembleClassifier on HH-RLHF helpful-base.

Features: all-MiniLM-L6-v2 embeddings of prompt + response (cached under results/, see
_hh_features.py). The pairs are split once (seed 0) into a training pool (1,000), a
validation split (500, used only to compare settings: ``--tune``) and a test split (the
rest, used only for the reported curve; the prompts of HH-RLHF helpful-base do not repeat,
so a split by pair is a split by prompt). For each of 5 seeds the pool is put in a random
order and the classifier is fitted on its first n labels, n = 50 ... 1,000; the curve is
the mean test log-likelihood of the prediction (and accuracy), for the default learner
and for the former default (the deep ensemble with each member's own random early-stopping
rows). Writes ``docs/benchmarks/learning_curve_stability.csv``. The defaults themselves
were chosen with ``benchmarks/learner_study.py`` on other data.

Run:  python benchmarks/learning_curve_stability.py            # report the two learners
      python benchmarks/learning_curve_stability.py --tune     # compare settings on val
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _hh_features import helpful_base_features
from _machine import describe_machine

from skbalpm.ensemble import PreferenceEnsembleClassifier

LABEL_COUNTS = (50, 100, 200, 500, 1000)
SEEDS = range(5)
DEEP = dict(method="deep-ensemble")
REPORTED = {
    "laplace (default)": {},
    "deep-ensemble, random split (former default)": dict(**DEEP, early_stopping_split="random"),
}
CANDIDATES = {
    "laplace (default)": {},
    "laplace, linear": dict(n_random_features=0),
    # The paper's optimiser settings barely move the N(0, 0.01^2) start on MiniLM features.
    "deep-ensemble, paper-like (init 0.01, lr 3e-5, 4 epochs)": dict(
        **DEEP, init_std=0.01, learning_rate=3e-5, max_epochs=4, alpha=0.0, weight_decay=0.1
    ),
    "deep-ensemble, init 0.1, wd 0.1, alpha 0": dict(
        **DEEP, init_std=0.1, alpha=0.0, weight_decay=0.1
    ),
    "deep-ensemble, init 0.1, wd 0, alpha 1": dict(
        **DEEP, init_std=0.1, weight_decay=0.0, alpha=1.0
    ),
    "deep-ensemble, init 0.1, wd 0, alpha 3": dict(
        **DEEP, init_std=0.1, weight_decay=0.0, alpha=3.0
    ),
    "deep-ensemble, init 0.1, wd 0, alpha 10": dict(
        **DEEP, init_std=0.1, weight_decay=0.0, alpha=10.0
    ),
}
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "learning_curve_stability.csv"


def splits():
    X, y = helpful_base_features()
    order = np.random.default_rng(0).permutation(len(y))
    pool, val, test = order[:1000], order[1000:1500], order[1500:]
    return X, y, pool, val, test


def curve(X, y, pool, evaluation, params, seeds=SEEDS, counts=LABEL_COUNTS):
    """Log-likelihood and accuracy arrays of shape (n_seeds, n_counts)."""
    ll = np.zeros((len(seeds), len(counts)))
    acc = np.zeros_like(ll)
    for i, seed in enumerate(seeds):
        ordered = np.random.default_rng(100 + seed).permutation(pool)
        for j, n in enumerate(counts):
            clf = PreferenceEnsembleClassifier(feature_layout="a|b", random_state=seed, **params)
            clf.fit(X[ordered[:n]], y[ordered[:n]])
            proba = clf.predict_proba(X[evaluation])
            p_true = proba[np.arange(len(evaluation)), y[evaluation]]
            ll[i, j] = np.log(np.clip(p_true, 1e-12, 1)).mean()
            acc[i, j] = (clf.predict(X[evaluation]) == y[evaluation]).mean()
    return ll, acc


def print_curve(name, ll, acc, counts=LABEL_COUNTS):
    print(f"\n{name}")
    print(f"{'labels':>7} {'test LL mean':>13} {'± std':>7} {'min':>8} {'accuracy':>9}")
    for j, n in enumerate(counts):
        print(
            f"{n:>7} {ll[:, j].mean():>13.4f} {ll[:, j].std():>7.4f} "
            f"{ll[:, j].min():>8.4f} {acc[:, j].mean():>9.3f}"
        )
    rising = np.all(np.diff(ll.mean(axis=0)) > -0.002)
    above = np.all(ll.mean(axis=0) > np.log(0.5))
    print(
        f"chance log(1/2) = {np.log(0.5):.4f}; mean never below chance: {above}; "
        f"rises (no drop > 0.002): {rising}; worst single fit: {ll.min():.4f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="compare settings on val split")
    parser.add_argument("--only", default=None, help="with --tune: candidates whose name has this")
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    X, y, pool, val, test = splits()
    print(f"{len(y)} pairs: pool {len(pool)}, validation {len(val)}, test {len(test)}")
    parser_only = args.only
    if args.tune:
        for name, params in CANDIDATES.items():
            if parser_only and parser_only not in name:
                continue
            start = time.perf_counter()
            ll, acc = curve(X, y, pool, val, params, seeds=range(3))
            print_curve(
                f"[validation split] {name}  ({time.perf_counter() - start:.0f} s)", ll, acc
            )
    else:
        rows = []
        for name, params in REPORTED.items():
            ll, acc = curve(X, y, pool, test, params)
            print_curve(f"[test split] {name}, 5 seeds", ll, acc)
            rows += [
                {
                    "learner": name,
                    "labels": n,
                    "mean_test_log_likelihood": ll[:, j].mean(),
                    "sd_over_seeds": ll[:, j].std(),
                    "worst_seed": ll[:, j].min(),
                    "mean_test_accuracy": acc[:, j].mean(),
                }
                for j, n in enumerate(LABEL_COUNTS)
            ]
        table = pd.DataFrame(rows)
        tmp = OUT.with_name(OUT.name + ".tmp")
        table.to_csv(tmp, index=False, float_format="%.4f")
        tmp.replace(OUT)
        print(f"written: {OUT} ({describe_machine()})")


if __name__ == "__main__":
    main()
