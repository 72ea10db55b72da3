"""Where `nigehbaan score` spends its time: a cProfile breakdown of a real `score_file` run.

The ads are the unique ones the other benchmarks use: `score_throughput.generate` (corpus
sentences recombined, every text different) for the fast model, the corpus texts of
`encoder_vs_pipeline.load_texts` (test split first) for the default model. The run is
in-process (workers=1) so cProfile sees every call; what crosses the process boundary with
workers > 1 (a batch of input rows out, its scored rows back, both pickled) is timed
separately on the same rows. Prints one table: seconds and share per stage.

    .venv/bin/python benchmarks/profile_score.py --n 20000                  # models/fast
    .venv/bin/python benchmarks/profile_score.py --model default --n 300    # encoder on CPU
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Stage -> the functions (file suffix, name) whose cumulative time is that stage. They do not
# call one another, so the shares add up; "other" is the rest of the run.
STAGES = {
    "reading (JSONL parse)": [("io/jsonl.py", "read_jsonl")],
    "normalisation": [("inference/normalize.py", "normalize")],
    "spaCy matching (lexicon)": [("inference/rules.py", "match_lexicon")],
    "entities (+ entity rules)": [("inference/entities.py", "extract_entities"),
                                  ("inference/rules.py", "entity_hits")],
    "language id": [("inference/langid.py", "identify")],
    "features (hashing + dense)": [("inference/features.py", "feature_matrix")],
    "encoder (embed)": [("inference/encoder.py", "embed")],
    "row building": [("inference/scorer.py", "_build_row")],
    "writing (JSON encode + file)": [("io/checkpoint.py", "write")],
    "score cache (lookups)": [("inference/scorecache.py", "lookup"),
                              ("inference/scorecache.py", "store")],
}


def _cum(stats: pstats.Stats, suffix: str, name: str) -> float:
    total = 0.0
    for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if func == name and file.replace("\\", "/").endswith(suffix):
            total += ct
    return total


def _ads(model: str, n: int, path: Path) -> None:
    if model.endswith("default"):
        from encoder_vs_pipeline import load_texts

        texts, _ = load_texts(n, ROOT / "data" / "corpus" / "v4")
        with open(path, "w", encoding="utf-8") as f:
            for i, t in enumerate(texts):
                f.write(json.dumps({"id": f"d{i}", "text": t, "platform": "facebook"}, ensure_ascii=False) + "\n")
    else:
        from score_throughput import generate

        generate(n, path)


def transfer_seconds(src: Path, out: Path, batch_size: int) -> float:
    """Pickling a batch of input rows to a worker and its scored rows back, for the whole file
    (what `score_file` with workers > 1 adds on top of the in-process run)."""
    from nigehbaan.inference.io import readers

    rows = list(readers["jsonl"](str(src)))
    scored = [(i, json.loads(line)) for i, line in enumerate(open(out, encoding="utf-8"))]
    t = time.perf_counter()
    for lo in range(0, len(rows), batch_size):
        pickle.loads(pickle.dumps(rows[lo : lo + batch_size]))
        pickle.loads(pickle.dumps(scored[lo : lo + batch_size]))
    return time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fast", help="fast, default or a model directory")
    ap.add_argument("--n", type=int, default=20_000, help="ads (use a few hundred for default)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--top", type=int, default=0, help="also print the N costliest functions")
    args = ap.parse_args(argv)
    from nigehbaan.inference.batch import score_file
    from nigehbaan.inference.model import load_model

    model_dir = args.model if args.model in ("fast", "default", "rules") else str(Path(args.model))
    load_model(model_dir)  # loading (and any first-use compile) stays outside the profile
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "ads.jsonl", Path(tmp) / "scored.jsonl"
        _ads(args.model, args.n, src)
        # warm the lexicon, places and encoder caches on a few ads, outside the profile
        warm = Path(tmp) / "warm.jsonl"
        warm.write_text("".join(open(src, encoding="utf-8").readlines()[:8]), encoding="utf-8")
        score_file(str(warm), str(Path(tmp) / "warm.out.jsonl"), model_dir=model_dir,
                   progress=False, workers=1)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        summary = score_file(str(src), str(out), model_dir=model_dir, batch_size=args.batch_size,
                             progress=False, workers=1)
        prof.disable()
        wall = time.perf_counter() - t
        xfer = transfer_seconds(src, out, args.batch_size)
    stats = pstats.Stats(prof)
    total = max(_cum(stats, "inference/batch.py", "score_file"), 1e-9)
    print(f"model {args.model}, {summary.rows:,} ads, 1 process under cProfile: {wall:.1f} s wall "
          f"({summary.rows / wall:,.0f} ads/s profiled)")
    if getattr(summary, "cache_hits", None) is not None:
        print(f"score cache: {summary.cache_hits:,} hits of {summary.rows:,} rows")
    print("| stage | seconds | share |")
    print("|---|---|---|")
    seen = 0.0
    for stage, funcs in STAGES.items():
        s = sum(_cum(stats, f, n) for f, n in funcs)
        if s == 0:
            continue
        seen += s
        print(f"| {stage} | {s:.2f} | {100 * s / total:.0f}% |")
    print(f"| other (model product, batching, bookkeeping) | {max(total - seen, 0):.2f} | "
          f"{100 * max(total - seen, 0) / total:.0f}% |")
    print(f"| inter-process transfer (pickle both ways; workers > 1 only) | {xfer:.2f} | "
          f"({100 * xfer / total:.0f}% on top) |")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
