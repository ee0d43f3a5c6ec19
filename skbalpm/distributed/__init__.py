"""Past one machine: embedding, pool scoring and benchmark runs on Ray.

Everything here needs the extra ``ray`` (``pip install "skbalpm[ray]"``: Ray Data, and
faiss for neighbours); the rest of the package never imports Ray. Each function takes a
Ray Dataset (or a path Ray Data reads) and connects to the running Ray cluster, or starts
a local one, as ``ray.data`` does.
"""

from skbalpm.distributed._embed import embed_pairs
from skbalpm.distributed._knn import KNN_METHODS, knn_radii
from skbalpm.distributed._score import collect_scores, score_pool

__all__ = ["KNN_METHODS", "collect_scores", "embed_pairs", "knn_radii", "score_pool"]
