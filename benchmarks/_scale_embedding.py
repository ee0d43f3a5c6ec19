"""Embedding throughput on Ray (``embed_pairs``) against the plain in-process embedder.

``run(n_texts)`` takes the first HH-RLHF helpful-base test pairs that hold ``n_texts``
distinct model inputs (two prompt + response texts and the prompt alone per pair) and
embeds them twice in this process, on the same device, with no cache on either side:

* the plain arm: a new :class:`~skbalpm.PreferencePairEmbedder`, ``fit`` then
  ``transform`` (the model loaded in this process, which has torch imported already);
* the Ray arm: :func:`skbalpm.distributed.embed_pairs` of the same pairs as a Ray
  Dataset (made before the timing), on the running Ray cluster (one is started when
  there is none), with no store: every input is embedded, by an actor pool that loads
  the model once per actor.

Both are timed end to end, model loading included (the actors' start-up, imports and
model load are part of what a Ray run costs), and again on the first ``N_SMALL`` pairs
alone: that small job is almost all fixed cost (start-up, model load), so the time the
``n - N_SMALL`` further pairs add is each arm's steady throughput, which is what a pool of
10^6 pairs sees. The target, >= 0.9 on one node, is on the steady throughputs' ratio; the
end-to-end ratio of this short job and each arm's fixed cost are reported beside it.
``benchmarks/bench_scale.py`` calls it and writes the figures; the ``"pairs/s"``
figure's ``details["actors"]`` is the number of actors, from which it plans larger runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from _results import figure  # benchmarks/ is on the path when run as a script

from skbalpm import PreferencePairEmbedder
from skbalpm.datasets import load_hh_rlhf
from skbalpm.embedding import _distinct_inputs

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SKBALPM_SHARED_DATA", REPO.parent / "shared" / "data"))
HH_FILE = Path("hh-rlhf") / "helpful-base-test.jsonl.gz"
N_SMALL = 10
"""Pairs of the small job that measures each arm's fixed cost."""


def hh_pairs(n_texts, data=DATA):
    """The first HH-RLHF helpful-base test pairs holding ``n_texts`` distinct inputs.

    Returns
    -------
    triples : ndarray of shape (n_pairs, 3), object
    n_inputs : int
        Distinct model inputs of those pairs (>= ``n_texts`` unless the file runs out).
    """
    X = load_hh_rlhf(Path(data) / HH_FILE).X
    specs, index_N3 = _distinct_inputs(X)
    # inputs first needed by each row: a row adds the ones no earlier row holds
    first_row = np.full(len(specs), len(X))
    np.minimum.at(first_row, index_N3.ravel(), np.repeat(np.arange(len(X)), 3))
    n_inputs_by_row = np.cumsum(np.bincount(first_row, minlength=len(X) + 1)[: len(X)])
    n_pairs = min(len(X), int(np.searchsorted(n_inputs_by_row, n_texts)) + 1)
    return X[:n_pairs], int(n_inputs_by_row[n_pairs - 1])


def run(
    n_texts,
    *,
    model="default",
    device="cpu",
    batch_size=None,
    concurrency=None,
    num_gpus=None,
    data=DATA,
    log=print,
):
    """Time ``embed_pairs`` on Ray against ``PreferencePairEmbedder.transform``.

    Parameters
    ----------
    n_texts : int
        Distinct model inputs to embed (about three per HH-RLHF pair).
    model : str, default="default"
        The embedder's model.
    device : str, default="cpu"
        The embedder's device in both arms (the actors get GPUs for ``"cuda"``).
    batch_size, concurrency, num_gpus : optional
        Passed to :func:`~skbalpm.distributed.embed_pairs` (None: its defaults).
    data : path, default=$SKBALPM_SHARED_DATA or ../shared/data
        Folder holding ``hh-rlhf/helpful-base-test.jsonl.gz``.
    log : callable, default=print

    Returns
    -------
    figures : list of dict
        :func:`_results.figure` dicts: each arm's seconds, and the Ray arm's pairs/s
        against the plain arm's (ratio, target >= 0.9; ``details["actors"]``).
    """
    import ray

    from skbalpm.distributed import embed_pairs
    from skbalpm.distributed._embed import _placement

    X, n_inputs = hh_pairs(n_texts, data)
    n = len(X)
    setting = (
        f"{n} HH-RLHF helpful-base test pairs ({n_inputs} distinct inputs), model {model}, "
        f"device {device}, no cache"
    )

    def embedder():
        return PreferencePairEmbedder(model, device=device, cache_dir=None)

    def plain_arm(rows):
        start = time.perf_counter()
        features = embedder().fit(rows).transform(rows)
        return features, time.perf_counter() - start

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    fitted = embedder().fit(X[:1])
    n_gpus, actors, _ = _placement(fitted, num_gpus, concurrency, ray.cluster_resources())

    def ray_arm(rows):
        items = [{"prompt": p, "response_a": a, "response_b": b} for p, a, b in rows]
        dataset = ray.data.from_items(items).materialize()  # in the object store, untimed
        start = time.perf_counter()
        features = embed_pairs(
            dataset, embedder(), batch_size=batch_size, concurrency=concurrency, num_gpus=num_gpus
        )
        return features, time.perf_counter() - start

    log(f"{n} pairs ({n_inputs} inputs), and the first {N_SMALL}; {actors} actors on Ray ...")
    _, plain_small_s = plain_arm(X[:N_SMALL])
    plain, plain_s = plain_arm(X)
    _, ray_small_s = ray_arm(X[:N_SMALL])
    on_ray, ray_s = ray_arm(X)
    log(f"  plain {plain_small_s:.1f} s + {plain_s:.1f} s; Ray {ray_small_s:.1f} s + {ray_s:.1f} s")
    difference = float(np.max(np.abs(on_ray.to_numpy() - plain.to_numpy())))
    # the pairs past the small job, over the time they add: the steady throughput
    steady_plain = (n - N_SMALL) / (plain_s - plain_small_s)
    steady_ray = (n - N_SMALL) / (ray_s - ray_small_s)

    plain_name = "PreferencePairEmbedder.fit + transform in one process"
    ray_name = f"embed_pairs on Ray, {actors} actors"
    placement = {"actors": actors, "num_gpus per actor": n_gpus}
    return [
        figure(
            f"{ray_name}: fixed cost (a job of {N_SMALL} pairs)",
            ray_small_s,
            "s",
            setting=setting,
            baseline=(plain_name, plain_small_s, "s"),
            details=placement,
        ),
        figure(
            f"{ray_name}: end to end",
            ray_s,
            "s",
            setting=setting,
            baseline=(plain_name, plain_s, "s"),
            ratio="baseline/value",
            reads="× faster",
            details={**placement, "max |features - in-process features|": difference},
        ),
        figure(
            f"{ray_name}: steady throughput",
            steady_ray,
            "pairs/s",
            setting=setting,
            baseline=(plain_name, steady_plain, "pairs/s"),
            ratio="value/baseline",
            reads="× the in-process throughput",
            target=(">=", 0.9),
            details={
                **placement,
                "pairs": n,
                "distinct inputs": n_inputs,
                "end-to-end pairs/s (Ray, plain)": [n / ray_s, n / plain_s],
            },
        ),
    ]


if __name__ == "__main__":
    import json
    import sys

    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 600
    print(json.dumps(run(size), indent=1))
