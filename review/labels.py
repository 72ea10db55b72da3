"""The label vocabulary the review app shows and validates against.

Mirrors ../shared/spec/indicators.md and interface.md. The ids are a public interface, so a
change here is a versioned change of the label schema, made together with `inference/`.
"""

from __future__ import annotations

INDICATORS: tuple[str, ...] = (
    "unrealistic_pay",
    "no_experience_required",
    "free_visa_travel",
    "upfront_fee",
    "document_retention",
    "unlicensed_overseas",
    "vague_employer",
    "gender_age_targeting",
    "minor_targeted",
    "urgency_pressure",
    "off_platform_contact",
    "photo_appearance_request",
    "restricted_freedom",
    "debt_bondage",
    "irregular_route",
    "marriage_abroad",
    "organ_trade",
    "sexual_services",
)
BANDS: tuple[str, ...] = ("high", "medium", "low")
# Rows the scorer could not score are imported with this pseudo-band so they stay visible.
UNSCORED_BAND = "unscored"
LANGS: tuple[str, ...] = ("en", "ur", "ur-Latn", "mixed", "und")
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
