"""Triage priority: the risk weighed by how severe the indicators judged present are.

The risk says how likely an ad is to deserve review; it does not say how bad the harm would
be. A child offered for sale and a vague "urgent hiring" ad can both be near-certain, and an
analyst must still see the child first. So every scored row carries

    priority = risk x (FLOOR + (1 - FLOOR) x s),   s = max over present indicators of
                                                       severity[indicator] x score[indicator]

with `risk` and the indicator scores as printed in the row (4 decimals), so the priority is a
function of the row alone and the review app can recompute it for rows written before it
existed. Properties: 0 when the risk is 0; never above the risk; monotone in the risk, in each
present indicator's score and in its severity; an ad with no indicator judged present keeps
FLOOR of its risk (a risky ad the model cannot explain still gets reviewed).

The severities below are the default; a model contract may override some or all of them
(`severity` in contract.json: {indicator id: weight in 0..1}); contracts without it use this
table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nigehbaan.inference.labels import INDICATORS

PRIORITY_VERSION = "nigehbaan.priority.v1"
# Share of the risk an ad keeps when no indicator is present, or only ones of severity 0.
FLOOR = 0.4

# Severity tiers. 1.0: harm to a child, organ trade, sexual exploitation, bonded labour and
# confinement (the offences of the Prevention of Trafficking in Persons Act 2018 and the
# Bonded Labour System (Abolition) Act 1992 themselves). 0.75: control of the person or of the
# route (documents kept, smuggling, marriage for money). 0.5: deceptive or unlawful recruitment
# (fees, no licence, unrealistic pay, narrow targeting of young women). 0.3: weak signals that
# legitimate ads also carry (urgency, WhatsApp only, no experience needed...).
SEVERITY_TIERS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (1.0, ("minor_targeted", "organ_trade", "sexual_services", "debt_bondage",
           "restricted_freedom")),
    (0.75, ("document_retention", "irregular_route", "marriage_abroad")),
    (0.5, ("upfront_fee", "unlicensed_overseas", "unrealistic_pay", "gender_age_targeting")),
    (0.3, ("free_visa_travel", "no_experience_required", "vague_employer", "urgency_pressure",
           "off_platform_contact", "photo_appearance_request")),
)
DEFAULT_SEVERITY: dict[str, float] = {
    ind: weight for weight, members in SEVERITY_TIERS for ind in members
}
assert set(DEFAULT_SEVERITY) == set(INDICATORS), "every indicator needs a severity"


def severity_table(override: Mapping[str, float] | None = None) -> dict[str, float]:
    """The default severities with a contract's `override` applied (checked: known ids,
    weights in 0..1); raises ValueError saying what is wrong."""
    table = dict(DEFAULT_SEVERITY)
    for ind, weight in (override or {}).items():
        if ind not in table:
            raise ValueError(f"severity: unknown indicator {ind!r}; expected one of the 18 ids")
        if not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ValueError(f"severity of {ind}: expected a number in 0..1, found {weight!r}")
        table[ind] = float(weight)
    return table


def priority(risk: float | None, indicators: Iterable[Mapping], severity: Mapping[str, float]
             | None = None) -> float | None:
    """The priority of a scored row from its `risk` and `indicators` ([{"id", "score"}, ...],
    the ones judged present), rounded to 4 decimals; None when the risk is None (error rows).
    `severity`: a full table from `severity_table` (default: DEFAULT_SEVERITY); ids it does
    not know count as severity 0."""
    if risk is None:
        return None
    table = DEFAULT_SEVERITY if severity is None else severity
    s = 0.0
    for ind in indicators:
        try:
            score = min(max(float(ind.get("score", 0.0)), 0.0), 1.0)
        except (TypeError, ValueError):
            continue
        s = max(s, table.get(str(ind.get("id")), 0.0) * score)
    risk = min(max(float(risk), 0.0), 1.0)
    return round(risk * (FLOOR + (1.0 - FLOOR) * s), 4)
