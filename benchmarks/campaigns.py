"""Campaign clustering benchmark: B-cubed quality against an InfoShield baseline, and scale.

Quality (default): campaigns generated from the corpus (benchmarks/campaign_data.py: every
test/gold text re-posted 1-30 times with mutations, networks sharing a number, a hub number,
near-miss ads sharing only boilerplate) are clustered by `nigehbaan cluster`; B-cubed
precision, recall and F1 for templates and networks, overall and per language. Beside it,
InfoShield's coarse step (Lee et al., ICDE 2021) re-implemented: the top-10 tf-idf word 5-grams
of each ad, the ad-phrase bipartite graph, connected components; once on our normalised text
and once with InfoShield's own filter (non-ASCII characters deleted).

Scale (`--n N`): cluster N generated ads, print seconds and peak memory (ru_maxrss of this
process and of its worker processes).

    .venv/bin/python benchmarks/campaigns.py
    .venv/bin/python benchmarks/campaigns.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from campaign_data import make_campaigns  # noqa: E402
from nigehbaan.inference.cluster import cluster_file  # noqa: E402


def bcubed(pred: list[str], true: list[str], subset: list[int] | None = None) -> dict:
    """B-cubed precision, recall and F1 averaged over the items of `subset` (all by default);
    clusters are counted whole."""
    cell = Counter(zip(pred, true, strict=True))
    psize, tsize = Counter(pred), Counter(true)
    idx = range(len(pred)) if subset is None else subset
    p = np.mean([cell[pred[i], true[i]] / psize[pred[i]] for i in idx])
    r = np.mean([cell[pred[i], true[i]] / tsize[true[i]] for i in idx])
    return {"p": float(p), "r": float(r), "f1": float(2 * p * r / (p + r)) if p + r else 0.0}


def infoshield_coarse(texts: list[str], top: int = 10) -> list[int]:
    """InfoShield's coarse clustering: top-`top` tf-idf word 5-grams per ad, connected
    components of the ad-phrase graph (an ad with no phrase is its own cluster)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(5, 5), token_pattern=r"(?u)\b\w+\b", lowercase=True)
    try:
        x = vec.fit_transform(texts).tocsr()
    except ValueError:  # no ad has five words
        return list(range(len(texts)))
    rows, cols = [], []
    for i in range(x.shape[0]):
        lo, hi = x.indptr[i], x.indptr[i + 1]
        best = x.indices[lo:hi][np.argsort(-x.data[lo:hi], kind="stable")[:top]]
        rows.extend([i] * len(best))
        cols.extend(best.tolist())
    n, m = x.shape
    g = coo_matrix((np.ones(len(rows)), (rows, [n + c for c in cols])), shape=(n + m, n + m))
    return connected_components(g, directed=False)[1][:n].tolist()


def _peak_mb() -> tuple[float, float]:
    kb = 1024 if sys.platform != "darwin" else 1024 * 1024
    self_ = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / kb / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / kb / 1024
    return self_, kids


def _write(ads: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for a in ads:
            f.write(json.dumps({"id": a["id"], "text": a["text"]}, ensure_ascii=False) + "\n")


def _table(name: str, pred: list[str], true: list[str], langs: list[str]) -> None:
    groups = {"all": None} | {
        lang: [i for i, x in enumerate(langs) if x == lang] for lang in ("en", "ur", "ur-Latn", "mixed")
    }
    cells = []
    for g, idx in groups.items():
        m = bcubed(pred, true, idx)
        cells.append(f"{g} P {m['p']:.3f} R {m['r']:.3f} F1 {m['f1']:.3f}")
    print(f"{name:34s} " + " | ".join(cells))


def quality(seed: int) -> None:
    from nigehbaan.inference.normalize import normalize

    ads = make_campaigns(seed=seed)
    langs = [a["_lang"] for a in ads]
    print(f"{len(ads):,} ads, {len({a['_template'] for a in ads}):,} templates, "
          f"{len({a['_network'] for a in ads}):,} networks; languages {dict(Counter(langs))}")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "ads.jsonl", Path(tmp) / "out.jsonl"
        _write(ads, src)
        t = time.perf_counter()
        s = cluster_file(str(src), str(out))
        secs = time.perf_counter() - t
        rows = [json.loads(line) for line in open(out, encoding="utf-8")]
    print(f"nigehbaan cluster: {secs:.1f}s; hubs reported: {s.hubs}")
    true_t = [a["_template"] for a in ads]
    true_n = [a["_network"] for a in ads]
    _table("templates  nigehbaan", [r["template_id"] for r in rows], true_t, langs)
    t = time.perf_counter()
    norm = [normalize(a["text"]).text for a in ads]
    pred = infoshield_coarse(norm)
    _table("templates  InfoShield, normalised", list(map(str, pred)), true_t, langs)
    ascii_ = [a["text"].encode("ascii", "ignore").decode() for a in ads]
    pred = infoshield_coarse(ascii_)
    _table("templates  InfoShield, ASCII only", list(map(str, pred)), true_t, langs)
    print(f"(InfoShield baselines: {time.perf_counter() - t:.1f}s for both)")
    _table("networks   nigehbaan", [r["network_id"] for r in rows], true_n, langs)


def scale(n: int, seed: int) -> None:
    t = time.perf_counter()
    ads = make_campaigns(n=n, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "ads.jsonl", Path(tmp) / "out.jsonl"
        _write(ads, src)
        del ads
        gen = time.perf_counter() - t
        before = _peak_mb()
        t = time.perf_counter()
        s = cluster_file(str(src), str(out))
        secs = time.perf_counter() - t
    me, kids = _peak_mb()
    print(f"n={s.rows:,}: generated in {gen:.0f}s; clustered in {secs:.1f}s "
          f"({s.rows / secs:,.0f} ads/s), {s.templates:,} templates, {s.networks:,} networks; "
          f"peak RSS main {me:,.0f} MB (before clustering {before[0]:,.0f} MB), workers {kids:,.0f} MB")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=None, help="scale run with about N generated ads")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if args.n:
        scale(args.n, args.seed)
    else:
        quality(args.seed)


if __name__ == "__main__":
    main()
