"""End-to-end tests of `nigehbaan score`: formats, bad input, the interface, kill and resume."""

import json
import os
import signal
import subprocess
import sys
import time

import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nigehbaan.inference.labels import BANDS, INDICATORS

from nigehbaan.cli import main
from tests.conftest import ROOT, read_jsonl, write_jsonl

SAMPLE = ROOT / "data" / "samples" / "ads.jsonl"
RULES = str(ROOT / "models" / "rules")


def check_interface(row: dict, source: dict | None = None) -> None:
    """Every field of ../shared/spec/interface.md, with exact evidence offsets."""
    assert isinstance(row["id"], str) and row["id"]
    if row["error"] is not None:
        assert isinstance(row["error"], str)
        return
    assert 0.0 <= row["risk"] <= 1.0
    assert row["band"] in BANDS
    assert row["lang"] in ("en", "ur", "ur-Latn", "mixed", "und")
    for ind in row["indicators"]:
        assert ind["id"] in INDICATORS and 0 <= ind["score"] <= 1
        for ev in ind["evidence"]:
            assert row["text"][ev["start"] : ev["end"]] == ev["text"]
    for key in ("phones", "emails", "urls", "money", "locations"):
        assert isinstance(row["entities"][key], list)
    for phone in row["entities"]["phones"]:
        assert phone.startswith("+")
        assert phonenumbers.format_number(
            phonenumbers.parse(phone), phonenumbers.PhoneNumberFormat.E164) == phone
    assert row["model"]["name"] and row["model"]["version"]
    if source is not None:
        for k, v in source.items():
            if k not in ("lang",):
                assert row[k] == v, k


def test_sample_ads_score_and_satisfy_the_interface(tmp_path):
    out = tmp_path / "out.jsonl"
    assert main(["score", str(SAMPLE), "-o", str(out), "--no-progress"]) == 0
    src, rows = read_jsonl(SAMPLE), read_jsonl(out)
    assert len(rows) == len(src) >= 60
    for s, r in zip(src, rows, strict=True):
        check_interface(r, s)
    assert {r["lang"] for r in rows} >= {"en", "ur", "ur-Latn", "mixed"}
    assert {r["band"] for r in rows} >= {"high", "low"}


def test_bad_rows_get_errors_and_nothing_is_lost(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    good = {"id": "ok", "text": "Visa free, fees 50,000 pehle jama karwayen", "url": "http://x", "extra": {"a": 1}}
    with open(path, "wb") as f:
        f.write((json.dumps(good) + "\n").encode())
        f.write(b'{"id": "broken", "text": \n')                 # invalid JSON
        f.write(b'{"id": "num", "text": 42}\n')                  # non-string text
        f.write(b'{"id": "none"}\n')                              # missing text
        f.write(b'{"id": "empty", "text": "   "}\n')             # empty text
        f.write(b'{"id": "bin", "text": "caf\xff visa"}\n')      # invalid UTF-8
        f.write(json.dumps({"id": "nul", "text": "visa\u0000 free"}).encode() + b"\n")
        f.write(json.dumps({"id": "huge", "text": "job " * 260_000}).encode() + b"\n")  # ~1 MB
        f.write(b'["not", "an", "object"]\n')
    out = tmp_path / "out.jsonl"
    assert main(["score", str(path), "-o", str(out), "--model", RULES, "--no-progress"]) == 1
    rows = read_jsonl(out)
    assert len(rows) == 9
    by_id = {r["id"]: r for r in rows}
    assert by_id["ok"]["error"] is None and by_id["ok"]["extra"] == {"a": 1} and by_id["ok"]["url"] == "http://x"
    assert by_id["nul"]["error"] is None
    assert "invalid JSON" in rows[1]["error"] and '"broken"' in rows[1]["raw"]
    assert "must be a string" in by_id["num"]["error"]
    assert "missing field 'text'" in by_id["none"]["error"]
    assert "empty" in by_id["empty"]["error"]
    assert "UTF-8" in rows[5]["error"]
    assert "limit" in by_id["huge"]["error"]
    assert "JSON object" in rows[8]["error"]
    for r in rows:
        check_interface(r)
    assert "errors: 7" in capsys.readouterr().err


def test_csv_without_text_column_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "ads.csv"
    path.write_text("id,body\n1,hello\n")
    assert main(["score", str(path), "-o", str(tmp_path / "o.jsonl"), "--model", RULES]) == 2
    err = capsys.readouterr().err
    assert "no 'text' column" in err and "body" in err and "Fix" in err


def test_unknown_extension_and_missing_file_are_usage_errors(tmp_path, capsys):
    assert main(["score", str(tmp_path / "ads.txt"), "--model", RULES]) == 2
    assert main(["score", str(tmp_path / "nope.jsonl"), "--model", RULES]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_csv_and_parquet_round_trip_in_order(tmp_path):
    src = read_jsonl(SAMPLE)[:20]
    table = pa.table({"id": [r["id"] for r in src], "text": [r["text"] for r in src],
                      "platform": [r.get("platform") for r in src]})
    pq.write_table(table, tmp_path / "ads.parquet")
    assert main(["score", str(tmp_path / "ads.parquet"), "-o", str(tmp_path / "out.csv"),
                 "--model", RULES, "--no-progress"]) == 0
    assert main(["score", str(tmp_path / "out.csv"), "-o", str(tmp_path / "again.parquet"),
                 "--model", RULES, "--no-progress"]) == 0
    back = pq.read_table(tmp_path / "again.parquet").to_pylist()
    assert [r["id"] for r in back] == [r["id"] for r in src]
    assert all(json.loads(r["indicators"]) is not None for r in back)


def test_stdin_to_stdout(tmp_path):
    src = SAMPLE.read_text(encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "nigehbaan.cli", "score", "-", "--model", RULES, "--no-progress", "--quiet"],
        input=src.encode(), capture_output=True, check=True,
    )
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["id"] for r in rows] == [json.loads(line)["id"] for line in src.splitlines()]


def test_missing_ids_are_derived_stably_from_the_text(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "same ad"}, {"text": "other ad"}, {"text": "same ad"}])
    out = tmp_path / "o.jsonl"
    main(["score", str(path), "-o", str(out), "--model", RULES, "--no-progress"])
    ids = [r["id"] for r in read_jsonl(out)]
    assert ids[0] == ids[2] != ids[1] and ids[0].startswith("ad-")


@pytest.mark.slow
def test_a_killed_run_resumes_without_gaps_or_duplicates(tmp_path):
    src = read_jsonl(SAMPLE)
    rows = [{**r, "id": f"{i}-{r['id']}"} for i in range(60) for r in src][:3000]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    main(["score", str(path), "-o", str(full), "--model", RULES, "--no-progress", "--workers", "1"])
    cmd = [sys.executable, "-m", "nigehbaan.cli", "score", str(path), "-o", str(part), "--model", RULES,
           "--no-progress", "--workers", "1", "--batch-size", "20"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "part.jsonl.ckpt.json"
    deadline = time.time() + 60
    while time.time() < deadline and not (ckpt.exists() and json.loads(ckpt.read_text())["rows"] >= 200):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = json.loads(ckpt.read_text())["rows"]
    assert 0 < done_before < len(rows)
    with open(part, "a", encoding="utf-8") as f:
        f.write('{"id": "torn half-written ro')  # what a kill mid-write leaves behind
    assert main(["score", str(path), "-o", str(part), "--model", RULES, "--no-progress", "--resume"]) == 0
    assert not ckpt.exists()
    got, want = read_jsonl(part), read_jsonl(full)
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert [r["risk"] for r in got] == [r["risk"] for r in want]
