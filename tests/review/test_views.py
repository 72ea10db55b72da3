"""Queue order, filters, keyset pages, the ad view (escaping, highlighting, linked contacts),
the dashboard and the JSON API."""

from __future__ import annotations

import re

import pytest
from nigehbaan.review.importer import import_rows
from nigehbaan.review.queue import Filters, queue_page

from .demo import scored_ad
from .test_decisions import post_decision


def queue_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-href="/ads/([^"?]+)', html)


def test_queue_is_highest_priority_first_then_risk_with_unscored_last(client_for):
    client = client_for("ayesha")
    ads = client.get("/api/queue").json()["ads"]
    assert queue_ids(client.get("/queue").text) == [a["id"] for a in ads]
    assert ads[-1]["id"] == "demo-err" and ads[-1]["risk"] is None and ads[-1]["priority"] is None
    keys = [(a["priority"], a["risk"]) for a in ads[:-1]]
    assert keys == sorted(keys, reverse=True)
    assert all(a["priority"] <= a["risk"] for a in ads[:-1])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("band=medium", {"demo-mixed-1", "demo-en-2"}),
        ("band=unscored", {"demo-err"}),
        ("lang=ur", {"demo-ur-1", "demo-ur-2"}),
        ("indicator=irregular_route", {"demo-rur-2"}),
        ("platform=job_board", {"demo-en-2", "demo-en-3"}),
        ("q=dunki", {"demo-rur-2"}),
        ("q=%D9%BE%D8%A7%D8%B3%D9%BE%D9%88%D8%B1%D9%B9", {"demo-ur-1"}),  # پاسپورٹ
        ("q=100%25", {"demo-rur-2"}),  # % is a literal, not a LIKE wildcard
        ("q=demo-en-3", {"demo-en-3"}),  # an id finds its ad
        ("band=high&lang=ur-Latn&indicator=upfront_fee", {"demo-rur-2"}),
        ("band=bogus", None),  # unknown values are ignored, not an error
    ],
)
def test_queue_filters(client_for, query, expected):
    client = client_for("ayesha")
    ids = set(queue_ids(client.get(f"/queue?{query}").text))
    assert ids == (expected if expected is not None else set(queue_ids(client.get("/queue").text)))


def test_status_filter_and_decided_ads_leave_the_default_queue(client_for):
    client = client_for("ayesha")
    post_decision(client, "demo-en-1", "confirm", 1)
    assert "demo-en-1" not in queue_ids(client.get("/queue").text)
    assert queue_ids(client.get("/queue?status=confirmed").text) == ["demo-en-1"]
    assert len(queue_ids(client.get("/queue?status=all").text)) == 10


def test_keyset_pages_cover_everything_once_both_ways(conn):
    rows = [
        (i, scored_ad(f"gen-{i:04d}", f"ad number {i}", round((i % 50) / 50, 2), "low", "en", {}))
        for i in range(237)
    ]
    import_rows(conn, rows)
    filters = Filters(status="all")
    seen, pages, after = [], [], None
    while True:
        page = queue_page(conn, filters, after=after, limit=25)
        pages.append(page)
        seen += [r["id"] for r in page.rows]
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert len(seen) == len(set(seen)) == 247 == page.total
    keys = [tuple(conn.execute("SELECT priority, rank FROM ads WHERE id=?", (i,)).fetchone())
            for i in seen]
    assert keys == sorted(keys, reverse=True)
    assert pages[0].prev_cursor is None and pages[1].prev_cursor is not None
    # Walking back from the last page gives the same pages in reverse.
    back = queue_page(conn, filters, before=pages[-1].prev_cursor, limit=25)
    assert [r["id"] for r in back.rows] == [r["id"] for r in pages[-2].rows]
    first = queue_page(conn, filters, before=pages[1].prev_cursor, limit=25)
    assert [r["id"] for r in first.rows] == [r["id"] for r in pages[0].rows]
    assert first.prev_cursor is None


def test_pager_links_over_http(client_for, conn):
    import_rows(
        conn, [(i, scored_ad(f"p-{i:03d}", "x", 0.5, "medium", "en", {})) for i in range(60)]
    )
    client = client_for("ayesha")
    html = client.get("/queue?band=medium").text
    nxt = re.search(r'data-key="n" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    second = client.get(nxt).text
    assert len(queue_ids(html)) == 50 and len(queue_ids(second)) == 12
    assert not set(queue_ids(html)) & set(queue_ids(second))
    assert 'data-key="p"' in second and 'data-key="n"' not in second
    assert client.get("/queue?after=garbage").status_code == 200


def test_ad_text_is_escaped_and_evidence_highlighted(client_for):
    html = client_for("ayesha").get("/ads/demo-xss").text
    text = re.search(r'<div class="ad-text"[^>]*>(.*?)</div>', html, re.S)
    assert 'dir="auto"' in text.group(0)
    body = text.group(1)
    assert "&lt;script&gt;window.__xss = 1;" in body
    assert "&lt;img src=x onerror=" in body
    assert "<script" not in body and "<img" not in body
    marks = re.findall(
        r'<mark class="ev (ind-\d+)[^"]*" data-indicators="([^"]+)"[^>]*>([^<]*)</mark>', body
    )
    assert marks == [
        ("ind-7", "gender_age_targeting", "Hiring girls"),
        ("ind-17", "sexual_services", "hostess job in Dubai"),
    ]
    legend = html.split('class="legend"')[1].split("</section>")[0]
    assert "swatch ind-7" in legend and "Gender age targeting" in legend


def test_urdu_ad_reads_right_to_left_with_nastaliq_hint(client_for):
    html = client_for("ayesha").get("/ads/demo-ur-1").text
    assert '<div class="ad-text" id="ad-text" dir="auto" lang="ur">' in html
    assert html.count('<mark class="ev') == 8
    assert "Model</dt><dd>nigehbaan-demo 0.0-demo" in html
    assert 'class="risk">0.94' in html


def test_shared_phone_links_to_every_other_ad(client_for):
    client = client_for("ayesha")
    html = client.get("/ads/demo-ur-1").text
    link = re.search(r'<a href="(/contact\?value=[^"]+)">(\d+) other ads?</a>', html)
    assert link.group(2) == "2"
    contact = client.get(link.group(1).replace("&amp;", "&")).text
    assert set(queue_ids(contact)) == {"demo-ur-1", "demo-en-1", "demo-rur-2"}
    email = client.get("/ads/demo-xss").text
    assert re.search(r'/contact\?value=hr%40example.com">0 other ads</a>', email)


def test_bidi_controls_are_shown_not_obeyed(client_for, conn):
    ad = scored_ad("bidi", "pay \u202eeerf asiv\u202c now", 0.4, "medium", "en", {})
    import_rows(conn, [(1, ad)])
    html = client_for("ayesha").get("/ads/bidi").text
    assert "[U+202E]" in html and "\u202e" not in html


def test_error_row_is_shown_with_its_error(client_for):
    html = client_for("ayesha").get("/ads/demo-err").text
    assert "could not score this ad: empty text" in html
    assert 'class="chip band-unscored"' in html


def test_dashboard_pictures(client_for):
    client = client_for("sara")
    post_decision(client, "demo-en-1", "confirm", 1)
    html = client.get("/dashboard").text
    names = re.findall(r'<img src="/dashboard/(\w+)\.png\?v=[0-9-]+"', html)
    assert names == ["risk", "indicators", "languages", "bands", "decisions"]
    for name in names:
        r = client.get(f"/dashboard/{name}.png")
        assert r.headers["content-type"] == "image/png"
        assert r.content[:8] == b"\x89PNG\r\n\x1a\n" and len(r.content) > 5000
    assert client.get("/dashboard/nope.png").status_code == 404
    # The page's <title> is text only, and the agreement table appears once, in the page body.
    assert re.search(r"<title>Dashboard · Nigehbaan review</title>", html)
    assert html.count("Agreement (double review)") == 1


def test_api_ad(client_for):
    data = client_for("ayesha").get("/api/ads/demo-ur-1").json()
    assert data["status"] == "new" and data["version"] == 1
    assert data["scored"]["indicators"][0]["id"] == "gender_age_targeting"


def test_ids_with_url_and_html_characters(client_for, conn):
    odd = "olx/123?x=1#frag & <b>ü"
    ad = scored_ad(odd, "an ad with an odd id", 0.999, "high", "en", {}, priority=0.999)
    import_rows(conn, [(1, ad)])
    client = client_for("ayesha")
    html = client.get("/queue").text
    href = queue_ids(html)[0]
    assert href == "olx~2F123~3Fx~3D1~23frag~20~26~20~3Cb~3E~C3~BC"  # see web.ad_key
    page = client.get(f"/ads/{href}")
    assert page.status_code == 200 and "olx/123?x=1#frag &amp; &lt;b&gt;ü" in page.text
    r = post_decision(client, odd, "confirm", 1)
    # On to the next ad in queue order (the demo's highest priority).
    assert (r.status_code, r.headers["location"]) == (303, f"/ads/{queue_ids(html)[1]}")
    assert conn.execute("SELECT status FROM ads WHERE id = ?", (odd,)).fetchone()[0] == "confirmed"
