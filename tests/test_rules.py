import json
from importlib import resources

import pytest
from nigehbaan.inference.entities import extract_entities
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.rules import entity_hits, lexicon_fingerprint, match_lexicon


def hits(text):
    return {(h.indicator, text[h.start : h.end], h.negated) for h in match_lexicon([normalize(text)])[0]}


def test_every_built_in_lexicon_covers_exactly_the_18_indicators():
    folder = resources.files("nigehbaan.inference").joinpath("lang")
    for name in ("en", "ur", "ur_Latn"):
        data = json.loads(folder.joinpath(name, "lexicon.json").read_text(encoding="utf-8"))
        assert sorted(data["indicators"]) == sorted(INDICATORS), name
        assert data["version"] and data["negation_cues"]


@pytest.mark.parametrize(
    "text, indicator, evidence",
    [
        ("Processing fee 50,000 after visa", "upfront_fee", "Processing fee"),
        ("passport company ke paas rahega", "document_retention", "passport company ke paas"),
        ("Italy by boat, dunki lagwayen", "irregular_route", "dunki lagwayen"),
        ("ویزا اور ٹکٹ فری", "free_visa_travel", "ویزا اور ٹکٹ فری"),
        ("koi tajurba zaroori nahi", "no_experience_required", "tajurba zaroori nahi"),
        ("Chinese rishta, family ko 10 lakh", "marriage_abroad", "Chinese rishta"),
        ("kidney donor needed high payment", "organ_trade", "kidney donor"),
        ("گردہ فروخت کرنا ہے", "organ_trade", "گردہ فروخت"),
    ],
)
def test_lexicon_finds_indicators_with_original_evidence(text, indicator, evidence):
    assert (indicator, evidence, False) in hits(text)


@pytest.mark.parametrize(
    "text, word",
    [
        ("No fee is charged at any stage", "fee"),
        ("fees nahi li jayegi", "fees"),
        ("کوئی فیس نہیں", "فیس"),
        ("We never ask for processing fees", "processing fees"),
    ],
)
def test_negated_fee_is_not_upfront_fee(text, word):
    found = [h for h in hits(text) if h[0] == "upfront_fee"]
    assert found and all(neg for _, _, neg in found), found


def test_negation_does_not_cross_a_clause():
    found = [h for h in hits("No experience needed. Processing fee 20000") if h[0] == "upfront_fee"]
    assert found == [("upfront_fee", "Processing fee", False)]


def test_phrases_that_contain_their_own_negation_are_not_negated():
    assert ("unlicensed_overseas", "protector ki zaroorat nahi", False) in hits(
        "protector ki zaroorat nahi"
    )


def test_entity_rules_child_age_high_pay_and_young_women():
    text = "need 12 saal ki bachi, helper salary 3 lakh monthly, girls 18-22 only"
    n = normalize(text)
    got = {(h.indicator, text[h.start : h.end]) for h in entity_hits(n.text, extract_entities(n))}
    assert ("minor_targeted", "12 saal ki bachi") in got
    assert ("unrealistic_pay", "3 lakh monthly") in got
    assert ("gender_age_targeting", "girls 18-22") in got


def test_skilled_work_is_not_unrealistic_pay():
    n = normalize("Consultant surgeon salary 9 lakh monthly")
    assert not [h for h in entity_hits(n.text, extract_entities(n)) if h.indicator == "unrealistic_pay"]


def test_fingerprint_is_stable_and_names_the_version():
    a, b = lexicon_fingerprint(), lexicon_fingerprint()
    assert a == b and a["version"].startswith("nigehbaan.lexicon") and len(a["sha256"]) == 64
