"""Templates: the re-posts of one ad, found as near-duplicates of its normalised text.

Posters re-post an ad with small edits: a new number or city, emoji, Urdu or spaced digits,
zero-width characters, homoglyphs, case, a "Share plz" prefix, a dropped or moved line.
Normalisation (`inference.normalize`) already folds the characters; here

1. `ad_shingles(norm_text)` masks what changes between re-posts (every number-like run
   becomes `#`, a known place `_place_`, e-mails / URLs / handles disappear), splits the text
   into word tokens (any script with spaces: Urdu, Roman Urdu, English, mixed; emoji and
   punctuation drop out) and hashes word 3-grams (CRC-32, stable across runs and machines);
2. `template_labels(shingle_sets)` collapses identical shingle sets, drops **boilerplate**
   shingles (in more than `max(df_min_cap, df_frac * docs)` distinct ads: "send cv on
   whatsapp", a platform footer), MinHashes the rest (datasketch's legacy permutations,
   computed for all ads at once with numpy), finds candidate pairs with LSH banding and keeps
   a pair only when verified on the exact shingle sets, each shingle weighted by its IDF
   (common phrases count little, what is particular to an ad much): weighted Jaccard >=
   `jaccard`, or weighted containment >= `containment` for a dropped line, with at least
   `min_shared` non-boilerplate shingles in common. Verified pairs are joined by connected
   components.

Ads with nothing left after the boilerplate cut are grouped only with exact copies, so
boilerplate alone never merges two ads.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

# datasketch's legacy MinHash: h -> ((a * h + b) mod (2^61 - 1)) & (2^32 - 1), uint64 wrap.
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)

_CONTACT_RE = re.compile(
    r"[a-z0-9._%+\-]+@[a-z0-9\-.]+|(?:https?://|www\.)\S+|(?<![\w.])@\w+|t\.me/\w+"
)
# A number-like run: digits with separators, or digit groups split by single spaces.
_NUM_RE = re.compile(r"\d(?:[\d.,:/+\-]|\s(?=\d))*")
_TOKEN_RE = re.compile(r"#|\w+")
# Sentence and line ends (not the dot of "1.5" or "www.x"): shingles do not cross them.
_SENTENCE_RE = re.compile(r"[.!?\u06d4\u061f|]+(?:\s+|$)|\n+")
# Shingles whose permuted hashes are computed at once (x num_perm x 8 bytes: 64 MB).
_CHUNK_SHINGLES = 65536


@dataclass(frozen=True)
class TemplateConfig:
    """How near two ads must be to be one template (defaults measured on
    benchmarks/campaigns.py; see the README)."""

    shingle_size: int = 3  # words per shingle
    num_perm: int = 128  # MinHash permutations
    bands: int = 32  # LSH bands (rows per band = num_perm // bands)
    jaccard: float = 0.5  # verified when the IDF-weighted Jaccard reaches this ...
    containment: float = 0.8  # ... or the smaller ad's share found in the larger (dropped line)
    min_containment_size: int = 5  # containment alone needs this many shingles in the smaller
    min_shared: int = 3  # non-boilerplate shingles in common (fewer if the smaller has fewer)
    df_min_cap: int = 200  # a shingle in more distinct ads than this is boilerplate ...
    df_frac: float = 0.01  # ... or in more than this share of them, whichever is larger
    seed: int = 1

    def __post_init__(self):
        if self.num_perm % self.bands:
            raise ValueError(
                f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})"
            )
        if not 0 < self.jaccard <= 1 or not 0 < self.containment <= 1:
            raise ValueError("jaccard and containment must be in (0, 1]")


@lru_cache(maxsize=1)
def _place_re() -> re.Pattern:
    from nigehbaan.inference.entities import places_regex

    return places_regex()


def masked_tokens(norm_text: str) -> list[str]:
    """The word tokens of a normalised ad with numbers, places and contacts masked."""
    text = _CONTACT_RE.sub(" ", norm_text)
    text = _NUM_RE.sub(" # ", text)
    text = _place_re().sub(" _place_ ", text)
    out: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        if tok == "#" and out and out[-1] == "#":
            continue  # "0321 447 1985" and "03214471985" alike
        out.append(tok)
    return out


def ad_shingles(norm_text: str, size: int = 3) -> np.ndarray:
    """Sorted unique CRC-32 hashes (uint32) of the masked word `size`-grams of an ad, taken
    within each sentence or line (a moved or dropped line leaves the others' shingles as they
    were); a sentence shorter than `size` words is one shingle."""
    grams: list[str] = []
    for part in _SENTENCE_RE.split(norm_text):
        toks = masked_tokens(part)
        if not toks:
            continue
        if len(toks) < size:
            grams.append(" ".join(toks))
        else:
            grams.extend(" ".join(toks[i : i + size]) for i in range(len(toks) - size + 1))
    if not grams:
        return np.empty(0, np.uint32)
    return np.unique(np.fromiter((zlib.crc32(g.encode()) for g in grams), np.uint32, len(grams)))


def permutations(cfg: TemplateConfig) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's (a, b) permutation parameters for this config (legacy scheme)."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, scheme="legacy").permutations
    return a.astype(np.uint64), b.astype(np.uint64)


def signatures(flat: np.ndarray, offsets: np.ndarray, cfg: TemplateConfig) -> np.ndarray:
    """MinHash signatures (docs x num_perm, uint32) of the non-empty shingle sets
    flat[offsets[i]:offsets[i+1]]; equal to datasketch's MinHash.update_batch on the same
    hash values."""
    a, b = permutations(cfg)
    n = len(offsets) - 1
    out = np.empty((n, cfg.num_perm), np.uint32)
    start = 0
    while start < n:
        # as many docs as fit in about 64k shingles
        stop = int(np.searchsorted(offsets, offsets[start] + _CHUNK_SHINGLES, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        lo, hi = offsets[start], offsets[stop]
        hv = flat[lo:hi].astype(np.uint64)[:, None]
        with np.errstate(over="ignore"):
            phv = ((hv * a + b) % _MERSENNE) & _MAX_HASH
        out[start:stop] = np.minimum.reduceat(phv, offsets[start:stop] - lo, axis=0)
        start = stop
    return out


def _band_pairs(sig: np.ndarray, bands: int) -> np.ndarray:
    """Candidate pairs (i, j), i < j, int64: per band, every doc paired with the first doc of
    its bucket (a star, linear in the docs; other bands and transitivity cover the rest)."""
    rows = sig.shape[1] // bands
    pairs = []
    mult = np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        key = np.zeros(len(sig), np.uint64)
        with np.errstate(over="ignore"):
            for c in range(band * rows, (band + 1) * rows):
                key = (key ^ sig[:, c].astype(np.uint64)) * mult
        order = np.argsort(key, kind="stable")
        ks = key[order]
        start = np.ones(len(ks), bool)
        start[1:] = ks[1:] != ks[:-1]
        leader = order[np.maximum.accumulate(np.where(start, np.arange(len(ks)), 0))]
        member = ~start
        if member.any():
            pairs.append(np.stack([leader[member], order[member]], axis=1))
    if not pairs:
        return np.empty((0, 2), np.int64)
    p = np.concatenate(pairs).astype(np.int64)
    p.sort(axis=1)
    return np.unique(p, axis=0)


def _verify(pairs: np.ndarray, x: csr_matrix, cfg: TemplateConfig) -> np.ndarray:
    """The candidate pairs that are near-duplicates: exact IDF-weighted Jaccard or containment
    on the rows of `x` (docs x shingles, data = the shingle's IDF weight), with enough shingles
    in common. Weighting keeps common phrases that escaped the boilerplate cut (a footer in a
    third of a small file) from outweighing what is particular to each ad."""
    keep = np.zeros(len(pairs), bool)
    xb = x.copy()
    xb.data = np.ones_like(xb.data)
    total = np.asarray(x.sum(axis=1)).ravel()
    count = np.diff(x.indptr)
    for lo in range(0, len(pairs), 100_000):
        p = pairs[lo : lo + 100_000]
        a, b = p[:, 0], p[:, 1]
        inter = np.asarray(x[a].multiply(xb[b]).sum(axis=1)).ravel()
        shared = np.asarray(xb[a].multiply(xb[b]).sum(axis=1)).ravel()
        ta, tb = total[a], total[b]
        jac = inter / np.maximum(ta + tb - inter, 1e-9)
        contain = inter / np.maximum(np.minimum(ta, tb), 1e-9)
        small = np.minimum(count[a], count[b])
        ok = (small >= 2) & (shared >= np.minimum(cfg.min_shared, small))
        ok &= (jac >= cfg.jaccard) | ((contain >= cfg.containment) & (small >= cfg.min_containment_size))
        keep[lo : lo + len(p)] = ok
    return pairs[keep]


def template_labels(shingle_sets: list[np.ndarray], cfg: TemplateConfig | None = None):
    """A template label (0..k-1, numbered by first ad) for each ad, and the boilerplate count.

    `shingle_sets[i]` is `ad_shingles` of ad i. Returns (labels int64 array, n_boilerplate).
    """
    cfg = cfg or TemplateConfig()
    n = len(shingle_sets)
    if n == 0:
        return np.empty(0, np.int64), 0
    # identical shingle sets are one doc
    doc_of_key: dict[bytes, int] = {}
    doc_of_ad = np.empty(n, np.int64)
    docs: list[np.ndarray] = []
    for i, s in enumerate(shingle_sets):
        key = s.tobytes()
        d = doc_of_key.get(key)
        if d is None:
            d = doc_of_key[key] = len(docs)
            docs.append(s)
        doc_of_ad[i] = d
    del doc_of_key
    sizes = np.fromiter((len(s) for s in docs), np.int64, len(docs))
    flat = np.concatenate(docs) if docs else np.empty(0, np.uint32)
    # boilerplate: shingles in very many distinct docs
    uniq, counts = np.unique(flat, return_counts=True)
    cap = max(cfg.df_min_cap, cfg.df_frac * len(docs))
    boiler = uniq[counts > cap]
    if len(boiler):
        keep = ~np.isin(flat, boiler, assume_unique=False)
        owner = np.repeat(np.arange(len(docs)), sizes)
        flat = flat[keep]
        sizes = np.bincount(owner[keep], minlength=len(docs))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    live = np.flatnonzero(sizes > 0)
    edges = np.empty((0, 2), np.int64)
    if len(live) > 1:
        live_offsets = np.concatenate([[0], np.cumsum(sizes[live])])
        live_flat = flat if len(live) == len(docs) else np.concatenate(
            [flat[offsets[d] : offsets[d + 1]] for d in live]
        )
        sig = signatures(live_flat, live_offsets, cfg)
        pairs = _band_pairs(sig, cfg.bands)
        del sig
        vocab, col, df = np.unique(live_flat, return_inverse=True, return_counts=True)
        idf = np.log1p(len(docs) / df).astype(np.float32)
        x = csr_matrix((idf[col.ravel()], col.ravel(), live_offsets), shape=(len(live), len(vocab)))
        pairs = _verify(pairs, x, cfg)
        edges = live[pairs] if len(pairs) else edges
    graph = coo_matrix(
        (np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(len(docs), len(docs))
    )
    _, comp = connected_components(graph, directed=False)
    return renumber(comp[doc_of_ad]), len(boiler)


def renumber(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, 2, ... in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]
