"""In a real browser (Debian's Chromium via Playwright): an analyst opens the campaign view,
opens the demo campaign, sees its slots and network picture, and decides the whole template;
every member gets its own campaign decision in the audit log, and an ad decided earlier by
someone else keeps its decision."""

from __future__ import annotations

from nigehbaan.review.auth import User, add_user
from nigehbaan.review.db import connect
from nigehbaan.review.decisions import decide

from .browser import demo_database, live_server, log_in
from .conftest import PASSWORD
from .test_browser import browser  # noqa: F401 - the shared Chromium fixture


def test_deciding_a_whole_template_from_the_campaign_page(browser, tmp_path):  # noqa: F811
    db = demo_database(tmp_path / "review.db", "ayesha", PASSWORD, decide=False, campaigns=True)
    conn = connect(db)
    add_user(conn, "bilal", "analyst", PASSWORD)
    decide(conn, User(2, "bilal", "analyst"), "gulf-3", "escalate", 1, note="ask sara")
    conn.close()
    with live_server(db) as base:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page, base, "ayesha", PASSWORD)
        page.click('a[href="/campaigns"]')
        page.wait_for_url(f"{base}/campaigns")
        page.click('tr[data-href="/campaigns/t-demo-gulf"] a')
        page.wait_for_url(f"{base}/campaigns/t-demo-gulf")
        assert page.locator("#template-text mark.slot").count() == 3
        assert page.locator("svg.netsvg .net-t").count() == 2
        assert page.locator("svg.netsvg .net-c").count() == 2
        page.fill('#campaign-decision textarea[name="note"]', "one dunki campaign, 2 numbers")
        page.click('#campaign-decision button[value="confirm"]')
        page.wait_for_selector("#campaign-result")
        assert page.inner_text("#campaign-result") == "5 ads confirmed"
        assert "gulf-3" in page.inner_text("table.skipped")
        assert "another analyst" in page.inner_text("table.skipped")
        # The member's own page shows the campaign decision in its log.
        page.goto(f"{base}/ads/gulf-1")
        assert "whole template" in page.inner_text("ol.history")
        assert errors == []
    conn = connect(db)
    log = conn.execute(
        "SELECT ad_id, action, note, campaign_id FROM decisions ORDER BY id"
    ).fetchall()
    conn.close()
    assert [tuple(r) for r in log] == [("gulf-3", "escalate", "ask sara", None)] + [
        (f"gulf-{i}", "confirm", "one dunki campaign, 2 numbers", "t-demo-gulf")
        for i in (1, 2, 4, 5, 6)
    ]
