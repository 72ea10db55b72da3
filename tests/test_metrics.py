"""Threshold choice on dev: bands and indicator thresholds (synthetic scores, exact answers)."""

import numpy as np
import pytest
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.training.evaluation.metrics import (
    choose_band_thresholds,
    choose_indicator_thresholds,
)
from sklearn.metrics import f1_score


def test_high_band_reaches_the_precision_at_the_deployment_prior():
    # 10 risky ads scored 0.55..1.0, 90 safe ads 0.0..0.6: at a 50% prior the lowest threshold
    # with precision >= 0.9 is lower than at a 10% prior, where false positives weigh more.
    y = np.r_[np.ones(10), np.zeros(90)].astype(int)
    p = np.r_[np.linspace(0.55, 1.0, 10), np.linspace(0.0, 0.6, 90)]
    loose = choose_band_thresholds(y, p, 0.9, 0.97, prior=0.5)
    strict = choose_band_thresholds(y, p, 0.9, 0.97, prior=0.1)
    assert strict["high"] > loose["high"]
    for bands, prior in ((loose, 0.5), (strict, 0.1)):
        t = bands["high"]
        tpr, fpr = (p[y == 1] >= t).mean(), (p[y == 0] >= t).mean()
        assert prior * tpr / (prior * tpr + (1 - prior) * fpr) >= 0.9
        assert bands["medium"] <= bands["high"]


def _two_indicator_dev():
    """Indicator 0 separates at 0.7, indicator 1 at 0.3; the rest have no positives."""
    rng = np.random.default_rng(0)
    n = 400
    Y = np.zeros((n, len(INDICATORS)), dtype=int)
    P = rng.uniform(0, 0.1, size=(n, len(INDICATORS)))
    Y[:100, 0] = 1
    P[:100, 0], P[100:, 0] = rng.uniform(0.72, 1, 100), rng.uniform(0, 0.68, 300)
    Y[:200, 1] = 1
    P[:200, 1], P[200:, 1] = rng.uniform(0.32, 1, 200), rng.uniform(0, 0.28, 200)
    return Y, P


def test_per_indicator_thresholds_follow_each_indicator():
    Y, P = _two_indicator_dev()
    t = choose_indicator_thresholds(Y, P, "per_indicator")
    assert t[INDICATORS[0]] == pytest.approx(0.7) and t[INDICATORS[1]] == pytest.approx(0.3)
    assert t[INDICATORS[5]] == 0.5  # fewer than 3 positives: the neutral default


def test_shared_threshold_is_one_micro_f1_best_value():
    Y, P = _two_indicator_dev()
    t = choose_indicator_thresholds(Y, P, "shared")
    assert len(set(t.values())) == 1 and set(t) == set(INDICATORS)
    shared = t[INDICATORS[0]]
    assert shared not in (0.7, 0.5)  # not indicator 0's own cut, not the default
    micro = {g: f1_score(Y, P >= g, average="micro") for g in np.round(np.arange(0.15, 0.86, 0.05), 2)}
    assert micro[round(shared, 2)] == max(micro.values())


def _band_high_by_scan(y, p, high_precision, prior):
    """The hand-written scan `choose_band_thresholds` used before roc_curve (the reference)."""
    pos, neg = p[y == 1], p[y == 0]
    for t in np.unique(p):
        tpr, fpr = (pos >= t).mean(), (neg >= t).mean()
        if tpr > 0 and prior * tpr / (prior * tpr + (1 - prior) * fpr) >= high_precision:
            return round(float(t), 4)
    return round(float(p.max()), 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_band_thresholds_from_roc_curve_equal_the_old_scan(dtype):
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(10, 300))
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            continue
        # rounded scores: many ties, as calibrated dev scores have
        p = np.round(rng.random(n) ** rng.uniform(0.2, 5) * (0.4 + 0.6 * y), 3).astype(dtype)
        for hp in (0.6, 0.9, 0.99):
            got = choose_band_thresholds(y, p, hp, 0.97, 0.15)["high"]
            assert got == _band_high_by_scan(y, p, hp, 0.15), (n, hp)


def test_stack_cv_log_loss_equals_the_hand_written_one():
    from nigehbaan.training.config import TrainConfig
    from nigehbaan.training.stack import _cv_logloss
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 2))
    y = (X[:, 0] + 0.5 * rng.standard_normal(120) > 0).astype(int)
    cfg = TrainConfig()
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=cfg.seed)
    p = cross_val_predict(LogisticRegression(C=cfg.stack_C, max_iter=1000), X, y, cv=cv,
                          method="predict_proba")[:, 1]
    p = np.clip(p, 1e-6, 1 - 1e-6)
    assert _cv_logloss(X, y, cfg) == float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_training_modules_import_without_a_cycle():
    """train -> stack -> finetune -> train was a cycle; each now imports alone, in a fresh
    interpreter, and stack/finetune/model_card take `targets` from training.data."""
    import subprocess
    import sys

    for module in ("stack", "train", "evaluation.model_card", "corpus.data"):
        done = subprocess.run([sys.executable, "-c", f"import nigehbaan.training.{module}"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (module, done.stderr[-1500:])
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "training"
    for name in ("stack.py", "finetune.py", "evaluation/model_card.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "nigehbaan.training.train" not in imported, name
