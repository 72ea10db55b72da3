"""Entities investigators follow up: phones (E.164, WhatsApp-tied), emails, URLs, social
handles, money (with a documented conversion to PKR per month), ages, places and OEP licence
numbers. Everything runs on normalised text; every span is reported in original offsets.

Currency rates and period factors live in `resources/money.json` (approximate reference
rates, documented there with their date); `pkr_per_month` is an order-of-magnitude figure for
spotting unrealistic pay, not an accounting value. The words of each language (number words,
multipliers, currency and period words, salary and WhatsApp cues) come from the language
packs' `entities.json`, place names from `resources/places.json` plus the packs' `places.json`
(`langpacks.py`); currency codes and symbols ("aed", "rs.", "$") are the same in every
language and stay here. Age and licence patterns are still written here for en/ur/ur-Latn.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import phonenumbers
from nigehbaan.inference.langpacks import LanguagePack, on_change, packs
from nigehbaan.inference.normalize import Normalized, normalize

ENTITIES_VERSION = "nigehbaan.entities.v1"

# The brand's Latin spellings; other scripts' spellings are the packs' `whatsapp_cues`.
_WA_CUE_LATIN = (
    r"whats\s?app|whatsap|watsapp|watsap|watsup|whatsup|wtsp|wtsap|whtsapp|wts\s?app|\bwa\b|wa\.me"
)
_SEVEN_DIGITS_RE = re.compile(r"\d(?:\D*\d){6}")
_PHONE_CANDIDATE_RE = re.compile(r"\+?\(?\d[\d \-.()]{6,40}\d")
_WA_LINK_RE = re.compile(r"wa\.me/(\d{10,15})")
_EMAIL_RE = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")
_URL_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|(?<![@\w.])[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:com|pk|net|org|info|me|ae|sa|io|co|uk|gov)"
    r"(?:\.[a-z]{2})?(?:/[^\s<>\"']*)?"
)
_HANDLE_RE = re.compile(r"(?<![\w.@/])@([a-z0-9_](?:[a-z0-9_.]{1,28}[a-z0-9_]))|t\.me/([a-z0-9_]{3,32})")
# What any match of _URL_RE holds: a scheme, "www." or a dot before one of its domain endings.
# Searching for it is a quick scan; _URL_RE itself tries a domain at every letter of the text.
_URL_HINT_RE = re.compile(r"https?://|www\.|\.(?:com|pk|net|org|info|me|ae|sa|io|co|uk|gov)")
# Every age and licence pattern holds a digit (\d): texts without one are not searched.
_DIGIT_RE = re.compile(r"\d")
_NUM = r"\d{1,3}(?:,\d{2,3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_LATIN_B = r"(?![a-z])"
# Currency codes and symbols, the same in every language: before the amount ("rs 500", "$50")
# and after it ("500 aed"); the packs add currency words ("rupay", "درہم").
_CUR_BEFORE = r"rs\.?|pkr|aed|sar|qar|omr|kwd|bhd|usd|eur|gbp|myr|rm|\$|€|£"
_CUR_AFTER = r"rs|pkr|aed|dhs?|sar|qar|omr|kwd|bhd|usd|eur|gbp|myr|rm|\$|€|£"
_CURRENCY_CODES = {
    "rs": "PKR", "rs.": "PKR", "pkr": "PKR", "aed": "AED", "dh": "AED", "dhs": "AED",
    "sar": "SAR", "qar": "QAR", "omr": "OMR", "kwd": "KWD", "bhd": "BHD", "usd": "USD", "$": "USD",
    "eur": "EUR", "€": "EUR", "gbp": "GBP", "£": "GBP", "myr": "MYR", "rm": "MYR",
}
_SENTENCE_END_RE = re.compile(r"[.!?|\n;]\s|\n")


def fold_regex(pattern: str) -> str:
    """A pack's regular expression as it must be to match normalised text: every non-ASCII
    character folded like the ads' (ي -> ی); ASCII, the regex syntax, is left alone."""
    return "".join(normalize(c).text if ord(c) > 127 else c for c in pattern)


def _alternation(words) -> str:
    """A regex alternation of literal words, longest first (so no word hides a longer one);
    one that never matches when there are none."""
    unique = list(dict.fromkeys(w for w in words if w))
    return "|".join(re.escape(w) for w in sorted(unique, key=len, reverse=True)) or "(?!)"


@dataclass(frozen=True)
class _Words:
    """The packs' entity words compiled: regexes and word -> value tables."""

    money_re: re.Pattern
    salary_re: re.Pattern
    wa_cue_re: re.Pattern
    number_words: dict
    multipliers: dict
    currencies: dict
    periods: dict
    gates: tuple[str, ...]


@lru_cache(maxsize=4)
def _words(langs: tuple[LanguagePack, ...]) -> _Words:
    """Compile every pack's `entities.json` (words normalised like the ads they match)."""
    def table(key: str, latin: bool | None = None) -> dict:
        out = {}
        for p in langs:
            if latin is None or (p.script == "Latn") == latin:
                for word, value in p.entities.get(key, {}).items():
                    out.setdefault(normalize(word).text, value)
        return out

    number_words, multipliers = table("number_words"), table("multipliers")
    cur_latin, cur_other = table("currencies", True), table("currencies", False)
    per_latin, per_other = table("periods", True), table("periods", False)
    money_re = re.compile(
        r"(?<![\w.])(?:(?P<cur1>" + _CUR_BEFORE + r")\s?)?"
        r"(?P<num>" + _NUM + r"|(?P<word>" + _alternation(number_words) + r"))"
        r"(?:\s?(?P<mult>" + _alternation(multipliers) + r")"
        + _LATIN_B + r"|(?P<kmult>k|m)(?![a-z]))?"
        r"(?:\s?(?P<cur2>" + _CUR_AFTER + "|" + _alternation(cur_latin) + r")" + _LATIN_B
        + r"|\s?(?P<cur2u>" + _alternation(cur_other) + r"))?"
        r"(?:\s?(?:/|per|a|p|fi|في|فی)?\s?(?P<period>" + _alternation(per_latin) + r")"
        + _LATIN_B + r"|\s?(?P<periodu>" + _alternation(per_other) + r"))?"
    )
    salary = _alternation(normalize(w).text for p in langs for w in p.entities.get("salary_cues", []))
    wa = "|".join([_WA_CUE_LATIN, *(fold_regex(c) for p in langs for c in p.entities.get("whatsapp_cues", []))])
    return _Words(
        money_re,
        re.compile(salary),
        re.compile(wa),
        number_words,
        {**multipliers, "k": 1e3, "m": 1e6},
        {**_CURRENCY_CODES, **cur_latin, **cur_other},
        {**per_latin, **per_other},
        tuple(normalize(g).text for p in langs for g in p.entities.get("spelled_amount_gate", [])),
    )
_AGE_RES = [
    re.compile(
        r"(?:age|ages|aged|umar|umer|umr|عمر|girls?|females?|ladies|larkiyan|larkiyon|larki"
        r"|لڑکیاں|لڑکیوں|لڑکی)\s*(?:limit|hadd|حد)?\s*[:\-]?\s*(?:between\s*)?"
        r"(?P<lo>\d{1,2})\s*(?:-|to|se|sy|say|سے|تا|till|and)\s*(?P<hi>\d{1,2})"
    ),
    re.compile(
        r"(?<!\d)(?P<lo>\d{1,2})\s*(?:-|to|se|sy|سے|تا)\s*(?P<hi>\d{1,2})\s*"
        r"(?:years?|yrs?|y/o|saal|sal|سال|baras|برس|سالہ)"
    ),
    re.compile(
        r"(?<!\d)(?P<lo>\d{1,2})\s*(?:years?|yrs?)[\s\-]*old"
        r"|(?<!\d)(?P<lo2>\d{1,2})[\s\-]*(?:years?|yrs?|saal|sal|سالہ|سال)\s*(?:ki|ka|ke|کی|کا|کے)?\s*"
        r"(?:umar|umer|عمر|girl|boy|child|kid|bachi|bachchi|bacha|bachay|larki|larka|بچی|بچہ|بچے|لڑکی|لڑکا)"
        r"|(?:age|aged|umar|umer|عمر)\s*[:\-]?\s*(?P<lo3>\d{1,2})(?!\s*(?:-|to|se|سے)\s*\d)"
    ),
]
_LICENCE_RE = re.compile(
    r"(?:oep|licen[cs]e|lic\.?|لائسنس|لائیسنس)\s*(?:no\.?|number|num|#|نمبر)?\s*[:#.\-]?\s*"
    r"(?P<num>\d{2,5}\s*/\s*[a-z]{2,5}(?:\s*/\s*\d{2,4})?|\d{3,6})"
)


@dataclass(frozen=True)
class _Money:
    rates: dict
    periods: dict


@lru_cache(maxsize=1)
def _money_tables() -> _Money:
    data = json.loads(resources.files("nigehbaan.inference").joinpath("resources/money.json").read_text())
    return _Money(data["pkr_per_unit"], data["months_per_period"])


def _places():
    return _compile_places(packs())


@lru_cache(maxsize=4)
def _compile_places(langs: tuple[LanguagePack, ...]):
    """(regex over normalised text, alias -> place record); longest alias first.

    `resources/places.json` first, then each pack's `places.json`: names for a place already
    known (`{"Karachi": {"names": [...]}}`) or a new place with its `type` and `country`.
    """
    data = json.loads(resources.files("nigehbaan.inference").joinpath("resources/places.json").read_text())
    table = {}
    records = {}
    for name, rec in data["places"].items():
        records[name] = rec
        for alias in rec["aliases"] + rec["urdu"]:
            key = normalize(alias).text
            if key:
                table[key] = {"name": name, "type": rec["type"], "country": rec["country"]}
    for p in langs:
        for name, rec in p.data("places.json").get("places", {}).items():
            base = {**records.get(name, {}), **rec}
            if "type" not in base or "country" not in base:
                raise ValueError(
                    f"language pack {p.source}: places.json place {name!r} needs `type` and "
                    "`country` (expected a place of resources/places.json or both fields). "
                    "Fix: add them or use the name places.json gives it."
                )
            for alias in rec.get("names", []):
                key = normalize(alias).text
                if key:
                    table.setdefault(key, {"name": name, "type": base["type"], "country": base["country"]})
    pattern = re.compile(r"(?<![\w])(?:" + trie_alternation(table) + r")(?![\w])")
    return pattern, table


def trie_alternation(words) -> str:
    """A regex matching exactly the literal `words`, longest first at any position, as the
    alternation of the words sorted longest first would, but written as a prefix tree
    ("kar(?:achi|ak)"): the regex engine then tries a few branches per position instead of
    every word (places: one branch per alias, hundreds)."""
    trie: dict = {}
    for w in words:
        if not w:
            continue
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in node.items() if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # greedy: the longer word is tried first, the word ending here when it fails
        return f"(?:{body})?" if end else body

    return emit(trie) or "(?!)"


def extract_entities(norm: Normalized) -> dict:
    """All entities of one normalised ad, spans in original offsets (see module docstring)."""
    c = contacts(norm)
    return {
        "phones": c["phones"],
        "whatsapp": c["whatsapp"],
        "emails": c["emails"],
        "urls": c["urls"],
        "handles": c["handles"],
        "money": money(norm),
        "ages": ages(norm),
        "locations": locations(norm),
        "licences": c["licences"],
    }


def contacts(norm: Normalized) -> dict:
    """The contact entities of one normalised ad, as `extract_entities` gives them: `phones`,
    `whatsapp`, `emails`, `urls`, `handles`, `licences` (what `nigehbaan cluster` links ads by;
    money, ages and places are not needed there)."""
    text = norm.text
    phones, whatsapp = _phones(norm)
    email_matches = _email_matches(text)
    emails = sorted({m.group(0) for m in email_matches})
    email_spans = [(m.start(), m.end()) for m in email_matches]
    urls = sorted(
        {
            m.group(0).rstrip(".,)")
            for m in _URL_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in email_spans)
        }
    ) if _URL_HINT_RE.search(text) else []
    handles = sorted(
        {
            "@" + (m.group(1) or m.group(2))
            for m in _HANDLE_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in email_spans)
        }
    ) if "@" in text or "t.me/" in text else []  # what every _HANDLE_RE match holds
    return {
        "phones": phones, "whatsapp": whatsapp, "emails": emails, "urls": urls,
        "handles": handles, "licences": licences(norm),
    }


def places_regex() -> re.Pattern:
    """The regex that finds known places (every alias of every pack) in normalised text."""
    return _places()[0]


_EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")


def _email_matches(text: str) -> list[re.Match]:
    """`_EMAIL_RE.finditer(text)`, in linear time. The regex alone tries every start position
    and scans to the end of a long run from each (quadratic: 0.4 s for one 20k-character
    token). A match can only start in the run of local-part characters just before an "@", at
    the run's start or where the previous match ended, so only those starts are tried."""
    out: list[re.Match] = []
    pos = 0
    at = text.find("@")
    while at >= 0:
        start = at
        while start > pos and text[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        m = _EMAIL_RE.match(text, start) if start < at else None
        if m:
            out.append(m)
            pos = m.end()
            at = text.find("@", pos)
        else:
            at = text.find("@", at + 1)
    return out


def _phones(norm: Normalized) -> tuple[list[str], list[str]]:
    text = norm.text
    if not _SEVEN_DIGITS_RE.search(text):
        return [], []
    cues = [m.start() for m in _words(packs()).wa_cue_re.finditer(text)]
    phones: list[str] = []
    whatsapp: list[str] = []

    def add(e164: str, start: int, end: int, is_wa: bool) -> None:
        if e164 not in phones:
            phones.append(e164)
        if (is_wa or any(_tied(text, start, end, c) for c in cues)) and e164 not in whatsapp:
            whatsapp.append(e164)

    for m in _WA_LINK_RE.finditer(text):  # wa.me links hold the number without '+'
        try:
            number = phonenumbers.parse("+" + m.group(1))
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                m.start(), m.end(), True)
    # phonenumbers' matcher is thorough but slow; hand it only the digit runs long enough to
    # be a number, which keeps it off prices and ages (most of the scoring time otherwise).
    for cand in _PHONE_CANDIDATE_RE.finditer(text):
        if sum(c.isdigit() for c in cand.group(0)) < 9:
            continue
        for e164, start, end in _numbers_in(cand.group(0)):
            add(e164, cand.start() + start, cand.start() + end, False)
    return phones, whatsapp


@lru_cache(maxsize=65536)
def _numbers_in(candidate: str) -> tuple[tuple[str, int, int], ...]:
    """(E.164, start, end) of the numbers phonenumbers' matcher finds in one digit run. The
    same numbers recur across a feed's ads (one recruiter, many posts): each run is matched
    once per process (at most 65,536 remembered)."""
    matcher = phonenumbers.PhoneNumberMatcher(
        candidate, "PK", leniency=phonenumbers.Leniency.VALID, max_tries=20
    )
    return tuple(
        (phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164), m.start, m.end)
        for m in matcher
    )


def _tied(text: str, start: int, end: int, cue: int) -> bool:
    """A WhatsApp cue ties a number when it is close and no sentence ends between them."""
    if start - 45 <= cue < start:
        between = text[cue:start]
    elif end <= cue <= end + 20:
        between = text[end:cue]
    else:
        return start <= cue < end
    return not _SENTENCE_END_RE.search(between)


def money(norm: Normalized) -> list[dict]:
    """Amounts with currency and period; `pkr_per_month` where a period is stated or implied."""
    text = norm.text
    words = _words(packs())
    # Spelled-out amounts are read only beside a gate word (today "lakh"/"لاکھ"): a cheap
    # filter that keeps "do hazar" in ordinary text from becoming money.
    if not any(c.isdigit() for c in text) and not any(g in text for g in words.gates):
        return []
    tables = _money_tables()
    out = []
    for m in words.money_re.finditer(text):
        g = m.groupdict()
        mult_word = g["mult"] or g["kmult"]
        cur_word = g["cur1"] or g["cur2"] or g["cur2u"]
        period_word = g["period"] or g["periodu"]
        if g["word"]:
            if g["word"] not in words.number_words or not mult_word:
                continue
            amount = float(words.number_words[g["word"]])
        else:
            amount = float(g["num"].replace(",", ""))
        if not (cur_word or mult_word):
            continue  # a bare number is not money
        amount *= words.multipliers.get(mult_word, 1.0)
        currency = words.currencies.get(cur_word.rstrip(".") if cur_word else "", "PKR")
        if cur_word and cur_word.startswith("rs"):
            currency = "PKR"
        period = words.periods.get(period_word) if period_word else None
        assumed = False
        if period is None and words.salary_re.search(text, max(0, m.start() - 40), m.start() + 1):
            period, assumed = "month", True
        pkr = amount * tables.rates[currency]
        record = norm.evidence(m.start(), m.end() - (len(m.group(0)) - len(m.group(0).rstrip())))
        record.update(
            amount=amount,
            currency=currency,
            period=period,
            period_assumed=assumed,
            pkr=round(pkr),
            pkr_per_month=round(pkr * tables.periods[period]) if period else None,
        )
        out.append(record)
    return out


def ages(norm: Normalized) -> list[dict]:
    """Ages and age ranges ("18-25", "umar 18 se 25", "12 saal ki bachi", "عمر 14")."""
    out, seen = [], []
    if not _DIGIT_RE.search(norm.text):
        return out
    for pattern in _AGE_RES:
        for m in pattern.finditer(norm.text):
            if any(s < m.end() and m.start() < e for s, e in seen):
                continue
            lo = m.groupdict().get("lo") or m.groupdict().get("lo2") or m.groupdict().get("lo3")
            hi = m.groupdict().get("hi") or lo
            lo_i, hi_i = int(lo), int(hi)
            if not (1 <= lo_i <= 80 and lo_i <= hi_i <= 80):
                continue
            seen.append((m.start(), m.end()))
            record = norm.evidence(m.start(), m.end())
            record.update(min=lo_i, max=hi_i)
            out.append(record)
    return sorted(out, key=lambda r: r["start"])


def locations(norm: Normalized) -> list[dict]:
    """Pakistani cities, destination countries and cities, in any of the three scripts."""
    pattern, table = _places()
    out = []
    for m in pattern.finditer(norm.text):
        record = norm.evidence(m.start(), m.end())
        record.update(table[m.group(0)])
        out.append(record)
    return out


def licences(norm: Normalized) -> list[dict]:
    """Overseas Employment Promoter licence numbers ("OEP Licence No. 2187/RWP")."""
    out = []
    if not _DIGIT_RE.search(norm.text):
        return out
    for m in _LICENCE_RE.finditer(norm.text):
        record = norm.evidence(m.start(), m.end())
        record["number"] = re.sub(r"\s+", "", m.group("num")).upper()
        out.append(record)
    return out


def _drop_caches() -> None:
    _words.cache_clear()
    _compile_places.cache_clear()


on_change(_drop_caches)
