"""End to end in a real browser: Debian's headless Chromium driven by Playwright.

Logs in, triages three ads with the keyboard, sees highlighted evidence, and checks that an
ad carrying <script> and <img onerror> payloads shows them as text and runs nothing.
"""

from __future__ import annotations

import os

import pytest
from nigehbaan.review.db import connect
from nigehbaan.review.importer import import_rows
from nigehbaan.review.web import ad_key

from .browser import CHROMIUM, launch_chromium, live_server, log_in
from .conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.skip(f"Playwright is not installed ({exc}); pip install -e '.[test]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}; apt-get install -y chromium")
    with sync_playwright() as pw:
        try:
            b = launch_chromium(pw)
        except Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} cannot start here: {str(exc).splitlines()[0]}")
        yield b
        b.close()


def test_keyboard_triage_and_hostile_ad(browser, db_path):
    with live_server(db_path) as base:
        page = browser.new_page()
        dialogs, console_errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
        page.on("pageerror", lambda e: console_errors.append(str(e)))

        log_in(page, base, "ayesha", PASSWORD)
        # The queue (priority order: demo-xss, demo-ur-1, demo-rur-1, demo-en-1, ...): j/k move
        # the selection, Enter opens the selected ad.
        assert page.locator("tr.selected").get_attribute("data-href") == "/ads/demo-xss"
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        assert page.locator("tr.selected").get_attribute("data-href") == "/ads/demo-ur-1"
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/ads/demo-ur-1")

        # Highlighted evidence with a legend, right to left for Urdu.
        marks = page.locator("#ad-text mark.ev")
        assert marks.count() == 8
        assert marks.first.is_visible()
        assert page.locator("#ad-text").get_attribute("dir") == "auto"
        assert (
            page.evaluate("getComputedStyle(document.getElementById('ad-text')).direction") == "rtl"
        )
        assert page.locator(".legend li").count() == 7
        page.keyboard.press("?")
        assert page.locator("#help").is_visible()
        page.keyboard.press("Escape")
        assert not page.locator("#help").is_visible()

        # Typing a note does not trigger shortcuts; Esc leaves the field, then c confirms.
        page.click("textarea[name=note]")
        page.keyboard.type("clear dubai case")  # c, d and e typed here must not decide
        page.keyboard.press("Escape")
        page.keyboard.press("c")
        page.wait_for_url(f"{base}/ads/demo-rur-1")
        page.keyboard.press("d")
        page.wait_for_url(f"{base}/ads/demo-en-1")
        assert page.locator("#ad-text mark.ev").count() == 10
        page.keyboard.press("e")
        page.wait_for_url(f"{base}/ads/demo-ur-2")

        # The hostile ad: payloads are text, nothing ran.
        page.goto(f"{base}/ads/demo-xss")
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # give a broken image's onerror time to fire, if it existed
        text = page.inner_text("#ad-text")
        assert "<script>window.__xss = 1; alert('xss')</script>" in text
        assert "<img src=x onerror=" in text
        assert page.locator("#ad-text script, #ad-text img, img[src='x']").count() == 0
        assert page.evaluate("[typeof window.__xss, typeof window.__xss_img]") == [
            "undefined",
            "undefined",
        ]
        assert page.locator("#ad-text mark.ev").count() == 2

        assert dialogs == []
        assert console_errors == []  # also: no CSP violation from our own pages

    conn = connect(db_path)
    rows = conn.execute(
        "SELECT d.ad_id, d.action, d.note, u.name FROM decisions d JOIN users u ON u.id = d.user_id "
        "ORDER BY d.id"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("demo-ur-1", "confirm", "clear dubai case", "ayesha"),
        ("demo-rur-1", "dismiss", "", "ayesha"),
        ("demo-en-1", "escalate", "", "ayesha"),
    ]


def test_dot_segment_ids_open_and_are_decided_in_a_real_browser(browser, db_path):
    """Chromium resolves `.`, `..` and `%2e` path segments away; the URL key must survive."""
    conn = connect(db_path)
    ids = [".", "..", "%2e"]
    import_rows(
        conn,
        [
            (n, {"id": i, "text": "free visa", "risk": 0.999, "band": "high"})
            for n, i in enumerate(ids)
        ],
    )
    with live_server(db_path) as base:
        page = browser.new_page()
        log_in(page, base, "sara", PASSWORD)
        for ad_id in ids:
            page.goto(f"{base}/ads/{ad_key(ad_id)}?status=all")
            assert page.inner_text("h1") == f"Ad {ad_id}"
            with page.expect_navigation():  # the decision is posted, then the next ad opens
                page.keyboard.press("c")
    statuses = dict(conn.execute("SELECT id, status FROM ads WHERE id IN ('.', '..', '%2e')"))
    conn.close()
    assert statuses == dict.fromkeys(ids, "confirmed")
