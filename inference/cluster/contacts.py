"""Networks: templates and ads joined by a shared contact.

A contact is a phone or WhatsApp number (E.164, one namespace: the same number either way), an
e-mail address, a social handle, a URL's domain unless it is a big platform anyone posts on
(`PLATFORM_DOMAINS`), or an OEP licence number. Templates sharing a contact are one network
(connected components over the template-contact graph).

Hub guard: a contact shared by more than `hub_cap` templates (default 50) is more likely a
platform's, an agency switchboard's or a scraper artefact than one network's; it is reported
(`hubs`) and not used for joining.
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit

import numpy as np
from nigehbaan.inference.cluster.near_dup import renumber
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HUB_CAP = 50
# Domains that say nothing about who posted: social networks, messengers, classifieds and job
# boards, link shorteners, free mail. A subdomain of one counts as the platform.
PLATFORM_DOMAINS = frozenset(
    {
        "facebook.com", "fb.com", "fb.me", "instagram.com", "whatsapp.com", "wa.me",
        "t.me", "telegram.me", "telegram.org", "twitter.com", "x.com", "tiktok.com",
        "youtube.com", "youtu.be", "linkedin.com", "google.com", "goo.gl", "forms.gle",
        "bit.ly", "tinyurl.com", "olx.com.pk", "olx.com", "rozee.pk", "mustakbil.com",
        "indeed.com", "bayt.com", "naukrigulf.com", "gmail.com", "yahoo.com", "hotmail.com",
        "outlook.com",
    }
)


def domain_of(url: str) -> str | None:
    """The URL's host without `www.`, or None for a platform's or an unparsable URL."""
    try:
        host = urlsplit(url if "://" in url else "http://" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().removeprefix("www.")
    parts = host.split(".")
    if any(".".join(parts[i:]) in PLATFORM_DOMAINS for i in range(len(parts))):
        return None
    return host


def contact_keys(entities: dict | None) -> list[str]:
    """`kind:value` contacts of one ad from its entities (as `nigehbaan score` writes them)."""
    if not isinstance(entities, dict):
        return []
    out: set[str] = set()
    for key in ("phones", "whatsapp"):
        out.update(f"phone:{p}" for p in entities.get(key) or [] if isinstance(p, str))
    out.update(f"email:{e.lower()}" for e in entities.get("emails") or [] if isinstance(e, str))
    out.update(f"handle:{h.lower()}" for h in entities.get("handles") or [] if isinstance(h, str))
    for u in entities.get("urls") or []:
        d = domain_of(u) if isinstance(u, str) else None
        if d:
            out.add(f"domain:{d}")
    for lic in entities.get("licences") or []:
        num = lic.get("number") if isinstance(lic, dict) else lic
        if isinstance(num, str) and num:
            out.add(f"licence:{num.upper()}")
    return sorted(out)


def network_labels(template_of_ad: np.ndarray, contacts_of_ad: list[list[str]], hub_cap: int = HUB_CAP):
    """A network label per template (0..k-1 by first template) and the hubs {contact: templates}.

    `template_of_ad[i]` is ad i's template label (0..T-1); `contacts_of_ad[i]` its contacts.
    """
    n_templates = int(template_of_ad.max()) + 1 if len(template_of_ad) else 0
    templates_of: dict[str, set[int]] = defaultdict(set)
    for t, keys in zip(template_of_ad.tolist(), contacts_of_ad, strict=True):
        for k in keys:
            templates_of[k].add(t)
    hubs = {k: len(ts) for k, ts in templates_of.items() if len(ts) > hub_cap}
    rows, cols = [], []
    for ci, (k, ts) in enumerate(templates_of.items()):
        if k in hubs or len(ts) < 2:
            continue
        rows.extend(ts)
        cols.extend([n_templates + ci] * len(ts))
    size = n_templates + len(templates_of)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(size, size))
    _, comp = connected_components(graph, directed=False)
    return renumber(comp[:n_templates]), hubs
