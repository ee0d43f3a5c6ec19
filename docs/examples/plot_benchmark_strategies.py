"""
===============================================
Comparing strategies with the benchmark harness
===============================================

:func:`~skbalpm.benchmark.run_benchmark` runs the active-learning protocol of the BAL-PM
paper for several query strategies and seeds: each seed holds out a test split and draws
an initial labelled set (the same for every strategy), then every round a fresh classifier
is fitted, scored on the test split, and the strategy picks the next batch.
:func:`~skbalpm.benchmark.summarize_results` turns the rounds into the headline figures
and :func:`~skbalpm.benchmark.plot_learning_curves` draws the curves.

The command line does the same in one call; this example's run corresponds to ::

    skbalpm benchmark --synthetic-samples 600 --seeds 3 --initial-size 30 \\
        --batch-size 30 --rounds 4 --strategies random,bald,balpm \\
        --n-members 3 --max-epochs 20

The run here is deliberately tiny (three seeds, a few rounds, a small ensemble) so that it
builds with the documentation; its intervals are wide and it cannot tell strategies apart.
Read it for *how* to read the output, and see :ref:`benchmarks` for full runs.
"""

# %%
# Run the benchmark
# -----------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from skbalpm import PreferenceEnsembleClassifier
from skbalpm.benchmark import (
    format_summary,
    plot_learning_curves,
    run_benchmark,
    summarize_results,
)
from skbalpm.datasets import make_synthetic_preferences

data = make_synthetic_preferences(n_samples=600, random_state=0)
out = run_benchmark(
    data.X,
    data.y,
    strategies=["random", "bald", "balpm"],
    classifier=PreferenceEnsembleClassifier(n_members=3, max_epochs=20),
    seeds=3,
    initial_size=30,
    batch_size=30,
    n_rounds=4,
    groups=data.groups,  # as the command line does: whole topics go to the test split
    dataset_name="synthetic",
    verbose=0,
)
print(out.results.head(6).to_string())

# %%
# ``out.results`` is a tidy table, one row per strategy, seed and round (with the fit and
# query times); ``out.ceiling`` holds the fit on every training label of each seed, the
# best the classifier does with all the labels.
print(out.ceiling[["seed", "n_labels", "test_log_likelihood", "test_accuracy"]].to_string())

# %%
# The summary
# -----------
# For each strategy: the final mean test log-likelihood (LL) and accuracy; the area under
# its learning curve (a mean height over the label range, with a bootstrap interval over
# seeds); the fraction of labels it saves to reach random sampling's final
# log-likelihood, ``1 - n*/n_final`` ("not reached" when its mean curve never gets
# there); and its area minus random's, paired by seed. An interval that straddles 0 (or
# reaches "not reached") means the run does not separate the strategy from random.
summary = summarize_results(out.results, n_boot=500)
print(format_summary(summary))

# %%
# The learning curves
# -------------------
# :func:`~skbalpm.benchmark.plot_learning_curves` writes one PNG and one SVG per metric
# (what ``skbalpm benchmark`` writes next to ``results.csv``): the mean curve over seeds
# with a band of one standard error. Here is the log-likelihood plot as written, with the
# mean ceiling as a dashed reference line. Curves that stay inside each other's bands do
# not differ in this run.
output_dir = Path(tempfile.mkdtemp())
ceiling = out.ceiling["test_log_likelihood"].mean()
paths = plot_learning_curves(
    out.results,
    output_dir,
    reference_lines={"test_log_likelihood": {"all training labels": ceiling}},
    title="synthetic task, 600 pairs, 3 seeds",
)
print([path.name for path in paths])

image = plt.imread(output_dir / "learning_curve_test_log_likelihood.png")
fig, ax = plt.subplots(figsize=(image.shape[1] / 100, image.shape[0] / 100), dpi=100)
ax.imshow(image)
ax.set_axis_off()
fig.subplots_adjust(0, 0, 1, 1)
plt.show()
