"""The label schema: the 18 indicator ids (../shared/spec/indicators.md), languages and bands.

`LANGS` is computed from the registered language packs (`langpacks.lang_classes()`).

The ids are a public interface; their order here is the order of model outputs and is saved
in every model contract, so reordering or renaming is a versioned, breaking change.
"""

LABEL_SCHEMA_VERSION = "nigehbaan.labels.v1"

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
# What kind of text an ad-like text is (issue: warnings and news about trafficking are not
# trafficking ads). A model with a text-kind head reports one of these per scored row.
TEXT_KINDS: tuple[str, ...] = ("ad", "warning", "news", "other")
PLATFORMS: tuple[str, ...] = (
    "classifieds",
    "facebook",
    "whatsapp",
    "newspaper",
    "job_board",
    "telegram",
    "instagram",
    "tiktok",
    "sms",
    "other",
)


def __getattr__(name: str):
    # The language classes are the registered language packs' codes plus `mixed` and `und`
    # (built in: en, ur, ur-Latn); see inference/langpacks.py.
    if name == "LANGS":
        from nigehbaan.inference.langpacks import lang_classes

        return lang_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
