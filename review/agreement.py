"""Agreement between two analysts on the double-review sample: Cohen's kappa for the risk
label and for each indicator, with the counts behind them.

The first decision on a sampled ad and the blind second review are two raters' labels of the
same ad. The label is the action (confirm, dismiss, escalate); an indicator is present for a
rater when the model's list with that rater's corrections contains it.
"""

from __future__ import annotations

import json
import math
import sqlite3
import warnings
from dataclasses import dataclass

from nigehbaan.review.labels import INDICATORS
from nigehbaan.review.scored import corrected_indicators


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa over `n` ads (None when undefined: fewer than 2 ads, or both raters
    gave every ad the same single label) and how many of them the raters agreed on."""

    name: str
    n: int
    agree: int
    kappa: float | None


def _kappa(name: str, a: list, b: list) -> Kappa:
    from sklearn.metrics import cohen_kappa_score

    agree = sum(x == y for x, y in zip(a, b, strict=True))
    value = None
    if len(a) >= 2 and len(set(a) | set(b)) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 when expected agreement is 1
            k = float(cohen_kappa_score(a, b))
        value = None if math.isnan(k) else k
    return Kappa(name, len(a), agree, value)


def agreement(conn: sqlite3.Connection) -> list[Kappa]:
    """Kappa for the risk label (first) and every indicator, over the ads reviewed twice."""
    rows = conn.execute(
        "SELECT a.scored_json, f.action AS a1, f.removed_json AS r1, f.added_json AS d1, "
        "s.action AS a2, s.removed_json AS r2, s.added_json AS d2 FROM double_review r "
        "JOIN ads a ON a.id = r.ad_id JOIN decisions f ON f.id = r.first_id "
        "JOIN decisions s ON s.id = r.second_id"
    ).fetchall()
    first, second = [], []
    per_ind: dict[str, tuple[list, list]] = {i: ([], []) for i in INDICATORS}
    for r in rows:
        scored = json.loads(r["scored_json"])
        first.append(r["a1"])
        second.append(r["a2"])
        s1 = set(corrected_indicators(scored, json.loads(r["r1"]), json.loads(r["d1"])))
        s2 = set(corrected_indicators(scored, json.loads(r["r2"]), json.loads(r["d2"])))
        for ind, (x, y) in per_ind.items():
            x.append(ind in s1)
            y.append(ind in s2)
    return [_kappa("risk label", first, second)] + [
        _kappa(ind, x, y) for ind, (x, y) in per_ind.items()
    ]
