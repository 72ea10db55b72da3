import json
import shutil

import pytest
from nigehbaan.inference.errors import ModelContractError
from nigehbaan.inference.model import load_model
from nigehbaan.inference.scorer import score_records

from tests.conftest import ROOT

ADS = [
    {"text": "Visa + ticket free! Processing fee 50,000 after visa. Original passport submit karein. WhatsApp only 0300-1234567"},
    {"text": "OEP Licence No. 2187/RWP. Al-Rashid Co. Riyadh needs masons, SAR 1,500, 30 days leave."},
    {"text": "12 saal ki bachi chahiye ghar ke kaam ke liye, chutti nahi milegi"},
    {"text": "ڈنکی لگوائیں، یونان کشتی کے راستے، 100% انٹری"},
]


@pytest.fixture()
def model_copy(tmp_path):
    src = ROOT / "models" / "default"
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    return dst


def test_default_model_scores_the_same_after_a_reload_and_in_batch_as_one_by_one(model_copy):
    a = load_model(model_copy)
    b = load_model(model_copy)
    batch = score_records(ADS, a)
    single = [score_records([ad], b)[0] for ad in ADS]
    assert [r["risk"] for r in batch] == [r["risk"] for r in single]
    assert [r["indicators"] for r in batch] == [r["indicators"] for r in single]
    assert batch[0]["risk"] > batch[1]["risk"]
    assert batch[0]["model"]["encoder_precision"] in ("bf16", "float32")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("normalizer", "nigehbaan.normalize.v0", "normaliser nigehbaan.normalize.v0"),
        ("labels", ["upfront_fee"], "labels"),
        ("features", "nigehbaan.features.v0", "features nigehbaan.features.v0"),
        ("lexicon", {"version": "nigehbaan.lexicon.v0", "sha256": "0" * 64}, "lexicon nigehbaan.lexicon.v0"),
    ],
)
def test_a_mismatched_contract_is_refused_with_what_to_do(model_copy, field, value, message):
    path = model_copy / "contract.json"
    data = json.loads(path.read_text())
    data[field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ModelContractError, match=message) as exc:
        load_model(model_copy)
    assert "Fix: retrain" in str(exc.value)


def test_a_missing_model_directory_says_how_to_fix_it(tmp_path):
    with pytest.raises(ModelContractError, match="no model at .* Fix: pass --model"):
        load_model(tmp_path)


def test_model_files_are_json_and_safetensors_only():
    # models/ is also the package nigehbaan.models: its __init__.py (and __pycache__) aside.
    for folder in (p for p in (ROOT / "models").iterdir() if (p / "contract.json").is_file()):
        for f in folder.iterdir():
            # .png: the model card's plots (risk, priority, calibration); never loaded by code.
            assert f.suffix in (".json", ".safetensors", ".md", ".png"), f
