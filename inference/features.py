"""Feature extraction shared by training and scoring (so the two can never drift apart).

Two blocks:
- hashed character and word n-grams of the normalised text (stateless hashing: no vocabulary
  to fit, store or unpickle; the same text always gives the same columns);
- a small dense block of rule and entity features (`RULE_FEATURE_NAMES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from nigehbaan.inference.labels import INDICATORS, LANGS
from nigehbaan.inference.rules import Hit
from sklearn.feature_extraction.text import HashingVectorizer

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

RULE_FEATURE_NAMES: tuple[str, ...] = (
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
    *(f"lang:{lang}" for lang in LANGS),
)
N_DENSE = len(RULE_FEATURE_NAMES)
_INDEX = {ind: i for i, ind in enumerate(INDICATORS)}
N_FEATURES = CHAR_FEATURES + WORD_FEATURES + N_DENSE


@dataclass
class AdAnalysis:
    """Everything the rules found in one ad; the model turns it into scores."""

    norm_text: str
    lang: str
    entities: dict
    hits: list[Hit]


def dense_features(a: AdAnalysis) -> np.ndarray:
    """The rule/entity block for one ad, in `RULE_FEATURE_NAMES` order."""
    n = len(INDICATORS)
    v = np.zeros(N_DENSE, dtype=np.float32)
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
    v[k + 16 + LANGS.index(a.lang)] = 1.0
    return v


def _damp_long(block: sp.csr_matrix, typical: int) -> sp.csr_matrix:
    """Scale rows with more than `typical` distinct n-grams by sqrt(typical / n).

    With L2 normalisation a text's score grows like sqrt(#n-grams) times its mean n-gram
    weight, so a long news article drifts towards "risky" on general vocabulary alone. Ads up
    to `typical` n-grams (about 500 characters) are untouched; longer texts score like an
    average over their n-grams instead of a sum.
    """
    nnz = np.diff(block.indptr)
    scale = np.sqrt(typical / np.maximum(nnz, typical)).astype(np.float32)
    return sp.diags(scale) @ block


def feature_matrix(analyses: list[AdAnalysis]) -> sp.csr_matrix:
    """The full sparse feature matrix (char n-grams | word n-grams | dense block)."""
    texts = [a.norm_text for a in analyses]
    dense = np.vstack([dense_features(a) for a in analyses]) if analyses else np.zeros((0, N_DENSE))
    return sp.hstack(
        [
            _damp_long(_char.transform(texts), TYPICAL_CHAR_NGRAMS),
            _damp_long(_word.transform(texts), TYPICAL_WORD_NGRAMS),
            sp.csr_matrix(dense),
        ],
        format="csr",
    ).astype(np.float32)
