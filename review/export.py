"""Write analysts' decisions as labelled ads in the corpus schema, ready for `nigehbaan train`.

Confirmed ads become risk 1 and dismissed ads risk 0. Escalated and undecided ads are left
out: nobody has settled them yet, and so are ads whose text or scores changed on a re-import
after their decision (the importer sends them back to the queue). Indicators are the model's
with the analyst's corrections applied; spans are the model's evidence for the indicators that were kept (`source: model`)
and the passages the analyst marked in the ad text (`source: analyst`).

Every row is checked with the corpus validator (`training.schema`). A platform outside the
corpus list becomes `other` (the original is kept as `platform_raw`); an ad that still does
not fit, such as one whose language the scorer could not determine, is left out and counted.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from nigehbaan.inference.labels import INDICATORS, PLATFORMS
from nigehbaan.review.scored import corrected_indicators, valid_evidence
from nigehbaan.training.corpus.schema import validate_record


@dataclass
class ExportSummary:
    """Counts of what was written and what was left out."""

    confirmed: int = 0
    dismissed: int = 0
    left_out: int = 0
    unfit: dict[str, str] = field(default_factory=dict)  # ad id -> why it is not in the file

    def format(self) -> str:
        """One line for the terminal (plus one per ad that did not fit the corpus schema)."""
        line = (
            f"wrote {self.confirmed + self.dismissed} labelled ads ({self.confirmed} confirmed "
            f"-> risk 1, {self.dismissed} dismissed -> risk 0); {self.left_out} escalated or "
            f"undecided ads left out"
        )
        if self.unfit:
            line += (
                f"; {len(self.unfit)} decided ads do not fit the corpus schema and were left out:"
            )
            line += "".join(f"\n  {ad_id}: {why}" for ad_id, why in sorted(self.unfit.items()))
        return line


def labelled_rows(conn: sqlite3.Connection):
    """Yield one corpus-schema dict per confirmed or dismissed ad, ordered by id (not yet
    validated: see `write_labelled`)."""
    rows = conn.execute(
        "SELECT a.id, a.text, a.lang, a.platform, a.status, a.scored_json, d.at, d.removed_json, "
        "d.added_json, d.spans_json, u.name FROM ads a JOIN decisions d ON d.id = a.decision_id "
        "JOIN users u ON u.id = d.user_id "
        "WHERE a.status IN ('confirmed', 'dismissed') "
        # Never a decision made before the text or scores last changed (see importer).
        "AND NOT EXISTS (SELECT 1 FROM reimports r WHERE r.ad_id = a.id "
        "AND r.to_version > d.from_version) ORDER BY a.id"
    )
    for r in rows:
        scored = json.loads(r["scored_json"])
        removed = set(json.loads(r["removed_json"]))
        indicators = [
            i
            for i in corrected_indicators(scored, removed, json.loads(r["added_json"]))
            if i in INDICATORS  # an id this version does not know cannot be trained on
        ]
        spans = [
            {"indicator": ind["id"], **ev, "source": "model"}
            for ind in scored.get("indicators") or []
            if ind.get("id") in indicators
            for ev in valid_evidence(r["text"], ind.get("evidence"))
        ] + [
            {**span, "source": "analyst"}
            for span in json.loads(r["spans_json"] or "[]")
            if span.get("indicator") in indicators
            and valid_evidence(r["text"], [span])  # checked when marked; the text may change
        ]
        platform = r["platform"] if r["platform"] in PLATFORMS else "other"
        yield {
            "id": r["id"],
            "text": r["text"],
            "lang": r["lang"],
            "platform": platform,
            "risk": 1 if r["status"] == "confirmed" else 0,
            "indicators": indicators,
            "spans": spans,
            "source": "review",
            "family": r["id"],
            "reviewed_by": r["name"],
            "reviewed_at": r["at"],
            "decision": r["status"],
            **({"platform_raw": r["platform"]} if platform != r["platform"] else {}),
        }


def export_labelled(conn: sqlite3.Connection, out: str | Path) -> ExportSummary:
    """Write the labelled ads to `out` (JSONL; `-` for stdout).

    The file is written beside its destination and renamed into place, so a half-written
    export never passes for a finished one.
    """
    if str(out) == "-":
        return write_labelled(conn, sys.stdout)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            summary = write_labelled(conn, fh)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return summary


def write_labelled(conn: sqlite3.Connection, fh: TextIO) -> ExportSummary:
    """Write the labelled ads that fit the corpus schema to an open text file."""
    summary = ExportSummary()
    for row in labelled_rows(conn):
        problems = validate_record(row)
        if problems:
            summary.unfit[row["id"]] = "; ".join(problems)
            continue
        if row["risk"]:
            summary.confirmed += 1
        else:
            summary.dismissed += 1
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary.left_out = conn.execute(
        "SELECT COUNT(*) FROM ads WHERE status NOT IN ('confirmed', 'dismissed')"
    ).fetchone()[0]
    return summary
