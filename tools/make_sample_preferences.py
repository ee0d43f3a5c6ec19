"""Rebuild the real preference sample bundled in ``skbalpm/datasets/data/``.

The sample is a seeded selection of whole records, copied byte for byte, from two public
releases (see ``skbalpm/datasets/data/README.md`` for their licences):

* HH-RLHF helpful-base (test split): ``N_HH`` records drawn without replacement among
  those the loader keeps (two different responses after a shared prompt), in file order;
* Reddit TL;DR comparisons (summarize-from-feedback, batch 13): whole posts drawn in a
  seeded order until at least ``N_TLDR`` comparisons are in, so that the comparisons of
  one post stay together (a group split of the sample never cuts a post), in file order.

Usage, from the repository root (the data folder defaults to ``../shared/data``)::

    python tools/make_sample_preferences.py [DATA_DIR]

The gzip files are written with a zero time stamp and no file name, so the same input
gives the same bytes with the same zlib.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from skbalpm.datasets import split_hh_conversations

SEED = 0
N_HH = 500
N_TLDR = 400
HH_SOURCE = Path("hh-rlhf") / "helpful-base-test.jsonl.gz"
TLDR_SOURCE = Path("summarize-from-feedback") / "tldr-batch13.jsonl"
OUTPUT_DIR = Path(__file__).resolve().parents[1] / "skbalpm" / "datasets" / "data"
OUTPUTS = {"hh-rlhf": "hh-rlhf-helpful-base.jsonl.gz", "tldr": "tldr-batch13.jsonl.gz"}


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line for line in handle if line.strip()]


def _distinct(response_a, response_b) -> bool:
    return response_a is not None and response_a.strip() != response_b.strip()


def select_hh(lines: list[str], n: int = N_HH, seed: int = SEED) -> list[str]:
    """``n`` usable HH-RLHF lines drawn with ``seed``, in file order."""
    usable = []
    for index, line in enumerate(lines):
        record = json.loads(line)
        _, chosen, rejected = split_hh_conversations(record["chosen"], record["rejected"])
        if _distinct(chosen, rejected):
            usable.append(index)
    rows = np.sort(np.random.default_rng(seed).choice(usable, size=n, replace=False))
    return [lines[i] for i in rows]


def select_tldr(lines: list[str], n_min: int = N_TLDR, seed: int = SEED) -> list[str]:
    """Whole posts' comparisons, posts drawn with ``seed`` until ``n_min`` are in."""
    by_post = defaultdict(list)  # post id -> line positions, posts in order of appearance
    for index, line in enumerate(lines):
        record = json.loads(line)
        texts = [summary["text"] for summary in record["summaries"]]
        if _distinct(*texts):
            by_post[record["info"]["id"]].append(index)
    posts = list(by_post)
    chosen, count = [], 0
    for j in np.random.default_rng(seed).permutation(len(posts)):
        chosen.extend(by_post[posts[j]])
        count += len(by_post[posts[j]])
        if count >= n_min:
            break
    return [lines[i] for i in sorted(chosen)]


def write_jsonl_gz(lines: list[str], path: Path) -> None:
    """Write the lines gzip'd, reproducibly (no time stamp, no name), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as handle:
        handle.write("".join(lines).encode("utf-8"))
    os.replace(tmp, path)


def build(data_dir: Path) -> dict[str, list[str]]:
    """The selected lines of each sample, by name."""
    return {
        "hh-rlhf": select_hh(_lines(data_dir / HH_SOURCE)),
        "tldr": select_tldr(_lines(data_dir / TLDR_SOURCE)),
    }


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    data_dir = Path(argv[0]) if argv else default
    for name, lines in build(data_dir).items():
        path = OUTPUT_DIR / OUTPUTS[name]
        write_jsonl_gz(lines, path)
        print(f"{path}: {len(lines)} records, {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
