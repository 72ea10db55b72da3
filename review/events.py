"""The append-only event log: what is not a decision on one ad but still has to be on record
(assignments, users disabled or enabled, exports from the web page). Like the decision log, the
database refuses UPDATE and DELETE on it."""

from __future__ import annotations

import json
import sqlite3

from nigehbaan.review.db import utcnow


def log_event(conn: sqlite3.Connection, actor: str, kind: str, target: str = "", **detail) -> int:
    """Add one event (call inside the transaction that does the change); return its id."""
    cur = conn.execute(
        "INSERT INTO events (at, actor, kind, target, detail_json) VALUES (?,?,?,?,?)",
        (utcnow(), actor, kind, target, json.dumps(detail, ensure_ascii=False, sort_keys=True)),
    )
    return cur.lastrowid


def events(conn: sqlite3.Connection, kind: str | None = None, limit: int = 100) -> list[dict]:
    """The newest events (of one kind, or all), newest first, with `detail` decoded."""
    where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
    rows = conn.execute(
        f"SELECT id, at, actor, kind, target, detail_json FROM events {where} "
        "ORDER BY id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [dict(r) | {"detail": json.loads(r["detail_json"])} for r in rows]
