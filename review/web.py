"""Web plumbing shared by the app's routes: templates, the database dependency, the login and
CSRF checks, and the security headers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, unquote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from nigehbaan.review import labels
from nigehbaan.review.auth import SESSION_COOKIE, User, csrf_ok
from nigehbaan.review.bidi import has_controls, visible_controls
from nigehbaan.review.db import connect
from starlette.convertors import Convertor, register_url_convertor

HERE = Path(__file__).parent


def _finalize(value):
    """Applied to every `{{ ... }}` before escaping: bidi controls in any printed string (an
    ad's id, URL, platform, entities, notes) become visible `[U+202E]` markers, so nothing an
    ad carries can reorder what the page shows. Markup (the highlighted ad text) already
    shows them as marked spans."""
    if isinstance(value, str) and not isinstance(value, Markup) and has_controls(value):
        return visible_controls(value)
    return value


# Autoescape is on for every template: ad text must never reach the page unescaped.
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_finalize,
)
templates.globals.update(
    INDICATORS=labels.INDICATORS,
    BANDS=labels.BANDS,
    STATUSES=labels.STATUSES,
    UNSCORED_BAND=labels.UNSCORED_BAND,
    indicator_label=labels.indicator_label,
    indicator_class=labels.indicator_class,
)


def ad_key(ad_id: str) -> str:
    """The URL path segment of an ad: its id percent-encoded with `~` for `%`, dots included.

    Ad ids are arbitrary strings. Percent-encoded, `..` or `.` would still be a dot segment
    that the browser resolves away (so is `%2e`: the URL standard treats it as a dot), `a%2Fb`
    is a slash to some proxies, and a `%` may be decoded once or twice on the way. The key
    holds only letters, digits, `-`, `_` and `~`, so it reaches the app unchanged; plain ids
    (`demo-ur-1`) stay readable. `AdKey` reverses it.
    """
    encoded = quote(str(ad_id), safe="").replace("~", "%7E").replace(".", "%2E")
    return encoded.replace("%", "~")


class AdKey(Convertor):
    """Route convertor `{ad_id:adkey}`: turns an `ad_key` segment back into the ad id."""

    regex = ".+"  # an old single-encoded link arrives with its `/` decoded

    def convert(self, value: str) -> str:
        return unquote(value.replace("~", "%"))

    def to_string(self, value: str) -> str:
        return ad_key(value)


register_url_convertor("adkey", AdKey())
templates.filters["idpath"] = ad_key

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Links out of the app must not tell a scraped site that an investigator looked at it.
    # (`same-origin`, not `no-referrer`: with no-referrer Chromium sends `Origin: null` on our
    # own form posts, which the Origin check must refuse.)
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """ASGI middleware adding the headers above to every response, and `no-store` to every
    response but static assets so ad text is not left in a browser cache."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoginRequired(Exception):
    """Raised by `current_user` when there is no valid session."""


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    """Render template `name` with the request and logged-in user (if any) in its context."""
    context.setdefault("user", getattr(request.state, "user", None))
    html = templates.get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code)


def get_conn(request: Request) -> Iterator[sqlite3.Connection]:
    """A database connection for one request."""
    conn = connect(request.app.state.db_path)
    try:
        yield conn
    finally:
        conn.close()


Conn = Annotated[sqlite3.Connection, Depends(get_conn)]


def current_user(request: Request, conn: Conn) -> User:
    """The logged-in user; every page and API route depends on this."""
    user = request.app.state.sessions.user(conn, request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin header)."""
    origin = request.headers.get("origin")
    if origin is None:  # non-browser clients send none; the CSRF token still has to match
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


LoggedIn = Annotated[User, Depends(current_user)]


async def form_user(request: Request, user: LoggedIn) -> User:
    """`current_user` for form posts: also checks the form's CSRF token and the Origin."""
    form = await request.form()
    if not same_origin(request) or not csrf_ok(user, form.get("csrf_token")):
        raise HTTPException(
            403, "The form's security token is missing or stale. Reload the page and try again."
        )
    return user


FormUser = Annotated[User, Depends(form_user)]


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other sites, `//host`) becomes `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
