"""Users, passwords, sessions and CSRF tokens.

Passwords are hashed with argon2id. A session is a random id in a cookie signed with
itsdangerous; the id also lives in the `sessions` table so that logout really ends it (a
stolen cookie stops working) and so that each session has its own CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from nigehbaan.inference.errors import UsageError
from nigehbaan.review.db import transaction, utcnow
from nigehbaan.review.labels import ROLES

SESSION_COOKIE = "nigehbaan_session"
SESSION_SECONDS = 12 * 3600  # one working day; then log in again
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs the same time as a
# wrong password and response times do not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A logged-in user, with the CSRF token of their session."""

    id: int
    name: str
    role: str
    csrf: str = ""

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see every decision and may reopen and decide escalated ads."""
        return self.role == "supervisor"


def add_user(
    conn: sqlite3.Connection, name: str, role: str, password: str, *, update: bool = False
) -> None:
    """Create a user (or, with `update`, change an existing user's role and password)."""
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise UsageError(
            f"user name: expected 1-64 printable characters, found {name!r}. Fix: pick another."
        )
    if role not in ROLES:
        raise UsageError(f"--role: expected one of {list(ROLES)}, found {role!r}.")
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"password: expected at least {MIN_PASSWORD} characters, found {len(password)}. "
            f"Fix: use a longer passphrase."
        )
    digest = _hasher.hash(password)
    with transaction(conn):
        exists = conn.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone()
        if exists and not update:
            raise UsageError(
                f"user {name!r} already exists. Fix: pick another name, or pass --update to "
                f"change their role and password."
            )
        if exists:
            conn.execute(
                "UPDATE users SET role=?, password_hash=? WHERE name=?", (role, digest, name)
            )
            # A changed password must end the sessions opened with the old one.
            conn.execute(
                "DELETE FROM sessions WHERE user_id=(SELECT id FROM users WHERE name=?)", (name,)
            )
        else:
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?,?,?,?)",
                (name, role, digest, utcnow()),
            )


def check_password(conn: sqlite3.Connection, name: str, password: str) -> User | None:
    """The user if `password` is theirs, else None. Takes about the same time either way."""
    row = conn.execute(
        "SELECT id, name, role, password_hash, disabled FROM users WHERE name=?", (name.strip(),)
    ).fetchone()
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    # A disabled user is refused like a wrong password, after the same work.
    return User(row["id"], row["name"], row["role"]) if row and not row["disabled"] else None


def set_disabled(conn: sqlite3.Connection, name: str, disabled: bool, actor: str) -> None:
    """Disable a user (they cannot log in, and every session they have ends now) or enable
    them again; either is an event in the audit log."""
    from nigehbaan.review.events import log_event

    with transaction(conn):
        row = conn.execute("SELECT id, disabled FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM users ORDER BY name")]
            raise UsageError(
                f"user: expected one of {known}, found {name!r}. Fix: check the name "
                f"(`nigehbaan review adduser` creates users)."
            )
        conn.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), row["id"]))
        if disabled:
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (row["id"],))
        log_event(conn, actor, "user_disable" if disabled else "user_enable", name)


# At most this many argon2 checks run at once; each takes 64 MiB and most of a core, so 30
# logins sent together must queue instead of taking 2 GB. A login that waits longer than
# VERIFY_WAIT_S for a slot is answered "busy" without a check.
MAX_CONCURRENT_CHECKS = 2
VERIFY_WAIT_S = 10.0
_check_slots = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)


class Busy(Exception):
    """Too many password checks are running; try again shortly."""


def check_password_bounded(conn: sqlite3.Connection, name: str, password: str) -> User | None:
    """`check_password`, at most MAX_CONCURRENT_CHECKS at a time; raises Busy after waiting
    VERIFY_WAIT_S for a slot."""
    if not _check_slots.acquire(timeout=VERIFY_WAIT_S):
        raise Busy()
    try:
        return check_password(conn, name, password)
    finally:
        _check_slots.release()


@dataclass(frozen=True)
class Attempt:
    """A login attempt counted against its keys before its password is checked."""

    keys: tuple[str, ...]
    at: float


class LoginLimiter:
    """Refuses logins after repeated failures, per (client address, user name) and per user name.

    An attempt is counted (`reserve`) before the password is checked, under one lock, so a
    burst of simultaneous guesses cannot all pass the check: at most `max_failures` per
    address and name, and `max_user_failures` per name from all addresses together, in
    `window_s` seconds. A success forgets the failures of that address and name. Not keyed by
    address alone: behind a reverse proxy or on one machine every user has the same address,
    and one user's typos must not lock the others out.

    In memory: it only has to slow down guessing against one `serve` process.
    """

    def __init__(
        self, max_failures: int = 5, window_s: float = 300.0, max_user_failures: int = 20
    ) -> None:
        self.window_s = window_s
        self.limits = {"pair": max_failures, "user": max_user_failures}
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(address: str, username: str) -> tuple[str, str]:
        """The (address, name) key and the name key of a login."""
        name = username.strip().lower()
        return f"pair:{address}|{name}", f"user:{name}"

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._fails.get(key, []) if now - t < self.window_s]
        if times:
            self._fails[key] = times
        else:
            self._fails.pop(key, None)
        return times

    def reserve(self, address: str, username: str) -> Attempt | None:
        """Count one attempt against the login's keys and return it, or None (nothing counted)
        when a key has used up its failures."""
        keys, now = self.keys(address, username), time.monotonic()
        with self._lock:
            if any(len(self._recent(k, now)) >= self.limits[k.split(":", 1)[0]] for k in keys):
                return None
            for k in keys:
                self._fails.setdefault(k, []).append(now)
        return Attempt(keys, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget the failures of its address and name, and take this
        attempt off the name's count."""
        with self._lock:
            pair, user = attempt.keys
            self._fails.pop(pair, None)
            times = self._fails.get(user, [])
            if attempt.at in times:
                times.remove(attempt.at)

    def release(self, attempt: Attempt) -> None:
        """The attempt was not checked (the server was busy): do not count it."""
        with self._lock:
            for k in attempt.keys:
                times = self._fails.get(k, [])
                if attempt.at in times:
                    times.remove(attempt.at)


class Sessions:
    """Signed session cookies backed by the `sessions` table."""

    def __init__(self, secret: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="nigehbaan-session")

    def start(self, conn: sqlite3.Connection, user: User) -> str:
        """Open a session for `user` and return the signed cookie value."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with transaction(conn):
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
            conn.execute(
                "INSERT INTO sessions (sid, user_id, csrf, expires_at) VALUES (?,?,?,?)",
                (sid, user.id, csrf, time.time() + SESSION_SECONDS),
            )
        return self._signer.dumps(sid)

    def _sid(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None

    def user(self, conn: sqlite3.Connection, cookie: str | None) -> User | None:
        """The user of a session cookie, or None if it is missing, forged, expired or ended."""
        sid = self._sid(cookie)
        if sid is None:
            return None
        row = conn.execute(
            "SELECT u.id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.sid = ? AND s.expires_at > ? AND u.disabled = 0",
            (sid, time.time()),
        ).fetchone()
        return User(row["id"], row["name"], row["role"], row["csrf"]) if row else None

    def end(self, conn: sqlite3.Connection, cookie: str | None) -> None:
        """Delete the session so the cookie is worthless even if someone kept a copy."""
        sid = self._sid(cookie)
        if sid is not None:
            with transaction(conn):
                conn.execute("DELETE FROM sessions WHERE sid = ?", (sid,))

    def login_token(self) -> str:
        """A signed token for the login form, which has no session to hold a CSRF token yet."""
        return self._signer.dumps("login:" + secrets.token_urlsafe(16))

    def check_login_token(self, token: str, cookie: str | None) -> bool:
        """The form's login token must be validly signed and equal the one set in the cookie."""
        if not token or not cookie or not hmac.compare_digest(token, cookie):
            return False
        try:
            return str(self._signer.loads(token, max_age=3600)).startswith("login:")
        except BadSignature:
            return False


def csrf_ok(user: User, token: str | None) -> bool:
    """Constant-time comparison of a submitted CSRF token with the session's."""
    return bool(token) and hmac.compare_digest(user.csrf, token or "")
