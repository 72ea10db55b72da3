"""The typed input and scored ad (inference/schema.py): what the scorer writes fits the model,
the committed JSON Schemas are what the model generates, and bad rows are named precisely."""

from __future__ import annotations

import json

import pytest
from nigehbaan.inference.schema import (
    SCORED_COLUMNS,
    SCORED_FIELDS,
    InputAd,
    ValidationError,
    describe,
    json_schemas,
    render,
    validate_scored,
)
from nigehbaan.inference.scorer import OUTPUT_FIELDS, score_records

from tests.conftest import ROOT
from tests.regression.expected import read_inputs


@pytest.fixture(scope="module")
def fast_model():
    from nigehbaan.inference.model import load_model

    return load_model(ROOT / "models" / "fast")


@pytest.mark.parametrize("input_name", ["sample", "test"])
def test_every_row_the_bundled_models_write_is_a_valid_scored_ad(fast_model, rules_model, input_name):
    records = read_inputs(input_name)
    records.append({"id": "bad", "text": 42})  # and an error row
    for model in (fast_model, rules_model):
        rows = score_records(records, model)
        evidence = 0
        for row in rows:
            ad = validate_scored(row)
            for ind in ad.indicators:
                for ev in ind.evidence:
                    assert ev.source == "rule" and row["text"][ev.start : ev.end] == ev.text
                    evidence += 1
        assert evidence > 50
        assert rows[-1]["error"] and validate_scored(rows[-1]).risk is None


def test_the_scorer_writes_every_field_of_the_model_in_its_order(rules_model):
    (row,) = score_records([{"text": "visa free, fees pehle"}], rules_model)
    assert [k for k in row if k in SCORED_FIELDS] == [k for k in OUTPUT_FIELDS if k in SCORED_FIELDS]
    assert set(SCORED_FIELDS) <= set(row) and set(SCORED_FIELDS) <= set(OUTPUT_FIELDS)
    assert dict(SCORED_COLUMNS)["risk"] == "float" and dict(SCORED_COLUMNS)["entities"] == "json"


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_committed_json_schemas_are_what_the_model_generates(name):
    committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert committed == render(json_schemas()[name]), (
        f"docs/{name} is out of date with inference/schema.py. "
        "Fix: python -m nigehbaan.inference.schema docs"
    )


def test_published_scored_schema_requires_every_field_the_scorer_writes():
    schema = json.loads((ROOT / "docs" / "scored-ad.schema.json").read_text(encoding="utf-8"))
    assert schema["required"] == list(SCORED_FIELDS)
    assert schema["$defs"]["Evidence"]["properties"]["source"]["enum"] == ["rule", "model"]
    assert "encoder_precision" not in schema["$defs"]["ModelInfo"]["required"]


def test_bad_rows_are_named_by_field_path():
    with pytest.raises(ValidationError) as exc:
        validate_scored({"id": "x", "risk": 1.5, "band": "urgent",
                         "indicators": [{"id": "a", "score": 0.5, "evidence": [{"start": 0}]}]})
    msg = describe(exc.value, limit=5)
    assert "risk:" in msg and "band:" in msg and "indicators.0.evidence.0.end: Field required" in msg
    with pytest.raises(ValidationError, match="text"):
        InputAd.model_validate({"id": "1"})
    assert InputAd.model_validate({"text": "ad", "shop": "x"}).model_extra == {"shop": "x"}


def _options(parser, prefix=()):
    """(command path, option string) for every option of every (sub)command."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), None
                yield from _options(sub, (*prefix, name))
        elif action.option_strings and action.dest != "help":
            yield prefix, max(action.option_strings, key=len)


def test_docs_interface_documents_every_command_and_option():
    from nigehbaan.cli import build_parser

    doc = (ROOT / "docs" / "interface.md").read_text(encoding="utf-8")
    missing = [
        " ".join(cmd) + (f" {opt}" if opt else "")
        for cmd, opt in _options(build_parser())
        if (opt or cmd[-1]) not in doc
    ]
    assert not missing, f"docs/interface.md does not mention: {missing}"
    for status in ("| 0 |", "| 1 |", "| 2 |", "| 130 |", "| 141 |"):
        assert status in doc
