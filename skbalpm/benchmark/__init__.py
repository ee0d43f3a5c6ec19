"""Benchmark harness: compare query strategies over seeds, with curves and headline metrics.

:func:`run_benchmark` runs the experiment loop (checkpointed, resumable);
:func:`summarize_results` computes the labels saved against random sampling and the
areas under the curves with bootstrap intervals; :func:`plot_learning_curves` draws the
curves. The command line ``skbalpm benchmark`` drives all three.
"""

from skbalpm.benchmark._experiment import (
    RESULT_COLUMNS,
    TIMING_COLUMNS,
    BenchmarkInterrupted,
    package_versions,
    run_benchmark,
    split_train_test,
)
from skbalpm.benchmark._metrics import (
    bootstrap_interval,
    curve_rise,
    format_summary,
    fraction_labels_saved,
    labels_to_reach,
    normalised_area,
    preference_accuracy,
    preference_log_likelihood,
    summarize_results,
)
from skbalpm.benchmark._plots import learning_curve_table, plot_learning_curves
from skbalpm.benchmark._strategies import (
    DEFAULT_STRATEGIES,
    STRATEGY_CLASSES,
    canonical_name,
    cold_start_strategies,
    make_strategy,
    parse_strategy_spec,
    split_strategy_list,
    strategy_label,
)

__all__ = [
    "DEFAULT_STRATEGIES",
    "RESULT_COLUMNS",
    "STRATEGY_CLASSES",
    "TIMING_COLUMNS",
    "BenchmarkInterrupted",
    "bootstrap_interval",
    "canonical_name",
    "cold_start_strategies",
    "curve_rise",
    "format_summary",
    "fraction_labels_saved",
    "labels_to_reach",
    "learning_curve_table",
    "make_strategy",
    "normalised_area",
    "package_versions",
    "parse_strategy_spec",
    "plot_learning_curves",
    "preference_accuracy",
    "preference_log_likelihood",
    "run_benchmark",
    "split_strategy_list",
    "split_train_test",
    "strategy_label",
    "summarize_results",
]
