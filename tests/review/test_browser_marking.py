"""In a real browser (Debian's Chromium via Playwright): marking a passage for a missed
indicator sends code-point offsets into the ad text as imported, across highlighted evidence,
emoji (two UTF-16 units each) and a neutralised bidi control; and the decision panel stays in
view on a long ad."""

from __future__ import annotations

import json

from nigehbaan.review.db import connect
from nigehbaan.review.importer import import_rows

from .browser import live_server, log_in
from .conftest import PASSWORD
from .demo import scored_ad
from .test_browser import browser  # noqa: F401 - the shared Chromium fixture

TEXT = (
    "🚀🚀 Jobs in Dubai\u202e abroad! Pay fee now 😀 to our agent. Passport kept.\n"
    + "More details below.\n" * 150
    + "End."
)
PASSAGE = "Dubai\u202e abroad! Pay fee now 😀 to"


def _add_ad(db_path):
    conn = connect(db_path)
    ad = scored_ad(
        "demo-long", TEXT, 0.99, "high", "en", {"upfront_fee": ["Pay fee"]}, platform="web"
    )
    import_rows(conn, [(1, ad)])
    conn.close()


def test_marking_a_passage_and_the_sticky_panel(browser, db_path):  # noqa: F811
    _add_ad(db_path)
    with live_server(db_path) as base:
        page = browser.new_page(viewport={"width": 1300, "height": 800})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page, base, "ayesha", PASSWORD)
        page.goto(f"{base}/ads/demo-long")
        assert page.locator("#ad-text mark.ev").count() == 1
        assert page.locator("#ad-text .ctl").count() == 1
        page.click("#add-missed summary")
        # Marking with nothing selected says what to do.
        page.click('button[data-mark="document_retention"]')
        assert page.locator("#mark-msg").is_visible()
        # Select the passage as a user would: from inside one text node to inside another
        # (it spans the bidi marker and the highlighted "Pay fee").
        page.evaluate(
            """() => {
              const el = document.getElementById('ad-text');
              const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
              const nodes = []; let n;
              while ((n = w.nextNode())) nodes.push(n);
              const first = nodes.find(t => t.data.includes('Dubai'));
              const last = nodes.find(t => t.data.includes(' to our agent'));
              const r = document.createRange();
              r.setStart(first, first.data.indexOf('Dubai'));
              r.setEnd(last, last.data.indexOf(' to our agent') + 3);
              const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
            }"""
        )
        page.click('button[data-mark="document_retention"]')
        assert not page.locator("#mark-msg").is_visible()
        assert page.locator("#marked li").count() == 1
        assert page.locator('input[name="add"][value="document_retention"]').is_checked()
        # Scroll to the end of the long ad: the decision panel is still on screen.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
        page.wait_for_timeout(200)
        assert page.evaluate("window.scrollY") > 1000
        top = page.evaluate("document.querySelector('aside.decide').getBoundingClientRect().top")
        assert 0 <= top < 50
        assert page.locator("button.confirm").is_visible()
        page.click("button.confirm")
        page.wait_for_load_state("load")
        assert errors == []

    conn = connect(db_path)
    spans = json.loads(conn.execute("SELECT spans_json FROM decisions").fetchone()[0])
    conn.close()
    start = TEXT.index(PASSAGE)
    assert spans == [
        {
            "indicator": "document_retention",
            "start": start,
            "end": start + len(PASSAGE),
            "text": PASSAGE,
            "source": "analyst",
        }
    ]
