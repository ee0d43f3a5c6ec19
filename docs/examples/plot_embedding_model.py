"""
=================================
Plugging in an embedding model
=================================

:class:`~skbalpm.PreferencePairEmbedder` turns raw (prompt, response_a, response_b)
triples into the features the classifier and BAL-PM read: per row,
``phi(prompt + response_a) | phi(prompt + response_b) | phi(prompt)``. This example uses
the default model, all-MiniLM-L6-v2 (installed with the package, loaded fully offline), on
a few dozen real HH-RLHF pairs, and shows what comes out: the three blocks, what swapping
the responses does, the cache, and how the prompt block measures how close two prompts are.

Any local sentence-transformers model or Hugging Face causal LM plugs in the same way,
``PreferencePairEmbedder(model="/path/to/model")``; see :ref:`user_guide_features`.
"""

# %%
# Embed a few real pairs
# ----------------------
import time

import matplotlib.pyplot as plt
import numpy as np

from skbalpm import PreferencePairEmbedder, split_feature_blocks, swap_response_blocks
from skbalpm.datasets import load_sample_preferences

data = load_sample_preferences("hh-rlhf", random_state=0)  # bundled with the package
rows = np.random.default_rng(0).permutation(len(data.y))[:30]
X, y = data.X[rows], data.y[rows]

embedder = PreferencePairEmbedder(max_length=128).fit(X)
print(f"backend: {embedder.backend_}, block width d = {embedder.embedding_dim_}")
start = time.perf_counter()
features = embedder.transform(X)
first = time.perf_counter() - start
print(f"features: {features.shape} {features.to_numpy().dtype}")

# %%
# The output is a DataFrame whose column names say the layout: ``a_0 .. a_383`` (prompt +
# response_a), ``b_0 ..`` (prompt + response_b), ``prompt_0 ..`` (the prompt alone). The
# classifier and the strategies read the layout from them: 1152 unnamed columns could
# as well be two blocks of 576. ``np.asarray(features)`` is the bare float32 array.
print("columns:", features.columns[[0, 383, 384, 768, 1151]].tolist())

# %%
# The three blocks
# ----------------
# :func:`~skbalpm.split_feature_blocks` returns views of the blocks. The classifier reads
# the two response blocks; the BAL-PM entropy term reads the prompt block.
phi_a, phi_b, phi_prompt = split_feature_blocks(features)
print("block shapes:", phi_a.shape, phi_b.shape, phi_prompt.shape)

# %%
# Swapping response_a and response_b swaps the first two blocks exactly, which is why
# the classifier's two probability columns swap exactly too.
swapped = embedder.transform(X[:, [0, 2, 1]])
print("swap = swapped blocks:", np.array_equal(swapped, swap_response_blocks(features)))

# %%
# The cache
# ---------
# Every distinct text is embedded once and stored in an SQLite cache
# (``$SKBALPM_CACHE_DIR``, else ``~/.cache/skbalpm``; ``cache_dir=None`` turns it off).
# A second transform of the same pairs is a cache look-up and does not load the model.
start = time.perf_counter()
again = PreferencePairEmbedder(max_length=128).fit(X).transform(X)
second = time.perf_counter() - start
print(f"first transform {first:.2f} s (shorter when an earlier run cached these texts)")
print(f"second transform, fresh embedder, {second:.3f} s; same features:", end=" ")
print(np.array_equal(again, features))

# %%
# What the prompt block sees
# --------------------------
# Cosine similarity between the prompt features of the 30 pairs. BAL-PM's entropy term
# measures distances in this space: pairs whose prompts are close count as
# near-duplicates.
unit = phi_prompt / np.linalg.norm(phi_prompt, axis=1, keepdims=True)
similarity = unit @ unit.T
fig, ax = plt.subplots(figsize=(5.2, 4.4))
image = ax.imshow(similarity, vmin=-0.2, vmax=1.0, cmap="viridis")
fig.colorbar(image, ax=ax, label="cosine similarity of prompt features")
ax.set_xlabel("pair")
ax.set_ylabel("pair")
ax.set_title("30 HH-RLHF prompts, all-MiniLM-L6-v2")
fig.tight_layout()

closest = np.unravel_index(np.argmax(np.triu(similarity, k=1)), similarity.shape)
print(f"most similar prompts (cosine {similarity[closest]:.2f}):")
for i in closest:
    print("   ", repr(X[i, 0].strip()[:100]))

# %%
# Your own language model
# -----------------------
# The paper's features are the last hidden state at the final token of a 7B chat model,
# each response encoded as prompt + response. With a local copy of such a model, the same
# code gives 4096-wide blocks (bfloat16 on a GPU)::
#
#     embedder = PreferencePairEmbedder(
#         model="/models/Llama-2-7b-chat-hf",   # a local folder: nothing is downloaded
#         pair_template="{prompt}\n\nResponse: {response}",
#         max_length=1024,
#         device="cuda",
#     )
#
# and the classifier's adapter is then sized like the paper's,
# ``PreferenceEnsembleClassifier(hidden_layer_sizes=(2048, 256))``.
plt.show()
