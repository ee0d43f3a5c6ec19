"""Build-time pages of the skbalpm documentation.

On ``builder-inited`` this extension writes, under ``docs/generated/``:

* ``benchmark_results.rst.inc``: one section per ``docs/benchmarks/<name>/`` folder that
  holds a ``summary.csv`` (written by ``skbalpm benchmark`` and by
  ``benchmarks/run_label_efficiency.py``): the protocol, the machine and package versions
  from ``results.json``, the command that reproduces it, the summary table and the
  learning-curve PNGs. ``machine.txt`` (the machine and the date) and ``command.txt`` (the
  exact command), which ``run_label_efficiency.py`` writes, are shown when present; without
  ``command.txt`` the command is rebuilt from the configuration in ``results.json``.
  Without any folder the page says that the benchmarks have not been run yet.
* ``learner_study.rst.inc``: the classifier study of ``docs/benchmarks/learner_study/``
  (written by ``benchmarks/learner_study.py``): its machine and command from
  ``study.json``, the default's targets (``targets.csv``), the learning-curve figures per
  data set and candidate (``statistics.csv``), BALD from 5 against 20 members
  (``bald_summary.csv``) and the learning-curve plot; ``learner_study_features.rst.inc``:
  the same study's comparison of response representations (``feature_statistics.csv``).
* ``cli_benchmark_help.txt``: ``skbalpm benchmark --help`` as the installed package prints it;
  ``cli_cache_help.txt``: ``skbalpm cache info --help`` and ``skbalpm cache clear --help``;
  ``cli_labeling_help.txt``: the ``--help`` of the labeling desk's commands
  (``skbalpm select`` and the others of :mod:`skbalpm.labeling`).
* ``speed_results.rst.inc``: one section per speed benchmark ``benchmarks/bench_*.py`` and
  device (CPU, CUDA), each a table of the figures in
  ``docs/benchmarks/speed/<script>_<device>.json`` (written by the script through
  ``benchmarks/_results.py``) with the baseline each was compared to in the same run, the
  machine, date, commit and command; "not yet measured" where no file exists.
* ``scale_results.rst.inc``: for the "Scaling out" guide, the figures of the scaling plan
  (those ``benchmarks/bench_scale.py`` marks ``section: plan``) and the scale benchmark's
  table, from ``docs/benchmarks/speed/bench_scale_<device>.json``.

Nothing here is hard-coded: the page always shows what the files hold.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import re
import shlex
import sys
from pathlib import Path

CURVES = (
    ("learning_curve_test_log_likelihood.png", "test log-likelihood"),
    ("learning_curve_test_accuracy.png", "test accuracy"),
)


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _saved(value):
    if math.isnan(value):
        return "–"
    return "not reached" if math.isinf(value) else f"{value:+.0%}"


def _with_interval(row, key, fmt):
    value, low, high = (_float(row.get(k)) for k in (key, f"{key}_low", f"{key}_high"))
    if key == "labels_saved":
        if math.isnan(value):  # random's curve does not rise: no target to reach
            return "undefined (random's curve does not rise)"
        return f"{_saved(value)} [{_saved(low)}, {_saved(high)}]"
    if math.isnan(value):
        return "–"
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _summary_table(rows):
    has_baseline = bool(rows) and "labels_saved" in rows[0]
    header = ["strategy", "seeds", "final labels", "final log-lik.", "final acc."]
    if has_baseline:
        header += ["labels saved vs random [95% CI]", "AUC log-lik. − random [95% CI]"]
    header += ["AUC acc. [95% CI]"]
    has_cost = bool(rows) and "query_seconds" in rows[0]
    if has_cost:
        header += ["query s / round"]
    body = []
    for row in rows:
        cells = [
            f"``{row['strategy']}``",
            row.get("n_seeds", ""),
            row.get("final_labels", ""),
            f"{_float(row.get('final_log_likelihood')):.4f}",
            f"{_float(row.get('final_accuracy')):.3f}",
        ]
        if has_baseline:
            cells += [
                _with_interval(row, "labels_saved", ""),
                _with_interval(row, "area_log_likelihood_diff", "+.4f"),
            ]
        cells.append(_with_interval(row, "area_accuracy", ".3f"))
        if has_cost:
            seconds = _float(row.get("query_seconds"))
            cells.append("" if math.isnan(seconds) else f"{seconds:.3g}")
        body.append(cells)
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [header, *body]:
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return lines


def _display_path(path):
    """A data path as a reader would write it: ``../shared/data/...`` when it is there."""
    text = str(path).replace("\\", "/")
    match = re.search(r"(?:^|/)shared/data/(.*)$", text)
    return f"../shared/data/{match.group(1)}" if match else text


def _cli_command(name, config):
    """The ``skbalpm benchmark`` command line that repeats a run, from its recorded config."""
    sources = config.get("source") or ["synthetic"]
    synthetic = sources == ["make_synthetic_preferences"]
    parts = ["skbalpm", "benchmark", "--dataset"]
    parts += ["synthetic"] if synthetic else [_display_path(s) for s in sources]
    parts += ["--name", name]
    if synthetic:
        parts += ["--synthetic-samples", str(config.get("n_samples"))]
        parts += ["--synthetic-features", str(int(config.get("n_features", 48)) // 3)]
    seeds = config.get("seeds", [])
    parts += ["--seeds", str(len(seeds))]
    for option, key in (
        ("--initial-size", "initial_size"),
        ("--batch-size", "batch_size"),
        ("--rounds", "n_rounds"),
    ):
        parts += [option, str(config.get(key))]
    parts += ["--strategies", ",".join(config.get("strategies", {}))]
    if config.get("test_set"):
        parts += ["--test-dataset", *(_display_path(s) for s in config.get("test_source", []))]
    elif config.get("test_size", 0.2) != 0.2:
        parts += ["--test-fraction", str(config["test_size"])]
    classifier = str(config.get("classifier", ""))
    for option, pattern in (
        ("--n-members", r"n_members=(\d+)"),
        ("--max-epochs", r"max_epochs=(\d+)"),
        ("--device", r"device='([^']+)'"),
    ):
        match = re.search(pattern, classifier)
        if match and not (option == "--device" and match.group(1) == "auto"):
            parts += [option, match.group(1)]
    if config.get("compute_ceiling") is False:
        parts.append("--no-ceiling")
    command = shlex.join(parts)  # quoted: strategy specs such as balpm(beta=0.1)
    if seeds != list(range(len(seeds))):
        command += f"  # the run used seeds {seeds}"
    return command


def _command(folder, config):
    given = folder / "command.txt"
    if given.is_file():
        return given.read_text(encoding="utf-8").strip()
    return _cli_command(folder.name, config)


def _learner(config):
    """Which learner a benchmark ran with, from its saved configuration."""
    classifier = str(config.get("classifier", "unknown"))
    params = config.get("classifier_params")
    if params is not None and "method" in params:
        return f"``{classifier}``, method ``{params['method']!r}``."
    if (
        params is None
        and classifier.startswith("PreferenceEnsembleClassifier(")
        and ("method=" not in classifier)
    ):
        # results saved before the configuration held every parameter: the default then
        return (
            f"``{classifier}`` of the package version then, whose default was the former "
            "learner, the deep ensemble (``method='deep-ensemble'``): these results predate "
            "the Laplace default and are still to be rerun with it."
        )
    return f"``{classifier}``."


def _benchmark_section(folder):
    with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    results = folder / "results.json"
    payload = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    config, versions = payload.get("config", {}), payload.get("versions", {})
    name = folder.name
    lines = [name, "-" * max(len(name), 3), ""]
    if config:
        seeds = config.get("seeds", [])
        if config.get("test_set"):
            sources = ", ".join(_display_path(s) for s in config.get("test_source", []))
            test = f"a fixed test set of {config['test_set']['n_samples']} pairs ({sources})"
        else:
            grouped = ", grouped split" if config.get("grouped_split") else ""
            test = f"test fraction {config.get('test_size')}{grouped}"
        protocol = (
            f"{config.get('n_samples')} pairs ({config.get('dataset')}); {test}; "
            f"{config.get('initial_size')} initial labels, then {config.get('batch_size')} per "
            f"round for {config.get('n_rounds')} rounds; {len(seeds)} seeds."
        )
        lines += [f"**Protocol.** {protocol}", f"**Learner.** {_learner(config)}", ""]
    ceiling = payload.get("ceiling") or []
    if ceiling:
        ll = sum(c["test_log_likelihood"] for c in ceiling) / len(ceiling)
        acc = sum(c["test_accuracy"] for c in ceiling) / len(ceiling)
        n_full = round(sum(c["n_labels"] for c in ceiling) / len(ceiling))
        lines += [
            f"**Ceiling** (every one of the {n_full} training labels, mean over seeds): "
            f"test log-likelihood {ll:.4f}, accuracy {acc:.3f}.",
            "",
        ]
    if "bayes_log_likelihood" in config:
        lines += [
            f"**Bayes** (the true reward of the synthetic task): log-likelihood "
            f"{config['bayes_log_likelihood']:.4f}, accuracy {config['bayes_accuracy']:.3f}.",
            "",
        ]
    machine = folder / "machine.txt"
    where = []
    if machine.is_file():
        where.append(machine.read_text(encoding="utf-8").strip())
    if versions:
        packages = ", ".join(
            f"{k} {versions[k]}"
            for k in ("python", "torch", "scikit-learn", "numpy", "skbalpm")
            if versions.get(k)
        )
        where.append(f"{versions.get('platform', 'unknown platform')}; {packages}")
    if where:
        lines += ["**Machine.** " + " — ".join(where), ""]
    lines += [
        "**Reproduce** (from the repository root; checkpointed, a rerun resumes):",
        "",
        ".. code-block:: bash",
        "",
        f"   {_command(folder, config)}",
        "",
    ]
    lines += [*_summary_table(rows), ""]
    for filename, what in CURVES:
        if (folder / filename).is_file():
            lines += [
                f".. figure:: /benchmarks/{name}/{filename}",
                "   :width: 80%",
                f"   :alt: learning curves ({what}) of {name}",
                "",
                f"   {name}: {what} against the number of labelled pairs, mean over seeds "
                "with a ±1 standard-error band.",
                "",
            ]
    return lines


def _cell(text):
    """A CSV cell for a list-table: numbers to 4 significant digits, text as it is."""
    try:
        value = float(text)
    except ValueError:
        return text.replace("|", "\\|") or "–"
    if math.isnan(value):
        return "–"
    return str(int(value)) if value.is_integer() and abs(value) < 1e6 else f"{value:.4g}"


def _csv_table(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for i, row in enumerate(rows):
        cells = row if i == 0 else [_cell(c) for c in row]
        cells = [c if c.strip() else "–" for c in cells]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return lines


def _writer_of(filename, repo):
    """The script of ``benchmarks/`` whose docstring names the file, or None."""
    for script in sorted((repo / "benchmarks").glob("*.py")):
        if filename in script.read_text(encoding="utf-8"):
            return f"python benchmarks/{script.name}"
    return None


def _other_outputs(docs):
    """Tables and reports written straight into docs/benchmarks/ (e.g. the beta study)."""
    files = sorted(
        p for p in (docs / "benchmarks").glob("*") if p.suffix in (".csv", ".md", ".txt")
    )
    if not files:
        return []
    lines = ["Other results", "-------------", ""]
    for path in files:
        lines += [f"``{path.name}``", "~" * (len(path.name) + 4), ""]
        command = _writer_of(path.name, docs.parent)
        if command:
            lines += ["Written by:", "", ".. code-block:: bash", "", f"   {command}", ""]
        if path.suffix == ".csv":
            lines += [*_csv_table(path), ""]
        else:
            language = "markdown" if path.suffix == ".md" else "text"
            lines += [
                f".. literalinclude:: /benchmarks/{path.name}",
                f"   :language: {language}",
                "",
            ]
    return lines


def write_benchmark_results(docs, out):
    folders = sorted(p.parent for p in (docs / "benchmarks").glob("*/summary.csv"))
    if not folders:
        text = [
            ".. note::",
            "",
            "   Not yet run: no ``docs/benchmarks/<name>/summary.csv`` in this checkout. "
            "``python benchmarks/run_label_efficiency.py`` writes them (with the learning "
            "curves); the next documentation build shows them here.",
            "",
        ]
    else:
        text = []
        for folder in folders:
            text += _benchmark_section(folder)
    text += _other_outputs(docs)
    out.write_text("\n".join(text) + "\n", encoding="utf-8")


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _list_table(header, body):
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [header, *body]:
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return [*lines, ""]


def _learner_targets(rows):
    body = []
    for row in rows:
        value, bound = _float(row["value"]), _float(row["bound"])
        met = row["met"] == "True"
        body.append(
            [
                row["dataset"],
                row["target"],
                f"{value:.4f} ({row['op']} {bound:.4f})",
                "yes" if met else "**no**",
            ]
        )
    return _list_table(["data set", "target", "value (bound)", "met"], body)


def _learner_curves(rows, role):
    def number(text, digits=3):
        value = _float(text)
        return "–" if math.isnan(value) else f"{value:.{digits}f}"

    body = [
        [
            row["dataset"],
            f"``{row['candidate']}``",
            *(number(row[f"ll_{n}"]) for n in (50, 100, 300, 550, 1000)),
            f"{number(row['ll_all'])} ({row['n_all_labels']})",
            f"{_float(row['share_falling_rounds']):.0%}",
            number(row["mean_fall"], 4),
            number(row["seed_sd_at_550"]),
            number(row["fit_seconds_550"], 2),
        ]
        for row in rows
        if row["role"] == role
    ]
    header = [
        "data set",
        "learner",
        "50",
        "100",
        "300",
        "550",
        "1000",
        "all labels (n)",
        "falling rounds",
        "mean fall",
        "sd over seeds at 550",
        "fit s at 550",
    ]
    return _list_table(header, body)


def _learner_bald(rows):
    body = [
        [
            row["dataset"],
            f"``{row['method']}``",
            row["n_labels"],
            f"{_float(row['mean_bald_5']):.4f}",
            f"{_float(row['mean_bald_20']):.4f}",
            f"{_float(row['spearman_5_vs_20']):.2f}",
            f"{_float(row['spearman_20_vs_20']):.2f}",
            f"{_float(row['top50_overlap_5_vs_20']):.2f}",
            f"{_float(row['top50_overlap_20_vs_20']):.2f}",
        ]
        for row in rows
    ]
    header = [
        "data set",
        "learner",
        "labels",
        "mean BALD, 5 members",
        "mean BALD, 20 members",
        "Spearman 5 vs 20",
        "Spearman 20 vs 20",
        "top-50 overlap 5 vs 20",
        "top-50 overlap 20 vs 20",
    ]
    return _list_table(header, body)


def _learner_features(rows):
    def number(text, digits=3):
        value = _float(text)
        return "–" if math.isnan(value) else f"{value:.{digits}f}"

    body = [
        [
            row["dataset"],
            row["features"],
            f"``{row['candidate']}``",
            *(number(row[f"ll_{n}"]) for n in (100, 300, 550)),
            f"{number(row['ll_all'])} ({row['n_all_labels']})",
            f"{_float(row['share_falling_rounds']):.0%}",
        ]
        for row in rows
    ]
    header = ["data set", "features", "learner", "100", "300", "550", "all labels (n)"]
    return _list_table([*header, "falling rounds"], body)


def write_learner_features(docs, out):
    table = docs / "benchmarks" / "learner_study" / "feature_statistics.csv"
    if not table.is_file():
        text = [
            ".. note::",
            "",
            "   Not yet run: ``python benchmarks/learner_study.py`` writes "
            "``docs/benchmarks/learner_study/feature_statistics.csv``.",
        ]
    else:
        text = _learner_features(_rows(table))
    out.write_text("\n".join(text) + "\n", encoding="utf-8")


def write_learner_study(docs, out):
    folder = docs / "benchmarks" / "learner_study"
    if not (folder / "statistics.csv").is_file():
        text = [
            ".. note::",
            "",
            "   Not yet run: ``python benchmarks/learner_study.py`` writes "
            "``docs/benchmarks/learner_study/``; the next documentation build shows it here.",
            "",
        ]
        out.write_text("\n".join(text) + "\n", encoding="utf-8")
        return
    study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    statistics = _rows(folder / "statistics.csv")
    text = [
        f"**Machine.** {study['machine']}; {study['date']}.",
        "",
        "**Reproduce** (from the repository root; finished jobs are kept, a rerun resumes):",
        "",
        ".. code-block:: bash",
        "",
        f"   {study['command']}",
        "",
        "Targets of the default learner on the reported data sets",
        "----------------------------------------------------------",
        "",
        *_learner_targets(_rows(folder / "targets.csv")),
        "Learning curves on the reported data sets",
        "------------------------------------------",
        "",
        "Mean test log-likelihood over seeds at 50 ... 1,000 labels and with every training "
        "label; falling rounds: the share of (seed, +50 labels) steps from 50 to 550 labels "
        "(the benchmark's rounds) whose test log-likelihood fell, and the mean size of those "
        "falls in nats.",
        "",
        *_learner_curves(statistics, "reported"),
        ".. figure:: /benchmarks/learner_study/learning_curves.png",
        "   :width: 100%",
        "   :alt: learning curves of every learner on every data set of the study",
        "",
        "   Random-order learning curves, mean over seeds with a ±1 standard-deviation band; "
        "the dotted line is chance, log(1/2).",
        "",
        "Learning curves on the tuning data sets (the defaults were chosen here)",
        "------------------------------------------------------------------------",
        "",
        *_learner_curves(statistics, "tuning"),
        "BALD from 5 members against 20 members on the same labels",
        "-----------------------------------------------------------",
        "",
        'Spearman correlation and top-50 overlap of the pool\'s BALD scores; "20 vs 20" '
        "compares two 20-member fits with different seeds, the agreement one can expect at "
        "best.",
        "",
        *_learner_bald(_rows(folder / "bald_summary.csv")),
    ]
    out.write_text("\n".join(text) + "\n", encoding="utf-8")


def _subcommand(parser, *names):
    """The parser of ``prog NAME1 NAME2 ...``, formatted at a fixed width: the text must
    not depend on the terminal of whoever builds the docs."""
    import argparse

    for name in names:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = subparsers.choices[name]
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=88)
    return parser


def write_cli_help(out):
    from skbalpm.cli import build_parser

    out.write_text(_subcommand(build_parser(), "benchmark").format_help(), encoding="utf-8")


def write_cache_help(out):
    from skbalpm.cli import build_parser

    texts = [
        _subcommand(build_parser(), "cache", action).format_help() for action in ("info", "clear")
    ]
    out.write_text("\n".join(texts), encoding="utf-8")


def write_labeling_help(out):
    from skbalpm.cli import _LABELING_COMMANDS, build_parser

    parser = build_parser()
    texts = [_subcommand(parser, name).format_help() for name in _LABELING_COMMANDS]
    out.write_text("\n".join(texts), encoding="utf-8")


SPEED_SCHEMA = "skbalpm-speed/1"
SPEED_DEVICES = {"cpu": "CPU", "cuda": "a CUDA GPU"}


def _speed_number(value):
    """A measured figure for the table: 3 significant digits, thousands grouped."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _speed_detail(value):
    if isinstance(value, list):
        return ", ".join(_speed_number(v) for v in value)
    return _speed_number(value)


def read_speed_result(path):
    """A speed result file, checked against the ``skbalpm-speed/1`` schema."""
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable JSON speed result ({error})") from error
    if not isinstance(result, dict) or result.get("schema") != SPEED_SCHEMA:
        raise ValueError(f"{path}: not a {SPEED_SCHEMA} result (no such 'schema' key)")
    missing = sorted({"script", "device", "machine", "date", "command", "figures"} - set(result))
    if missing:
        raise ValueError(f"{path}: a {SPEED_SCHEMA} result lacks {missing}")
    for i, entry in enumerate(result["figures"]):
        absent = sorted({"name", "setting", "value", "unit"} - set(entry))
        if absent:
            raise ValueError(f"{path}: figure {i} lacks {absent}")
    return result


def _speed_row(entry):
    ratio, target, base = entry.get("ratio"), entry.get("target"), entry.get("baseline")
    compared = "–"
    if ratio:
        compared = f"{_speed_number(ratio['value'])}{ratio.get('reads', '')}"
        if target:
            met = (ratio["value"] <= target["value"]) == (target["op"] == "<=")
            sign = "≤" if target["op"] == "<=" else "≥"
            compared += f" (target {sign} {target['value']:g}: {'met' if met else '**not met**'})"
    details = entry.get("details") or {}
    return [
        entry["name"],
        entry["setting"],
        f"{_speed_number(entry['value'])} {entry['unit']}",
        f"{base['name']}: {_speed_number(base['value'])} {base['unit']}" if base else "–",
        compared,
        "; ".join(f"{key}: {_speed_detail(value)}" for key, value in details.items()) or "–",
    ]


def _speed_section(result, label):
    versions = result.get("versions") or {}
    where = [result["machine"], ", ".join(f"{name} {v}" for name, v in versions.items())]
    machine = "**Machine.** " + "; ".join(part for part in where if part)
    when = f"**Measured** {result['date']}"
    commit = result.get("commit")
    if commit:
        dirty = "+dirty" if commit.endswith("+dirty") else ""
        when += f", on commit ``{commit[:12]}{dirty}``"
    header = [
        "what is timed",
        "setting",
        "measured",
        "baseline (same run, same device)",
        "ratio",
        "details",
    ]
    rows = [header, *(_speed_row(entry) for entry in result["figures"])]
    lines = [f"On {label}", "~" * (len(label) + 3), "", f"{machine}. {when}.", ""]
    lines += ["**Reproduce** (from the repository root):", ""]
    lines += [".. code-block:: bash", "", f"   {result['command']}", ""]
    lines += [".. list-table::", "   :header-rows: 1", ""]
    for cells in rows:
        cells = [cell.replace("|", "\\|") for cell in cells]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return [*lines, ""]


def _script_summary(script):
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    return docstring.strip().splitlines()[0] if docstring.strip() else ""


def write_speed_results(docs, out):
    """The speed tables, rendered from ``docs/benchmarks/speed/*.json``."""
    results = {}
    for path in sorted((docs / "benchmarks" / "speed").glob("*.json")):
        result = read_speed_result(path)
        results.setdefault(result["script"], {})[result["device"]] = result
    scripts = {p.stem: p for p in sorted((docs.parent / "benchmarks").glob("bench_*.py"))}
    text = []
    for name in sorted(set(scripts) | set(results)):
        title = f"``{name}.py``"
        text += [title, "-" * len(title), ""]
        if name in scripts:
            text += [_script_summary(scripts[name]), ""]
        measured = results.get(name, {})
        for device in [*SPEED_DEVICES, *sorted(set(measured) - set(SPEED_DEVICES))]:
            label = SPEED_DEVICES.get(device, device)
            if device in measured:
                text += _speed_section(measured[device], label)
                continue
            text += [
                ".. note::",
                "",
                f"   Not yet measured on {label}: ``python benchmarks/{name}.py "
                f"--device {device}`` writes ``docs/benchmarks/speed/{name}_{device}.json``; "
                "the next documentation build shows it here.",
                "",
            ]
    out.write_text("\n".join(text) + "\n", encoding="utf-8")


def _plan_line(entry):
    details = entry.get("details") or {}
    facts = "; ".join(
        f"{key}: {_speed_detail(value)}" for key, value in details.items() if key != "section"
    )
    line = f"* {entry['name']}: **{_speed_number(entry['value'])} {entry['unit']}**"
    return line + (f" ({facts})" if facts else "")


def write_scale_results(docs, out):
    """The "Scaling out" guide's measurements: ``bench_scale_<device>.json``, plan first."""
    paths = sorted((docs / "benchmarks" / "speed").glob("bench_scale_*.json"))
    if not paths:
        text = [
            ".. note::",
            "",
            "   Not yet measured: ``python benchmarks/bench_scale.py`` writes "
            "``docs/benchmarks/speed/bench_scale_<device>.json``; the next documentation "
            "build shows it here.",
            "",
        ]
        out.write_text("\n".join(text) + "\n", encoding="utf-8")
        return
    text = []
    for path in paths:
        result = read_speed_result(path)
        plan = [e for e in result["figures"] if (e.get("details") or {}).get("section") == "plan"]
        if plan:
            text += [
                "**The plan's figures**, computed by the script from the measurements below:",
                "",
            ]
            text += [*(_plan_line(entry) for entry in plan), ""]
        label = SPEED_DEVICES.get(result["device"], result["device"])
        text += _speed_section(result, label)
    out.write_text("\n".join(text) + "\n", encoding="utf-8")


def _on_builder_inited(app):
    docs = Path(app.srcdir)
    generated = docs / "generated"
    generated.mkdir(exist_ok=True)
    write_benchmark_results(docs, generated / "benchmark_results.rst.inc")
    write_learner_study(docs, generated / "learner_study.rst.inc")
    write_learner_features(docs, generated / "learner_study_features.rst.inc")
    write_cli_help(generated / "cli_benchmark_help.txt")
    write_cache_help(generated / "cli_cache_help.txt")
    write_labeling_help(generated / "cli_labeling_help.txt")
    write_speed_results(docs, generated / "speed_results.rst.inc")
    write_scale_results(docs, generated / "scale_results.rst.inc")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document the members skbalpm defines, not those inherited from scikit-learn.

    The inherited ``get_params``, ``set_params``, ``score``, ``set_output``... are
    scikit-learn's and documented there (their docstrings point into scikit-learn's own
    documentation, which this build cannot resolve).
    """
    if what == "class" and not str(getattr(obj, "__module__", "") or "").startswith("skbalpm"):
        return True
    return None


def _constant_docstring(app, what, name, obj, options, lines):
    """The docstring of a constant re-exported from a private module (e.g. skbalpm._features).

    autodoc finds a constant's docstring (the string literal under its assignment) only in
    the module that assigns it; under the public name it would show the docstring of the
    value's type (``tuple``) instead.
    """
    if what != "data":
        return
    from sphinx.pycode import ModuleAnalyzer, PycodeError

    short = name.rsplit(".", 1)[-1]
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("skbalpm") or getattr(module, short, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except PycodeError:
            continue
        if ("", short) in docs:
            lines[:] = list(docs["", short])
            return


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    # before numpydoc (priority 500), which then formats the text like any docstring
    app.connect("autodoc-process-docstring", _constant_docstring, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
