"""The triage queue: filters and keyset pagination in priority order.

Ads are ordered by (priority, rank, id) descending: the triage priority (the risk weighed by
the severity of the indicators present, inference/priority.py), then the risk (`rank`), then
the id. Pages continue from the last row seen (`WHERE (priority, rank, id) < (?, ?, ?)`)
instead of using OFFSET, so page 2,000 of a 100,000-ad queue costs the same as page 1: SQLite
walks the (status, priority, rank, id) or (priority, rank, id) index from the cursor. See
benchmarks/review_queue.py for the measurement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import urlencode

from nigehbaan.review.labels import BANDS, INDICATORS, STATUSES, UNSCORED_BAND

PAGE_SIZE = 50
_ALL = "all"
VIEWS = ("mine", "second")


@dataclass(frozen=True)
class Filters:
    """What the analyst narrowed the queue to. Empty means no filter; status defaults to the
    undecided ads, `all` shows every status."""

    band: str = ""
    lang: str = ""
    indicator: str = ""
    platform: str = ""
    status: str = "new"
    q: str = ""
    # `mine`: ads assigned to the user; `second`: ads waiting for the user's blind second review.
    view: str = ""
    me: int = field(default=0, compare=False)  # the user the view is for; never in a URL
    id_hit: bool = field(default=False, compare=False)  # `q` is an ad id (set by resolve_id)

    @classmethod
    def from_params(cls, params: Mapping[str, str], me: int = 0) -> Filters:
        """Build from query parameters, dropping values outside the known vocabularies."""

        def pick(key: str, allowed: tuple[str, ...]) -> str:
            value = params.get(key, "")
            return value if value in allowed else ""

        status = params.get("status", "new")
        return cls(
            band=pick("band", (*BANDS, UNSCORED_BAND)),
            lang=params.get("lang", "")[:20],  # any language the scorer wrote, not only LANGS
            indicator=pick("indicator", INDICATORS),
            platform=params.get("platform", "")[:100],
            status=status if status in (*STATUSES, _ALL) else "new",
            q=params.get("q", "").strip()[:200],
            view=pick("view", VIEWS),
            me=me,
        )

    def params(self) -> dict[str, str]:
        """The non-default values, for links that keep the analyst's filters."""
        return {
            k: v
            for k, v in asdict(self).items()
            if v and k not in ("me", "id_hit") and not (k == "status" and v == "new")
        }

    def replaced(self, **changes: str) -> Filters:
        """A copy with some fields changed, for links to another view of the queue."""
        return replace(self, **changes)

    def query_string(self, **extra: str) -> str:
        """`?band=high&...` (empty string when nothing is set)."""
        params = {**self.params(), **{k: v for k, v in extra.items() if v}}
        return "?" + urlencode(params) if params else ""

    def where(self) -> tuple[str, list]:
        """SQL condition on table alias `a` and its arguments."""
        parts, args = ["1"], []
        if self.view == "second":  # decided ads: the status filter does not apply
            parts.append(
                "EXISTS (SELECT 1 FROM double_review r JOIN decisions d ON d.id = r.first_id "
                "WHERE r.ad_id = a.id AND r.second_id IS NULL AND r.first_id = a.decision_id "
                "AND d.user_id != ?)"
            )
            args.append(self.me)
        elif self.status != _ALL:
            parts.append("a.status = ?")
            args.append(self.status)
        if self.view == "mine":
            parts.append("a.assigned_to = ?")
            args.append(self.me)
        for column in ("band", "lang", "platform"):
            value = getattr(self, column)
            if value:
                parts.append(f"a.{column} = ?")
                args.append(value)
        if self.indicator:
            parts.append("instr(a.indicators, ?) > 0")
            args.append(f" {self.indicator} ")
        if self.q:
            if self.id_hit:  # see `resolve_id`: the primary key answers, no text scan
                parts.append("a.id = ?")
                args.append(self.q)
            else:
                escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                parts.append("(a.text LIKE ? ESCAPE '\\' OR a.id = ?)")
                args += [f"%{escaped}%", self.q]
        return " AND ".join(parts), args


@dataclass(frozen=True)
class Page:
    """One page of the queue with the cursors for the pages either side."""

    rows: list[sqlite3.Row]
    total: int
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(priority: float, rank: float, ad_id: str) -> str:
    """A cursor naming a position in the queue order; repr keeps the floats exact."""
    return f"{priority!r}:{rank!r}:{ad_id}"


def decode_cursor(cursor: str | None) -> tuple[float, float, str] | None:
    """The (priority, rank, id) in a cursor, or None if it is missing or malformed."""
    parts = (cursor or "").split(":", 2)
    if len(parts) != 3:
        return None
    try:
        return float(parts[0]), float(parts[1]), parts[2]
    except ValueError:
        return None


def _key(row) -> tuple[float, float, str]:
    return row["priority"], row["rank"], row["id"]


# What a queue row shows (also the shared-contact list). Only the snippet needs the wide row.
ROW_COLUMNS = (
    "a.id, substr(a.text, 1, 240) AS snippet, a.risk, a.rank, a.priority, a.band, a.lang, "
    "a.platform, "
    "a.status, a.error, a.indicators, "
    "(SELECT name FROM users WHERE id = a.assigned_to) AS assignee"
)


def _fetch(conn, where, args, op, order, key, limit) -> list[sqlite3.Row]:
    cond = f"{where} AND (a.priority, a.rank, a.id) {op} (?, ?, ?)" if key else where
    return conn.execute(
        f"SELECT {ROW_COLUMNS} FROM ads a WHERE {cond} "
        f"ORDER BY a.priority {order}, a.rank {order}, a.id {order} LIMIT ?",
        [*args, *(key or ()), limit],
    ).fetchall()


def resolve_id(conn: sqlite3.Connection, filters: Filters) -> Filters:
    """When the search is exactly an ad's id, search by id only.

    `id = ? OR text LIKE ?` cannot use an index, so finding one ad by its id scanned every ad's
    text (0.5 s at 100,000 ads); one primary-key lookup decides whether the text scan is needed.
    """
    if not filters.q or filters.id_hit:
        return filters
    hit = conn.execute("SELECT 1 FROM ads WHERE id = ?", (filters.q,)).fetchone() is not None
    return replace(filters, id_hit=True) if hit else filters


def queue_page(
    conn: sqlite3.Connection,
    filters: Filters,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """The page after cursor `after` (or before `before`; or the first page)."""
    where, args = resolve_id(conn, filters).where()
    before_key, after_key = decode_cursor(before), decode_cursor(after)
    if before_key:
        rows = _fetch(conn, where, args, ">", "ASC", before_key, limit + 1)
        has_prev = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        has_next = True
    else:
        rows = _fetch(conn, where, args, "<", "DESC", after_key, limit + 1)
        has_next = len(rows) > limit
        rows = rows[:limit]
        has_prev = (
            bool(after_key)
            and bool(rows)
            and bool(_fetch(conn, where, args, ">", "ASC", _key(rows[0]), 1))
        )
    total = conn.execute(f"SELECT COUNT(*) FROM ads a WHERE {where}", args).fetchone()[0]
    return Page(
        rows=rows,
        total=total,
        next_cursor=encode_cursor(*_key(rows[-1])) if rows and has_next else None,
        prev_cursor=encode_cursor(*_key(rows[0])) if rows and has_prev else None,
    )


def neighbours(
    conn: sqlite3.Connection, filters: Filters, ad: Mapping
) -> tuple[str | None, str | None]:
    """Ids of the ads just before and just after `ad` (a row with priority, rank and id) in
    the filtered queue.

    Works even when the ad itself no longer matches the filters (it was just decided), which
    is what lets keyboard triage step on to the next undecided ad.
    """
    where, args = resolve_id(conn, filters).where()
    prev = _fetch(conn, where, args, ">", "ASC", _key(ad), 1)
    nxt = _fetch(conn, where, args, "<", "DESC", _key(ad), 1)
    return (prev[0]["id"] if prev else None, nxt[0]["id"] if nxt else None)


def facet_values(conn: sqlite3.Connection, column: str) -> list[str]:
    """Distinct non-empty values of `lang` or `platform`, for the filter menus.

    Hops through the column's index one value at a time (a loose index scan), so the cost grows
    with the number of distinct values, not with the number of ads; a plain SELECT DISTINCT
    took 60 ms per menu at 100,000 ads.
    """
    assert column in ("lang", "platform")
    rows = conn.execute(
        f"WITH RECURSIVE v(x) AS (SELECT MIN({column}) FROM ads WHERE {column} != '' "
        f"UNION ALL SELECT (SELECT MIN({column}) FROM ads WHERE {column} > v.x) FROM v "
        "WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL"
    )
    return [r[0] for r in rows]
