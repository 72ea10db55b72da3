"""Review by campaign: the templates and networks of `nigehbaan cluster`, their summaries, and
one decision on a whole template.

Investigators work on networks, not single ads: two hundred re-posts behind three WhatsApp
numbers are one lead. The clustered rows carry `template_id`/`network_id` (stored on the ad by
the importer); the `--clusters` file adds one summary per template and network (the template
text with its varying `{slot}`s, contacts, hubs), kept in `campaigns`.

A whole-template decision is still one audited decision per member ad in the append-only log
(same label and note, `campaign_id` set to the template), so the export stays one row per ad. It
decides only the members that are undecided when it is saved: a member someone already decided
(or escalated) is reported and left as it is.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nigehbaan.inference.errors import UsageError
from nigehbaan.review.auth import User
from nigehbaan.review.db import transaction, utcnow
from nigehbaan.review.decisions import NotAllowed, NotFound, in_sample
from nigehbaan.review.events import log_event
from nigehbaan.review.labels import ACTIONS

SLOT = "{slot}"
CAMPAIGN_PAGE = 50  # templates per page of the campaign view
# Kinds of entity that tie ads to one poster (the contacts `nigehbaan cluster` joins on).
CONTACT_KINDS = ("phones", "whatsapp", "emails", "handles", "urls", "licences")


@dataclass
class SummaryImport:
    """What an import of a `--clusters` file did."""

    read: int = 0
    templates: int = 0
    networks: int = 0
    members_linked: int = 0

    def format(self) -> str:
        """One line for the terminal."""
        return (
            f"read {self.read} campaign summaries: {self.templates} templates, "
            f"{self.networks} networks; {self.members_linked} ads linked to their template"
        )


def import_summaries(conn: sqlite3.Connection, path: str | Path) -> SummaryImport:
    """Load a `nigehbaan cluster --clusters` file: upsert one `campaigns` row per summary, and
    link each template's member ads (already imported) to it, so a plain scored file plus the
    summaries is enough. Raises UsageError naming the row for what is not a summary."""
    from nigehbaan.inference.cluster.summary import read_summaries

    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"clusters file not found: expected the --clusters output of `nigehbaan cluster`, "
            f"found nothing at {path}. Fix: check the path."
        )
    return import_summary_rows(conn, read_summaries(str(path)), where=str(path))


def import_summary_rows(
    conn: sqlite3.Connection, rows: Iterable[tuple[int, dict]], where: str = "summaries"
) -> SummaryImport:
    """Upsert numbered summary rows (see `import_summaries`)."""
    out = SummaryImport()
    batch: list[dict] = []
    for n, row in rows:
        out.read += 1
        cid, kind = row.get("id"), row.get("kind")
        if not isinstance(cid, str) or not cid or kind not in ("template", "network"):
            raise UsageError(
                f"{where} row {n}: expected a campaign summary with a string 'id' and 'kind' "
                f"'template' or 'network', found id={str(cid)[:40]!r}, kind={str(kind)[:20]!r}. "
                f"Fix: pass the file written by `nigehbaan cluster ... --clusters FILE`."
            )
        batch.append(row)
        if len(batch) >= 1000:
            _write_summaries(conn, batch, out)
            batch = []
    if batch:
        _write_summaries(conn, batch, out)
    return out


def _write_summaries(conn: sqlite3.Connection, rows: list[dict], out: SummaryImport) -> None:
    now = utcnow()
    with transaction(conn):
        for row in rows:
            members = row.get("members") if isinstance(row.get("members"), list) else []
            kept = {k: v for k, v in row.items() if k != "members"}  # membership lives on ads
            size = row.get("size")
            conn.execute(
                "INSERT INTO campaigns (id, kind, network_id, size, summary_json, imported_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, "
                "network_id=excluded.network_id, size=excluded.size, "
                "summary_json=excluded.summary_json, imported_at=excluded.imported_at",
                (
                    row["id"][:200],
                    row["kind"],
                    str(row.get("network_id") or "")[:200] or None,
                    int(size) if isinstance(size, int | float) else len(members),
                    json.dumps(kept, ensure_ascii=False, default=str),
                    now,
                ),
            )
            if row["kind"] == "network":
                out.networks += 1
                continue
            out.templates += 1
            network = row.get("network_id") if isinstance(row.get("network_id"), str) else None
            for ad_id in members:
                cur = conn.execute(
                    "UPDATE ads SET template_id = ?, network_id = COALESCE(?, network_id) "
                    "WHERE id = ? AND (template_id IS NOT ? OR network_id IS NOT ?)",
                    (row["id"], network, str(ad_id), row["id"], network),
                )
                out.members_linked += cur.rowcount


# The campaign view of the queue: one row per template, highest risk first.
def template_page(
    conn: sqlite3.Connection, *, page: int = 0, undecided_only: bool = True, min_size: int = 2
) -> tuple[list[sqlite3.Row], int]:
    """(rows, total) of one page of templates: id, size, risk_max (None if unscored), langs,
    platforms, undecided, network_id and a snippet of the template text."""
    having = "COUNT(*) >= ?" + (" AND SUM(a.status = 'new') > 0" if undecided_only else "")
    grouped = (
        "SELECT a.template_id AS id, COUNT(*) AS size, MAX(a.rank) AS rank_max, "
        "SUM(a.status = 'new') AS undecided, group_concat(DISTINCT a.lang) AS langs, "
        "MIN(a.network_id) AS network_id FROM ads a WHERE a.template_id IS NOT NULL "
        f"GROUP BY a.template_id HAVING {having}"
    )
    total = conn.execute(f"SELECT COUNT(*) FROM ({grouped})", (min_size,)).fetchone()[0]
    rows = conn.execute(
        f"SELECT g.*, CASE WHEN g.rank_max < 0 THEN NULL ELSE g.rank_max END AS risk_max, "
        "COALESCE(substr(json_extract(c.summary_json, '$.template'), 1, 200), "
        "(SELECT substr(x.text, 1, 200) FROM ads x WHERE x.template_id = g.id "
        " ORDER BY x.rank DESC, x.id DESC LIMIT 1)) AS snippet "
        f"FROM ({grouped}) g LEFT JOIN campaigns c ON c.id = g.id "
        "ORDER BY g.rank_max DESC, g.size DESC, g.id LIMIT ? OFFSET ?",
        (min_size, CAMPAIGN_PAGE, max(0, page) * CAMPAIGN_PAGE),
    ).fetchall()
    return rows, total


@dataclass
class Campaign:
    """One template or network as its page shows it."""

    id: str
    kind: str  # 'template' or 'network'
    network_id: str | None
    summary: dict[str, Any] | None  # the imported --clusters row, or None
    members: list[sqlite3.Row]
    stats: dict[str, Any] = field(default_factory=dict)
    template: str | None = None  # template text with {slot} marks
    templates: list[tuple[str, int]] = field(default_factory=list)  # a network's (id, size)

    @property
    def template_parts(self) -> list[str]:
        """The template text split at its slots (a slot sits between two parts)."""
        return (self.template or "").split(SLOT)

    @property
    def undecided(self) -> list[sqlite3.Row]:
        return [m for m in self.members if m["status"] == "new"]

    @property
    def digest(self) -> str:
        """Names the member set the page showed: a decision form carries it, so that ads that
        joined the template since (a new import) are never decided unseen."""
        return members_digest(m["id"] for m in self.members)


def members_digest(ids) -> str:
    """SHA-256 (first 16 hex digits) of the sorted member ids."""
    h = hashlib.sha256()
    for ad_id in sorted(ids):
        h.update(ad_id.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


_MEMBER_COLUMNS = (
    "a.id, a.risk, a.rank, a.band, a.lang, a.platform, a.status, a.template_id, a.indicators, "
    "json_extract(a.scored_json, '$.posted_at') AS posted_at, d.user_id AS decided_by_id, "
    "u.name AS decided_by, d.campaign_id AS decided_in"
)


def load_campaign(conn: sqlite3.Connection, cid: str) -> Campaign | None:
    """The template or network `cid` with its members (highest risk first), or None."""
    row = conn.execute("SELECT kind, summary_json FROM campaigns WHERE id = ?", (cid,)).fetchone()
    summary = json.loads(row["summary_json"]) if row else None
    if row:
        kind = row["kind"]
    elif conn.execute("SELECT 1 FROM ads WHERE template_id = ? LIMIT 1", (cid,)).fetchone():
        kind = "template"
    elif conn.execute("SELECT 1 FROM ads WHERE network_id = ? LIMIT 1", (cid,)).fetchone():
        kind = "network"
    else:
        return None
    column = "template_id" if kind == "template" else "network_id"
    members = conn.execute(
        f"SELECT {_MEMBER_COLUMNS} FROM ads a LEFT JOIN decisions d ON d.id = a.decision_id "
        f"LEFT JOIN users u ON u.id = d.user_id WHERE a.{column} = ? "
        "ORDER BY a.rank DESC, a.id DESC",
        (cid,),
    ).fetchall()
    network = (summary or {}).get("network_id") if kind == "template" else cid
    if kind == "template" and not network and members:
        network = conn.execute(
            "SELECT network_id FROM ads WHERE template_id = ? AND network_id IS NOT NULL LIMIT 1",
            (cid,),
        ).fetchone()
        network = network[0] if network else None
    c = Campaign(cid, kind, network if isinstance(network, str) else None, summary, members)
    c.stats = member_stats(members)
    if kind == "template":
        c.template = (summary or {}).get("template") if summary else None
        if not isinstance(c.template, str):
            c.template = _fallback_template(conn, cid)
    else:
        c.templates = [
            (r[0], r[1])
            for r in conn.execute(
                "SELECT template_id, COUNT(*) FROM ads WHERE network_id = ? "
                "AND template_id IS NOT NULL GROUP BY template_id ORDER BY COUNT(*) DESC, "
                "template_id",
                (cid,),
            )
        ]
    return c


def member_stats(members: list[sqlite3.Row]) -> dict[str, Any]:
    """Size, languages, platforms, first/last posted, risk max/mean, share high, indicator
    counts and decision states, from the members as they are in the database now."""
    risks = [m["risk"] for m in members if m["risk"] is not None]
    posted = sorted(m["posted_at"] for m in members if isinstance(m["posted_at"], str))
    return {
        "size": len(members),
        "langs": Counter(m["lang"] for m in members).most_common(),
        "platforms": Counter(m["platform"] for m in members if m["platform"]).most_common(),
        "first_posted": posted[0] if posted else None,
        "last_posted": posted[-1] if posted else None,
        "risk_max": max(risks) if risks else None,
        "risk_mean": sum(risks) / len(risks) if risks else None,
        "share_high": sum(m["band"] == "high" for m in members) / len(risks) if risks else None,
        "indicators": Counter(
            i for m in members for i in (m["indicators"] or "").split()
        ).most_common(),
        "statuses": Counter(m["status"] for m in members).most_common(),
    }


def _fallback_template(conn: sqlite3.Connection, cid: str) -> str | None:
    """Without an imported summary: the slots found by aligning the first members' texts (the
    same alignment `nigehbaan cluster` uses, on the raw instead of the normalised text)."""
    texts = [
        r[0]
        for r in conn.execute(
            "SELECT text FROM ads WHERE template_id = ? ORDER BY id LIMIT 20", (cid,)
        )
    ]
    if not texts:
        return None
    try:
        from nigehbaan.inference.cluster.summary import template_text
    except ImportError:  # the clustering extras are missing: show one member's text
        return texts[0]
    return template_text(texts)


def contact_counts(conn: sqlite3.Connection, cid: str, kind: str, cap: int = 200) -> dict:
    """{entity kind: {value: number of member ads carrying it}} for the contact kinds, most
    shared first, at most `cap` values per kind."""
    column = "template_id" if kind == "template" else "network_id"
    rows = conn.execute(
        f"SELECT e.kind, e.value, COUNT(DISTINCT e.ad_id) AS n FROM ad_entities e "
        f"WHERE e.ad_id IN (SELECT id FROM ads WHERE {column} = ?) "
        f"AND e.kind IN ({','.join('?' * len(CONTACT_KINDS))}) "
        "GROUP BY e.kind, e.value ORDER BY n DESC, e.value",
        (cid, *CONTACT_KINDS),
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        values = out.setdefault(r["kind"], {})
        if len(values) < cap:
            values[r["value"]] = r["n"]
    return out


def network_graph(conn: sqlite3.Connection, network_id: str) -> tuple[list, dict[str, int]]:
    """([(template id, size, [contact keys])], hubs) for a network's picture: each template's
    contacts from its imported summary (as `nigehbaan cluster` normalised them), else from its
    members' phones, e-mails and handles; hubs from the network's summary."""
    sizes = conn.execute(
        "SELECT template_id, COUNT(*) FROM ads WHERE network_id = ? AND template_id IS NOT NULL "
        "GROUP BY template_id ORDER BY COUNT(*) DESC, template_id",
        (network_id,),
    ).fetchall()
    from_summary = {
        r[0]: json.loads(r[1] or "[]")
        for r in conn.execute(
            "SELECT id, json_extract(summary_json, '$.contacts') FROM campaigns "
            "WHERE network_id = ? AND kind = 'template'",
            (network_id,),
        )
    }
    missing = [t for t, _ in sizes if t not in from_summary]
    from_ads: dict[str, set[str]] = {}
    if missing:
        prefix = {"phones": "phone", "whatsapp": "phone", "emails": "email", "handles": "handle"}
        for t, k, v in conn.execute(
            "SELECT DISTINCT a.template_id, e.kind, e.value FROM ads a "
            "JOIN ad_entities e ON e.ad_id = a.id WHERE a.network_id = ? "
            "AND e.kind IN ('phones', 'whatsapp', 'emails', 'handles')",
            (network_id,),
        ):
            from_ads.setdefault(t, set()).add(f"{prefix[k]}:{v}")
    hubs_row = conn.execute(
        "SELECT json_extract(summary_json, '$.hubs') FROM campaigns WHERE id = ?", (network_id,)
    ).fetchone()
    hubs = json.loads(hubs_row[0]) if hubs_row and hubs_row[0] else {}
    templates = [
        (t, n, sorted(c for c in from_summary.get(t, from_ads.get(t, ())) if isinstance(c, str)))
        for t, n in sizes
    ]
    return templates, hubs if isinstance(hubs, dict) else {}


@dataclass
class TemplateDecision:
    """What a whole-template decision did: the ads it decided, and the members it left alone
    (id, status, who decided them; `by` None when the viewer may not see who)."""

    template_id: str
    action: str
    decided: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


class MembersChanged(Exception):
    """Ads joined or left the template since the page was drawn; nothing was saved."""


def decide_template(
    conn: sqlite3.Connection,
    user: User,
    template_id: str,
    action: str,
    *,
    note: str = "",
    seen: str | None = None,
    double_review: float = 0.0,
) -> TemplateDecision:
    """Confirm, dismiss or escalate every undecided member of a template, each with its own
    decision row (same label and note, `campaign_id` = the template) in one transaction.

    Members already decided or escalated are reported in `skipped` and never overwritten.
    `seen` is the page's `members_digest`: when the members differ now, MembersChanged is
    raised and nothing is written. Raises NotFound for an unknown template, NotAllowed for an
    unknown action.
    """
    if action not in ACTIONS:
        raise NotAllowed(f"unknown action {action!r} for a whole template")
    result = TemplateDecision(template_id, action)
    with transaction(conn):
        rows = conn.execute(
            "SELECT a.id, a.status, a.version, d.user_id, u.name AS by_name FROM ads a "
            "LEFT JOIN decisions d ON d.id = a.decision_id LEFT JOIN users u ON u.id = d.user_id "
            "WHERE a.template_id = ? ORDER BY a.rank DESC, a.id DESC",
            (template_id,),
        ).fetchall()
        if not rows:
            raise NotFound(template_id)
        if seen is not None and seen != members_digest(r["id"] for r in rows):
            raise MembersChanged(template_id)
        now, text = utcnow(), note.strip()[:4000]
        for r in rows:
            if r["status"] != "new":
                mine = r["user_id"] == user.id
                result.skipped.append(
                    {
                        "id": r["id"],
                        "status": r["status"],
                        "by": r["by_name"] if user.is_supervisor or mine else None,
                        "mine": mine,
                    }
                )
                continue
            cur = conn.execute(
                "INSERT INTO decisions (ad_id, user_id, action, from_version, note, at, "
                "campaign_id) VALUES (?,?,?,?,?,?,?)",
                (r["id"], user.id, action, r["version"], text, now, template_id),
            )
            conn.execute(
                "UPDATE ads SET status = ?, version = version + 1, decision_id = ? WHERE id = ?",
                (ACTIONS[action], cur.lastrowid, r["id"]),
            )
            if in_sample(r["id"], double_review):
                conn.execute(
                    "INSERT INTO double_review (ad_id, first_id) VALUES (?, ?) ON CONFLICT(ad_id) "
                    "DO UPDATE SET first_id = excluded.first_id WHERE second_id IS NULL",
                    (r["id"], cur.lastrowid),
                )
            result.decided.append(r["id"])
        log_event(
            conn,
            user.name,
            "campaign_decision",
            template_id,
            action=action,
            decided=len(result.decided),
            skipped=[s["id"] for s in result.skipped][:1000],
        )
    return result
