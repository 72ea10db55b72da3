"""The dashboard page and its chart images."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from nigehbaan.review import charts
from nigehbaan.review.web import Conn, LoggedIn, render

router = APIRouter()


@router.get("/dashboard")
def dashboard(
    request: Request,
    user: LoggedIn,
    conn: Conn,
):
    return render(request, "dashboard.html", summary=charts.summary(conn), charts=charts.CHARTS)


@router.get("/dashboard/{name}.png")
def chart(
    name: str,
    user: LoggedIn,
    conn: Conn,
):
    if name not in charts.CHARTS:
        raise HTTPException(404, "No such chart.")
    return Response(charts.render_png(conn, name), media_type="image/png")
