"""The corpus: every data file validates, checksums match, splits are family-disjoint."""

import json
from collections import Counter
from pathlib import Path

import pytest
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.training.corpus.build import (
    _ad_id,
    apply_corrections,
    read_raw,
    split_of,
    verify_manifest,
)
from nigehbaan.training.corpus.data import load_corpus, load_split, read_jsonl
from nigehbaan.training.corpus.schema import validate_file, validate_record

from tests.conftest import ROOT

CORPUS = ROOT / "data" / "corpus" / "v4"


def test_every_built_file_passes_the_validator():
    files = sorted(CORPUS.rglob("*.jsonl"))
    assert len(files) == 8  # train, dev, test, gold, gold_context + 3 augmented
    for f in files:
        assert validate_file(f) == [], f


def test_raw_files_are_valid_json_with_known_labels():
    for f in sorted((ROOT / "data" / "corpus").glob("*/*.jsonl")):
        if f.parent.name in ("v4", "corrections", "agreement"):
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            raw = json.loads(line)
            assert set(raw["indicators"]) <= set(INDICATORS), f
            for ind, strings in (raw.get("evidence") or {}).items():
                assert all(s in raw["text"] for s in strings), (f, ind)


def test_manifest_checksums_match():
    assert verify_manifest(CORPUS) == []


def test_splits_are_family_disjoint_and_variants_stay_with_their_source():
    families = {}
    for split in ("train", "dev", "test", "gold"):
        for r in load_split(CORPUS, split, augmented=True):
            assert families.setdefault(r["family"], split) == split, r["id"]
    for split in ("train", "dev", "test"):
        src = {r["id"]: r for r in load_split(CORPUS, split)}
        for v in read_jsonl(CORPUS / "augmented" / f"{split}.jsonl"):
            assert v["augmented_from"] in src and v["source"] == "augmented"
            assert v["risk"] == src[v["augmented_from"]]["risk"]


def test_split_assignment_is_seeded_and_stable():
    assert split_of("a-123", 13) == split_of("a-123", 13)
    assert Counter(split_of(f"f{i}", 13) for i in range(10_000))["train"] == pytest.approx(8000, rel=0.05)


def test_composition_meets_the_corpus_targets():
    bulk = [r for s in ("train", "dev", "test") for r in load_split(CORPUS, s)]
    langs = Counter(r["lang"] for r in bulk)
    assert langs["en"] >= 1000 and langs["ur"] >= 1000 and langs["ur-Latn"] >= 1000 and langs["mixed"] >= 400
    recruitment = [r for r in bulk if r.get("batch") != "ordinary"]
    share = sum(r["risk"] for r in recruitment) / len(recruitment)
    assert 0.35 <= share <= 0.45
    for ind in INDICATORS:
        assert sum(ind in r["indicators"] for r in bulk) >= 80, ind
    gold = load_split(CORPUS, "gold")
    assert len(gold) >= 400 and min(Counter(r["lang"] for r in gold).values()) >= 100
    assert all(r["spans"] for r in gold if r["indicators"])


def test_validator_catches_schema_breaks():
    good = {"id": "x", "text": "visa free", "lang": "en", "platform": "facebook", "risk": 1,
            "indicators": ["free_visa_travel"], "source": "authored", "family": "x",
            "spans": [{"indicator": "free_visa_travel", "start": 0, "end": 9, "text": "visa free"}]}
    assert validate_record(good) == []
    assert any("unknown indicator" in p for p in validate_record({**good, "indicators": ["visa"]}))
    assert any("risk must be 0 or 1" in p for p in validate_record({**good, "risk": 2}))
    assert any("span text" in p for p in validate_record(
        {**good, "spans": [{"indicator": "free_visa_travel", "start": 0, "end": 4, "text": "free"}]}))
    assert any("missing field" in p for p in validate_record({"text": "x"}))


def test_loader_returns_a_datasetdict():
    ds = load_corpus(CORPUS)
    assert set(ds) == {"train", "dev", "test", "gold", "gold_context"}
    assert ds["train"].num_rows > len(load_split(CORPUS, "train"))  # augmentation added
    assert set(ds["gold"].column_names) >= {"text", "risk", "indicators", "lang", "spans"}


def _mini_corpus(tmp_path, correction: dict) -> Path:
    text = "Dubai visit visa job. Salary 4500 AED for helper. File charges 20,000. WhatsApp 0300-1234567"
    raw = {"text": text, "lang": "en", "platform": "facebook", "risk": 1,
           "indicators": ["unrealistic_pay", "vague_employer"],
           "evidence": {"unrealistic_pay": ["Salary 4500 AED for helper"], "vague_employer": ["Dubai visit visa job"]}}
    (tmp_path / "authored").mkdir()
    (tmp_path / "authored" / "en-A.jsonl").write_text(json.dumps(raw) + "\n", encoding="utf-8")
    (tmp_path / "corrections").mkdir()
    (tmp_path / "corrections" / "en-A.jsonl").write_text(json.dumps(correction) + "\n", encoding="utf-8")
    return tmp_path


def test_corrections_remove_and_add_labels_with_spans(tmp_path):
    text_id = _ad_id("Dubai visit visa job. Salary 4500 AED for helper. File charges 20,000. WhatsApp 0300-1234567", "a")
    data = _mini_corpus(tmp_path, {"id": text_id, "line": 1, "remove": ["vague_employer"],
                                   "add": {"upfront_fee": ["File charges 20,000"]}, "reason": "test"})
    recs = read_raw(data / "authored", "authored")
    counts = apply_corrections(recs, data)
    rec = recs[0]
    assert counts == {"ads": 1, "removed": {"vague_employer": 1}, "added": {"upfront_fee": 1}}
    assert rec["indicators"] == ["unrealistic_pay", "upfront_fee"]
    assert {s["indicator"] for s in rec["spans"]} == {"unrealistic_pay", "upfront_fee"}
    assert validate_record(rec) == [] and rec["label_corrections"]["removed"] == ["vague_employer"]


@pytest.mark.parametrize("bad", [
    {"line": 1, "id": "a-000000000000", "remove": ["vague_employer"]},      # unknown ad
    {"line": 2, "remove": ["vague_employer"]},                               # wrong line
    {"line": 1, "remove": ["organ_trade"]},                                  # not on the ad
    {"line": 1, "add": {"upfront_fee": ["fee of one crore"]}},               # evidence not in text
])
def test_corrections_that_do_not_fit_are_refused(tmp_path, bad):
    text_id = _ad_id("Dubai visit visa job. Salary 4500 AED for helper. File charges 20,000. WhatsApp 0300-1234567", "a")
    data = _mini_corpus(tmp_path, {"id": text_id, **bad})
    with pytest.raises(ValueError):
        apply_corrections(read_raw(data / "authored", "authored"), data)


def test_built_corpus_carries_every_correction():
    built = {r["id"]: r for s in ("train", "dev", "test") for r in load_split(CORPUS, s)}
    last_word: dict = {}  # (ad, indicator) -> present after the last round that names it
    for f in sorted((ROOT / "data" / "corpus" / "corrections").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            c = json.loads(line)
            for i in c.get("remove", []):
                last_word[c["id"], i] = False
            for i in c.get("add", {}):
                last_word[c["id"], i] = True
    for (ad, indicator), present in last_word.items():
        assert (indicator in built[ad]["indicators"]) == present, (ad, indicator)
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())
    assert manifest["label_corrections"]["ads"] == len({ad for ad, _ in last_word})


def test_a_later_audit_round_corrects_the_same_ad_again(tmp_path):
    text = "Dubai visit visa job. Salary 4500 AED for helper. File charges 20,000. WhatsApp 0300-1234567"
    text_id = _ad_id(text, "a")
    data = _mini_corpus(tmp_path, {"id": text_id, "line": 1, "remove": ["vague_employer"], "reason": "one"})
    (data / "corrections" / "en-A.rules-A.jsonl").write_text(json.dumps(
        {"id": text_id, "line": 1, "add": {"upfront_fee": ["File charges 20,000"]}, "reason": "two"}) + "\n",
        encoding="utf-8")
    recs = read_raw(data / "authored", "authored")
    counts = apply_corrections(recs, data)
    assert counts == {"ads": 1, "removed": {"vague_employer": 1}, "added": {"upfront_fee": 1}}
    assert recs[0]["indicators"] == ["unrealistic_pay", "upfront_fee"]
    assert recs[0]["label_corrections"] == {"removed": ["vague_employer"], "added": ["upfront_fee"],
                                            "reason": "one; two"}


def test_corpus_build_refuses_a_bad_correction_file_with_exit_2(tmp_path, capsys):
    from nigehbaan.cli import main

    data = _mini_corpus(tmp_path, {"line": 1, "remove": ["vague_employer"]})  # no id
    assert main(["corpus", "build", "--data-dir", str(data)]) == 2
    assert "expected a JSON object with an id" in capsys.readouterr().err
    (data / "corrections" / "en-Z.jsonl").write_text("{}\n", encoding="utf-8")
    (data / "corrections" / "en-A.jsonl").unlink()
    assert main(["corpus", "build", "--data-dir", str(data)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (data / "v4").exists()


def test_an_evaluation_slice_is_its_own_split_and_never_leaks(tmp_path):
    from nigehbaan.training.corpus.build import build_corpus

    data = _mini_corpus(tmp_path, {})
    (data / "corrections" / "en-A.jsonl").unlink()
    bulk_text = "Dubai visit visa job. Salary 4500 AED for helper. File charges 20,000. WhatsApp 0300-1234567"
    warning = {"text": "FIA warns: fake Dubai job ads ask visa fees on WhatsApp. Never pay an agent.",
               "lang": "en", "platform": "facebook", "risk": 0, "indicators": [], "evidence": {},
               "text_kind": "warning", "case": "warning"}
    leak = {**warning, "text": bulk_text + "!", "text_kind": "ad", "case": "one-line"}
    (data / "gold-context").mkdir()
    (data / "gold-context" / "slice.jsonl").write_text(
        json.dumps(warning) + "\n" + json.dumps(leak) + "\n", encoding="utf-8")
    manifest = build_corpus(data, seed=13)
    built = data / manifest["version"]
    rows = load_split(built, "gold_context")
    assert [r["text"] for r in rows] == [warning["text"]]  # the near-duplicate of a bulk ad is out
    assert rows[0]["split"] == "gold_context" and rows[0]["text_kind"] == "warning"
    assert manifest["slices_dropped_as_near_duplicates_of_bulk"] == {"gold_context": 1}
    trained_on = [r["text"] for s in ("train", "dev", "test") for r in load_split(built, s)]
    assert warning["text"] not in trained_on


def test_the_datasheet_tables_are_the_generated_ones():
    """data/README.md's tables are computed from the built corpus, never typed: a corpus rebuilt
    without `nigehbaan corpus datasheet` fails here."""
    from nigehbaan.training.corpus.datasheet import BEGIN, END, tables

    text = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block == "\n" + tables(CORPUS)
