"""Bidirectional-text controls in ad-controlled strings.

Scraped ads can carry embedding/override/isolate controls and direction marks that make what
is shown differ from what is there (an id or URL that reads `https://finance.gov.pk` but is
not). The app never lets them act: every string a template prints has them replaced by a
visible `[U+202E]` marker (see `web.templates`), and the ad text shows them as marked spans
(see `highlight`). ZWJ/ZWNJ are left alone: Urdu typing and emoji use them legitimately.
"""

from __future__ import annotations

import re

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM (Arabic letter mark).
BIDI_CONTROLS = frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
)
_CONTROL = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def has_controls(text: str) -> bool:
    """True when `text` holds a bidi control."""
    return _CONTROL.search(text) is not None


def visible_controls(text: str) -> str:
    """`text` with each bidi control replaced by a visible `[U+XXXX]` marker."""
    return _CONTROL.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
