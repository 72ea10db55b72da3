"""The review database: one SQLite file in WAL mode holding ads, users, sessions and the
append-only decision log.

WAL lets the web app read while an import or another analyst writes. Every connection is
short-lived (one per request or command); SQLite connections are cheap and this avoids sharing
one across threads.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from nigehbaan.inference.errors import UsageError
from nigehbaan.review.migrate import SCHEMA_VERSION, UPGRADABLE, upgrade

# SCHEMA below is version 1; migrate.upgrade() brings every database, new or old, to
# SCHEMA_VERSION when it is opened.
BASE_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('analyst', 'supervisor')),
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
  sid TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  csrf TEXT NOT NULL,
  expires_at REAL NOT NULL
);

-- One row per ad. `scored_json` is the scored row as imported (the source of truth for
-- evidence and entities); the columns beside it are copies that the queue filters and sorts on.
-- `rank` is the risk, or -1 for rows the scorer could not score, so those sort last.
-- `indicators` holds the model's indicator ids as ' id1 id2 ' so a filter is one instr().
-- `version` grows on every decision and every changed re-import: forms carry it so that two
-- analysts cannot silently overwrite each other (optimistic concurrency).
CREATE TABLE IF NOT EXISTS ads (
  id TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  risk REAL,
  rank REAL NOT NULL,
  band TEXT NOT NULL,
  lang TEXT NOT NULL,
  platform TEXT NOT NULL DEFAULT '',
  indicators TEXT NOT NULL DEFAULT ' ',
  model_version TEXT NOT NULL DEFAULT '',
  error TEXT,
  scored_json TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'confirmed', 'dismissed', 'escalated')),
  version INTEGER NOT NULL DEFAULT 1,
  decision_id INTEGER REFERENCES decisions(id),
  imported_at TEXT NOT NULL
);
-- The queue's indexes carry every filterable column, so filtering and counting a 100,000-ad
-- queue read only the index, never the wide rows (see benchmarks/review_queue.py).
CREATE INDEX IF NOT EXISTS ads_rank ON ads (rank, id, status, band, lang, platform, indicators);
CREATE INDEX IF NOT EXISTS ads_status_rank
  ON ads (status, rank, id, band, lang, platform, indicators);
CREATE INDEX IF NOT EXISTS ads_lang ON ads (lang);
CREATE INDEX IF NOT EXISTS ads_platform ON ads (platform);

CREATE TABLE IF NOT EXISTS ad_entities (
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  ad_id TEXT NOT NULL,
  PRIMARY KEY (kind, value, ad_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ad_entities_by_value ON ad_entities (value, ad_id);
CREATE INDEX IF NOT EXISTS ad_entities_by_ad ON ad_entities (ad_id);

-- The audit log. Rows are only ever added: the triggers refuse UPDATE and DELETE.
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY,
  ad_id TEXT NOT NULL REFERENCES ads(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  action TEXT NOT NULL CHECK (action IN ('confirm', 'dismiss', 'escalate', 'reopen')),
  from_version INTEGER NOT NULL,
  removed_json TEXT NOT NULL DEFAULT '[]',
  added_json TEXT NOT NULL DEFAULT '[]',
  note TEXT NOT NULL DEFAULT '',
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_ad ON decisions (ad_id, id);
CREATE INDEX IF NOT EXISTS decisions_by_user ON decisions (user_id, id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
"""


def utcnow() -> str:
    """The current UTC time as ISO 8601 with a `Z`, the format every timestamp here uses."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(path: str | Path, *, create: bool = False) -> sqlite3.Connection:
    """Open the review database, creating the schema when `create` is true.

    Refuses a missing file unless `create`, so that a mistyped `--db` does not quietly serve
    or export an empty database.
    """
    path = Path(path)
    if not create and not path.exists():
        raise UsageError(
            f"review database not found: expected an existing SQLite file, found no file at "
            f"{path}. Fix: check --db, or create it with `nigehbaan review import FILE --db {path}`."
        )
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        if create:
            conn.executescript(SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(BASE_VERSION),),
            )
        if _has_table(conn, "meta") and get_meta(conn, "schema_version") in UPGRADABLE:
            upgrade(conn)
        _check_schema(conn, path)
    except sqlite3.DatabaseError as exc:
        raise UsageError(
            f"cannot open review database {path}: expected a Nigehbaan review SQLite file, "
            f"found an error ({exc}). Fix: pass the right --db or a new file name."
        ) from exc
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    row = conn.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
        if _has_table(conn, "meta")
        else "SELECT NULL AS value"
    ).fetchone()
    found = row["value"] if row else None
    if found != str(SCHEMA_VERSION):
        raise UsageError(
            f"{path} is not a review database of this version: expected schema version "
            f"{SCHEMA_VERSION}, found {found or 'none'}. Fix: use a new --db file or the "
            f"Nigehbaan version that created it."
        )


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone()
        is not None
    )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one write transaction, taking the write lock up front.

    BEGIN IMMEDIATE makes a read-then-write (check a version, then update) atomic against
    other writers instead of failing half-way with SQLITE_BUSY.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """A value from the meta table, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else None


def secret_key(conn: sqlite3.Connection, key_file: str | Path | None = None) -> str:
    """The key that signs session cookies: from `key_file` if given, else generated once and kept
    in the database so that sessions survive a restart of `serve`."""
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(
                f"cannot read --secret-key-file {key_file}: {exc}. Fix: pass a readable file "
                f"holding at least 32 random characters."
            ) from exc
        if len(key) < 32:
            raise UsageError(
                f"--secret-key-file {key_file}: expected at least 32 characters, found "
                f"{len(key)}. Fix: python -c 'import secrets; print(secrets.token_urlsafe(48))' > FILE"
            )
        return key
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)",
            (secrets.token_urlsafe(48),),
        )
    return get_meta(conn, "secret_key") or ""
