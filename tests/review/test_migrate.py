"""A review.db written by the previous version (schema 1) opens and is upgraded in place."""

from __future__ import annotations

import sqlite3

import pytest
from nigehbaan.review.auth import User
from nigehbaan.review.db import SCHEMA, connect, get_meta
from nigehbaan.review.decisions import decide, undo
from nigehbaan.review.migrate import SCHEMA_VERSION


def _old_db(path):
    """What `nigehbaan review import` + adduser + one decision wrote before schema 2."""
    raw = sqlite3.connect(path)
    raw.executescript(SCHEMA)
    raw.executescript(
        """
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO users (name, role, password_hash, created_at)
          VALUES ('ayesha', 'analyst', 'x', '2026-01-01T00:00:00Z');
        INSERT INTO ads (id, text, risk, rank, band, lang, scored_json, content_hash, imported_at)
          VALUES ('a1', 'Visa free', 0.9, 0.9, 'high', 'en', '{"text": "Visa free"}', 'h',
                  '2026-01-01T00:00:00Z'),
                 ('a2', 'Driver', 0.2, 0.2, 'low', 'en', '{"text": "Driver"}', 'h2',
                  '2026-01-01T00:00:00Z');
        INSERT INTO decisions (ad_id, user_id, action, from_version, note, at)
          VALUES ('a1', 1, 'confirm', 1, 'old note', '2026-01-01T00:00:00Z');
        UPDATE ads SET status = 'confirmed', version = 2, decision_id = 1 WHERE id = 'a1';
        """
    )
    raw.close()


def test_a_schema_1_database_opens_keeps_its_log_and_gains_the_new_features(tmp_path):
    path = tmp_path / "old.db"
    _old_db(path)
    conn = connect(path)  # not create: an existing file is upgraded, not refused
    assert get_meta(conn, "schema_version") == str(SCHEMA_VERSION) == "4"
    # Rows stored before `priority` existed get it from their stored risk and indicators.
    assert conn.execute("SELECT priority FROM ads WHERE id = 'a1'").fetchone()[0] == 0.36
    assert conn.execute("SELECT template_id, network_id FROM ads WHERE id = 'a1'").fetchone()[:] == (
        None,
        None,
    )
    assert conn.execute("SELECT campaign_id FROM decisions").fetchone()[0] is None
    row = conn.execute("SELECT ad_id, action, note, kind, spans_json FROM decisions").fetchone()
    assert tuple(row) == ("a1", "confirm", "old note", "decision", "[]")
    assert conn.execute("SELECT decision_id FROM ads WHERE id = 'a1'").fetchone()[0] == 1
    assert conn.execute("SELECT disabled FROM users").fetchone()[0] == 0
    assert conn.execute("SELECT assigned_to FROM ads WHERE id = 'a2'").fetchone()[0] is None
    # The rebuilt log is still append-only, and now takes undo rows.
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE decisions SET note = 'changed'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    ayesha = User(1, "ayesha", "analyst")
    decide(conn, ayesha, "a2", "dismiss", 1)
    undo(conn, ayesha, 2, window_s=600)
    assert [r[0] for r in conn.execute("SELECT action FROM decisions ORDER BY id")] == [
        "confirm",
        "dismiss",
        "undo",
    ]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    # Opening again is a no-op.
    conn = connect(path)
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 3
    conn.close()


def test_a_database_of_an_unknown_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    raw = sqlite3.connect(path)
    raw.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
    raw.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    raw.commit()
    raw.close()
    with pytest.raises(Exception, match="expected schema version 4, found 99"):
        connect(path)


def test_a_schema_2_database_gains_the_campaign_tables(tmp_path):
    """A review.db of the issue-15 version (schema 2) upgrades to 3 with its log intact."""
    from nigehbaan.review.migrate import _to_v2

    path = tmp_path / "v2.db"
    _old_db(path)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN")
    _to_v2(raw)
    raw.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    raw.execute("COMMIT")
    raw.close()
    conn = connect(path)
    assert get_meta(conn, "schema_version") == "4"
    assert conn.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0] == 0
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ads_template", "ads_network", "decisions_by_campaign"} <= indexes
    assert tuple(conn.execute("SELECT ad_id, action, note FROM decisions").fetchone()) == (
        "a1",
        "confirm",
        "old note",
    )
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE decisions SET campaign_id = 't-1'")
    conn.close()
