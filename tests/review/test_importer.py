"""Importing scored files: idempotent re-import, re-scored updates, error rows, formats."""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from nigehbaan.inference.errors import UsageError
from nigehbaan.review.auth import User
from nigehbaan.review.db import connect
from nigehbaan.review.decisions import decide
from nigehbaan.review.importer import import_file

from .conftest import write_jsonl
from .demo import DEMO_ADS


def _counts(conn):
    return (
        conn.execute("SELECT COUNT(*) FROM ads").fetchone()[0],
        conn.execute("SELECT group_concat(indicators) FROM ads").fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM ad_entities").fetchone()[0],
    )


def test_reimporting_the_same_file_changes_nothing(conn, scored_file):
    before = _counts(conn)
    versions = dict(conn.execute("SELECT id, version FROM ads").fetchall())
    summary = import_file(conn, scored_file)
    assert (summary.read, summary.inserted, summary.updated, summary.unchanged) == (10, 0, 0, 10)
    assert _counts(conn) == before == (10, before[1], before[2])
    assert dict(conn.execute("SELECT id, version FROM ads").fetchall()) == versions


def test_rescored_file_updates_in_place_and_sends_changed_decided_ads_back(conn, tmp_path):
    analyst = User(1, "ayesha", "analyst")
    decide(conn, analyst, "demo-en-1", "confirm", 1)
    rescored = copy.deepcopy(DEMO_ADS)
    rescored[1]["risk"] = 0.5
    rescored[1]["band"] = "medium"
    rescored[1]["indicators"] = rescored[1]["indicators"][:2]
    rescored[1]["model"] = {"name": "nigehbaan", "version": "2.0"}
    summary = import_file(conn, write_jsonl(tmp_path / "rescored.jsonl", rescored))
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 9)
    assert summary.reopened == 1 and "1 decided ads changed" in summary.format()
    row = conn.execute("SELECT * FROM ads WHERE id = 'demo-en-1'").fetchone()
    assert (row["risk"], row["band"], row["model_version"]) == (0.5, "medium", "nigehbaan 2.0")
    # The decision was made on other scores: back in the queue, the decision kept in the log.
    assert (row["status"], row["decision_id"]) == ("new", None)
    assert row["version"] == 3  # 1 at import, 2 after the decision, 3 after the re-score
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 1
    change = conn.execute("SELECT * FROM reimports").fetchone()
    assert (change["ad_id"], change["from_version"], change["to_version"]) == ("demo-en-1", 2, 3)
    assert (change["status_before"], change["changed"]) == ("confirmed", "risk band indicators")
    inds = conn.execute("SELECT indicators FROM ads WHERE id='demo-en-1'").fetchone()[0]
    assert inds == " vague_employer unlicensed_overseas "
    assert conn.execute("SELECT COUNT(*) FROM ads").fetchone()[0] == 10


def test_a_new_model_name_or_url_alone_keeps_the_decision(conn, tmp_path):
    decide(conn, User(1, "ayesha", "analyst"), "demo-en-1", "confirm", 1)
    rescored = copy.deepcopy(DEMO_ADS)
    rescored[1]["model"] = {"name": "nigehbaan", "version": "2.0"}
    rescored[1]["url"] = "https://example.org/moved"
    summary = import_file(conn, write_jsonl(tmp_path / "rescored.jsonl", rescored))
    assert (summary.updated, summary.reopened) == (1, 0)
    row = conn.execute("SELECT status, version FROM ads WHERE id = 'demo-en-1'").fetchone()
    assert tuple(row) == ("confirmed", 3)


def test_error_rows_are_imported_in_the_unscored_band_and_sort_last(conn):
    row = conn.execute("SELECT * FROM ads WHERE id = 'demo-err'").fetchone()
    assert (row["band"], row["risk"], row["error"]) == (
        "unscored",
        None,
        "empty text: nothing to score",
    )
    last = conn.execute("SELECT id FROM ads ORDER BY rank DESC, id DESC").fetchall()[-1]
    assert last["id"] == "demo-err"


def test_duplicate_ids_in_one_file_do_not_duplicate(tmp_path):
    conn = connect(tmp_path / "d.db", create=True)
    twice = [DEMO_ADS[0], {**DEMO_ADS[0], "risk": 0.4, "band": "medium"}]
    summary = import_file(conn, write_jsonl(tmp_path / "twice.jsonl", twice))
    assert (summary.inserted, summary.updated) == (1, 1)
    assert conn.execute("SELECT COUNT(*), MAX(risk) FROM ads").fetchone()[:] == (1, 0.4)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_with_json_columns(tmp_path, fmt):
    rows = [
        {
            k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
            for k, v in r.items()
        }
        for r in DEMO_ADS[:3]
    ]
    table = pa.Table.from_pylist(rows)
    path = tmp_path / f"scored.{fmt}"
    pacsv.write_csv(table, path) if fmt == "csv" else pq.write_table(table, path)
    conn = connect(tmp_path / "t.db", create=True)
    assert import_file(conn, path).inserted == 3
    assert import_file(conn, path).unchanged == 3
    inds = conn.execute("SELECT indicators FROM ads WHERE id='demo-ur-1'").fetchone()[0]
    assert len(inds.split()) == 7


def test_raw_ads_are_refused_with_a_fix(tmp_path):
    conn = connect(tmp_path / "t.db", create=True)
    raw = write_jsonl(tmp_path / "raw.jsonl", [{"id": "1", "text": "an ad", "platform": "olx"}])
    with pytest.raises(UsageError, match="expected risk in 0..1.*nigehbaan score"):
        import_file(conn, raw)
    no_text = write_jsonl(tmp_path / "nt.jsonl", [{"risk": 0.3}])
    with pytest.raises(UsageError, match="expected the scored-ad fields 'id' and 'text'"):
        import_file(conn, no_text)


def test_invalid_json_names_the_line(tmp_path):
    conn = connect(tmp_path / "t.db", create=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(DEMO_ADS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad.jsonl:2: expected one JSON object per line"):
        import_file(conn, bad)


def test_wrong_suffix_and_missing_file(tmp_path):
    conn = connect(tmp_path / "t.db", create=True)
    with pytest.raises(UsageError, match="expected a .jsonl, .csv or .parquet file"):
        import_file(conn, write_jsonl(tmp_path / "x.txt", []))
    with pytest.raises(UsageError, match="scored file not found"):
        import_file(conn, tmp_path / "missing.jsonl")


def test_unknown_indicator_ids_are_kept_and_reported(tmp_path):
    conn = connect(tmp_path / "t.db", create=True)
    ad = copy.deepcopy(DEMO_ADS[0])
    ad["indicators"].append({"id": "brand_new_indicator", "score": 0.5, "evidence": []})
    summary = import_file(conn, write_jsonl(tmp_path / "u.jsonl", [ad]))
    assert summary.unknown_indicators == {"brand_new_indicator"}
    assert "brand_new_indicator" in summary.format()


def test_database_is_in_wal_mode(conn):
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_db_is_refused(tmp_path):
    with pytest.raises(UsageError, match="review database not found.*Fix"):
        connect(tmp_path / "nope.db")


def test_foreign_sqlite_file_is_refused(tmp_path):
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    with pytest.raises(UsageError, match="expected schema version 4, found none"):
        connect(other)


def test_error_rows_in_the_shapes_the_scorer_writes(tmp_path):
    """`nigehbaan score` keeps a bad input's text as it was and may have no id to give."""
    conn = connect(tmp_path / "t.db", create=True)
    base = {
        "risk": None,
        "band": None,
        "lang": None,
        "indicators": [],
        "entities": {},
        "model": None,
    }
    rows = [
        {**base, "id": "row-11", "text": 42, "error": "field 'text' must be a string, found int"},
        {**base, "id": "n1", "text": None, "error": "field 'text' must be a string"},
        {**base, "id": None, "error": "field 'text' is missing"},
    ]
    summary = import_file(conn, write_jsonl(tmp_path / "errors.jsonl", rows))
    assert (summary.inserted, summary.unscored, summary.skipped) == (2, 2, 1)
    assert "1 error rows without an id skipped" in summary.format()
    texts = dict(conn.execute("SELECT id, text FROM ads").fetchall())
    assert texts == {"row-11": "42", "n1": ""}


def test_a_row_that_breaks_the_scored_ad_schema_is_refused_naming_the_field(tmp_path):
    conn = connect(tmp_path / "t.db", create=True)
    ad = copy.deepcopy(DEMO_ADS[0])
    ad["indicators"][0]["evidence"] = [{"start": "early", "end": 3, "text": "abc"}]
    with pytest.raises(UsageError, match=r"row 1 \(id demo-ur-1\): not a scored ad .*"
                       r"indicators\.0\.evidence\.0\.start: .*integer.*Fix: re-score"):
        import_file(conn, write_jsonl(tmp_path / "bad.jsonl", [ad]))
    ad = copy.deepcopy(DEMO_ADS[0])
    ad["entities"]["phones"] = "+923001234567"  # a string where a list belongs
    with pytest.raises(UsageError, match=r"entities\.phones: .*list"):
        import_file(conn, write_jsonl(tmp_path / "bad2.jsonl", [ad]))


def test_compressed_scored_files_import(tmp_path):
    import gzip

    path = tmp_path / "scored.jsonl.gz"
    path.write_bytes(gzip.compress(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in DEMO_ADS[:4]).encode()
    ))
    conn = connect(tmp_path / "t.db", create=True)
    assert import_file(conn, path).inserted == 4
