"""Regression tests for the scorer defects that lost data (issue 15, items 1-7).

Each test failed before its fix: the input truncated by `-o` naming it, a batch crashed by one
lone surrogate, a Parquet output broken by a column typed late, quadratic normalisation, a
BOM or raw NUL turning a good row into an error, tracebacks and wrong exit codes, and an MLflow
pyfunc that dropped fields.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from nigehbaan.inference.errors import Interrupted
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.scorer import score_records

from nigehbaan.cli import main
from tests.conftest import ROOT, read_jsonl, write_jsonl

RULES = str(ROOT / "models" / "rules")
FAST = str(ROOT / "models" / "fast")
SAMPLE = ROOT / "data" / "samples" / "ads.jsonl"


def _score(*args) -> int:
    return main(["score", *map(str, args), "--model", RULES, "--no-progress"])


# 1. output naming the input -------------------------------------------------------------


@pytest.mark.parametrize("resume", [False, True])
def test_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, capsys, resume):
    src = write_jsonl(tmp_path / "a.jsonl", [{"text": "visa free, fees pehle"}] * 3)
    before = src.read_bytes()
    alias = tmp_path / "sub" / ".." / "a.jsonl"
    (tmp_path / "sub").mkdir()
    args = [src, "-o", alias] + (["--resume"] if resume else [])
    assert _score(*args) == 2
    assert src.read_bytes() == before
    assert "is the input" in capsys.readouterr().err


def test_output_hard_linked_to_the_input_is_refused(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{"text": "visa free"}])
    os.link(src, tmp_path / "b.jsonl")
    assert _score(src, "-o", tmp_path / "b.jsonl") == 2
    assert read_jsonl(src) == [{"text": "visa free"}]


# 2. lone surrogates ---------------------------------------------------------------------


def test_lone_surrogates_are_repaired_and_reported_not_fatal(tmp_path):
    path = tmp_path / "s.jsonl"
    lines = [
        '{"id": "a", "text": "free visa \\ud83d job in Dubai", "note": "cut \\ud800 emoji"}',
        '{"id": "b", "text": "ordinary ad", "who": "\\udc80\\udcff"}',
        '{"id": "c\\udfff", "text": "good ad 0300 1234567"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    out = tmp_path / "o.jsonl"
    assert _score(path, "-o", out) == 0
    raw = out.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 throughout
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", "b", "c\ufffd"]
    assert rows[0]["text"] == "free visa \ufffd job in Dubai" and rows[0]["note"] == "cut \ufffd emoji"
    assert rows[1]["who"] == "\ufffd\ufffd"
    assert all(r["error"] is None for r in rows)
    assert any("surrogate" in w for w in rows[0]["warnings"])
    for r in rows:  # evidence still slices the text as written out
        for ind in r["indicators"]:
            for ev in ind["evidence"]:
                assert r["text"][ev["start"] : ev["end"]] == ev["text"]


def test_undecodable_csv_bytes_never_reach_the_output(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"id,text,who\n1,visa free,caf\xe9\n2,caf\xff visa,x\n")
    out = tmp_path / "o.jsonl"
    assert _score(path, "-o", out) == 1
    rows = [json.loads(line) for line in out.read_bytes().decode("utf-8").splitlines()]
    assert rows[0]["error"] is None and rows[0]["who"] == "caf\ufffd"
    assert "UTF-8" in rows[1]["error"]


# 3. Parquet output ----------------------------------------------------------------------


def test_parquet_column_typed_only_after_the_first_chunk(tmp_path):
    n = 8_300
    rows = [{"id": str(i), "text": f"ordinary ad {i}", "posted_at": None} for i in range(n)]
    rows[-1]["posted_at"] = "2026-01-01"  # the first date, after row 8,192
    rows[-2] = {"id": "bad", "text": 42, "posted_at": None}  # and the first error row
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    out = tmp_path / "o.parquet"
    assert _score(src, "-o", out, "--batch-size", 2048) == 1
    table = pq.read_table(out).to_pylist()
    assert len(table) == n
    assert table[-2]["error"] and table[-1]["posted_at"] == "2026-01-01"
    assert not list(tmp_path.glob("o.parquet.*"))  # spool, checkpoint and temp file gone


def test_parquet_conversion_is_atomic(tmp_path, monkeypatch):
    from nigehbaan.inference import batch
    from nigehbaan.inference.io import parquet

    src = write_jsonl(tmp_path / "a.jsonl", [{"text": "visa free"}] * 5)
    out = tmp_path / "o.parquet"

    def boom(table, *a, **k):
        raise KeyboardInterrupt  # killed mid-conversion

    monkeypatch.setattr(parquet, "_write_chunk", boom)
    with pytest.raises(Interrupted, match="--resume"):
        batch.score_file(str(src), str(out), model_dir=RULES, progress=False)
    assert not out.exists()  # no final-named file without a footer
    monkeypatch.undo()
    assert _score(src, "-o", out, "--resume") == 0
    assert len(pq.read_table(out)) == 5


# 4. bounded cost per ad -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "x" * 20_000,                       # one long token
        "a@" + "b" * 30_000,                # an e-mail-ish token
        "9" * 30_000 + " visa",            # a digit run (leetspeak scan)
        "<script>" * 5_000,                 # unclosed HTML blocks
        "<!--" * 10_000,
        "https://" + "A1b2" * 12_000,       # base64 in a URL
    ],
    ids=["token", "emailish", "digits", "script", "comment", "base64"],
)
def test_pathological_tokens_normalise_in_bounded_time(text):
    start = time.perf_counter()
    norm = normalize(text)
    assert time.perf_counter() - start < 1.0
    assert len(norm.starts) == len(norm.text)


def test_a_very_long_ad_is_scored_with_a_truncation_warning(rules_model):
    from nigehbaan.inference.scorer import MAX_ANALYSED_CHARS

    text = "free visa, fees pehle jama karwayen. " + "lorem " * (MAX_ANALYSED_CHARS // 5)
    start = time.perf_counter()
    (row,) = score_records([{"text": text}], rules_model)
    assert time.perf_counter() - start < 5.0
    assert row["error"] is None and row["indicators"]
    assert any("truncated" in w for w in row["warnings"])
    (short,) = score_records([{"text": "free visa"}], rules_model)
    assert short["warnings"] == []


# 5. BOM and raw NUL ---------------------------------------------------------------------


def test_bom_and_raw_nul_do_not_make_error_rows(tmp_path):
    jl = tmp_path / "a.jsonl"
    jl.write_bytes(b'\xef\xbb\xbf{"id": "1", "text": "visa free"}\n{"id": "2", "text": "vi\x00sa free"}\n')
    out = tmp_path / "o.jsonl"
    assert _score(jl, "-o", out) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["1", "2"] and all(r["error"] is None for r in rows)
    csv_path = tmp_path / "a.csv"
    csv_path.write_bytes(b"\xef\xbb\xbfid,text\n7,visa free\n")
    assert _score(csv_path, "-o", tmp_path / "c.jsonl") == 0
    assert read_jsonl(tmp_path / "c.jsonl")[0]["id"] == "7"


# 6. exits, signals, resume --------------------------------------------------------------


def test_missing_output_directory_is_a_usage_error(tmp_path, capsys):
    src = write_jsonl(tmp_path / "a.jsonl", [{"text": "visa free"}])
    assert _score(src, "-o", tmp_path / "nope" / "o.jsonl") == 2
    assert "directory" in capsys.readouterr().err


def _cli(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "nigehbaan.cli", "score", *map(str, args), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw,
    )


def test_broken_pipe_exits_quietly(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", read_jsonl(SAMPLE) * 40)
    proc = subprocess.run(
        f"{sys.executable} -m nigehbaan.cli score {src} --model {RULES} --no-progress | head -1",
        shell=True, capture_output=True, text=True, check=False,
    )
    assert json.loads(proc.stdout)["id"]
    assert "Traceback" not in proc.stderr


def test_ctrl_c_says_how_to_resume_and_resume_completes(tmp_path):
    rows = read_jsonl(SAMPLE) * 60
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    out = tmp_path / "o.csv"
    proc = _cli(src, "-o", out, "--model", FAST, "--batch-size", 16, "--workers", 1)
    ckpt = tmp_path / "o.csv.ckpt.json"
    deadline = time.time() + 60
    while time.time() < deadline and not (ckpt.exists() and json.loads(ckpt.read_text())["rows"] > 0):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert main(["score", str(src), "-o", str(out), "--model", FAST, "--resume", "--no-progress"]) == 0
    import csv

    with open(out, encoding="utf-8", newline="") as f:
        got = [r["id"] for r in csv.DictReader(f)]
    assert got == [r["id"] for r in rows]


def test_csv_killed_before_its_first_checkpoint_resumes(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": str(i), "text": "visa free"} for i in range(5)])
    out = tmp_path / "o.csv"
    out.write_text("id,risk,ba")  # a torn header, no rows: killed before the first batch ended
    (tmp_path / "o.csv.ckpt.json").write_text(json.dumps({"rows": 0, "bytes": 0, "csv_fields": None}))
    assert _score(src, "-o", out, "--resume") == 0
    import csv

    with open(out, encoding="utf-8", newline="") as f:
        assert [r["id"] for r in csv.DictReader(f)] == ["0", "1", "2", "3", "4"]


def test_checkpoint_exists_before_the_first_batch(tmp_path, monkeypatch):
    from nigehbaan.inference import batch

    src = write_jsonl(tmp_path / "a.jsonl", [{"text": "visa free"}])
    out = tmp_path / "o.csv"
    seen = {}

    def spy(*a, **k):
        seen["ckpt"] = (tmp_path / "o.csv.ckpt.json").exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "_scored_batches", spy)
    with pytest.raises(Interrupted):
        batch.score_file(str(src), str(out), model_dir=RULES, progress=False)
    assert seen["ckpt"]


@pytest.mark.slow
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", read_jsonl(SAMPLE) * 200)
    proc = _cli(src, "-o", tmp_path / "o.jsonl", "--model", FAST, "--workers", 2, "--batch-size", 8)
    children: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(children) < 2:
        children = _children_of(proc.pid)
        time.sleep(0.1)
    assert len(children) >= 2
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(p) for p in children):
        time.sleep(0.2)
    assert not any(_alive(p) for p in children)


def _children_of(pid: int) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_band_agrees_with_the_printed_risk(rules_model):
    from nigehbaan.inference.scorer import _build_row, analyze

    t = rules_model.contract.band_thresholds["high"]
    below = t - 0.00004  # prints as the threshold itself
    assert round(below, 4) == t and rules_model.band(below) != "high"
    (a,) = analyze(["free visa"])
    row = _build_row({"text": "free visa"}, a, [below] + [0.0] * 18, rules_model)
    assert (row["risk"], row["band"]) == (t, "high")
