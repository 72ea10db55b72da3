"""Issue 15's workflow over HTTP: undo, marked passages, assignment, double review,
readable entities."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from nigehbaan.review.app import create_app
from nigehbaan.review.auth import User
from nigehbaan.review.decisions import NotAllowed, decide, in_sample, undo
from nigehbaan.review.export import labelled_rows
from nigehbaan.review.queue import Filters, resolve_id
from nigehbaan.review.settings import Settings

from .conftest import csrf_of, login, make_client, version_of


def post(client, path, **data):
    data = {"csrf_token": csrf_of(client), **data}
    return client.post(path, data=data, follow_redirects=False)


def decide_http(client, ad_id, action, version=1, **extra):
    return post(
        client, f"/decide/{quote(ad_id, safe='')}", action=action, version=str(version), **extra
    )


@pytest.fixture
def sampled_app(db_path):
    """Every decided ad is double-reviewed (fraction 1)."""
    return create_app(str(db_path), settings=Settings(double_review=1.0))


def clients(app, *names):
    out = []
    for name in names:
        c = make_client(app)
        assert login(c, name).status_code == 303
        out.append(c)
    return out


# 1. Undo ------------------------------------------------------------------------------------


def test_undo_puts_the_ad_back_and_is_a_row_of_its_own(client_for, conn):
    ayesha = client_for("ayesha")
    assert decide_http(ayesha, "demo-en-1", "confirm").status_code == 303
    page = ayesha.get("/queue").text
    assert 'action="/undo"' in page and "demo-en-1" in page
    decision = re.search(r'name="decision" value="(\d+)"', page).group(1)
    r = post(ayesha, "/undo", decision=decision)
    assert (r.status_code, r.headers["location"]) == (303, "/ads/demo-en-1")
    assert conn.execute("SELECT status FROM ads WHERE id='demo-en-1'").fetchone()[0] == "new"
    log = conn.execute("SELECT action, user_id FROM decisions ORDER BY id").fetchall()
    assert [r[0] for r in log] == ["confirm", "undo"]  # nothing deleted or changed
    assert 'action="/undo"' not in ayesha.get("/queue").text  # nothing left to undo
    # Back in the queue: it can be decided again.
    page = ayesha.get("/ads/demo-en-1").text
    assert 'id="decision"' in page
    assert decide_http(ayesha, "demo-en-1", "dismiss", version_of(page)).status_code == 303


def test_no_undo_of_someone_elses_decision_or_an_older_one(client_for, conn):
    ayesha, bilal = client_for("ayesha"), client_for("bilal")
    decide_http(ayesha, "demo-en-1", "confirm")
    first = conn.execute("SELECT MAX(id) FROM decisions").fetchone()[0]
    assert post(bilal, "/undo", decision=str(first)).status_code == 403
    decide_http(ayesha, "demo-en-2", "dismiss")
    assert post(ayesha, "/undo", decision=str(first)).status_code == 403  # not her last one
    assert conn.execute("SELECT status FROM ads WHERE id='demo-en-1'").fetchone()[0] == "confirmed"


def test_no_undo_after_the_window_or_after_a_supervisor_acted(conn):
    ayesha, sara = User(1, "ayesha", "analyst"), User(3, "sara", "supervisor")
    decide(conn, ayesha, "demo-en-1", "confirm", 1)
    later = datetime.now(timezone.utc) + timedelta(minutes=11)
    with pytest.raises(NotAllowed, match="last 10 minutes"):
        undo(conn, ayesha, 1, window_s=600, now=later)
    decide(conn, sara, "demo-en-1", "reopen", 2)
    with pytest.raises(NotAllowed):
        undo(conn, ayesha, 1, window_s=600)


# 2. Entities ---------------------------------------------------------------------------------


def test_entities_are_readable_lists_with_safe_links(client_for, conn):
    scored = json.loads(
        conn.execute("SELECT scored_json FROM ads WHERE id='demo-en-2'").fetchone()[0]
    )
    scored["entities"] = {
        "phones": ["+923001234567"],
        "whatsapp": ["+923001234567"],
        "emails": ["hr@example.com"],
        "urls": ["https://evil.example/x?a=1&b=<2>", "javascript:alert(1)"],
        "money": [
            {
                "amount": 1800.0,
                "currency": "AED",
                "period": "month",
                "pkr": 138600,
                "pkr_per_month": 138600,
                "start": 0,
                "end": 9,
                "text": "AED 1,800",
            }
        ],
        "locations": [{"name": "Abu Dhabi", "type": "foreign_city", "country": "AE", "text": "x"}],
        "ages": [{"min": 18, "max": 25, "text": "18-25"}],
        "licences": [{"number": "2641/ISB", "text": "Lic. No. 2641/ISB"}],
    }
    conn.execute("UPDATE ads SET scored_json = ? WHERE id='demo-en-2'", (json.dumps(scored),))
    page = client_for("ayesha").get("/ads/demo-en-2").text
    assert 'href="tel:+923001234567"' in page
    assert 'href="https://wa.me/923001234567"' in page
    assert 'href="mailto:hr@example.com"' in page
    assert (
        '<a class="elink" href="https://evil.example/x?a=1&amp;b=&lt;2&gt;" target="_blank" '
        'rel="noopener noreferrer nofollow">open</a>' in page
    )
    assert 'href="javascript:' not in page and "javascript:alert(1)" in page  # text only
    assert "AED 1,800 per month" in page and "PKR 138,600/month" in page
    assert "Abu Dhabi" in page and "foreign city, AE" in page
    assert "18–25 years" in page and "2641/ISB" in page
    assert '"pkr_per_month"' not in page  # no raw JSON any more


# 3. Marked passages -------------------------------------------------------------------------


def test_a_marked_passage_is_checked_and_exported_as_the_analysts_span(client_for, conn):
    ayesha = client_for("ayesha")
    text = conn.execute("SELECT text FROM ads WHERE id='demo-en-1'").fetchone()[0]
    start = text.index("original passport")
    good = {
        "indicator": "debt_bondage",
        "start": start,
        "end": start + 17,
        "text": "original passport",
    }
    bad = dict(good, text="something else")
    r = decide_http(ayesha, "demo-en-1", "confirm", add="debt_bondage", span=json.dumps(bad))
    assert r.status_code == 400 and "expected the text there" in r.text
    out = dict(good, end=len(text) + 5)
    r = decide_http(ayesha, "demo-en-1", "confirm", add="debt_bondage", span=json.dumps(out))
    assert r.status_code == 400 and "inside the ad text" in r.text
    not_added = dict(good, indicator="organ_trade")
    r = decide_http(ayesha, "demo-en-1", "confirm", add="debt_bondage", span=json.dumps(not_added))
    assert r.status_code == 400 and "keeps or adds" in r.text
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    r = decide_http(ayesha, "demo-en-1", "confirm", add="debt_bondage", span=json.dumps(good))
    assert r.status_code == 303
    row = next(r for r in labelled_rows(conn) if r["id"] == "demo-en-1")
    assert "debt_bondage" in row["indicators"]
    analyst = [s for s in row["spans"] if s["source"] == "analyst"]
    assert analyst == [good | {"source": "analyst"}]
    assert {s["source"] for s in row["spans"]} == {"model", "analyst"}


# 4. Assignment -----------------------------------------------------------------------------


def test_a_supervisor_assigns_a_filtered_set_and_the_analyst_sees_it_as_mine(client_for, conn):
    sara, ayesha, bilal = client_for("sara"), client_for("ayesha"), client_for("bilal")
    assert "Assign these" not in ayesha.get("/queue").text
    assert post(ayesha, "/assign", assignee="ayesha", ret="lang=en").status_code == 403
    r = post(sara, "/assign", assignee="ayesha", ret="lang=en")
    assert (r.status_code, r.headers["location"]) == (303, "/queue?lang=en")
    en = {r[0] for r in conn.execute("SELECT id FROM ads WHERE lang='en' AND status='new'")}
    assigned = {
        r[0]
        for r in conn.execute(
            "SELECT a.id FROM ads a JOIN users u ON u.id = a.assigned_to WHERE u.name='ayesha'"
        )
    }
    assert assigned == en and en
    mine = ayesha.get("/api/queue?view=mine").json()
    assert {a["id"] for a in mine["ads"]} == en
    assert bilal.get("/api/queue?view=mine").json()["ads"] == []
    assert '<td class="assignee">ayesha</td>' in bilal.get("/queue").text
    event = conn.execute("SELECT actor, kind, target, detail_json FROM events").fetchone()
    detail = json.loads(event["detail_json"])
    assert (event["actor"], event["kind"], event["target"]) == ("sara", "assign", "ayesha")
    assert detail["filters"] == {"lang": "en"} and set(detail["ads"]) == en
    assert post(sara, "/assign", assignee="nobody-here", ret="").status_code == 403


# 5. Double review ---------------------------------------------------------------------------


def test_in_sample_is_deterministic_and_near_the_fraction():
    ids = [f"ad-{i}" for i in range(4000)]
    picked = [i for i in ids if in_sample(i, 0.1)]
    assert picked == [i for i in ids if in_sample(i, 0.1)]
    assert 340 < len(picked) < 460
    assert not any(in_sample(i, 0.0) for i in ids) and all(in_sample(i, 1.0) for i in ids)


def test_a_sampled_ad_goes_to_a_second_analyst_blind_and_the_dashboard_shows_kappa(
    sampled_app, conn
):
    ayesha, bilal, sara = clients(sampled_app, "ayesha", "bilal", "sara")
    decide_http(ayesha, "demo-en-1", "confirm", note="ayesha's secret note")
    decide_http(ayesha, "demo-en-2", "dismiss")
    # Not for the first analyst; for the second, blind.
    assert ayesha.get("/api/queue?view=second").json()["ads"] == []
    assert {a["id"] for a in bilal.get("/api/queue?view=second").json()["ads"]} == {
        "demo-en-1",
        "demo-en-2",
    }
    page = bilal.get("/ads/demo-en-1?view=second").text
    assert 'name="second" value="1"' in page
    assert "secret note" not in page and "by <strong>ayesha</strong>" not in page
    assert (
        decide_http(bilal, "demo-en-1", "confirm", second="1", ret="view=second").status_code == 303
    )
    assert decide_http(bilal, "demo-en-2", "confirm", second="1").status_code == 303
    assert decide_http(bilal, "demo-en-2", "confirm", second="1").status_code == 403  # once
    # The first decision stands; the second is in the log as kind 'second'.
    assert conn.execute("SELECT status FROM ads WHERE id='demo-en-2'").fetchone()[0] == "dismissed"
    kinds = conn.execute("SELECT kind, COUNT(*) FROM decisions GROUP BY kind").fetchall()
    assert dict(kinds) == {"decision": 2, "second": 2}
    page = sara.get("/dashboard").text
    assert "Agreement" in page
    m = re.search(
        r'<tr class="kappa-risk"><td>risk label</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td><td class="num">([^<]+)</td>',
        page,
    )
    assert m is not None and m.groups()[:2] == ("2", "1")


def test_kappa_figures(conn):
    from nigehbaan.review.agreement import agreement

    ayesha, bilal = User(1, "ayesha", "analyst"), User(2, "bilal", "analyst")
    from nigehbaan.review.decisions import second_review

    pairs = [
        ("demo-en-1", "confirm", "confirm"),
        ("demo-en-2", "dismiss", "dismiss"),
        ("demo-en-3", "confirm", "dismiss"),
        ("demo-ur-1", "dismiss", "dismiss"),
    ]
    for ad_id, a, b in pairs:
        decide(conn, ayesha, ad_id, a, 1, double_review=1.0)
        second_review(conn, bilal, ad_id, b)
    risk = agreement(conn)[0]
    # sklearn: po = 3/4, pe = 2/4*1/4 + 2/4*3/4 = 0.5 -> kappa 0.5
    assert (risk.name, risk.n, risk.agree, risk.kappa) == ("risk label", 4, 3, pytest.approx(0.5))


# 6. Disabled users --------------------------------------------------------------------------


def test_a_disabled_user_cannot_log_in_and_their_sessions_end(app, client_for, db_path, capsys):
    from nigehbaan.cli import main

    ayesha = client_for("ayesha")
    assert ayesha.get("/queue", follow_redirects=False).status_code == 200
    assert main(["review", "user", "disable", "ayesha", "--db", str(db_path)]) == 0
    assert "disabled ayesha" in capsys.readouterr().err
    r = ayesha.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert login(make_client(app), "ayesha").status_code == 401
    assert "ayesha" not in client_for("sara").get("/queue").text.split('name="assignee"')[1]
    assert main(["review", "user", "enable", "ayesha", "--db", str(db_path)]) == 0
    assert login(make_client(app), "ayesha").status_code == 303
    assert main(["review", "user", "disable", "nobody", "--db", str(db_path)]) == 2
    assert "found 'nobody'" in capsys.readouterr().err
    from nigehbaan.review.db import connect

    conn = connect(db_path)
    kinds = [tuple(r) for r in conn.execute("SELECT kind, target FROM events ORDER BY id")]
    assert kinds == [("user_disable", "ayesha"), ("user_enable", "ayesha")]
    assert conn.execute("SELECT actor FROM events").fetchone()[0].startswith("cli:")
    conn.close()


# 7. Export from the web page ----------------------------------------------------------------


def test_supervisors_download_the_same_export_as_the_cli(client_for, db_path, conn, tmp_path):
    from nigehbaan.review.export import export_labelled

    ayesha, sara = client_for("ayesha"), client_for("sara")
    decide_http(ayesha, "demo-en-1", "confirm")
    decide_http(ayesha, "demo-en-2", "dismiss")
    assert post(ayesha, "/export").status_code == 403
    assert 'action="/export"' not in ayesha.get("/dashboard").text
    assert 'action="/export"' in sara.get("/dashboard").text
    r = post(sara, "/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="reviewed-')
    export_labelled(conn, tmp_path / "cli.jsonl")
    assert r.content == (tmp_path / "cli.jsonl").read_bytes()
    assert [json.loads(x)["id"] for x in r.text.splitlines()] == ["demo-en-1", "demo-en-2"]
    event = conn.execute("SELECT actor, kind, detail_json FROM events").fetchone()
    assert (event["actor"], event["kind"]) == ("sara", "export")
    assert json.loads(event["detail_json"]) == {"confirmed": 1, "dismissed": 1, "unfit": 0}


# 9. Cached dashboard images -----------------------------------------------------------------


def test_dashboard_images_are_redrawn_only_when_the_data_changes(client_for, monkeypatch):
    from nigehbaan.review import charts

    drawn = []
    real = charts.render_png
    monkeypatch.setattr(
        charts, "render_png", lambda conn, name: drawn.append(name) or real(conn, name)
    )
    sara = client_for("sara")
    first = sara.get("/dashboard/bands.png").content
    assert sara.get("/dashboard/bands.png").content == first
    assert drawn == ["bands"]  # the second visit was served from the cache
    decide_http(sara, "demo-en-1", "confirm")
    assert sara.get("/dashboard/bands.png").content != first
    assert drawn == ["bands", "bands"]


# 10. Search by id ---------------------------------------------------------------------------


def test_a_search_for_an_ad_id_uses_the_primary_key_not_a_text_scan(conn):
    from nigehbaan.review.queue import queue_page

    filters = resolve_id(conn, Filters(q="demo-en-2", status="all"))
    assert filters.id_hit
    where, args = filters.where()
    plan = " ".join(
        r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT a.id FROM ads a WHERE {where}", args)
    )
    assert "SCAN" not in plan and "sqlite_autoindex_ads_1" in plan
    assert [r["id"] for r in queue_page(conn, Filters(q="demo-en-2", status="all")).rows] == [
        "demo-en-2"
    ]
    # Anything else is still a text search (and a part of an id is not an id).
    assert not resolve_id(conn, Filters(q="demo-en")).id_hit
    assert queue_page(conn, Filters(q="passport", status="all")).total >= 1


def test_serve_refuses_a_double_review_share_outside_0_1(db_path, capsys):
    from nigehbaan.cli import main

    assert main(["review", "serve", "--db", str(db_path), "--double-review", "2"]) == 2
    assert "--double-review: expected a fraction 0..1, found 2.0" in capsys.readouterr().err
