"""Throughput and peak memory of `nigehbaan score` on the rules-and-features path (models/fast).

Generates N ads by recombining sentences of the corpus (so lengths and scripts are realistic),
scores them with `score_file` and prints ads/second and peak resident memory of the parent and
the worker processes. Run twice with different N to see that memory does not grow with the
file size:

    .venv/bin/python benchmarks/score_throughput.py --n 50000
    .venv/bin/python benchmarks/score_throughput.py --n 10000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import tempfile
import time
from pathlib import Path

from nigehbaan.inference.batch import score_file

ROOT = Path(__file__).resolve().parent.parent


def generate(n: int, path: Path, seed: int = 1, reposts: float = 0.0) -> None:
    """N ads; a share `reposts` of them exact copies (new id) of an earlier ad's text."""
    src = ROOT / "data" / "corpus" / "v4" / "train.jsonl"
    texts = [json.loads(line)["text"] for line in open(src, encoding="utf-8")]
    pieces = [p for t in texts for p in re.split(r"(?<=[.!?۔\n])\s+", t) if p.strip()]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        done: list[str] = []
        for i in range(n):
            if done and rng.random() < reposts:
                text = rng.choice(done)
            else:
                text = " ".join(rng.sample(pieces, rng.randint(2, 6)))
                done.append(text)
            f.write(json.dumps({"id": f"b{i}", "text": text, "platform": "facebook"}, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000, help="ads to generate and score")
    ap.add_argument("--model", default=str(ROOT / "models" / "fast"),
                    help="model directory (default: models/fast, the rules-and-features path)")
    ap.add_argument("--workers", type=int, default=None, help="scoring processes (default 2)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--reposts", type=float, default=0.0,
                    help="share of the ads that are exact re-posts of an earlier one (default 0)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "ads.jsonl", Path(tmp) / "scored.jsonl"
        generate(args.n, src, reposts=args.reposts)
        size_mb = src.stat().st_size / 1e6
        t0 = time.perf_counter()
        summary = score_file(str(src), str(out), model_dir=args.model, batch_size=args.batch_size,
                             progress=False, workers=args.workers)
        secs = time.perf_counter() - t0
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"ads: {summary.rows:,} ({size_mb:.1f} MB of JSONL), errors: {summary.errors}")
    print(f"time: {secs:.1f} s  ->  {summary.rows / secs:,.0f} ads/s "
          f"(workers={args.workers or 'default'}, batch={args.batch_size})")
    if hasattr(summary, "cache_line"):
        print(summary.cache_line())
    print(f"peak RSS: parent {parent:,.0f} MB, largest worker {children:,.0f} MB")


if __name__ == "__main__":
    main()
