"""Threshold choice on dev: bands and indicator thresholds (synthetic scores, exact answers)."""

import numpy as np
import pytest
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.training.metrics import choose_band_thresholds, choose_indicator_thresholds
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
