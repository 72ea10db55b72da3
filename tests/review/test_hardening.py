"""Regression tests for the review app's hardening (issue 15, items 8-14): many evidence spans,
the append-only log, stale decisions after a changed re-import, the login limiter, what analysts
may see, bidi controls in every ad field, and ads whose ids are dot segments."""

from __future__ import annotations

import time

from nigehbaan.review.highlight import MAX_HIGHLIGHTED
from nigehbaan.review.importer import import_rows


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
