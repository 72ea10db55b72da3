"""Never score the same text twice: the two caches of `nigehbaan score`.

Scraped feeds are full of re-posts. Two bounded LRU caches, both keyed by a BLAKE2b-128 hash:

1. **Re-posts of the exact text** (`RepostCache`, in the process that reads and writes: the
   one that sees every row, whichever worker scored it). Key: the hash of the ad's `text`.
   Value: the scored fields of the first copy's row (`risk`, `band`, `lang`, `indicators`,
   `entities`, ...). A re-post is then a lookup: it is not normalised, not sent to a worker,
   and its row is the first copy's scored fields on its own record (its own `id`, its own
   pass-through fields, its own `warnings`), exactly what scoring it would give, since every
   scored field is a function of the text and the model alone. `--resume` refills it from
   the rows already in a JSONL output (same model only), so a resumed job keeps its hits.
2. **The same normalised text** (`norm_cache`, in each scoring process). Key: the hash of the
   normalised text (what the model reads). Value: the model's outputs for it (probabilities
   and text-kind probabilities). A copy that differs only in what normalisation folds away
   (emoji, zero-width characters, Urdu digits, case, spacing) skips the features and the model
   (most of the cost; the encoder for the default model); its rules and entities are still
   matched, since their evidence offsets point into its own text.

`$NIGEHBAAN_SCORE_CACHE=0` turns both off (benchmarks that time the same texts twice).

Memory: `REPOST_ENTRIES` (20,000) rows (about 2-3 kB each: some 50 MB at the cap) and, per
scoring process, at most `NORM_BYTES` (64 MB) of model outputs (a few hundred bytes an ad,
more with a span head's token probabilities); the least recently used go first.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict

from nigehbaan.inference.schema import SCORED_FIELDS

REPOST_ENTRIES = 20_000
NORM_ENTRIES = 200_000
NORM_BYTES = 64 << 20
# Set per row from its own record, never copied from another row.
_OWN_FIELDS = frozenset({"id", "warnings", "input_lang"})
SCORED_NAMES = frozenset(SCORED_FIELDS) - _OWN_FIELDS


def enabled() -> bool:
    """Whether the caches are on (`$NIGEHBAAN_SCORE_CACHE`, default on; "0" turns them off)."""
    return os.environ.get("NIGEHBAAN_SCORE_CACHE", "1") != "0"


def text_key(text: str) -> bytes:
    """The cache key of a text: BLAKE2b, 16 bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class LRU:
    """A dict with a size cap; a lookup refreshes an entry, the oldest goes when full."""

    def __init__(self, max_entries: int, max_bytes: int | None = None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # with it, values are tuples of arrays, sized by nbytes
        self.bytes = 0
        self.data: OrderedDict = OrderedDict()

    def lookup(self, key):
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def store(self, key, value) -> None:
        if self.max_entries <= 0:
            return
        if self.max_bytes is not None:
            if key in self.data:
                self.bytes -= _nbytes(self.data[key])
            self.bytes += _nbytes(value)
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.max_entries or (
            self.max_bytes is not None and self.bytes > self.max_bytes and len(self.data) > 1
        ):
            _, old = self.data.popitem(last=False)
            if self.max_bytes is not None:
                self.bytes -= _nbytes(old)

    def __len__(self) -> int:
        return len(self.data)


def _nbytes(value: tuple) -> int:
    return 100 + sum(getattr(v, "nbytes", 0) for v in value)


class RepostCache(LRU):
    """Exact text -> the scored fields of its row (see the module docstring)."""

    def __init__(self, max_entries: int = REPOST_ENTRIES):
        super().__init__(max_entries)

    def remember(self, record: dict, row: dict) -> None:
        """Keep a freshly scored row (not an error row) under its record's text."""
        if row.get("error") is not None:
            return
        text = record.get("text")
        if not isinstance(text, str):
            return
        # The fields scoring set: the schema's, and any a newer scorer adds beyond the input's.
        fields = {k: v for k, v in row.items()
                  if k not in _OWN_FIELDS and (k in SCORED_NAMES or k not in record)}
        self.store(text_key(text), fields)

    def remember_output(self, row: dict, model_info: dict) -> None:
        """Keep a row read back from an output file (resume); only rows of this model."""
        if row.get("error") is not None or row.get("model") != model_info:
            return
        text = row.get("text")
        if isinstance(text, str) and "risk" in row:
            self.store(text_key(text), {k: row[k] for k in SCORED_FIELDS
                                        if k in row and k not in _OWN_FIELDS})


def row_from_cache(record: dict, fields: dict, warnings: list[str]) -> dict:
    """The row scoring `record` would give, from the scored fields of an earlier copy of its
    text (as `scorer._build_row` builds it: the record, `lang` kept as `input_lang`, the id,
    then the scored fields)."""
    from nigehbaan.inference.scorer import derive_id

    row = dict(record)
    if row.get("lang") is not None:
        row["input_lang"] = row.pop("lang")
    rid = row.get("id")
    row["id"] = str(rid) if rid not in (None, "") else derive_id(record["text"])
    row.update(fields)
    row["warnings"] = warnings
    return row


# Per scoring process: hits of the normalised-text cache (reported back with each batch).
STATS = {"norm_hits": 0}
# Per scoring process: normalised-text key -> the model's outputs for one ad (see `predict_cached`),
# one cache per loaded model.
_NORM: dict[int, LRU] = {}


def norm_cache(model) -> LRU:
    cache = _NORM.get(id(model))
    if cache is None or getattr(cache, "model", None) is not model:
        cache = _NORM[id(model)] = LRU(NORM_ENTRIES, NORM_BYTES)
        cache.model = model  # type: ignore[attr-defined]
    return cache


def predict_cached(model, analyses: list, predict) -> tuple:
    """`predict(analyses)` (a model's `predict_with_kinds` or the like: a tuple of per-row
    arrays, or None for a part the model lacks), each normalised text predicted once per
    process: one seen before, or twice in this batch, is looked up. Rows are predicted
    independently of their batch (tested for the encoder, bitwise), so the answers are the
    same as predicting the whole batch."""
    if not enabled() or not analyses:
        return predict(analyses)
    cache = norm_cache(model)
    keys = [text_key(a.norm_text) for a in analyses]
    first: dict[bytes, int] = {}
    fresh: dict[bytes, tuple] = {}  # this batch's answers, whatever the cache evicts meanwhile
    for i, k in enumerate(keys):
        if k not in first and k not in fresh:
            hit = cache.lookup(k)
            if hit is None:
                first[k] = i
            else:
                fresh[k] = hit
    if first:
        todo = list(first.values())
        parts = predict([analyses[i] for i in todo])
        for j, i in enumerate(todo):
            fresh[keys[i]] = tuple(None if p is None else p[j] for p in parts)
            cache.store(keys[i], fresh[keys[i]])
    STATS["norm_hits"] += len(keys) - len(first)
    got = [fresh[k] for k in keys]
    return tuple(
        None if got[0][p] is None else [g[p] for g in got] for p in range(len(got[0]))
    )
