"""The dashboard page, its chart images and the double-review agreement table.

Drawing the five charts takes seconds on a large database, so each PNG is kept in memory keyed
by the data version: the newest decision id and `meta.data_version`, which triggers bump
whenever an ad is added or changes band, language, indicators, risk or status. An unchanged
database is served the cached image; any change draws it afresh.
"""

from __future__ import annotations

import sqlite3
import threading

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from nigehbaan.review import charts
from nigehbaan.review.agreement import agreement
from nigehbaan.review.web import Conn, LoggedIn, render

router = APIRouter()
_lock = threading.Lock()


def data_version(conn: sqlite3.Connection) -> tuple[int, int]:
    """(newest decision id, ad change counter): equal versions mean equal charts."""
    decision = conn.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()[0]
    row = conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
    return decision, int(row[0]) if row else 0


def cached_png(cache: dict, conn: sqlite3.Connection, name: str) -> bytes:
    """Chart `name` for the current data version, drawn only when the data changed."""
    version = data_version(conn)
    with _lock:
        hit = cache.get(name)
    if hit and hit[0] == version:
        return hit[1]
    png = charts.render_png(conn, name)
    with _lock:
        cache[name] = (version, png)  # one entry per chart: old versions are dropped
    return png


@router.get("/dashboard")
def dashboard(
    request: Request,
    user: LoggedIn,
    conn: Conn,
):
    return render(
        request,
        "dashboard.html",
        summary=charts.summary(conn),
        charts=charts.CHARTS,
        version="-".join(map(str, data_version(conn))),
        kappas=agreement(conn),
        double_review=request.app.state.settings.double_review,
    )


@router.get("/dashboard/{name}.png")
def chart(
    name: str,
    request: Request,
    user: LoggedIn,
    conn: Conn,
):
    if name not in charts.CHARTS:
        raise HTTPException(404, "No such chart.")
    return Response(cached_png(request.app.state.chart_cache, conn, name), media_type="image/png")
