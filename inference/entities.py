"""Entities investigators follow up: phones (E.164, WhatsApp-tied), emails, URLs, social
handles, money (with a documented conversion to PKR per month), ages, places and OEP licence
numbers. Everything runs on normalised text; every span is reported in original offsets.

Currency rates and period factors live in `resources/money.json` (approximate reference
rates, documented there with their date); `pkr_per_month` is an order-of-magnitude figure for
spotting unrealistic pay, not an accounting value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import phonenumbers
from nigehbaan.inference.normalize import Normalized, normalize

ENTITIES_VERSION = "nigehbaan.entities.v1"

_WA_CUE_RE = re.compile(
    r"whats\s?app|whatsap|watsapp|watsap|watsup|whatsup|wtsp|wtsap|whtsapp|wts\s?app|\bwa\b|wa\.me"
    r"|واٹس\s?ایپ|وٹس\s?ایپ|واٹس\s?اپ|وٹس\s?اپ|واٹساپ|واٹس"
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
# Number words that may precede "lakh"/"hazar" (ek, do, teen, ... / ایک، دو، تین ...).
_NUMBER_WORDS = (
    r"aik|ek|do|teen|tin|chaar|char|paanch|panch|chhe|chay|che|saat|sat|aath|ath|nau|das|dus|bees"
    r"|pachas|dedh|dhai|adhai|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty"
    r"|ایک|دو|تین|چار|پانچ|چھ|سات|آٹھ|نو|دس|بیس|پچاس|ڈیڑھ|اڑھائی|ڈھائی"
)
_NUM = r"\d{1,3}(?:,\d{2,3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_LATIN_B = r"(?![a-z])"
_MONEY_RE = re.compile(
    r"(?<![\w.])(?:(?P<cur1>rs\.?|pkr|aed|sar|qar|omr|kwd|bhd|usd|eur|gbp|myr|rm|\$|€|£)\s?)?"
    r"(?P<num>" + _NUM + r"|(?P<word>" + _NUMBER_WORDS + r"))"
    r"(?:\s?(?P<mult>lakhs?|lacs?|laakh|hazaa?r|hzar|thousand|million|crores?|karor|ہزار|لاکھ|کروڑ)"
    + _LATIN_B + r"|(?P<kmult>k|m)(?![a-z]))?"
    r"(?:\s?(?P<cur2>rs|rupees?|rupay|rupaye|rupey|pkr|aed|dirhams?|dhs?|sar|riyals?|qar|omr|kwd|"
    r"bhd|dinars?|usd|dollars?|eur|euros?|gbp|pounds?|myr|ringgit|rm|\$|€|£)" + _LATIN_B
    + r"|\s?(?P<cur2u>روپے|روپیہ|روپئے|درہم|ریال|دینار|ڈالر|یورو|پاؤنڈ|رنگٹ))?"
    r"(?:\s?(?:/|per|a|p|fi|في|فی)?\s?(?P<period>months?|monthly|mahana|mahina|maheena|mahinay|pm"
    r"|days?|daily|rozana|weeks?|weekly|hafta|years?|yearly|annual|annually|salana|hours?|hr|ghanta)"
    + _LATIN_B + r"|\s?(?P<periodu>ماہانہ|ماہوار|مہینہ|مہینے|روزانہ|یومیہ|ہفتہ|سالانہ|گھنٹہ))?"
)
_SENTENCE_END_RE = re.compile(r"[.!?|\n;]\s|\n")
_SALARY_CUE_RE = re.compile(
    r"salary|salaries|pay|wage|tankh|income|kamai|تنخواہ|سیلری|آمدنی|کمائی|اجرت"
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
    words: dict


@lru_cache(maxsize=1)
def _money_tables() -> _Money:
    data = json.loads(resources.files("nigehbaan.inference").joinpath("resources/money.json").read_text())
    words = {normalize(k).text: v for k, v in data["number_words"].items()}
    return _Money(data["pkr_per_unit"], data["months_per_period"], words)


@lru_cache(maxsize=1)
def _places():
    """(regex over normalised text, alias -> place record); longest alias first."""
    data = json.loads(resources.files("nigehbaan.inference").joinpath("resources/places.json").read_text())
    table = {}
    for name, rec in data["places"].items():
        for alias in rec["aliases"] + rec["urdu"]:
            key = normalize(alias).text
            if key:
                table[key] = {"name": name, "type": rec["type"], "country": rec["country"]}
    alts = sorted(table, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(a) for a in alts) + r")(?![\w])")
    return pattern, table


_CURRENCY = {
    "rs": "PKR", "rs.": "PKR", "rupee": "PKR", "rupees": "PKR", "rupay": "PKR", "rupaye": "PKR",
    "rupey": "PKR", "pkr": "PKR", "روپے": "PKR", "روپیہ": "PKR", "روپئے": "PKR",
    "aed": "AED", "dirham": "AED", "dirhams": "AED", "dh": "AED", "dhs": "AED", "درہم": "AED",
    "sar": "SAR", "riyal": "SAR", "riyals": "SAR", "ریال": "SAR", "qar": "QAR", "omr": "OMR",
    "kwd": "KWD", "bhd": "BHD", "dinar": "KWD", "dinars": "KWD", "دینار": "KWD",
    "usd": "USD", "dollar": "USD", "dollars": "USD", "$": "USD", "ڈالر": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR", "€": "EUR", "یورو": "EUR",
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "£": "GBP", "پاؤنڈ": "GBP",
    "myr": "MYR", "rm": "MYR", "ringgit": "MYR", "رنگٹ": "MYR",
}
_MULT = {
    "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "laakh": 1e5, "لاکھ": 1e5,
    "hazar": 1e3, "hazaar": 1e3, "hzar": 1e3, "thousand": 1e3, "ہزار": 1e3, "k": 1e3,
    "million": 1e6, "m": 1e6, "crore": 1e7, "crores": 1e7, "karor": 1e7, "کروڑ": 1e7,
}
_PERIOD = {
    "month": "month", "months": "month", "monthly": "month", "mahana": "month", "mahina": "month",
    "maheena": "month", "mahinay": "month", "pm": "month", "ماہانہ": "month", "ماہوار": "month",
    "مہینہ": "month", "مہینے": "month", "day": "day", "days": "day", "daily": "day",
    "rozana": "day", "روزانہ": "day", "یومیہ": "day", "week": "week", "weeks": "week",
    "weekly": "week", "hafta": "week", "ہفتہ": "week", "year": "year", "years": "year",
    "yearly": "year", "annual": "year", "annually": "year", "salana": "year", "سالانہ": "year",
    "hour": "hour", "hours": "hour", "hr": "hour", "ghanta": "hour", "گھنٹہ": "hour",
}


def extract_entities(norm: Normalized) -> dict:
    """All entities of one normalised ad, spans in original offsets (see module docstring)."""
    text = norm.text
    phones, whatsapp = _phones(norm)
    email_matches = list(_EMAIL_RE.finditer(text))
    emails = sorted({m.group(0) for m in email_matches})
    email_spans = [(m.start(), m.end()) for m in email_matches]
    urls = sorted(
        {
            m.group(0).rstrip(".,)")
            for m in _URL_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in email_spans)
        }
    )
    handles = sorted(
        {
            "@" + (m.group(1) or m.group(2))
            for m in _HANDLE_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in email_spans)
        }
    )
    return {
        "phones": phones,
        "whatsapp": whatsapp,
        "emails": emails,
        "urls": urls,
        "handles": handles,
        "money": money(norm),
        "ages": ages(norm),
        "locations": locations(norm),
        "licences": licences(norm),
    }


def _phones(norm: Normalized) -> tuple[list[str], list[str]]:
    text = norm.text
    if not _SEVEN_DIGITS_RE.search(text):
        return [], []
    cues = [m.start() for m in _WA_CUE_RE.finditer(text)]
    phones: list[str] = []
    whatsapp: list[str] = []

    def add(number, start: int, end: int, is_wa: bool) -> None:
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
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
            add(number, m.start(), m.end(), True)
    # phonenumbers' matcher is thorough but slow; hand it only the digit runs long enough to
    # be a number, which keeps it off prices and ages (most of the scoring time otherwise).
    for cand in _PHONE_CANDIDATE_RE.finditer(text):
        if sum(c.isdigit() for c in cand.group(0)) < 9:
            continue
        matcher = phonenumbers.PhoneNumberMatcher(
            cand.group(0), "PK", leniency=phonenumbers.Leniency.VALID, max_tries=20
        )
        for match in matcher:
            add(match.number, cand.start() + match.start, cand.start() + match.end, False)
    return phones, whatsapp


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
    if not any(c.isdigit() for c in text) and "لاکھ" not in text and "lakh" not in text:
        return []
    tables = _money_tables()
    out = []
    for m in _MONEY_RE.finditer(text):
        g = m.groupdict()
        mult_word = g["mult"] or g["kmult"]
        cur_word = g["cur1"] or g["cur2"] or g["cur2u"]
        period_word = g["period"] or g["periodu"]
        if g["word"]:
            if g["word"] not in tables.words or not mult_word:
                continue
            amount = float(tables.words[g["word"]])
        else:
            amount = float(g["num"].replace(",", ""))
        if not (cur_word or mult_word):
            continue  # a bare number is not money
        amount *= _MULT.get(mult_word, 1.0)
        currency = _CURRENCY.get(cur_word.rstrip(".") if cur_word else "", "PKR")
        if cur_word and cur_word.startswith("rs"):
            currency = "PKR"
        period = _PERIOD.get(period_word) if period_word else None
        assumed = False
        if period is None and _SALARY_CUE_RE.search(text, max(0, m.start() - 40), m.start() + 1):
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
    for m in _LICENCE_RE.finditer(norm.text):
        record = norm.evidence(m.start(), m.end())
        record["number"] = re.sub(r"\s+", "", m.group("num")).upper()
        out.append(record)
    return out
