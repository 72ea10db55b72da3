"""Pages and JSON for triage: the queue, one ad, deciding, shared contacts, the decision log."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from nigehbaan.review import decisions as dec
from nigehbaan.review.assign import assign
from nigehbaan.review.auth import User
from nigehbaan.review.entities import entity_lists
from nigehbaan.review.highlight import MAX_HIGHLIGHTED, highlight
from nigehbaan.review.queue import ROW_COLUMNS, Filters, facet_values, neighbours, queue_page
from nigehbaan.review.scored import entity_values, model_indicator_ids
from nigehbaan.review.web import Conn, FormUser, LoggedIn, ad_key, render

router = APIRouter()

# Entity kinds that identify a person or agent: the ad page links each value to every other ad
# carrying it. Phones and WhatsApp numbers share one namespace (both E.164).
LINKED_KINDS = ("phones", "whatsapp", "emails")
_IN_LINKED = f"kind IN ({','.join('?' * len(LINKED_KINDS))})"


def _ad_row(conn: sqlite3.Connection, ad_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT a.*, d.action, d.at, d.note, d.removed_json, d.added_json, u.name AS by_name "
        "FROM ads a LEFT JOIN decisions d ON d.id = a.decision_id "
        "LEFT JOIN users u ON u.id = d.user_id WHERE a.id = ?",
        (ad_id,),
    ).fetchone()
    if row is None:
        raise HTTPException(404, "No ad with that id.")
    return row


def _visible_history(conn: sqlite3.Connection, user: User, ad_id: str) -> list[sqlite3.Row]:
    """The ad's audit log for a supervisor; an analyst's own entries for an analyst."""
    log = dec.history(conn, ad_id)
    return log if user.is_supervisor else [d for d in log if d["by_name"] == user.name]


def _visible_current(user: User, current: dict) -> dict:
    """The conflict page's view of an ad's current decision: who decided and their note only
    for a supervisor or for the analyst who made it."""
    if user.is_supervisor or not current.get("by_name") or current["by_name"] == user.name:
        return current
    return {**current, "by_name": None, "action": None, "at": None, "note": "", "hidden": True}


@router.get("/")
def home(user: LoggedIn):
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue")
def queue(request: Request, user: LoggedIn, conn: Conn, after: str = "", before: str = ""):
    filters = Filters.from_params(request.query_params, user.id)
    page = queue_page(conn, filters, after=after or None, before=before or None)
    return render(
        request,
        "queue.html",
        filters=filters,
        page=page,
        langs=facet_values(conn, "lang"),
        platforms=facet_values(conn, "platform"),
        undoable=_undoable(request, conn, user),
        analysts=_active_users(conn) if user.is_supervisor else [],
    )


def _undoable(request: Request, conn: sqlite3.Connection, user: User):
    return dec.last_undoable(conn, user, request.app.state.settings.undo_seconds)


def _active_users(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM users WHERE disabled = 0 ORDER BY name")]


def _shared(conn: sqlite3.Connection, ad_id: str, scored: dict) -> dict[str, int]:
    """{contact value: number of other ads carrying it} for the ad's phones and e-mails."""
    linked = list(
        dict.fromkeys(v for k, v in entity_values(scored.get("entities")) if k in LINKED_KINDS)
    )
    if not linked:
        return {}
    return dict(
        conn.execute(
            f"SELECT value, COUNT(DISTINCT ad_id) FROM ad_entities WHERE {_IN_LINKED} "
            f"AND value IN ({','.join('?' * len(linked))}) AND ad_id != ? GROUP BY value",
            [*LINKED_KINDS, *linked, ad_id],
        ).fetchall()
    )


@router.get("/ads/{ad_id:adkey}")
def ad_view(ad_id: str, request: Request, user: LoggedIn, conn: Conn):
    ad = _ad_row(conn, ad_id)
    scored = json.loads(ad["scored_json"])
    filters = Filters.from_params(request.query_params, user.id)
    text_html, skipped, unmarked = highlight(ad["text"], scored.get("indicators"))
    prev_id, next_id = neighbours(conn, filters, ad)
    second = dec.pending_second(conn, user, ad_id) is not None
    return render(
        request,
        "ad.html",
        ad=ad,
        second=second,
        # A second review is blind: the analyst does not see the first decision.
        blind=second and not user.is_supervisor,
        undoable=_undoable(request, conn, user),
        scored=scored,
        text_html=text_html,
        skipped=skipped,
        unmarked=unmarked,
        max_highlighted=MAX_HIGHLIGHTED,
        entities=entity_lists(scored.get("entities")),
        shared=_shared(conn, ad_id, scored),
        campaign_size=conn.execute(
            "SELECT COUNT(*) FROM ads WHERE template_id = ?", (ad["template_id"],)
        ).fetchone()[0]
        if ad["template_id"]
        else 0,
        filters=filters,
        prev_id=prev_id,
        next_id=next_id,
        history=_visible_history(conn, user, ad_id),
        removed=json.loads(ad["removed_json"] or "[]"),
        added=json.loads(ad["added_json"] or "[]"),
        can_decide=dec.can_decide(user, ad["status"]),
        can_reopen=dec.can_reopen(user, ad["status"]),
        model_ids=model_indicator_ids(scored),
        legend=[
            (
                str(i.get("id")),
                i.get("score") if isinstance(i.get("score"), int | float) else None,
                len(i.get("evidence") or []),
            )
            for i in scored.get("indicators") or []
        ],
    )


@router.post("/decide/{ad_id:adkey}")
def decide(
    ad_id: str,
    request: Request,
    user: FormUser,
    conn: Conn,
    action: Annotated[str, Form()],
    version: Annotated[int, Form()],
    note: Annotated[str, Form()] = "",
    keep: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    add: Annotated[list[str], Form()] = [],  # noqa: B006
    corrections: Annotated[str, Form()] = "",
    ret: Annotated[str, Form()] = "",
    span: Annotated[list[str], Form()] = [],  # noqa: B006
    second: Annotated[str, Form()] = "",
):
    filters = Filters.from_params(dict(parse_qsl(ret)), user.id)
    try:
        spans = [json.loads(x) for x in span]
    except json.JSONDecodeError:
        raise HTTPException(
            400, "A marked passage is not valid JSON. Reload the ad and mark it again."
        ) from None
    kept = keep if corrections else None
    try:
        if second:
            dec.second_review(conn, user, ad_id, action, keep=kept, add=add, note=note, spans=spans)
        else:
            dec.decide(
                conn,
                user,
                ad_id,
                action,
                version,
                keep=kept,
                add=add,
                note=note,
                spans=spans,
                double_review=request.app.state.settings.double_review,
            )
    except dec.BadSpan as exc:
        raise HTTPException(400, str(exc)) from None
    except dec.NotFound:
        raise HTTPException(404, "No ad with that id.") from None
    except dec.NotAllowed as exc:
        raise HTTPException(403, f"Not allowed: {exc}.") from None
    except dec.Conflict as exc:
        return render(
            request,
            "conflict.html",
            409,
            ad_id=ad_id,
            current=_visible_current(user, exc.current),
            action=action,
            note=note,
            filters=filters,
        )
    if action == "reopen":
        return RedirectResponse(f"/ads/{ad_key(ad_id)}{filters.query_string()}", 303)
    ad = _ad_row(conn, ad_id)
    _, next_id = neighbours(conn, filters, ad)
    target = f"/ads/{ad_key(next_id)}" if next_id else "/queue"
    return RedirectResponse(target + filters.query_string(), status_code=303)


@router.post("/assign")
def assign_ads(
    request: Request,
    user: FormUser,
    conn: Conn,
    assignee: Annotated[str, Form()] = "",
    ret: Annotated[str, Form()] = "",
):
    filters = Filters.from_params(dict(parse_qsl(ret)), user.id)
    try:
        assign(conn, user, filters, assignee or None)
    except dec.NotAllowed as exc:
        raise HTTPException(403, f"Not allowed: {exc}.") from None
    return RedirectResponse("/queue" + filters.query_string(), status_code=303)


@router.post("/undo")
def undo(
    request: Request,
    user: FormUser,
    conn: Conn,
    decision: Annotated[int, Form()],
):
    try:
        ad_id = dec.undo(conn, user, decision, request.app.state.settings.undo_seconds)
    except dec.NotAllowed as exc:
        raise HTTPException(403, f"Not allowed: {exc}.") from None
    return RedirectResponse(f"/ads/{ad_key(ad_id)}", status_code=303)


@router.get("/contact")
def contact(request: Request, user: LoggedIn, conn: Conn, value: str = ""):
    rows = conn.execute(
        f"SELECT {ROW_COLUMNS} FROM ads a WHERE a.id IN "
        f"(SELECT ad_id FROM ad_entities WHERE {_IN_LINKED} AND value = ?) "
        "ORDER BY a.priority DESC, a.rank DESC, a.id DESC LIMIT 500",
        [*LINKED_KINDS, value],
    ).fetchall()
    return render(request, "contact.html", value=value, rows=rows)


@router.get("/decisions")
def decision_log(request: Request, user: LoggedIn, conn: Conn, before: int | None = None):
    rows = dec.decision_log(conn, None if user.is_supervisor else user.id, before_id=before)
    return render(request, "decisions.html", rows=rows, json_loads=json.loads)


@router.get("/api/queue")
def api_queue(request: Request, user: LoggedIn, conn: Conn, after: str = "", before: str = ""):
    page = queue_page(
        conn, Filters.from_params(request.query_params, user.id), after or None, before or None
    )
    return {
        "total": page.total,
        "next": page.next_cursor,
        "prev": page.prev_cursor,
        "ads": [
            {k: r[k] for k in ("id", "risk", "band", "lang", "platform", "status")}
            | {"priority": r["priority"] if r["priority"] >= 0 else None}
            | {"indicators": (r["indicators"] or "").split()}
            for r in page.rows
        ],
    }


@router.get("/api/ads/{ad_id:adkey}")
def api_ad(ad_id: str, user: LoggedIn, conn: Conn):
    ad = _ad_row(conn, ad_id)
    return {
        "scored": json.loads(ad["scored_json"]),
        "status": ad["status"],
        "version": ad["version"],
        "decisions": [dict(d) for d in _visible_history(conn, user, ad_id)],
    }
