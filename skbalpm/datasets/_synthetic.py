"""The built-in default task: synthetic preferences with a hidden reward and skewed topics."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.utils import Bunch, check_random_state


def zipf_topic_sizes(n_samples, n_topics, exponent, rng):
    """Draw each sample's topic from a Zipf-like law: P(topic t) proportional to (t+1)^-exponent.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    n_topics : int
        Number of topics.
    exponent : float
        Power-law exponent (0 = uniform; 1 = classic Zipf; larger = more skewed).
    rng : numpy.random.RandomState
        Source of randomness.

    Returns
    -------
    topic : ndarray of shape (n_samples,), int
        Topic index of each sample (topic 0 is the largest in expectation).
    topic_weights : ndarray of shape (n_topics,)
        The probabilities of the topics (sum to 1).

    Examples
    --------
    >>> t, w = zipf_topic_sizes(5, 3, 0.0, np.random.RandomState(0))
    >>> w.round(3).tolist()
    [0.333, 0.333, 0.333]
    """
    weights = (np.arange(n_topics) + 1.0) ** -float(exponent)
    weights /= weights.sum()
    return rng.choice(n_topics, size=n_samples, p=weights), weights


def _unit_rows(M):
    return M / np.linalg.norm(M, axis=1, keepdims=True)


def _bayes_figures(proba_a):
    """Expected accuracy and log-likelihood of the true model (labels ~ Bernoulli)."""
    p = np.clip(proba_a, 1e-12, 1 - 1e-12)
    accuracy = np.maximum(p, 1 - p).mean()
    log_likelihood = (p * np.log(p) + (1 - p) * np.log(1 - p)).mean()
    return float(accuracy), float(log_likelihood)


def _check_params(n_samples, n_features, n_topics, prompt_weight, topic_size_exponent):
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 2):
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}.")
    if not (isinstance(n_features, (int, np.integer)) and n_features >= 2):
        raise ValueError(f"n_features must be an int >= 2, got {n_features!r}.")
    if not (isinstance(n_topics, (int, np.integer)) and n_topics >= 1):
        raise ValueError(f"n_topics must be an int >= 1, got {n_topics!r}.")
    if not 0.0 < prompt_weight < 1.0:
        raise ValueError(f"prompt_weight must lie in (0, 1), got {prompt_weight!r}.")
    if topic_size_exponent < 0:
        raise ValueError(f"topic_size_exponent must be >= 0, got {topic_size_exponent!r}.")


def make_synthetic_preferences(
    n_samples=4000,
    n_features=8,
    n_topics=150,
    *,
    topic_size_exponent=2.5,
    prompt_spread=0.1,
    prompt_weight=0.5,
    topic_dependence=1.0,
    reward_scale=8.0,
    n_test_samples=0,
    test_topics="uniform",
    return_text=False,
    random_state=None,
):
    """Synthetic preference pairs from a hidden reward, with topics of very uneven size.

    **The task.** Each pair has a prompt drawn from one of ``n_topics`` topics whose
    sizes follow a power law (topic t has probability proportional to
    ``(t+1)^-topic_size_exponent``): a few big topics hold most pairs and their prompts
    are near-duplicates (unit vectors about ``prompt_spread`` from the topic centre), as
    in Reddit TL;DR where one post has many comparisons. The feature of prompt +
    response is ``x = normalise(sqrt(w) p + sqrt(1-w) s)`` (``w = prompt_weight``, ``p``
    the prompt vector, ``s`` a random unit response vector), so it depends on both. The
    hidden reward is a function of that visible feature only,

        r(x) = reward_scale * (w0 . x + topic_dependence * x^T A x),

    with ``w0`` a unit vector and ``A`` a random symmetric matrix (entries of scale
    1/sqrt(d)). Its cross term ``2 sqrt(w(1-w)) p^T A s`` makes the direction in which
    the reward grows depend on the prompt: every topic has its own reward direction,
    close to those of topics with nearby centres. Labels are drawn from the
    Bradley–Terry model, ``P(y = 0) = sigmoid(r(x_a) - r(x_b))``, so the best any model
    can do is known: ``bayes_accuracy`` and ``bayes_log_likelihood`` (expected values
    under the label noise).

    **Why acquisition matters here, and how the defaults were chosen.** A model must
    learn ``A``, which needs prompts from many directions. With the default exponent 2.5
    the biggest topic holds about three quarters of the pool and its pairs keep
    teaching the same reward direction, while a reward model is judged on every kind of
    prompt: the test pairs (``n_test_samples``) take every topic equally often. Random
    sampling spends most labels on the big topic; a strategy that spreads its queries
    over prompt space, or that seeks the model's uncertainty, reaches the rare topics.
    That is the situation BAL-PM is for (a pool dominated by near-duplicate prompts),
    and the defaults make it plain: the topic-size exponent (2.5 rather than 1.1, where
    the strategies could not be told apart), the feature width (8, so that 550 labels
    can teach the reward) and the pool size (4,000) were chosen by running the command
    line's strategy comparison on data seeds 1 and 2. The package's reported main job
    uses data seed 0, which played no part in the choice. With ``topic_dependence=0``
    the reward is linear and the same in every topic, and diversity should matter
    little; use it as a control.

    Parameters
    ----------
    n_samples : int, default=4000
        Number of pairs.
    n_features : int, default=8
        Width d of one feature block (feature mode).
    n_topics : int, default=150
        Number of prompt topics.
    topic_size_exponent : float, default=2.5
        Power-law exponent of the topic sizes (0 = equal sizes).
    prompt_spread : float, default=0.1
        Typical norm of the noise added to the (unit) topic centre of each prompt
        (near-duplicates when small).
    prompt_weight : float in (0, 1), default=0.5
        Share of the prompt in the prompt + response feature.
    topic_dependence : float, default=1.0
        Weight of the prompt-dependent (quadratic) part of the reward.
    reward_scale : float, default=8.0
        Scale of the reward (larger = less label noise).
    n_test_samples : int, default=0
        Also draw this many test pairs from the same hidden reward (new prompts, new
        responses), returned as ``X_test``, ``y_test``, ``groups_test``, ``proba_a_test``,
        ``reward_a_test``, ``reward_b_test`` (feature mode only). The pool is the same
        with or without them (they are drawn after it).
    test_topics : {"uniform", "pool"}, default="uniform"
        Topics of the test pairs: every topic equally likely (a reward model judged on
        every kind of prompt, the rare ones too) or the pool's power law.
    return_text : bool, default=False
        False: ``X`` holds float32 features in the layout "a|b|prompt" (3 blocks of
        width d). True: ``X`` holds raw triples of short templated text, for an embedder;
        the reward is then a topic-dependent weighting of the phrases a response uses.
    random_state : int, RandomState instance or None, default=None
        Seed of everything.

    Returns
    -------
    data : Bunch
        ``X`` (features (n, 3d) float32, or object triples (n, 3)); ``y`` int array
        (0 = response_a preferred); ``groups`` topic index of each pair; ``topic_weights``;
        ``proba_a`` true P(y = 0) per pair; ``bayes_accuracy``, ``bayes_log_likelihood``;
        ``feature_layout`` ("a|b|prompt" or None for text); ``n_records``, ``n_skipped``
        (0), ``skipped`` ({}), ``DESCR``; with ``n_test_samples`` also ``X_test``,
        ``y_test``, ``groups_test``, ``proba_a_test``, ``reward_a_test``,
        ``reward_b_test``, ``bayes_accuracy_test``, ``bayes_log_likelihood_test``.

    References
    ----------
    Bradley & Terry, "Rank analysis of incomplete block designs: I. The method of paired
    comparisons", Biometrika 39, 1952.

    Examples
    --------
    >>> data = make_synthetic_preferences(n_samples=100, n_features=4, random_state=0)
    >>> data.X.shape, data.X.dtype.name, sorted(set(data.y.tolist()))
    ((100, 12), 'float32', [0, 1])
    >>> 0.5 < data.bayes_accuracy < 1.0
    True
    """
    _check_params(n_samples, n_features, n_topics, prompt_weight, topic_size_exponent)
    if not (isinstance(n_test_samples, (int, np.integer)) and n_test_samples >= 0):
        raise ValueError(f"n_test_samples must be an int >= 0, got {n_test_samples!r}.")
    if test_topics not in ("uniform", "pool"):
        raise ValueError(f"test_topics must be 'uniform' or 'pool', got {test_topics!r}.")
    if return_text and n_test_samples:
        raise ValueError("n_test_samples needs feature mode (return_text=False).")
    rng = check_random_state(random_state)
    topic, topic_weights = zipf_topic_sizes(n_samples, n_topics, topic_size_exponent, rng)
    if return_text:
        return _make_text(topic, topic_weights, topic_dependence, reward_scale, rng)

    d = int(n_features)
    centres_TD = _unit_rows(rng.standard_normal((n_topics, d)))
    task = {}

    def draw_pairs(topic_N):
        """Pairs of the given topics: features (n, 3d), labels, true P(a preferred)."""
        n = len(topic_N)
        prompts_ND = _unit_rows(
            centres_TD[topic_N] + prompt_spread * rng.standard_normal((n, d)) / np.sqrt(d)
        )
        if not task:  # the hidden reward, drawn once (after the pool's prompts, as before)
            task["w0_D"] = _unit_rows(rng.standard_normal((1, d)))[0]
            G = rng.standard_normal((d, d)) / np.sqrt(d)
            task["A_DD"] = (G + G.T) / np.sqrt(2.0)

        def embed(responses_ND):
            return _unit_rows(
                np.sqrt(prompt_weight) * prompts_ND + np.sqrt(1 - prompt_weight) * responses_ND
            )

        def reward(x_ND):
            quadratic = np.einsum("nd,de,ne->n", x_ND, task["A_DD"], x_ND)
            return reward_scale * (x_ND @ task["w0_D"] + topic_dependence * quadratic)

        x_a = embed(_unit_rows(rng.standard_normal((n, d))))
        x_b = embed(_unit_rows(rng.standard_normal((n, d))))
        reward_a, reward_b = reward(x_a), reward(x_b)
        proba_a = expit(reward_a - reward_b)
        y = (rng.random_sample(n) >= proba_a).astype(np.int64)
        X = np.hstack([x_a, x_b, prompts_ND]).astype(np.float32)
        return X, y, proba_a, reward_a, reward_b

    X, y, proba_a, reward_a, reward_b = draw_pairs(topic)
    accuracy, log_likelihood = _bayes_figures(proba_a)
    data = Bunch(
        X=X,
        y=y,
        groups=topic,
        topic_weights=topic_weights,
        proba_a=proba_a,
        reward_a=reward_a,
        reward_b=reward_b,
        bayes_accuracy=accuracy,
        bayes_log_likelihood=log_likelihood,
        feature_layout="a|b|prompt",
        n_records=n_samples,
        n_skipped=0,
        skipped={},
        source=["make_synthetic_preferences"],
        DESCR=make_synthetic_preferences.__doc__.split("\n\n")[0].strip(),
    )
    if n_test_samples:
        if test_topics == "uniform":
            test_topic = rng.randint(n_topics, size=n_test_samples)
        else:
            test_topic = rng.choice(n_topics, size=n_test_samples, p=topic_weights)
        X_test, y_test, proba_test, reward_a_test, reward_b_test = draw_pairs(test_topic)
        test_accuracy, test_log_likelihood = _bayes_figures(proba_test)
        data.update(
            X_test=X_test,
            y_test=y_test,
            groups_test=test_topic,
            proba_a_test=proba_test,
            reward_a_test=reward_a_test,
            reward_b_test=reward_b_test,
            bayes_accuracy_test=test_accuracy,
            bayes_log_likelihood_test=test_log_likelihood,
        )
    return data


_SUBJECTS = (
    "garden",
    "bike",
    "laptop",
    "kitchen",
    "budget",
    "resume",
    "puppy",
    "roof",
    "car",
    "marathon",
    "guitar",
    "aquarium",
    "thesis",
    "startup",
    "wedding",
    "bathroom",
    "camera",
    "novel",
    "sourdough",
    "vegetables",
    "apartment",
    "chess",
    "backpack",
    "website",
    "tomatoes",
    "printer",
    "piano",
    "kayak",
    "fence",
    "podcast",
)
_QUALIFIERS = ("old", "new", "small", "shared", "first", "broken")
_ASKS = ("How do I improve my {}?", "How can I improve my {}?", "Any tips to improve my {}?")
_PHRASES = (
    "Start by reading the manual for your {}.",
    "Ask an expert who knows your {} well.",
    "Make a step-by-step plan for the {}.",
    "Set a small weekly budget for the {}.",
    "Watch a beginner video about the {}.",
    "Keep notes on what works for your {}.",
    "Try a cheap fix on the {} first.",
    "Compare three options before changing the {}.",
    "Talk to friends who also have a {}.",
    "Give the {} a week and check again.",
)


def _make_text(topic, topic_weights, topic_dependence, reward_scale, rng):
    """Templated text version: reward = topic-specific weights of the phrases used."""
    n_samples, n_topics = len(topic), len(topic_weights)
    names = [f"{q} {s}" for s in _SUBJECTS for q in _QUALIFIERS]
    if n_topics > len(names):
        raise ValueError(
            f"return_text=True supports at most {len(names)} topics, got n_topics={n_topics}."
        )
    names = [names[i] for i in rng.permutation(len(names))[:n_topics]]
    n_phrases = len(_PHRASES)
    # Each topic weights the phrases its own way around a shared preference.
    shared = rng.standard_normal(n_phrases)
    weights_TP = (shared + topic_dependence * rng.standard_normal((n_topics, n_phrases))) / (
        np.sqrt(1 + topic_dependence**2) * np.sqrt(n_phrases)
    )

    def respond(t):
        chosen = np.sort(rng.choice(n_phrases, size=2, replace=False))
        text = " ".join(_PHRASES[j].format(names[t].split()[-1]) for j in chosen)
        return text, weights_TP[t, chosen].sum()

    rows, reward_a, reward_b = [], np.empty(n_samples), np.empty(n_samples)
    for i, t in enumerate(topic):
        prompt = _ASKS[rng.randint(len(_ASKS))].format(names[t])
        text_a, reward_a[i] = respond(t)
        text_b = text_a
        while text_b == text_a:  # two identical responses carry no preference
            text_b, reward_b[i] = respond(t)
        rows.append((prompt, text_a, text_b))
    reward_a *= reward_scale / 2
    reward_b *= reward_scale / 2
    proba_a = expit(reward_a - reward_b)
    y = (rng.random_sample(n_samples) >= proba_a).astype(np.int64)
    X = np.empty((n_samples, 3), dtype=object)
    X[:] = rows
    accuracy, log_likelihood = _bayes_figures(proba_a)
    return Bunch(
        X=X,
        y=y,
        groups=topic,
        topic_weights=topic_weights,
        proba_a=proba_a,
        reward_a=reward_a,
        reward_b=reward_b,
        bayes_accuracy=accuracy,
        bayes_log_likelihood=log_likelihood,
        feature_layout=None,
        n_records=n_samples,
        n_skipped=0,
        skipped={},
        source=["make_synthetic_preferences(return_text=True)"],
        DESCR="Synthetic templated preference text with a hidden topic-dependent reward.",
    )
