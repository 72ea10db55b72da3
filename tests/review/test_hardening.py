"""Regression tests for the review app's hardening (issue 15, items 8-14): many evidence spans,
the append-only log, stale decisions after a changed re-import, the login limiter, what analysts
may see, bidi controls in every ad field, and ads whose ids are dot segments."""

from __future__ import annotations

import copy
import html
import json
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from nigehbaan.review.auth import LoginLimiter, User
from nigehbaan.review.decisions import decide
from nigehbaan.review.export import export_labelled
from nigehbaan.review.highlight import MAX_HIGHLIGHTED
from nigehbaan.review.importer import import_file, import_rows
from nigehbaan.review.web import ad_key

from .conftest import PASSWORD, csrf_of, login, make_client, write_jsonl
from .demo import DEMO_ADS
from .test_decisions import post_decision


def test_an_ad_with_19000_evidence_spans_renders_quickly(conn, client_for):
    text = "free visa " * 19000
    evidence = [{"start": i, "end": i + 9, "text": "free visa"} for i in range(0, len(text), 10)]
    row = {
        "id": "many-spans",
        "text": text,
        "risk": 0.99,
        "band": "high",
        "lang": "en",
        "indicators": [
            {"id": "free_visa_travel", "score": 0.9, "evidence": evidence},
            {"id": "upfront_fee", "score": 0.9, "evidence": evidence[::3]},
        ],
    }
    import_rows(conn, [(1, row)])
    client = client_for("ayesha")
    start = time.perf_counter()
    html = client.get("/ads/many-spans").text
    seconds = time.perf_counter() - start
    assert seconds < 5, f"the page took {seconds:.1f} s"  # took 90-106 s before the sweep
    assert html.count('<mark class="ev') >= 1000
    assert html.count('<mark class="ev') <= MAX_HIGHLIGHTED
    total = f"{len(evidence) + len(evidence[::3]):,}"
    assert f"This ad has {total} evidence items; only the first 2,000 in the text" in html


@pytest.mark.parametrize(
    "sql",
    [
        "REPLACE INTO decisions (id, ad_id, user_id, action, from_version, note, at) "
        "VALUES (1, 'demo-en-1', 1, 'dismiss', 1, 'rewritten', '2020-01-01T00:00:00Z')",
        "INSERT OR REPLACE INTO decisions (id, ad_id, user_id, action, from_version, at) "
        "VALUES (1, 'demo-en-1', 2, 'dismiss', 1, '2020-01-01T00:00:00Z')",
        "INSERT INTO decisions (id, ad_id, user_id, action, from_version, at) "
        "VALUES (1, 'demo-en-1', 2, 'dismiss', 1, 'x') ON CONFLICT(id) DO UPDATE SET note = 'x'",
        "UPDATE decisions SET action = 'dismiss' WHERE id = 1",
        "UPDATE OR REPLACE decisions SET id = 2 WHERE id = 1",
        "DELETE FROM decisions WHERE id = 1",
    ],
)
def test_the_decision_log_refuses_rewrites_from_a_raw_connection(conn, db_path, sql):
    decide(conn, User(1, "ayesha", "analyst"), "demo-en-1", "confirm", 1, note="mine")
    raw = sqlite3.connect(db_path)  # no pragmas: what anyone with the file could open
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(sql)
        raw.rollback()
        rows = raw.execute("SELECT id, action, user_id, note FROM decisions").fetchall()
    finally:
        raw.close()
    assert rows == [(1, "confirm", 1, "mine")]


def test_the_event_log_refuses_replace(conn, db_path):
    conn.execute("INSERT INTO events (at, actor, kind) VALUES ('t', 'sara', 'assign')")
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("REPLACE INTO events (id, at, actor, kind) VALUES (1, 't', 'x', 'y')")
    finally:
        raw.close()


def test_a_changed_reimport_never_pairs_new_text_with_an_old_decision(conn, client_for, tmp_path):
    decide(conn, User(1, "ayesha", "analyst"), "demo-en-1", "dismiss", 1, note="looks fine")
    changed = copy.deepcopy(DEMO_ADS)
    changed[1]["text"] = "Free visa, pay Rs 200,000 fee now, girls only, no questions asked."
    changed[1]["indicators"] = []
    changed[1]["risk"], changed[1]["band"] = 0.97, "high"
    import_file(conn, write_jsonl(tmp_path / "changed.jsonl", changed))

    # Export: the ad is not there with the old label (not at all until someone decides again).
    summary = export_labelled(conn, tmp_path / "out.jsonl")
    assert "demo-en-1" not in (tmp_path / "out.jsonl").read_text(encoding="utf-8")
    assert summary.dismissed == 0

    # Queue and page: undecided again; the old decision is still in the log, marked stale.
    client = client_for("ayesha")
    assert "/ads/demo-en-1" in client.get("/queue").text
    html = client.get("/ads/demo-en-1").text
    assert "Not decided yet." in html
    assert html.count('<li class="stale">') == 1 and "looks fine" in html

    # Decided again on the new text: exported with the new text and the new decision.
    version = conn.execute("SELECT version FROM ads WHERE id = 'demo-en-1'").fetchone()[0]
    decide(conn, User(2, "bilal", "analyst"), "demo-en-1", "confirm", version)
    export_labelled(conn, tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    (row,) = [r for r in rows if r["id"] == "demo-en-1"]
    assert (row["text"], row["decision"], row["reviewed_by"]) == (
        changed[1]["text"],
        "confirmed",
        "bilal",
    )


def test_export_skips_a_decision_older_than_the_last_change_even_if_the_ad_says_decided(
    conn, tmp_path
):
    """Defence in depth: a decided ad whose decision predates a logged change is left out."""
    decide(conn, User(1, "ayesha", "analyst"), "demo-en-1", "confirm", 1)
    conn.execute(
        "INSERT INTO reimports (ad_id, from_version, to_version, status_before, changed, at) "
        "VALUES ('demo-en-1', 2, 3, 'confirmed', 'text', 't')"
    )
    export_labelled(conn, tmp_path / "out.jsonl")
    assert "demo-en-1" not in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


class _SlowCountingHasher:
    """Wraps the test hasher: each verify takes 0.2 s; counts calls and the most at once."""

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.running, self.most = inner, 0, 0, 0
        self.lock = threading.Lock()

    def verify(self, digest, password):
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.2)
            return self.inner.verify(digest, password)
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password):
        return self.inner.hash(password)


def test_thirty_simultaneous_guesses_check_at_most_five_passwords(app, monkeypatch):
    import nigehbaan.review.auth as auth

    hasher = _SlowCountingHasher(auth._hasher)
    monkeypatch.setattr(auth, "_hasher", hasher)
    clients = [make_client(app) for _ in range(30)]
    for c in clients:
        c.get("/login")  # the login form's token cookie, fetched before the burst
    barrier = threading.Barrier(30)

    def guess(client):
        barrier.wait()
        return login(client, "bilal", "guess guess guess").status_code

    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(guess, clients))
    assert hasher.calls <= 5, f"{hasher.calls} passwords checked"
    assert hasher.most <= auth.MAX_CONCURRENT_CHECKS
    assert codes.count(401) == hasher.calls and codes.count(429) == 30 - hasher.calls


def test_one_users_failures_on_a_shared_address_do_not_lock_out_others(app):
    client = make_client(app)  # every TestClient request comes from the same address
    for _ in range(5):
        assert login(client, "bilal", "guess guess guess").status_code == 401
    assert login(client, "bilal", PASSWORD).status_code == 429
    assert login(make_client(app), "ayesha", PASSWORD).status_code == 303


def test_a_name_is_limited_across_addresses_and_a_success_clears_only_its_address():
    limiter = LoginLimiter(max_failures=2, max_user_failures=3)
    assert limiter.reserve("10.0.0.1", "Bilal") and limiter.reserve("10.0.0.1", "bilal ")
    assert limiter.reserve("10.0.0.1", "bilal") is None  # this address used up its two
    ok = limiter.reserve("10.0.0.2", "bilal")
    assert ok is not None
    assert limiter.reserve("10.0.0.3", "bilal") is None  # three for the name, any address
    limiter.succeeded(ok)
    assert limiter.reserve("10.0.0.3", "bilal") is not None  # the success's attempt is off
    assert limiter.reserve("10.0.0.1", "ayesha") is not None  # other names are untouched


def test_analysts_see_only_their_own_decisions_and_notes_on_the_ad_and_conflict_pages(
    client_for,
):
    ayesha, bilal, sara = client_for("ayesha"), client_for("bilal"), client_for("sara")
    assert post_decision(ayesha, "demo-en-1", "confirm", 1, note="private note").status_code == 303

    page = bilal.get("/ads/demo-en-1").text
    assert "private note" not in page and "ayesha" not in page
    assert "by another analyst" in page
    conflict = post_decision(bilal, "demo-en-1", "dismiss", 1, note="mine")
    assert conflict.status_code == 409
    assert "private note" not in conflict.text and "ayesha" not in conflict.text
    assert "decided by another analyst" in conflict.text

    own = ayesha.get("/ads/demo-en-1").text
    assert "private note" in own and "<strong>ayesha</strong>" in own
    assert "private note" in sara.get("/ads/demo-en-1").text
    supervisor_conflict = post_decision(sara, "demo-en-1", "dismiss", 1)
    assert supervisor_conflict.status_code == 409
    assert "private note" in supervisor_conflict.text and "ayesha" in supervisor_conflict.text


RLO, LRI, PDI, RLM = "\u202e", "\u2066", "\u2069", "\u200f"
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x61C)]


def test_bidi_controls_in_every_ad_field_are_shown_not_obeyed(conn, client_for):
    spoof_id = f"ad-{RLO}kp.vog"
    row = {
        "id": spoof_id,
        "text": f"Jobs abroad{RLM} call now",
        "risk": 0.99,
        "band": "high",
        "lang": "en",
        "platform": f"face{LRI}koob{PDI}",
        "url": f"https://{RLO}kp.vog.ecnanif\u061c",
        "entities": {"phones": [f"+92300{RLO}1234567"], "emails": [f"a{RLM}@b.pk"]},
        "indicators": [],
    }
    import_rows(conn, [(1, row)])
    client = client_for("sara")
    page = client.get("/ads/" + ad_key(spoof_id)).text
    assert post_decision(client, spoof_id, "escalate", 1, note=f"see {RLO}lmth.xedni").status_code
    pages = {
        "ad": page,
        "queue": client.get("/queue?status=all").text,
        "decisions": client.get("/decisions").text,
        "contact": client.get("/contact", params={"value": f"+92300{RLO}1234567"}).text,
        "ad after the decision": client.get("/ads/" + ad_key(spoof_id)).text,
    }
    for name, body in pages.items():
        found = sorted({f"U+{ord(c):04X}" for c in body if c in BIDI})
        assert not found, f"{name} page carries raw bidi controls {found}"
    assert "https://[U+202E]kp.vog.ecnanif[U+061C]" in page
    assert "<bdi>face[U+2066]koob[U+2069]</bdi>" in page
    assert "ad-[U+202E]kp.vog" in pages["decisions"] and "[U+202E]lmth.xedni" in pages["decisions"]
    assert "+92300[U+202E]1234567" in pages["contact"]
    assert 'title="RIGHT-TO-LEFT MARK">[U+200F]</span>' in page  # in the ad text


@pytest.mark.parametrize("ad_id", [".", "..", "a/b", "%2e", "../queue", "اشتہار ۱٫۲", "x?y#z"])
def test_any_ad_id_opens_and_can_be_decided(conn, client_for, ad_id):
    import_rows(conn, [(1, {"id": ad_id, "text": "free visa", "risk": 0.999, "band": "high"})])
    key = ad_key(ad_id)
    assert re.fullmatch(r"[A-Za-z0-9_~-]+", key)  # no dot, slash or % for anyone to decode
    client = client_for("ayesha")
    assert f'data-href="/ads/{key}' in client.get("/queue").text  # the link the queue prints
    page = client.get(f"/ads/{key}")
    assert page.status_code == 200 and page.url.raw_path.decode() == f"/ads/{key}"
    assert f'<bdi class="mono">{html.escape(ad_id)}</bdi>' in page.text
    action = re.search(r'<form method="post" action="([^"]+)" class="decision"', page.text)[1]
    r = client.post(
        action,
        data={"action": "confirm", "version": "1", "csrf_token": csrf_of(client, f"/ads/{key}")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    status = conn.execute("SELECT status FROM ads WHERE id = ?", (ad_id,)).fetchone()[0]
    assert status == "confirmed"
    assert client.get(f"/api/ads/{key}").json()["status"] == "confirmed"
