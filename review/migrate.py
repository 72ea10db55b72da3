"""Schema upgrades of the review database, applied when a database is opened.

Version 1 is the schema in `db.SCHEMA`. A new database is created at version 1 and upgraded
at once, so the upgrade path that old `review.db` files take is the one every test runs.

Version 2 adds what issue 15 asked for:

- `decisions.action` may be `undo` (an analyst takes back their own last decision; the undo is a
  new row, the log stays append-only), `decisions.kind` tells a normal decision from a blind
  second review, and `decisions.spans_json` holds the passages an analyst marked.
- `users.disabled`, `ads.assigned_to` (with an index for the "mine" queue).
- `events`: an append-only log of what is not a decision on an ad (assignments, users disabled
  or enabled, exports from the web page).
- `double_review`: which first decision of a sampled ad waits for, or got, a second review.
- `meta.data_version`: a counter that triggers bump whenever an ad is added, removed or
  changes what the dashboard draws (the charts' cache key, with the newest decision id).
- `*_no_replace` triggers: `REPLACE INTO` deletes the old row without firing a delete trigger
  (unless recursive_triggers is on), so an insert that would hit an existing row is refused.
- `reimports`: one append-only row per re-import that changed a decided ad's text or scores;
  decisions made before it (`from_version < to_version`) are stale.

SQLite cannot change a CHECK constraint in place, so `decisions` is rebuilt in one transaction
following SQLite's documented procedure (foreign keys off, copy, drop, rename, recreate its
indexes and triggers, check foreign keys); the table's own SQL is edited, not rewritten, so
columns or triggers added to version 1 survive the rebuild.

Version 3 adds review by campaign (issue 10, item 5; `nigehbaan cluster` output):

- `ads.template_id`, `ads.network_id`, indexed with the columns the campaign pages read, so a
  template's members and the one-row-per-template queue come from the index.
- `campaigns`: one row per template or network summary (`--clusters FILE`), the summary as JSON.
- `decisions.campaign_id`: set on each member's decision when one decision covered a whole
  template (every member still gets its own row in the append-only log).

Version 4 orders the queue by triage priority (issue 13, item 3):

- `ads.priority`: the scored row's `priority` (the risk weighed by the severity of its
  indicators, inference/priority.py), or -1 for rows the scorer could not score. Rows stored
  before it existed get it computed from their stored scored row (`scored.row_priority`: the
  same formula on the stored risk and indicator scores, with the default severities).
- indexes that lead with (priority, rank, id): the queue's keyset order.
"""

from __future__ import annotations

import json
import sqlite3

from nigehbaan.inference.errors import UsageError
from nigehbaan.review.scored import row_priority

SCHEMA_VERSION = 4
# Versions `upgrade` brings to SCHEMA_VERSION, one step after another.
UPGRADABLE = ("1", "2", "3")

_V2_ADDITIONS = """
CREATE INDEX IF NOT EXISTS ads_assigned ON ads (assigned_to, rank, id);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  detail_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TABLE IF NOT EXISTS double_review (
  ad_id TEXT PRIMARY KEY REFERENCES ads(id),
  first_id INTEGER NOT NULL REFERENCES decisions(id),
  second_id INTEGER REFERENCES decisions(id)
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('data_version', '0');
CREATE TRIGGER IF NOT EXISTS ads_data_insert AFTER INSERT ON ads
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'data_version'; END;
CREATE TRIGGER IF NOT EXISTS ads_data_update AFTER UPDATE OF rank, band, lang, indicators, status
ON ads BEGIN UPDATE meta SET value = value + 1 WHERE key = 'data_version'; END;
CREATE TRIGGER IF NOT EXISTS ads_data_delete AFTER DELETE ON ads
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'data_version'; END;
CREATE TRIGGER IF NOT EXISTS decisions_no_replace BEFORE INSERT ON decisions
WHEN EXISTS (SELECT 1 FROM decisions WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TABLE IF NOT EXISTS reimports (
  id INTEGER PRIMARY KEY,
  ad_id TEXT NOT NULL REFERENCES ads(id),
  from_version INTEGER NOT NULL,
  to_version INTEGER NOT NULL,
  status_before TEXT NOT NULL,
  changed TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reimports_by_ad ON reimports (ad_id, to_version);
CREATE TRIGGER IF NOT EXISTS reimports_no_update BEFORE UPDATE ON reimports
BEGIN SELECT RAISE(ABORT, 'the re-import log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS reimports_no_delete BEFORE DELETE ON reimports
BEGIN SELECT RAISE(ABORT, 'the re-import log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS reimports_no_replace BEFORE INSERT ON reimports
WHEN EXISTS (SELECT 1 FROM reimports WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the re-import log is append-only'); END;
"""


_V3_ADDITIONS = """
CREATE INDEX IF NOT EXISTS ads_template ON ads (template_id, rank, id, status, lang);
CREATE INDEX IF NOT EXISTS ads_network ON ads (network_id, template_id);
CREATE TABLE IF NOT EXISTS campaigns (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('template', 'network')),
  network_id TEXT,
  size INTEGER NOT NULL DEFAULT 0,
  summary_json TEXT NOT NULL,
  imported_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaigns_by_network ON campaigns (network_id, kind);
CREATE INDEX IF NOT EXISTS decisions_by_campaign ON decisions (campaign_id, id)
  WHERE campaign_id IS NOT NULL;
"""


def _to_v3(conn: sqlite3.Connection) -> None:
    for column in ("template_id", "network_id"):
        if column not in _columns(conn, "ads"):
            conn.execute(f"ALTER TABLE ads ADD COLUMN {column} TEXT")
    if "campaign_id" not in _columns(conn, "decisions"):
        conn.execute("ALTER TABLE decisions ADD COLUMN campaign_id TEXT")
    for stmt in _V3_ADDITIONS.split(";\n"):
        if stmt.strip():
            conn.execute(stmt)


_V4_ADDITIONS = """
CREATE INDEX IF NOT EXISTS ads_priority
  ON ads (priority, rank, id, status, band, lang, platform, indicators);
CREATE INDEX IF NOT EXISTS ads_status_priority
  ON ads (status, priority, rank, id, band, lang, platform, indicators);
CREATE INDEX IF NOT EXISTS ads_assigned_priority ON ads (assigned_to, priority, rank, id);
"""


def _to_v4(conn: sqlite3.Connection) -> None:
    if "priority" not in _columns(conn, "ads"):
        conn.execute("ALTER TABLE ads ADD COLUMN priority REAL NOT NULL DEFAULT -1")
    rows = conn.execute("SELECT id, risk, scored_json FROM ads WHERE risk IS NOT NULL").fetchall()
    conn.executemany(
        "UPDATE ads SET priority = ? WHERE id = ?",
        [(row_priority(_loads(r[2]), r[1]), r[0]) for r in rows],
    )
    for stmt in _V4_ADDITIONS.split(";\n"):
        if stmt.strip():
            conn.execute(stmt)


def _loads(text: str) -> dict:
    try:
        row = json.loads(text)
    except ValueError:
        return {}
    return row if isinstance(row, dict) else {}


def _version(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _rebuild_decisions(conn: sqlite3.Connection) -> None:
    sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
    ).fetchone()[0]
    check = "'reopen')"
    if "'undo'" not in sql:
        if check not in sql:
            raise UsageError(
                "review database: expected the version-1 decisions table (actions ending in "
                f"'reopen'), found {sql[:120]!r}. Fix: open it with the Nigehbaan version that "
                "created it, or start a new --db."
            )
        extras = conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'decisions' "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        ).fetchall()
        new_sql = sql.replace(check, "'reopen', 'undo')", 1).replace("decisions", "decisions_v2", 1)
        conn.execute(new_sql)
        conn.execute("INSERT INTO decisions_v2 SELECT * FROM decisions")
        conn.execute("DROP TABLE decisions")
        conn.execute("ALTER TABLE decisions_v2 RENAME TO decisions")
        for (stmt,) in extras:
            conn.execute(stmt)
    columns = _columns(conn, "decisions")
    if "kind" not in columns:
        conn.execute(
            "ALTER TABLE decisions ADD COLUMN kind TEXT NOT NULL DEFAULT 'decision' "
            "CHECK (kind IN ('decision', 'second'))"
        )
    if "spans_json" not in columns:
        conn.execute("ALTER TABLE decisions ADD COLUMN spans_json TEXT NOT NULL DEFAULT '[]'")


def _to_v2(conn: sqlite3.Connection) -> None:
    _rebuild_decisions(conn)
    if "disabled" not in _columns(conn, "users"):
        conn.execute("ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")
    if "assigned_to" not in _columns(conn, "ads"):
        conn.execute("ALTER TABLE ads ADD COLUMN assigned_to INTEGER REFERENCES users(id)")
    for stmt in _V2_ADDITIONS.split(";\n"):
        if stmt.strip():
            conn.execute(stmt)


def upgrade(conn: sqlite3.Connection) -> None:
    """Bring a version-1, -2 or -3 database to SCHEMA_VERSION; a no-op when it is there already.

    Runs in one write transaction: a failure leaves the database at the version it had.
    """
    if _version(conn) == str(SCHEMA_VERSION):
        return
    conn.execute("PRAGMA foreign_keys=OFF")  # has no effect inside a transaction
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = _version(conn)  # another process may have upgraded meanwhile
            if found in UPGRADABLE:
                if found == "1":
                    _to_v2(conn)
                if found in ("1", "2"):
                    _to_v3(conn)
                _to_v4(conn)
                problems = conn.execute("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise UsageError(
                        f"review database upgrade: expected consistent references, found "
                        f"{len(problems)} broken (first: {tuple(problems[0])}). Nothing was "
                        f"changed. Fix: restore a backup of the file."
                    )
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
