"""The text-kind head: ad / warning / news / other, trained with the linear model and reported
in every scored row (issue 12: warnings and news about trafficking are not trafficking ads)."""

import json

import numpy as np
import pytest
from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.labels import TEXT_KINDS
from nigehbaan.inference.model import load_model
from nigehbaan.inference.scorer import analyze, score_records
from nigehbaan.training.corpus.data import text_kind_of

from nigehbaan.cli import main
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ({"brief": "ordinary/news-sports"}, "news"),
        ({"brief": "ur-longnews/health/obesity-study"}, "news"),
        ({"brief": "ordinary/sms-chat"}, "other"),
        ({"brief": "ordinary/govt-notice"}, "other"),
        ({"brief": "ordinary/product-classified"}, "ad"),
        ({"brief": "ordinary/corporate-job-post"}, "ad"),
        ({"brief": "europe-dunki"}, "ad"),
        ({"brief": "ordinary/sms-chat", "text_kind": "warning"}, "warning"),  # an explicit label wins
    ],
)
def test_text_kind_of_a_corpus_row(row, kind):
    assert text_kind_of(row) == kind


def test_an_unknown_text_kind_label_is_refused():
    with pytest.raises(UsageError, match="expected one of"):
        text_kind_of({"id": "x", "text_kind": "advert"})


def test_models_without_a_kind_head_report_none(rules_model):
    import dataclasses

    from nigehbaan.inference.model import Model

    fast = load_model("fast")
    older = Model(dataclasses.replace(fast.contract, risk_gate=None), fast.folder,
                  {k: v for k, v in fast.arrays.items() if not k.startswith("kind_")})
    for model in (rules_model, older):
        (row,) = score_records([{"text": "free visa, fees pehle jama"}], model)
        assert "text_kind" in row and row["text_kind"] is None
    (row,) = score_records([{"text": "free visa, fees pehle jama"}], fast)
    assert row["text_kind"] in TEXT_KINDS


def test_the_risk_gate_is_the_ad_probability_times_the_ad_risk():
    import dataclasses

    from nigehbaan.inference.model import Model

    fast = load_model("fast")
    assert fast.contract.risk_gate == "text_kind"
    ungated = Model(dataclasses.replace(fast.contract, risk_gate=None), fast.folder, fast.arrays)
    a = analyze(["FIA warns: fake Dubai jobs ask a visa fee on WhatsApp, do not pay any agent",
                 "Driver for Saudi, visa free, fees 50,000 advance, WhatsApp only"])
    P, K = fast.predict_with_kinds(a)
    P0, _ = ungated.predict_with_kinds(a)
    assert np.allclose(P[:, 0], P0[:, 0] * K[:, TEXT_KINDS.index("ad")])
    assert np.array_equal(P[:, 1:], P0[:, 1:])  # indicators are not gated


@pytest.fixture(scope="module")
def kind_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("kind") / "model"
    cfg = str(ROOT / "configs" / "ci.yaml")
    corpus = str(ROOT / "data" / "corpus" / "v4")
    assert main(["train", "--config", cfg, f"output_dir={out}", f"corpus_dir={corpus}",
                 "mlflow=false"]) == 0
    return load_model(out)


@pytest.mark.slow
def test_a_trained_kind_head_scores_saves_and_reloads(kind_model):
    texts = ["Yaar kal match dekha? Babar ne kamal kar diya, chalo shaam ko milte hain",
             "Driver required for Saudi Arabia, visa free, fees 50,000 advance, WhatsApp only"]
    K = kind_model.text_kinds(analyze(texts))
    assert K.shape == (2, len(TEXT_KINDS)) and np.allclose(K.sum(axis=1), 1.0, atol=1e-5)
    rows = score_records([{"text": t} for t in texts], kind_model)
    assert [r["text_kind"] for r in rows] == [TEXT_KINDS[i] for i in K.argmax(axis=1)]
    assert rows[1]["text_kind"] == "ad"
    # One feature matrix serves both outputs: the same answers as asking separately.
    P, K2 = kind_model.predict_with_kinds(analyze(texts))
    assert np.array_equal(P, kind_model.predict(analyze(texts))) and np.array_equal(K, K2)
    metrics = json.loads((kind_model.folder / "contract.json").read_text())["metrics"]["dev"]
    assert set(metrics["text_kind"]["per_kind"]) <= set(TEXT_KINDS)
    assert 0 <= metrics["text_kind"]["per_kind"]["ad"]["flagged_medium_or_higher"] <= 1
