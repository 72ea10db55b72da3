"""Render an ad's text as safe HTML with each indicator's evidence highlighted.

Every piece of ad text goes through `markupsafe.escape`; the only markup added is `<mark>` and
`<span>` elements whose attributes come from the fixed indicator list, never from the ad.
"""

from __future__ import annotations

import unicodedata
from itertools import pairwise

from markupsafe import Markup, escape
from nigehbaan.review.labels import indicator_class, indicator_label
from nigehbaan.review.scored import valid_evidence

# Bidi embedding/override/isolate controls can make scraped text display in a misleading
# order; show them as visible markers instead of letting them act. (ZWJ/ZWNJ are left alone:
# Urdu typing and emoji use them legitimately.)
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def _text(segment: str) -> Markup:
    if not any(ch in _BIDI_CONTROLS for ch in segment):
        return escape(segment)
    out = Markup("")
    for ch in segment:
        if ch in _BIDI_CONTROLS:
            name = unicodedata.name(ch, "")
            out += Markup('<span class="ctl" title="{}">[U+{:04X}]</span>').format(name, ord(ch))
        else:
            out += escape(ch)
    return out


def highlight(text: str, indicators: list[dict]) -> tuple[Markup, int]:
    """Return (HTML of `text` with evidence marked, number of evidence items not shown).

    Evidence whose offsets do not point at its text is skipped and counted, not guessed at.
    Overlapping evidence of several indicators is split into segments that carry every
    indicator covering them.
    """
    spans: list[tuple[int, int, str]] = []
    skipped = 0
    for ind in indicators or []:
        evidence = ind.get("evidence") or []
        good = valid_evidence(text, evidence)
        skipped += len(evidence) - len(good)
        spans += [(ev["start"], ev["end"], str(ind.get("id"))) for ev in good]
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    # Segments between cuts, each with the indicators covering it; neighbours covered by the
    # same indicators are joined, so overlapping evidence of one indicator stays one <mark>
    # (splitting an Urdu word across elements can break its letter joining).
    segments: list[list] = []
    for a, b in pairwise(cuts):
        covering = tuple(dict.fromkeys(i for s, e, i in spans if s <= a and b <= e))
        if segments and segments[-1][0] == covering:
            segments[-1][2] = b
        else:
            segments.append([covering, a, b])
    html = Markup("")
    for covering, a, b in segments:
        if not covering:
            html += _text(text[a:b])
            continue
        classes = " ".join(
            ["ev", indicator_class(covering[0])] + (["multi"] if len(covering) > 1 else [])
        )
        html += Markup('<mark class="{}" data-indicators="{}" title="{}">{}</mark>').format(
            classes,
            " ".join(covering),
            ", ".join(indicator_label(i) for i in covering),
            _text(text[a:b]),
        )
    return html, skipped
