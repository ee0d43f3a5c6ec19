"""
=======================================================================
The labeling loop: ``skbalpm select`` with Label Studio, round by round
=======================================================================

A team has a pool of prompt + two-response pairs that nobody has labeled, and labelers
working in a labeling tool. Each round, ``skbalpm select`` fits the reward ensemble on the
labels so far and picks the next batch with BAL-PM; ``skbalpm export`` turns the batch into
Label Studio tasks; the labelers answer; ``skbalpm import`` reads Label Studio's export back
into the labeled file. After the last round, ``skbalpm fit`` trains the final reward model
and ``skbalpm score`` scores new pairs with it.

Here the pool is 80 real pairs of the Anthropic HH-RLHF sample bundled with the package,
and the labelers are played by a few lines of Python that answer with the human labels the
sample holds, written in Label Studio's export format. The commands are run through
:func:`skbalpm.cli.main`, with the same arguments as on the command line. See
:ref:`user_guide_labeling` for the files and every option.
"""

# %%
# A pool nobody has labeled
# -------------------------
# The pool file holds the pairs alone (prompt, response_a, response_b, no label column);
# the labels stay with the "labelers". 40 more pairs are kept aside, with their labels, to
# score the reward model on prompts it never saw.
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from skbalpm.cli import main
from skbalpm.datasets import load_sample_preferences
from skbalpm.labeling import pair_id, write_jsonl

N_POOL, N_TEST, BATCH, ROUNDS = 80, 40, 10, 4
data = load_sample_preferences("hh-rlhf", random_state=0)
rows = np.random.default_rng(0).permutation(len(data.y))
pool_rows, test_rows = rows[:N_POOL], rows[N_POOL : N_POOL + N_TEST]

folder = Path(tempfile.mkdtemp())


def pair_record(i):
    return dict(zip(("prompt", "response_a", "response_b"), data.X[i], strict=True))


write_jsonl(folder / "pool.jsonl", [pair_record(i) for i in pool_rows])
write_jsonl(folder / "test.jsonl", [pair_record(i) | {"label": int(data.y[i])} for i in test_rows])
known = {pair_id(*data.X[i]): (data.X[i][1], int(data.y[i])) for i in pool_rows}

# %%
# The labelers, in Label Studio
# -----------------------------
# ``skbalpm export --to label-studio`` writes the tasks (one per pair, with its stable
# ``pair_id``) and the labeling interface: the prompt, the two responses side by side (a
# ``Pairwise`` control: click the better one) and a ``Tie`` choice. Label Studio's JSON
# export lists each task with its annotations; a ``pairwise`` result says ``left``
# (response_a) or ``right``, and ``was_cancelled`` marks a skipped task.


def labelers_answer(tasks_file, round_index):
    """What Label Studio's JSON export holds once the labelers are done with the tasks."""
    export = []
    for k, task in enumerate(json.loads(Path(tasks_file).read_text())):
        response_a, label = known[task["data"]["pair_id"]]
        if task["data"]["response_a"] != response_a:  # shown the other way round
            label = 1 - label
        result = {
            "type": "pairwise",
            "from_name": "preference",
            "to_name": "response_a,response_b",
            "value": {"selected": "left" if label == 0 else "right"},
        }
        annotation = {"id": 100 * round_index + k, "was_cancelled": False, "result": [result]}
        task_id = 100 * round_index + k
        export.append({"id": task_id, "data": task["data"], "annotations": [annotation]})
    path = folder / f"label-studio-export-{round_index}.json"
    path.write_text(json.dumps(export))
    return path


# %%
# The rounds
# ----------
# The first batch has no model to go by: a spread over the prompts (a core-set on the
# prompt embeddings). Every later batch is BAL-PM's on the ensemble fitted to the labels
# so far. A pair already judged, or sent out and not yet back, is never picked again; the
# state file beside the batches records what went out. Each round prints the pool, the
# labels, the pending pairs, the batch's spread over prompts, and what the labels so far
# teach under cross-validation grouped by prompt.
common = ["--pool", str(folder / "pool.jsonl"), "--labeled", str(folder / "labels.jsonl")]
common += ["--n", str(BATCH), "--max-length", "128", "--quiet"]
batches = []
for round_index in range(ROUNDS + 1):
    batch = folder / f"batch-{round_index}.jsonl"
    print(f"--- skbalpm select (batch {round_index})")
    main(["select", *common, "--out", str(batch)])
    tasks = folder / f"tasks-{round_index}.json"
    main(["export", str(batch), "--to", "label-studio", "--out", str(tasks)])
    main(["import", str(labelers_answer(tasks, round_index)), "--labeled", common[3]])
    batches.append([json.loads(line) for line in batch.read_text().splitlines()])

print(Path(folder / "tasks-0.label_config.xml").read_text())

# %%
# What BAL-PM picked
# ------------------
# Every pair of a batch file carries its score and the parts of the score: BALD (how much
# the ensemble's members disagree on it) and BAL-PM's entropy term (how far its prompt is
# from the prompts already sent out), and the model's P(response_a preferred). The first
# batch, chosen without a model, has none.
for round_index, batch in enumerate(batches[1:], start=1):
    top = batch[0]
    print(
        f"batch {round_index}: first pick score {top['score']:.4f} = BALD {top['bald']:.4f}"
        f" + 0.01 x entropy term {top['entropy_term']:.3f}; P(a) {top['p_a_preferred']:.2f}"
    )

# %%
# The final reward model
# ----------------------
# ``skbalpm fit`` trains the ensemble on every label (ties and skips would be left out)
# and saves it with the identity of its embedding model; ``skbalpm score`` refuses
# features of any other. On the 40 held-out pairs, with 50 labels, the model is still near
# a coin flip (log(1/2) = -0.693): small pools teach little, and the warning of
# ``skbalpm select`` says so.
model = folder / "reward_model.joblib"
main(["fit", "--labeled", common[3], "--out", str(model), "--max-length", "128", "--quiet"])
main(["score", "--model", str(model), "--pairs", str(folder / "test.jsonl"),
      "--out", str(folder / "scores.jsonl"), "--quiet"])  # fmt: skip

# %%
# The picks' two terms
# --------------------
# Each point is one pair BAL-PM picked: its BALD and its entropy term when it was picked.
# Within a batch the entropy term falls as the batch fills the prompt space.
fig, ax = plt.subplots(figsize=(5, 3.5))
for round_index, batch in enumerate(batches[1:], start=1):
    ax.scatter(
        [p["entropy_term"] for p in batch], [p["bald"] for p in batch], label=f"batch {round_index}"
    )
ax.set_xlabel("entropy term (prompt diversity)")
ax.set_ylabel("BALD (members' disagreement)")
ax.legend()
fig.tight_layout()
plt.show()
