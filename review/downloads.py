"""The labelled export as a download, for supervisors: the same rows as
`nigehbaan review export`, written to a temporary file and streamed, and recorded in the
event log (who, when, how many rows)."""

from __future__ import annotations

import io
import tempfile
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import StreamingResponse
from nigehbaan.review.db import transaction
from nigehbaan.review.events import log_event
from nigehbaan.review.export import write_labelled
from nigehbaan.review.web import Conn, FormUser

router = APIRouter()
CHUNK = 1 << 16


@router.post("/export")
def export_download(user: FormUser, conn: Conn, what: Annotated[str, Form()] = "labelled"):
    if not user.is_supervisor:
        raise HTTPException(403, "Not allowed: only supervisors export.")
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response's generator
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="\n")
    summary = write_labelled(conn, text)
    text.flush()
    text.detach()
    spool.seek(0)
    with transaction(conn):
        log_event(
            conn,
            user.name,
            "export",
            "web",
            confirmed=summary.confirmed,
            dismissed=summary.dismissed,
            unfit=len(summary.unfit),
        )

    def chunks():
        with spool:
            while block := spool.read(CHUNK):
                yield block

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        chunks(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="reviewed-{stamp}.jsonl"'},
    )
