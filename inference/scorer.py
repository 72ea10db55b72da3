"""Score ads: normalise, identify the language, extract entities, match rules, run the model,
and build the scored-ad records of ../shared/spec/interface.md.

`score_records(records, model)` is the library entry point; it never raises for a bad row:
the row comes back with `error` set and every other field present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from nigehbaan.inference import scorecache, surrogates
from nigehbaan.inference.entities import extract_entities
from nigehbaan.inference.features import AdAnalysis
from nigehbaan.inference.labels import TEXT_KINDS
from nigehbaan.inference.langid import identify
from nigehbaan.inference.model import Model
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.priority import priority
from nigehbaan.inference.rules import entity_hits, match_lexicon
from nigehbaan.inference.schema import SCORED_FIELDS
from nigehbaan.inference.spans import ground_indicators

MAX_TEXT_CHARS = 200_000
# Only the first this many characters of an ad are analysed: the cost of an ad stays bounded
# (a 200k-character paste or base64 blob costs what a long ad does), and the row's `warnings`
# says so. No ad in the corpus comes near it; evidence offsets are unchanged (a prefix).
MAX_ANALYSED_CHARS = 20_000
# The scored-ad fields in output order (inference/schema.py's ScoredAd is the one definition).
OUTPUT_FIELDS = SCORED_FIELDS
_EMPTY_ENTITIES = {
    "phones": [], "whatsapp": [], "emails": [], "urls": [], "handles": [], "money": [],
    "ages": [], "locations": [], "licences": [],
}


def derive_id(text: str) -> str:
    """A stable id from the ad's content (same text, same id, on any machine)."""
    return "ad-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def analyze(texts: list[str]) -> list[AdAnalysis]:
    """Everything the rules find in each text (shared with training, see features.py); a text
    is read up to MAX_ANALYSED_CHARS."""
    norms = [normalize(t[:MAX_ANALYSED_CHARS]) for t in texts]
    lex_hits = match_lexicon(norms)
    out = []
    for norm, hits in zip(norms, lex_hits, strict=True):
        entities = extract_entities(norm)
        hits = hits + entity_hits(norm.text, entities)
        out.append(AdAnalysis(norm.text, identify(norm.text), entities, hits, norm))
    return out


def check_text(record: dict) -> str | None:
    """Why this input row cannot be scored, or None when it can."""
    if "text" not in record:
        found = ", ".join(sorted(map(str, record))[:20])
        return f"missing field 'text': every ad needs its text (fields found: {found})"
    text = record["text"]
    if not isinstance(text, str):
        return f"field 'text' must be a string, found {type(text).__name__}"
    if not text.strip():
        return "field 'text' is empty"
    if len(text) > MAX_TEXT_CHARS:
        return (
            f"text is {len(text):,} characters, over the {MAX_TEXT_CHARS:,} limit; "
            "an ad this long is likely a scraping error: split or trim it"
        )
    if surrogates.has_surrogates(text):
        return "text is not valid UTF-8 (undecodable bytes); re-encode the source as UTF-8"
    return None


def _warnings_of(text: str) -> list[str]:
    if len(text) > MAX_ANALYSED_CHARS:
        return [
            f"text truncated for analysis: the first {MAX_ANALYSED_CHARS:,} of {len(text):,} "
            "characters were scored"
        ]
    return []


def error_row(record: dict, error: str, model: Model | None, warnings: list[str] | None = None) -> dict:
    """An output row for an ad that could not be scored: all fields present, `error` set."""
    record, _ = surrogates.repair(record)
    row = dict(record)
    if not isinstance(row.get("id"), str) or not row.get("id"):
        text = record.get("text")
        row["id"] = derive_id(text) if isinstance(text, str) else row.get("id") or None
        if row["id"] is not None and not isinstance(row["id"], str):
            row["id"] = str(row["id"])
    row.update(
        risk=None,
        band=None,
        priority=None,
        lang=None,
        text_kind=None,
        indicators=[],
        entities=dict(_EMPTY_ENTITIES),
        model=model.info if model else None,
        error=error,
        warnings=list(warnings or []),
    )
    return row


def score_records(records: Iterable[dict], model: Model) -> list[dict]:
    """Score a batch of input records (dicts with at least `text`); one output per input.

    Lone surrogates anywhere in a record (half an emoji, see surrogates.py) are replaced by
    U+FFFD and reported in the row's `warnings`; so is a text cut for analysis."""
    records = list(records)
    results: list[dict | None] = [None] * len(records)
    warnings: list[list[str]] = []
    ok_idx, texts = [], []
    for i, rec in enumerate(records):
        rec, repaired = surrogates.repair(rec)
        records[i] = rec
        warnings.append(
            [f"{repaired} lone surrogate(s) (a cut emoji?) replaced by U+FFFD"] if repaired else []
        )
        problem = check_text(rec)
        if problem:
            results[i] = error_row(rec, problem, model, warnings[i])
        else:
            ok_idx.append(i)
            texts.append(rec["text"])
    if texts:
        try:
            analyses = analyze(texts)
            probs, kinds, tokens = scorecache.predict_cached(model, analyses, model.predict_with_evidence)
        except Exception:  # noqa: BLE001 - one bad ad must not sink the batch: retry singly
            analyses, probs, kinds, tokens = None, None, None, None
        for k, i in enumerate(ok_idx):
            if analyses is None:
                results[i] = _score_one_safely(records[i], model)
            else:
                kind = None if kinds is None else kinds[k]
                results[i] = _build_row(records[i], analyses[k], probs[k], model, kind,
                                        None if tokens is None else tokens[k])
            results[i]["warnings"] = warnings[i] + _warnings_of(records[i]["text"])
    return results  # type: ignore[return-value]


def _score_one_safely(record: dict, model: Model) -> dict:
    try:
        analysis = analyze([record["text"]])
        probs, kinds, tokens = model.predict_with_evidence(analysis)
        return _build_row(record, analysis[0], probs[0], model, None if kinds is None else kinds[0],
                          None if tokens is None else tokens[0])
    except Exception as exc:  # noqa: BLE001 - reported in the row, never lost
        return error_row(record, f"internal error while scoring: {type(exc).__name__}: {exc}", model)


def _build_row(record: dict, a: AdAnalysis, probs, model: Model, kind_probs=None,
               tokens=None) -> dict:
    row = dict(record)
    if row.get("lang") is not None:
        row["input_lang"] = row.pop("lang")
    rid = row.get("id")
    row["id"] = str(rid) if rid not in (None, "") else derive_id(record["text"])
    # The band is read off the risk as printed, so a risk shown as the `high` threshold is high.
    risk = round(float(probs[0]), 4)
    # Evidence (rule hits, else the best model span for a model with a span head), `grounded`, and the
    # higher threshold for ungrounded indicators: inference/spans.py.
    indicators = ground_indicators(record["text"], a, probs, model.contract, tokens)
    row.update(
        risk=risk,
        band=model.band(risk),
        # The risk weighed by the severity of the indicators present (inference/priority.py).
        priority=priority(risk, indicators, model.severity),
        lang=a.lang,
        # What kind of text this is (ad / warning / news / other); None when the model has no
        # text-kind head (the rules model, older models).
        text_kind=None if kind_probs is None else TEXT_KINDS[int(kind_probs.argmax())],
        indicators=indicators,
        entities=a.entities,
        model=model.info,
        error=None,
    )
    return row
