"""Language packs: a new language from a folder, without touching engine code, and the model
fingerprints that keep a trained model from loading against changed data."""

import json
import shutil

import pytest
from nigehbaan.inference import langpacks
from nigehbaan.inference.errors import ModelContractError
from nigehbaan.inference.langid import identify
from nigehbaan.inference.langpacks import (
    LanguagePackError,
    packs,
    register_language_pack,
    reload_packs,
    unregister_language_pack,
)
from nigehbaan.inference.model import load_model
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.rules import lexicon_fingerprint
from nigehbaan.inference.scorer import score_records

from tests.conftest import ROOT

SINDHI = ROOT / "tests" / "fixtures" / "lang" / "sd"
# "Job available! Visa free. The passport stays with the company. Pay three lakh rupees a
# month. In Karachi, WhatsApp 0300-1234567"
AD = (
    "نوڪري آهي! ويزا مفت. پاسپورٽ ڪمپني وٽ رهندو. پگهار ٽي لک رپيا مهينو. "
    "ڪراچي ۾ واٽس ايپ 0300-1234567"
)


@pytest.fixture()
def sindhi():
    pack = register_language_pack(SINDHI)
    yield pack
    unregister_language_pack("sd")


@pytest.fixture()
def builtin_copy(tmp_path, monkeypatch):
    """The built-in packs read from a tmp copy that a test may edit."""
    copy = tmp_path / "lang"
    shutil.copytree(ROOT / "inference" / "lang", copy)
    monkeypatch.setattr(
        langpacks, "_builtin_packs",
        lambda: [langpacks._read_pack(copy / name, True) for name in langpacks.BUILTIN],
    )
    reload_packs()
    yield copy
    monkeypatch.undo()
    reload_packs()


def test_built_in_packs_are_english_roman_urdu_and_urdu_in_lexicon_order():
    assert [p.code for p in packs()] == ["en", "ur-Latn", "ur"]
    assert langpacks.lang_classes() == ("en", "ur", "ur-Latn", "mixed", "und")
    # The lexicon hash is the one the shipped models were trained with, from the moved files.
    assert lexicon_fingerprint()["sha256"].startswith("8725f78f2103")


def test_a_toy_pack_scores_an_ad_in_its_language_with_the_rules_model(sindhi):
    row = score_records([{"id": "sd-1", "text": AD}], load_model(ROOT / "models" / "rules"))[0]
    assert row["error"] is None and row["lang"] == "sd"
    found = {i["id"]: i["evidence"] for i in row["indicators"]}
    # The pack's lexicon cue, with its evidence in the original text.
    assert [e["text"] for e in found["document_retention"]] == ["پاسپورٽ ڪمپني وٽ"]
    assert AD[found["document_retention"][0]["start"] : found["document_retention"][0]["end"]] == "پاسپورٽ ڪمپني وٽ"
    # Its number, multiplier, currency and period words are money; three lakh a month is
    # unrealistic pay for unskilled work.
    (money,) = row["entities"]["money"]
    assert (money["text"], money["pkr_per_month"], money["period"]) == ("ٽي لک رپيا مهينو", 300000, "month")
    assert "unrealistic_pay" in found
    # Its place names and WhatsApp spelling (written with raw Sindhi letters, folded like the ad).
    assert [loc["name"] for loc in row["entities"]["locations"]] == ["Karachi"]
    assert row["entities"]["whatsapp"] == ["+923001234567"]


def test_without_the_pack_the_same_ad_is_urdu_and_its_cue_is_not_found():
    row = score_records([{"id": "sd-1", "text": AD}], load_model(ROOT / "models" / "rules"))[0]
    assert row["lang"] == "ur"
    assert "document_retention" not in {i["id"] for i in row["indicators"]}
    assert row["entities"]["money"] == []


def test_langid_tells_the_toy_language_from_urdu_by_its_words(sindhi):
    assert identify(normalize(AD).text) == "sd"
    assert identify(normalize("نوکری کے لیے رابطہ کریں، تنخواہ اچھی ہے").text) == "ur"
    assert identify(normalize("Visa free, apply now for the job").text) == "en"


def test_packs_named_in_the_environment_are_registered(monkeypatch):
    monkeypatch.setenv(langpacks.PACKS_ENV, str(SINDHI))
    reload_packs()
    try:
        assert [p.code for p in packs()] == ["en", "ur-Latn", "ur", "sd"]
        assert identify(normalize(AD).text) == "sd"
    finally:
        monkeypatch.delenv(langpacks.PACKS_ENV)
        reload_packs()
    assert [p.code for p in packs()] == ["en", "ur-Latn", "ur"]


def test_a_trained_model_refuses_extra_packs_and_says_what_to_do(sindhi):
    with pytest.raises(ModelContractError, match=r"language packs en, ur-Latn, ur \(this code: en, ur-Latn, ur, sd\)") as exc:
        load_model(ROOT / "models" / "fast")
    assert "Fix: retrain" in str(exc.value) and "Extra language packs are registered: sd" in str(exc.value)
    assert "--model models/rules" in str(exc.value)


def test_a_model_trained_with_an_extra_pack_loads_with_it_and_refuses_a_changed_copy(tmp_path):
    pack = tmp_path / "sd"
    shutil.copytree(SINDHI, pack)
    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "fast", model)
    register_language_pack(pack)
    try:
        # As if trained with the pack registered: the contract stores its fingerprints.
        from nigehbaan.inference.fingerprint import feature_fingerprints

        data = json.loads((model / "contract.json").read_text())
        data.update(fingerprints=feature_fingerprints(), lexicon=lexicon_fingerprint())
        (model / "contract.json").write_text(json.dumps(data))
        assert load_model(model).contract.fingerprints["lang_packs"]["sd"]
        words = json.loads((pack / "langid.json").read_text())
        words["words"].append("ٻيو")
        (pack / "langid.json").write_text(json.dumps(words, ensure_ascii=False))
        unregister_language_pack("sd")
        register_language_pack(pack)
        with pytest.raises(ModelContractError, match=r"language pack sd sha256 \w{12} \(this code: \w{12}\).*Fix: retrain"):
            load_model(model)
    finally:
        unregister_language_pack("sd")


@pytest.mark.parametrize(
    "folder, edit, message",
    [
        ("ur", lambda d: d["number_words"].update({"سو": 100}), "language pack ur sha256"),
        ("en", lambda d: d["words"].append("vacancy"), "language pack en sha256"),
    ],
)
def test_a_changed_built_in_pack_file_makes_a_trained_model_refuse(builtin_copy, folder, edit, message):
    name = "entities.json" if folder == "ur" else "langid.json"
    path = builtin_copy / folder / name
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    reload_packs()
    with pytest.raises(ModelContractError, match=message) as exc:
        load_model(ROOT / "models" / "fast")
    assert "Fix: retrain" in str(exc.value)
    assert load_model(ROOT / "models" / "rules").contract.kind == "rules"  # not fitted: loads


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("normalizer_tables", "0" * 64, "normalizer tables sha256 000000000000"),
        ("feature_code", "0" * 64, "feature code sha256 000000000000"),
        ("entity_resources", {"money.json": "0" * 64, "places.json": "0" * 64}, "entity resources sha256"),
    ],
)
def test_a_contract_with_other_fingerprints_is_refused(tmp_path, key, value, message):
    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "fast", model)
    data = json.loads((model / "contract.json").read_text())
    data["fingerprints"][key] = value
    (model / "contract.json").write_text(json.dumps(data))
    with pytest.raises(ModelContractError, match=message):
        load_model(model)


def test_an_old_contract_without_fingerprints_loads_with_a_warning(tmp_path, caplog):
    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "fast", model)
    data = json.loads((model / "contract.json").read_text())
    del data["fingerprints"]
    (model / "contract.json").write_text(json.dumps(data))
    assert load_model(model).contract.fingerprints == {}
    assert "no fingerprints" in caplog.text


def test_the_bundled_contracts_match_this_code():
    from nigehbaan.inference.fingerprint import feature_fingerprints

    for name in ("default", "fast", "rules"):
        data = json.loads((ROOT / "models" / name / "contract.json").read_text(encoding="utf-8"))
        assert data["fingerprints"] == feature_fingerprints(), name


@pytest.mark.parametrize(
    "files, message",
    [
        ({"lexicon.json": "{}"}, "expected pack.json"),
        ({"pack.json": '{"code": "sd", "script": "Deva"}', "lexicon.json": "{}"}, "`script` must be one of"),
        ({"pack.json": '{"code": "Sindhi", "script": "Arab"}', "lexicon.json": "{}"}, "`code` must be a language code"),
        ({"pack.json": '{"code": "ur", "script": "Arab"}', "lexicon.json": "{}"}, "'ur' is already registered"),
    ],
)
def test_a_bad_pack_is_refused_at_registration_with_what_to_do(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(LanguagePackError, match=message) as exc:
        register_language_pack(tmp_path)
    assert "Fix:" in str(exc.value)
    assert [p.code for p in packs()] == ["en", "ur-Latn", "ur"]


def test_mine_lexicon_writes_into_the_packs_and_keeps_their_format(tmp_path):
    from nigehbaan.training.corpus.mine_lexicon import lexicon_path, write_mined

    shutil.copytree(ROOT / "inference" / "lang", tmp_path / "lang")
    mined = {}
    for code in ("en", "ur", "ur-Latn"):
        data = json.loads(lexicon_path(code).read_text(encoding="utf-8"))
        mined[code] = {ind: spec.get("mined", []) for ind, spec in data["indicators"].items()}
    counts = write_mined(mined, tmp_path / "lang")
    for code in mined:
        assert lexicon_path(code, tmp_path / "lang").read_bytes() == lexicon_path(code).read_bytes(), code
    assert counts["ur-Latn"] > 0 and lexicon_path("ur-Latn", tmp_path / "lang").parent.name == "ur_Latn"


def test_a_registered_pack_reaches_child_processes_through_the_environment(sindhi):
    import os
    import subprocess
    import sys

    assert str(SINDHI.resolve()) in os.environ[langpacks.PACKS_ENV].split(os.pathsep)
    code = (
        "from nigehbaan.inference.langid import identify;"
        "from nigehbaan.inference.normalize import normalize;"
        f"print(identify(normalize({AD!r}).text))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "sd"
    unregister_language_pack("sd")
    assert langpacks.PACKS_ENV not in os.environ
