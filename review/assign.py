"""Supervisors hand a filtered part of the queue to an analyst.

The assignment is the ad's `assigned_to`; every assignment is also an `assign` event naming
who assigned what (the filters and the ad ids) to whom.
"""

from __future__ import annotations

import sqlite3

from nigehbaan.review.auth import User
from nigehbaan.review.db import transaction
from nigehbaan.review.decisions import NotAllowed
from nigehbaan.review.events import log_event
from nigehbaan.review.queue import Filters, resolve_id


def assign(conn: sqlite3.Connection, by: User, filters: Filters, assignee: str | None) -> int:
    """Assign every ad matching `filters` to user `assignee` (None: unassign); return how many.

    Only supervisors assign, and only to an existing user who is not disabled.
    """
    if not by.is_supervisor:
        raise NotAllowed("only supervisors assign ads")
    where, args = resolve_id(conn, filters).where()
    with transaction(conn):
        user_id = None
        if assignee:
            row = conn.execute(
                "SELECT id FROM users WHERE name = ? AND disabled = 0", (assignee,)
            ).fetchone()
            if row is None:
                raise NotAllowed(f"no active user named {assignee!r}")
            user_id = row[0]
        ids = [r[0] for r in conn.execute(f"SELECT a.id FROM ads a WHERE {where}", args)]
        conn.executemany("UPDATE ads SET assigned_to = ? WHERE id = ?", [(user_id, i) for i in ids])
        log_event(
            conn,
            by.name,
            "assign" if assignee else "unassign",
            assignee or "",
            filters=filters.params(),
            count=len(ids),
            ads=ids,
        )
    return len(ids)
