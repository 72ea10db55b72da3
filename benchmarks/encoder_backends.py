"""Encoder backends (issue 14 item 3): speed and gold quality of each, against torch float32.

On the same N unique ads as `encoder_vs_pipeline.py` (data/corpus/v4/test.jsonl first), prints
for each backend: ads/s of `encoder.embed` (best of --repeat rounds, interleaved, load average
at the start), whether an ad's embedding is bitwise the same alone and in the batch, and the
default model's quality on gold with that encoder (PR-AUC per language, indicator micro-F1,
the largest change of a risk score and of a span-model token probability), and whether it
meets the issue's ship rule: PR-AUC per language at most 0.002 and indicator micro-F1 at most
0.005 below torch float32.

Backends: torch float32 (today), torch dynamic int8 (batch-dependent), ONNX Runtime float32,
ONNX Runtime static int8 (per-channel weights, fixed activation scales from corpus train
texts; with every weight MatMul int8, and as shipped with each layer's FFN down-projection
kept float32), and ONNX float32 with shorter truncation (--lengths). ONNX files are built on first
use and cached (inference/onnx_encoder.py; the int8 build takes ~1 minute).
Run: `.venv/bin/python benchmarks/encoder_backends.py [--n 512] [--model models/default]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.encoder_vs_pipeline import load_texts  # noqa: E402

MAX_PR_AUC_DROP, MAX_F1_DROP = 0.002, 0.005  # issue 14's ship rule


def variants(lengths: list[int]) -> list[tuple[str, str, str, dict]]:
    """(label, $NIGEHBAAN_ENCODER_BACKEND, $NIGEHBAAN_ENCODER_PRECISION, spec overrides).
    The default model asks for bf16, which runs only where the CPU has AVX512-BF16/AMX; the
    reference is float32, what runs on most users' machines."""
    out = [("torch float32 (reference)", "torch", "float32", {}),
           ("torch bf16 (native CPUs only)", "torch", "bf16", {}),
           ("torch int8 dynamic", "torch", "", {"quantize": "int8"}),
           ("onnx float32", "onnx", "float32", {}),
           ("onnx int8 static, all weight MatMuls", "onnx-int8", "float32", {"_all": True}),
           ("onnx int8 static (FFN-out float32)", "onnx-int8", "float32", {})]
    out += [(f"onnx float32, max_length {n}", "onnx", "float32", {"max_length": n})
            for n in lengths]
    return out


def use(backend: str, prec: str) -> None:
    from nigehbaan.inference.encoder import clear_cache

    os.environ["NIGEHBAAN_ENCODER_BACKEND"] = backend
    os.environ["NIGEHBAAN_ENCODER_PRECISION"] = prec
    clear_cache()


def quality(model, gold: list[dict], analyses, X, spec: dict) -> dict:
    """Gold metrics of the model with this encoder spec; one encoder pass gives the embeddings
    (stack head) and the token states (span model)."""
    from nigehbaan.inference.spans import encode
    from nigehbaan.training.evaluation.metrics import full_metrics

    emb, tokens = encode([a.norm_text for a in analyses], spec, model.span_arrays)
    P = model.predict_with_kinds(analyses, X, emb)[0]
    m = full_metrics(gold, P, model.contract)
    return {"P": P, "tokens": tokens, "micro_f1": m["overall"]["indicators"]["micro_f1"],
            "pr_auc": {k: v["pr_auc"] for k, v in m["per_language"].items()}}


def span_diff(a, b) -> float:
    """Largest token-probability difference over the tokens both passes saw."""
    d = 0.0
    for x, y in zip(a, b, strict=True):
        if x is not None and y is not None:
            n = min(len(x.P), len(y.P))
            if n:
                d = max(d, float(np.abs(x.P[:n] - y.P[:n]).max()))
    return d


def main(argv: list[str] | None = None) -> int:
    from nigehbaan.inference.encoder import bind_spec, embed, precision, resolve_spec
    from nigehbaan.inference.features import feature_matrix
    from nigehbaan.inference.model import load_model
    from nigehbaan.training.corpus.data import read_jsonl

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=512, help="unique ads timed")
    ap.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus" / "v4")
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    ap.add_argument("--repeat", type=int, default=2, help="timing rounds; the best counts")
    ap.add_argument("--lengths", default="96,64", help="shorter max_length variants (ONNX)")
    ap.add_argument("--max-gold", type=int, default=None, help="first N gold ads (smoke runs)")
    ap.add_argument("--no-quality", action="store_true", help="skip the gold evaluation")
    args = ap.parse_args(argv)
    os.environ["NIGEHBAAN_EMBED_MEMO"] = "0"  # time encoding, not the memo
    os.environ["NIGEHBAAN_SCORE_CACHE"] = "0"
    prior = {k: os.environ.get(k) for k in ("NIGEHBAAN_ENCODER_BACKEND",
                                              "NIGEHBAAN_ENCODER_PRECISION")}

    model = load_model(args.model)
    base = resolve_spec(bind_spec(model.contract.encoder, model.folder))
    texts, origin = load_texts(args.n, args.corpus)
    norm = [a.norm_text for a in _analyze(texts)]
    gold = read_jsonl(args.corpus / "gold.jsonl")[: args.max_gold]
    g_an = _analyze([r["text"] for r in gold])
    g_X = feature_matrix(g_an)
    lengths = [int(x) for x in args.lengths.split(",") if x]
    print(f"{len(texts)} unique ads from {origin}; gold {len(gold)} ads; model {args.model}; "
          f"2 cores, onnxruntime + torch threads default; load average now "
          f"{os.getloadavg()[0]:.2f}")

    from nigehbaan.inference.onnx_encoder import FLOAT_NODES as float_nodes

    rows = []
    for label, backend, prec, over in variants(lengths):
        use(backend, prec)
        from nigehbaan.inference import onnx_encoder

        onnx_encoder.FLOAT_NODES = "" if over.pop("_all", False) else float_nodes
        spec = {**base, **over}
        embed(norm[:4], spec)  # load / build ONNX / warm up
        best, load = float("inf"), None
        for _ in range(args.repeat):
            la = os.getloadavg()[0]
            t0 = time.perf_counter()
            E = embed(norm, spec)
            dt = time.perf_counter() - t0
            if dt < best:
                best, load = dt, la
        alone = np.vstack([embed([t], spec) for t in norm[:16]])
        row = {"label": label, "mode": precision(spec), "ads_s": len(norm) / best, "load": load,
               "bitwise": bool(np.array_equal(alone, E[:16]))}
        if not args.no_quality:
            row.update(quality(model, gold, g_an, g_X, spec))
        rows.append(row)
        print(f"  done: {label} ({row['ads_s']:.1f} ads/s, load {load:.2f})", flush=True)
    for k, v in prior.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)

    ref = rows[0]
    langs = sorted(ref.get("pr_auc", {}))
    print(f"\n| backend | runs as | ads/s | vs torch | load avg | batch-independent (bitwise) | "
          f"gold PR-AUC {' / '.join(langs)} | indicator micro-F1 | max dRisk | max dSpan P | "
          f"ships? |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        q = ["", "", "", "", ""]
        if "P" in r:
            drop = max(ref["pr_auc"][k] - r["pr_auc"][k] for k in langs)
            ok = (drop <= MAX_PR_AUC_DROP and ref["micro_f1"] - r["micro_f1"] <= MAX_F1_DROP
                  and r["bitwise"])
            q = [" / ".join(f"{r['pr_auc'][k]:.4f}" for k in langs), f"{r['micro_f1']:.4f}",
                 f"{np.abs(r['P'][:, 0] - ref['P'][:, 0]).max():.4f}",
                 f"{span_diff(r['tokens'], ref['tokens']):.4f}",
                 "reference" if r is ref else ("yes" if ok else
                                              f"no (PR-AUC -{drop:.4f}, F1 "
                                              f"{r['micro_f1'] - ref['micro_f1']:+.4f}"
                                              f"{'' if r['bitwise'] else ', batch-dependent'})")]
        print(f"| {r['label']} | {r['mode']} | {r['ads_s']:.1f} | "
              f"{r['ads_s'] / ref['ads_s']:.2f}x | {r['load']:.2f} | "
              f"{'yes' if r['bitwise'] else 'NO'} | " + " | ".join(q) + " |")
    return 0


def _analyze(texts: list[str]):
    from nigehbaan.inference.scorer import analyze

    return analyze(texts)


if __name__ == "__main__":
    raise SystemExit(main())
