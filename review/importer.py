"""Load `nigehbaan score` output into the review database.

Re-importing is an upsert keyed on the ad id: an unchanged row is left alone, a changed
(re-scored) row replaces the stored score and bumps the ad's version. When the text or the
scores of an ad that has decisions change, those decisions were made on something else: the
change is logged in `reimports` (which marks every earlier decision on the ad stale; the
decisions themselves stay in the audit log) and the ad goes back to the queue undecided, so no
export pairs the new text with the old label.

Rows from `nigehbaan cluster` carry `template_id` and `network_id`: they are stored on the ad
(a re-import without them keeps the ad's campaign). The `--clusters` summary file is imported
by `campaigns.import_summaries`.

Rows the scorer could not score (`error` set) are imported in the `unscored` band so an
analyst can still see them; they sort after every scored ad. An error row without an id (the
input had neither an id nor a text to derive one from) is skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io import decode_cells, format_of, readers
from nigehbaan.inference.schema import SCORED_COLUMNS, ValidationError, describe, validate_scored
from nigehbaan.review.db import transaction, utcnow
from nigehbaan.review.labels import BANDS, INDICATORS, UNSCORED_BAND
from nigehbaan.review.scored import entity_values, model_indicator_ids, row_priority

log = logging.getLogger(__name__)

BATCH = 2000  # rows per write transaction: short enough that the web app's writes get through
# What a decision is about: a change of any of these makes earlier decisions stale. (A new model
# name or a changed pass-through field such as `url` alone does not.)
DECIDED_ON = ("text", "risk", "band", "lang", "indicators", "error")


@dataclass
class ImportSummary:
    """What an import did."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    reopened: int = 0
    unscored: int = 0
    skipped: int = 0
    unknown_indicators: set[str] = field(default_factory=set)

    def format(self) -> str:
        """One line for the terminal."""
        line = (
            f"read {self.read} rows: {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged; {self.unscored} carry a scoring error (imported "
            f"in the '{UNSCORED_BAND}' band)"
        )
        if self.reopened:
            line += (
                f"; {self.reopened} decided ads changed text or scores: their decisions are "
                f"marked stale and the ads are back in the queue"
            )
        if self.skipped:
            line += f"; {self.skipped} error rows without an id skipped"
        if self.unknown_indicators:
            line += (
                f"; unknown indicator ids kept as-is: {', '.join(sorted(self.unknown_indicators))}"
            )
        return line


def read_scored(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, row) from a scored file in any format `nigehbaan score` writes
    (.jsonl, .jsonl.gz, .jsonl.zst, .csv, .parquet; read by nigehbaan.inference.io).

    In CSV and Parquet the nested fields (indicators, entities, model) are JSON strings and
    are parsed back; a line that is not a JSON object stops the import, naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"scored file not found: expected the output of `nigehbaan score`, found nothing "
            f"at {path}. Fix: check the path."
        )
    try:
        fmt = "jsonl" if path.suffix.lower() == ".json" else format_of(str(path))
    except UsageError as exc:
        raise UsageError(
            f"{path}: expected a .jsonl, .csv or .parquet file (or .jsonl.gz, .jsonl.zst), "
            f"found '{path.suffix or 'no suffix'}'. "
            f"Fix: write the scores with `nigehbaan score INPUT -o scored.jsonl`."
        ) from exc
    for row in readers[fmt](str(path), require=()):
        if row.error is not None:
            raise UsageError(
                f"{path}:{row.line}: expected one JSON object per line, found {row.error}. "
                f"Fix: re-create the file with `nigehbaan score`; rows before line {row.line} "
                f"were imported and re-importing will not duplicate them."
            )
        if fmt in ("csv", "parquet"):
            try:
                yield row.n, decode_cells(row.record, SCORED_COLUMNS)
            except ValueError as exc:
                raise UsageError(f"{path} row {row.n}: expected a scored row, {exc}.") from exc
        else:
            yield row.line, row.record


def _record(n: int, row: dict[str, Any], summary: ImportSummary) -> tuple | None:
    """Validate one scored row and return its `ads` column values, in the column order of the
    INSERT in `_write` (id first, content hash last); None for a row to skip."""
    where = f"row {n}"
    error = row.get("error") or None
    text = row.get("text")
    if error and not isinstance(text, str):
        # The scorer reports a missing or non-string text as an error row; keep what it had.
        row = {**row, "text": "" if text is None else json.dumps(text, ensure_ascii=False)}
    if error and row.get("id") in (None, ""):
        summary.skipped += 1  # an error row with no id cannot be matched on re-import
        return None
    if row.get("id") in (None, "") or not isinstance(row.get("text"), str):
        raise UsageError(
            f"{where}: expected the scored-ad fields 'id' and 'text', found keys "
            f"{sorted(row)[:12]}. Fix: import the output of `nigehbaan score`, not the raw ads."
        )
    band = row.get("band")
    risk = row.get("risk")
    if error:
        summary.unscored += 1
        band, risk = UNSCORED_BAND, None
    elif band not in BANDS or not isinstance(risk, int | float) or not 0 <= risk <= 1:
        raise UsageError(
            f"{where} (id {row['id']}): expected risk in 0..1 and band in {list(BANDS)}, found "
            f"risk={risk!r}, band={band!r}. Fix: re-score the file with `nigehbaan score`."
        )
    indicators = row.get("indicators") or []
    if not isinstance(indicators, list) or not all(isinstance(i, dict) for i in indicators):
        raise UsageError(
            f"{where} (id {row['id']}): expected 'indicators' to be a list of objects "
            f'{{"id", "score", "evidence"}}, found {str(indicators)[:60]!r}. Fix: re-score the file.'
        )
    if not error:
        try:
            validate_scored(row)
        except ValidationError as exc:
            raise UsageError(
                f"{where} (id {row['id']}): not a scored ad as docs/scored-ad.schema.json "
                f"describes it: {describe(exc)}. Fix: re-score the file with `nigehbaan score`."
            ) from exc
    for ind in indicators:
        if ind.get("id") not in INDICATORS:
            summary.unknown_indicators.add(str(ind.get("id")))
    model = row.get("model") if isinstance(row.get("model"), dict) else {}
    campaign = []
    for key in ("template_id", "network_id"):
        value = row.get(key)
        if value not in (None, "") and not isinstance(value, str):
            raise UsageError(
                f"{where} (id {row['id']}): expected {key!r} to be a string (as `nigehbaan "
                f"cluster` writes it), found {str(value)[:40]!r}. Fix: re-run `nigehbaan cluster`."
            )
        campaign.append(value[:200] if value else None)
    canonical = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return (
        str(row["id"]),
        row["text"],
        None if risk is None else float(risk),
        -1.0 if risk is None else float(risk),
        row_priority(row, None if risk is None else float(risk)),
        band,
        str(row.get("lang") or "und"),
        str(row.get("platform") or ""),
        f" {' '.join(model_indicator_ids(row))} ",
        " ".join(str(model.get(k, "")) for k in ("name", "version")).strip(),
        error,
        *campaign,
        canonical,
        hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def _mark_stale(conn: sqlite3.Connection, ad_id: str, scored_json: str, now: str) -> bool:
    """Before a changed row replaces ad `ad_id`: if the ad has decisions and its text or scores
    differ, log the change (making those decisions stale) and send the ad back to the queue.
    True when it did."""
    old = conn.execute(
        "SELECT status, version, scored_json FROM ads a WHERE id = ? "
        "AND EXISTS (SELECT 1 FROM decisions d WHERE d.ad_id = a.id)",
        (ad_id,),
    ).fetchone()
    if old is None:
        return False
    before, after = json.loads(old["scored_json"]), json.loads(scored_json)
    changed = [k for k in DECIDED_ON if before.get(k) != after.get(k)]
    if not changed:
        return False
    conn.execute(
        "INSERT INTO reimports (ad_id, from_version, to_version, status_before, changed, at) "
        "VALUES (?,?,?,?,?,?)",
        (ad_id, old["version"], old["version"] + 1, old["status"], " ".join(changed), now),
    )
    conn.execute("UPDATE ads SET status = 'new', decision_id = NULL WHERE id = ?", (ad_id,))
    return True


def _write(conn: sqlite3.Connection, batch: list[tuple[tuple, dict]], s: ImportSummary) -> None:
    ids = list({rec[0] for rec, _ in batch})
    marks = ",".join("?" * len(ids))
    with transaction(conn):
        known = dict(
            conn.execute(f"SELECT id, content_hash FROM ads WHERE id IN ({marks})", ids).fetchall()
        )
        now = utcnow()
        for rec, row in batch:
            ad_id, digest = rec[0], rec[-1]
            if known.get(ad_id) == digest:
                s.unchanged += 1
                continue
            if ad_id in known:
                s.reopened += _mark_stale(conn, ad_id, rec[-2], now)
                conn.execute(
                    "UPDATE ads SET text=?, risk=?, rank=?, priority=?, band=?, lang=?, platform=?, "
                    "indicators=?, model_version=?, error=?, "
                    # A re-scored file without cluster columns keeps the ad in its campaign.
                    "template_id=COALESCE(?, template_id), network_id=COALESCE(?, network_id), "
                    "scored_json=?, content_hash=?, "
                    "version=version+1, imported_at=? WHERE id=?",
                    (*rec[1:], now, ad_id),
                )
                conn.execute("DELETE FROM ad_entities WHERE ad_id=?", (ad_id,))
                s.updated += 1
            else:
                conn.execute(
                    "INSERT INTO ads (id, text, risk, rank, priority, band, lang, platform, "
                    "indicators, model_version, error, template_id, network_id, scored_json, "
                    "content_hash, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*rec, now),
                )
                s.inserted += 1
            known[ad_id] = digest
            conn.executemany(
                "INSERT OR IGNORE INTO ad_entities (kind, value, ad_id) VALUES (?,?,?)",
                [(k, v, ad_id) for k, v in entity_values(row.get("entities"))],
            )


def import_rows(
    conn: sqlite3.Connection, rows: Iterable[tuple[int, dict[str, Any]]]
) -> ImportSummary:
    """Upsert numbered scored rows into the database; see the module docstring for the rules."""
    summary = ImportSummary()
    batch: list[tuple[tuple, dict]] = []
    for n, row in rows:
        summary.read += 1
        record = _record(n, row, summary)
        if record is not None:
            batch.append((record, row))
        if len(batch) >= BATCH:
            _write(conn, batch, summary)
            batch = []
    if batch:
        _write(conn, batch, summary)
    if summary.unknown_indicators:
        log.warning("unknown indicator ids: %s", ", ".join(sorted(summary.unknown_indicators)))
    return summary


def import_file(conn: sqlite3.Connection, path: str | Path) -> ImportSummary:
    """Import a scored file (see `read_scored` for the formats)."""
    return import_rows(conn, read_scored(path))
