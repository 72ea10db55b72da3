"""Browser plumbing shared by the browser tests and `scripts/review_screenshots.py`: a live
server on a free local port, Debian's headless Chromium, the login form, and a database of the
demo ads (tests/review/demo.py). Needs Playwright and Chromium at /usr/bin/chromium (never
`playwright install`: these machines cannot download browsers).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Debian's Chromium; set NIGEHBAAN_CHROMIUM for a browser elsewhere (e.g. chromium-browser).
CHROMIUM = os.environ.get("NIGEHBAAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def live_server(db_path: str | Path) -> Iterator[str]:
    """Serve the app for `db_path` on 127.0.0.1 in a thread; yields the base URL.

    The socket is bound here (port 0) and handed to uvicorn, so there is no window in which
    another process could take the port.
    """
    import uvicorn
    from nigehbaan.review.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(str(db_path)), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the review app did not start within 20 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def launch_chromium(playwright):
    """Launch the system Chromium headless with the flags CI uses."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def log_in(page, base_url: str, name: str, password: str) -> None:
    """Log in through the login form and wait for the queue."""
    page.goto(f"{base_url}/queue")
    page.fill('input[name="username"]', name)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base_url}/queue")


def demo_database(
    path: Path, user: str, password: str, decide: bool = True, campaigns: bool = False
) -> Path:
    """A review database holding the demo ads, one analyst, and (optionally) a few decisions
    so the dashboard has something to show, and the demo campaign (clustered re-posts and
    their summaries) for the campaign pages."""
    from nigehbaan.review.auth import User, add_user
    from nigehbaan.review.db import connect
    from nigehbaan.review.decisions import decide as record
    from nigehbaan.review.importer import import_rows

    from .demo import DEMO_ADS

    conn = connect(path, create=True)
    import_rows(conn, enumerate(DEMO_ADS, 1))
    if campaigns:
        add_demo_campaign(conn)
    add_user(conn, user, "analyst", password)
    if decide:
        analyst = User(1, user, "analyst")
        record(conn, analyst, "demo-rur-2", "confirm", 1, note="dunki route, advance fee")
        record(conn, analyst, "demo-en-3", "dismiss", 1, note="licensed OEP, realistic pay")
    conn.close()
    return path


def add_demo_campaign(conn) -> None:
    """Import the demo campaign (tests/review/demo.py: clustered re-posts and their
    summaries) into an open review database."""
    from nigehbaan.review.campaigns import import_summary_rows
    from nigehbaan.review.importer import import_rows

    from .demo import CAMPAIGN_ADS, CAMPAIGN_SUMMARIES

    import_rows(conn, enumerate(CAMPAIGN_ADS, 1))
    import_summary_rows(conn, enumerate(CAMPAIGN_SUMMARIES, 1))
