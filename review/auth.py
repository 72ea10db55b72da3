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
        "SELECT id, name, role, password_hash FROM users WHERE name=?", (name.strip(),)
    ).fetchone()
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(row["id"], row["name"], row["role"]) if row else None


class LoginLimiter:
    """Refuses logins for a name or a client address after repeated failures.

    In memory: it only has to slow down guessing against one `serve` process.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._fails.get(key, []) if now - t < self.window_s]
        self._fails[key] = times
        return times

    def blocked(self, *keys: str) -> bool:
        """True while any key has `max_failures` failures inside the window."""
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.max_failures for k in keys)

    def failed(self, *keys: str) -> None:
        """Record a failed login for each key."""
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of each key."""
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)


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
            "WHERE s.sid = ? AND s.expires_at > ?",
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
