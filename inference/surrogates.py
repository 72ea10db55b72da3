"""Lone UTF-16 surrogates in input rows: repaired, counted, never passed on.

Scraped social media often holds an emoji cut in half, which JSON carries as a lone escape
("\\ud83d"). Python reads it as a lone surrogate, which no UTF-8 writer can encode: one such
character used to crash a whole batch. Each lone surrogate becomes U+FFFD, one character for one
character, so evidence offsets into the repaired text stay the offsets into the input.
"""

from __future__ import annotations

import re

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def has_surrogates(text: str) -> bool:
    return _SURROGATE_RE.search(text) is not None


def repair(value):
    """(value with every lone surrogate in its strings and keys replaced by U+FFFD, how many).

    Walks dicts and lists; other values come back unchanged. Strings that encode cleanly (nearly
    all) are returned as they are, without a copy.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            fixed, n = _SURROGATE_RE.subn(REPLACEMENT, value)
            return fixed, n
        return value, 0
    if isinstance(value, dict):
        out, total = {}, 0
        for k, v in value.items():
            k2, a = repair(k) if isinstance(k, str) else (k, 0)
            v2, b = repair(v)
            out[k2] = v2
            total += a + b
        return (out, total) if total else (value, 0)
    if isinstance(value, list):
        items = [repair(v) for v in value]
        total = sum(n for _, n in items)
        return ([v for v, _ in items], total) if total else (value, 0)
    return value, 0
