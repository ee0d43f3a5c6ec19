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
model load are part of what a Ray run costs). The ratio is the Ray arm's throughput over
the plain arm's; the target is >= 0.9 on one node. ``benchmarks/bench_scale.py`` calls
it and writes the figures; the ``"pairs/s"`` figure's ``details["actors"]`` is the
number of actors, from which it plans larger runs.
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

    log(f"plain transform of {n} pairs ({n_inputs} inputs) ...")
    start = time.perf_counter()
    plain = embedder().fit(X).transform(X)
    plain_s = time.perf_counter() - start
    log(f"  {plain_s:.1f} s")

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    rows = [{"prompt": p, "response_a": a, "response_b": b} for p, a, b in X]
    dataset = ray.data.from_items(rows).materialize()  # in the object store before the timing
    fitted = embedder().fit(X[:1])
    n_gpus, actors, _ = _placement(fitted, num_gpus, concurrency, ray.cluster_resources())
    log(f"embed_pairs with {actors} actors ({n_gpus:g} GPUs each) ...")
    start = time.perf_counter()
    on_ray = embed_pairs(
        dataset, embedder(), batch_size=batch_size, concurrency=concurrency, num_gpus=num_gpus
    )
    ray_s = time.perf_counter() - start
    log(f"  {ray_s:.1f} s")
    difference = float(np.max(np.abs(on_ray.to_numpy() - plain.to_numpy())))

    plain_name = "PreferencePairEmbedder.fit + transform in one process"
    ray_name = f"embed_pairs on Ray, {actors} actors"
    return [
        figure(plain_name, plain_s, "s", setting=setting, details={"pairs": n}),
        figure(
            ray_name,
            ray_s,
            "s",
            setting=setting,
            baseline=(plain_name, plain_s, "s"),
            ratio="baseline/value",
            reads="× faster",
            details={"actors": actors, "num_gpus per actor": n_gpus},
        ),
        figure(
            f"{ray_name}: throughput end to end",
            n / ray_s,
            "pairs/s",
            setting=setting,
            baseline=(plain_name, n / plain_s, "pairs/s"),
            ratio="value/baseline",
            reads="× the in-process throughput",
            target=(">=", 0.9),
            details={
                "actors": actors,
                "num_gpus per actor": n_gpus,
                "pairs": n,
                "distinct inputs": n_inputs,
                "ray s": round(ray_s, 3),
                "plain s": round(plain_s, 3),
                "max |features - in-process features|": difference,
            },
        ),
    ]


if __name__ == "__main__":
    import json
    import sys

    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 600
    print(json.dumps(run(size), indent=1))
