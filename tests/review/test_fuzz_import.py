"""Fuzz: hostile ads scored, then `nigehbaan review import`ed and opened in the review app (issue 15).

The files come from tests/test_fuzz.py's strategies (surrogates, NUL, huge tokens, wrong types,
broken JSON, ragged CSV). Every scored row must land in the database exactly once (an error
row in the unscored band, with its reason), the import must exit 0, and each ad's page must
open for an analyst, quickly, whatever the ad holds.
"""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from nigehbaan.review.auth import add_user
from nigehbaan.review.db import connect
from nigehbaan.review.labels import UNSCORED_BAND
from nigehbaan.review.web import ad_key

from nigehbaan.cli import main
from tests.test_fuzz import (
    FUZZ,
    TIME_BOUND_S,
    _score,
    check_scored,
    csv_file,
    jsonl_file,
    read_output,
)

from .conftest import PASSWORD, login, make_client

PAGE_BOUND_S = 5.0  # per page on a shared 2-core machine; the benchmark measures the real figure


def _import_and_open(tmp, src_name: str, data: bytes, expects, fmt: str) -> None:
    src = tmp / src_name
    src.write_bytes(data)
    reference = tmp / "scored.jsonl"
    rc = _score(src, reference)
    rows = read_output(reference)
    check_scored(rows, expects, rc)
    scored = reference if fmt == ".jsonl" else tmp / f"scored{fmt}"
    if scored != reference:
        assert _score(src, scored) == rc

    db = tmp / "review.db"
    start = time.process_time()
    assert main(["review", "import", str(scored), "--db", str(db)]) == 0
    assert time.process_time() - start < TIME_BOUND_S
    conn = connect(db)
    stored = {r["id"]: r for r in conn.execute("SELECT id, band, error, text FROM ads")}
    add_user(conn, "ayesha", "analyst", PASSWORD)
    conn.close()
    # Scored ids may repeat (the same text twice without an id): an upsert, one ad per id.
    assert set(stored) == {r["id"] for r in rows}
    last = {r["id"]: r for r in rows}
    for ad_id, row in last.items():
        ad = stored[ad_id]
        if row["error"]:
            assert ad["band"] == UNSCORED_BAND and ad["error"] == row["error"]
        else:
            assert ad["band"] == row["band"] and ad["text"] == row["text"]

    from nigehbaan.review.app import create_app

    client = make_client(create_app(str(db)))
    assert login(client, "ayesha").status_code == 303
    for ad_id in last:
        start = time.process_time()
        page = client.get(f"/ads/{ad_key(ad_id)}")
        assert time.process_time() - start < PAGE_BOUND_S
        assert page.status_code == 200, (ad_id, page.status_code)


@settings(max_examples=15, **FUZZ)
@given(f=jsonl_file(huge=True, max_rows=4), fmt=st.sampled_from([".jsonl", ".jsonl", ".csv", ".parquet"]))
def test_scored_jsonl_imports_every_row_and_every_page_opens(tmp_path_factory, f, fmt):
    _import_and_open(tmp_path_factory.mktemp("rj"), "ads.jsonl", *f, fmt)


@settings(max_examples=10, **FUZZ)
@given(f=csv_file(), fmt=st.sampled_from([".jsonl", ".csv", ".parquet"]))
def test_scored_csv_imports_every_row_and_every_page_opens(tmp_path_factory, f, fmt):
    _import_and_open(tmp_path_factory.mktemp("rc"), "ads.csv", *f, fmt)
