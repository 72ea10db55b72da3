"""Reading the parts of a scored ad (see ../shared/spec/interface.md) the review app uses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from nigehbaan.inference.priority import priority


def model_indicator_ids(scored: dict) -> list[str]:
    """Indicator ids the model reported, in its order, without repeats."""
    return list(dict.fromkeys(str(i.get("id")) for i in scored.get("indicators") or []))


def corrected_indicators(scored: dict, removed: Iterable[str], added: Iterable[str]) -> list[str]:
    """The model's indicators with an analyst's corrections applied."""
    removed = set(removed)
    kept = [i for i in model_indicator_ids(scored) if i not in removed]
    return kept + [i for i in added if i not in kept]


def valid_evidence(text: str, evidence: Any) -> list[dict]:
    """The evidence items whose offsets really point at their text in `text`."""
    good = []
    for ev in evidence if isinstance(evidence, list) else []:
        try:
            start, end = int(ev["start"]), int(ev["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start < end <= len(text) and text[start:end] == ev.get("text", text[start:end]):
            good.append({"start": start, "end": end, "text": text[start:end]})
    return good


def entity_values(entities: Any) -> Iterator[tuple[str, str]]:
    """(kind, value) pairs from a scored ad's `entities`; non-string values as JSON text."""
    if not isinstance(entities, dict):
        return
    for kind, values in entities.items():
        if not isinstance(values, list):
            continue
        for v in values:
            yield str(kind), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def row_priority(scored: dict, risk: float | None) -> float:
    """The queue's priority of a scored row: its `priority` when it has one in 0..1, else
    computed from `risk` and its indicators by inference/priority.py (default severities; rows
    written before `priority` existed); -1 for a row without a risk (sorts last)."""
    if risk is None:
        return -1.0
    value = scored.get("priority")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    indicators = [i for i in scored.get("indicators") or [] if isinstance(i, dict)]
    return float(priority(risk, indicators))
