"""
=======================================================
Real preference pairs in the package: BAL-PM on TL;DR
=======================================================

skbalpm ships a small sample of real human preference data, like scikit-learn's bundled
data sets: 500 Anthropic HH-RLHF pairs and 400 Reddit TL;DR summary comparisons, with their
licences (:func:`~skbalpm.datasets.load_sample_preferences`). It needs no download and no
other files, so this example runs anywhere the package is installed.

In TL;DR, labelers compared several pairs of summaries of the same post: those pairs share
their prompt exactly. This is the situation BAL-PM was made for. BALD scores each pair by
the ensemble's disagreement, and pairs about one post the model is unsure of tend to be
disagreed on together, so a top-``B`` batch of BALD can spend its labels on a few posts.
BAL-PM adds a term that rewards prompts unlike those already picked.
"""

# %%
# The two samples
# ---------------
# Each loader returns the same :class:`~sklearn.utils.Bunch` as the loaders of the full
# releases: ``X`` holds (prompt, response_a, response_b) rows, ``y`` the index of the
# preferred response, ``groups`` the prompt (TL;DR: the post) of each pair.
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np

from skbalpm import (
    BALDQueryStrategy,
    BALPMQueryStrategy,
    PreferenceEnsembleClassifier,
    PreferencePairEmbedder,
)
from skbalpm.datasets import load_sample_preferences

hh = load_sample_preferences("hh-rlhf")
tldr = load_sample_preferences("tldr")
for name, data in (("hh-rlhf", hh), ("tldr", tldr)):
    print(f"{name}: {len(data.y)} pairs, {len(set(data.groups))} distinct prompts")
    print("   ", data.DESCR[:90], "...")

prompt, response_a, response_b = tldr.X[0]
print(prompt[:300], "...")
print("response_a:", response_a)
print("response_b:", response_b)
print("preferred:", "response_a" if tldr.y[0] == 0 else "response_b")

# %%
# A pool with repeated prompts
# ----------------------------
# Most TL;DR posts have one comparison; a few have up to 11. The pool below keeps every
# post with several comparisons and adds single ones, 100 pairs in all, small enough to
# embed with the default model (all-MiniLM-L6-v2, offline) in well under a minute on a CPU.
comparisons_per_post = Counter(tldr.groups)
print("posts by number of comparisons:", sorted(Counter(comparisons_per_post.values()).items()))

rng = np.random.default_rng(0)
repeated = [post for post, n in comparisons_per_post.items() if n > 1]
n_repeated = sum(comparisons_per_post[post] for post in repeated)
single = [post for post, n in comparisons_per_post.items() if n == 1]
kept = set(repeated) | set(rng.choice(single, size=100 - n_repeated, replace=False))
rows = np.flatnonzero([post in kept for post in tldr.groups])
X, y, posts = tldr.X[rows], tldr.y[rows], tldr.groups[rows]
print(f"pool: {len(y)} pairs of {len(kept)} posts")

features = PreferencePairEmbedder(max_length=128).fit_transform(X)

# %%
# One batch from each strategy
# ----------------------------
# An ensemble fitted on 20 random labelled pairs; then BALD and BAL-PM (the paper's
# defaults) each pick 20 pairs from the remaining 80. The labelled set is passed as
# ``X_acquired``: BAL-PM counts the labelled prompts near each candidate.
order = rng.permutation(len(y))
labelled, pool = order[:20], order[20:]
# ``features`` is a DataFrame with block-named columns: ``.iloc`` takes rows and keeps
# the names, from which the classifier and the strategies read the layout
clf = PreferenceEnsembleClassifier(random_state=0).fit(features.iloc[labelled], y[labelled])

picked_posts = {}
for strategy in (BALDQueryStrategy(), BALPMQueryStrategy()):
    indices, _ = strategy(
        clf, features.iloc[pool], n_instances=20, X_acquired=features.iloc[labelled]
    )
    name = type(strategy).__name__.removesuffix("QueryStrategy")
    picked_posts[name] = posts[pool[indices]]
    print(f"{name}: 20 pairs from {len(set(picked_posts[name]))} distinct posts")

# %%
# How the labels are spread over posts
# ------------------------------------
# Each bar is one post, its height the number of the batch's 20 labels spent on it.
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
for ax, (name, batch_posts) in zip(axes, picked_posts.items(), strict=True):
    heights = sorted(Counter(batch_posts).values(), reverse=True)
    ax.bar(range(len(heights)), heights, color="tab:blue" if name == "BALD" else "tab:orange")
    ax.set_title(f"{name}: {len(heights)} posts")
    ax.set_xlabel("posts in the batch")
axes[0].set_ylabel("labels spent on the post")
fig.tight_layout()
plt.show()

# %%
# The same comparison over many rounds and seeds is one command away, on the real text of
# the sample::
#
#     skbalpm benchmark --dataset sample:tldr --strategies random,bald,balpm
#
# For real figures, load the full releases with
# :func:`~skbalpm.datasets.load_summarize_from_feedback` and
# :func:`~skbalpm.datasets.load_hh_rlhf`; see :ref:`benchmarks`.
