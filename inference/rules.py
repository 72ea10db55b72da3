"""Indicator rules: the versioned lexicon matched with spaCy, negation, and entity-based rules.

Rules are features and evidence, not the verdict: the ad-level risk and the final indicator
decisions come from the model (see `inference.model`). Every hit carries its span in
original offsets, so `text[hit.start:hit.end]` is the evidence exactly as posted.

The lexicon is the `lexicon.json` of every language pack (`inference/lang/<code>/`, see
`langpacks.py`): per indicator, hand-written `phrases` and `mined` ones (from training-split
evidence, see `training/corpus/mine_lexicon.py`), plus `negation_cues` and `exclude` phrases.
Every pack's lexicon is matched on every ad, because code-mixed ads are the rule, not the
exception. The skilled-work and female cues of the entity rules come from the packs too.
`lexicon_fingerprint()` (version plus content hash) is stored in every trained model, so a
model trained on one lexicon refuses to load with another.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache

import spacy
from nigehbaan.inference.entities import fold_regex
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.langpacks import LanguagePack, on_change, packs
from nigehbaan.inference.normalize import Normalized, normalize
from spacy.matcher import PhraseMatcher

LEXICON_VERSION = "nigehbaan.lexicon.v1"
EXCLUDE = "_exclude"
_CLAUSE_BREAK = {".", ",", ";", "!", "?", "|", "-", ":", "/", "(", ")", "\n"}
_NEG_WINDOW_BEFORE, _NEG_WINDOW_AFTER = 4, 3
# Pay at or above this (PKR per month) for work that names no skill is "unrealistic"; about 4x
# the 2026 minimum wage and above what Gulf labour contracts registered with BE&OE pay.
UNREALISTIC_PKR_PER_MONTH = 250_000


@dataclass(frozen=True)
class Hit:
    """One rule hit: an indicator, its original-offset span, the rule and whether negated."""

    indicator: str
    start: int
    end: int
    rule: str
    negated: bool = False
    multiword: bool = False


@dataclass(frozen=True)
class Lexicon:
    version: str
    sha256: str
    matcher: PhraseMatcher
    negatable: frozenset
    negation_cues: frozenset
    nlp: spacy.language.Language


def _lexicon_texts(langs: tuple[LanguagePack, ...] | None = None) -> list[tuple[str, str]]:
    """(`<code>.json`, lexicon text) per pack, in pack order (the names the hash has always used)."""
    return [(f"{p.code}.json", p.texts["lexicon.json"]) for p in (langs or packs())]


def lexicon_fingerprint() -> dict:
    """Version and SHA-256 of every pack's lexicon; stored in model contracts."""
    digest = hashlib.sha256()
    for name, text in _lexicon_texts():
        digest.update(name.encode())
        digest.update(text.encode("utf-8"))
    return {"version": LEXICON_VERSION, "sha256": digest.hexdigest()}


def load_lexicon() -> Lexicon:
    """Compile the packs' lexicons into one PhraseMatcher (cached per set of packs)."""
    return _compile_lexicon(packs())


@lru_cache(maxsize=4)
def _compile_lexicon(langs: tuple[LanguagePack, ...]) -> Lexicon:
    nlp = spacy.blank("xx")
    matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
    negatable: set[str] = set()
    cues: set[str] = set()
    patterns: dict[str, list] = {ind: [] for ind in INDICATORS}
    seen: dict[str, set] = {ind: set() for ind in INDICATORS}
    for name, text in _lexicon_texts(langs):
        data = json.loads(text)
        cues.update(normalize(c).text for c in data["negation_cues"])
        unknown = set(data["indicators"]) - set(INDICATORS)
        if unknown:
            raise ValueError(f"lexicon {name}: unknown indicator ids {sorted(unknown)}")
        for ind, spec in data["indicators"].items():
            if spec.get("negatable"):
                negatable.add(ind)
            for phrase in spec["phrases"] + spec.get("mined", []):
                key = normalize(phrase).text
                if key and key not in seen[ind]:
                    seen[ind].add(key)
                    patterns[ind].append(nlp.make_doc(key))
    for ind, docs in patterns.items():
        if docs:
            matcher.add(ind, docs)
    excludes = [nlp.make_doc(normalize(p).text) for name, text in _lexicon_texts(langs)
                for p in json.loads(text).get("exclude", [])]
    if excludes:
        matcher.add(EXCLUDE, excludes)
    digest = hashlib.sha256()
    for name, text in _lexicon_texts(langs):
        digest.update(name.encode())
        digest.update(text.encode("utf-8"))
    fp = {"version": LEXICON_VERSION, "sha256": digest.hexdigest()}
    return Lexicon(fp["version"], fp["sha256"], matcher, frozenset(negatable), frozenset(cues), nlp)


def match_lexicon(norms: list[Normalized]) -> list[list[Hit]]:
    """Lexicon hits for a batch of normalised ads (one list of hits per ad)."""
    lex = load_lexicon()
    docs = lex.nlp.tokenizer.pipe((n.text for n in norms), batch_size=256)
    return [_doc_hits(doc, norm, lex) for doc, norm in zip(docs, norms, strict=True)]


def _doc_hits(doc, norm: Normalized, lex: Lexicon) -> list[Hit]:
    matches = lex.matcher(doc)
    if not matches:
        return []
    vocab = doc.vocab.strings
    # Phrases that merely contain a cue word ("فیس بک" is Facebook, not a fee) mask it.
    masked = [(s, e) for mid, s, e in matches if vocab[mid] == EXCLUDE]
    if masked:
        matches = [
            (mid, s, e) for mid, s, e in matches
            if vocab[mid] != EXCLUDE and not any(ms < e and s < me for ms, me in masked)
        ]
    # Keep, per indicator, the longest match among overlapping ones ("processing fee" over "fee").
    best: dict[tuple[str, int], tuple[int, int]] = {}
    for match_id, start, end in matches:
        ind = vocab[match_id]
        key = (ind, start)
        if key not in best or end > best[key][1]:
            best[key] = (start, end)
    spans = sorted(((ind, s, e) for (ind, _), (s, e) in best.items()), key=lambda x: (x[1], -x[2]))
    # A span inside one already kept for its indicator is dropped. Spans come by start, so every
    # kept span starts at or before this one: "inside" is "ends no later than the furthest kept
    # end" (one comparison, not one per kept span: thousands of repeated cues were quadratic).
    hits, furthest = [], {}
    for ind, s, e in spans:
        if e <= furthest.get(ind, -1):
            continue
        furthest[ind] = max(e, furthest.get(ind, -1))
        negated = ind in lex.negatable and _negated(doc, s, e, lex.negation_cues)
        span = doc[s:e]
        start, end = norm.to_original(span.start_char, span.end_char)
        hits.append(Hit(ind, start, end, "lexicon:" + span.text, negated, e - s > 1))
    return hits


def _negated(doc, start: int, end: int, cues: frozenset) -> bool:
    if any(t.text in cues for t in doc[start:end]):
        return False  # the cue is part of the phrase itself ("no protector", "chutti nahi")
    i = start - 1
    while i >= max(0, start - _NEG_WINDOW_BEFORE) and doc[i].text not in _CLAUSE_BREAK:
        if doc[i].text in cues:
            return True
        i -= 1
    j = end
    while j < min(len(doc), end + _NEG_WINDOW_AFTER) and doc[j].text not in _CLAUSE_BREAK:
        if doc[j].text in cues:
            return True
        j += 1
    return False


@lru_cache(maxsize=4)
def _cue_res(langs: tuple[LanguagePack, ...]) -> tuple[re.Pattern, re.Pattern]:
    """(skilled work, female) cue regexes: every pack's `entities.json` cues, searched anywhere."""
    skilled = [re.escape(normalize(w).text) for p in langs for w in p.entities.get("skilled_work_cues", [])]
    female = [fold_regex(c) for p in langs for c in p.entities.get("female_cues", [])]
    return re.compile("|".join(skilled) or "(?!)"), re.compile("|".join(female) or "(?!)")


def entity_hits(norm_text: str, entities: dict) -> list[Hit]:
    """Rules on extracted entities: high pay, child ages, narrow ages for young women."""
    hits: list[Hit] = []
    text = norm_text
    skilled_re, female_re = _cue_res(packs())
    # The cue searches scan the whole text, so each runs only when an entity needs its answer.
    skilled = None
    for m in entities["money"]:
        per_month = m.get("pkr_per_month")
        if per_month and per_month >= UNREALISTIC_PKR_PER_MONTH:
            if skilled is None:
                skilled = bool(skilled_re.search(text))
            if not skilled:
                hits.append(Hit("unrealistic_pay", m["start"], m["end"], "entity:pay>=250k/month",
                                multiword=True))
    female = None
    for a in entities["ages"]:
        s, e = a["start"], a["end"]
        if a["min"] < 18:
            hits.append(Hit("minor_targeted", s, e, "entity:age<18", multiword=True))
        elif a["max"] <= 30 and a["max"] - a["min"] <= 12:
            if female is None:
                female = bool(female_re.search(text))
            if female:
                hits.append(Hit("gender_age_targeting", s, e, "entity:young-women-age-range",
                                multiword=True))
    return hits



def _drop_caches() -> None:
    _compile_lexicon.cache_clear()
    _cue_res.cache_clear()


on_change(_drop_caches)
