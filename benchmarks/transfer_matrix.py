"""How far a preference model on these features carries across the HH-RLHF test splits.

For each split (the source), the default classifier is fitted on all its pairs and scored
on every other split; the diagonal is scored on a held-out 20% of the source (grouped by
prompt), fitted on the other 80%. Mean over seeds of the test log-likelihood and accuracy.
A fixed test set from another split (``skbalpm benchmark --test-dataset``) only shows an
acquisition effect where this matrix shows transfer. Features: the default embedder
(all-MiniLM-L6-v2), read from its cache when present.

Run:  python benchmarks/transfer_matrix.py [--seeds 3] [--out docs/benchmarks/transfer_matrix.md]
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np
from _machine import describe_machine  # benchmarks/ is on the path when run as a script

from skbalpm.benchmark import split_train_test
from skbalpm.benchmark._metrics import preference_accuracy, preference_log_likelihood
from skbalpm.datasets import load_hh_rlhf
from skbalpm.embedding import PreferencePairEmbedder
from skbalpm.ensemble import PreferenceEnsembleClassifier

ROOT = Path(__file__).resolve().parents[1]
HH = ROOT.parent / "shared" / "data" / "hh-rlhf"
SPLITS = ("helpful-base", "helpful-rejection-sampled", "helpful-online", "harmless-base")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "transfer_matrix.md"))
    args = parser.parse_args()

    embedder = PreferencePairEmbedder(verbose=0)
    data = {}
    for split in SPLITS:
        loaded = load_hh_rlhf(HH / f"{split}-test.jsonl.gz")
        features = np.asarray(embedder.fit_transform(loaded.X))  # rows taken by position
        data[split] = (features, loaded.y, loaded.groups)

    scores = {}  # (source, target) -> list of (log-likelihood, accuracy)
    for seed in range(args.seeds):
        for source, (X, y, groups) in data.items():
            train, held_out = split_train_test(len(y), 0.2, seed, groups)
            for fit_rows, targets in (
                (train, {source: (X[held_out], y[held_out])}),
                (np.arange(len(y)), {t: data[t][:2] for t in SPLITS if t != source}),
            ):
                clf = PreferenceEnsembleClassifier(feature_layout="a|b|prompt", random_state=seed)
                clf.fit(X[fit_rows], y[fit_rows])
                for target, (X_t, y_t) in targets.items():
                    proba_a = clf.predict_proba(X_t)[:, 0]
                    scores.setdefault((source, target), []).append(
                        (preference_log_likelihood(y_t, proba_a), preference_accuracy(y_t, proba_a))
                    )
            print(f"seed {seed}: {source} done", flush=True)

    lines = [
        "# Transfer across the HH-RLHF test splits",
        "",
        "Test log-likelihood / accuracy of the default classifier fitted on the row's split "
        "and scored on the column's (diagonal: a held-out 20% of the same split, grouped by "
        f"prompt), mean over {args.seeds} seeds; all-MiniLM-L6-v2 features. Chance: "
        "log-likelihood −0.693, accuracy 0.5.",
        "",
        "| fitted on \\ scored on | " + " | ".join(SPLITS) + " |",
        "|---|" + "---|" * len(SPLITS),
    ]
    for source in SPLITS:
        cells = []
        for target in SPLITS:
            ll, acc = np.mean(scores[(source, target)], axis=0)
            cells.append(f"{ll:.3f} / {acc:.3f}")
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Command: `python benchmarks/transfer_matrix.py --seeds {args.seeds}`. "
        f"Machine: {describe_machine()}; {datetime.date.today():%Y-%m-%d}.",
        "",
    ]
    text = "\n".join(lines)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
