"""Review by campaign (issue 10, item 5): importing clustered ads and their summaries, the
campaign page and queue view, and one decision on a whole template."""

from __future__ import annotations

import json
import re
import time

from nigehbaan.review.campaigns import import_summaries, load_campaign
from nigehbaan.review.db import connect
from nigehbaan.review.events import events
from nigehbaan.review.export import export_labelled
from nigehbaan.review.importer import import_file, import_rows

from .conftest import csrf_of, version_of, write_jsonl
from .demo import scored_ad

PHONE = "+923331112222"
HOSTILE = '"><script>alert(1)</script>'
CITIES = ["Dubai", "Riyadh", "Doha", "Muscat", "Jeddah"]


def campaign_rows() -> list[dict]:
    """Template t-visa: five re-posts (one carries markup), template t-other: two, both in
    network n-1 through a shared phone."""
    rows = []
    for i, city in enumerate(CITIES):
        text = f"Free visa jobs in {city} for girls. No experience. Call {PHONE}"
        if i == 4:
            text += " <img src=x onerror=alert(1)>"
        rows.append(
            scored_ad(
                f"camp-{i}",
                text,
                round(0.95 - 0.05 * i, 2),
                "high",
                "en" if i % 2 == 0 else "ur-Latn",
                {"free_visa_travel": ["Free visa"], "no_experience_required": ["No experience"]},
                phones=[PHONE],
                platform="facebook" if i < 3 else "olx",
                posted_at=f"2024-05-0{i + 1}",
                template_id="t-visa",
                network_id="n-1",
            )
        )
    for i in range(2):
        rows.append(
            scored_ad(
                f"other-{i}",
                f"Driver needed in Saudi, salary after {i + 6} months. Call {PHONE}",
                0.6,
                "medium",
                "en",
                {"debt_bondage": ["salary after"]},
                phones=[PHONE],
                emails=["agent@example.com"],
                platform="facebook",
                template_id="t-other",
                network_id="n-1",
            )
        )
    return rows


def summary_rows() -> list[dict]:
    return [
        {
            "id": "t-visa",
            "kind": "template",
            "size": 5,
            "members": [f"camp-{i}" for i in range(5)],
            "network_id": "n-1",
            "template": f"free visa jobs in {{slot}} for girls {HOSTILE} call {{slot}}",
            "contacts": [f"phone:{PHONE}", f"handle:{HOSTILE}"],
            "risk_max": 0.95,
        },
        {
            "id": "t-other",
            "kind": "template",
            "size": 2,
            "members": ["other-0", "other-1"],
            "network_id": "n-1",
            "template": "driver needed in saudi, salary after {slot} months. call {slot}",
            "contacts": [f"phone:{PHONE}", "email:agent@example.com"],
        },
        {
            "id": "n-1",
            "kind": "network",
            "size": 7,
            "members": [],
            "templates": ["t-visa", "t-other"],
            "hubs": {"phone:+920000000000": 60},
        },
    ]


def _load(db_path, tmp_path):
    conn = connect(db_path)
    import_file(conn, write_jsonl(tmp_path / "clustered.jsonl", campaign_rows()))
    import_summaries(conn, write_jsonl(tmp_path / "campaigns.jsonl", summary_rows()))
    conn.close()


def test_import_of_clustered_rows_and_summaries(db_path, tmp_path, capsys):
    from nigehbaan.cli import main

    clustered = write_jsonl(tmp_path / "clustered.jsonl", campaign_rows())
    summaries = write_jsonl(tmp_path / "campaigns.jsonl", summary_rows())
    argv = ["review", "import", str(clustered), "--clusters", str(summaries), "--db", str(db_path)]
    assert main(argv) == 0
    assert "3 campaign summaries: 2 templates, 1 networks" in capsys.readouterr().err
    conn = connect(db_path)
    got = dict(conn.execute("SELECT id, template_id FROM ads WHERE network_id = 'n-1'").fetchall())
    assert got == {
        **{f"camp-{i}": "t-visa" for i in range(5)},
        "other-0": "t-other",
        "other-1": "t-other",
    }
    assert conn.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0] == 3
    stored = json.loads(
        conn.execute("SELECT summary_json FROM campaigns WHERE id = 't-visa'").fetchone()[0]
    )
    assert "members" not in stored and stored["template"].count("{slot}") == 2
    # A re-scored file without the cluster columns keeps the ads in their campaign.
    plain = [
        {k: v for k, v in r.items() if k not in ("template_id", "network_id")}
        for r in campaign_rows()
    ]
    plain[0]["risk"] = 0.97
    import_rows(conn, enumerate(plain, 1))
    assert conn.execute("SELECT template_id FROM ads WHERE id = 'camp-0'").fetchone()[0] == "t-visa"
    # A summary file alone links the members of each template (a plain scored file imported).
    conn.execute("UPDATE ads SET template_id = NULL, network_id = NULL WHERE id = 'other-1'")
    assert import_summaries(conn, summaries).members_linked == 1
    assert conn.execute("SELECT network_id FROM ads WHERE id = 'other-1'").fetchone()[0] == "n-1"
    conn.close()


def test_summaries_that_are_not_summaries_are_refused(db_path, tmp_path):
    import pytest
    from nigehbaan.inference.errors import UsageError

    conn = connect(db_path)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "t-1", "kind": "cluster"}])
    with pytest.raises(UsageError, match="row 1: expected a campaign summary.*Fix"):
        import_summaries(conn, bad)
    with pytest.raises(UsageError, match="clusters file not found"):
        import_summaries(conn, tmp_path / "missing.jsonl")
    rows = campaign_rows()
    rows[0]["template_id"] = 7
    with pytest.raises(UsageError, match="expected 'template_id' to be a string"):
        import_rows(conn, enumerate(rows, 1))
    conn.close()


def test_real_cluster_output_imports_in_jsonl_and_csv(db_path, tmp_path):
    """What `nigehbaan cluster` writes (rows and --clusters, JSONL and CSV) imports as is."""
    from nigehbaan.inference.cluster import cluster_file

    rows = [
        {k: v for k, v in r.items() if k not in ("template_id", "network_id")} | {"warnings": []}
        for r in campaign_rows()
    ]  # as `nigehbaan score` writes them
    scored = write_jsonl(tmp_path / "scored.jsonl", rows)
    for ext in ("jsonl", "csv"):
        out, summ = tmp_path / f"clustered.{ext}", tmp_path / f"campaigns.{ext}"
        cluster_file(str(scored), str(out), clusters_path=str(summ))
        conn = connect(db_path)
        import_file(conn, out)
        result = import_summaries(conn, summ)
        assert result.templates >= 2 and result.networks >= 1
        tids = {r[0] for r in conn.execute("SELECT template_id FROM ads WHERE id LIKE 'camp-%'")}
        assert len(tids) == 1
        c = load_campaign(conn, tids.pop())
        assert c is not None and c.stats["size"] == 5 and "{slot}" in c.template
        assert isinstance(c.summary["contacts"], list)
        conn.close()


def test_campaign_page_escapes_marks_slots_and_draws_the_network(db_path, tmp_path, client_for):
    _load(db_path, tmp_path)
    client = client_for("ayesha")
    page = client.get("/campaigns/t-visa")
    assert page.status_code == 200
    html = page.text
    # Untrusted text (template, contacts, member ads) is escaped everywhere, SVG included.
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = re.search(r'id="template-text"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert text.count('<mark class="slot">') == 2 and text.startswith("free visa jobs in ")
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert svg.count('<g class="net-t') == 2 and 'class="net-t current"' in svg
    assert svg.count("<line ") == 4  # t-visa: phone, handle; t-other: phone, e-mail
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert 'href="/campaigns/t-other"' in svg
    # Members with their facts and decision state; shared contacts readable, with links.
    for i in range(5):
        assert f'href="/ads/camp-{i}?status=all"' in html
    assert "2024-05-01" in html and "2024-05-05" in html
    assert "0.95" in html and "0.85" in html  # max and mean
    assert f"/contact?value=%2B{PHONE[1:]}" in html and f"https://wa.me/{PHONE[1:]}" in html
    assert "in 5 of these ads" in html
    assert "Free visa travel" in html and "5 ads" in html
    assert 'name="seen"' in html and "Confirm all 5" in html
    # The network page lists both templates, its hub, and every member.
    net = client.get("/campaigns/n-1").text
    assert 'href="/campaigns/t-visa"' in net and 'href="/campaigns/t-other"' in net
    assert "+920000000000" in net and net.count('href="/ads/') == 7
    assert client.get("/campaigns/t-nope").status_code == 404
    # The ad page links to its campaign.
    ad = client.get("/ads/camp-1").text
    assert 'href="/campaigns/t-visa"' in ad and "template of 5 ads" in ad


def test_campaign_view_of_the_queue(db_path, tmp_path, client_for):
    _load(db_path, tmp_path)
    client = client_for("ayesha")
    assert 'href="/campaigns"' in client.get("/queue").text
    html = client.get("/campaigns").text
    rows = re.findall(r'<tr data-href="/campaigns/([^"]+)">(.*?)</tr>', html, re.S)
    assert [r[0] for r in rows] == ["t-visa", "t-other"]  # highest max risk first
    cells = re.findall(r'<td class="num">([^<]*)</td>', rows[0][1])
    assert (
        cells == ["0.95", "5", "5"] and "en, ur-Latn" in rows[0][1] or "ur-Latn, en" in rows[0][1]
    )
    # Single ads (the demo ads, never clustered) are not templates; decided templates drop out.
    conn = connect(db_path)
    conn.execute("UPDATE ads SET status = 'dismissed' WHERE template_id = 't-other'")
    conn.close()
    html = client.get("/campaigns").text
    assert "/campaigns/t-other" not in html
    assert "/campaigns/t-other" in client.get("/campaigns?status=all").text


def _decide(client, cid, action, note="", seen=None):
    page = client.get(f"/campaigns/{cid}").text
    data = {"csrf_token": csrf_of(client), "action": action, "note": note}
    data["seen"] = (
        seen if seen is not None else re.search(r'name="seen" value="([^"]+)"', page).group(1)
    )
    return client.post(f"/campaigns/decide/{cid}", data=data)


def test_whole_template_decision(db_path, tmp_path, client_for):
    _load(db_path, tmp_path)
    ayesha, bilal = client_for("ayesha"), client_for("bilal")
    # Bilal dismisses one member on its own page first.
    ad = bilal.get("/ads/camp-2").text
    r = bilal.post(
        "/decide/camp-2",
        data={
            "csrf_token": csrf_of(bilal),
            "action": "dismiss",
            "version": version_of(ad),
            "note": "mine",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = _decide(ayesha, "t-visa", "confirm", note="same dunki ad, 5 cities")
    assert r.status_code == 200
    assert "4 ads confirmed" in r.text
    skipped = re.search(r'<table class="ads skipped">(.*?)</table>', r.text, re.S).group(1)
    assert "camp-2" in skipped and "another analyst" in skipped and "bilal" not in skipped
    conn = connect(db_path)
    log = conn.execute(
        "SELECT d.ad_id, d.action, d.note, d.campaign_id, u.name FROM decisions d "
        "JOIN users u ON u.id = d.user_id ORDER BY d.id"
    ).fetchall()
    assert [tuple(x) for x in log] == [("camp-2", "dismiss", "mine", None, "bilal")] + [
        (f"camp-{i}", "confirm", "same dunki ad, 5 cities", "t-visa", "ayesha")
        for i in (0, 1, 3, 4)
    ]
    status = dict(
        conn.execute("SELECT id, status FROM ads WHERE template_id = 't-visa'").fetchall()
    )
    assert status == {
        "camp-0": "confirmed",
        "camp-1": "confirmed",
        "camp-2": "dismissed",
        "camp-3": "confirmed",
        "camp-4": "confirmed",
    }
    ev = events(conn, "campaign_decision")
    assert ev[0]["target"] == "t-visa" and ev[0]["detail"] == {
        "action": "confirm",
        "decided": 4,
        "skipped": ["camp-2"],
    }
    # The audit log on the ad page marks it; the export stays one row per ad.
    assert "whole template" in client_for("sara").get("/ads/camp-0").text
    out = tmp_path / "export.jsonl"
    export_labelled(conn, out)
    exported = [json.loads(x) for x in out.read_text().splitlines()]
    ids = [e["id"] for e in exported if e["id"].startswith("camp-")]
    assert sorted(ids) == [f"camp-{i}" for i in range(5)]
    conn.close()
    # A supervisor sees who decided the skipped ads; nothing is left to decide now.
    sara = client_for("sara")
    page = sara.get("/campaigns/t-visa").text
    assert "Every ad of this template is decided." in page
    r = sara.post(
        "/campaigns/decide/t-visa",
        data={"csrf_token": csrf_of(sara), "action": "dismiss", "seen": ""},
    )
    assert "0 ads dismissed" in r.text and "bilal" in r.text and "ayesha" in r.text
    conn = connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 5
    conn.close()


def test_a_template_that_changed_since_the_page_is_not_decided(db_path, tmp_path, client_for):
    _load(db_path, tmp_path)
    client = client_for("ayesha")
    r = _decide(client, "t-visa", "dismiss", note="keep me", seen="0" * 16)
    assert r.status_code == 409 and "Nothing was saved" in r.text and "keep me" in r.text
    assert _decide(client, "t-visa", "launder").status_code == 403
    r = client.post("/campaigns/decide/t-visa", data={"action": "confirm", "csrf_token": "x"})
    assert r.status_code == 403
    conn = connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    conn.close()


def test_campaign_page_of_500_members_is_quick(db_path, client_for, capsys):
    conn = connect(db_path)
    rows = [
        scored_ad(
            f"big-{i:03d}",
            f"Hotel jobs in Dubai for girls, visa free. Room {i}. WhatsApp +92300{i:07d}",
            0.5 + (i % 50) / 100,
            "high" if i % 50 >= 30 else "medium",
            "en",
            {"free_visa_travel": ["visa free"]},
            phones=[f"+92300{i % 40:07d}"],
            posted_at=f"2024-06-{1 + i % 28:02d}",
            template_id="t-big",
            network_id="n-big",
        )
        for i in range(500)
    ]
    import_rows(conn, enumerate(rows, 1))
    conn.close()
    client = client_for("ayesha")
    assert client.get("/campaigns/t-big").status_code == 200  # warm the template cache
    times = []
    for _ in range(5):
        start = time.perf_counter()
        page = client.get("/campaigns/t-big")
        times.append(time.perf_counter() - start)
    assert page.status_code == 200 and page.text.count('href="/ads/big-') == 500
    median = sorted(times)[2]
    with capsys.disabled():
        print(f"\ncampaign page, 500 members: median {median * 1000:.0f} ms of 5")
    assert median < 3.0  # target well under 1 s; loose here for a loaded CI machine


def test_a_huge_template_lists_its_highest_risk_ads_and_says_so(
    db_path, tmp_path, client_for, monkeypatch
):
    from nigehbaan.review import campaign_views

    _load(db_path, tmp_path)
    monkeypatch.setattr(campaign_views, "MAX_MEMBER_ROWS", 3)
    html = client_for("ayesha").get("/campaigns/t-visa").text
    assert html.count('href="/ads/camp-') == 3 and 'href="/ads/camp-0?' in html
    assert "Showing the 3 highest-risk of 5 ads" in html and "Confirm all 5" in html
