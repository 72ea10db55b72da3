"""Do a few hostile ads slow down a whole file, or a review page? (issue 15)

Builds N ordinary ads (corpus v4 train/test/dev texts, repeated with small variations, unique
ids) and 100 hostile ones: lone surrogates, texts just under the 200,000-character limit (two
over it, which must come out as error rows), 50,000-character tokens, "free visa " repeated
tens of thousands of times, deep HTML, base64 blobs, control-character and zero-width floods.
For each model it scores (a) the ordinary ads alone and (b) the ordinary ads with the hostile
ones mixed in, in the same run, checks that every row is there in order, and prints ads/s,
seconds, the ratio (b)/(a) of the seconds (target: at most 2) and the slowest hostile ads
(each scored alone, in-process). Then it imports the scored hostile ads into a temporary
review database and times opening each one's page as an analyst (target: under 1 s).

    .venv/bin/python benchmarks/hostile.py [--n 10000] [--model default --model fast] [--repeats 2]
    .venv/bin/python benchmarks/hostile.py --profile      # where the hostile ads' time goes
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nigehbaan.inference.batch import score_file  # noqa: E402
from nigehbaan.inference.model import load_model  # noqa: E402
from nigehbaan.inference.scorer import MAX_TEXT_CHARS, score_records  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LIMIT = MAX_TEXT_CHARS


def ordinary_ads(n: int, seed: int = 7) -> list[dict]:
    """n ordinary ads from the corpus; past its 5,050 texts, repeats get a varied tail."""
    texts = []
    for split in ("train", "test", "dev"):
        with open(ROOT / "data" / "corpus" / "v4" / f"{split}.jsonl", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    rng = random.Random(seed)
    tails = ["", " Contact now.", " رابطہ کریں۔", " Jaldi karein!", " Apply today.", " 🙏"]
    ads = []
    for i in range(n):
        text = texts[i % len(texts)]
        if i >= len(texts):
            text += rng.choice(tails) + f" ({i // len(texts)})"
        ads.append({"id": f"o{i}", "text": text, "platform": rng.choice(["facebook", "olx", "rozee"])})
    return ads


def hostile_ads(seed: int = 11) -> list[tuple[str, str]]:
    """100 (kind, JSON line) pairs; lines rather than dicts so lone surrogates stay escapes."""
    rng = random.Random(seed)
    prose = "Driver chahiye Dubai ke liye, visa free, salary 2000 AED. WhatsApp 0300-1234567. "
    out: list[tuple[str, str]] = []

    def add(kind: str, text: str, **extra) -> None:
        rec = {"id": f"h{len(out)}-{kind}", "text": text, **extra}
        out.append((kind, json.dumps(rec, ensure_ascii=True)))  # ASCII: surrogates as \\udXXX

    for k in range(12):  # cut emoji: lone high/low surrogates in text and other fields
        add("surrogates", prose + "\ud83d" * (k + 1) + " job \udc80 " + "\ud800" * 50 * k, note="\udfff")
    for k in range(12):  # just under the limit
        add("long-199990", (prose * (LIMIT // len(prose) + 1))[: LIMIT - 10 - k])
    for k in range(2):  # just over it: error rows
        add("over-limit", "x" + prose * (LIMIT // len(prose) + 1 + k))
    for k in range(12):  # one 50,000-character token, no space
        unit = ["a", "ب", "0", "p4$$", "https://x.pk/", "\u200b"][k % 6]
        add("token-50000", prose + (unit * 50_000)[:50_000] + " " + prose)
    for k in range(12):  # "free visa " as often as fits under the limit (thousands of spans)
        add("free-visa-x19999", ("free visa " if k % 2 == 0 else "fri visa! ") * (LIMIT // 10 - 1 - k))
    for k in range(12):  # deep HTML
        depth = 18_000 - 1_000 * k
        add("deep-html", "<div><p>" * (depth // 2) + prose + "</p></div>" * (depth // 2))
    for k in range(12):  # base64 blobs (a pasted image)
        blob = base64.b64encode(rng.randbytes(50_000 + 8_000 * k)).decode()
        add("base64", prose + f'<img src="data:image/png;base64,{blob}">' + prose)
    for k in range(12):  # NUL and control characters, zero-width and bidi floods
        junk = ["\x00", "\x07\x1b[31m", "\u200b\u200c\u200d", "\u202e\u202d", "\ufeff", "\u0640"][k % 6]
        add("control-flood", (prose + junk * 200) * 100)
    while len(out) < 100:  # emoji, RTL overrides and digits spaced out
        add("mixed", ("🙏🇵🇰 " + "0 3 0 0 1 2 3 4 5 6 7 " + "\u202eزیرو فیس\u202c ") * 3_000)
    return out


def write_files(folder: Path, n: int) -> tuple[Path, Path, list[str], list[str], dict[str, str]]:
    ordinary = ordinary_ads(n)
    hostile = hostile_ads()
    plain_lines = [json.dumps(a, ensure_ascii=False) for a in ordinary]
    mixed_lines = list(plain_lines)
    rng = random.Random(3)
    for _kind, line in hostile:  # scattered through the file
        mixed_lines.insert(rng.randrange(len(mixed_lines) + 1), line)
    a, b = folder / "ordinary.jsonl", folder / "mixed.jsonl"
    a.write_text("\n".join(plain_lines) + "\n", encoding="utf-8")
    b.write_text("\n".join(mixed_lines) + "\n", encoding="utf-8")
    ids = lambda lines: [json.loads(x)["id"] for x in lines]  # noqa: E731
    kinds = {json.loads(line)["id"]: kind for kind, line in hostile}
    return a, b, ids(plain_lines), ids(mixed_lines), kinds


def check_output(path: Path, ids: list[str]) -> list[dict]:
    raw = path.read_bytes()
    raw.decode("utf-8")
    rows = [json.loads(line) for line in raw.split(b"\n") if line]
    got = [r["id"] for r in rows]
    assert got == ids, "rows missing or out of order"
    for r in rows:
        for ind in r["indicators"]:
            for ev in ind["evidence"]:
                assert r["text"][ev["start"] : ev["end"]] == ev["text"], r["id"]
    return rows


def timed_score(src: Path, out: Path, model: str, workers: int | None):
    t0 = time.perf_counter()
    summary = score_file(str(src), str(out), model_dir=model, progress=False, workers=workers)
    return summary, time.perf_counter() - t0


def print_profile(prof: cProfile.Profile, title: str, n: int = 14) -> None:
    """The project's functions by cumulative time, then everything by own time."""
    for order, where in (("cumulative", r"/(inference|review)/|jinja2|markupsafe"), ("tottime", "")):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats(order).print_stats(where, n)
        lines = [x for x in s.getvalue().splitlines()[4:] if x.strip()]
        print(f"--- cProfile ({order}): {title}\n" + "\n".join(lines))


def slowest_hostile(model_name: str, kinds: dict[str, str], mixed: Path, profile: bool, top: int = 5) -> None:
    model = load_model(model_name)
    recs = [r for r in map(json.loads, mixed.read_text(encoding="utf-8").splitlines()) if r["id"] in kinds]
    score_records(recs[:1], model)  # warm up
    times = []
    prof = cProfile.Profile() if profile else None
    for rec in recs:
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        score_records([rec], model)
        if prof:
            prof.disable()
        times.append((time.perf_counter() - t0, rec["id"], len(rec["text"])))
    times.sort(reverse=True)
    print(f"  hostile ads scored one by one: median {statistics.median(t for t, _, _ in times) * 1000:.0f} ms, "
          f"total {sum(t for t, _, _ in times):.1f} s; slowest:")
    for t, rid, n in times[:top]:
        print(f"    {t * 1000:7.0f} ms  {rid}  ({n:,} chars)")
    by_kind: dict[str, float] = {}
    for t, rid, _ in times:
        by_kind[kinds[rid]] = by_kind.get(kinds[rid], 0.0) + t
    print("  by kind (s): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(by_kind.items(), key=lambda x: -x[1])))
    if prof:
        print_profile(prof, f"the hostile ads scored one by one with {model_name}")


def review_pages(folder: Path, scored_rows: list[dict], kinds: dict[str, str], profile: bool) -> None:
    from fastapi.testclient import TestClient
    from nigehbaan.review.app import create_app
    from nigehbaan.review.auth import add_user
    from nigehbaan.review.db import connect
    from nigehbaan.review.importer import import_file
    from nigehbaan.review.web import ad_key

    hostile = [r for r in scored_rows if r["id"] in kinds]
    src = folder / "hostile-scored.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in hostile), encoding="utf-8")
    db = folder / "review.db"
    conn = connect(db, create=True)
    t0 = time.perf_counter()
    summary = import_file(conn, src)
    print(f"review import of {len(hostile)} scored hostile ads: {time.perf_counter() - t0:.2f} s "
          f"({summary.format()})")
    add_user(conn, "ayesha", "analyst", "correct horse battery")
    conn.close()
    client = TestClient(create_app(str(db)))
    page = client.get("/login")
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    r = client.post("/login", data={"username": "ayesha", "password": "correct horse battery",
                                    "token": token, "next": "/queue"}, follow_redirects=False)
    assert r.status_code == 303, r.status_code
    client.get(f"/ads/{ad_key(hostile[0]['id'])}")  # warm up templates
    times = []
    for row in hostile:
        t0 = time.perf_counter()
        resp = client.get(f"/ads/{ad_key(row['id'])}")
        dt = time.perf_counter() - t0
        assert resp.status_code == 200, (row["id"], resp.status_code)
        times.append((dt, row["id"], len(resp.content)))
    times.sort(reverse=True)
    med = statistics.median(t for t, _, _ in times)
    print(f"review pages of {len(times)} hostile ads: max {times[0][0] * 1000:.0f} ms, median "
          f"{med * 1000:.0f} ms (target < 1000 ms); slowest:")
    for t, rid, size in times[:5]:
        print(f"    {t * 1000:7.0f} ms  {rid}  ({size / 1e3:,.0f} kB of HTML)")
    if profile:
        profile_pages(create_app(str(db)), [rid for _, rid, _ in times[:5]])


def profile_pages(app, ids: list[str]) -> None:
    """cProfile the slowest pages. TestClient serves from another thread and FastAPI runs sync
    endpoints in a thread pool, both invisible to cProfile; here the app runs on this thread."""
    import asyncio

    import anyio.to_thread
    import httpx
    from nigehbaan.review.web import ad_key

    async def inline(func, *args, **_kw):
        return func(*args)

    anyio.to_thread.run_sync = inline  # this process only does benchmarks from here on
    prof = cProfile.Profile()

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            page = await c.get("/login")
            token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
            await c.post("/login", data={"username": "ayesha", "password": "correct horse battery",
                                         "token": token, "next": "/queue"})
            for rid in ids:
                prof.enable()
                resp = await c.get(f"/ads/{ad_key(rid)}")
                prof.disable()
                assert resp.status_code == 200, resp.status_code

    asyncio.run(run())
    print_profile(prof, f"the {len(ids)} slowest review pages, app on this thread", 25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="ordinary ads (default 10,000)")
    ap.add_argument("--model", action="append", default=None,
                    help="model name or directory; repeat for several (default: default and fast)")
    ap.add_argument("--workers", type=int, default=None, help="scoring processes (score's default)")
    ap.add_argument("--repeats", type=int, default=1, help="rounds of (a) then (b) per model")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the hostile ads scored one by one, and the review pages")
    ap.add_argument("--no-review", action="store_true", help="skip the review-page timing")
    args = ap.parse_args()
    # The encoder keeps the embeddings of the last 20,000 texts per process (for training): (b)
    # would reuse (a)'s. Off, so each file costs what a fresh `nigehbaan score` run costs.
    os.environ["NIGEHBAAN_EMBED_MEMO"] = "0"
    os.environ["NIGEHBAAN_SCORE_CACHE"] = "0"  # nor the score caches (scorecache.py)
    models = args.model or ["default", "fast"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain, mixed, plain_ids, mixed_ids, kinds = write_files(folder, args.n)
        print(f"{len(plain_ids):,} ordinary ads ({plain.stat().st_size / 1e6:.1f} MB); mixed file "
              f"{len(mixed_ids):,} ads with {len(kinds)} hostile ({mixed.stat().st_size / 1e6:.1f} MB)")
        last_rows = None
        for model in models:
            for rnd in range(args.repeats):
                out_a, out_b = folder / "a.jsonl", folder / "b.jsonl"
                sa, ta = timed_score(plain, out_a, model, args.workers)
                check_output(out_a, plain_ids)
                sb, tb = timed_score(mixed, out_b, model, args.workers)
                last_rows = check_output(out_b, mixed_ids)
                errors = {r["id"]: r["error"] for r in last_rows if r["error"]}
                assert sa.errors == 0 and set(errors) == {i for i, k in kinds.items() if k == "over-limit"}, errors
                spans = max(sum(len(i["evidence"]) for i in r["indicators"]) for r in last_rows)
                print(f"[{model}] round {rnd + 1}: (a) {sa.rows:,} ads {ta:.1f} s {sa.rows / ta:,.0f} ads/s | "
                      f"(b) {sb.rows:,} ads {tb:.1f} s {sb.rows / tb:,.0f} ads/s | (b)/(a) {tb / ta:.2f} "
                      f"(target <= 2) | error rows {len(errors)} (the over-limit ones) | most spans in one "
                      f"ad {spans:,}")
            slowest_hostile(model, kinds, mixed, args.profile)
        if not args.no_review and last_rows is not None:
            review_pages(folder, last_rows, kinds, args.profile)


if __name__ == "__main__":
    main()
