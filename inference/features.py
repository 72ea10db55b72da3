"""Feature extraction shared by training and scoring (so the two can never drift apart).

Two blocks:
- hashed character and word n-grams of the normalised text (stateless hashing: no vocabulary
  to fit, store or unpickle; the same text always gives the same columns);
- a small dense block of rule and entity features (`rule_feature_names()`), ending with one
  column per language class of the registered language packs (`langpacks.lang_classes()`).

`FEATURES_VERSION` names the code's behaviour; `feature_spec()` lists the settings that shape
the features, and `fingerprint.py` hashes it into every model contract, so a changed setting
is refused at load even when nobody bumped the version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.langpacks import lang_classes
from nigehbaan.inference.rules import Hit
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

FEATURES_VERSION = "nigehbaan.features.v1"
# Distinct n-grams of an ad of about 500 characters; longer texts are damped (_damp_long).
TYPICAL_CHAR_NGRAMS = 1500
TYPICAL_WORD_NGRAMS = 160
CHAR_FEATURES = 2**18
WORD_FEATURES = 2**18

_char = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(2, 5),
    n_features=CHAR_FEATURES,
    alternate_sign=False,
    norm="l2",
    lowercase=False,
)
_word = HashingVectorizer(
    analyzer="word",
    ngram_range=(1, 2),
    n_features=WORD_FEATURES,
    token_pattern=r"(?u)\b\w+\b",
    alternate_sign=False,
    norm="l2",
    lowercase=False,
)

_BASE_FEATURE_NAMES: tuple[str, ...] = (
    *(f"hit:{ind}" for ind in INDICATORS),
    *(f"strong:{ind}" for ind in INDICATORS),
    *(f"negated:{ind}" for ind in INDICATORS),
    "n_indicators_hit",
    "has_phone",
    "has_whatsapp",
    "many_phones",
    "has_email",
    "has_url",
    "has_handle",
    "has_licence",
    "log_max_pay",
    "pay_ge_250k",
    "has_age",
    "min_age_lt_18",
    "foreign_place",
    "pk_place",
    "n_foreign_countries",
    "log_length",
)


def rule_feature_names() -> tuple[str, ...]:
    """The dense block's column names: rule and entity features, then `lang:<class>` for every
    language class of the packs registered now (sorted codes, `mixed`, `und`)."""
    return (*_BASE_FEATURE_NAMES, *(f"lang:{lang}" for lang in lang_classes()))


def n_features() -> int:
    """Columns of `feature_matrix` with the packs registered now."""
    return CHAR_FEATURES + WORD_FEATURES + len(rule_feature_names())


# With the built-in packs (en, ur, ur-Latn); code that may run with extra packs calls the
# functions above.
RULE_FEATURE_NAMES = rule_feature_names()
N_DENSE = len(RULE_FEATURE_NAMES)
N_FEATURES = CHAR_FEATURES + WORD_FEATURES + N_DENSE
_INDEX = {ind: i for i, ind in enumerate(INDICATORS)}


_SET_PARAMS = ("analyzer", "ngram_range", "n_features", "alternate_sign", "norm", "lowercase")


def feature_spec() -> dict:
    """The settings that shape the features (hashed into model contracts by fingerprint.py)."""
    return {
        "version": FEATURES_VERSION,
        # Only the parameters set here: an sklearn release that adds a default changes nothing.
        "char": {k: repr(_char.get_params()[k]) for k in _SET_PARAMS},
        "word": {k: repr(_word.get_params()[k]) for k in (*_SET_PARAMS, "token_pattern")},
        "typical_ngrams": [TYPICAL_CHAR_NGRAMS, TYPICAL_WORD_NGRAMS],
        "dense": list(_BASE_FEATURE_NAMES),
    }


@dataclass
class AdAnalysis:
    """Everything the rules found in one ad; the model turns it into scores."""

    norm_text: str
    lang: str
    entities: dict
    hits: list[Hit]
    # The `normalize.Normalized` the text was analysed from (its offset map turns model spans
    # back into original offsets, `inference.spans`); None where an analysis is built by hand.
    norm: Any = field(default=None, repr=False, compare=False)


def dense_features(a: AdAnalysis, langs: tuple[str, ...] | None = None) -> np.ndarray:
    """The rule/entity block for one ad, in `rule_feature_names()` order."""
    langs = langs or lang_classes()
    n = len(INDICATORS)
    v = np.zeros(len(_BASE_FEATURE_NAMES) + len(langs), dtype=np.float32)
    for h in a.hits:
        i = _INDEX[h.indicator]
        if h.negated:
            v[2 * n + i] = 1.0
        else:
            v[i] = min(v[i] + 1.0 / 3, 1.0)
            if h.multiword:
                v[n + i] = 1.0
    k = 3 * n
    # Distinct indicators with a multi-word (specific) hit: single generic words ("fee",
    # "شادی") appear in any long text and would make every news article look like a lead.
    v[k] = float((v[n : 2 * n] > 0).sum()) / 6.0
    e = a.entities
    pays = [m["pkr_per_month"] for m in e["money"] if m.get("pkr_per_month")]
    ages = [x["min"] for x in e["ages"]]
    foreign = {x["country"] for x in e["locations"] if x["country"] not in ("PK",)}
    v[k + 1 : k + 16] = [
        bool(e["phones"]),
        bool(e["whatsapp"]),
        len(e["phones"]) >= 2,
        bool(e["emails"]),
        bool(e["urls"]),
        bool(e["handles"]),
        bool(e["licences"]),
        math.log10(max(pays)) / 7 if pays else 0.0,
        bool(pays) and max(pays) >= 250_000,
        bool(ages),
        bool(ages) and min(ages) < 18,
        bool(foreign),
        any(x["country"] == "PK" for x in e["locations"]),
        min(len(foreign), 4) / 4,
        math.log10(len(a.norm_text) + 1) / 4,
    ]
    v[k + 16 + langs.index(a.lang)] = 1.0
    return v


def _damp_long(block: sp.csr_matrix, typical: int) -> sp.csr_matrix:
    """Scale rows with more than `typical` distinct n-grams by sqrt(typical / n), in place.

    With L2 normalisation a text's score grows like sqrt(#n-grams) times its mean n-gram
    weight, so a long news article drifts towards "risky" on general vocabulary alone. Ads up
    to `typical` n-grams (about 500 characters) are untouched; longer texts score like an
    average over their n-grams instead of a sum.
    """
    nnz = np.diff(block.indptr)
    scale = np.sqrt(typical / np.maximum(nnz, typical)).astype(np.float32)
    # In place, value for value what `sp.diags(scale) @ block` gave (each value times its row's
    # float32 scale, in float64), but the indices stay sorted: the product left them unsorted
    # and the float32 cast in `feature_matrix` then sorted the whole matrix again.
    block.data *= np.repeat(scale, nnz)
    return block


# `char_wb` n-grams never cross a white-space-separated word, so a text's hashed counts are the
# sum of its words' counts. Each distinct word is cut and hashed once and kept here (word ->
# (column indices, counts)); the cache is emptied when it holds this many words (about 30 MB),
# so memory stays flat however long the file.
_CHAR_CACHE_WORDS = 100_000
_char_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_char_hasher = FeatureHasher(
    n_features=CHAR_FEATURES, input_type="string", dtype=_char.dtype, alternate_sign=False
)
_char_ngrams = _char.build_analyzer()


def _char_block(texts: list[str]) -> sp.csr_matrix:
    """`_char.transform(texts)`, value for value, from per-word cached hashes."""
    words_of = [t.split() for t in texts]
    new = list({w for words in words_of for w in words if w not in _char_cache})
    if len(_char_cache) + len(new) > _CHAR_CACHE_WORDS:
        _char_cache.clear()
        new = list({w for words in words_of for w in words})
    if new:
        per_word = _char_hasher.transform(_char_ngrams(w) for w in new).tocsr()
        ptr, ind, val = per_word.indptr, per_word.indices, per_word.data
        for k, w in enumerate(new):
            _char_cache[w] = (ind[ptr[k] : ptr[k + 1]], val[ptr[k] : ptr[k + 1]])
    idx, vals, indptr = [], [], [0]
    for words in words_of:
        n = indptr[-1]
        for w in words:
            i, v = _char_cache[w]
            idx.append(i)
            vals.append(v)
            n += len(i)
        indptr.append(n)
    ind_all = np.concatenate(idx) if idx else np.zeros(0, np.int32)
    val_all = np.concatenate(vals) if vals else np.zeros(0, _char.dtype)
    X = sp.csr_matrix(
        (val_all, ind_all, np.asarray(indptr, dtype=np.int64)), shape=(len(texts), CHAR_FEATURES),
        dtype=_char.dtype,
    )
    X.sum_duplicates()  # sorts the indices, as FeatureHasher does
    return normalize(X, norm=_char.norm, copy=False)


def feature_matrix(analyses: list[AdAnalysis]) -> sp.csr_matrix:
    """The full sparse feature matrix (char n-grams | word n-grams | dense block)."""
    texts = [a.norm_text for a in analyses]
    langs = lang_classes()
    width = len(_BASE_FEATURE_NAMES) + len(langs)
    dense = np.vstack([dense_features(a, langs) for a in analyses]) if analyses else np.zeros((0, width))
    return sp.hstack(
        [
            _damp_long(_char_block(texts), TYPICAL_CHAR_NGRAMS),
            _damp_long(_word.transform(texts), TYPICAL_WORD_NGRAMS),
            sp.csr_matrix(dense),
        ],
        format="csr",
    ).astype(np.float32)
