"""
==================================================
Which prompts BALD picks and which BAL-PM picks
==================================================

BALD ranks the pool by the disagreement of the ensemble members alone. When many pairs
share near-duplicate prompts, the pairs the ensemble disagrees on tend to sit together,
and a top-B batch of BALD spends much of its labels in one region of prompt space. BAL-PM
adds a term that rewards prompts far from the ones already acquired, updated after every
pick, so the batch spreads out.

This example fits a :class:`~skbalpm.PreferenceEnsembleClassifier` on a few labelled
pairs of the built-in synthetic task (topics of very uneven size, so a few topics hold
most of the pool and their prompts are near-duplicates), lets
:class:`~skbalpm.BALDQueryStrategy` and :class:`~skbalpm.BALPMQueryStrategy` each pick a
batch from the same pool, and shows the picks on a 2-D PCA of the prompt features.
"""

# %%
# A pool with near-duplicate prompts
# ----------------------------------
# :func:`~skbalpm.datasets.make_synthetic_preferences` in feature mode returns rows in
# the layout ``phi(prompt + a) | phi(prompt + b) | phi(prompt)``; ``groups`` is each
# pair's topic. Topic sizes follow a power law: the largest topics hold a large share of
# the pairs.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skbalpm import (
    BALDQueryStrategy,
    BALPMQueryStrategy,
    PreferenceEnsembleClassifier,
    RandomQueryStrategy,
    split_feature_blocks,
)
from skbalpm.datasets import make_synthetic_preferences

data = make_synthetic_preferences(n_samples=1500, random_state=0)
X, y, topic = data.X, data.y, data.groups
sizes = np.bincount(topic)
big = np.argsort(-sizes)[:10]  # the ten largest topics
print(f"{len(y)} pairs in {len(np.unique(topic))} topics")
print(f"the 10 largest topics hold {np.isin(topic, big).mean():.0%} of the pairs")

# %%
# Fit the ensemble on a small labelled set
# ----------------------------------------
# 60 pairs drawn at random are labelled; the rest is the unlabeled pool.
rng = np.random.default_rng(0)
order = rng.permutation(len(y))
labelled, pool = order[:60], order[60:]
# the synthetic rows are a bare array 3 x 8 wide, which could also be 2 x 12: say which
clf = PreferenceEnsembleClassifier(feature_layout=data.feature_layout, random_state=0)
clf.fit(X[labelled], y[labelled])

# %%
# Pick a batch of 40 with each strategy
# -------------------------------------
# The strategies follow modAL's calling convention. ``X_acquired`` is the labelled set:
# BAL-PM counts its prompts in the neighbourhood of every pool prompt.
n_pick = 40
strategies = {
    "random": RandomQueryStrategy(random_state=0),
    "BALD": BALDQueryStrategy(),
    "BAL-PM": BALPMQueryStrategy(),  # beta=0.01, k=13: the paper's defaults
}
picks = {}
for name, strategy in strategies.items():
    indices, _ = strategy(clf, X[pool], n_instances=n_pick, X_acquired=X[labelled])
    picks[name] = pool[indices]
    picked_topics = topic[picks[name]]
    print(
        f"{name:>7}: {len(np.unique(picked_topics)):>2} distinct topics, "
        f"{np.isin(picked_topics, big).mean():.0%} of the picks from the 10 largest, "
        f"at most {np.bincount(picked_topics).max()} from one topic"
    )

# %%
# What each BAL-PM pick was made of: ``last_components_`` holds, per pick, the BALD value
# and the entropy term at the time of the pick (the score is ``bald + beta *
# entropy_term``). Comparing their spreads shows how much the entropy term weighs.
parts = strategies["BAL-PM"].last_components_
beta = strategies["BAL-PM"].beta
print(f"BALD of the picks:           {parts.bald.min():.4f} .. {parts.bald.max():.4f}")
print(
    f"beta * entropy of the picks: {beta * parts.entropy_term.min():.4f} .. "
    f"{beta * parts.entropy_term.max():.4f}"
)

# %%
# The picks in prompt space
# -------------------------
# A 2-D PCA of the prompt block: grey points are the pool, the large dots a strategy's
# picks. BALD's picks gather in a few regions; BAL-PM's spread over prompt space.
_, _, prompts = split_feature_blocks(X, data.feature_layout)
xy = PCA(n_components=2, random_state=0).fit_transform(prompts)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
for ax, name, colour in zip(axes, ["BALD", "BAL-PM"], ["tab:red", "tab:blue"], strict=True):
    ax.scatter(*xy[pool].T, s=4, c="lightgrey", label="pool")
    ax.scatter(*xy[labelled].T, s=12, c="black", marker="x", label="labelled")
    ax.scatter(*xy[picks[name]].T, s=36, c=colour, edgecolors="white", label=f"{name} picks")
    ax.set_title(f"{name}: {len(np.unique(topic[picks[name]]))} topics in {n_pick} picks")
    ax.set_xlabel("prompt PC 1")
    ax.legend(loc="lower left", fontsize=8)
axes[0].set_ylabel("prompt PC 2")
fig.tight_layout()

# %%
# Topics covered as the batch grows
# ---------------------------------
# The number of distinct topics among the first *n* picks. Greedy selection with the
# entropy term updated after every pick keeps adding new topics.
fig, ax = plt.subplots(figsize=(6, 4))
for name, picked in picks.items():
    seen = [len(np.unique(topic[picked[: n + 1]])) for n in range(n_pick)]
    ax.plot(np.arange(1, n_pick + 1), seen, marker="o", markersize=3, label=name)
ax.set_xlabel("picks")
ax.set_ylabel("distinct topics")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
