"""The queue orders by triage priority (the risk weighed by indicator severity), then risk."""

from __future__ import annotations

import json
import sqlite3

from nigehbaan.inference.priority import priority
from nigehbaan.review.db import SCHEMA, connect
from nigehbaan.review.importer import import_rows
from nigehbaan.review.queue import Filters, neighbours, queue_page

from tests.review.demo import scored_ad

CHILD = "Bachi 12 saal ki bechni hai, 2 lakh. Rabta karein."
URGENT = "URGENT hiring!!! Jobs in Dubai all categories, WhatsApp now."


def _rows():
    child = scored_ad("child", CHILD, 0.91, "high", "ur-Latn", {"minor_targeted": ["Bachi 12 saal"]})
    urgent = scored_ad("urgent", URGENT, 0.99, "high", "en",
                       {"urgency_pressure": ["URGENT hiring"], "vague_employer": ["all categories"]})
    child["indicators"][0]["score"] = 0.93
    for ind in urgent["indicators"]:
        ind["score"] = 0.97
    # As the scorer writes it (the row carries its priority).
    for row in (child, urgent):
        row["priority"] = priority(row["risk"], row["indicators"])
    return child, urgent


def test_a_child_sale_with_lower_risk_outranks_a_vague_urgent_ad(tmp_path):
    conn = connect(tmp_path / "q.db", create=True)
    child, urgent = _rows()
    assert child["risk"] < urgent["risk"] and child["priority"] > urgent["priority"]
    import_rows(conn, enumerate([urgent, child, scored_ad("plain", "Driver needed", 0.95, "high", "en")]))
    ids = [r["id"] for r in queue_page(conn, Filters(status="all")).rows]
    assert ids == ["child", "urgent", "plain"]  # plain: no indicator, 0.4 x 0.95
    ad = conn.execute("SELECT priority, rank, id FROM ads WHERE id = 'urgent'").fetchone()
    assert neighbours(conn, Filters(status="all"), ad) == ("child", "plain")


def test_equal_priority_falls_back_to_risk_then_id(tmp_path):
    conn = connect(tmp_path / "q.db", create=True)
    rows = [scored_ad(i, "Driver needed", r, "high", "en") for i, r in
            (("b", 0.5), ("a", 0.5), ("c", 0.6))]
    for row in rows:
        row["priority"] = 0.2
    import_rows(conn, enumerate(rows))
    assert [r["id"] for r in queue_page(conn, Filters(status="all")).rows] == ["c", "b", "a"]


def test_rows_without_priority_get_it_computed_on_import_and_on_upgrade(tmp_path):
    conn = connect(tmp_path / "q.db", create=True)
    child, urgent = _rows()
    for row in (child, urgent):
        del row["priority"]
    import_rows(conn, enumerate([urgent, child]))
    got = dict(conn.execute("SELECT id, priority FROM ads").fetchall())
    assert got == {"child": priority(0.91, child["indicators"]),
                   "urgent": priority(0.99, urgent["indicators"])}
    # A schema-3 database (no priority column) is upgraded from its stored scored rows.
    path = tmp_path / "v3.db"
    raw = sqlite3.connect(path)
    raw.executescript(SCHEMA)
    raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    for row in (child, urgent):
        raw.execute(
            "INSERT INTO ads (id, text, risk, rank, band, lang, scored_json, content_hash, "
            "imported_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (row["id"], row["text"], row["risk"], row["risk"], "high", row["lang"],
             json.dumps(row), row["id"], "2026-01-01T00:00:00Z"))
    raw.commit()
    raw.close()
    old = connect(path)
    assert [r["id"] for r in queue_page(old, Filters(status="all")).rows] == ["child", "urgent"]
    assert dict(old.execute("SELECT id, priority FROM ads").fetchall()) == got
    old.close()
