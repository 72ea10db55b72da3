"""One summary row per template and per network (`nigehbaan cluster --clusters FILE`), and the
template text with its varying slots marked.

The template text follows InfoShield's idea (Lee et al., ICDE 2021): align the members'
normalised tokens against the most central member (difflib), keep the tokens every compared
member shares and write `{slot}` where they differ (a number, a city, a name).
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import NamedTuple

SLOT = "{slot}"
# Members aligned for the template text (the first ones, in input order): enough to see what
# varies, bounded so a 1,000-post template costs what a 20-post one does.
ALIGN_MEMBERS = 20


class AdMeta(NamedTuple):
    """What the summary needs of one ad (None where the input does not say)."""

    id: str
    lang: str | None
    platform: str | None
    posted_at: str | None
    risk: float | None
    band: str | None
    indicators: tuple[str, ...]
    contacts: tuple[str, ...]


def meta_of(ad_id: str, record: dict, lang: str | None, contacts: list[str]) -> AdMeta:
    risk = record.get("risk")
    try:
        risk = float(risk) if risk not in (None, "") and record.get("band") else None
    except (TypeError, ValueError):
        risk = None
    inds = record.get("indicators")
    if isinstance(inds, str):
        import json

        try:
            inds = json.loads(inds)
        except ValueError:
            inds = []
    ids = tuple(
        i.get("id") if isinstance(i, dict) else i
        for i in (inds if isinstance(inds, list) else [])
        if isinstance(i, (dict, str))
    )
    posted = record.get("posted_at")
    platform = record.get("platform")
    return AdMeta(
        ad_id, lang,
        platform if isinstance(platform, str) and platform else None,
        posted if isinstance(posted, str) and posted else None,
        risk, record.get("band") if risk is not None else None,
        tuple(i for i in ids if isinstance(i, str)), tuple(contacts),
    )


def template_text(texts: list[str]) -> str:
    """The members' common text with `{slot}` where they differ (texts in input order)."""
    toks = [t.split() for t in texts[:ALIGN_MEMBERS]]
    if len(toks) == 1:
        return " ".join(toks[0])
    sets = [set(t) for t in toks]

    def closeness(i):
        return sum(len(sets[i] & s) / (len(sets[i] | s) or 1) for s in sets)

    center = max(range(len(toks)), key=closeness)
    kept = [0] * len(toks[center])
    others = [t for i, t in enumerate(toks) if i != center]
    for other in others:
        sm = difflib.SequenceMatcher(None, toks[center], other, autojunk=False)
        for block in sm.get_matching_blocks():
            for k in range(block.a, block.a + block.size):
                kept[k] += 1
    out: list[str] = []
    for tok, k in zip(toks[center], kept, strict=True):
        word = tok if k == len(others) else SLOT
        if not (word == SLOT and out and out[-1] == SLOT):
            out.append(word)
    return " ".join(out)


def summary_row(cid: str, kind: str, metas: list[AdMeta], hubs: dict[str, int] | None = None) -> dict:
    """The summary of one template or network from its members' metadata (input order)."""
    risks = [m.risk for m in metas if m.risk is not None]
    posted = sorted(m.posted_at for m in metas if m.posted_at)
    indicators = Counter(i for m in metas for i in m.indicators)
    row = {
        "id": cid,
        "kind": kind,
        "size": len(metas),
        "members": [m.id for m in metas],
        "langs": dict(Counter(m.lang for m in metas if m.lang).most_common()),
        "platforms": dict(Counter(m.platform for m in metas if m.platform).most_common()),
        "first_posted": posted[0] if posted else None,
        "last_posted": posted[-1] if posted else None,
        "risk_max": round(max(risks), 4) if risks else None,
        "risk_mean": round(sum(risks) / len(risks), 4) if risks else None,
        "share_high": round(sum(m.band == "high" for m in metas) / len(risks), 4) if risks else None,
        "indicators": dict(indicators.most_common()),
        "contacts": sorted({c for m in metas for c in m.contacts if not hubs or c not in hubs}),
    }
    if hubs is not None:
        mine = {c for m in metas for c in m.contacts}
        row["hubs"] = {c: n for c, n in sorted(hubs.items()) if c in mine}
    return row


# How `--clusters` is written by the table writers (CSV/Parquet): these columns typed, the other
# fields (lists, objects) kept as JSON; `read_summaries` undoes it.
SUMMARY_COLUMNS = (("id", "string"), ("kind", "string"), ("size", "float"))


def read_summaries(path: str):
    """Yield (row number, summary dict) from a `--clusters` file (.jsonl, .csv or .parquet, as
    `nigehbaan cluster` writes it); nested fields come back as lists and objects. Raises
    UsageError for a file it cannot read or a line that is not a JSON object."""
    import json

    from nigehbaan.inference.errors import UsageError
    from nigehbaan.inference.io import decode_cells, format_of, readers

    fmt = format_of(path, "clusters file")
    for row in readers[fmt](path, require=()):
        if row.error is not None:
            raise UsageError(
                f"{path}:{row.line}: expected one summary object per line, found {row.error}. "
                f"Fix: write it again with `nigehbaan cluster INPUT -o OUT --clusters {path}`."
            )
        record = row.record
        if fmt in ("csv", "parquet"):
            record = decode_cells(record, SUMMARY_COLUMNS)
            for key, value in list(record.items()):
                if key not in ("id", "kind", "template") and isinstance(value, str) and value[:1] in "[{":
                    try:
                        record[key] = json.loads(value)
                    except ValueError:
                        pass
        yield row.n if fmt in ("csv", "parquet") else row.line, record
