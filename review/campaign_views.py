"""Pages for review by campaign: the campaign view of the queue (one row per template), the page
of one template or network, and one decision on a whole template."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from nigehbaan.review import campaigns as camp
from nigehbaan.review import decisions as dec
from nigehbaan.review.entities import entity_lists
from nigehbaan.review.netsvg import network_svg
from nigehbaan.review.web import Conn, FormUser, LoggedIn, ad_key, render

router = APIRouter()
MAX_MEMBER_ROWS = 2000  # rows in a campaign page's table; the figures count every member


def campaign_href(cid: str) -> str:
    return f"/campaigns/{ad_key(cid)}"


@router.get("/campaigns")
def campaign_list(
    request: Request, user: LoggedIn, conn: Conn, page: int = 0, status: str = "new", size: str = ""
):
    undecided_only = status != "all"
    min_size = 1 if size == "all" else 2
    rows, total = camp.template_page(
        conn, page=max(0, min(page, 10**6)), undecided_only=undecided_only, min_size=min_size
    )
    return render(
        request,
        "campaigns.html",
        rows=rows,
        total=total,
        page=max(0, page),
        per_page=camp.CAMPAIGN_PAGE,
        status="new" if undecided_only else "all",
        size="all" if min_size == 1 else "",
    )


def _contacts(conn, c: camp.Campaign):
    counts = camp.contact_counts(conn, c.id, c.kind)
    entities = {kind: list(values) for kind, values in counts.items()}
    flat = {v: n for values in counts.values() for v, n in values.items()}
    return entity_lists(_decoded(entities)), flat


def _decoded(entities: dict[str, list[str]]) -> dict[str, list]:
    """ad_entities keeps non-string entities (licences) as JSON text; entity_lists wants them
    as objects."""
    import json

    out = {}
    for kind, values in entities.items():
        items = []
        for v in values:
            if v.startswith("{"):
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            items.append(v)
        out[kind] = items
    return out


@router.get("/campaigns/{cid:adkey}")
def campaign_page(cid: str, request: Request, user: LoggedIn, conn: Conn):
    c = camp.load_campaign(conn, cid)
    if c is None:
        raise HTTPException(404, "No template or network with that id.")
    contacts, counts = _contacts(conn, c)
    svg, svg_note = "", ""
    if c.network_id:
        templates, hubs = camp.network_graph(conn, c.network_id)
        if templates:
            svg, svg_note = network_svg(
                templates,
                current=c.id if c.kind == "template" else None,
                hubs=list(hubs),
                link=campaign_href,
            )
    return render(
        request,
        "campaign.html",
        c=c,
        contacts=contacts,
        counts=counts,
        svg=svg,
        svg_note=svg_note,
        hubs=(c.summary or {}).get("hubs") or {},
        max_rows=MAX_MEMBER_ROWS,
    )


@router.post("/campaigns/decide/{cid:adkey}")
def decide_campaign(
    cid: str,
    request: Request,
    user: FormUser,
    conn: Conn,
    action: Annotated[str, Form()],
    seen: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
):
    try:
        result = camp.decide_template(
            conn,
            user,
            cid,
            action,
            note=note,
            seen=seen or None,
            double_review=request.app.state.settings.double_review,
        )
    except dec.NotFound:
        raise HTTPException(404, "No template with that id.") from None
    except dec.NotAllowed as exc:
        raise HTTPException(403, f"Not allowed: {exc}.") from None
    except camp.MembersChanged:
        return render(
            request,
            "campaign_result.html",
            409,
            cid=cid,
            result=None,
            note=note,
            action=action,
        )
    return render(request, "campaign_result.html", cid=cid, result=result, note=note, action=action)
