"""A network drawn on the server as SVG: templates and contacts as nodes, an edge where a
template's ads carry a contact. No JavaScript library, nothing fetched.

Templates sit on an inner ring (largest first), contacts on an outer ring, each contact at the
mean angle of its templates so that edges stay short. Every string that reaches the markup (ids,
contact values, which come from ads and are untrusted) goes through `markupsafe.escape`, and
bidi controls are made visible as on every page; colours come from classes in style.css (the
Content-Security-Policy allows no inline styles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape
from nigehbaan.review.bidi import visible_controls

MAX_TEMPLATES = 40
MAX_CONTACTS = 60
LABELLED_CONTACTS = 24  # beyond this many, contacts carry their value only as a tooltip
WIDTH, HEIGHT = 760, 560


def _text(value: str, limit: int = 28) -> str:
    value = visible_controls(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def network_svg(
    templates: Sequence[tuple[str, int, Sequence[str]]],
    *,
    current: str | None = None,
    hubs: Sequence[str] = (),
    link: Callable[[str], str] | None = None,
) -> tuple[Markup, str]:
    """(svg markup, note) for `templates` = [(template id, size, contact keys)].

    At most MAX_TEMPLATES templates (the largest, and always `current`) and MAX_CONTACTS
    contacts (those shared by most of the drawn templates) are drawn; `note` says what was left
    out, or is empty. `link(template_id)` gives the href of a template node. Hub contacts (in
    `hubs`: too common to join templates) are drawn dashed.
    """
    shown = list(templates[:MAX_TEMPLATES])
    if current and all(t[0] != current for t in shown):
        extra = [t for t in templates if t[0] == current]
        if extra:
            shown = shown[: MAX_TEMPLATES - 1] + extra
    degree: dict[str, int] = {}
    for _, _, contacts in shown:
        for c in set(contacts):
            degree[c] = degree.get(c, 0) + 1
    all_contacts = {c for _, _, cs in templates for c in cs}
    contacts = sorted(degree, key=lambda c: (-degree[c], c))[:MAX_CONTACTS]
    notes = []
    if len(shown) < len(templates):
        notes.append(f"{len(shown)} of {len(templates)} templates (the largest)")
    if len(contacts) < len(all_contacts):
        notes.append(f"{len(contacts)} of {len(all_contacts)} contacts (the most shared)")
    note = "Showing " + " and ".join(notes) + "." if notes else ""

    cx, cy = WIDTH / 2, HEIGHT / 2
    r_t = 0 if len(shown) == 1 else min(150.0, 40 + 12 * len(shown))
    r_c = r_t + (110 if len(contacts) <= LABELLED_CONTACTS else 90)
    angle = {t[0]: 2 * math.pi * i / len(shown) - math.pi / 2 for i, t in enumerate(shown)}
    pos_t = {t: (cx + r_t * math.cos(a), cy + r_t * math.sin(a)) for t, a in angle.items()}
    edges = [(t, c) for t, _, cs in shown for c in sorted(set(cs)) if c in set(contacts)]

    def mean_angle(c: str) -> float:
        ts = [angle[t] for t, k in edges if k == c]
        x, y = sum(math.cos(a) for a in ts), sum(math.sin(a) for a in ts)
        if math.hypot(x, y) < 1e-6:  # opposite templates: beside them, not across one
            return (ts[0] if ts else 0.0) + math.pi / 2
        return math.atan2(y, x)

    wanted = {c: mean_angle(c) % (2 * math.pi) for c in contacts}
    order = sorted(contacts, key=lambda c: (wanted[c], c))
    # Each contact near its templates, pushed on just far enough to keep labels apart.
    gap = min(2 * math.pi / max(1, len(order)), 0.35)
    pos_c, last = {}, -math.inf
    for c in order:
        a = max(wanted[c], last + gap)
        last = a
        pos_c[c] = (cx + r_c * math.cos(a), cy + r_c * math.sin(a), a)

    hub_set = set(hubs)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="netsvg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="network: {len(shown)} templates, {len(contacts)} contacts">'
    ]
    for t, c in edges:
        (x1, y1), (x2, y2, _) = pos_t[t], pos_c[c]
        cls = "net-edge hub" if c in hub_set else "net-edge"
        out.append(f'<line class="{cls}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
    labelled = len(contacts) <= LABELLED_CONTACTS
    for c in order:
        x, y, a = pos_c[c]
        kind, _, value = c.partition(":")
        cls = "net-c hub" if c in hub_set else "net-c"
        out.append(
            f'<g class="{cls}"><title>{escape(_text(c, 200))}'
            f"{' (hub: not used to join)' if c in hub_set else ''}</title>"
            f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10"/>'
        )
        if labelled:
            anchor = "start" if math.cos(a) >= 0 else "end"
            dx = 9 if anchor == "start" else -9
            out.append(
                f'<text x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">'
                f"{escape(_text(value or kind))}</text>"
            )
        out.append("</g>")
    for t, size, _ in shown:
        x, y = pos_t[t]
        radius = 8 + 3 * math.sqrt(size)
        cls = "net-t current" if t == current else "net-t"
        node = (
            f'<g class="{cls}"><title>{escape(_text(t, 200))}: {size} ad'
            f"{'' if size == 1 else 's'}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{min(radius, 40):.1f}"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{size}</text></g>'
        )
        if link is not None and t != current:
            node = f'<a href="{escape(link(t))}">{node}</a>'
        out.append(node)
    out.append("</svg>")
    return Markup("".join(out)), note
