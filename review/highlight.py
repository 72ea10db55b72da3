"""Render an ad's text as safe HTML with each indicator's evidence highlighted.

Every piece of ad text goes through `markupsafe.escape`; the only markup added is `<mark>` and
`<span>` elements whose attributes come from the fixed indicator list, never from the ad.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape
from nigehbaan.review.bidi import BIDI_CONTROLS, has_controls
from nigehbaan.review.labels import indicator_class, indicator_label
from nigehbaan.review.scored import valid_evidence

# Evidence items marked at most: beyond this a page gets heavy for the browser and the analyst
# learns nothing more from the colour. The page says how many were left unmarked.
MAX_HIGHLIGHTED = 2000


# Each control's marker is built once and the text is escaped in one call: an ad with thousands
# of controls took 1-2 s per page escaping and formatting character by character.
_MARKERS = {
    ch: Markup('<span class="ctl" title="{}">[U+{:04X}]</span>').format(unicodedata.name(ch, ""), ord(ch))
    for ch in BIDI_CONTROLS
}
_CONTROL = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def _text(segment: str) -> Markup:
    """Escaped text, with bidi controls shown as visible markers instead of acting."""
    if not has_controls(segment):
        return escape(segment)
    # Escaping leaves the controls as they are, so they can be swapped for markers afterwards.
    return Markup(_CONTROL.sub(lambda m: _MARKERS[m.group()], str(escape(segment))))


def highlight(
    text: str, indicators: list[dict], limit: int = MAX_HIGHLIGHTED
) -> tuple[Markup, int, int]:
    """Return (HTML of `text` with evidence marked, number of evidence items skipped because
    their offsets do not point at their text, number of valid items left unmarked because the
    ad has more than `limit`).

    Skipped evidence is counted, not guessed at. Only the first `limit` valid items in text
    order are marked. Overlapping evidence of several indicators is split into segments that
    carry every indicator covering them. One sweep over the sorted span boundaries, so the
    work grows as n log n in the number of spans, not n².
    """
    order: dict[str, int] = {}  # indicator id -> position of its first evidence
    spans: list[tuple[int, int, int]] = []  # (start, end, indicator order)
    skipped = 0
    for ind in indicators or []:
        evidence = ind.get("evidence") or []
        good = valid_evidence(text, evidence)
        skipped += len(evidence) - len(good)
        if good:
            rank = order.setdefault(str(ind.get("id")), len(order))
            spans += [(ev["start"], ev["end"], rank) for ev in good]
    spans.sort()
    unmarked = max(0, len(spans) - limit)
    # (offset, +1 opens / -1 closes, indicator order), sorted by offset
    events = sorted(e for s, t, r in spans[:limit] for e in ((s, 1, r), (t, -1, r)))
    ids = list(order)
    # Segments between boundaries, each with the indicators covering it; neighbours covered by
    # the same indicators are joined, so overlapping evidence of one indicator stays one <mark>
    # (splitting an Urdu word across elements can break its letter joining).
    segments: list[list] = []
    active: dict[int, int] = {}  # indicator order -> number of its spans open here
    pos = 0
    for offset, step, rank in [*events, (len(text), 0, -1)]:
        if offset > pos:
            covering = tuple(ids[r] for r in sorted(active))
            if segments and segments[-1][0] == covering:
                segments[-1][2] = offset
            else:
                segments.append([covering, pos, offset])
            pos = offset
        if step:
            active[rank] = active.get(rank, 0) + step
            if not active[rank]:
                del active[rank]
    parts = []
    for covering, a, b in segments:
        if not covering:
            parts.append(_text(text[a:b]))
            continue
        classes = " ".join(
            ["ev", indicator_class(covering[0])] + (["multi"] if len(covering) > 1 else [])
        )
        parts.append(
            Markup('<mark class="{}" data-indicators="{}" title="{}">{}</mark>').format(
                classes,
                " ".join(covering),
                ", ".join(indicator_label(i) for i in covering),
                _text(text[a:b]),
            )
        )
    return Markup("").join(parts), skipped, unmarked
