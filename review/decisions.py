"""Analysts' decisions: confirm, dismiss, escalate, reopen, with per-indicator corrections.

Every decision is a new row of the append-only `decisions` table (who, what, when, from which
version of the ad). The ad row keeps only the current status and a version number. A decision
names the version its form was rendered from; if the ad has moved on since (another analyst
decided, or the ad was re-scored) the decision is refused with `Conflict` and nothing is
written, so no one's work is silently overwritten.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from nigehbaan.review.auth import User
from nigehbaan.review.db import transaction, utcnow
from nigehbaan.review.labels import ACTIONS, INDICATORS
from nigehbaan.review.scored import model_indicator_ids


class NotFound(LookupError):
    """No ad with that id."""


class NotAllowed(PermissionError):
    """The user may not take this action on the ad in its current status."""


class Conflict(Exception):
    """The ad changed since the form was rendered; `current` describes what it is now."""

    def __init__(self, current: dict) -> None:
        super().__init__(f"ad changed: now version {current['version']} ({current['status']})")
        self.current = current


@dataclass(frozen=True)
class Corrections:
    """Indicator ids the analyst removed from, or added to, the model's list."""

    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


def make_corrections(scored: dict, keep: Iterable[str] | None, add: Iterable[str]) -> Corrections:
    """Turn the form's kept and added indicator ids into removed/added lists.

    `keep` None means the form did not carry the corrections section: nothing is removed.
    """
    model = model_indicator_ids(scored)
    kept = set(model if keep is None else keep)
    return Corrections(
        removed=tuple(i for i in model if i not in kept),
        added=tuple(i for i in INDICATORS if i in set(add) and i not in model),
    )


def _state(conn: sqlite3.Connection, ad_id: str) -> dict:
    row = conn.execute(
        "SELECT a.status, a.version, a.scored_json, d.action, d.at, d.note, u.name AS by_name "
        "FROM ads a LEFT JOIN decisions d ON d.id = a.decision_id "
        "LEFT JOIN users u ON u.id = d.user_id WHERE a.id = ?",
        (ad_id,),
    ).fetchone()
    if row is None:
        raise NotFound(ad_id)
    return dict(row)


def can_decide(user: User, status: str) -> bool:
    """Anyone decides new ads; escalated ones wait for a supervisor; decided ones are final
    until a supervisor reopens them."""
    return status == "new" or (status == "escalated" and user.is_supervisor)


def can_reopen(user: User, status: str) -> bool:
    """Only supervisors reopen, and only what has been decided."""
    return user.is_supervisor and status != "new"


def decide(
    conn: sqlite3.Connection,
    user: User,
    ad_id: str,
    action: str,
    version: int,
    *,
    keep: Iterable[str] | None = None,
    add: Iterable[str] = (),
    note: str = "",
) -> int:
    """Record `action` (confirm, dismiss, escalate or reopen) on an ad; return its new version.

    Raises NotFound, NotAllowed, or Conflict when `version` is not the ad's current one.
    """
    if action not in (*ACTIONS, "reopen"):
        raise NotAllowed(f"unknown action {action!r}")
    with transaction(conn):
        state = _state(conn, ad_id)
        if state["version"] != version:
            raise Conflict(state)
        allowed = can_reopen if action == "reopen" else can_decide
        if not allowed(user, state["status"]):
            raise NotAllowed(f"{user.role} may not {action} an ad that is {state['status']}")
        fixes = (
            Corrections()
            if action == "reopen"
            else make_corrections(json.loads(state["scored_json"]), keep, add)
        )
        cur = conn.execute(
            "INSERT INTO decisions (ad_id, user_id, action, from_version, removed_json, "
            "added_json, note, at) VALUES (?,?,?,?,?,?,?,?)",
            (
                ad_id,
                user.id,
                action,
                version,
                json.dumps(fixes.removed),
                json.dumps(fixes.added),
                note.strip()[:4000],
                utcnow(),
            ),
        )
        conn.execute(
            "UPDATE ads SET status = ?, version = version + 1, decision_id = ? WHERE id = ?",
            (ACTIONS.get(action, "new"), cur.lastrowid, ad_id),
        )
    return version + 1


# `stale`: the ad's text or scores changed on a re-import after this decision (see importer).
_LOG_COLUMNS = (
    "d.id, d.ad_id, d.action, d.from_version, d.removed_json, d.added_json, d.note, d.at, "
    "u.name AS by_name, EXISTS (SELECT 1 FROM reimports r WHERE r.ad_id = d.ad_id "
    "AND r.to_version > d.from_version) AS stale"
)


def history(conn: sqlite3.Connection, ad_id: str) -> list[sqlite3.Row]:
    """Every decision on one ad, oldest first."""
    return conn.execute(
        f"SELECT {_LOG_COLUMNS} FROM decisions d JOIN users u ON u.id = d.user_id "
        "WHERE d.ad_id = ? ORDER BY d.id",
        (ad_id,),
    ).fetchall()


def decision_log(
    conn: sqlite3.Connection,
    user_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[sqlite3.Row]:
    """The newest decisions (one user's, or everyone's when `user_id` is None), keyset-paged
    by decision id."""
    where, args = ["1"], []
    if user_id is not None:
        where.append("d.user_id = ?")
        args.append(user_id)
    if before_id is not None:
        where.append("d.id < ?")
        args.append(before_id)
    return conn.execute(
        f"SELECT {_LOG_COLUMNS}, a.status FROM decisions d JOIN users u ON u.id = d.user_id "
        f"JOIN ads a ON a.id = d.ad_id WHERE {' AND '.join(where)} ORDER BY d.id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
