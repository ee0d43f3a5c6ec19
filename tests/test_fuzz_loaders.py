"""Fuzz: generated bad input for every loader and for ``skbalpm benchmark``.

Each example writes one file: a valid document of the loader's format (hypothesis draws
the texts, labels, ties, duplicate ids), then one mutation: a field dropped, of the wrong
type, empty or huge; a record that is no object; the bytes truncated, interleaved with
garbage or made non-UTF-8; a UTF-8 byte-order mark; deep nesting, giant integers, lone
surrogates; an empty file. The loader must then either load it (the Bunch keeps its
invariants) or raise a ``ValueError`` (``MalformedRecordError`` included) whose message
names the file and, where the format has one, the record (line, record or row) -- never
another exception. The command line, run in-process, must answer every such file with
one error line and exit status 2 without creating its output folder, or reach the
benchmark proper (stubbed here).

The examples are derandomized (the same inputs on every run); the module prints how many
inputs it tried.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import fuzz, print_past_capture
from hypothesis import given
from hypothesis import strategies as st
from test_datasets import _check_bunch

from skbalpm.datasets import (
    load_hh_rlhf,
    load_llmbar,
    load_pandalm,
    load_preference_file,
    load_summarize_from_feedback,
)

TRIED: Counter = Counter()  # loader -> generated inputs fed to it
OUTCOMES: Counter = Counter()  # (loader, "loaded" | "error") -> count

N_PER_KIND = 7  # examples per (loader, mutation); CSV takes twice as many
N_EXAMPLES = 110  # the JSON list reader's examples


POSITION = re.compile(r"(line|record|row) \d+")
# errors about a whole file, where no record can be named
FILE_LEVEL = (
    "empty file",
    "not a valid gzip file",
    "No usable preference pairs",
    "expected a JSON list",
    "not a Parquet file",
    "more fields than the header",
    "Cannot tell the format",
    "holds no records",
)
HUGE = "x" * 1_500_000
WRONG_VALUES = [None, 0, 1, 2, -1, 0.5, float("nan"), True, False, [], ["a"], {}, {"a": 1}, 10**30]


pytestmark = pytest.mark.slow  # about 35 s on the 2-core CI box


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    """Print the number of generated inputs when the module is done."""
    yield
    total = sum(TRIED.values())
    loaded = sum(n for (_, outcome), n in OUTCOMES.items() if outcome == "loaded")
    lines = [
        f"fuzz: {total} generated inputs ({loaded} loaded, {total - loaded} rejected with a "
        "clear error)",
        "  " + ", ".join(f"{name} {n}" for name, n in sorted(TRIED.items())),
    ]
    print_past_capture(request, lines)


def check_bunch(data):
    _check_bunch(data)
    assert data.n_ties == data.skipped.get("tie", 0)
    assert len(data.groups) == len(data.y)


VALID_KINDS = {"none", "bom", "blank_lines", "huge_string", "huge_cell"}  # must load


def attempt(name, load, path: Path, position=None, kind=None):
    """Feed one file to a loader; check the outcome (see the module docstring).

    ``position``: what the error must name when the mutation broke one record. A valid
    document (``kind`` in :data:`VALID_KINDS`) must load, unless every record was skipped.
    """
    TRIED[name] += 1
    try:
        data = load(path)
    except ValueError as exc:  # MalformedRecordError is a ValueError
        message = str(exc)
        assert path.name in message, message
        assert kind not in VALID_KINDS or "No usable preference pairs" in message, message
        if not any(phrase in message for phrase in FILE_LEVEL):
            assert POSITION.search(message), message
            if position is not None:
                assert position in message, (position, message)
        OUTCOMES[name, "error"] += 1
        return None
    check_bunch(data)
    OUTCOMES[name, "loaded"] += 1
    return data


# -- valid documents --------------------------------------------------------------------

texts = st.text(max_size=12)
short_texts = st.text(alphabet="abcxyz .?\n,\"'", max_size=8)


def distinct_pair(draw, strategy=texts):
    first = draw(strategy)
    second = draw(strategy.filter(lambda t, first=first: t.strip() != first.strip()))
    return first, second


@st.composite
def hh_records(draw):
    records = []
    for _ in range(draw(st.integers(1, 5))):
        prompt = draw(texts)
        chosen, rejected = distinct_pair(draw)
        conversation = f"\n\nHuman: {prompt}\n\nAssistant:"
        if draw(st.booleans()) and records:
            records.append(records[-1])  # a duplicate record
        else:
            records.append({"chosen": conversation + chosen, "rejected": conversation + rejected})
    return records


@st.composite
def summarize_records(draw):
    records = []
    for _ in range(draw(st.integers(1, 5))):
        post_id = draw(st.sampled_from(["t3_a", "t3_b", "t3_c"]))  # ids repeat
        if draw(st.booleans()):
            info = {"id": post_id, "post": draw(texts), "title": draw(texts), "subreddit": "s"}
        else:
            info = {"id": post_id, "article": draw(texts), "title": draw(texts), "site": "cnn"}
        first, second = distinct_pair(draw)
        records.append(
            {
                "info": info,
                "summaries": [{"text": first}, {"text": second}],
                "choice": draw(st.sampled_from([0, 1])),
            }
        )
    return records


@st.composite
def table_records(draw, text_strategy=texts):
    """Generic labelled rows; labels 0, 1 and ties (0.5 / "tie"), group ids repeat."""
    records = []
    for _ in range(draw(st.integers(1, 5))):
        first, second = distinct_pair(draw, text_strategy)
        records.append(
            {
                "prompt": draw(text_strategy),
                "response_a": first,
                "response_b": second,
                "label": draw(st.sampled_from([0, 1, 0, 1, 0.5, "tie"])),
                "post": draw(st.sampled_from(["g1", "g2"])),
            }
        )
    return records


@st.composite
def pandalm_records(draw):
    records = []
    for _ in range(draw(st.integers(1, 5))):
        first, second = distinct_pair(draw)
        votes = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=3, max_size=3))
        record = {"instruction": draw(texts), "input": draw(texts)}
        record.update(response1=first, response2=second)
        record.update({f"annotator{k + 1}": vote for k, vote in enumerate(votes)})
        records.append(record)
    return records


@st.composite
def llmbar_records(draw):
    records = []
    for _ in range(draw(st.integers(1, 5))):
        first, second = distinct_pair(draw)
        label = draw(st.sampled_from([1, 2]))
        records.append(
            {"input": draw(texts), "output_1": first, "output_2": second, "label": label}
        )
    return records


# -- mutations of JSON documents --------------------------------------------------------

JSON_MUTATIONS = (
    "none",
    "drop_field",
    "wrong_type",
    "empty_string",
    "huge_string",
    "not_object",
    "truncate",
    "garbage",
    "non_utf8",
    "bom",
    "blank_lines",
    "deep_nesting",
    "giant_integer",
    "lone_surrogate",
    "nan_literal",
    "empty_file",
    "no_records",
)
_RAW_MARK = "@@RAW@@"  # a string field replaced by raw JSON text after serialising


def _fields(record, path=()):
    """Paths of every field of a (nested) record."""
    for key, value in record.items():
        yield (*path, key)
        if isinstance(value, dict):
            yield from _fields(value, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _fields(item, (*path, key, i))


def _parent(record, field):
    for key in field[:-1]:
        record = record[key]
    return record


def mutate_records(draw, records, kind):
    """Apply one mutation to a copy of ``records``; return it and the mutated index."""
    records = json.loads(json.dumps(records))  # a deep copy
    k = draw(st.integers(0, len(records) - 1))
    field = draw(st.sampled_from(list(_fields(records[k]))))
    parent = _parent(records[k], field)
    if kind == "drop_field":
        del parent[field[-1]]
    elif kind == "wrong_type":
        parent[field[-1]] = draw(st.sampled_from(WRONG_VALUES))
    elif kind == "empty_string":
        parent[field[-1]] = ""
    elif kind == "huge_string":  # a text field: the document stays valid
        texts = [f for f in _fields(records[k]) if isinstance(_parent(records[k], f)[f[-1]], str)]
        texts = [f for f in texts if f[-1] != "label"]
        if texts:
            text_field = draw(st.sampled_from(texts))
            _parent(records[k], text_field)[text_field[-1]] = HUGE
    elif kind == "not_object":
        records[k] = draw(st.sampled_from([1, "text", [], None, True, [{"a": 1}]]))
    elif kind in ("deep_nesting", "giant_integer", "lone_surrogate", "nan_literal"):
        parent[field[-1]] = _RAW_MARK + kind
    return records, k


def raw_json_value(kind):
    return {
        "deep_nesting": "[" * 50_000 + "]" * 50_000,
        "giant_integer": "9" * 5_000,
        "lone_surrogate": '"text \\ud800 more"',
        "nan_literal": "NaN",
    }[kind]


def serialise(records, kind, *, lines: bool, draw) -> bytes:
    """JSON Lines or one JSON list, with the byte-level mutations applied."""
    if kind == "empty_file":
        return draw(st.sampled_from([b"", b"\n", b"   \n\n"]))
    if kind == "no_records":
        return b"\n" if lines else draw(st.sampled_from([b"[]", b" [ ]\n"]))
    if lines:
        parts = [json.dumps(r, ensure_ascii=False) for r in records]
        if kind == "blank_lines":
            parts = [p + "\n" + draw(st.sampled_from(["", "  ", "\t"])) for p in parts]
        text = "\n".join(parts) + "\n"
    else:
        text = json.dumps(records, ensure_ascii=False, indent=draw(st.sampled_from([None, 1])))
    for raw in ("deep_nesting", "giant_integer", "lone_surrogate", "nan_literal"):
        text = text.replace(f'"{_RAW_MARK}{raw}"', raw_json_value(raw))
    data = text.encode("utf-8")
    if kind == "truncate":
        data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    elif kind == "garbage":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif kind == "non_utf8":
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xe9t\xe9", b"\xc3", b"\x80\x80"]))
            + data[at:]
        )
    elif kind == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


def record_position(kind, k, *, lines: bool):
    """The position an error about record ``k`` must name, where it is known."""
    if lines and kind == "not_object" and k == 0:
        return None  # a first line holding a list reads as a JSON list of records
    if kind in ("drop_field", "wrong_type", "not_object"):
        return f"line {k + 1}" if lines else f"record {k}"
    if lines and kind in ("deep_nesting", "giant_integer", "lone_surrogate", "nan_literal"):
        return f"line {k + 1}"
    return None


def _write(folder, name, data: bytes, gz=False) -> Path:
    path = Path(folder) / name
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


# -- the JSON loaders -------------------------------------------------------------------


def _load_table(path):
    return load_preference_file(path, group_column="post")


# loader name -> (valid documents, file names (JSON Lines first), whether JSON Lines, loader)
JSON_LOADERS = {
    "hh-rlhf": (hh_records(), ["hh.jsonl", "hh.jsonl.gz"], True, load_hh_rlhf),
    "summarize": (summarize_records(), ["c.jsonl"], True, load_summarize_from_feedback),
    "generic-json": (table_records(), ["pairs.jsonl", "pairs.json"], None, _load_table),
    "pandalm": (pandalm_records(), ["testset.json"], False, load_pandalm),
    "llmbar": (llmbar_records(), ["natural.json"], False, load_llmbar),
}


@pytest.mark.parametrize("kind", JSON_MUTATIONS)
@pytest.mark.parametrize("loader", list(JSON_LOADERS))
@fuzz(N_PER_KIND)
@given(data=st.data())
def test_fuzz_json_loaders(loader, kind, data):
    documents, names, lines, load = JSON_LOADERS[loader]
    records, k = mutate_records(data.draw, data.draw(documents), kind)
    name = data.draw(st.sampled_from(names))
    lines = ".jsonl" in name if lines is None else lines
    raw = serialise(records, kind, lines=lines, draw=data.draw)
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, name, raw, gz=name.endswith(".gz"))
        loaded = attempt(loader, load, path, record_position(kind, k, lines=lines), kind)
    if loader == "generic-json" and loaded is not None and kind in VALID_KINDS:
        n_ties = sum(r["label"] in (0.5, "tie") for r in records)
        assert loaded.n_ties == n_ties and loaded.n_records == len(records)


# -- CSV ----------------------------------------------------------------------------------

CSV_MUTATIONS = (
    "none",
    "drop_cell",
    "extra_cell",
    "stray_quote",
    "bad_label",
    "empty_cell",
    "huge_cell",
    "drop_column",
    "duplicate_header",
    "header_only",
    "truncate",
    "garbage",
    "non_utf8",
    "bom",
    "nul_byte",
    "empty_file",
)
CSV_COLUMNS = ["prompt", "response_a", "response_b", "label", "post"]


def csv_document(draw, kind):
    """Bytes of a CSV table after one mutation; (bytes, data row the error must name)."""
    records = draw(table_records(short_texts))
    rows = [[str(r[c]) for c in CSV_COLUMNS] for r in records]
    header = list(CSV_COLUMNS)
    k = draw(st.integers(0, len(rows) - 1))
    column = draw(st.integers(0, len(header) - 1))
    if kind == "drop_cell":
        del rows[k][column]
    elif kind == "extra_cell":
        rows[k].append(draw(short_texts))
    elif kind == "bad_label":
        rows[k][3] = draw(st.sampled_from(["", "abc", "1.5", "nan", "2", "-0", "true", "NA"]))
    elif kind == "empty_cell":
        rows[k][column] = ""
    elif kind == "huge_cell":  # a text cell: the document stays valid
        rows[k][column % 3] = HUGE
    elif kind == "drop_column":
        header.pop(column)
        for row in rows:
            row.pop(column)
    elif kind == "duplicate_header":
        header[column] = header[(column + 1) % len(header)]
    elif kind == "header_only":
        rows = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    at = draw(st.integers(0, len(data)))
    if kind == "stray_quote":
        data = data[:at] + b'"' + data[at:]
    elif kind == "truncate":
        data = data[:at]
    elif kind == "garbage":
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif kind == "non_utf8":
        data = data[:at] + draw(st.sampled_from([b"\xff", b"caf\xe9", b"\x80"])) + data[at:]
    elif kind == "bom":
        data = b"\xef\xbb\xbf" + data
    elif kind == "nul_byte":
        data = data[:at] + b"\x00" + data[at:]
    elif kind == "empty_file":
        data = b""
    position = f"data row {k + 1}" if kind in ("drop_cell", "bad_label") else None
    return data, position


@pytest.mark.parametrize("kind", CSV_MUTATIONS)
@fuzz(2 * N_PER_KIND)
@given(data=st.data())
def test_fuzz_generic_csv(kind, data):
    raw, position = csv_document(data.draw, kind)
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "pairs.csv", raw)
        attempt("generic-csv", _load_table, path, position, kind)


# -- Parquet ------------------------------------------------------------------------------

PARQUET_MUTATIONS = (
    "none",
    "null_cell",
    "int_column",
    "binary_column",
    "list_column",
    "float_labels",
    "bool_labels",
    "drop_column",
    "truncate",
    "garbage",
    "not_parquet",
    "empty_file",
)


def parquet_document(draw, folder, kind) -> Path:
    records = draw(table_records())
    frame = pd.DataFrame(records)
    frame["label"] = frame["label"].astype(str)
    column = draw(st.sampled_from(["prompt", "response_a", "response_b", "label", "post"]))
    k = draw(st.integers(0, len(frame) - 1))
    if kind == "null_cell":
        frame[column] = frame[column].astype(object)
        frame.loc[k, column] = None
    elif kind == "int_column":
        frame[column] = np.arange(len(frame))
    elif kind == "binary_column":
        frame[column] = [text.encode("utf-8", "surrogatepass") for text in frame[column]]
    elif kind == "list_column":
        frame[column] = [[text] for text in frame[column]]
    elif kind == "float_labels":
        frame["label"] = draw(st.sampled_from([0.0, 1.0, 0.5, np.nan, 2.0]))
    elif kind == "bool_labels":
        frame["label"] = True
    elif kind == "drop_column":
        frame = frame.drop(columns=column)
    path = Path(folder) / "pairs.parquet"
    frame.to_parquet(path)
    data = path.read_bytes()
    at = draw(st.integers(0, len(data)))
    if kind == "truncate":
        path.write_bytes(data[:at])
    elif kind == "garbage":
        path.write_bytes(data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:])
    elif kind == "not_parquet":
        path.write_bytes(json.dumps(records).encode())
    elif kind == "empty_file":
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize("kind", PARQUET_MUTATIONS)
@fuzz(N_PER_KIND)
@given(data=st.data())
def test_fuzz_generic_parquet(kind, data):
    with tempfile.TemporaryDirectory() as folder:
        path = parquet_document(data.draw, folder, kind)
        attempt("generic-parquet", _load_table, path, kind=kind)


# -- JSON lists, record by record ----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@fuzz(N_EXAMPLES)
@given(
    values=st.lists(json_values, max_size=4), indent=st.sampled_from([None, 0, 2]), data=st.data()
)
def test_fuzz_json_list_reads_like_json_load(values, indent, data):
    """The record-by-record reader of JSON lists accepts exactly what ``json.loads`` does
    and returns the same records, on intact and on cut or patched documents."""
    from skbalpm.datasets._common import MalformedRecordError, iter_json_list

    text = json.dumps(values, indent=indent)
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(text)))
        patch = data.draw(st.sampled_from(["", ",", "]", "[", " ", "}", '"', "1", "x", "\n"]))
        text = text[:at] + patch + text[at + data.draw(st.integers(0, 2)) :]
    TRIED["json list reader"] += 1
    try:
        expected = json.loads(text)
    except ValueError:
        expected = None
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "list.json", text.encode())
        try:
            got = [record for _, record in iter_json_list(path)]
        except MalformedRecordError as exc:
            assert expected is None or not isinstance(expected, list), (text, str(exc))
            assert path.name in str(exc)
            OUTCOMES["json list reader", "error"] += 1
            return
    assert got == expected, text
    OUTCOMES["json list reader", "loaded"] += 1


# -- the command line ---------------------------------------------------------------------


class ReachedTheBenchmark(Exception):
    """Raised by the stubbed ``run_benchmark``: the data loaded."""


def _stub_run_benchmark(X, y, **kwargs):
    assert len(X) == len(y) > 0
    raise ReachedTheBenchmark


# the command line meets the same documents; the record-level mutations are the loaders'
# business (above), so here the whole-file ones come more often
CLI_MUTATIONS = (
    "none",
    "truncate",
    "garbage",
    "non_utf8",
    "bom",
    "empty_file",
    "no_records",
    "not_object",
    "wrong_type",
    "drop_field",
)
CSV_FOR_JSON = {  # the CSV mutation standing in for a JSON one
    "none": "none",
    "truncate": "truncate",
    "garbage": "garbage",
    "non_utf8": "non_utf8",
    "bom": "bom",
    "empty_file": "empty_file",
    "no_records": "header_only",
    "not_object": "extra_cell",
    "wrong_type": "bad_label",
    "drop_field": "drop_cell",
}


@st.composite
def cli_document(draw, detect, kind):
    """(file name, bytes, --format value, whether that is the file's format) of a
    generated, possibly broken, data file;
    ``detect``: "auto" lets the command line detect the format, else it is given (right
    or wrong)."""
    which = draw(st.sampled_from(["hh", "summarize", "table", "list", "csv", "pandalm", "llmbar"]))
    if which == "csv":
        raw, _ = csv_document(draw, CSV_FOR_JSON[kind])
        return "pairs.csv", raw, "auto" if detect == "auto" else "csv", True
    strategy, name, lines, fmt = {
        "hh": (hh_records(), "hh.jsonl", True, "hh-rlhf"),
        "summarize": (summarize_records(), "c.jsonl", True, "summarize"),
        "table": (table_records(), "pairs.jsonl", True, "jsonl"),
        "list": (table_records(), "pairs.json", False, "jsonl"),
        "pandalm": (pandalm_records(), "testset.json", False, "pandalm"),
        "llmbar": (llmbar_records(), "natural.json", False, "llmbar"),
    }[which]
    records, _ = mutate_records(draw, draw(strategy), kind)
    raw = serialise(records, kind, lines=lines, draw=draw)
    if detect == "auto":
        return name, raw, "auto", True
    # the right format, or a wrong one that must be answered clearly
    given = draw(st.sampled_from([fmt, fmt, "jsonl", "summarize", "pandalm", "hh-rlhf"]))
    return name, raw, given, given == fmt


cli_options = st.lists(
    st.sampled_from(
        [
            ["--columns", "response_a=response_a,response_b=response_b"],
            ["--columns", "prompt=question"],
            ["--columns", "group=post"],
            ["--columns", "label"],
            ["--columns", "answer=x"],
            ["--label-map", "a=0,b=1,tie=0.5|tie"],
            ["--label-map", "a=1,b=0"],
            ["--label-map", "a=0"],
            ["--label-map", "a=0,b=0"],
            ["--test-fraction", "0.3"],
        ]
    ),
    max_size=2,
)


@pytest.mark.parametrize("kind", CLI_MUTATIONS)
@pytest.mark.parametrize("detect", ["auto", "given"])
@fuzz(N_PER_KIND)
@given(data=st.data(), options=cli_options)
def test_fuzz_benchmark_command_line(detect, kind, data, options, monkeypatch_module, capsys):
    from skbalpm.cli import main

    name, raw, fmt, right_format = data.draw(cli_document(detect, kind))
    TRIED["command line"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, name, raw)
        out = Path(folder) / "out"
        argv = ["benchmark", "--dataset", str(path), "--format", fmt, "--output-dir", str(out)]
        argv += [item for option in options for item in option] + ["--quiet"]
        capsys.readouterr()
        try:
            status = main(argv)
        except ReachedTheBenchmark:
            OUTCOMES["command line", "loaded"] += 1
            return
        except SystemExit as exc:  # argparse: a bad option value
            assert exc.code == 2 and "error: argument" in capsys.readouterr().err
            OUTCOMES["command line", "error"] += 1
            return
        err = capsys.readouterr().err
        assert status == 2, err
        valid = kind in VALID_KINDS and right_format and not options
        assert not valid or "No usable preference pairs" in err, err
        assert err.startswith("skbalpm benchmark: error: "), err
        table_options_misused = "--columns and --label-map apply to generic tables" in err
        assert path.name in err or (table_options_misused and options), err
        assert err.count("\n") == 1, err  # one line, no traceback
        assert not out.exists()  # nothing half-written
        OUTCOMES["command line", "error"] += 1


@pytest.fixture(scope="module")
def monkeypatch_module():
    """run_benchmark replaced by a stub for the whole module (a hypothesis test cannot
    take the function-scoped monkeypatch)."""
    mp = pytest.MonkeyPatch()
    mp.setattr("skbalpm.benchmark._experiment.run_benchmark", _stub_run_benchmark)
    yield mp
    mp.undo()
