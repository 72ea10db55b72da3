"""An ad's entities as readable lists for the ad page, with links where a link helps.

Phones get a `tel:` and a WhatsApp (`wa.me`) link, e-mails `mailto:`, URLs a plain link that
tells the site nothing (`rel="noopener noreferrer nofollow"`, opened in a new tab); money reads
as amount, currency and period with the PKR-per-month figure; places, ages and OEP licences as
text. Ads are untrusted: every string here is rendered by an autoescaping template, and only
http(s) URLs become links (a `javascript:` or `data:` URL stays text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

# (entity kind, heading) in the order the page lists them.
KINDS = (
    ("phones", "Phones"),
    ("whatsapp", "WhatsApp"),
    ("emails", "E-mails"),
    ("urls", "URLs"),
    ("handles", "Social handles"),
    ("money", "Money"),
    ("locations", "Places"),
    ("ages", "Ages"),
    ("licences", "OEP licences"),
)
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


@dataclass(frozen=True)
class Link:
    """One link beside an entity: its text, its href and whether it leaves the app."""

    label: str
    href: str
    external: bool = False


@dataclass(frozen=True)
class Item:
    """One entity as shown: `text`, a `detail` in muted type, links, and the value that other
    ads are matched on (phones, WhatsApp, e-mails) or None."""

    text: str
    detail: str = ""
    links: tuple[Link, ...] = ()
    contact: str | None = None


def _phone(value: str) -> Item:
    if not _PHONE.match(value):
        return Item(value)
    digits = value.lstrip("+")
    return Item(
        value,
        links=(
            Link("call", "tel:+" + digits),
            Link("WhatsApp", "https://wa.me/" + digits, external=True),
        ),
        contact=value,
    )


def _email(value: str) -> Item:
    if not _EMAIL.match(value):
        return Item(value, contact=value)
    return Item(
        value, links=(Link("e-mail", "mailto:" + quote(value, safe="@.+-_")),), contact=value
    )


def _url(value: str) -> Item:
    href = value if "://" in value else "http://" + value
    try:
        parts = urlsplit(href)
    except ValueError:
        return Item(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return Item(value)
    return Item(value, links=(Link("open", href, external=True),))


def _number(x: Any) -> str:
    if isinstance(x, int | float):
        return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"
    return str(x)


def _money(m: dict) -> Item:
    amount = f"{m.get('currency', '')} {_number(m.get('amount', '?'))}".strip()
    if m.get("period"):
        amount += f" per {m['period']}" + (" (assumed)" if m.get("period_assumed") else "")
    pkr = m.get("pkr_per_month")
    detail = f"≈ PKR {_number(pkr)}/month" if isinstance(pkr, int | float) else ""
    if not detail and isinstance(m.get("pkr"), int | float):
        detail = f"≈ PKR {_number(m['pkr'])}"
    return Item(amount, f"{detail} · “{m.get('text', '')}”" if detail else f"“{m.get('text', '')}”")


def _place(m: dict) -> Item:
    kind = str(m.get("type", "")).replace("_", " ")
    where = ", ".join(str(x) for x in (kind, m.get("country")) if x)
    return Item(str(m.get("name") or m.get("text", "")), where)


def _age(m: dict) -> Item:
    low, high = m.get("min"), m.get("max")
    text = f"{low}" if low == high else f"{low or '?'}–{high or '?'}"
    return Item(f"{text} years", f"“{m.get('text', '')}”")


def _licence(m: dict) -> Item:
    return Item(str(m.get("number") or m.get("text", "")), f"“{m.get('text', '')}”")


_BY_KIND = {
    "phones": _phone,
    "whatsapp": _phone,
    "emails": _email,
    "urls": _url,
    "money": _money,
    "locations": _place,
    "ages": _age,
    "licences": _licence,
}


def _item(kind: str, value: Any) -> Item:
    make = _BY_KIND.get(kind)
    if isinstance(value, str):
        return make(value) if make in (_phone, _email, _url) else Item(value)
    if isinstance(value, dict) and make is not None and make not in (_phone, _email, _url):
        return make(value)
    return Item(str(value.get("text", value)) if isinstance(value, dict) else str(value))


def entity_lists(entities: Any) -> list[tuple[str, str, list[Item]]]:
    """[(kind, heading, items)] for the kinds the ad has, known kinds first in KINDS order,
    without repeats."""
    if not isinstance(entities, dict):
        return []
    headings = dict(KINDS)
    order = [k for k, _ in KINDS] + sorted(k for k in entities if k not in headings)
    out = []
    for kind in order:
        values = entities.get(kind)
        if not isinstance(values, list) or not values:
            continue
        items = list(dict.fromkeys(_item(kind, v) for v in values))
        out.append((kind, headings.get(kind, kind.replace("_", " ").capitalize()), items))
    return out
