"""Train a model from a TrainConfig: the linear model, optionally stacked with an encoder head.

Steps: load the built corpus; analyse every ad with the runtime's own `inference.scorer.analyze`
(so training and scoring cannot drift); fit one logistic regression per target (risk + 18
indicators) on hashed n-grams + rule features; for `stack`, fit a head on sentence embeddings
and per-label stacking weights on dev; calibrate the risk on dev (training/calibration.py); choose band and
indicator thresholds on dev; measure dev, test and gold; write the model directory with its
contract; log everything to MLflow.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from nigehbaan.inference.features import N_FEATURES, feature_matrix
from nigehbaan.inference.labels import TEXT_KINDS
from nigehbaan.inference.model import Contract, Model, save_model
from nigehbaan.inference.scorer import analyze
from nigehbaan.inference.spans import ground_indicators
from nigehbaan.training.calibration import fit_calibration
from nigehbaan.training.config import TrainConfig
from nigehbaan.training.corpus.data import load_split, targets, text_kind_of  # noqa: F401
from nigehbaan.training.evaluation.metrics import (
    choose_band_thresholds,
    choose_indicator_thresholds,
    evidence_metrics,
    full_metrics,
    text_kind_metrics,
)
from sklearn.linear_model import LogisticRegression

log = logging.getLogger(__name__)


def fit_linear(X: sp.csr_matrix, Y: np.ndarray, cfg: TrainConfig) -> dict[str, np.ndarray]:
    """One L2 logistic regression per target, stored compactly: the columns seen at least twice
    in training (`W_rows`) and their weights (`W`, float16)."""
    df = np.asarray((X[:, : N_FEATURES] != 0).sum(axis=0)).ravel()
    keep = np.flatnonzero(df >= 2).astype(np.int32)
    Xk = X[:, keep]
    W = np.zeros((len(keep), Y.shape[1]), dtype=np.float32)
    b = np.zeros(Y.shape[1], dtype=np.float32)
    for j in range(Y.shape[1]):
        y = Y[:, j]
        if y.min() == y.max():  # no positives (or no negatives) in a tiny training set
            b[j] = -6.0 if y.max() == 0 else 6.0
            continue
        clf = LogisticRegression(
            C=cfg.C, class_weight=cfg.class_weight, solver="liblinear", max_iter=500,
            random_state=cfg.seed,
        )
        clf.fit(Xk, y)
        W[:, j] = clf.coef_[0]
        b[j] = clf.intercept_[0]
    return {"W_rows": keep, "W": W.astype(np.float16), "b": b}


def fit_text_kind(X: sp.csr_matrix, rows: list[dict], cfg: TrainConfig) -> dict[str, np.ndarray]:
    """A multinomial logistic regression over TEXT_KINDS on the linear model's features, stored
    like the linear part (`kind_rows`, `kind_W` float16, `kind_b`); empty when the training
    rows hold fewer than two kinds."""
    y = np.array([TEXT_KINDS.index(text_kind_of(r)) for r in rows])
    if len(set(y.tolist())) < 2:
        return {}
    df = np.asarray((X[:, :N_FEATURES] != 0).sum(axis=0)).ravel()
    keep = np.flatnonzero(df >= 2).astype(np.int32)
    clf = LogisticRegression(
        C=cfg.C, class_weight=cfg.class_weight, solver="lbfgs", max_iter=2000,
        random_state=cfg.seed,
    ).fit(X[:, keep], y)
    W = np.zeros((len(keep), len(TEXT_KINDS)), dtype=np.float32)
    b = np.full(len(TEXT_KINDS), -30.0, dtype=np.float32)  # a kind never seen: never chosen
    for col, k in enumerate(clf.classes_):
        W[:, k] = clf.coef_[col] if len(clf.classes_) > 2 else (clf.coef_[0] if col else -clf.coef_[0]) / 2
        b[k] = clf.intercept_[col] if len(clf.classes_) > 2 else (clf.intercept_[0] if col else -clf.intercept_[0]) / 2
    return {"kind_rows": keep, "kind_W": W.astype(np.float16), "kind_b": b}


def _take(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    if n is None or n >= len(rows):
        return rows
    rng = random.Random(seed)
    return rng.sample(rows, n)


def train(cfg: TrainConfig) -> Path:
    """Train, evaluate and write a model directory; returns its path."""
    t0 = time.time()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    corpus = Path(cfg.corpus_dir)
    train_rows = _take(load_split(corpus, "train", cfg.use_augmented), cfg.max_train_samples, cfg.seed)
    dev_rows = _take(load_split(corpus, "dev"), cfg.max_eval_samples, cfg.seed)
    evals = {"dev": dev_rows}
    for name in ("test", "gold", "gold_context"):
        if (corpus / f"{name}.jsonl").is_file():
            rows = _take(load_split(corpus, name), cfg.max_eval_samples, cfg.seed)
            if rows:
                evals[name] = rows
    log.info("training on %d ads, dev %d", len(train_rows), len(dev_rows))

    analyses = {name: analyze([r["text"] for r in rows]) for name, rows in [("train", train_rows), *evals.items()]}
    X_train = feature_matrix(analyses["train"])
    arrays = fit_linear(X_train, targets(train_rows), cfg)
    if cfg.text_kind_head:
        arrays.update(fit_text_kind(X_train, train_rows, cfg))
    gate = cfg.risk_gate if "kind_W" in arrays else None
    contract = Contract(name=cfg.name, version=cfg.version, kind="linear", risk_gate=gate)
    model = Model(contract, None, arrays)

    if cfg.kind == "stack":
        from nigehbaan.training.stack import encoder_spec, fit_stack

        arrays.update(fit_stack(cfg, train_rows, dev_rows, analyses, model))
        contract.kind = "stack"
        contract.encoder = encoder_spec(cfg)
        # The folder: a fine-tuned encoder is already written into output_dir/encoder.
        model = Model(contract, Path(cfg.output_dir), arrays)

    # Calibrate and choose thresholds on dev only.
    z_dev = model.logits(analyses["dev"])
    y_dev = targets(dev_rows)
    contract.calibration = fit_calibration(
        z_dev[:, 0], y_dev[:, 0], cfg.calibration, cfg.calibration_knee, cfg.calibration_top_share)
    P_dev = model.predict(analyses["dev"])
    contract.band_thresholds = choose_band_thresholds(
        y_dev[:, 0], P_dev[:, 0], cfg.high_precision, cfg.medium_recall, cfg.deployment_prior
    )
    contract.indicator_thresholds = choose_indicator_thresholds(
        y_dev[:, 1:], P_dev[:, 1:], cfg.indicator_threshold)
    if cfg.span_head:
        from nigehbaan.training.spans import fit_span_head

        span_arrays, contract.spans = fit_span_head(cfg, train_rows, dev_rows, contract)
        arrays.update(span_arrays)
        model = Model(contract, Path(cfg.output_dir), arrays)
    # Each split's outputs (probabilities, text kinds, token probabilities) once: the span
    # model's token states are not memoised, and the thresholds below do not change them.
    outputs = {"dev": model.predict_with_evidence(analyses["dev"])}
    if cfg.span_head or cfg.ungrounded_gate:
        from nigehbaan.training.spans import choose_ungrounded_thresholds, grounded_flags

        P_dev, _, tokens_dev = outputs["dev"]
        G, Y = grounded_flags(dev_rows, analyses["dev"], P_dev, contract, tokens_dev)
        contract.ungrounded_thresholds = choose_ungrounded_thresholds(
            P_dev[:, 1:], G, Y, contract.indicator_thresholds)
    contract.metrics = {}
    for name, rows in evals.items():
        if name not in outputs:
            outputs[name] = model.predict_with_evidence(analyses[name])
        P, K, tokens = outputs[name]
        contract.metrics[name] = full_metrics(rows, P, contract)
        # Evidence coverage and span precision/recall of the indicators as scored rows show them.
        shown = [ground_indicators(r["text"], a, P[i], contract, None if tokens is None else tokens[i])
                 for i, (r, a) in enumerate(zip(rows, analyses[name], strict=True))]
        contract.metrics[name]["evidence"] = evidence_metrics(rows, shown)
        if K is not None:
            contract.metrics[name]["text_kind"] = text_kind_metrics(rows, K, P, contract)
    contract.training = {
        "config": cfg.to_dict(),
        "train_ads": len(train_rows),
        "seconds": round(time.time() - t0, 1),
        "corpus_manifest": _manifest(corpus),
    }
    out = Path(cfg.output_dir)
    save_model(out, contract, arrays)
    log.info("model written to %s in %.1fs", out, time.time() - t0)
    if cfg.mlflow:
        from nigehbaan.training.tracking import log_run

        log_run(cfg, out, contract, {n: (evals[n], outputs[n][0]) for n in evals})
    return out


def _manifest(corpus: Path) -> dict:
    import json

    path = corpus / "MANIFEST.json"
    if not path.is_file():
        return {}
    m = json.loads(path.read_text())
    return {"version": m.get("version"), "files": m.get("files")}
