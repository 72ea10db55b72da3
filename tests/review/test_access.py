"""Access control, sessions, CSRF and security headers over HTTP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from nigehbaan.review.app import create_app
from nigehbaan.review.auth import SESSION_COOKIE

from .conftest import PASSWORD, csrf_of, login, make_client

PAGES = [
    "/",
    "/queue",
    "/queue?band=high&q=visa",
    "/ads/demo-en-1",
    "/contact?value=%2B923001234567",
    "/decisions",
    "/dashboard",
    "/dashboard/risk.png",
]
APIS = ["/api/queue", "/api/ads/demo-en-1"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login_without_a_session(app, path):
    r = make_client(app).get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", APIS)
def test_api_answers_401_without_a_session(app, path):
    r = make_client(app).get(path)
    assert r.status_code == 401
    assert r.json() == {"detail": "login required"}


def test_posts_without_a_session_are_refused(app):
    r = make_client(app).post("/decide/demo-en-1", data={"action": "confirm", "version": "1"})
    assert r.status_code == 401
    assert "session ended" in r.text


def test_no_api_docs_are_exposed(client_for):
    client = client_for("ayesha")
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404


def test_login_then_pages_work_and_next_is_kept(app):
    client = make_client(app)
    r = client.get("/ads/demo-en-1", follow_redirects=False)
    page = client.get(r.headers["location"])
    assert 'name="next" value="/ads/demo-en-1"' in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"username": "ayesha", "password": PASSWORD, "token": token, "next": "/ads/demo-en-1"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/ads/demo-en-1")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    for path in PAGES[1:]:
        assert client.get(path).status_code == 200, path
    assert client.get("/api/queue").json()["total"] == 10


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(app, target):
    client = make_client(app)
    page = client.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"username": "ayesha", "password": PASSWORD, "token": token, "next": target},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_wrong_password_and_unknown_user_look_the_same(app):
    client = make_client(app)
    wrong = login(client, "ayesha", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        "Wrong user name or password." in wrong.text
        and "Wrong user name or password." in unknown.text
    )
    assert SESSION_COOKIE not in client.cookies


def test_login_is_rate_limited(app):
    client = make_client(app)
    for _ in range(5):
        assert login(client, "bilal", "guess guess guess").status_code == 401
    r = login(client, "bilal", PASSWORD)  # even the right password waits now
    assert r.status_code == 429
    assert "Too many failed logins" in r.text


def test_login_form_needs_its_token(app):
    client = make_client(app)
    client.get("/login")
    r = client.post("/login", data={"username": "ayesha", "password": PASSWORD, "token": "forged"})
    assert r.status_code == 403
    other = make_client(app)  # a token from another browser's form does not match this cookie
    token = re.search(r'name="token" value="([^"]+)"', other.get("/login").text).group(1)
    r = client.post("/login", data={"username": "ayesha", "password": PASSWORD, "token": token})
    assert r.status_code == 403


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client_for):
    client = client_for("ayesha")
    stolen = client.cookies[SESSION_COOKIE]
    r = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    thief = make_client(app)
    thief.cookies.set(SESSION_COOKIE, stolen)
    assert thief.get("/queue", follow_redirects=False).status_code == 303


def test_forged_or_foreign_cookies_are_rejected(app, db_path, client_for):
    client = client_for("sara")
    cookie = client.cookies[SESSION_COOKIE]
    forger = make_client(app)
    forger.cookies.set(SESSION_COOKIE, cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert forger.get("/api/queue").status_code == 401
    other_app = create_app(str(db_path), secret="another secret key that is long enough!!")
    stranger = make_client(other_app)
    stranger.cookies.set(SESSION_COOKIE, cookie)
    assert stranger.get("/api/queue").status_code == 401


def test_csrf_token_is_required_on_every_form(client_for, conn):
    client = client_for("ayesha")
    good = csrf_of(client)
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "x" * 43}):
        r = client.post("/decide/demo-en-1", data={"action": "confirm", "version": "1", **data})
        assert r.status_code == 403, data
        assert "security token" in r.text
        r = client.post("/logout", data=data)
        assert r.status_code == 403
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    # Another user's token does not work in this session either.
    other = client_for("bilal")
    r = other.post(
        "/decide/demo-en-1", data={"action": "confirm", "version": "1", "csrf_token": good}
    )
    assert r.status_code == 403


def test_cross_site_origin_is_refused_even_with_a_token(client_for, conn):
    client = client_for("ayesha")
    token = csrf_of(client)
    r = client.post(
        "/decide/demo-en-1",
        data={"action": "confirm", "version": "1", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_security_headers(app, client_for):
    client = client_for("ayesha")
    for path in ("/queue", "/ads/demo-xss", "/login", "/static/style.css", "/dashboard/risk.png"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
    assert client.get("/queue").headers["cache-control"] == "no-store"


class _Tags(HTMLParser):
    """Collects (tag, attributes) of every element of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_pages_carry_no_inline_script_and_no_external_assets(client_for):
    client = client_for("sara")
    for path in ("/queue", "/ads/demo-xss", "/ads/demo-ur-1", "/dashboard", "/decisions", "/login"):
        parser = _Tags()
        parser.feed(client.get(path).text)
        for tag, attrs in parser.tags:
            assert not any(a.startswith("on") for a in attrs), (path, tag, attrs)
            assert "style" not in attrs, (path, tag)
            if tag == "script":
                assert attrs.get("src", "").startswith("/static/"), path
            for a in ("src", "href"):
                # The only links out are entity links (URLs, wa.me) that tell the site nothing.
                outlink = (
                    tag == "a"
                    and a == "href"
                    and set((attrs.get("rel") or "").split())
                    >= {"noopener", "noreferrer", "nofollow"}
                )
                if not outlink:
                    assert not re.match(r"(https?:)?//", attrs.get(a) or ""), (path, tag, attrs)
        assert "img" not in {t for t, a in parser.tags if a.get("src") == "x"}


def test_trusted_hosts_block_dns_rebinding(db_path):
    app = create_app(str(db_path), allowed_hosts=["127.0.0.1", "localhost"])
    client = make_client(app)
    assert client.get("/login", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/login", headers={"host": "127.0.0.1:8000"}).status_code == 200


def test_analyst_sees_only_own_decisions_supervisor_sees_all(client_for):
    ayesha, bilal, sara = client_for("ayesha"), client_for("bilal"), client_for("sara")
    for client, ad in ((ayesha, "demo-en-1"), (bilal, "demo-ur-1")):
        r = client.post(
            f"/decide/{ad}",
            data={
                "action": "confirm",
                "version": "1",
                "csrf_token": csrf_of(client),
                "note": f"by {ad}",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
    mine = ayesha.get("/decisions").text
    assert "by demo-en-1" in mine and "by demo-ur-1" not in mine
    everyone = sara.get("/decisions").text
    assert "by demo-en-1" in everyone and "by demo-ur-1" in everyone
    assert "Audit log" in sara.get("/ads/demo-ur-1").text
    assert "Your decisions on this ad" not in ayesha.get("/ads/demo-ur-1").text
    assert [d["note"] for d in ayesha.get("/api/ads/demo-ur-1").json()["decisions"]] == []
    assert [d["note"] for d in sara.get("/api/ads/demo-ur-1").json()["decisions"]] == [
        "by demo-ur-1"
    ]
