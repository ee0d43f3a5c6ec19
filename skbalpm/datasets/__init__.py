"""Loaders for public preference-data formats, a bundled real sample and a synthetic task.

Every loader returns an :class:`sklearn.utils.Bunch` with ``X`` (object array (n, 3) of
(prompt, response_a, response_b), or features for the synthetic feature mode), ``y``
(int array: index of the preferred response, 0 = response_a), ``groups`` (post / article /
prompt ids, or None), ``n_records`` (records read), ``n_skipped`` and ``skipped`` (reason
-> count; ``n_records == len(y) + n_skipped``; the file loaders also give ``n_ties``, the
records skipped as ties), ``source`` and ``DESCR``.

Documented skip reasons (:data:`SKIP_REASONS`): ``identical_responses``, ``tie``,
``no_shared_prompt``. Malformed records raise :class:`MalformedRecordError` naming the
file, the line / record and what was wrong.
"""

from skbalpm.datasets._common import SKIP_REASONS, MalformedRecordError
from skbalpm.datasets._generic import load_preference_file
from skbalpm.datasets._hf import load_hf_dataset
from skbalpm.datasets._hh_rlhf import load_hh_rlhf, split_hh_conversations
from skbalpm.datasets._judge import load_llmbar, load_pandalm
from skbalpm.datasets._sample import load_sample_preferences
from skbalpm.datasets._summarize import load_summarize_from_feedback
from skbalpm.datasets._synthetic import make_synthetic_preferences

__all__ = [
    "SKIP_REASONS",
    "MalformedRecordError",
    "load_hf_dataset",
    "load_hh_rlhf",
    "load_llmbar",
    "load_pandalm",
    "load_preference_file",
    "load_sample_preferences",
    "load_summarize_from_feedback",
    "make_synthetic_preferences",
    "split_hh_conversations",
]
