"""Language identification for ads: a language pack's code (`en`, `ur`, `ur-Latn`, ...),
`mixed` or `und`.

Script decides first: Arabic-script letters against Latin ones. Within a script, the packs of
that script (`langpacks.py`) compete on vocabulary: each counts the ad's words found in its
`langid.json` and in no other pack of the script (words two packs share count for neither, as
do content words every language uses: "visa", "salary", "job"). With the built-in packs this is
Urdu (the only Arabic-script pack) and Roman Urdu against English. An ad is `mixed` when both
scripts carry a real share of the letters, or when its words are clearly split between two
languages of its script. Runs on normalised text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nigehbaan.inference.langpacks import LanguagePack, lang_classes, on_change, packs
from nigehbaan.inference.normalize import normalize

LANGID_VERSION = "nigehbaan.langid.v1"  # part of FEATURES_VERSION: the language is a feature

_ARABIC_CHARS = "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"
_ARABIC_RE = re.compile(f"[{_ARABIC_CHARS}]")
_ARABIC_WORD_RE = re.compile(f"[{_ARABIC_CHARS}]+")
_LATIN_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
_LATIN_RE = re.compile(r"[a-z]")

# Thresholds fitted on the training split of corpus v1 (grid search for accuracy: 89.6% on
# train); test and gold figures are in the README. The vocabulary shares are per pack
# (`min_share` in its langid.json: ur-Latn 0.6; en 0.75, i.e. Roman Urdu share 0.25 or less).
UR_SCRIPT_SHARE = 0.8  # Arabic-script share of letters at or above which an ad is Arabic-script
MIXED_SCRIPT_SHARE = 0.1  # below that, a share at or above this means both scripts: `mixed`
MIN_LETTERS_UNKNOWN_WORDS = 12  # a Latin ad of unknown words is its script's default from here


def __getattr__(name: str):
    if name == "LANGS":  # the classes of the packs registered now (was a constant)
        return lang_classes()
    raise AttributeError(name)


@dataclass(frozen=True)
class _Script:
    """The packs of one script: their exclusive vocabularies, thresholds and default."""

    codes: tuple[str, ...]
    words: tuple[frozenset, ...]
    min_share: tuple[float, ...]
    mixed_if_other: tuple[float | None, ...]
    default: str | None


@lru_cache(maxsize=4)
def _scripts(langs: tuple[LanguagePack, ...]) -> dict[str, _Script]:
    out = {}
    for script in ("Latn", "Arab"):
        members = [p for p in langs if p.script == script]
        vocab = [frozenset(normalize(w).text for w in p.langid.get("words", [])) for p in members]
        exclusive = []
        for i, words in enumerate(vocab):
            others = frozenset().union(*(v for j, v in enumerate(vocab) if j != i))
            exclusive.append(words - others)
        default = next((p.code for p in members if p.langid.get("default_for_script")), None)
        if default is None and members:
            default = members[0].code
        out[script] = _Script(
            tuple(p.code for p in members),
            tuple(exclusive),
            tuple(float(p.langid.get("min_share", 0.6)) for p in members),
            tuple(p.langid.get("mixed_if_other_script_share") for p in members),
            default,
        )
    return out


def _by_vocabulary(s: _Script, words: list[str], other_share: float) -> str | None:
    """The pack whose words dominate, `mixed` when none does, None when no word is known."""
    counts = [sum(1 for w in words if w in vocab) for vocab in s.words]
    total = sum(counts)
    if total == 0:
        return None
    best = max(range(len(counts)), key=lambda i: (counts[i], -i))
    if counts[best] / total < s.min_share[best]:
        return "mixed"
    threshold = s.mixed_if_other[best]
    if threshold is not None and other_share >= threshold and other_share > 0:
        return "mixed"
    return s.codes[best]


def identify(text: str) -> str:
    """The language class of a normalised ad (see the module docstring)."""
    arabic = len(_ARABIC_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    if arabic + latin < 3:
        return "und"
    share = arabic / (arabic + latin)
    scripts = _scripts(packs())
    if share >= UR_SCRIPT_SHARE:
        arab = scripts["Arab"]
        if arab.default is None:
            return "und"
        if len(arab.codes) == 1:
            return arab.default
        found = _by_vocabulary(arab, _ARABIC_WORD_RE.findall(text), 1.0 - share)
        return found or arab.default
    if share >= MIXED_SCRIPT_SHARE:
        # Both scripts carry real text; a few Latin brand words in Urdu stay Arabic-script above.
        return "mixed"
    latn = scripts["Latn"]
    found = _by_vocabulary(latn, _LATIN_WORD_RE.findall(text), share) if latn.codes else None
    if found is None:
        return "und" if latin < MIN_LETTERS_UNKNOWN_WORDS or latn.default is None else latn.default
    return found


on_change(_scripts.cache_clear)
