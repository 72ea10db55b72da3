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
from functools import cached_property, lru_cache

import spacy
from nigehbaan.inference.entities import fold_regex
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.langpacks import LanguagePack, on_change, packs
from nigehbaan.inference.normalize import Normalized, normalize
from spacy.matcher import PhraseMatcher
from spacy.tokenizer import Tokenizer

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
    # The matcher's phrases as a prefix tree of token texts (see `_find_matches`): token ->
    # child node; a node where a phrase ends holds its labels under the key None.
    trie: dict
    straddle: _Straddle  # when `_tokens` hands a text to spaCy whole


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
    trie = _phrase_trie(matcher, nlp, [d for docs in patterns.values() for d in docs] + excludes)
    return Lexicon(fp["version"], fp["sha256"], matcher, frozenset(negatable), frozenset(cues), nlp,
                   trie, _straddle(nlp))


def _phrase_trie(matcher: PhraseMatcher, nlp, docs) -> dict:
    """The PhraseMatcher's phrases as nested dicts of token texts. Where several labels end at
    one node (a phrase listed under two indicators), they are kept in the order the
    PhraseMatcher reports them (its own order for that node, read off by matching the phrase
    itself), because the order of hits for one span follows it."""
    trie: dict = {}
    for doc in docs:
        node = trie
        for t in doc:
            node = node.setdefault(t.text, {})
        if None not in node:
            node[None] = tuple(
                nlp.vocab.strings[mid] for mid, s, e in matcher(doc) if s == 0 and e == len(doc)
            )
    return trie


def _straddle(nlp) -> _Straddle:
    """Where `_tokens`' run-by-run tokenisation could differ from spaCy's: a run whose last
    token is a, then one space, then a run whose first token is b, where a special case is cut
    by spaCy's affix rules into pieces ..., a, b, ... ("a." is "a" + ".", ":-)" is ":" + "-)"),
    as in "a ." or ": -)".

    spaCy looks for its special cases over the whole Doc after cutting it into runs. A special
    case split by a space is no special case (its text has the space), so nothing changes
    there, but such a match still hides a real special case it overlaps from spaCy's filter:
    the tokens of one run then depend on its neighbours. Texts holding such a pair go through
    spaCy's own tokenizer whole. A special case that itself mixes white space with other
    characters would break the run-by-run premise altogether: refused."""
    tok = nlp.tokenizer
    bare = Tokenizer(nlp.vocab, rules={}, prefix_search=tok.prefix_search,
                     suffix_search=tok.suffix_search, infix_finditer=tok.infix_finditer,
                     token_match=tok.token_match, url_match=tok.url_match)
    pairs = set()
    for rule in tok.rules:
        if any(c.isspace() for c in rule) and not rule.isspace():
            raise RuntimeError(f"spaCy tokenizer special case {rule!r} spans white space")
        pieces = [t.text for t in bare(rule)]
        pairs.update(zip(pieces, pieces[1:], strict=False))
    return _Straddle(frozenset(pairs), frozenset(a for a, _ in pairs), frozenset(b for _, b in pairs),
                     frozenset(tok.rules), max(map(len, tok.rules), default=0))


@dataclass(frozen=True)
class _Straddle:
    pairs: frozenset  # (a, b) as in `_straddle`
    lefts: frozenset  # every a
    rights: frozenset  # every b
    rules: frozenset  # spaCy's special cases
    longest: int  # characters of the longest one

    @cached_property
    def _rule_chars(self) -> tuple[frozenset, frozenset]:
        return frozenset(r[0] for r in self.rules), frozenset(r[-1] for r in self.rules)

    def ends(self, run: str, toks: tuple) -> tuple[tuple, tuple]:
        """(the b a run may start with, the a it may end with), as its first and last tokens
        before spaCy applies special cases. Those are its tokens after them unless a special
        case starts (ends) the run; then every b (a) that starts (ends) it is kept. Most runs
        start and end with a character no special case starts (ends) with: one set lookup."""
        firsts, lasts = self._rule_chars
        heads, tails = {toks[0]} & self.rights, {toks[-1]} & self.lefts
        size = min(len(run), self.longest) + 1
        if run[0] in firsts:
            pre = {run[:n] for n in range(1, size)}
            if pre & self.rules:
                heads = pre & self.rights
        if run[-1] in lasts:
            post = {run[-n:] for n in range(1, size)}
            if post & self.rules:
                tails = post & self.lefts
        return tuple(heads), tuple(tails)


def match_lexicon(norms: list[Normalized]) -> list[list[Hit]]:
    """Lexicon hits for a batch of normalised ads (one list of hits per ad)."""
    lex = load_lexicon()
    runs_of = [_RUN_RE.findall(n.text) for n in norms]
    _learn_runs({r for runs in runs_of for r in runs if r not in _run_cache}, lex)
    return [_text_hits(norm, runs, lex) for norm, runs in zip(norms, runs_of, strict=True)]


# spaCy's tokens of one run of white space or of non-white space (see `_tokens`): run ->
# (token texts, their offsets in the run, the straddle pieces it starts with and ends with).
# Emptied when it holds this many runs (a few tens of MB): memory stays flat in file size.
_RUN_CACHE_RUNS = 200_000
_run_cache: dict[str, tuple] = {}
_RUN_RE = re.compile(r"\s+|\S+")


def _remember(run: str, toks: tuple, offs: tuple, lex: Lexicon) -> tuple:
    entry = _run_cache[run] = (toks, offs, *lex.straddle.ends(run, toks))
    return entry


def _run_tokens(run: str, lex: Lexicon) -> tuple:
    """Tokenise one run with spaCy and remember it."""
    if len(_run_cache) >= _RUN_CACHE_RUNS:
        _run_cache.clear()
    doc = lex.nlp.tokenizer(run)
    return _remember(run, tuple(t.text for t in doc), tuple(t.idx for t in doc), lex)


def _learn_runs(runs: set, lex: Lexicon) -> None:
    """Tokenise a batch's new runs of non-white space with one spaCy call (a Doc per run costs
    more than the tokenising): joined by newlines, which are tokens of their own, each run is
    cut as it is alone (see `_tokens`). White-space runs are left to `_run_tokens`."""
    new = [r for r in runs if not r.isspace()]
    if not new:
        return
    if len(_run_cache) + len(new) > _RUN_CACHE_RUNS:
        _run_cache.clear()
    doc = lex.nlp.tokenizer("\n".join(new))
    k, at, toks, offs = 0, 0, [], []
    for t in doc:
        if t.idx >= at + len(new[k]):  # the newline after run k
            _remember(new[k], tuple(toks), tuple(offs), lex)
            k, at, toks, offs = k + 1, at + len(new[k]) + 1, [], []
            continue
        toks.append(t.text)
        offs.append(t.idx - at)
    _remember(new[k], tuple(toks), tuple(offs), lex)


def _tokens(text: str, runs: list[str], lex: Lexicon) -> tuple[list[str], list[int]]:
    """The texts and character offsets of `lex.nlp.tokenizer(text)`'s tokens, without a Doc.

    spaCy's tokenizer cuts the text into runs of white space and of other characters, drops a
    single space after a word and tokenises every run on its own (but see `_straddle`:
    such rare texts go to spaCy whole). Runs recur from ad to ad (words), so each is tokenised
    by spaCy once and remembered: a Doc per ad was most of the matching time.
    """
    texts: list[str] = []
    starts: list[int] = []
    at = 0
    tails: tuple = ()  # of the previous run, when only one space separates it from this one
    for run in runs:  # _RUN_RE.findall(text)
        size = len(run)
        if run == " " and at:  # the space after a word is no token (spaCy's `spacy` flag)
            at += 1
            continue
        if at and run[0] == " ":
            run, at, size = run[1:], at + 1, size - 1
        entry = _run_cache.get(run) or _run_tokens(run, lex)
        toks, offs, heads, new_tails = entry
        if tails and heads and any((a, b) in lex.straddle.pairs for a in tails for b in heads):
            doc = lex.nlp.tokenizer(text)
            return [t.text for t in doc], [t.idx for t in doc]
        texts += toks
        if len(offs) == 1:
            starts.append(at + offs[0])
        else:
            starts += [at + i for i in offs]
        # a white-space run ends the previous word: no straddling across it
        tails = new_tails if text[at + size : at + size + 1] == " " else ()
        at += size
    return texts, starts


def _find_matches(tokens: list[str], trie: dict) -> list[tuple[str, int, int]]:
    """(label, start, end) of every phrase in `tokens`, as PhraseMatcher finds them: by start,
    then by end, then in the matcher's label order (`_phrase_trie`)."""
    out = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        node = trie.get(tok)
        j = i + 1
        while node is not None:
            labels = node.get(None)
            if labels:
                out += [(label, i, j) for label in labels]
            if j >= n:
                break
            node = node.get(tokens[j])
            j += 1
    return out


def _text_hits(norm: Normalized, runs: list[str], lex: Lexicon) -> list[Hit]:
    tokens, starts = _tokens(norm.text, runs, lex)
    matches = _find_matches(tokens, lex.trie)
    if not matches:
        return []
    # Phrases that merely contain a cue word ("فیس بک" is Facebook, not a fee) mask it.
    masked = [(s, e) for label, s, e in matches if label == EXCLUDE]
    if masked:
        matches = [
            (label, s, e) for label, s, e in matches
            if label != EXCLUDE and not any(ms < e and s < me for ms, me in masked)
        ]
    # Keep, per indicator, the longest match among overlapping ones ("processing fee" over "fee").
    best: dict[tuple[str, int], tuple[int, int]] = {}
    for ind, start, end in matches:
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
        negated = ind in lex.negatable and _negated(tokens, s, e, lex.negation_cues)
        # the span's characters, as spaCy's `doc[s:e].text` (the text between its tokens included)
        start_char, end_char = starts[s], starts[e - 1] + len(tokens[e - 1])
        start, end = norm.to_original(start_char, end_char)
        hits.append(Hit(ind, start, end, "lexicon:" + norm.text[start_char:end_char], negated,
                        e - s > 1))
    return hits


def _negated(tokens: list[str], start: int, end: int, cues: frozenset) -> bool:
    if any(t in cues for t in tokens[start:end]):
        return False  # the cue is part of the phrase itself ("no protector", "chutti nahi")
    i = start - 1
    while i >= max(0, start - _NEG_WINDOW_BEFORE) and tokens[i] not in _CLAUSE_BREAK:
        if tokens[i] in cues:
            return True
        i -= 1
    j = end
    while j < min(len(tokens), end + _NEG_WINDOW_AFTER) and tokens[j] not in _CLAUSE_BREAK:
        if tokens[j] in cues:
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
    _run_cache.clear()


on_change(_drop_caches)
