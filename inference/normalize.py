"""Text normalisation with an offset map back to the original ad.

Every rule, entity and model sees the *normalised* text; every evidence span is reported in
*original* character offsets. `normalize()` therefore builds, for each normalised character, the
half-open range of original characters it came from, so that `Normalized.to_original(s, e)`
turns a normalised span into an original one and `text[start:end]` is exactly what the poster
wrote (HTML entities, zero-width characters and Urdu digits included).

What it does, in order (NORMALIZER_VERSION names this behaviour; a change is a new version):
1. HTML: `<script>`/`<style>` blocks dropped, tags become a space, entities unescaped.
2. Per character: zero-width and bidi controls, tatweel, Arabic diacritics and variation
   selectors dropped; NFKC (Arabic presentation forms, full-width Latin); Arabic yeh/kaf/heh
   folded to the Urdu letters; Urdu (۰-۹) and Arabic-Indic (٠-٩) digits to ASCII; Urdu
   punctuation to ASCII; Cyrillic and Greek look-alikes to Latin; lower case.
3. Emoji that stand for words become those words ("📞" -> "phone", 🇦🇪 -> "flag_ae").
4. Leetspeak inside words ("W@tsapp" -> "watsapp", "v1sa" -> "visa"); emails and URLs kept.
5. Digit runs written one digit at a time ("0 3 0 0 . 1 2 3 ...") are joined.
6. Runs of white space become one space; the ends are trimmed.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

NORMALIZER_VERSION = "nigehbaan.normalize.v1"

_DROP = set(
    "\u00ad\u034f\u061c\u0640\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\ufe0e\ufe0f\u20e3"
)
# C0/C1 control characters (NUL included) other than white space.
_DROP.update(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])
_DROP.discard("\x85")
# Arabic harakat, superscript alef and Quranic annotation marks carry no meaning in ads.
_DROP.update(chr(c) for c in range(0x064B, 0x0660))
_DROP.add("\u0670")
_DROP.update(chr(c) for c in range(0x06D6, 0x06EE))
_DROP.update(chr(c) for c in range(0x1F3FB, 0x1F400))  # emoji skin tones

# Typographic folds every script shares. A script's own folds (Arabic letter forms to the Urdu
# letters Pakistani keyboards produce, Urdu punctuation and digits) come from the language
# packs' normalize.json (inference/lang/ur/normalize.json); `_FOLD` is both, see `_load_folds`.
_BASE_FOLD = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u00a0": " ",
}
_FOLD: dict[str, str] = {}

# Cyrillic and Greek letters that look like Latin ones (lower-cased forms).
_HOMOGLYPHS = dict(
    zip(
        "аеорсуххіјѕԁԛԝһӏвкмнтαβεικμνορτυχ",
        "aeopcyxxijsdqwhlbkmhtabeikmvoptux",
        strict=True,
    )
)

_EMOJI_WORDS = {
    "📞": "phone", "☎": "phone", "📱": "phone", "📲": "phone", "☏": "phone",
    "✈": "flight", "🛫": "flight", "🛬": "flight",
    "💰": "money", "💵": "money", "💸": "money", "💲": "money", "🤑": "money", "💶": "money",
    "💷": "money", "💴": "money",
    "🚢": "boat", "⛴": "boat", "🛥": "boat", "🚤": "boat", "⛵": "boat", "🛶": "boat",
    "👧": "girl", "👩": "woman", "👶": "baby", "🍼": "baby", "👦": "boy",
    "🛂": "passport", "📧": "email", "✉": "email", "📩": "email",
    "🆓": "free", "⏰": "urgent", "⏳": "urgent", "⌛": "urgent", "🚨": "urgent",
    "💼": "job", "🏠": "house", "🏨": "hotel", "💃": "dance", "💋": "kiss", "🔞": "adult",
    "🫘": "kidney",
}

# Markup that becomes a space: a <script>/<style> block with its content, a comment, or a tag.
# `_markup_spans` finds them as the single regex
#   <(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->|</?[a-zA-Z][^<>]{0,1000}>   (I, DOTALL)
# would, but looks for each closer once instead of once per opener: with that regex, thousands
# of unclosed "<!--" or "<script" openers made an ad quadratic (seconds for 20k characters).
_BLOCK_OPEN_RE = re.compile(r"<(script|style)\b", re.IGNORECASE)
_BLOCK_CLOSE_RE = {n: re.compile(rf"</{n}\s*>", re.IGNORECASE) for n in ("script", "style")}
_COMMENT_CLOSE_RE = re.compile(r"-->")
_GT_RE = re.compile(r">")
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,1000}>")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});?")
_LEET = {"@": "a", "$": "s", "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
# Runs of letters, digits, '@' and '$' holding at least one letter. The look-behind tries a run
# only at its start and the first class has no letters, so a long letterless run (a 30k-digit
# blob) is scanned once, not once per character (quadratic before).
_LEET_TOKEN_RE = re.compile(r"(?<![a-z@$0-9])[@$0-9]*[a-z][a-z@$0-9]*")
# The same tokens, only those holding a leet character (`_unleet` leaves the others alone): the
# look-ahead skips the leading letters, so a plain word is never handed to Python.
_LEET_CANDIDATE_RE = re.compile(r"(?<![a-z@$0-9])(?=[a-z]*[@$0-9])[@$0-9]*[a-z][a-z@$0-9]*")
# A token (run of non-space) is an e-mail or URL, protected from leetspeak folding, when it reads
# "x@y.z" or holds "http" / "www." (`_emailish_tokens`). Tested per token in linear time: the old
# regex over the whole text backtracked quadratically on a long token.
_TOKEN_RE = re.compile(r"\S+")
_SPACED_DIGITS_RE = re.compile(r"(?<![0-9])[0-9](?:[ .\-_/,*·•]{1,3}[0-9]{1,2})+(?![0-9])")
_SPACE_RE = re.compile(r"\s+")
# The white-space runs `_collapse_space` changes: two or more characters, or one that is not a
# plain space (a lone " " is left as it is, so it need not be matched at all).
_SPACE_FIX_RE = re.compile(r"\s{2,}|[^\S ]")
_FLAG_RE = re.compile("[\ue000-\ue019]{2}|[\ue000-\ue019]")


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus, per character, the original range `[starts[i], ends[i])`."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span `[start, end)` to the original span it came from."""
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]

    def evidence(self, start: int, end: int) -> dict:
        """An evidence record (original offsets and the original words) for a normalised span."""
        s, e = self.to_original(start, end)
        return {"start": s, "end": e, "text": self.original[s:e]}


def _load_folds() -> None:
    """(Re)build `_FOLD`: the shared folds plus every language pack's `normalize.json` folds."""
    from nigehbaan.inference.langpacks import LanguagePackError, on_change, packs

    table = dict(_BASE_FOLD)
    for pack in packs():
        for ch, to in pack.data("normalize.json").get("folds", {}).items():
            if table.get(ch, to) != to:
                raise LanguagePackError(
                    f"language pack {pack.source}: normalize.json folds {ch!r} to {to!r}, but "
                    f"another pack folds it to {table[ch]!r}. Fix: drop one of the two folds."
                )
            table[ch] = to
    _FOLD.clear()
    _FOLD.update(table)
    _fold_char.cache_clear()
    _ONE_CHAR.clear()
    if not _FOLD_READY:
        _FOLD_READY.append(True)
        on_change(_load_folds)


_FOLD_READY: list[bool] = []


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    """The normalised form of one character (possibly empty or several characters)."""
    if not _FOLD_READY:
        _load_folds()
    if ch in _DROP:
        return ""
    if ch in _FOLD:
        return _FOLD[ch]
    if ch in _EMOJI_WORDS:
        return f" {_EMOJI_WORDS[ch]} "
    if 0x1F1E6 <= ord(ch) <= 0x1F1FF:  # half of a flag: a private-use marker, paired up later
        return chr(ord(ch) - 0x1F1E6 + 0xE000)
    cat = unicodedata.category(ch)
    if cat == "Mn" and not ("\u0600" <= ch <= "\u06ff"):
        return ""  # combining marks on Latin letters (accents), not Urdu letters like noon ghunna
    out = unicodedata.normalize("NFKC", ch)
    out = "".join(_FOLD.get(c, c) for c in out).lower()
    return "".join(_HOMOGLYPHS.get(c, c) for c in out)


def _html_pieces(text: str):
    """Yield (piece, start, end): text runs, tags as a space, entities unescaped."""
    pos = 0
    if "<" not in text and "&" not in text:
        yield text, 0, len(text)
        return
    for start, end in _markup_spans(text):
        yield from _entity_pieces(text, pos, start)
        yield " ", start, end
        pos = end
    yield from _entity_pieces(text, pos, len(text))


class _NextMatch:
    """The first match of a pattern at or after a position, for positions asked in increasing
    order: the answer is reused until the position passes it, so each stretch of text is
    searched once."""

    def __init__(self, pattern: re.Pattern, text: str):
        self.pattern, self.text = pattern, text
        self.asked, self.found = -1, None

    def at_or_after(self, i: int) -> re.Match | None:
        if self.asked >= 0 and i >= self.asked and (self.found is None or self.found.start() >= i):
            return self.found
        self.asked, self.found = i, self.pattern.search(self.text, i)
        return self.found


def _markup_spans(text: str):
    """Yield (start, end) of each markup span, left to right (see `_BLOCK_OPEN_RE`)."""
    gt = _NextMatch(_GT_RE, text)
    comment_end = _NextMatch(_COMMENT_CLOSE_RE, text)
    block_end = {n: _NextMatch(r, text) for n, r in _BLOCK_CLOSE_RE.items()}
    p = text.find("<")
    while p >= 0:
        end = None
        opener = _BLOCK_OPEN_RE.match(text, p)
        if opener:
            close_gt = gt.at_or_after(opener.end())
            if close_gt:
                closer = block_end[opener.group(1).lower()].at_or_after(close_gt.end())
                end = closer.end() if closer else None
        if end is None and text.startswith("<!--", p):
            closer = comment_end.at_or_after(p + 4)
            end = closer.end() if closer else None
        if end is None:
            tag = _TAG_RE.match(text, p)
            end = tag.end() if tag else None
        if end is None:
            p = text.find("<", p + 1)
        else:
            yield p, end
            p = text.find("<", end)


def _entity_pieces(text: str, start: int, end: int):
    pos = start
    if "&" in text[start:end]:
        for m in _ENTITY_RE.finditer(text, start, end):
            value = html.unescape(m.group(0))
            if value == m.group(0):
                continue
            if m.start() > pos:
                yield text[pos : m.start()], pos, m.start()
            yield value, m.start(), m.end()
            pos = m.end()
    if end > pos:
        yield text[pos:end], pos, end


class _OneCharFolds(dict):
    """`str.translate` table: a character whose fold is exactly one character maps to it, any
    other (dropped, or folded to several) to NUL, which no fold ever produces (NUL is dropped).
    Filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        out = self[code] = folded if len(folded) == 1 else "\x00"
        return out


_ONE_CHAR = _OneCharFolds()


def _fold(text: str) -> tuple[list[str], list[int], list[int]]:
    """Steps 1-3: per-character folding of the HTML-stripped text."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    if not _FOLD_READY:
        _load_folds()
    for piece, pstart, pend in _html_pieces(text):
        whole = len(piece) != pend - pstart  # an entity or tag: every output char maps to all of it
        if not whole:
            # Fast path (same result): runs of characters that fold to one character each map
            # char for char, without a Python step per character; only the others (NUL in
            # `one`: dropped, or folded to several) are folded one by one.
            one = piece.translate(_ONE_CHAR)
            pos = 0
            while pos < len(one):
                k = one.find("\x00", pos)
                stop = len(one) if k < 0 else k
                if stop > pos:
                    chars.extend(one[pos:stop])
                    starts.extend(range(pstart + pos, pstart + stop))
                    ends.extend(range(pstart + pos + 1, pstart + stop + 1))
                if k < 0:
                    break
                for c in _fold_char(piece[k]):
                    chars.append(c)
                    starts.append(pstart + k)
                    ends.append(pstart + k + 1)
                pos = k + 1
            continue
        for i, ch in enumerate(piece):
            folded = _fold_char(ch)
            if not folded:
                continue
            s, e = (pstart, pend) if whole else (pstart + i, pstart + i + 1)
            if len(folded) == 1:
                chars.append(folded)
                starts.append(s)
                ends.append(e)
            else:
                for c in folded:
                    chars.append(c)
                    starts.append(s)
                    ends.append(e)
    return chars, starts, ends


def _rewrite(chars, starts, ends, pattern, replace, text=None):
    """Apply `replace(match) -> str | None` to regex matches over the char list, keeping offsets.

    A replacement of the same length maps char for char; any other length maps every new
    character to the whole matched original range. `text`: `"".join(chars)` when the caller
    has it already.
    """
    if text is None:
        text = "".join(chars)
    out_c, out_s, out_e = [], [], []
    pos = 0
    for m in pattern.finditer(text):
        new = replace(m)
        if new is None:
            continue
        out_c.extend(chars[pos : m.start()])
        out_s.extend(starts[pos : m.start()])
        out_e.extend(ends[pos : m.start()])
        if len(new) == m.end() - m.start():
            out_c.extend(new)
            out_s.extend(starts[m.start() : m.end()])
            out_e.extend(ends[m.start() : m.end()])
        elif new:
            s, e = starts[m.start()], ends[m.end() - 1]
            out_c.extend(new)
            out_s.extend([s] * len(new))
            out_e.extend([e] * len(new))
        pos = m.end()
    if pos == 0:
        return chars, starts, ends
    out_c.extend(chars[pos:])
    out_s.extend(starts[pos:])
    out_e.extend(ends[pos:])
    return out_c, out_s, out_e


def _unleet(m: re.Match) -> str | None:
    tok = m.group(0)
    if tok.isalpha() or sum(c.isalpha() for c in tok) < 2:
        return None
    out = list(tok)
    changed = False
    for i, c in enumerate(tok):
        if c not in _LEET:
            continue
        prev_alpha = i > 0 and out[i - 1].isalpha()
        next_alpha = i + 1 < len(tok) and tok[i + 1].isalpha()
        # Symbols need a letter before them (a leading '@' is a handle); digits need letters
        # on both sides ("v1sa"), so amounts such as "5000rs" or "3lakh" keep their digits.
        if (c in "@$" and prev_alpha) or (prev_alpha and next_alpha):
            out[i] = _LEET[c]
            changed = True
    return "".join(out) if changed else None


def _join_spaced_digits(m: re.Match) -> str | None:
    run = m.group(0)
    groups = re.findall(r"[0-9]+", run)
    digits = sum(len(g) for g in groups)
    # Only runs written a digit or two at a time and long enough to be a phone number: keeps
    # ordinary "10 - 12", "2, 3" and "0300 1234567" (phonenumbers reads that one) untouched.
    if digits < 7 or digits / len(groups) > 2:
        return None
    return "".join(groups)


def _flag_word(m: re.Match) -> str:
    code = "".join(chr(ord(c) - 0xE000 + ord("a")) for c in m.group(0))
    return f" flag_{code} "


def normalize(text: str) -> Normalized:
    """Normalise an ad and keep the offset map (see the module docstring for the steps)."""
    chars, starts, ends = _fold(text)
    joined = "".join(chars)
    # Each pass below joins the characters again only when the one before changed them.
    if "\ue000" <= max(joined, default=" ") and _FLAG_RE.search(joined):
        chars, starts, ends = _rewrite(chars, starts, ends, _FLAG_RE, _flag_word, joined)
        joined = "".join(chars)
    # Leetspeak folding skips emails and URLs, whose '@' and digits are real.
    maybe_protected = "@" in joined or "http" in joined or "www." in joined
    protected = _emailish_tokens(joined) if maybe_protected else []

    def unleet(m: re.Match) -> str | None:
        i = bisect.bisect_right(protected, (m.start(), len(joined) + 1)) - 1
        if i >= 0 and protected[i][1] > m.start():  # the token holding this run is protected
            return None
        return _unleet(m)

    before = chars
    chars, starts, ends = _rewrite(chars, starts, ends, _LEET_CANDIDATE_RE, unleet, joined)
    if chars is not before:
        joined = "".join(chars)
    before = chars
    chars, starts, ends = _rewrite(chars, starts, ends, _SPACED_DIGITS_RE, _join_spaced_digits, joined)
    if chars is not before:
        joined = "".join(chars)
    chars, starts, ends = _rewrite(chars, starts, ends, _SPACE_FIX_RE, _collapse_space, joined)
    # Trim: drop leading/trailing spaces.
    lo, hi = 0, len(chars)
    while lo < hi and chars[lo] == " ":
        lo += 1
    while hi > lo and chars[hi - 1] == " ":
        hi -= 1
    return Normalized(text, "".join(chars[lo:hi]), tuple(starts[lo:hi]), tuple(ends[lo:hi]))


def _emailish_tokens(text: str) -> list[tuple[int, int]]:
    """Sorted (start, end) of the tokens that are e-mails or URLs (see `_EMAILISH_TOKEN_RE`)."""
    out = []
    for m in _TOKEN_RE.finditer(text):
        tok = m.group(0)
        if "http" in tok or "www." in tok:
            out.append((m.start(), m.end()))
            continue
        # "x@y.z": an "@" after the first character and a "." at least two characters after it,
        # with a character after the "." (the first "@" and the last such "." decide it).
        at = tok.find("@", 1)
        if at > 0 and tok.rfind(".", 0, len(tok) - 1) >= at + 2:
            out.append((m.start(), m.end()))
    return out


def _collapse_space(m: re.Match) -> str | None:
    if m.group(0) == " ":
        return None
    return " "
