"""Deciding over HTTP: next-ad flow, corrections, roles, conflicts, the append-only log."""

from __future__ import annotations

import sqlite3

import pytest
from nigehbaan.review.auth import User
from nigehbaan.review.decisions import Conflict, NotAllowed, decide
from nigehbaan.review.web import ad_key

from .conftest import csrf_of, version_of


def post_decision(client, ad_id, action, version, **extra):
    data = {"action": action, "version": str(version), "csrf_token": csrf_of(client), **extra}
    return client.post(f"/decide/{ad_key(ad_id)}", data=data, follow_redirects=False)


def test_confirm_records_who_and_when_and_moves_to_the_next_ad(client_for, conn):
    client = client_for("ayesha")
    page = client.get("/ads/demo-ur-1")
    r = post_decision(client, "demo-ur-1", "confirm", version_of(page.text), note="clear case")
    # The next undecided ad in priority order: demo-rur-1 (debt bondage, restricted freedom)
    # before demo-en-1, whose risk is higher but whose indicators are less severe.
    assert (r.status_code, r.headers["location"]) == (303, "/ads/demo-rur-1")
    row = conn.execute(
        "SELECT a.status, a.version, d.action, d.note, d.at, u.name FROM ads a "
        "JOIN decisions d ON d.id = a.decision_id JOIN users u ON u.id = d.user_id "
        "WHERE a.id = 'demo-ur-1'"
    ).fetchone()
    assert row["status"] == "confirmed" and row["version"] == 2
    assert (row["action"], row["note"], row["name"]) == ("confirm", "clear case", "ayesha")
    assert row["at"].endswith("Z")
    page = client.get("/ads/demo-ur-1").text
    assert "confirm by <strong>ayesha</strong>" in page
    assert 'id="decision"' not in page  # decided: no form for an analyst any more


def test_filters_are_kept_when_moving_on(client_for):
    client = client_for("ayesha")
    r = post_decision(client, "demo-rur-1", "dismiss", 1, ret="lang=ur-Latn&band=high")
    assert r.headers["location"] == "/ads/demo-rur-2?band=high&lang=ur-Latn"
    r = post_decision(client, "demo-rur-2", "dismiss", 1, ret="lang=ur-Latn&band=high")
    assert r.headers["location"] == "/queue?band=high&lang=ur-Latn"  # nothing left


def test_per_indicator_corrections_are_stored(client_for, conn):
    client = client_for("ayesha")
    r = post_decision(
        client,
        "demo-rur-1",
        "confirm",
        1,
        corrections="1",
        keep=["no_experience_required", "debt_bondage", "restricted_freedom"],  # drop off_platform
        add=["unlicensed_overseas", "not_an_indicator"],
    )
    assert r.status_code == 303
    d = conn.execute("SELECT removed_json, added_json FROM decisions").fetchone()
    assert (d["removed_json"], d["added_json"]) == (
        '["off_platform_contact"]',
        '["unlicensed_overseas"]',
    )


def test_second_analyst_is_told_of_the_conflict_and_nothing_is_overwritten(client_for, conn):
    ayesha, bilal = client_for("ayesha"), client_for("bilal")
    # Both open the same ad; each form carries version 1.
    v_ayesha = version_of(ayesha.get("/ads/demo-en-1").text)
    v_bilal = version_of(bilal.get("/ads/demo-en-1").text)
    assert v_ayesha == v_bilal == 1
    assert post_decision(ayesha, "demo-en-1", "confirm", v_ayesha, note="mine").status_code == 303
    r = post_decision(bilal, "demo-en-1", "dismiss", v_bilal, note="bilal's reasoning")
    assert r.status_code == 409
    assert "Someone else changed this ad first" in r.text
    assert "was <strong>not saved</strong>" in r.text
    # Analysts see only their own decisions: not who decided first, nor their note.
    assert "decided by another analyst" in r.text and "ayesha" not in r.text
    assert "bilal&#39;s reasoning" in r.text  # his note is shown back so he can copy it
    rows = conn.execute("SELECT action, note FROM decisions WHERE ad_id='demo-en-1'").fetchall()
    assert [tuple(r) for r in rows] == [("confirm", "mine")]
    assert conn.execute("SELECT status FROM ads WHERE id='demo-en-1'").fetchone()[0] == "confirmed"


def test_a_rescore_after_the_form_was_rendered_is_a_conflict(conn):
    conn.execute(
        "UPDATE ads SET version = version + 1 WHERE id = 'demo-en-2'"
    )  # what a re-import does
    with pytest.raises(Conflict) as info:
        decide(conn, User(1, "ayesha", "analyst"), "demo-en-2", "confirm", 1)
    assert info.value.current["version"] == 2
    assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_escalated_ads_wait_for_a_supervisor(client_for, conn):
    ayesha, bilal, sara = client_for("ayesha"), client_for("bilal"), client_for("sara")
    assert post_decision(ayesha, "demo-xss", "escalate", 1, note="not sure").status_code == 303
    page = bilal.get("/ads/demo-xss").text
    assert "waiting for a supervisor" in page and 'id="decision"' not in page
    assert post_decision(bilal, "demo-xss", "dismiss", 2).status_code == 403
    assert 'id="decision"' in sara.get("/ads/demo-xss").text
    assert post_decision(sara, "demo-xss", "confirm", 2).status_code == 303
    assert conn.execute("SELECT status FROM ads WHERE id='demo-xss'").fetchone()[0] == "confirmed"


def test_only_supervisors_reopen(client_for, conn):
    ayesha, sara = client_for("ayesha"), client_for("sara")
    post_decision(ayesha, "demo-en-2", "dismiss", 1)
    assert ">Reopen<" not in ayesha.get("/ads/demo-en-2").text
    assert post_decision(ayesha, "demo-en-2", "reopen", 2).status_code == 403
    assert ">Reopen<" in sara.get("/ads/demo-en-2?status=all").text
    r = post_decision(sara, "demo-en-2", "reopen", 2, ret="status=all")
    assert (r.status_code, r.headers["location"]) == (303, "/ads/demo-en-2?status=all")
    assert conn.execute("SELECT status, version FROM ads WHERE id='demo-en-2'").fetchone()[:] == (
        "new",
        3,
    )
    assert post_decision(ayesha, "demo-en-2", "confirm", 3).status_code == 303
    log = conn.execute(
        "SELECT action FROM decisions WHERE ad_id='demo-en-2' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in log] == ["dismiss", "reopen", "confirm"]


def test_unknown_ad_and_action(client_for):
    client = client_for("sara")
    assert post_decision(client, "no-such-ad", "confirm", 1).status_code == 404
    assert post_decision(client, "demo-en-1", "delete", 1).status_code == 403
    assert client.get("/ads/no-such-ad").status_code == 404


def test_the_decision_log_is_append_only(client_for, conn):
    client = client_for("ayesha")
    post_decision(client, "demo-en-1", "confirm", 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE decisions SET action = 'dismiss'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM decisions")


def test_library_refuses_decided_ads_for_analysts(conn):
    analyst = User(1, "ayesha", "analyst")
    decide(conn, analyst, "demo-en-1", "dismiss", 1)
    with pytest.raises(NotAllowed):
        decide(conn, analyst, "demo-en-1", "confirm", 2)
