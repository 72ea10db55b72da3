"""The corpus schema and its validator.

One JSON object per line:

| field | type | notes |
|---|---|---|
| id | str | stable, unique within the corpus |
| text | str | the ad |
| lang | str | en, ur, ur-Latn, mixed |
| platform | str | one of inference.labels.PLATFORMS |
| risk | int | 0 or 1 |
| indicators | list[str] | ids from nigehbaan.inference.labels.INDICATORS, no repeats |
| spans | list | optional: {indicator, start, end, text}, text == text[start:end] |
| source | str | authored, gold, augmented, review |
| family | str | the ad, its variants and near-duplicates share one family |
| split | str | optional: train, dev, test, gold, gold_context |
| text_kind | str | optional: ad, warning, news, other (default read off the brief, see training.data) |

Other fields (brief, augmentation, reviewed_by, ...) are allowed and kept.
"""

from __future__ import annotations

from pathlib import Path

from nigehbaan.inference.io import readers
from nigehbaan.inference.labels import INDICATORS, PLATFORMS, TEXT_KINDS

CORPUS_LANGS = ("en", "ur", "ur-Latn", "mixed")
SOURCES = ("authored", "gold", "augmented", "review")
SPLITS = ("train", "dev", "test", "gold", "gold_context")
REQUIRED = ("id", "text", "lang", "platform", "risk", "indicators", "source", "family")


def validate_record(rec: dict) -> list[str]:
    """Every way `rec` breaks the schema (an empty list when it is valid)."""
    problems = [f"missing field {k!r}" for k in REQUIRED if k not in rec]
    if problems:
        return problems
    if not isinstance(rec["id"], str) or not rec["id"]:
        problems.append("id must be a non-empty string")
    if not isinstance(rec["text"], str) or not rec["text"].strip():
        problems.append("text must be a non-empty string")
    if rec["lang"] not in CORPUS_LANGS:
        problems.append(f"lang {rec['lang']!r} not in {CORPUS_LANGS}")
    if rec["platform"] not in PLATFORMS:
        problems.append(f"platform {rec['platform']!r} not in {PLATFORMS}")
    if rec["risk"] not in (0, 1) or isinstance(rec["risk"], bool):
        problems.append(f"risk must be 0 or 1, found {rec['risk']!r}")
    inds = rec["indicators"]
    if not isinstance(inds, list):
        problems.append("indicators must be a list")
    else:
        unknown = [i for i in inds if i not in INDICATORS]
        if unknown:
            problems.append(f"unknown indicator ids {unknown}")
        if len(set(inds)) != len(inds):
            problems.append("indicators repeat")
    if rec["source"] not in SOURCES:
        problems.append(f"source {rec['source']!r} not in {SOURCES}")
    if "split" in rec and rec["split"] not in SPLITS:
        problems.append(f"split {rec['split']!r} not in {SPLITS}")
    if "text_kind" in rec and rec["text_kind"] not in TEXT_KINDS:
        problems.append(f"text_kind {rec['text_kind']!r} not in {TEXT_KINDS}")
    for span in rec.get("spans") or []:
        problems.extend(_span_problems(rec, span))
    return problems


def _span_problems(rec: dict, span: dict) -> list[str]:
    try:
        ind, s, e, t = span["indicator"], span["start"], span["end"], span["text"]
    except (KeyError, TypeError):
        return [f"span {span!r} needs indicator, start, end, text"]
    out = []
    if ind not in rec["indicators"]:
        out.append(f"span indicator {ind!r} is not among the ad's indicators")
    if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(rec["text"])):
        out.append(f"span offsets {s}..{e} outside the text")
    elif rec["text"][s:e] != t:
        out.append(f"span text {t!r} != text[{s}:{e}] {rec['text'][s:e]!r}")
    return out


def validate_file(path: str | Path) -> list[str]:
    """Problems in a corpus JSONL file, each prefixed with its line number; also duplicate ids."""
    problems, ids = [], set()
    for row in readers["jsonl"](str(path)):
        n, rec = row.line, row.record
        if row.error is not None:
            problems.append(f"{path}:{n}: {row.error}")
            continue
        problems += [f"{path}:{n}: {p}" for p in validate_record(rec)]
        if rec.get("id") in ids:
            problems.append(f"{path}:{n}: duplicate id {rec.get('id')!r}")
        ids.add(rec.get("id"))
    return problems
