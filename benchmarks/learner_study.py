"""Learner study: which Bradley–Terry learner gives calibrated, smooth learning curves.

Random-order learning curves of the classifier candidates below at 50, 100, ..., 550
labels (the benchmark harness's protocol: 50 initial labels and 10 rounds of 50), 700 and
1,000, and one fit on every training label; 5 seeds, on test splits grouped by prompt
(topic for the synthetic task). Two kinds of data sets:

* reported: the built-in synthetic task (data seed 0; the former main job's shape: 16-d
  blocks, topic-size exponent 1.1, 2,000 pairs, split grouped by topic), HH-RLHF
  helpful-base and harmless-base, Reddit TL;DR batch13 (grouped by post). The package's
  benchmarks score on these; no default was chosen on them.
* tuning: the synthetic task with data seeds 1 and 2, HH-RLHF helpful-online and
  helpful-rejection-sampled. The default learner and its settings (length scales, number
  of random features) were chosen on these alone.

Candidates (all reachable through ``PreferenceEnsembleClassifier`` parameters, except
the floor, a scikit-learn model):

* ``deep-ensemble, random split``: the former default (MLP adapters, AdamW, early stopping
  on each member's own random 20% of the labels);
* ``deep-ensemble, grouped split``: the same with whole prompts held out;
* ``laplace, linear``: Bayesian Bradley–Terry regression on the response features, prior
  precision by evidence maximisation, members drawn from the Laplace posterior;
* ``laplace`` (the default): the same with random-Fourier-feature blocks at three length
  scales, one evidence-tuned precision per block;
* ``floor: linear BT, grouped CV``: L2 logistic regression on the standardised feature
  differences with its strength chosen by 5-fold cross-validation grouped by prompt.

Each fit gets its own seed derived from (seed, budget), as in the benchmark harness, so
the curves include the fits' own randomness (initialisations, random features, posterior
draws). Also measured: BALD from 5 members against BALD from 20 members on the same labels.

Writes ``docs/benchmarks/learner_study/``: ``curves.csv`` (every fit), ``statistics.csv``
(per data set and candidate), ``targets.csv`` (the default's targets), ``bald_members.csv``
and ``bald_summary.csv``, ``summary.md`` (all tables, for reading), the learning curves
(``learning_curves.png``/``.svg``) and ``study.json`` (machine, date, command); the
documentation renders its tables from the CSV files. Resumable: finished jobs are kept under
``benchmarks/results/learner_study/``.

Run:  python benchmarks/learner_study.py [--seeds 5] [--n-jobs 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from joblib import Parallel, delayed
from scipy.stats import spearmanr

from skbalpm.acquisition import bald
from skbalpm.benchmark import split_train_test
from skbalpm.benchmark._metrics import preference_accuracy, preference_log_likelihood
from skbalpm.ensemble import PreferenceEnsembleClassifier

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "benchmarks" / "learner_study"
JOBS = ROOT / "benchmarks" / "results" / "learner_study"
CHANCE = float(np.log(0.5))

REPORTED = ("synthetic", "hh-helpful-base", "hh-harmless-base", "tldr-batch13")
TUNING = ("synthetic-seed1", "synthetic-seed2", "hh-helpful-online", "hh-rejection-sampled")

CANDIDATES = {
    "deep-ensemble, random split": dict(method="deep-ensemble", early_stopping_split="random"),
    "deep-ensemble, grouped split": dict(method="deep-ensemble"),
    "laplace, linear": dict(method="laplace", n_random_features=0),
    "laplace": dict(method="laplace"),
    "floor: linear BT, grouped CV": None,
}
DEFAULT = "laplace"
OLD_DEFAULT = "deep-ensemble, random split"
DEEP_DATASETS = ("synthetic", "tldr-batch13")
"""Where the deep-ensemble candidates run: a deep ensemble's curve costs about 5 CPU
minutes per seed on 2,000 pairs (against about 1 for the Laplace default), so on a 2-core
machine the former learner is measured on the synthetic task and the TL;DR file only; the
HH splits compare the default with the floor and the linear Laplace model."""
FLOOR = "floor: linear BT, grouped CV"
STEP, MAX_BUDGET = 50, 1000
BALD_BUDGETS = (100, 300, 550)


# ------------------------------------------------------------------------------ data


FEATURE_VARIANTS = {
    "prompt + response": {},
    "response only": {"pair_template": "{response}"},
    "response minus prompt": "centred",
}
"""How the responses are represented, for the features part of the study: the embedder's
default input (prompt and response together), the response alone (``pair_template=
"{response}"``; the prompt block stays for BAL-PM), and the default features with the
prompt's own features subtracted from each response block."""
FEATURE_DATASETS = ("tldr-batch13", "hh-helpful-base", "hh-harmless-base")
FEATURE_CANDIDATES = (DEFAULT, FLOOR)


def load_dataset(name, variant="prompt + response"):
    """Features in the "a|b|prompt" layout, labels and groups of a study data set.

    Real data sets are embedded with the default embedder (its cache makes this cheap
    after the first time) and kept under ``benchmarks/results/`` for the worker processes.
    """
    suffix = "" if variant == "prompt + response" else "-" + _key(variant)
    path = JOBS / "features" / f"{name}{suffix}.npz"
    if path.exists():
        saved = np.load(path, allow_pickle=False)
        return saved["X"], saved["y"], saved["groups"]
    X, y, groups = _load_dataset(name, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".tmp.npz"), X=X, y=y, groups=groups)
    path.with_suffix(".tmp.npz").replace(path)
    return X, y, groups


def _load_dataset(name, variant):
    from skbalpm.datasets import (
        load_hh_rlhf,
        load_summarize_from_feedback,
        make_synthetic_preferences,
    )

    if name.startswith("synthetic"):
        seed = int(name.removeprefix("synthetic-seed") or 0) if name != "synthetic" else 0
        # the task the learner's targets were set on (the main job's task until its
        # topics were made more uneven and its features narrower): 16-d, exponent 1.1
        data = make_synthetic_preferences(
            n_samples=2000, n_features=16, topic_size_exponent=1.1, random_state=seed
        )
        return data.X, data.y, np.asarray(data.groups).astype(str)
    if FEATURE_VARIANTS[variant] == "centred":
        X, y, groups = load_dataset(name)
        d = X.shape[1] // 3
        prompt = X[:, 2 * d :]
        return np.hstack([X[:, :d] - prompt, X[:, d : 2 * d] - prompt, prompt]), y, groups
    from skbalpm.embedding import PreferencePairEmbedder

    files = {
        "hh-helpful-base": DATA / "hh-rlhf" / "helpful-base-test.jsonl.gz",
        "hh-harmless-base": DATA / "hh-rlhf" / "harmless-base-test.jsonl.gz",
        "hh-helpful-online": DATA / "hh-rlhf" / "helpful-online-test.jsonl.gz",
        "hh-rejection-sampled": DATA / "hh-rlhf" / "helpful-rejection-sampled-test.jsonl.gz",
        "tldr-batch13": DATA / "summarize-from-feedback" / "tldr-batch13.jsonl",
    }
    path = files[name]
    loader = load_summarize_from_feedback if name.startswith("tldr") else load_hh_rlhf
    data = loader(path)
    embedder = PreferencePairEmbedder(verbose=0, **FEATURE_VARIANTS[variant])
    X = embedder.fit_transform(data.X)
    return np.asarray(X, dtype=np.float32), data.y, np.asarray(data.groups).astype(str)


def budgets_for(n_train):
    """50, 100, ... 550 (the benchmark's protocol), 700 and 1,000, then every label."""
    budgets = [*range(STEP, 551, STEP), 700, MAX_BUDGET]
    return [n for n in budgets if n < n_train] + [n_train]


# -------------------------------------------------------------------------- learners


def _derived_seed(*keys):
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


class GroupedCVLinearBT:
    """The floor: L2 logistic regression on standardised differences, C by grouped CV."""

    def fit(self, X, y, groups):
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss
        from sklearn.model_selection import GroupKFold

        X_a, X_b = np.split(X[:, : 2 * (X.shape[1] // 3)], 2, axis=1)
        responses = np.vstack([X_a, X_b])
        self.mean_, self.scale_ = responses.mean(axis=0), responses.std(axis=0) + 1e-12
        D, a_preferred = self._differences(X), (y == 0).astype(int)
        n_splits = min(5, len(np.unique(groups)))
        folds = [
            (train, test)
            for train, test in GroupKFold(n_splits).split(D, a_preferred, groups)
            if len(np.unique(a_preferred[train])) == 2
        ]

        def model(C):
            return LogisticRegression(C=C, fit_intercept=False, max_iter=5000)

        def cv_log_loss(C):  # both labels named: a grouped fold may hold one label only
            return np.mean(
                [
                    log_loss(
                        a_preferred[test],
                        model(C).fit(D[train], a_preferred[train]).predict_proba(D[test]),
                        labels=[0, 1],
                    )
                    for train, test in folds
                ]
            )

        self.C_ = min(np.logspace(-4, 2, 13), key=cv_log_loss)
        self.model_ = model(self.C_).fit(D, a_preferred)
        return self

    def _differences(self, X):
        d = X.shape[1] // 3
        return (X[:, :d] - X[:, d : 2 * d]) / self.scale_

    def predict_proba_a(self, X):
        return self.model_.predict_proba(self._differences(X))[:, 1]


def fit_candidate(name, X, y, groups, seed):
    """A fitted model and its P(response_a preferred) function."""
    params = CANDIDATES[name]
    if params is None:
        model = GroupedCVLinearBT().fit(X, y, groups)
        return model.predict_proba_a
    clf = PreferenceEnsembleClassifier(feature_layout="a|b|prompt", random_state=seed, **params)
    clf.fit(X, y)
    return lambda X_new: clf.predict_proba(X_new)[:, 0]


# ------------------------------------------------------------------------------ jobs


def curve_job(dataset, candidate, seed, variant="prompt + response"):
    """Every budget of one (data set, candidate, seed[, features]): rows of a curves table."""
    parts = (
        (dataset, candidate, seed)
        if variant == "prompt + response"
        else (dataset, candidate, seed, variant)
    )
    path = JOBS / "curves" / f"{_key(*parts)}.json"
    if path.exists():  # (a job file from a finer grid keeps only this grid's budgets)
        rows = json.loads(path.read_text())
        n_train = next(row["n_labels"] for row in rows if row["all_labels"])
        return [row for row in rows if row["n_labels"] in budgets_for(n_train)]
    X, y, groups = load_dataset(dataset, variant)
    train, test = split_train_test(len(y), 0.2, seed, groups)
    order = np.random.RandomState(seed).permutation(train)
    rows = []
    for n in budgets_for(len(train)):
        labelled = order[:n]
        start = time.perf_counter()
        predict = fit_candidate(
            candidate, X[labelled], y[labelled], groups[labelled], _derived_seed(seed, n)
        )
        fit_seconds = time.perf_counter() - start
        proba_a = predict(X[test])
        rows.append(
            {
                "dataset": dataset,
                "role": "reported" if dataset in REPORTED else "tuning",
                "candidate": candidate,
                "features": variant,
                "seed": seed,
                "n_labels": n,
                "all_labels": n == len(train),
                "test_log_likelihood": preference_log_likelihood(y[test], proba_a),
                "test_accuracy": preference_accuracy(y[test], proba_a),
                "fit_seconds": fit_seconds,
            }
        )
    _atomic_json(path, rows)
    return rows


def bald_job(dataset, method, seed):
    """BALD from 5 and from 20 members on the same labels, and 20 against another 20."""
    path = JOBS / "bald" / f"{_key(dataset, method, seed)}.json"
    if path.exists():
        return json.loads(path.read_text())
    X, y, groups = load_dataset(dataset)
    train, _ = split_train_test(len(y), 0.2, seed, groups)
    order = np.random.RandomState(seed).permutation(train)
    params = CANDIDATES[method]
    rows = []
    for n in BALD_BUDGETS:
        labelled, pool = order[:n], order[n:]

        def pool_bald(n_members, key, labelled=labelled, pool=pool, n=n):
            clf = PreferenceEnsembleClassifier(
                feature_layout="a|b|prompt",
                n_members=n_members,
                random_state=_derived_seed(seed, n, key),
                **params,
            ).fit(X[labelled], y[labelled])
            return bald(clf.predict_member_proba(X[pool]))

        five, twenty, other_twenty = pool_bald(5, 1), pool_bald(20, 2), pool_bald(20, 3)
        top = 50
        rows.append(
            {
                "dataset": dataset,
                "method": method,
                "seed": seed,
                "n_labels": n,
                "mean_bald_5": float(five.mean()),
                "mean_bald_20": float(twenty.mean()),
                "spearman_5_vs_20": float(spearmanr(five, twenty).statistic),
                "spearman_20_vs_20": float(spearmanr(twenty, other_twenty).statistic),
                "top50_overlap_5_vs_20": _overlap(five, twenty, top),
                "top50_overlap_20_vs_20": _overlap(twenty, other_twenty, top),
            }
        )
    _atomic_json(path, rows)
    return rows


def _overlap(scores_a, scores_b, top):
    best_a = set(np.argsort(-scores_a)[:top].tolist())
    best_b = set(np.argsort(-scores_b)[:top].tolist())
    return len(best_a & best_b) / top


def _key(*parts):
    text = "|".join(str(p) for p in parts)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _atomic_json(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


# --------------------------------------------------------------------------- summary


def curve_statistics(curves):
    """Per (data set, features, candidate): the figures the targets are read from."""
    rows = []
    keys = ["dataset", "features", "candidate"]
    for (dataset, features, candidate), group in curves.groupby(keys, sort=False):
        partial = group[~group["all_labels"]]
        by_seed = partial.pivot(index="seed", columns="n_labels", values="test_log_likelihood")
        rounds = by_seed[[n for n in by_seed.columns if n <= 550]]
        steps = np.diff(rounds.to_numpy(), axis=1)  # adding 50 labels, 50 ... 550, per seed
        falls = -steps[steps < 0]
        mean_curve = by_seed.mean(axis=0)
        all_mean = group[group["all_labels"]]["test_log_likelihood"].mean()
        at_550 = partial[partial["n_labels"] == 550]["fit_seconds"]
        rows.append(
            {
                "dataset": dataset,
                "role": group["role"].iloc[0],
                "features": features,
                "candidate": candidate,
                "n_all_labels": int(group[group["all_labels"]]["n_labels"].iloc[0]),
                **{
                    f"ll_{n}": mean_curve.get(n, np.nan)
                    for n in (50, 100, 200, 300, 550, 800, 1000)
                },
                "ll_all": all_mean,
                "min_mean_ll": float(mean_curve.min()),
                "max_mean_ll_below_all": float(mean_curve.max()),
                "share_falling_rounds": float((steps < 0).mean()),
                "mean_fall": float(falls.mean()) if len(falls) else 0.0,
                "largest_fall": float(falls.max()) if len(falls) else 0.0,
                "seed_sd_at_550": float(by_seed.get(550, pd.Series(dtype=float)).std()),
                "fit_seconds_550": float(at_550.mean()) if len(at_550) else np.nan,
            }
        )
    return pd.DataFrame(rows)


TARGETS = (
    ("mean test LL >= log(1/2) - 0.002 at every budget", "min_mean_ll", ">=", CHANCE - 0.002),
    ("falling rounds <= 20%", "share_falling_rounds", "<=", 0.20),
    ("mean fall <= 0.003 nats", "mean_fall", "<=", 0.003),
)


def target_rows(stats):
    """The default's targets per reported data set: value, bound and whether it is met."""
    default = stats[(stats["candidate"] == DEFAULT) & (stats["role"] == "reported")]
    floor = stats[(stats["candidate"] == FLOOR) & (stats["features"] == "prompt + response")]
    floor = floor.set_index("dataset")["ll_all"]
    default = default[default["features"] == "prompt + response"]
    rows = []
    for _, row in default.iterrows():
        checks = [(label, row[column], op, bound) for label, column, op, bound in TARGETS]
        checks.append(
            ("all-label fit >= grouped-CV linear BT", row["ll_all"], ">=", floor[row["dataset"]])
        )
        checks.append(
            (
                "all-label fit >= mean at every smaller budget",
                row["ll_all"],
                ">=",
                row["max_mean_ll_below_all"],
            )
        )
        if row["dataset"] == "synthetic":
            checks.append(("all training pairs reach test LL >= -0.40", row["ll_all"], ">=", -0.40))
        for label, value, op, bound in checks:
            met = value >= bound if op == ">=" else value <= bound
            rows.append(
                {
                    "dataset": row["dataset"],
                    "target": label,
                    "value": value,
                    "op": op,
                    "bound": bound,
                    "met": bool(met),
                }
            )
    return pd.DataFrame(rows)


def target_table(targets):
    lines = ["| data set | target | value | met |", "|---|---|---|---|"]
    for _, t in targets.iterrows():
        lines.append(
            f"| {t['dataset']} | {t['target']} | {t['value']:.4f} ({t['op']} {t['bound']:.4f}) "
            f"| {'yes' if t['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def curve_table(stats, role=None, features="prompt + response"):
    """Mean test LL per budget and the noise figures, one row per (data set, candidate)."""
    shown = stats if role is None else stats[stats["role"] == role]
    if features is not None:
        shown = shown[shown["features"] == features]
    header = (
        "| data set | candidate | 50 | 100 | 300 | 550 | 1000 | all (n) | falling rounds | "
        "mean fall | largest fall | sd over seeds at 550 | fit s at 550 |"
    )
    lines = [header, "|" + "---|" * 13]
    for _, r in shown.iterrows():

        def fmt(value, digits=3):
            return "–" if pd.isna(value) else f"{value:.{digits}f}"

        name = r["candidate"] if features is not None else f"{r['candidate']}, {r['features']}"
        lines.append(
            f"| {r['dataset']} | {name} | {fmt(r['ll_50'])} | {fmt(r['ll_100'])} | "
            f"{fmt(r['ll_300'])} | {fmt(r['ll_550'])} | {fmt(r['ll_1000'])} | "
            f"{fmt(r['ll_all'])} ({r['n_all_labels']}) | {r['share_falling_rounds']:.0%} | "
            f"{fmt(r['mean_fall'], 4)} | {fmt(r['largest_fall'], 3)} | "
            f"{fmt(r['seed_sd_at_550'], 3)} | {fmt(r['fit_seconds_550'], 2)} |"
        )
    return "\n".join(lines)


def bald_summary(bald_rows):
    """Mean over seeds of the BALD comparison, per (data set, method, labels)."""
    table = pd.DataFrame(bald_rows)
    keys = ["dataset", "method", "n_labels"]
    return table.groupby(keys, sort=False).mean(numeric_only=True).drop(columns="seed")


def bald_table(summary):
    lines = [
        "| data set | method | labels | mean BALD (5) | mean BALD (20) | Spearman 5 vs 20 | "
        "Spearman 20 vs 20 | top-50 overlap 5 vs 20 | top-50 overlap 20 vs 20 |",
        "|" + "---|" * 9,
    ]
    for (dataset, method, n), r in summary.iterrows():
        lines.append(
            f"| {dataset} | {method} | {n} | {r['mean_bald_5']:.4f} | {r['mean_bald_20']:.4f} | "
            f"{r['spearman_5_vs_20']:.2f} | {r['spearman_20_vs_20']:.2f} | "
            f"{r['top50_overlap_5_vs_20']:.2f} | {r['top50_overlap_20_vs_20']:.2f} |"
        )
    return "\n".join(lines)


def plot_curves(curves, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(curves["dataset"]))
    # one colour per candidate on every panel (not every panel shows every candidate)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {candidate: palette[i] for i, candidate in enumerate(CANDIDATES)}
    n_cols = 4
    n_rows = int(np.ceil(len(datasets) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.4 * n_rows), squeeze=False)
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        shown = curves[(curves["dataset"] == dataset) & ~curves["all_labels"]]
        for candidate, group in shown.groupby("candidate", sort=False):
            by_n = group.groupby("n_labels")["test_log_likelihood"]
            mean, sd = by_n.mean(), by_n.std()
            colour = colours[candidate]
            ax.plot(mean.index, mean.to_numpy(), label=candidate, lw=1.4, color=colour)
            ax.fill_between(mean.index, mean - sd, mean + sd, color=colour, alpha=0.12, lw=0)
        ax.axhline(CHANCE, color="k", lw=0.8, ls=":")
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("labels (random order)")
        ax.set_ylabel("test log-likelihood")
    for ax in list(axes.flat)[len(datasets) :]:
        ax.axis("off")
    handles = [
        plt.Line2D([], [], color=colours[c], lw=1.4)
        for c in CANDIDATES
        if c in set(curves["candidate"])
    ]
    labels = [c for c in CANDIDATES if c in set(curves["candidate"])]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    for suffix in ("png", "svg"):
        fig.savefig(out / f"learning_curves.{suffix}", dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------ main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=None, help="data sets to run")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    datasets = args.only or [*REPORTED, *TUNING]
    for name in datasets:  # embed once, in this process, before the workers need it
        load_dataset(name)

    jobs = [
        delayed(curve_job)(dataset, candidate, seed)
        for dataset in datasets
        for candidate in CANDIDATES
        if dataset in DEEP_DATASETS
        or CANDIDATES[candidate] is None
        or CANDIDATES[candidate]["method"] != "deep-ensemble"
        for seed in range(args.seeds)
    ]
    jobs += [
        delayed(bald_job)(dataset, DEFAULT, seed)
        for dataset in datasets
        if dataset in REPORTED
        for seed in range(args.seeds)
    ]
    feature_datasets = [name for name in datasets if name in FEATURE_DATASETS]
    for name in feature_datasets:
        for variant in FEATURE_VARIANTS:
            load_dataset(name, variant)
    jobs += [
        delayed(curve_job)(dataset, candidate, seed, variant)
        for dataset in feature_datasets
        for variant in FEATURE_VARIANTS
        if variant != "prompt + response"
        for candidate in FEATURE_CANDIDATES
        for seed in range(args.seeds)
    ]
    start = time.perf_counter()
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(jobs)
    curves = pd.DataFrame([row for rows in results for row in rows if "candidate" in row])
    curves["features"] = curves["features"].fillna("prompt + response")  # older job files
    bald_rows = [row for rows in results for row in rows if "method" in row]

    is_default_features = curves["features"] == "prompt + response"
    feature_curves = curves[
        curves["dataset"].isin(feature_datasets) & curves["candidate"].isin(FEATURE_CANDIDATES)
    ]
    curves = curves[is_default_features]
    feature_stats = curve_statistics(feature_curves)
    feature_stats.to_csv(out / "feature_statistics.csv", index=False)
    curves.to_csv(out / "curves.csv", index=False)
    stats = curve_statistics(curves)
    stats.to_csv(out / "statistics.csv", index=False)
    targets = target_rows(stats)
    targets.to_csv(out / "targets.csv", index=False)
    pd.DataFrame(bald_rows).to_csv(out / "bald_members.csv", index=False)
    bald = bald_summary(bald_rows)
    bald.to_csv(out / "bald_summary.csv")
    plot_curves(curves, out)
    machine = describe_machine()
    command = shlex.join(["python", "benchmarks/learner_study.py", *(argv or sys.argv[1:])])
    summary = "\n\n".join(
        [
            f"Machine: {machine}; {datetime.date.today():%Y-%m-%d}; command: `{command}`.",
            "### Targets of the default (reported data sets)",
            target_table(targets),
            "### Learning curves, reported data sets (mean test log-likelihood over seeds)",
            curve_table(stats, "reported"),
            "### Learning curves, tuning data sets (the defaults were chosen here)",
            curve_table(stats, "tuning"),
            "### BALD from 5 members against 20 members on the same labels",
            bald_table(bald),
            "### Features: how the responses are represented",
            curve_table(feature_stats, features=None),
        ]
    )
    (out / "summary.md").write_text(summary + "\n", encoding="utf-8")
    (out / "study.json").write_text(
        json.dumps(
            {
                "machine": machine,
                "date": f"{datetime.date.today():%Y-%m-%d}",
                "command": command,
                "seconds": time.perf_counter() - start,
                "candidates": {k: v for k, v in CANDIDATES.items()},
                "reported": REPORTED,
                "deep_ensemble_datasets": DEEP_DATASETS,
                "tuning": TUNING,
                "feature_variants": FEATURE_VARIANTS,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(summary)


if __name__ == "__main__":
    main()
