"""Export of decisions as labelled ads in the corpus schema."""

from __future__ import annotations

import json

from nigehbaan.review.auth import User
from nigehbaan.review.decisions import decide
from nigehbaan.review.export import export_labelled
from nigehbaan.review.importer import import_rows
from nigehbaan.training.corpus.schema import validate_record

from .demo import scored_ad
from .test_decisions import post_decision

CORPUS_KEYS = {
    "id",
    "text",
    "lang",
    "platform",
    "risk",
    "indicators",
    "spans",
    "source",
    "family",
    "reviewed_by",
    "reviewed_at",
    "decision",
}


def _read(path):
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_export_over_http_decisions(client_for, conn, tmp_path):
    ayesha = client_for("ayesha")
    post_decision(
        ayesha,
        "demo-ur-1",
        "confirm",
        1,
        corrections="1",
        keep=[
            "gender_age_targeting",
            "free_visa_travel",
            "no_experience_required",
            "unrealistic_pay",
            "document_retention",
            "urgency_pressure",
        ],  # off_platform removed
        add=["unlicensed_overseas"],
    )
    post_decision(ayesha, "demo-en-3", "dismiss", 1)
    post_decision(ayesha, "demo-xss", "escalate", 1)
    out = tmp_path / "labelled.jsonl"
    summary = export_labelled(conn, out)
    assert (summary.confirmed, summary.dismissed, summary.left_out) == (1, 1, 8)
    rows = _read(out)
    assert set(rows) == {"demo-ur-1", "demo-en-3"}  # escalated and undecided ads are left out
    ur = rows["demo-ur-1"]
    assert set(ur) == CORPUS_KEYS
    assert (ur["risk"], ur["decision"], ur["source"], ur["reviewed_by"]) == (
        1,
        "confirmed",
        "review",
        "ayesha",
    )
    assert (ur["lang"], ur["platform"], ur["family"]) == ("ur", "facebook", "demo-ur-1")
    assert ur["indicators"] == [
        "gender_age_targeting",
        "free_visa_travel",
        "no_experience_required",
        "unrealistic_pay",
        "document_retention",
        "urgency_pressure",
        "unlicensed_overseas",
    ]
    assert "off_platform_contact" not in {s["indicator"] for s in ur["spans"]}
    assert len(ur["spans"]) == 7  # two for gender_age_targeting, one for each other kept indicator
    for span in ur["spans"]:
        assert ur["text"][span["start"] : span["end"]] == span["text"]
    en = rows["demo-en-3"]
    assert (en["risk"], en["decision"], en["indicators"], en["spans"]) == (0, "dismissed", [], [])


def test_reopened_ads_leave_the_export_and_redecided_ones_use_the_latest(conn, tmp_path):
    analyst, supervisor = User(1, "ayesha", "analyst"), User(3, "sara", "supervisor")
    decide(conn, analyst, "demo-en-1", "confirm", 1)
    decide(conn, supervisor, "demo-en-1", "reopen", 2)
    assert export_labelled(conn, tmp_path / "a.jsonl").confirmed == 0
    assert _read(tmp_path / "a.jsonl") == {}
    decide(conn, supervisor, "demo-en-1", "dismiss", 3)
    export_labelled(conn, tmp_path / "b.jsonl")
    row = _read(tmp_path / "b.jsonl")["demo-en-1"]
    assert (row["risk"], row["decision"], row["reviewed_by"]) == (0, "dismissed", "sara")


def test_evidence_with_bad_offsets_is_not_exported(conn, tmp_path):
    scored = json.loads(
        conn.execute("SELECT scored_json FROM ads WHERE id='demo-en-2'").fetchone()[0]
    )
    scored["indicators"][0]["evidence"].append({"start": 0, "end": 5, "text": "nope!"})
    conn.execute("UPDATE ads SET scored_json = ? WHERE id = 'demo-en-2'", (json.dumps(scored),))
    decide(conn, User(1, "ayesha", "analyst"), "demo-en-2", "confirm", 1)
    export_labelled(conn, tmp_path / "c.jsonl")
    spans = _read(tmp_path / "c.jsonl")["demo-en-2"]["spans"]
    assert [s["text"] for s in spans] == ["Send CV on WhatsApp"]


def test_every_exported_row_fits_the_corpus_schema(conn, tmp_path):
    import_rows(
        conn,
        [
            (
                1,
                scored_ad(
                    "olx-1",
                    "Maid needed, 12 saal ki larki",
                    0.8,
                    "high",
                    "ur-Latn",
                    {"minor_targeted": ["12 saal ki larki"]},
                    platform="olx",
                ),
            )
        ],
    )
    supervisor = User(3, "sara", "supervisor")
    for ad_id in ("olx-1", "demo-ur-1", "demo-en-3", "demo-err"):
        decide(conn, supervisor, ad_id, "confirm", 1)
    summary = export_labelled(conn, tmp_path / "d.jsonl")
    rows = _read(tmp_path / "d.jsonl")
    assert set(rows) == {"olx-1", "demo-ur-1", "demo-en-3"}
    assert all(validate_record(r) == [] for r in rows.values())
    assert (rows["olx-1"]["platform"], rows["olx-1"]["platform_raw"]) == ("other", "olx")
    assert "platform_raw" not in rows["demo-ur-1"]
    # The unscored ad has no text and no language: it cannot be a training example.
    assert list(summary.unfit) == ["demo-err"]
    assert "lang 'und' not in" in summary.unfit["demo-err"]
    assert "demo-err: " in summary.format()
