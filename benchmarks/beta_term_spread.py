"""How big is each BAL-PM term? Spread of BALD and of beta * entropy over the pool.

For each data set and learner (the default Laplace model, its linear special case, and the
deep ensemble with a small, the default and a large adapter), labels are acquired in a
random order; at several label counts the classifier is fitted and, over the unlabelled
pool, the script measures the interquartile range (IQR) of BALD and of the entropy term
e(x) (k=13, d=1, the acquired prompts counted in the balls), and the beta at which the two
spreads are equal,
``IQR(BALD) / IQR(e)``: with beta far above it BAL-PM is "diversity only", far below it
plain BALD. Writes ``docs/benchmarks/beta_term_spread.csv`` and a markdown table.

Run:  python benchmarks/beta_term_spread.py [--seeds 2] [--only synthetic hh-helpful-base]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from run_label_efficiency import BENCHMARKS

from skbalpm._features import split_feature_blocks
from skbalpm.acquisition import bald, ball_counts, knn_radius, ksg_entropy_term
from skbalpm.benchmark import split_train_test
from skbalpm.benchmark._cli import load_benchmark_data
from skbalpm.ensemble import PreferenceEnsembleClassifier

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = {
    "laplace (default)": {},
    "laplace, linear": {"n_random_features": 0},
    "deep-ensemble (32,)": {"method": "deep-ensemble", "hidden_layer_sizes": (32,)},
    "deep-ensemble (256, 64)": {"method": "deep-ensemble"},
    "deep-ensemble (1024, 256)": {"method": "deep-ensemble", "hidden_layer_sizes": (1024, 256)},
}
LABEL_COUNTS = (50, 150, 300, 550)
DATASETS = ("synthetic", "hh-helpful-base", "hh-harmless-base", "tldr-batch13")


def features_of(name):
    """Features "a|b|prompt" and labels of a benchmark data set (embedded via the cache)."""
    data = load_benchmark_data(BENCHMARKS[name], "auto")
    if name == "synthetic":
        return data.X, data.y
    from skbalpm.embedding import PreferencePairEmbedder

    return np.asarray(PreferencePairEmbedder(verbose=1).fit_transform(data.X)), data.y


def iqr(values):
    q25, q75 = np.percentile(values, [25, 75])
    return float(q75 - q25)


def markdown_table(frame):
    """A GitHub-style markdown table; floats with three significant digits."""

    def cell(value):
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines) + "\n"


def spreads(name, seeds):
    X, y = features_of(name)
    prompts = split_feature_blocks(X, "a|b|prompt")[2].astype(np.float64)
    rows = []
    for seed in range(seeds):
        train, _ = split_train_test(len(y), 0.2, seed)
        order = np.random.default_rng(seed).permutation(train)
        for n_labels in LABEL_COUNTS:
            labelled, pool = order[:n_labels], order[n_labels:]
            # The entropy term depends on the prompts only, not on the learner.
            radius_N = knn_radius(prompts[pool], 13)
            counts_N = ball_counts(prompts[pool], radius_N, prompts[labelled])
            entropy_iqr = iqr(ksg_entropy_term(radius_N, counts_N, 1.0))
            for learner, params in LEARNERS.items():
                clf = PreferenceEnsembleClassifier(
                    feature_layout="a|b|prompt", random_state=seed, **params
                )
                clf.fit(X[labelled], y[labelled])
                bald_N = bald(clf.predict_member_proba(X[pool]))
                bald_iqr = iqr(bald_N)
                rows.append(
                    dict(
                        dataset=name,
                        learner=learner,
                        seed=seed,
                        n_labels=n_labels,
                        bald_median=float(np.median(bald_N)),
                        bald_iqr=bald_iqr,
                        entropy_iqr=entropy_iqr,
                        beta001_entropy_iqr=0.01 * entropy_iqr,
                        balancing_beta=bald_iqr / entropy_iqr if entropy_iqr > 0 else np.nan,
                    )
                )
                print(rows[-1], flush=True)
    learners = list(LEARNERS)  # rows by seed, learner, label count
    return sorted(
        rows,
        key=lambda r: (r["seed"], learners.index(r["learner"]), LABEL_COUNTS.index(r["n_labels"])),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "beta_term_spread.csv"
    previous = pd.read_csv(path) if path.exists() else pd.DataFrame()
    for name in args.only:
        table = pd.DataFrame(spreads(name, args.seeds))
        if len(previous):
            previous = previous[previous.dataset != name]
        # the columns of this version of the script (an older file's extra ones dropped)
        previous = pd.concat([previous, table], ignore_index=True)[table.columns]
        previous.to_csv(path, index=False)  # after every data set: nothing lost on failure
    summary = (
        previous.groupby(["dataset", "learner", "n_labels"], sort=False)[
            ["bald_median", "bald_iqr", "beta001_entropy_iqr", "balancing_beta"]
        ]
        .mean()
        .reset_index()
    )
    (out / "beta_term_spread.md").write_text(markdown_table(summary), encoding="utf-8")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
