"""The review web app: `create_app(db_path, secret)` builds it; `serve` runs it with uvicorn.

Server-rendered pages (Jinja2), one static JS file for keyboard shortcuts, no external assets,
so it works on an offline investigator's machine. Every route but /login and /static needs a
session.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from nigehbaan.review import campaign_views, dashboard, downloads, views
from nigehbaan.review.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    Busy,
    LoginLimiter,
    Sessions,
    check_password_bounded,
)
from nigehbaan.review.db import connect, secret_key
from nigehbaan.review.settings import Settings
from nigehbaan.review.web import (
    HERE,
    Conn,
    FormUser,
    LoginRequired,
    SecurityHeaders,
    render,
    safe_next,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

LOGIN_COOKIE = "nigehbaan_login"


def create_app(
    db_path: str,
    secret: str | None = None,
    *,
    secure_cookies: bool = False,
    allowed_hosts: list[str] | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """Build the app for the review database at `db_path`.

    `settings` holds the review workflow's knobs (undo window, double-review fraction).
    `secret` signs the cookies (default: the key kept in the database). `secure_cookies` adds
    the Secure flag (serve over HTTPS). `allowed_hosts` limits the Host header, which stops
    DNS-rebinding pages from talking to a server bound to localhost.
    """
    conn = connect(db_path)
    try:
        secret = secret or secret_key(conn)
    finally:
        conn.close()
    # No /docs or /openapi.json: they are not needed and the docs pages load assets from a CDN.
    app = FastAPI(title="Nigehbaan review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db_path = str(db_path)
    app.state.sessions = Sessions(secret)
    app.state.limiter = LoginLimiter()
    app.state.secure_cookies = secure_cookies
    app.state.settings = settings or Settings()
    app.state.chart_cache = {}
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(SecurityHeaders)  # added last = outermost: every response gets them
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(views.router)
    app.include_router(campaign_views.router)
    app.include_router(dashboard.router)
    app.include_router(downloads.router)
    _add_login_routes(app)
    _add_error_handlers(app)
    return app


def _cookie(app: FastAPI, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=app.state.secure_cookies,
        path="/",
    )


def _add_login_routes(app: FastAPI) -> None:
    def login_page(request: Request, target: str, error: str = "", status: int = 200):
        # No `error` query parameter: a crafted link must not put its own words on this page.
        token = app.state.sessions.login_token()
        response = render(request, "login.html", status, next=target, token=token, error=error)
        _cookie(app, response, LOGIN_COOKIE, token, 3600)
        return response

    @app.get("/login")
    def login_form(request: Request, next: str = "/"):
        return login_page(request, safe_next(next))

    @app.post("/login")
    def login(
        request: Request,
        conn: Conn,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ):
        target = safe_next(next)
        sessions, limiter = app.state.sessions, app.state.limiter
        if not sessions.check_login_token(token, request.cookies.get(LOGIN_COOKIE)):
            raise HTTPException(403, "The login form expired. Reload the page and try again.")
        # The attempt is counted before the (slow, 64 MiB) password check, so simultaneous
        # guesses cannot all get through; at most two checks run at once.
        attempt = limiter.reserve(request.client.host if request.client else "?", username)
        if attempt is None:
            return login_page(request, target, "Too many failed logins. Wait five minutes.", 429)
        try:
            user = check_password_bounded(conn, username, password)
        except Busy:
            limiter.release(attempt)
            return login_page(request, target, "The server is busy. Try again.", 503)
        if user is None:
            return login_page(request, target, "Wrong user name or password.", 401)
        limiter.succeeded(attempt)
        response = RedirectResponse(target, status_code=303)
        _cookie(app, response, SESSION_COOKIE, sessions.start(conn, user), SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(
        request: Request,
        user: FormUser,
        conn: Conn,
    ):
        app.state.sessions.end(conn, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    def login_required(request: Request, exc: LoginRequired):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "login required"}, status_code=401)
        if request.method != "GET":
            return render(request, "error.html", 401, message="Your session ended. Log in again.")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return render(request, "error.html", exc.status_code, message=str(exc.detail))
