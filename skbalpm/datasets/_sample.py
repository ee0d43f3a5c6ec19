"""Real preference pairs shipped inside the package (``skbalpm/datasets/data/``)."""

from __future__ import annotations

from importlib import resources

from skbalpm.datasets._hh_rlhf import load_hh_rlhf
from skbalpm.datasets._summarize import load_summarize_from_feedback

SAMPLE_FILES = {
    "hh-rlhf": "hh-rlhf-helpful-base.jsonl.gz",
    "tldr": "tldr-batch13.jsonl.gz",
}
"""Bundled sample name -> file in ``skbalpm/datasets/data/``."""

DEFAULT_SAMPLE = "hh-rlhf"

_DESCR = {
    "hh-rlhf": (
        "500 Anthropic HH-RLHF preference pairs from the helpful-base test split (Bai et "
        "al., 2022, arXiv:2204.05862), drawn with a fixed seed among the records with two "
        "different responses; the prompt is the shared conversation up to the last "
        "assistant turn, and which response is response_a is randomised (random_state). "
        "Licence: MIT (LICENSE-hh-rlhf.txt beside the data file)."
    ),
    "tldr": (
        "400 Reddit TL;DR summary comparisons of 335 posts from batch 13 of 'Learning to "
        "summarize from human feedback' (Stiennon et al., 2020, arXiv:2009.01325): whole "
        "posts drawn with a fixed seed, so that the comparisons of one post stay together "
        "(groups = post ids); y = choice. Licence: CC BY 4.0, by OpenAI "
        "(LICENSE-tldr.txt beside the data file)."
    ),
}


def load_sample_preferences(name=DEFAULT_SAMPLE, *, random_state=0):
    """Load a small sample of real human preference pairs bundled with the package.

    Two samples ship inside skbalpm (about 420 kB together), so that examples and tests
    run on real text with no download and no other files, like scikit-learn's bundled
    data sets:

    * ``"hh-rlhf"``: 500 pairs of Anthropic HH-RLHF, helpful-base test split (multi-turn
      conversations with an assistant; MIT licence);
    * ``"tldr"``: 400 Reddit TL;DR summary comparisons of 335 posts, from the
      summarize-from-feedback release (CC BY 4.0); the several comparisons of one post
      are all in the sample, and ``groups`` holds the post ids.

    The records are copied unchanged from the public releases and read with
    :func:`load_hh_rlhf` and :func:`load_summarize_from_feedback`; the licence files lie
    beside the data files (``skbalpm/datasets/data/``). For benchmarks, load the full
    releases with those loaders.

    Parameters
    ----------
    name : {"hh-rlhf", "tldr"}, default="hh-rlhf"
        Which sample.
    random_state : int, RandomState instance or None, default=0
        Seed of the a/b assignment of the HH-RLHF pairs (see :func:`load_hh_rlhf`).
        TL;DR keeps the order of the release (``y`` is its ``choice``), so the seed is
        not used there.

    Returns
    -------
    data : Bunch
        As the loaders return: ``X`` object array (n, 3) of (prompt, response_a,
        response_b); ``y`` int array, index of the preferred response; ``groups`` object
        array (prompt hashes for HH-RLHF, post ids for TL;DR); ``n_records``,
        ``n_skipped``, ``skipped``; ``source`` (the data file inside the installed
        package) and ``DESCR`` (what the sample is, where it comes from, its licence).
        The HH-RLHF sample also has ``file_index``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the samples.

    See Also
    --------
    load_hh_rlhf, load_summarize_from_feedback : the loaders of the full releases.

    References
    ----------
    Bai et al., "Training a Helpful and Harmless Assistant with Reinforcement Learning
    from Human Feedback", arXiv:2204.05862, 2022.

    Stiennon et al., "Learning to summarize from human feedback", NeurIPS 2020,
    arXiv:2009.01325.

    Examples
    --------
    >>> from skbalpm.datasets import load_sample_preferences
    >>> hh = load_sample_preferences("hh-rlhf")
    >>> hh.X.shape, int(hh.y.sum())  # half the pairs have the chosen response as b
    ((500, 3), 250)
    >>> tldr = load_sample_preferences("tldr")
    >>> tldr.X.shape, len(set(tldr.groups))
    ((400, 3), 335)
    >>> print(tldr.X[0, 0][:10])
    SUBREDDIT:
    """
    if not isinstance(name, str) or name not in SAMPLE_FILES:
        raise ValueError(
            f"Unknown sample {name!r}; the bundled samples are {sorted(SAMPLE_FILES)}."
        )
    data_file = resources.files("skbalpm.datasets") / "data" / SAMPLE_FILES[name]
    with resources.as_file(data_file) as path:  # a real file even from a zipped install
        if name == "hh-rlhf":
            data = load_hh_rlhf(path, random_state=random_state)
        else:
            data = load_summarize_from_feedback(path)
    data.DESCR = _DESCR[name]
    return data
