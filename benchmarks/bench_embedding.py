"""Throughput of PreferencePairEmbedder against SentenceTransformer.encode, and the cache.

Measures, in one run on the same texts (HH-RLHF helpful-base test pairs):

1. pairs/s of ``PreferencePairEmbedder.transform`` (cache off) against a direct
   ``SentenceTransformer.encode`` of the same distinct texts (two responses with their
   prompt, and the prompt alone), with the same batch size; target ratio >= 0.9;
2. the speed-up of a fully cached second transform over the first (uncached) one;
   target >= 50x.

Both arms run in the same process on the same device (``--device``). Writes
``docs/benchmarks/speed/bench_embedding_<device>.json`` (``--results-dir``), which the
documentation renders.

Usage: ``python benchmarks/bench_embedding.py [--n-pairs 300] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _machine import describe_machine  # benchmarks/ is on the path when run as a script
from _results import describe, figure, write_result

from skbalpm import PreferencePairEmbedder
from skbalpm._embedding_backends import resolve_model_path
from skbalpm._embedding_text import fill_template
from skbalpm.datasets import load_hh_rlhf


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pairs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda: both arms run there")
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="default: docs/benchmarks/speed/"
    )
    args = parser.parse_args(argv)

    X = load_hh_rlhf(args.data / "hh-rlhf" / "helpful-base-test.jsonl.gz").X[: args.n_pairs]
    print(f"machine: {describe_machine()}")
    print(f"data: {len(X)} HH-RLHF helpful-base test pairs, batch size {args.batch_size}")

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(resolve_model_path("default")), device=args.device, local_files_only=True
    )
    embedder = PreferencePairEmbedder(
        batch_size=args.batch_size, device=args.device, cache_dir=None
    ).fit(X)
    template = embedder.pair_template
    texts = list(
        dict.fromkeys(
            text
            for prompt, a, b in X
            for text in (
                fill_template(template, prompt, a)[0],
                fill_template(template, prompt, b)[0],
                prompt,
            )
        )
    )
    print(f"distinct texts: {len(texts)}")

    # warm both paths once (model load, allocator), then time them alternately
    embedder.transform(X[:8])
    model.encode(texts[:8], batch_size=args.batch_size)
    times_direct, times_embedder = [], []
    for _ in range(2):
        start = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
        times_direct.append(time.perf_counter() - start)
        start = time.perf_counter()
        embedder.transform(X)
        times_embedder.append(time.perf_counter() - start)
    t_direct, t_embedder = min(times_direct), min(times_embedder)
    setting = (
        f"{len(X)} HH-RLHF helpful-base test pairs ({len(texts)} distinct texts), "
        f"batch size {args.batch_size}"
    )
    figures = [
        figure(
            "PreferencePairEmbedder.transform, cache off",
            len(X) / t_embedder,
            "pairs/s",
            setting=setting,
            baseline=("SentenceTransformer.encode of the same texts", len(X) / t_direct, "pairs/s"),
            ratio="value/baseline",
            reads="× the throughput of encode",
            target=(">=", 0.9),
            details={
                "best of": len(times_direct),
                "encode s": round(t_direct, 4),
                "transform s": round(t_embedder, 4),
            },
        )
    ]
    print(describe(figures[-1]))

    with tempfile.TemporaryDirectory() as cache_dir:
        cached = PreferencePairEmbedder(
            batch_size=args.batch_size, device=args.device, cache_dir=cache_dir
        ).fit(X)
        cached._get_backend(cached.model_fingerprint_)  # load outside the timing: compute only
        start = time.perf_counter()
        first = cached.transform(X)
        t_first = time.perf_counter() - start
        fresh = PreferencePairEmbedder(
            batch_size=args.batch_size, device=args.device, cache_dir=cache_dir
        ).fit(X)  # a new instance: nothing in memory, the model is never loaded
        start = time.perf_counter()
        second = fresh.transform(X)
        t_second = time.perf_counter() - start
        assert first.to_numpy().tobytes() == second.to_numpy().tobytes()
        assert getattr(fresh, "_loaded_backend", None) is None
    figures.append(
        figure(
            "second transform, every pair cached (a new embedder, model not loaded)",
            t_second,
            "s",
            setting=setting,
            baseline=("first transform, which fills the cache", t_first, "s"),
            ratio="baseline/value",
            reads="× faster",
            target=(">=", 50),
        )
    )
    print(describe(figures[-1]))
    path = write_result(
        "bench_embedding", args.device, vars(args), figures, argv=argv, folder=args.results_dir
    )
    print("wrote", path)


if __name__ == "__main__":
    main()
