"""Analysts' decisions: confirm, dismiss, escalate, reopen, with per-indicator corrections.

Every decision is a new row of the append-only `decisions` table (who, what, when, from which
version of the ad). The ad row keeps only the current status and a version number. A decision
names the version its form was rendered from; if the ad has moved on since (another analyst
decided, or the ad was re-scored) the decision is refused with `Conflict` and nothing is
written, so no one's work is silently overwritten.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from nigehbaan.review.auth import User
from nigehbaan.review.db import transaction, utcnow
from nigehbaan.review.labels import ACTIONS, INDICATORS
from nigehbaan.review.scored import model_indicator_ids


class NotFound(LookupError):
    """No ad with that id."""


class NotAllowed(PermissionError):
    """The user may not take this action on the ad in its current status."""


class BadSpan(ValueError):
    """A marked passage whose offsets do not point at its text in the ad."""


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
    spans: Iterable[dict] = (),
    double_review: float = 0.0,
) -> int:
    """Record `action` (confirm, dismiss, escalate or reopen) on an ad; return its new version.

    `spans` are passages the analyst marked (see `check_spans`). When the ad falls in the
    `double_review` sample (`in_sample`), a confirm/dismiss/escalate also waits for a blind
    second review by another user.

    Raises NotFound, NotAllowed, BadSpan, or Conflict when `version` is not the ad's current one.
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
        scored = json.loads(state["scored_json"])
        marked = [] if action == "reopen" else check_spans(scored, fixes, spans)
        cur = conn.execute(
            "INSERT INTO decisions (ad_id, user_id, action, from_version, removed_json, "
            "added_json, note, at, spans_json) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                ad_id,
                user.id,
                action,
                version,
                json.dumps(fixes.removed),
                json.dumps(fixes.added),
                note.strip()[:4000],
                utcnow(),
                json.dumps(marked, ensure_ascii=False),
            ),
        )
        conn.execute(
            "UPDATE ads SET status = ?, version = version + 1, decision_id = ? WHERE id = ?",
            (ACTIONS.get(action, "new"), cur.lastrowid, ad_id),
        )
        if action in ACTIONS and in_sample(ad_id, double_review):
            conn.execute(
                "INSERT INTO double_review (ad_id, first_id) VALUES (?, ?) ON CONFLICT(ad_id) "
                "DO UPDATE SET first_id = excluded.first_id WHERE second_id IS NULL",
                (ad_id, cur.lastrowid),
            )
    return version + 1


# `stale`: the ad's text or scores changed on a re-import after this decision (see importer).
_LOG_COLUMNS = (
    "d.id, d.ad_id, d.action, d.from_version, d.removed_json, d.added_json, d.note, d.at, "
    "d.campaign_id, u.name AS by_name, EXISTS (SELECT 1 FROM reimports r WHERE r.ad_id = d.ad_id "
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


def check_spans(scored: dict, fixes: Corrections, spans: Iterable[dict]) -> list[dict]:
    """The analyst's marked passages, checked against the ad text as imported.

    Each span is `{"indicator", "start", "end", "text"}` with character (code point) offsets
    into the original text; its indicator must be one the decision keeps or adds, and
    `text[start:end]` must equal `text`. Raises BadSpan (expected / found / fix) otherwise.
    """
    text = scored.get("text") or ""
    allowed = set(model_indicator_ids(scored)) - set(fixes.removed) | set(fixes.added)
    out = []
    for span in spans:
        try:
            ind, start, end, said = (
                span["indicator"],
                int(span["start"]),
                int(span["end"]),
                span["text"],
            )
        except (KeyError, TypeError, ValueError):
            raise BadSpan(
                f"marked passage: expected indicator, start, end and text, found {span!r}. "
                "Fix: select the passage in the ad text again."
            ) from None
        if ind not in allowed:
            raise BadSpan(
                f"marked passage for {ind!r}: expected an indicator the decision keeps or adds, "
                f"found one it does not. Fix: tick the indicator, or remove the passage."
            )
        if not 0 <= start < end <= len(text):
            raise BadSpan(
                f"marked passage {start}..{end}: expected offsets inside the ad text "
                f"(0..{len(text)}), found them outside. Fix: select the passage again."
            )
        if text[start:end] != said:
            raise BadSpan(
                f"marked passage {start}..{end}: expected the text there, "
                f"{text[start:end]!r}, found {str(said)[:80]!r}. Fix: select the passage again."
            )
        out.append(
            {"indicator": ind, "start": start, "end": end, "text": said, "source": "analyst"}
        )
    return out


def in_sample(ad_id: str, fraction: float) -> bool:
    """Whether an ad is in the double-review sample: the first 8 bytes of SHA-256 of its id,
    read as a number in [0, 1), below `fraction`. Deterministic, so a restart or another
    process picks the same ads."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(ad_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _parse_time(at: str) -> datetime:
    return datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def last_undoable(
    conn: sqlite3.Connection, user: User, window_s: float, now: datetime | None = None
) -> sqlite3.Row | None:
    """The user's newest decision if it can still be undone, else None.

    It can while it is the ad's current decision (nobody reopened, undid or decided it since)
    and it is younger than `window_s` seconds.
    """
    row = conn.execute(
        "SELECT d.id, d.ad_id, d.action, d.at, a.version, a.decision_id FROM decisions d "
        "JOIN ads a ON a.id = d.ad_id WHERE d.user_id = ? AND d.kind = 'decision' "
        "ORDER BY d.id DESC LIMIT 1",
        (user.id,),
    ).fetchone()
    if row is None or row["action"] not in ACTIONS or row["decision_id"] != row["id"]:
        return None
    now = now or datetime.now(timezone.utc)
    if now - _parse_time(row["at"]) > timedelta(seconds=window_s):
        return None
    return row


def undo(
    conn: sqlite3.Connection,
    user: User,
    decision_id: int,
    window_s: float,
    now: datetime | None = None,
) -> str:
    """Take back the user's own last decision (`decision_id`); return its ad id.

    Adds an `undo` row to the log (nothing is changed or deleted there) and puts the ad back in
    the queue as undecided. Raises NotAllowed for someone else's decision, an older one, or
    one past the window.
    """
    with transaction(conn):
        row = last_undoable(conn, user, window_s, now)
        if row is None or row["id"] != decision_id:
            raise NotAllowed(
                f"undo: expected your own last decision from the last {window_s / 60:g} "
                "minutes that nobody has changed since, found none. Fix: ask a supervisor to "
                "reopen the ad"
            )
        cur = conn.execute(
            "INSERT INTO decisions (ad_id, user_id, action, from_version, note, at) "
            "VALUES (?,?,'undo',?,?,?)",
            (row["ad_id"], user.id, row["version"], f"undoes decision {decision_id}", utcnow()),
        )
        conn.execute(
            "UPDATE ads SET status = 'new', version = version + 1, decision_id = ? WHERE id = ?",
            (cur.lastrowid, row["ad_id"]),
        )
    return row["ad_id"]


def pending_second(conn: sqlite3.Connection, user: User, ad_id: str) -> sqlite3.Row | None:
    """The ad's double-review row when `user` may give it the blind second review: the ad is
    in the sample, its first decision still stands, nobody gave the second one yet, and
    `user` is not the one who decided first."""
    row = conn.execute(
        "SELECT r.first_id, d.user_id FROM double_review r JOIN ads a ON a.id = r.ad_id "
        "JOIN decisions d ON d.id = r.first_id "
        "WHERE r.ad_id = ? AND r.second_id IS NULL AND a.decision_id = r.first_id",
        (ad_id,),
    ).fetchone()
    return row if row is not None and row["user_id"] != user.id else None


def second_review(
    conn: sqlite3.Connection,
    user: User,
    ad_id: str,
    action: str,
    *,
    keep: Iterable[str] | None = None,
    add: Iterable[str] = (),
    note: str = "",
    spans: Iterable[dict] = (),
) -> int:
    """Record a blind second review of a sampled ad; return its decision id.

    It goes into the audit log (`kind = 'second'`) but does not change the ad's status: the
    first decision stands, and the dashboard compares the two (agreement.py).
    """
    if action not in ACTIONS:
        raise NotAllowed(f"unknown action {action!r}")
    with transaction(conn):
        state = _state(conn, ad_id)
        if pending_second(conn, user, ad_id) is None:
            raise NotAllowed("this ad does not wait for a second review by you")
        scored = json.loads(state["scored_json"])
        fixes = make_corrections(scored, keep, add)
        marked = check_spans(scored, fixes, spans)
        cur = conn.execute(
            "INSERT INTO decisions (ad_id, user_id, action, from_version, removed_json, "
            "added_json, note, at, kind, spans_json) VALUES (?,?,?,?,?,?,?,?,'second',?)",
            (
                ad_id,
                user.id,
                action,
                state["version"],
                json.dumps(fixes.removed),
                json.dumps(fixes.added),
                note.strip()[:4000],
                utcnow(),
                json.dumps(marked, ensure_ascii=False),
            ),
        )
        conn.execute(
            "UPDATE double_review SET second_id = ? WHERE ad_id = ?", (cur.lastrowid, ad_id)
        )
    return cur.lastrowid
