"""Fuzz tests (issue 15): hostile JSONL, CSV and Parquet through `nigehbaan score`.

Properties, for any input the strategies below can make: the command returns 0 or 1 (never 2
for a row-level problem, never a traceback); every input row yields exactly one output row, in
input order; the output is valid UTF-8 and JSON; rows that can be scored are scored and the
others carry `error`; every evidence and entity span slices the text written out; and each
example finishes in bounded time. The review-import half is in tests/review/test_fuzz_import.py
and reuses the file strategies from here.

Hypothesis budgets are small (the whole file runs in well under a minute on 2 shared cores);
the seed database is off so CI runs are reproducible.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.scorer import MAX_TEXT_CHARS, OUTPUT_FIELDS

from nigehbaan.cli import main
from tests.conftest import ROOT

RULES = str(ROOT / "models" / "rules")
FAST = str(ROOT / "models" / "fast")
# CPU seconds of this process one example may take (a few rows, scored in-process with
# --workers 1): a quadratic path on a 50,000-character token takes minutes, which this catches.
# CPU time, not wall time: on a shared, loaded machine a 10-second example took 69 s of wall time.
TIME_BOUND_S = 30.0
FUZZ = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

SAMPLE_TEXTS = [
    json.loads(line)["text"]
    for line in (ROOT / "data" / "samples" / "ads.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
][:24]
SNIPPETS = [
    "free visa ", "FREE VISA!!! ", "p@$$p0rt jama karwayen ", "passport \u200brakh lenge ",
    "0300-1234567 ", "+92 3 0 0 1 2 3 4 5 6 7 ", "Rs. 50,000/month ", "₨ ۵۰ ہزار ", "umar 14 saal ",
    "wa.me/923001234567 ", "info@agency.pk ", "https://x.pk/a?b=c ", "@handle ", "OEP 1234/RWP ",
    "ویزا فری ", "لڑکیاں چاہیئں ", "<b>", "</b>", "<div><p>", "&nbsp;", "&#x202e;", "&amp;amp;",
    "<script>alert(1)</script>", "\u202e", "\u200d", "\ufeff", "\u0640", "\x00", "\x07", "\x1b[31m",
    "\r", "\t", "\x85", "\u2028", "😀", "🇵🇰", "\U0001f9d1\u200d\U0001f4bb", "é", "e\u0301", "ﷺ",
    "Ａ", "ℌ", "ﬁ", "İ", "ß", "٣٤٥", "۰۱۲", "1" * 40, "a.b.c.d.e.f.g", "--" * 30, "\\", '"',
]
SURROGATES = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)
_NO_SPACE = st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"])


@st.composite
def huge_token(draw, low: int = 10_000, high: int = 60_000) -> str:
    """Tens of thousands of characters without a space (a base64 blob, a pasted URL...)."""
    unit = draw(st.text(alphabet=_NO_SPACE, min_size=1, max_size=6))
    n = draw(st.integers(low, high))
    return (unit * (n // len(unit) + 1))[:n]


@st.composite
def repeated_phrase(draw) -> str:
    """Many evidence spans: "free visa " a few thousand times."""
    return draw(st.sampled_from(["free visa ", "passport jama ", "0300 1234567 ", "<b>x</b>"])) * draw(
        st.integers(100, 3_000)
    )


def _piece(huge: bool):
    cheap = [
        st.text(max_size=30),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20),
        st.sampled_from(SNIPPETS),
        st.sampled_from(SNIPPETS),
        st.sampled_from(SAMPLE_TEXTS),
    ]
    return st.one_of(*cheap, huge_token(), repeated_phrase()) if huge else st.one_of(*cheap)


def ad_text(surrogates: bool = True, huge: bool = True):
    """An ad text: a few pieces of every kind joined; lone surrogates only when asked."""
    piece = _piece(huge)
    if surrogates:
        piece = st.one_of(piece, SURROGATES)
    return st.lists(piece, max_size=6).map("".join)


def texts_for_normalize():
    """Pathological texts for the offset map: everything ad_text makes plus deep markup and
    texts around MAX_ANALYSED_CHARS, kept short enough to check character by character."""
    deep = st.integers(1, 3_000).map(lambda n: "<div>" * n + "x" + "</div>" * n)
    unclosed = st.integers(1, 5_000).map(lambda n: "<" * n + "a" + ">" * (n // 2))
    leet = st.integers(1, 5_000).map(lambda n: "p4$$" * n)
    spaced = st.integers(1, 5_000).map(lambda n: "0 " * n)
    return st.lists(
        st.one_of(_piece(False), SURROGATES, huge_token(1_000, 20_000), deep, unclosed, leet, spaced),
        max_size=4,
    ).map("".join)


# ------------------------------------------------------------------------------- values

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
json_values = st.recursive(
    _scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=5), kids, max_size=3)),
    max_leaves=12,
)
wrong_types = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def nested(depth: int):
    """A passthrough value nested `depth` levels deep, alternating lists and objects."""
    value: object = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


# ------------------------------------------------------------------------------- rows


@dataclass
class Expect:
    """What one input row must come out as: `ok` True (scored), False (error row) or None (either);
    `id` the id the output row must carry, when the input fixes one."""

    ok: bool | None
    id: str | None = None
    text: str | None = None  # the text the output row must carry, when scored


def _scorable(text) -> bool:
    return isinstance(text, str) and bool(text.strip()) and len(text) <= MAX_TEXT_CHARS


def _repair(s: str) -> str:
    return re.sub("[\ud800-\udfff]", "\ufffd", s)


_CTRL_ESCAPE = re.compile(r'(?<!\\)((?:\\\\)*)\\u00([01][0-9a-f])')


def _raw_controls(line: str) -> str:
    """Put control characters (NUL included, newline excluded) raw into the JSON strings."""
    def put(m):
        code = int(m.group(2), 16)
        return m.group(1) + (chr(code) if code != 0x0A else m.group(0)[len(m.group(1)):])

    return _CTRL_ESCAPE.sub(put, line)


@st.composite
def jsonl_row(draw, i: int, huge: bool = True) -> tuple[bytes, Expect]:
    """One JSONL line (bytes, without the newline) and what it must score as."""
    kind = draw(st.sampled_from(["object"] * 6 + ["broken", "not_object", "bad_utf8", "deep"]))
    if kind == "not_object":
        value = draw(st.one_of(json_values.filter(lambda v: not isinstance(v, dict)), st.just([])))
        return json.dumps(value).encode(), Expect(False)
    if kind == "broken":
        good = json.dumps({"id": f"r{i}", "text": draw(ad_text(huge=False))})
        cut = draw(st.integers(1, max(1, len(good) - 1)))
        junk = draw(st.sampled_from(["", "}", "{", ",", "'", "\\", "]]", "garbage", '"x":1}']))
        line = (good[:cut] + junk).encode("utf-8", "surrogatepass")
        if not line.strip():
            line = b"{"
        try:
            value = json.loads(line.decode("utf-8"), strict=False)
        except (ValueError, UnicodeDecodeError):
            return line, Expect(False)
        return line, Expect(None)  # the cut happened to leave valid JSON
    if kind == "bad_utf8":
        text = draw(ad_text(surrogates=False, huge=False))
        bad = draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\x80", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]))
        at = draw(st.integers(0, len(text)))
        line = (
            b'{"id": "r%d", "text": "' % i
            + json.dumps(text[:at], ensure_ascii=False)[1:-1].encode()
            + bad
            + json.dumps(text[at:], ensure_ascii=False)[1:-1].encode()
            + b'"}'
        )
        return line, Expect(False)
    if kind == "deep":
        # Nested past what json/repr can recurse through: must be an error row, not a crash.
        depth = draw(st.sampled_from([1_500, 5_000, 100_000]))
        line = f'{{"id": "r{i}", "text": "free visa", "deep": {"[" * depth}1{"]" * depth}}}'
        return line.encode(), Expect(False)
    record: dict = {}
    fixed_id = None
    id_kind = draw(st.sampled_from(["plain", "plain", "missing", "wrong", "surrogate", "empty"]))
    if id_kind == "plain":
        record["id"] = fixed_id = f"r{i}"
    elif id_kind == "wrong":
        record["id"] = draw(wrong_types)
    elif id_kind == "surrogate":
        record["id"] = f"r{i}" + draw(SURROGATES)
        fixed_id = _repair(json.loads(json.dumps(record["id"])))  # an escaped pair is one character
    elif id_kind == "empty":
        record["id"] = ""
    text_kind = draw(st.sampled_from(["text"] * 6 + ["wrong", "missing", "blank", "over"]))
    if text_kind == "text":
        record["text"] = draw(ad_text(huge=huge))
    elif text_kind == "wrong":
        record["text"] = draw(wrong_types)
    elif text_kind == "blank":
        record["text"] = draw(st.sampled_from(["", " ", "\n\t", "\u3000", "\x1c\x1f"]))
    elif text_kind == "over":
        record["text"] = "visa " * (MAX_TEXT_CHARS // 5) + draw(st.text(min_size=1, max_size=5))
    for key in draw(st.lists(st.sampled_from(["url", "platform", "posted_at", "lang", "meta", "ټ", "\x00k"]), max_size=3, unique=True)):
        record[key] = draw(st.one_of(json_values, st.integers(1, 40).map(nested)))
    if draw(st.booleans()):
        record = dict(reversed(list(record.items())))  # `text` need not come first
    has_surrogate = bool(re.search("[\ud800-\udfff]", json.dumps(record, ensure_ascii=False)))
    line = json.dumps(record, ensure_ascii=has_surrogate or draw(st.booleans()))
    if draw(st.booleans()):
        line = _raw_controls(line)
    text = record.get("text")
    ok = _scorable(text)
    return line.encode("utf-8"), Expect(ok, fixed_id, _repair(json.loads(json.dumps(text))) if ok else None)


@st.composite
def jsonl_file(draw, huge: bool = True, max_rows: int = 6) -> tuple[bytes, list[Expect]]:
    rows = [draw(jsonl_row(i, huge)) for i in range(draw(st.integers(1, max_rows)))]
    data = b"".join(line + draw(st.sampled_from([b"\n", b"\r\n"])) for line, _ in rows)
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.booleans()):
        data = data.rstrip(b"\r\n")  # no newline after the last row
    return data, [e for _, e in rows]


# ------------------------------------------------------------------------------- checks


def _score(src: Path, out: Path, model: str = RULES) -> int:
    return main(["score", str(src), "-o", str(out), "--model", model, "--no-progress", "--quiet", "--workers", "1"])


def _spans(row: dict):
    for ind in row.get("indicators") or []:
        yield from ind["evidence"]
    for values in (row.get("entities") or {}).values():
        for v in values:
            if isinstance(v, dict) and "start" in v:
                yield v


def read_output(out: Path) -> list[dict]:
    """The scored rows of a .jsonl/.csv/.parquet output, nested fields decoded."""
    data = out.read_bytes()
    if out.suffix == ".parquet":
        rows = pq.read_table(out).to_pylist()
    else:
        data.decode("utf-8")  # valid UTF-8 whatever came in
    if out.suffix == ".jsonl":
        # split on "\n" only: U+0085 and U+2028 are allowed raw inside JSON strings
        return [json.loads(line) for line in data.decode("utf-8").split("\n") if line]
    if out.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        for r in rows:
            r["risk"] = float(r["risk"]) if r.get("risk") else None
    for r in rows:
        for k in ("indicators", "entities", "model", "warnings", "extra_fields"):
            if isinstance(r.get(k), str) and r[k]:
                r[k] = json.loads(r[k])
        r.update(r.pop("extra_fields", None) or {})
        if r.get("error") == "":
            r["error"] = None
    return rows


def check_scored(rows: list[dict], expects: list[Expect], rc: int) -> None:
    """The properties every scored file must have."""
    assert rc in (0, 1)
    assert len(rows) == len(expects), "one output row per input row"
    assert rc == (1 if any(r.get("error") for r in rows) else 0)
    for n, (row, exp) in enumerate(zip(rows, expects, strict=True), 1):
        assert set(OUTPUT_FIELDS) - {"warnings"} <= set(row), f"row {n} lacks fields"
        assert isinstance(row["id"], str) and row["id"], f"row {n}: id {row['id']!r}"
        if exp.id is not None:
            assert row["id"] == exp.id, f"row {n} out of order"
        if exp.ok is True:
            assert row["error"] is None, f"row {n}: {row['error']}"
            assert row["text"] == exp.text
            assert 0 <= row["risk"] <= 1 and row["band"] in ("high", "medium", "low")
        elif exp.ok is False:
            assert isinstance(row["error"], str) and row["error"], f"row {n} should be an error row"
        if row.get("error") is None:
            for span in _spans(row):
                assert row["text"][span["start"] : span["end"]] == span["text"]


def run_jsonl(tmp: Path, data: bytes, expects: list[Expect], model: str = RULES, fmt: str = ".jsonl"):
    src = tmp / "in.jsonl"
    src.write_bytes(data)
    out = tmp / f"out{fmt}"
    start = time.process_time()
    rc = _score(src, out, model)
    assert time.process_time() - start < TIME_BOUND_S
    rows = read_output(out)
    check_scored(rows, expects, rc)
    return rows


# ------------------------------------------------------------------------------- JSONL


@settings(max_examples=40, **FUZZ)
@given(f=jsonl_file())
def test_jsonl_rules_every_row_out_in_order(tmp_path_factory, f):
    run_jsonl(tmp_path_factory.mktemp("j"), *f)


@settings(max_examples=6, **FUZZ)
@given(f=jsonl_file(huge=False, max_rows=4))
def test_jsonl_fast_model(tmp_path_factory, f):
    run_jsonl(tmp_path_factory.mktemp("jf"), *f, model=FAST)


@settings(max_examples=10, **FUZZ)
@given(f=jsonl_file(huge=False), fmt=st.sampled_from([".csv", ".parquet"]))
def test_jsonl_to_csv_and_parquet_outputs(tmp_path_factory, f, fmt):
    run_jsonl(tmp_path_factory.mktemp("jo"), *f, fmt=fmt)


def test_stdin_and_blank_lines_are_not_rows(tmp_path, monkeypatch, capsysbinary):
    # Blank lines (whitespace only) are documented as not rows; everything else is one.
    data = b'\xef\xbb\xbf{"id": "a", "text": "free visa"}\n\n  \r\n{"id": "b", "text": 5}\n\x00\n'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc = main(["score", "-", "--model", RULES, "--no-progress", "--quiet", "--workers", "1"])
    rows = [json.loads(x) for x in capsysbinary.readouterr().out.decode("utf-8").splitlines()]
    assert rc == 1 and [r["id"] for r in rows[:2]] == ["a", "b"] and len(rows) == 3
    assert rows[2]["error"] and rows[2]["raw"] == "\x00"


# ------------------------------------------------------------------------------- CSV

_csv_cell = st.one_of(
    ad_text(surrogates=False, huge=False),
    st.sampled_from(['"', '""', 'a,b', "line\nbreak", "cr\rlf\r\n", "\x00", " ", "", "=1+1", "'quoted'"]),
)
# Bytes that are never valid UTF-8 (0xC0, 0xC1, 0xF5-0xFF), as surrogateescape writes them.
_UNDECODABLE = st.text(alphabet=st.sampled_from(["\udcc0", "\udcc1", "\udcf5", "\udcfe", "\udcff"]), min_size=1, max_size=3)


@st.composite
def csv_file(draw) -> tuple[bytes, list[Expect]]:
    """A CSV file: `text` and `id` columns among others, cells with quotes, newlines, NUL and
    undecodable bytes (lone \\udc80-\\udcff written with surrogateescape), ragged rows, a BOM."""
    extra = draw(st.lists(st.sampled_from(["url", "platform", "lang", "x y", "ق", ""]), max_size=2, unique=True))
    header = draw(st.permutations(["id", "text", *extra]))
    buf = io.StringIO(newline="")
    # With "\n" as the terminator the writer would leave a bare "\r" unquoted (a row break to
    # any reader), so that dialect quotes every cell.
    end, quoting = draw(st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\n", csv.QUOTE_ALL)]))
    w = csv.writer(buf, lineterminator=end, quoting=quoting)
    w.writerow(header)
    expects = []
    for i in range(draw(st.integers(1, 6))):
        cells = {c: draw(_csv_cell) for c in header}
        cells["id"] = f"r{i}"
        bad = draw(st.booleans()) and draw(st.booleans())
        if bad:
            cells["text"] = cells["text"] + draw(_UNDECODABLE)
        row = [cells[c] for c in header]
        shape = draw(st.sampled_from(["full"] * 4 + ["short", "long"]))
        if shape == "short":
            row = row[: draw(st.integers(1, len(row) - 1))]
            if row == [""]:
                row = ['""']  # a lone empty cell would be a blank line, which is not a row
        elif shape == "long":
            row = row + draw(st.lists(_csv_cell, min_size=1, max_size=3))
        w.writerow(row)
        if shape == "short":
            expects.append(Expect(False))
        elif bad:
            expects.append(Expect(False))
        else:
            ok = _scorable(cells["text"])
            expects.append(Expect(ok, f"r{i}", cells["text"] if ok else None))
    data = buf.getvalue().encode("utf-8", "surrogateescape")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, expects


@settings(max_examples=30, **FUZZ)
@given(f=csv_file(), fmt=st.sampled_from([".jsonl", ".jsonl", ".csv", ".parquet"]))
def test_csv_every_row_out_in_order(tmp_path_factory, f, fmt):
    data, expects = f
    tmp = tmp_path_factory.mktemp("c")
    src = tmp / "in.csv"
    src.write_bytes(data)
    out = tmp / f"out{fmt}"
    start = time.process_time()
    rc = _score(src, out)
    assert time.process_time() - start < TIME_BOUND_S
    check_scored(read_output(out), expects, rc)


# ------------------------------------------------------------------------------- Parquet


def _text_column(draw, n: int) -> tuple[pa.Array, list[Expect]]:
    kind = draw(st.sampled_from(["string", "string", "large_string", "dictionary", "binary", "int", "list", "struct", "null"]))
    if kind in ("string", "large_string", "dictionary"):
        values = [draw(st.one_of(st.none(), ad_text(surrogates=False))) for _ in range(n)]
        arr = pa.array(values, pa.large_string() if kind == "large_string" else pa.string())
        if kind == "dictionary":
            arr = arr.dictionary_encode()
        return arr, [Expect(_scorable(v), None, v if _scorable(v) else None) for v in values]
    if kind == "binary":
        values = [draw(st.one_of(st.none(), st.binary(max_size=40), ad_text(surrogates=False, huge=False).map(str.encode))) for _ in range(n)]
        texts = [None if v is None else v.decode("utf-8", "replace") for v in values]
        return pa.array(values, pa.binary()), [Expect(_scorable(t), None, t if _scorable(t) else None) for t in texts]
    if kind == "int":
        return pa.array([draw(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))) for _ in range(n)], pa.int64()), [Expect(False)] * n
    if kind == "list":
        return pa.array([draw(st.lists(st.text(max_size=5), max_size=3)) for _ in range(n)], pa.list_(pa.string())), [Expect(False)] * n
    if kind == "struct":
        return pa.array([{"a": draw(st.text(max_size=5))} for _ in range(n)]), [Expect(False)] * n
    return pa.nulls(n), [Expect(False)] * n


_UTC = dt.timezone.utc
EXTRA_COLUMNS = {
    "timestamp": lambda d, n: pa.array([d(st.none() | st.datetimes(timezones=st.just(_UTC))) for _ in range(n)], pa.timestamp("us", tz="UTC")),
    "date": lambda d, n: pa.array([d(st.none() | st.dates()) for _ in range(n)], pa.date32()),
    "time": lambda d, n: pa.array([d(st.none() | st.times()) for _ in range(n)], pa.time64("us")),
    "binary": lambda d, n: pa.array([d(st.none() | st.binary(max_size=20)) for _ in range(n)], pa.binary()),
    "float": lambda d, n: pa.array([d(st.none() | st.floats(allow_nan=False, allow_infinity=False)) for _ in range(n)], pa.float64()),
    "list_struct": lambda d, n: pa.array([d(st.lists(st.fixed_dictionaries({"k": st.text(max_size=4)}), max_size=2)) for _ in range(n)]),
    "map": lambda d, n: pa.array([[("k", d(st.integers(0, 9)))] for _ in range(n)], pa.map_(pa.string(), pa.int64())),
}


# Values json.dumps cannot write as they come from pyarrow (Decimal, timedelta, datetime/bytes
# inside a struct or list): each crashed `score` with a TypeError before the reader converted them.
EXTRA_COLUMNS |= {
    "decimal": lambda d, n: pa.array([d(st.none() | st.decimals(-999, 999, places=2)) for _ in range(n)], pa.decimal128(5, 2)),
    "duration": lambda d, n: pa.array([d(st.none() | st.timedeltas(dt.timedelta(days=-9), dt.timedelta(days=9))) for _ in range(n)], pa.duration("us")),
    "nested": lambda d, n: pa.array(
        [{"when": d(st.datetimes()), "blobs": d(st.lists(st.binary(max_size=5), max_size=2)), "n": {"d": decimal.Decimal("1.5")}} for _ in range(n)]
    ),
}


@st.composite
def parquet_table(draw) -> tuple[pa.Table, list[Expect]]:
    n = draw(st.integers(1, 5))
    text, expects = _text_column(draw, n)
    cols = {"text": text}
    id_kind = draw(st.sampled_from(["string", "int", "none"]))
    if id_kind == "string":
        cols["id"] = pa.array([f"r{i}" for i in range(n)])
        expects = [Expect(e.ok, f"r{i}", e.text) for i, e in enumerate(expects)]
    elif id_kind == "int":
        cols["id"] = pa.array(list(range(n)), pa.int64())
        expects = [Expect(e.ok, str(i) if e.ok else None, e.text) for i, e in enumerate(expects)]
    for name in draw(st.lists(st.sampled_from(sorted(EXTRA_COLUMNS)), max_size=3, unique=True)):
        cols[name] = EXTRA_COLUMNS[name](draw, n)
    names = draw(st.permutations(list(cols)))
    return pa.table({k: cols[k] for k in names}), expects


@settings(max_examples=30, **FUZZ)
@given(t=parquet_table(), fmt=st.sampled_from([".jsonl", ".jsonl", ".csv", ".parquet"]))
def test_parquet_every_row_out_in_order(tmp_path_factory, t, fmt):
    table, expects = t
    tmp = tmp_path_factory.mktemp("p")
    src = tmp / "in.parquet"
    pq.write_table(table, src)
    out = tmp / f"out{fmt}"
    start = time.process_time()
    rc = _score(src, out)
    assert time.process_time() - start < TIME_BOUND_S
    check_scored(read_output(out), expects, rc)


# ------------------------------------------------------------------------------- normalisation


@settings(max_examples=60, **FUZZ)
@given(text=texts_for_normalize())
def test_offset_map_holds_on_pathological_text(text):
    start = time.process_time()
    n = normalize(text)
    assert time.process_time() - start < 5.0, "normalisation should be linear in the text"
    assert len(n.starts) == len(n.ends) == len(n.text)
    for s, e in zip(n.starts, n.ends, strict=True):
        assert 0 <= s < e <= len(text)
    assert all(a <= b for a, b in zip(n.starts, n.starts[1:], strict=False)), "offsets run forwards"
    if n.text:
        ev = n.evidence(0, len(n.text))
        assert ev["text"] == text[ev["start"] : ev["end"]]
    assert "\x00" not in n.text


# ------------------------------------------------------------------------------- once crashes
# Found by this suite: each crashed the whole run before its fix in inference/io; now the row
# is an error row (JSONL that cannot be read safely) or is scored (odd Parquet values).


@pytest.mark.parametrize("line", [
    b'{"id": "r0", "text": "free visa", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"id": "r0", "text": "free visa", "deep": ' + b"[" * 900 + b"]" * 900 + b"}",
    b"[" * 5_000,
    b'{"id": "r0", "text": "free visa", "n": ' + b"9" * 5_000 + b"}",
], ids=["deep-100k", "deep-900", "deep-unclosed", "int-5000-digits"])
def test_unreadable_jsonl_lines_are_error_rows(tmp_path, line):
    data = line + b'\n{"id": "r1", "text": "free visa"}\n'
    run_jsonl(tmp_path, data, [Expect(False), Expect(True, "r1", "free visa")])


def test_nan_in_jsonl_is_read_as_null_and_written_as_valid_json(tmp_path):
    data = b'{"id": "r0", "text": "free visa", "x": NaN, "y": [Infinity]}\n'
    out = run_jsonl(tmp_path, data, [Expect(True, "r0", "free visa")])
    assert out[0]["x"] is None and out[0]["y"] == [None]


@pytest.mark.parametrize("column", [
    pa.array([decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
    pa.array([dt.timedelta(days=1), None], pa.duration("us")),
    pa.array([{"when": dt.datetime(2024, 5, 1, 10, 30)}, None]),
    pa.array([[b"\xff\x00"], None], pa.list_(pa.binary())),
    pa.array([float("nan"), float("inf")]),
], ids=["decimal", "duration", "struct-timestamp", "list-binary", "nan"])
def test_odd_parquet_values_pass_through_as_json(tmp_path, column):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["r0", "r1"], "text": ["free visa", "visa free"], "x": column}), src)
    out = tmp_path / "out.jsonl"
    rc = _score(src, out)
    rows = read_output(out)
    check_scored(rows, [Expect(True, "r0", "free visa"), Expect(True, "r1", "visa free")], rc)
    json.dumps(rows, allow_nan=False)  # strict JSON: no NaN or Infinity came through


# ------------------------------------------------------------------------------- review highlighting


def _text_char_by_char(segment: str):
    """review/highlight.py's `_text` before it escaped runs (the reference for the property)."""
    import unicodedata

    from markupsafe import Markup, escape
    from nigehbaan.review.bidi import BIDI_CONTROLS

    return Markup("").join(
        Markup('<span class="ctl" title="{}">[U+{:04X}]</span>').format(unicodedata.name(ch, ""), ord(ch))
        if ch in BIDI_CONTROLS
        else escape(ch)
        for ch in segment
    )


_BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]


@settings(max_examples=150, **FUZZ)
@given(st.lists(st.one_of(st.text(max_size=8), st.sampled_from(_BIDI + ["<", "&", '"', "'"])), max_size=20).map("".join))
def test_highlight_text_escapes_runs_exactly_as_char_by_char(segment):
    from nigehbaan.review.highlight import _text

    assert _text(segment) == _text_char_by_char(segment)


def test_highlight_of_an_ad_full_of_bidi_controls_is_fast():
    # benchmarks/hostile.py: such an ad's page took 1.1-2.0 s, nearly all in char-by-char escaping.
    from nigehbaan.review.highlight import highlight

    text = ("🙏 0 3 0 0 1 2 3 4 5 6 7 \u202eزیرو فیس\u202c free visa " * 3_000)[:MAX_TEXT_CHARS]
    evidence = [{"start": m.start(), "end": m.end(), "text": "free visa"} for m in re.finditer("free visa", text)]
    start = time.process_time()
    html, skipped, unmarked = highlight(text, [{"id": "free_visa_travel", "evidence": evidence}])
    assert time.process_time() - start < 2.0
    assert skipped == 0 and unmarked == len(evidence) - 2000 and html.count("[U+202E]") == 3_000


# ------------------------------------------------------------------------------- cluster


@settings(max_examples=15, **FUZZ)
@given(f=jsonl_file(huge=False, max_rows=8))
def test_cluster_every_row_out_once_in_order(tmp_path_factory, f):
    """`nigehbaan cluster` on the same hostile JSONL: every input row comes out once, in order,
    with a non-null template_id and network_id; unreadable rows carry `error`; no crash."""
    data, expects = f
    tmp = tmp_path_factory.mktemp("cl")
    src, out, summary = tmp / "in.jsonl", tmp / "out.jsonl", tmp / "clusters.jsonl"
    src.write_bytes(data)
    start = time.process_time()
    rc = main(["cluster", str(src), "-o", str(out), "--clusters", str(summary)])
    assert time.process_time() - start < TIME_BOUND_S
    assert rc in (0, 1)
    rows = read_output(out)
    assert len(rows) == len(expects), "one output row per input row"
    for row, e in zip(rows, expects, strict=True):
        assert row["template_id"] and row["network_id"]
        if e.id is not None:
            assert row["id"] == e.id
    summaries = read_output(summary)
    members = {m for s in summaries if s["kind"] == "template" for m in s["members"]}
    assert {r["id"] for r in rows if not r.get("error")} <= members
