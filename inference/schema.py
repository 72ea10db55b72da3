"""The input ad and the scored ad as typed (pydantic v2) models: the one definition of the
fields in docs/interface.md, of the columns and types every writer uses, of the JSON Schemas
in docs/ (`python -m nigehbaan.inference.schema docs` regenerates them) and of what the review
importer accepts.

The scorer builds its rows as plain dicts in this field order and does not validate each one:
a row that broke the model would be a bug in the scorer, not in the input, with nothing better
to write instead. Validating costs 17-48 us per row, 2-5% of the fast model's scoring on the
test split (1.0 ms per ad, one process, 2 loaded cores); tests/test_schema.py validates every
row the bundled fast and rules models write for the sample and the test split, and rows from
outside (the review importer) are validated where they come in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from nigehbaan.inference.io.registry import Column
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "Evidence", "Indicator", "Entities", "ModelInfo", "InputAd", "ScoredAd", "ValidationError",
    "SCORED_FIELDS", "SCORED_COLUMNS", "EVIDENCE_SOURCES", "columns", "json_schemas",
    "validate_scored", "empty_entities",
]

EVIDENCE_SOURCES = ("rule", "model")


class _Closed(BaseModel):
    # A default lets an older row be read; the scorer always writes the field, so the published
    # (serialization) schema requires it.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class Span(_Closed):
    """Characters `start` to `end` of the original input text: `text[start:end] == text`."""

    start: int = Field(ge=0, description="offset of the first character in the input text")
    end: int = Field(ge=0, description="offset after the last character")
    text: str = Field(description="the input text between start and end")


class Evidence(Span):
    source: Literal["rule", "model"] = Field(
        "rule", description="what found it: a lexicon or entity rule, or the model"
    )
    score: float = Field(
        1.0, ge=0, le=1, description="how sure: 1.0 for a rule hit (a documented rule fired), "
        "the highest token probability inside the span for a model span"
    )


class Indicator(_Closed):
    id: str = Field(description="indicator id, one of the 18 of the lexicon (see the README)")
    score: float = Field(ge=0, le=1, description="the model's probability for the indicator")
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="words that point at it, sorted by start; empty when only the model saw it",
    )
    grounded: bool = Field(
        True, description="whether it carries at least one evidence item; an ungrounded "
        "indicator is shown only above the model's higher `ungrounded_thresholds` where it has them"
    )


class Money(Span):
    amount: float = Field(description="the amount as written, multipliers (lakh, k) applied")
    currency: str = Field(description="ISO code, PKR when none is written")
    period: str | None = Field(description="hour, day, week, month or year; null when unknown")
    period_assumed: bool = Field(False, description="period taken as month from a salary word")
    pkr: int = Field(description="the amount in PKR")
    pkr_per_month: int | None = Field(description="PKR per month where a period is known")


class Age(Span):
    min: int = Field(ge=1, le=80, description="lower bound (equal to max for a single age)")
    max: int = Field(ge=1, le=80)


class Location(Span):
    name: str = Field(description="canonical English name")
    type: str = Field(description="pk_city, country or city")
    country: str = Field(description="ISO 3166 alpha-2 country code")


class Licence(Span):
    number: str = Field(description="the OEP licence number, spaces removed, upper case")


class Entities(_Closed):
    phones: list[str] = Field(default_factory=list, description="phone numbers in E.164")
    whatsapp: list[str] = Field(default_factory=list, description="the phones tied to WhatsApp")
    emails: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    handles: list[str] = Field(default_factory=list, description="social media handles")
    money: list[Money] = Field(default_factory=list)
    ages: list[Age] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    licences: list[Licence] = Field(default_factory=list)


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    version: str
    kind: str | None = Field(None, description="linear, stack or rules")
    lexicon: str | None = Field(None, description="lexicon version")
    lexicon_sha256: str | None = Field(None, description="first 12 hex digits of its SHA-256")
    encoder_precision: Literal["bf16", "float32"] | None = Field(
        None, description="the default (stack) model only: how its encoder ran"
    )


class InputAd(BaseModel):
    """One input row. Only `text` is required; every other field is passed through."""

    model_config = ConfigDict(extra="allow", title="Nigehbaan input ad")

    text: str = Field(min_length=1, max_length=200_000, description="the ad as scraped")
    id: str | None = Field(None, description="when missing, derived from the text")
    url: str | None = None
    platform: str | None = None
    posted_at: str | None = None
    lang: str | None = Field(None, description="kept as input_lang in the scored ad")


class ScoredAd(BaseModel):
    """One output row of `nigehbaan score`: the input's fields plus these. On an error row
    `error` is set, `risk`, `band` and `lang` are null and the lists empty."""

    # Every field has a default so that a hand-made or older row can be read (the importer
    # checks the fields it needs); the scorer writes them all, and the published schema (the
    # serialization schema) lists them all as required.
    model_config = ConfigDict(
        extra="allow", title="Nigehbaan scored ad", json_schema_serialization_defaults_required=True
    )

    id: str | None = Field(None, description="the input id or one derived from the text")
    risk: float | None = Field(None, ge=0, le=1, description="calibrated probability that an "
                               "investigator should review the ad")
    band: Literal["high", "medium", "low"] | None = Field(None, description="triage band")
    priority: float | None = Field(
        None, ge=0, le=1, description="triage order: the risk weighed by the severity of the "
        "indicators present, risk x (0.4 + 0.6 x max(severity x score)); at most the risk; "
        "null on an error row (see inference/priority.py for the severities)")
    lang: str | None = Field(None, description="detected language: en, ur, ur-Latn, mixed, und "
                             "or a language pack's code")
    text_kind: Literal["ad", "warning", "news", "other"] | None = Field(
        None, description="what kind of text it is (a warning or news item about trafficking is "
        "not an ad for it); null when the model has no text-kind head")
    indicators: list[Indicator] = Field(default_factory=list, description="only indicators "
                                        "judged present, highest score first")
    entities: Entities = Field(default_factory=Entities)
    model: ModelInfo | None = Field(None, description="the model that scored the row")
    error: str | None = Field(None, description="why the row could not be scored, else null")
    warnings: list[str] = Field(default_factory=list, description="what was repaired or cut")


# Field order of a scored row: the columns of CSV and Parquet output and the first keys of JSONL.
SCORED_FIELDS: tuple[str, ...] = tuple(ScoredAd.model_fields)


def columns(model: type[BaseModel]) -> list[Column]:
    """(name, kind) of each field: "float" for numbers, "json" for lists and objects, else
    "string" (the table writers' storage types)."""
    out = []
    for name, info in model.model_fields.items():
        ann = str(info.annotation)
        if info.annotation in (float, float | None, int, int | None):
            kind = "float"
        elif any(t in ann for t in ("list", "dict", "Entities", "ModelInfo")):
            kind = "json"
        else:
            kind = "string"
        out.append((name, kind))
    return out


SCORED_COLUMNS: list[Column] = columns(ScoredAd)


def empty_entities() -> dict[str, list]:
    return {name: [] for name in Entities.model_fields}


def validate_scored(row: Any) -> ScoredAd:
    """The row as a ScoredAd; raises pydantic's ValidationError saying which field is wrong."""
    return ScoredAd.model_validate(row)


def describe(exc: ValidationError, limit: int = 3) -> str:
    """A pydantic error in one line: `field.path: message (found value)`."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{where}: {err['msg']} (found {str(err.get('input'))[:40]!r})")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def json_schemas() -> dict[str, dict]:
    """File name -> JSON Schema, as committed in docs/."""
    draft = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    return {
        "input-ad.schema.json": draft | InputAd.model_json_schema(),
        "scored-ad.schema.json": draft | ScoredAd.model_json_schema(mode="serialization"),
    }


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the JSON Schemas into a folder (default docs/)."""
    folder = Path((argv if argv is not None else sys.argv[1:] or ["docs"])[0])
    for name, schema in json_schemas().items():
        (folder / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote {folder / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
