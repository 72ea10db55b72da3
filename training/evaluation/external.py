"""External checks on public data nobody here wrote (../shared/datasets), read in place.

- EMSCAD: fraudulent (emscad-fraud866) against legitimate (emscad-head499) postings, ROC-AUC.
  The two files come from releases with different formatting, so every text is cleaned the
  same way first (tags stripped, entities unescaped, white space collapsed).
- False-positive rates: the share of ordinary Urdu SMS (ham of urdu-sms-spam-mt), Roman Urdu
  sentences (roman-urdu-smat26, a seeded sample) and Urdu news (urdu-fake-news-btt) that
  score `medium` or higher.
Each check is skipped, with the reason, when its files are missing. Nothing here is trained on.
"""

from __future__ import annotations

import csv
import html
import random
import re
from pathlib import Path

import numpy as np
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.model import Model
from nigehbaan.inference.scorer import analyze
from nigehbaan.training.evaluation.metrics import safe_auc

ROMAN_URDU_SAMPLE = 3000
_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")


def clean(text: str) -> str:
    return _WS.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()


def predict_texts(model: Model, texts: list[str], batch: int = 512) -> np.ndarray:
    """Probabilities (n, 19) for texts, scored in batches with the runtime's own code."""
    out = [model.predict(analyze(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    return np.vstack(out) if out else np.zeros((0, 1 + len(INDICATORS)))


def _risk(model: Model, texts: list[str]) -> np.ndarray:
    return predict_texts(model, texts)[:, 0]


def _emscad_text(row: dict) -> str:
    parts = [row.get(k) or "" for k in ("title", "company_profile", "description", "requirements", "benefits")]
    return clean(" ".join(parts))


def _read_csv(path: Path, encoding: str = "utf-8") -> list[dict]:
    csv.field_size_limit(2**31 - 1)
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        return list(csv.DictReader(f))


def emscad(model: Model, root: Path) -> dict:
    fraud_path = root / "emscad-fraud866" / "fraudulent_jobs.csv"
    legit_path = root / "emscad-head499" / "fake_job_postings_head499.csv"
    if not (fraud_path.is_file() and legit_path.is_file()):
        return {"skipped": "EMSCAD files not found"}
    fraud = [_emscad_text(r) for r in _read_csv(fraud_path)]
    legit_rows = _read_csv(legit_path)
    texts = fraud + [_emscad_text(r) for r in legit_rows]
    y = np.array([1] * len(fraud) + [int(r["fraudulent"]) for r in legit_rows])
    p = _risk(model, texts)
    auc = safe_auc(y, p)
    medium = model.contract.band_thresholds["medium"]
    return {
        "n_fraud": int(y.sum()), "n_legit": int((y == 0).sum()), "roc_auc": auc,
        "fraud_flagged_medium_or_high": float((p[y == 1] >= medium).mean()),
        "legit_flagged_medium_or_high": float((p[y == 0] >= medium).mean()),
        "summary": f"ROC-AUC {auc:.3f} on {int(y.sum())} fraudulent vs {int((y == 0).sum())} legitimate",
    }


def _fpr(model: Model, name: str, texts: list[str]) -> dict:
    if not texts:
        return {"skipped": f"{name}: no texts found"}
    p = _risk(model, texts)
    t = model.contract.band_thresholds
    med = float((p >= t["medium"]).mean())
    high = float((p >= t["high"]).mean())
    return {"n": len(texts), "fpr_medium_or_high": med, "fpr_high": high,
            "summary": f"{med:.2%} of {len(texts)} score medium or higher ({high:.2%} high)"}


def run_external_checks(model: Model, root: Path) -> dict:
    out = {"emscad_fraud_vs_legit": emscad(model, root)}
    sms = root / "urdu-sms-spam-mt" / "spamFullurdu.csv"
    if sms.is_file():
        rows = _read_csv(sms)
        ham = [clean(r["EmailText"]) for r in rows if r["Label"].strip() == "ham" and r["EmailText"].strip()]
        out["urdu_sms_ham_fpr"] = _fpr(model, "urdu sms", ham)
    roman = root / "roman-urdu-smat26" / "Dataset" / "Roman Urdu DataSet.csv"
    if roman.is_file():
        with open(roman, encoding="utf-8", errors="replace", newline="") as f:
            texts = [row[0] for row in csv.reader(f) if row and row[0].strip()]
        rng = random.Random(13)
        sample = rng.sample(texts, min(ROMAN_URDU_SAMPLE, len(texts)))
        out["roman_urdu_sentences_fpr"] = _fpr(model, "roman urdu", sample)
    news = root / "urdu-fake-news-btt" / "1.Corpus"
    if news.is_dir():
        texts = [clean(p.read_text(encoding="utf-8", errors="replace")) for p in sorted(news.rglob("*.txt"))]
        out["urdu_news_fpr"] = _fpr(model, "urdu news", [t for t in texts if t])
    return out
