"""Augmentation: obfuscated and respelled variants of authored ads, a separate marked layer.

Each variant records its source ad (`augmented_from`), the transformations applied
(`augmentation`) and keeps its source's family, so it always lands in its source's split.
Spans are not carried over (the transformations move characters); variants keep labels.
Every transformation is seeded by the caller's `random.Random`, so a build is reproducible.
"""

from __future__ import annotations

import random
import re

_URDU_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"}
_LEET = {"a": "@", "s": "$", "o": "0", "i": "1", "e": "3"}
_KEYWORDS = re.compile(
    r"whatsapp|visa|passport|salary|ticket|fee|fees|kidney|girls?|urgent|job|dubai|saudi",
    re.IGNORECASE,
)
_EMOJI = {"phone": "📞", "call": "📞", "flight": "✈️", "ticket": "✈️", "money": "💰", "salary": "💰"}
# Common Roman Urdu spelling alternations (both directions are seen in real ads).
_ROMAN_SWAPS = [
    ("zaroorat", "zarurat"), ("zarurat", "zrurat"), ("naukri", "nokri"), ("nokri", "nokary"),
    ("rabta", "raabta"), ("tankhwa", "tankhah"), ("karein", "kren"), ("karen", "krein"),
    ("nahi", "nhi"), ("nahin", "nai"), ("hai", "h"), ("ke liye", "k liye"), ("foran", "fori"),
    ("chahiye", "chahye"), ("aur", "or"), ("mein", "me"), ("jaldi", "jldi"), ("sirf", "srf"),
]
_ZW = ["\u200b", "\u200c", "\u200d", "\ufeff"]


def spaced_digits(text: str, rng: random.Random) -> str:
    """Write phone-like digit runs one digit at a time ("0 3 0 0 . 1 2 ...")."""
    sep = rng.choice([" ", ".", " - ", "  "])
    return re.sub(r"\d{7,}", lambda m: sep.join(m.group(0)), text)


def urdu_digits(text: str, rng: random.Random) -> str:
    return text.translate(_URDU_DIGITS)


def zero_width(text: str, rng: random.Random) -> str:
    """Hide zero-width characters inside key words."""
    def hide(m: re.Match) -> str:
        w = m.group(0)
        k = rng.randrange(1, len(w)) if len(w) > 1 else 1
        return w[:k] + rng.choice(_ZW) + w[k:]

    return _KEYWORDS.sub(hide, text)


def homoglyphs(text: str, rng: random.Random) -> str:
    """Swap Latin letters in key words for Cyrillic look-alikes."""
    def swap(m: re.Match) -> str:
        return "".join(_HOMOGLYPHS.get(c, c) if rng.random() < 0.5 else c for c in m.group(0))

    return _KEYWORDS.sub(swap, text)


def leetspeak(text: str, rng: random.Random) -> str:
    def swap(m: re.Match) -> str:
        w = m.group(0)
        inner = "".join(_LEET.get(c, c) if rng.random() < 0.4 else c for c in w[1:-1])
        return w[0] + inner + w[-1] if len(w) > 2 else w

    return _KEYWORDS.sub(swap, text)


def emoji_words(text: str, rng: random.Random) -> str:
    pattern = re.compile(r"\b(" + "|".join(_EMOJI) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: _EMOJI[m.group(0).lower()], text)


def roman_spelling(text: str, rng: random.Random) -> str:
    """Roman Urdu spelling variation."""
    for a, b in _ROMAN_SWAPS:
        if rng.random() < 0.6:
            text = re.sub(rf"\b{re.escape(a)}\b", b, text, flags=re.IGNORECASE)
    return text


def code_mix(text: str, rng: random.Random) -> str:
    """Add an English or Roman Urdu call-to-action, as posters often do."""
    tail = rng.choice([
        "\nInterested candidates contact now.", "\nMore info inbox.", "\nShare karein plz",
        "\nApply karo jaldi", "\nDetails ke liye rabta karein", "\nSerious log hi rabta karein",
    ])
    return text + tail


TRANSFORMS = {
    "spaced_digits": spaced_digits,
    "urdu_digits": urdu_digits,
    "zero_width": zero_width,
    "homoglyphs": homoglyphs,
    "leetspeak": leetspeak,
    "emoji_words": emoji_words,
    "roman_spelling": roman_spelling,
    "code_mix": code_mix,
}


def make_variant(rec: dict, rng: random.Random) -> dict | None:
    """One obfuscated variant of a corpus record, or None when nothing changed."""
    names = list(TRANSFORMS)
    if rec["lang"] not in ("ur-Latn", "mixed"):
        names.remove("roman_spelling")
    chosen = rng.sample(names, k=rng.choice([1, 2, 2, 3]))
    text = rec["text"]
    for name in chosen:
        text = TRANSFORMS[name](text, rng)
    if text == rec["text"]:
        return None
    variant = {k: v for k, v in rec.items() if k not in ("spans", "id")}
    variant.update(
        id=rec["id"] + "-aug-" + "-".join(sorted(chosen)),
        text=text,
        spans=[],
        source="augmented",
        augmented_from=rec["id"],
        augmentation=sorted(chosen),
    )
    if "code_mix" in chosen and rec["lang"] in ("en", "ur-Latn"):
        variant["lang"] = "mixed"
    return variant
