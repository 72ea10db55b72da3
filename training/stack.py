"""The stacked model (kind `stack`): a head on multilingual sentence embeddings, combined per
label with the linear model by weights fitted on dev.

`fit_stack` is called by `training.train.train` after the linear model is fitted:

1. (`encoder_mode: finetune` only) fine-tune the encoder on train (`training.finetune`) and
   save it into the model directory under `encoder/`;
2. embed the train and dev ads with `inference.encoder.embed` - the very function scoring
   uses - on `AdAnalysis.norm_text`, because that is what `Model.logits` embeds at scoring
   time (training on raw text would make train and serve differ). The normaliser also folds
   Urdu/Arabic-Indic digits, zero-width characters, homoglyphs and emoji-for-words, so
   spelling variants land closer together;
3. fit one L2 logistic regression per target (risk + 18 indicators) on the standardised
   embeddings; the standardisation is folded into the weights, giving `H` (hidden x 19) and
   `h` (19,) so that scoring is one matrix product: `z_head = emb @ H + h`;
4. per target j, fit `z = stack_lin[j] * z_linear[:, j] + stack_head[j] * z_head[:, j]
   + stack_bias[j]` on dev (see `fit_stacking` for how dev overfitting is limited).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
from nigehbaan.inference.encoder import bind_spec, embed, resolve_spec
from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.model import TARGETS
from nigehbaan.training.config import TrainConfig
from nigehbaan.training.corpus.data import targets
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

log = logging.getLogger(__name__)

FINETUNED_DIR = "encoder"  # inside the model directory
MIN_DEV_CLASS = 5  # fewer dev positives (or negatives) than this: keep the linear model alone


def encoder_spec(cfg: TrainConfig) -> dict:
    """The encoder spec written into the contract (every field resolved, so scoring never
    depends on defaults that might change)."""
    if cfg.encoder_mode == "finetune":
        # Relative to the model directory, so the directory can be moved or logged to MLflow.
        source, in_dir = FINETUNED_DIR, True
        prefix = resolve_spec({"source": cfg.encoder})["prefix"]  # the base model's prefix
    else:
        source, in_dir, prefix = cfg.encoder, False, "auto"
    student = None
    if cfg.encoder_student:  # copied into the model directory by `install_student`
        from nigehbaan.training.distill import STUDENT_FILE, STUDENT_META

        meta = json.loads((Path(cfg.encoder_student) / STUDENT_META).read_text(encoding="utf-8"))
        if meta["teacher"] != cfg.encoder:
            raise UsageError(f"encoder_student {cfg.encoder_student!r} was distilled from "
                             f"{meta['teacher']!r}, not from encoder {cfg.encoder!r}")
        student = {"file": STUDENT_FILE, "layers": meta["layers"]}
    return resolve_spec({
        "source": source, "in_model_dir": in_dir, "prefix": prefix,
        "max_length": cfg.max_length, "batch_size": cfg.batch_size,
        "quantize": cfg.encoder_quantize, "student": student,
    })


def install_student(cfg: TrainConfig) -> None:
    """Copy the distilled student's files (training/distill.py) into the model directory."""
    if cfg.encoder_student:
        from nigehbaan.training.distill import STUDENT_FILE, STUDENT_META

        out = Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in (STUDENT_FILE, STUDENT_META):
            src, dst = Path(cfg.encoder_student) / name, out / name
            if not (dst.exists() and src.samefile(dst)):  # retraining in place: already there
                shutil.copyfile(src, dst)


def fit_stack(cfg: TrainConfig, train_rows: list[dict], dev_rows: list[dict], analyses: dict,
              linear_model) -> dict[str, np.ndarray]:
    """Arrays `H`, `h`, `stack_lin`, `stack_head`, `stack_bias` (float32) of a stacked model."""
    spec = encoder_spec(cfg)
    install_student(cfg)
    if cfg.encoder_mode == "finetune":
        from nigehbaan.training.finetune import finetune_encoder

        finetune_encoder(cfg, train_rows, dev_rows, analyses, Path(cfg.output_dir) / FINETUNED_DIR,
                         prefix=spec["prefix"])
    spec = bind_spec(spec, cfg.output_dir)
    t0 = time.time()
    E_train = embed([a.norm_text for a in analyses["train"]], spec)
    E_dev = embed([a.norm_text for a in analyses["dev"]], spec)
    log.info("embedded %d + %d ads with %s in %.1fs", len(E_train), len(E_dev), spec["source"],
             time.time() - t0)
    H, h = fit_head(E_train, targets(train_rows), cfg)
    z_lin = np.asarray(linear_model.logits(analyses["dev"]), dtype=np.float32)
    z_head = E_dev @ H + h
    lin, head, bias = fit_stacking(z_lin, z_head, targets(dev_rows), cfg)
    for j, name in enumerate(TARGETS):
        log.debug("stack %s: lin %.3f head %.3f bias %.3f", name, lin[j], head[j], bias[j])
    return {"H": H, "h": h, "stack_lin": lin, "stack_head": head, "stack_bias": bias}


def fit_head(E: np.ndarray, Y: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """One L2 logistic regression per target on standardised embeddings, folded back into
    raw-embedding weights: returns `H` (hidden, k) and `h` (k,), float32."""
    mu = E.mean(axis=0)
    sd = E.std(axis=0) + 1e-6
    Z = (E - mu) / sd  # L2-normalised embeddings have tiny per-dimension spread: rescale
    k = Y.shape[1]
    H = np.zeros((E.shape[1], k), dtype=np.float64)
    h = np.zeros(k, dtype=np.float64)
    for j in range(k):
        y = Y[:, j]
        if y.min() == y.max():  # one class only in a tiny training set
            h[j] = -6.0 if y.max() == 0 else 6.0
            continue
        clf = LogisticRegression(C=cfg.head_C, class_weight=cfg.class_weight, max_iter=2000,
                                 random_state=cfg.seed)
        clf.fit(Z, y)
        w = clf.coef_[0] / sd
        H[:, j] = w
        h[j] = clf.intercept_[0] - float(w @ mu)
    return H.astype(np.float32), h.astype(np.float32)


def fit_stacking(z_lin: np.ndarray, z_head: np.ndarray, Y: np.ndarray,
                 cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-label weights `(stack_lin, stack_head, stack_bias)` fitted on dev.

    Dev is small and is used again for calibration and thresholds, so each label's fit is
    kept small and cautious: two weights and a bias, L2-regularised (`stack_C`), weights
    kept non-negative (a model that helps can't be subtracted; a negative weight on dev is
    noise), and labels with fewer than MIN_DEV_CLASS dev positives or negatives keep the
    linear model alone (weights 1, 0, 0). The head is only kept when its cross-validated
    (5-fold on dev) log-loss beats the linear model alone, so a weight fitted to noise on
    dev never ships.
    """
    k = Y.shape[1]
    lin, head, bias = np.ones(k), np.zeros(k), np.zeros(k)
    for j in range(k):
        y = Y[:, j]
        n_pos = int(y.sum())
        if min(n_pos, len(y) - n_pos) < MIN_DEV_CLASS:
            continue
        X2 = np.column_stack([z_lin[:, j], z_head[:, j]]).astype(np.float64)
        both = _cv_logloss(X2, y, cfg)
        alone = _cv_logloss(X2[:, :1], y, cfg)
        if both < alone:
            w, b = _fit_nonneg(X2, y, cfg)
            lin[j], head[j], bias[j] = w[0], w[1], b
        else:
            w, b = _fit_nonneg(X2[:, :1], y, cfg)
            lin[j], bias[j] = w[0], b
        if lin[j] == 0 and head[j] == 0:  # no signal in either on dev: fall back to linear
            lin[j], bias[j] = 1.0, 0.0
    return lin.astype(np.float32), head.astype(np.float32), bias.astype(np.float32)


def _fit_nonneg(X: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, float]:
    """Logistic regression whose weights are >= 0: a feature fitted negative is dropped."""
    keep = list(range(X.shape[1]))
    while keep:
        clf = LogisticRegression(C=cfg.stack_C, max_iter=1000).fit(X[:, keep], y)
        if (clf.coef_[0] >= 0).all():
            w = np.zeros(X.shape[1])
            w[keep] = clf.coef_[0]
            return w, float(clf.intercept_[0])
        keep.pop(int(np.argmin(clf.coef_[0])))
    return np.zeros(X.shape[1]), 0.0


def _cv_logloss(X: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> float:
    folds = min(5, int(y.sum()), int(len(y) - y.sum()))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
    p = cross_val_predict(LogisticRegression(C=cfg.stack_C, max_iter=1000), X, y, cv=cv,
                          method="predict_proba")[:, 1]
    return float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1]))
