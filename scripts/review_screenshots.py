"""Screenshots of the review app for the README.

    python scripts/review_screenshots.py [--out docs/screenshots]

Uses the demo ads (tests/review/demo.py) in a throw-away database; needs Playwright and
Chromium at /usr/bin/chromium (never `playwright install`: these machines cannot download
browsers). Run it from a checkout: the demo ads and browser helpers live with the tests, not in
the installed package.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nigehbaan.review.db import connect  # noqa: E402

from tests.review.browser import (  # noqa: E402
    add_demo_campaign,
    demo_database,
    launch_chromium,
    live_server,
    log_in,
)


def take_screenshots(out: Path) -> list[Path]:
    """Write queue.png, ad-urdu.png, ad-english.png, dashboard.png and campaign.png to `out`."""
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
                ("campaign", "/campaigns/t-demo-gulf"),
            ):
                if name == "campaign":  # added last, so the other pictures stay as they were
                    conn = connect(db)
                    add_demo_campaign(conn)
                    conn.close()
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
