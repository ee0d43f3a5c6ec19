"""The labeling desk: active learning on a pool nobody has labeled, round after round.

``skbalpm select`` picks the next batch for the labelers (:func:`select_next_batch`, one
:func:`select_batch` round on features), never a pair already judged or still out with
the labelers (:class:`SelectionState`), and says what the labels so far teach
(:func:`grouped_cv_report`). ``skbalpm export`` and ``skbalpm import`` take a batch to
Label Studio or Argilla and their answers back into the labeled file (ties and skips
counted apart); ``skbalpm fit`` and ``skbalpm score`` train the final reward model on
every label (:class:`RewardModel`) and score new pairs with it.

Files: the pool is any preference file ``skbalpm benchmark`` reads, or a table of
``prompt``, ``response_a``, ``response_b`` with no labels; the labeled file and the
batches are JSON Lines; every pair is named by :func:`pair_id`, a hash of its texts.
"""

from skbalpm.labeling._argilla import ARGILLA_SETTINGS, argilla_records, read_argilla_export
from skbalpm.labeling._import import (
    ANNOTATION_FORMATS,
    import_annotations,
    read_annotation_file,
    replay_pool_labels,
)
from skbalpm.labeling._label_studio import (
    LABEL_STUDIO_CONFIG,
    label_studio_tasks,
    read_label_studio_export,
)
from skbalpm.labeling._labels import JUDGMENTS, judgment_record, read_labels
from skbalpm.labeling._model import RewardModel, embedder_identity
from skbalpm.labeling._pairs import pair_id, read_pool, write_jsonl
from skbalpm.labeling._report import grouped_cv_report
from skbalpm.labeling._round import select_next_batch
from skbalpm.labeling._select import INITIAL_STRATEGIES, select_batch
from skbalpm.labeling._state import STATE_FILENAME, SelectionState

__all__ = [
    "ANNOTATION_FORMATS",
    "ARGILLA_SETTINGS",
    "INITIAL_STRATEGIES",
    "JUDGMENTS",
    "LABEL_STUDIO_CONFIG",
    "STATE_FILENAME",
    "RewardModel",
    "SelectionState",
    "argilla_records",
    "embedder_identity",
    "grouped_cv_report",
    "import_annotations",
    "judgment_record",
    "label_studio_tasks",
    "pair_id",
    "read_annotation_file",
    "read_argilla_export",
    "read_label_studio_export",
    "read_labels",
    "read_pool",
    "replay_pool_labels",
    "select_batch",
    "select_next_batch",
    "write_jsonl",
]
