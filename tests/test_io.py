"""The I/O layer (nigehbaan.inference.io): for every format, a round trip keeps the rows and
their order, and a bad line or row becomes an error row instead of vanishing."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io import decode_cells, format_of, read_records, readers, writers
from nigehbaan.inference.schema import SCORED_COLUMNS

from nigehbaan.cli import main
from tests.conftest import ROOT

ROWS = [
    {"id": "a", "text": "visa free, fees pehle", "risk": 0.5, "indicators": [{"id": "x"}]},
    {"id": "b", "text": "اردو اشتہار\nدو سطریں", "risk": None, "indicators": []},
    {"id": "c", "text": "emoji 👍 and \"quotes\", commas", "risk": 0.01, "late": {"k": 1}},
]
FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst", "csv", "parquet"]
COLUMNS = [("id", "string"), ("risk", "float"), ("indicators", "json")]


def _write(path, rows, columns=COLUMNS):
    w = writers[format_of(str(path))](str(path), columns=columns)
    w.write(rows[:2])
    w.write(rows[2:])
    w.close(complete=True)
    return path


def _read(path):
    return [decode_cells(r.record, COLUMNS) for r in readers[format_of(str(path))](str(path), require=())]


def test_formats_are_registered_by_name_and_found_by_extension():
    assert set(FORMATS) <= set(readers) and set(FORMATS) <= set(writers)
    assert format_of("a/B.JSONL.GZ") == "jsonl.gz" and format_of("x.jsonl.zst") == "jsonl.zst"
    assert format_of("x.ndjson") == "jsonl" and format_of("-") == "jsonl"
    with pytest.raises(UsageError, match=r"expected a name ending in one of .*\.parquet.*Fix"):
        format_of("ads.txt")
    with pytest.raises(UsageError, match="no writer for format 'xml'"):
        writers["xml"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_rows_values_and_order(tmp_path, fmt):
    path = _write(tmp_path / f"o.{fmt}", ROWS)
    assert not list(tmp_path.glob("o.*.*tmp")) and not list(tmp_path.glob("*.ckpt.json"))
    got = _read(path)
    assert [r["id"] for r in got] == ["a", "b", "c"]
    for want, row in zip(ROWS, got, strict=True):
        assert row["text"] == want["text"] and row["risk"] == want["risk"]
        assert row.get("indicators") == want.get("indicators")  # a JSON column: parsed back
    assert got[2]["late"] == {"k": 1}  # first seen after the first batch: kept (extra_fields)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_columns_come_in_declared_order_and_types(tmp_path, fmt):
    path = _write(tmp_path / f"o.{fmt}", ROWS, SCORED_COLUMNS)
    if fmt == "parquet":
        schema = pq.read_schema(path)
        assert schema.names[: len(SCORED_COLUMNS)] == [name for name, _ in SCORED_COLUMNS]
        assert schema.field("risk").type == pa.float64() and schema.field("model").type == pa.string()
    else:
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header[: len(SCORED_COLUMNS)] == [name for name, _ in SCORED_COLUMNS] and header[-1] == "extra_fields"


def test_jsonl_bad_lines_become_error_rows_in_place(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": 1}\n\n{"id": \n[1, 2]\n{"t": "caf\xff"}\n{"t": "raw\ttab\x01"}\n'
    )
    rows = list(readers["jsonl"](str(path)))
    assert [r.n for r in rows] == [1, 2, 3, 4, 5] and [r.line for r in rows] == [1, 3, 4, 5, 6]
    assert rows[0].record == {"id": 1}  # BOM dropped
    assert "invalid JSON" in rows[1].error and rows[1].raw == '{"id": '
    assert "JSON object" in rows[2].error and rows[2].raw == "[1, 2]"
    assert "UTF-8" in rows[3].error and "caf" in rows[3].raw
    assert rows[4].record == {"t": "raw\ttab\x01"}  # raw control characters read
    with pytest.raises(UsageError, match=r"a.jsonl:3: invalid JSON"):
        list(read_records(path))


@pytest.mark.parametrize("fmt", ["jsonl.gz", "jsonl.zst"])
def test_compressed_bad_lines_and_a_cut_stream_are_error_rows(tmp_path, fmt):
    data = b'{"id": "1"}\n{broken\n' + b'{"id": "x", "pad": "' + b"y" * 5000 + b'"}\n'
    path = tmp_path / f"a.{fmt}"
    if fmt == "jsonl.gz":
        blob = gzip.compress(data)
    else:  # two frames (as pzstd writes): the cut one is the second
        z = zstandard.ZstdCompressor()
        blob = z.compress(data[:20]) + z.compress(data[20:])
    path.write_bytes(blob[: len(blob) - 12])  # cut off the end
    rows = list(readers[fmt](str(path)))
    assert rows[0].record == {"id": "1"} and "invalid JSON" in rows[1].error
    assert len(rows) == 3 and rows[2].error  # the cut is reported, not silent
    (tmp_path / "not.jsonl.gz").write_bytes(b"plain text, not gzip\n")
    if fmt == "jsonl.gz":
        with pytest.raises(UsageError, match="not a readable compressed file"):
            list(readers[fmt](str(tmp_path / "not.jsonl.gz")))


def test_csv_bad_rows_are_error_rows_and_a_missing_text_column_a_usage_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbfid,text,who\n1,visa free,caf\xe9\n2,short\n3,caf\xff,x\n4,a,b,c\n")
    rows = list(readers["csv"](str(path)))
    assert [r.n for r in rows] == [1, 2, 3, 4]
    assert rows[0].record["id"] == "1" and rows[0].record["who"] == "caf\udce9"
    assert "fewer columns" in rows[1].error and '"short"' in rows[1].raw
    assert "UTF-8" in rows[2].error
    assert rows[3].record["_extra_columns"] == ["c"]
    (tmp_path / "b.csv").write_text("id,body\n1,x\n")
    with pytest.raises(UsageError, match=r"no 'text' column; found columns \['id', 'body'\]. Fix"):
        list(readers["csv"](str(tmp_path / "b.csv")))


def test_parquet_reader_converts_dates_and_refuses_a_bad_file(tmp_path):
    import datetime

    pq.write_table(pa.table({"text": ["a", "b"], "at": [datetime.date(2026, 1, 2), None]}),
                   tmp_path / "a.parquet")
    rows = list(readers["parquet"](str(tmp_path / "a.parquet"), skip=1))
    assert [(r.n, r.record) for r in rows] == [(2, {"text": "b", "at": None})]
    assert next(readers["parquet"](str(tmp_path / "a.parquet"))).record["at"] == "2026-01-02"
    (tmp_path / "b.parquet").write_bytes(b"not parquet")
    with pytest.raises(UsageError, match="not a readable Parquet file"):
        list(readers["parquet"](str(tmp_path / "b.parquet")))


def test_decode_cells_names_a_bad_json_column():
    with pytest.raises(ValueError, match="column 'indicators' should hold JSON"):
        decode_cells({"indicators": "[oops"}, COLUMNS)


@pytest.mark.parametrize("fmt", ["jsonl.gz", "jsonl.zst"])
def test_score_writes_compressed_output_and_refuses_to_resume_it(tmp_path, capsys, fmt):
    sample = ROOT / "data" / "samples" / "ads.jsonl"
    src = tmp_path / "ads.jsonl.gz"
    src.write_bytes(gzip.compress(sample.read_bytes()))
    out = tmp_path / f"o.{fmt}"
    args = ["score", str(src), "-o", str(out), "--model", str(ROOT / "models" / "rules"), "--no-progress"]
    assert main(args) == 0
    got = [r.record for r in readers[fmt](str(out))]
    want = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert list(got[0])[:3] == ["id", "risk", "band"]  # the scored ad's fields lead
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ads.jsonl.gz", out.name])
    assert main([*args, "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_interrupted_compressed_output_leaves_no_final_file(tmp_path):
    w = writers["jsonl.gz"](str(tmp_path / "o.jsonl.gz"))
    w.write(ROWS)
    w.close()  # not complete: a Ctrl-C
    assert list(tmp_path.iterdir()) == []
