"""How fast is the review queue at 100,000 ads? Fills a database with generated scored ads and
times queue pages near the top and deep in the list, with and without filters, as library calls
and as full HTTP page renders.

    python benchmarks/review_queue.py [--n 100000] [--db /tmp/review-bench.db]

Keyset pagination (review/queue.py) should cost the same at any depth; for comparison the
script also times the OFFSET query a naive pager would run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nigehbaan.review.db import connect  # noqa: E402
from nigehbaan.review.importer import import_rows  # noqa: E402
from nigehbaan.review.queue import Filters, encode_cursor, neighbours, queue_page  # noqa: E402

from tests.review.demo import scored_ad  # noqa: E402

PHRASES = {
    "en": [
        ("urgency_pressure", "Last 3 seats!"),
        ("upfront_fee", "Processing fee 50,000 after visa."),
        ("free_visa_travel", "Visa and ticket free."),
        ("off_platform_contact", "WhatsApp only."),
        ("unrealistic_pay", "Salary 8000 AED."),
        (None, "Driver needed for a family in Lahore."),
        (None, "Accommodation provided, send CV."),
    ],
    "ur-Latn": [
        ("no_experience_required", "Koi tajurba zaroori nahi."),
        ("debt_bondage", "Peshgi milegi."),
        ("irregular_route", "Dunki lagwayen."),
        ("restricted_freedom", "2 saal chutti nahi."),
        (None, "Naukri ke liye rabta karein."),
    ],
    "ur": [
        ("free_visa_travel", "ویزا اور ٹکٹ فری۔"),
        ("no_experience_required", "تجربہ ضروری نہیں۔"),
        ("urgency_pressure", "فوری رابطہ کریں۔"),
        ("organ_trade", "گردہ عطیہ کرنے والا چاہیے۔"),
        (None, "لاہور میں دفتر کے لیے ملازم درکار ہے۔"),
    ],
}
PLATFORMS = ["olx", "facebook", "rozee", "whatsapp-group", "telegram", "mustakbil", "indeed", "x"]


def generate(n: int, seed: int = 0):
    """Yield (row number, scored ad) for n generated ads."""
    rng = random.Random(seed)
    for i in range(n):
        lang = rng.choice(["en", "en", "ur-Latn", "ur"])
        picked = rng.sample(PHRASES[lang], k=rng.randint(1, 4))
        text = (
            " ".join(p for _, p in picked)
            + f" Rabta 03{rng.randint(0, 49):02d}-{rng.randint(0, 9999999):07d}"
        )
        indicators: dict[str, list[str]] = {}
        for ind, phrase in picked:
            if ind:
                indicators.setdefault(ind, []).append(phrase)
        risk = round(min(0.999, rng.betavariate(1.2, 3) + 0.15 * len(indicators)), 4)
        band = "high" if risk >= 0.7 else "medium" if risk >= 0.4 else "low"
        phone = "+92" + text.rsplit("Rabta 0", 1)[1].replace("-", "")
        yield (
            i,
            scored_ad(
                f"ad-{i:06d}",
                text,
                risk,
                band,
                lang,
                indicators,
                phones=[phone],
                platform=rng.choice(PLATFORMS),
            ),
        )


def timed(fn, repeat: int = 7) -> float:
    """Median wall time of fn() in milliseconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cursor_at(conn, filters: Filters, position: int) -> str | None:
    """The cursor after `position` rows of the filtered queue (found once, with OFFSET)."""
    where, args = filters.where()
    row = conn.execute(
        f"SELECT priority, rank, id FROM ads a WHERE {where} "
        "ORDER BY priority DESC, rank DESC, id DESC LIMIT 1 OFFSET ?",
        [*args, position],
    ).fetchone()
    return encode_cursor(row["priority"], row["rank"], row["id"]) if row else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="ads to generate (default 100000)")
    parser.add_argument("--db", default=None, help="database file (default: a temporary one)")
    args = parser.parse_args(argv)
    db = Path(args.db or Path(tempfile.mkdtemp()) / "review-bench.db")
    if db.exists():
        db.unlink()
    conn = connect(db, create=True)
    t = time.perf_counter()
    summary = import_rows(conn, generate(args.n))
    print(
        f"import: {summary.inserted:,} ads in {time.perf_counter() - t:.1f} s; "
        f"db {db.stat().st_size / 1e6:.0f} MB"
    )
    # A third of the ads decided, as after some weeks of work.
    conn.execute("UPDATE ads SET status = 'dismissed' WHERE rowid % 6 = 0")
    conn.execute("UPDATE ads SET status = 'confirmed' WHERE rowid % 6 = 1")

    cases = {
        "undecided (default)": Filters(),
        "all statuses": Filters(status="all"),
        "band=high": Filters(band="high"),
        "lang=ur": Filters(lang="ur"),
        "indicator=irregular_route": Filters(indicator="irregular_route"),
        "platform=telegram": Filters(platform="telegram"),
        "q=peshgi": Filters(q="Peshgi"),
        "q=<an ad id>": Filters(q="ad-050000", status="all"),
        "lang=ur + indicator=organ_trade": Filters(lang="ur", indicator="organ_trade"),
    }
    print("\nms per page of 50; 'page+count' is what the queue runs (the page, then the total)")
    print(
        f"{'filter':34} {'matches':>8} {'depth':>7} {'page+count':>11} {'count':>7} {'OFFSET':>7}"
    )
    for label, filters in cases.items():
        where, fargs = filters.where()
        total = conn.execute(f"SELECT COUNT(*) FROM ads a WHERE {where}", fargs).fetchone()[0]
        count = timed(
            lambda w=where, a=fargs: conn.execute(
                f"SELECT COUNT(*) FROM ads a WHERE {w}", a
            ).fetchone()
        )
        for depth in (0, total // 2, max(0, total - 60)):
            cursor = cursor_at(conn, filters, depth - 1) if depth else None
            keyset = timed(lambda f=filters, c=cursor: queue_page(conn, f, after=c))
            offset = timed(
                lambda w=where, a=fargs, d=depth: conn.execute(
                    f"SELECT * FROM ads a WHERE {w} "
                    "ORDER BY priority DESC, rank DESC, id DESC LIMIT 50 OFFSET ?",
                    [*a, d],
                ).fetchall()
            )
            print(
                f"{label:34} {total:>8,} {depth:>7,} {keyset:>11.1f} {count:>7.1f} {offset:>7.1f}"
            )

    deep = conn.execute(
        "SELECT priority, rank, id FROM ads ORDER BY priority DESC, rank DESC, id DESC "
        "LIMIT 1 OFFSET 90000"
    ).fetchone()
    print(
        f"\nad view next/previous at depth 90,000: {timed(lambda: neighbours(conn, Filters(), deep)):.2f} ms"
    )
    conn.close()
    _http(db)
    return 0


def _http(db: Path) -> None:
    """Full page renders through the app, as an analyst's browser gets them."""
    from fastapi.testclient import TestClient
    from nigehbaan.review.app import create_app
    from nigehbaan.review.auth import add_user

    conn = connect(db)
    add_user(conn, "bench", "analyst", "benchmark password")
    deep = cursor_at(conn, Filters(), 60_000)
    conn.close()
    client = TestClient(create_app(str(db)))
    token = client.get("/login").text.split('name="token" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": "bench", "password": "benchmark password", "token": token}
    )
    print("\nHTTP page (render included):")
    for label, url in (
        ("GET /queue", "/queue"),
        ("GET /queue?after=<row 60,000>", f"/queue?after={deep}"),
        ("GET /queue?lang=ur&q=<urdu>", "/queue?lang=ur&q=%DA%AF%D8%B1%D8%AF%DB%81"),
        ("GET /ads/ad-050000", "/ads/ad-050000"),
    ):
        assert client.get(url).status_code == 200, url
        print(f"  {label:34} {timed(lambda u=url: client.get(u), repeat=5):8.1f} ms")

    from nigehbaan.review import charts

    conn = connect(db)
    drawn = timed(lambda: [charts.render_png(conn, n) for n in charts.CHARTS], repeat=3)
    conn.close()
    print(f"  {'dashboard: 5 PNGs drawn':34} {drawn:8.1f} ms  (first visit, or after a change)")
    cached = timed(lambda: [client.get(f"/dashboard/{n}.png") for n in charts.CHARTS], repeat=5)
    print(f"  {'dashboard: 5 PNGs, unchanged db':34} {cached:8.1f} ms  (served from the cache)")


if __name__ == "__main__":
    raise SystemExit(main())
