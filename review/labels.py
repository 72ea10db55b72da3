"""The review app's vocabulary: the label schema from `inference.labels` (the runtime owns it),
plus the statuses, actions and roles that only the review app uses.
"""

from __future__ import annotations

from nigehbaan.inference.labels import BANDS, INDICATORS

__all__ = [
    "ACTIONS",
    "BANDS",
    "INDICATORS",
    "ROLES",
    "STATUSES",
    "UNSCORED_BAND",
    "indicator_class",
    "indicator_label",
]

# Rows the scorer could not score are imported with this pseudo-band so they stay visible.
UNSCORED_BAND = "unscored"
# `new` is undecided; the other three are the analyst's decision.
STATUSES: tuple[str, ...] = ("new", "confirmed", "dismissed", "escalated")
ACTIONS: dict[str, str] = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
ROLES: tuple[str, ...] = ("analyst", "supervisor")


def indicator_label(indicator_id: str) -> str:
    """Human-readable name of an indicator id: `upfront_fee` -> `Upfront fee`."""
    return indicator_id.replace("_", " ").capitalize()


def indicator_class(indicator_id: str) -> str:
    """CSS class that colours an indicator's evidence (`ind-0` .. `ind-17`, `ind-x` if unknown).

    Derived from the position in INDICATORS so the class can never carry text from an ad.
    """
    try:
        return f"ind-{INDICATORS.index(indicator_id)}"
    except ValueError:
        return "ind-x"
