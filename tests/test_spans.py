"""The span model (issue 13): evidence from the encoder, on the tiny BERT of test_encoder.py.

Offsets always slice the original text (property test on obfuscated input), overfit-save-
reload of a stack with a span head, the contract refusing a span model built for another
label set, and old contracts scoring as before (plus `grounded` and evidence `score`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nigehbaan.inference.errors import ModelContractError

from tests.conftest import ROOT, read_jsonl, write_jsonl
from tests.test_encoder import _corpus, tiny_encoder  # noqa: F401 - the fixture

# Words of the test corpus that stand for an indicator: the gold spans of the tiny corpus.
CUES = {
    "free_visa_travel": "visa ticket free", "document_retention": "passport company ke paas",
    "upfront_fee": "fee 80,000", "irregular_route": "dunki", "minor_targeted": "12 year girl",
    "debt_bondage": "family gets advance", "restricted_freedom": "no leave",
    "gender_age_targeting": "لڑکیاں 18-25", "photo_appearance_request": "تصویر بھیجیں",
    "off_platform_contact": "inbox", "organ_trade": "Kidney donor",
}

OBFUSCATED = [
    "free \u200bvisa", "p@$$p0rt jama karwayen", "&nbsp;&amp;", "<b>Dubai</b>", "😀🇵🇰",
    "раssроrt", "ویزا فری", "لڑکیاں چاہیئں", "0 3 0 0 1 2 3", "\u202e", "\ufeff", "ﷺ",
    "e\u0301", "Rs. 50,000/month", "umar 14 saal", "<script>x</script>", "\u0640\u0640",
    "ＦＲＥＥ", "۵۰ ہزار",
]


def _spanned_corpus(folder: Path) -> Path:
    corpus = _corpus(folder)
    for split in ("train", "dev", "test"):
        rows = read_jsonl(corpus / f"{split}.jsonl")
        for r in rows:
            r["spans"] = []
            for ind in r["indicators"]:
                cue = CUES.get(ind)
                at = r["text"].find(cue) if cue else -1
                if at >= 0:
                    r["spans"].append({"indicator": ind, "start": at, "end": at + len(cue),
                                       "text": cue})
        write_jsonl(corpus / f"{split}.jsonl", rows)
    return corpus


@pytest.fixture(scope="module")
def span_model_dir(tmp_path_factory, tiny_encoder):  # noqa: F811
    from nigehbaan.training.config import TrainConfig
    from nigehbaan.training.train import train

    tmp = tmp_path_factory.mktemp("span-model")
    corpus = _spanned_corpus(tmp / "corpus")
    cfg = TrainConfig(kind="stack", encoder=str(tiny_encoder), corpus_dir=str(corpus),
                      output_dir=str(tmp / "model"), use_augmented=False, mlflow=False,
                      max_length=64, batch_size=8, span_head=True)
    return train(cfg), corpus


def test_span_model_overfit_save_reload(span_model_dir, monkeypatch):
    from nigehbaan.inference.encoder import bind_spec, clear_cache, embed
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import analyze, score_records
    from nigehbaan.inference.spans import SPANS_FILE, encode
    from nigehbaan.training.corpus.data import load_split

    monkeypatch.setenv("NIGEHBAAN_EMBED_MEMO", "0")
    out, corpus = span_model_dir
    contract = json.loads((out / "contract.json").read_text())
    assert (out / SPANS_FILE).is_file()
    assert contract["spans"]["labels"] and contract["spans"]["token_thresholds"]
    assert set(contract["ungrounded_thresholds"]) == set(contract["indicator_thresholds"])
    assert all(contract["ungrounded_thresholds"][i] >= contract["indicator_thresholds"][i]
               for i in contract["indicator_thresholds"])
    assert "coverage" in contract["metrics"]["dev"]["evidence"]["overall"]
    clear_cache()
    model = load_model(out)
    assert model.span_arrays["span_W"].shape == (32, 18)
    train_rows = load_split(corpus, "train")
    analyses = analyze([r["text"] for r in train_rows])
    # One encoder pass gives the stack's embedding bitwise as `embed` does.
    spec = bind_spec(model.contract.encoder, model.folder)
    emb, tokens = encode([a.norm_text for a in analyses], spec, model.span_arrays)
    assert np.array_equal(emb, embed([a.norm_text for a in analyses], spec))
    # It learnt its tiny training set: tokens inside gold spans score above the rest.
    from nigehbaan.training.spans import _norm_spans, token_labels

    inside, outside = [], []
    for r, t in zip(train_rows, tokens, strict=True):
        _, spans = _norm_spans(r)
        Y, M = token_labels(r, t.offsets, spans)
        inside += list(t.P[(Y > 0) & (M > 0)])
        outside += list(t.P[(Y == 0) & (M > 0)])
    assert np.mean(inside) > np.mean(outside) + 0.2
    # Scored rows: model evidence slices the text, batch equals one-by-one, reload equals.
    records = [{"id": r["id"], "text": r["text"]} for r in train_rows[:12]]
    batch = score_records(records, model)
    single = [score_records([rec], load_model(out))[0] for rec in records]
    assert [b["indicators"] for b in batch] == [s["indicators"] for s in single]
    sources = set()
    for rec, row in zip(records, batch, strict=True):
        for ind in row["indicators"]:
            assert ind["grounded"] == bool(ind["evidence"])
            starts = [e["start"] for e in ind["evidence"]]
            assert starts == sorted(starts)
            for e in ind["evidence"]:
                assert rec["text"][e["start"] : e["end"]] == e["text"]
                assert 0 <= e["score"] <= 1
                sources.add(e["source"])
    assert "model" in sources


def test_contract_refuses_a_span_model_for_another_label_set(span_model_dir, tmp_path):
    from nigehbaan.inference.model import load_model

    out, _ = span_model_dir
    copy = tmp_path / "model"
    shutil.copytree(out, copy)
    data = json.loads((copy / "contract.json").read_text())
    data["spans"]["labels"] = data["spans"]["labels"][:-1] + ["some_new_indicator"]
    (copy / "contract.json").write_text(json.dumps(data))
    with pytest.raises(ModelContractError, match="another label set: expected the 18") as exc:
        load_model(copy)
    assert "some_new_indicator" in str(exc.value) and "Fix: retrain" in str(exc.value)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.one_of(st.sampled_from(OBFUSCATED), st.sampled_from(list(CUES.values())),
                                 st.text(max_size=12)), min_size=1, max_size=8),
       seed=st.integers(0, 2**16), threshold=st.sampled_from([0.2, 0.5, 0.8]))
def test_model_span_offsets_always_slice_the_original_text(tiny_encoder, pieces, seed, threshold):  # noqa: F811
    from nigehbaan.inference.normalize import normalize
    from nigehbaan.inference.spans import TokenOutput, hidden_states, model_evidence

    text = " ".join(pieces)
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    norm = normalize(text)
    _, states, offsets = hidden_states([norm.text], {"source": str(tiny_encoder), "max_length": 64})
    P = np.random.default_rng(seed).random((len(offsets[0]), 18))
    for j in range(18):
        for e in model_evidence(text, norm, TokenOutput(P, offsets[0]), j, threshold):
            assert text[e["start"] : e["end"]] == e["text"] and e["text"].strip()
            assert e["start"] < e["end"] and e["source"] == "model"


def test_old_contracts_score_as_before_with_grounded_and_rule_scores():
    """A contract without `spans` and `ungrounded_thresholds` (every model trained before them)
    shows an indicator at its plain threshold, evidence or not; the gate only removes
    ungrounded indicators."""
    import copy
    from dataclasses import replace

    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records

    gated = load_model(ROOT / "models" / "fast")
    assert not gated.contract.spans and gated.contract.ungrounded_thresholds
    old = copy.copy(gated)
    old.contract = replace(gated.contract, ungrounded_thresholds={})
    ads = [{"text": "Visa + ticket free! Processing fee 50,000. Original passport "
                    "submit karein. WhatsApp only 0300-1234567"},
           {"text": "Dubai jobs, all categories, call 0300-1234567"}]
    removed = 0
    for row_old, row_gated in zip(score_records(ads, old), score_records(ads, gated), strict=True):
        assert row_old["indicators"]
        for ind in row_old["indicators"]:
            assert ind["grounded"] == bool(ind["evidence"])
            assert all(e["source"] == "rule" and e["score"] == 1.0 for e in ind["evidence"])
            assert ind["score"] >= old.contract.indicator_thresholds[ind["id"]]
        shown_old = {i["id"]: i for i in row_old["indicators"]}
        shown_gated = {i["id"] for i in row_gated["indicators"]}
        assert shown_gated <= set(shown_old)
        assert all(not shown_old[i]["grounded"] for i in set(shown_old) - shown_gated)
        removed += len(set(shown_old) - shown_gated)
    assert removed  # the second ad's ungrounded `unlicensed_overseas` is below the gate


def test_evidence_is_the_rule_hits_else_the_best_model_span():
    from nigehbaan.inference.spans import merge_evidence

    rule = [{"start": 10, "end": 20, "source": "rule", "score": 1.0}]
    model = [{"start": 15, "end": 25, "source": "model", "score": 0.9},
             {"start": 0, "end": 5, "source": "model", "score": 0.7},
             {"start": 30, "end": 35, "source": "model", "score": 0.95}]
    assert merge_evidence(rule, model) == rule
    assert merge_evidence([], model) == [model[2]]
    assert merge_evidence([], []) == []
