"""Synthetic campaigns for the clustering benchmark and tests: what re-posters do to an ad.

`MUTATIONS` are the edits seen on re-posts (each `f(text, rng) -> text`); `make_campaigns`
builds a labelled set from corpus texts: every base text is a template re-posted 1-30 times
with 1-3 random mutations each, templates are grouped into networks that share a phone
number, a "helpline" number is pasted into more templates than the hub cap (it must not join
them), and near-miss ads share only boilerplate (a platform footer, "send your CV on
WhatsApp") with each other and must stay apart. Each ad carries its truth in `_template`,
`_network` and `_lang` (strip them before clustering).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [ROOT / "data" / "corpus" / "v4" / "test.jsonl", ROOT / "data" / "corpus" / "v4" / "gold.jsonl"]

_URDU_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "i": "і", "ی": "ي", "ک": "ك", "ہ": "ه"}
_EMOJI = ["🔥", "✅", "🙏", "📞", "💯", "👉", "✈️", "💰"]
PREFIXES = ["Share plz ", "آگے شیئر کریں ", "Plz share!! ", "FORWARD ", "Zaroor share karein: "]
SUFFIXES = [" Share plz", " آگے شیئر کریں", " plz share", " Forward to all groups"]
CITIES = {
    "latin": ["Lahore", "Karachi", "Islamabad", "Rawalpindi", "Faisalabad", "Multan", "Peshawar", "Dubai"],
    "urdu": ["لاہور", "کراچی", "اسلام آباد", "راولپنڈی", "فیصل آباد", "ملتان", "پشاور", "دبئی"],
}
_CITY_RE = {k: re.compile("|".join(map(re.escape, v))) for k, v in CITIES.items()}
BOILERPLATE = {
    "en": "Send your CV on WhatsApp. Only serious candidates apply. Posted on OLX Pakistan, the trusted marketplace.",
    "ur-Latn": "Apni CV WhatsApp par bhejain. Sirf serious log rabta karein. Posted on OLX Pakistan, the trusted marketplace.",
    "ur": "اپنی سی وی واٹس ایپ پر بھیجیں۔ صرف سنجیدہ امیدوار رابطہ کریں۔ Posted on OLX Pakistan, the trusted marketplace.",
}
_SENT_RE = re.compile(r"(?<=[.!?۔\n])\s+")
_PHONE_RE = re.compile(r"(?:\+92|0)3\d{2}[\s-]?\d{7}")
_NUMBER_RE = re.compile(r"\d+")


def urdu_digits(t, rng):
    return t.translate(_URDU_DIGITS)


def spaced_digits(t, rng):
    return _PHONE_RE.sub(lambda m: " ".join(re.sub(r"\D", "", m.group(0))), t)


def zero_width(t, rng):
    chars = list(t)
    for _ in range(max(1, len(chars) // 25)):
        chars.insert(rng.randrange(len(chars) + 1), rng.choice("\u200b\u200c\u200d\u2060"))
    return "".join(chars)


def homoglyphs(t, rng):
    return "".join(_HOMOGLYPHS[c] if c in _HOMOGLYPHS and rng.random() < 0.4 else c for c in t)


def case(t, rng):
    return rng.choice([str.upper, str.lower, str.title])(t)


def emoji(t, rng):
    parts = _SENT_RE.split(t)
    return " ".join(p + (" " + rng.choice(_EMOJI) * rng.randint(1, 3) if rng.random() < 0.5 else "") for p in parts)


def prefix_suffix(t, rng):
    return rng.choice(PREFIXES) + t if rng.random() < 0.5 else t + rng.choice(SUFFIXES)


def figure_and_city(t, rng):
    def fig(m):
        s = m.group(0)
        return str(rng.randint(10 ** (len(s) - 1), 10 ** len(s) - 1)) if len(s) < 7 else s

    t = _NUMBER_RE.sub(fig, t)
    for script, rx in _CITY_RE.items():
        t = rx.sub(lambda m, s=script: rng.choice(CITIES[s]), t)
    return t


def dropped_line(t, rng):
    parts = _SENT_RE.split(t)
    if len(parts) < 4:
        return t
    del parts[rng.randrange(1, len(parts))]
    return " ".join(parts)


def reordered_lines(t, rng):
    parts = _SENT_RE.split(t)
    if len(parts) < 3:
        return t
    i = rng.randrange(len(parts) - 1)
    parts[i], parts[i + 1] = parts[i + 1], parts[i]
    return "\n".join(parts)


MUTATIONS = {
    "urdu_digits": urdu_digits, "spaced_digits": spaced_digits, "zero_width": zero_width,
    "homoglyphs": homoglyphs, "case": case, "emoji": emoji, "prefix_suffix": prefix_suffix,
    "figure_and_city": figure_and_city, "dropped_line": dropped_line,
    "reordered_lines": reordered_lines,
}


def corpus_texts() -> list[dict]:
    """One text per corpus family from test and gold: {"text", "lang"}."""
    seen, out = set(), []
    for path in CORPUS:
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            if r["family"] not in seen and r["text"].strip():
                seen.add(r["family"])
                out.append({"text": r["text"], "lang": r["lang"]})
    return out


def _phone(rng) -> str:
    return f"03{rng.randint(0, 4)}{rng.randint(0, 9)}-{rng.randint(1000000, 9999999)}"


def _with_phone(text: str, phone: str, rng) -> str:
    if _PHONE_RE.search(text):
        return _PHONE_RE.sub(phone, text)
    return text + rng.choice([f" Call {phone}", f" WhatsApp {phone}", f" رابطہ {phone}"])


def make_campaigns(
    n: int | None = None, seed: int = 7, max_reposts: int = 30, near_miss_share: float = 0.05,
    hub_templates: int = 60,
) -> list[dict]:
    """Labelled ads (see the module docstring). With `n`, about n ads: base texts are reused
    with a random salt sentence of corpus words so that every template is distinct."""
    rng = random.Random(seed)
    bases = corpus_texts()
    vocab: dict[str, list[str]] = {}
    for b in bases:
        vocab.setdefault(b["lang"], []).extend(w for w in b["text"].split() if w.isalpha())
    ads: list[dict] = []
    templates: list[dict] = []
    if n is None:
        templates = [dict(b) for b in bases]
    else:
        while sum(t["k"] for t in templates) < n * (1 - near_miss_share):
            b = rng.choice(bases)
            salt = " ".join(rng.choice(vocab[b["lang"]]) for _ in range(8))
            templates.append({**b, "text": f"{salt}. {b['text']}", "k": rng.randint(1, max_reposts)})
    for t in templates:
        t.setdefault("k", rng.randint(1, max_reposts))
    # networks of 1-4 templates, each with one or two numbers
    order = list(range(len(templates)))
    rng.shuffle(order)
    net = 0
    i = 0
    while i < len(order):
        size = rng.choice([1, 1, 2, 3, 4])
        phones = [_phone(rng) for _ in range(rng.choice([1, 1, 2]))]
        for ti in order[i : i + size]:
            templates[ti]["net"], templates[ti]["phones"] = net, phones
        net += 1
        i += size
    hubs = set(rng.sample(range(len(templates)), min(hub_templates, len(templates))))
    hub_phone = "0300-1234567"
    names = list(MUTATIONS)
    for ti, t in enumerate(templates):
        base = _with_phone(t["text"], t["phones"][0], rng)
        if ti in hubs:
            base += f" Helpline {hub_phone}"
        for r in range(t["k"]):
            text = base
            if len(t["phones"]) > 1 and rng.random() < 0.5:
                text = text.replace(t["phones"][0], t["phones"][1])
            if r:
                for m in rng.sample(names, rng.randint(1, 3)):
                    text = MUTATIONS[m](text, rng)
            if rng.random() < 0.3:
                text += " " + BOILERPLATE.get(t["lang"], BOILERPLATE["en"])
            ads.append({"text": text, "_template": f"T{ti}", "_network": f"N{t['net']}", "_lang": t["lang"]})
    n_near = int(len(ads) * near_miss_share) if n is not None else max(200, int(len(ads) * near_miss_share))
    for j in range(n_near):
        lang = rng.choice(["en", "ur", "ur-Latn"])
        words = " ".join(rng.choice(vocab[lang]) for _ in range(rng.randint(4, 8)))
        text = f"{words}. {BOILERPLATE[lang]} {_phone(rng)}"
        ads.append({"text": text, "_template": f"M{j}", "_network": f"MN{j}", "_lang": lang})
    rng.shuffle(ads)
    for k, a in enumerate(ads):
        a["id"] = f"c{k}"
    return ads
