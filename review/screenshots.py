"""Screenshots of the review app for the README, and the browser plumbing the end-to-end
test shares: a live server on a free local port and Debian's headless Chromium.

    python -m nigehbaan.review.screenshots [--out docs/screenshots]

Uses the demo ads (review.demo) in a throw-away database; needs Playwright and Chromium at
/usr/bin/chromium (never `playwright install`: these machines cannot download browsers).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import tempfile
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


def demo_database(path: Path, user: str, password: str, decide: bool = True) -> Path:
    """A review database holding the demo ads, one analyst, and (optionally) a few decisions
    so the dashboard has something to show."""
    from nigehbaan.review.auth import User, add_user
    from nigehbaan.review.db import connect
    from nigehbaan.review.decisions import decide as record
    from nigehbaan.review.demo import DEMO_ADS
    from nigehbaan.review.importer import import_rows

    conn = connect(path, create=True)
    import_rows(conn, enumerate(DEMO_ADS, 1))
    add_user(conn, user, "analyst", password)
    if decide:
        analyst = User(1, user, "analyst")
        record(conn, analyst, "demo-rur-2", "confirm", 1, note="dunki route, advance fee")
        record(conn, analyst, "demo-en-3", "dismiss", 1, note="licensed OEP, realistic pay")
    conn.close()
    return path


def take_screenshots(out: Path) -> list[Path]:
    """Write queue.png, ad-urdu.png, ad-english.png and dashboard.png to `out`."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    shots = []
    with tempfile.TemporaryDirectory() as tmp:
        db = demo_database(Path(tmp) / "review.db", "ayesha", password)
        with live_server(db) as base, sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1360, "height": 860}, device_scale_factor=1)
            log_in(page, base, "ayesha", password)
            for name, path in (
                ("queue", "/queue"),
                ("ad-urdu", "/ads/demo-ur-1"),
                ("ad-english", "/ads/demo-en-1"),
                ("dashboard", "/dashboard"),
            ):
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                shots.append(out / f"{name}.png")
                page.screenshot(path=str(shots[-1]), full_page=True)
            browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    """Command line: write the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/screenshots", help="folder for the PNG files")
    args = parser.parse_args(argv)
    for path in take_screenshots(Path(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
