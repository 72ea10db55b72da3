"""Fit the risk calibration of a new model on dev (applied by inference/calibration.py).

`platt`: a maximum-likelihood Platt fit, u = a * z + b. Measured on the fast model (corpus v3):
dev ECE 0.020, but 51% of risky dev ads (64% of risky gold ads) at risk >= 0.99, because dev is
nearly separable. Fitting Platt on out-of-fold train logits instead (5 folds grouped by family,
plus dev) changed neither: a = 1.43 against 1.39, 53% of risky dev ads >= 0.99, gold 65%; a
plain temperature (a lowered until 5% of risky dev ads reach 0.99) met the target at dev ECE
0.086-0.089.

`platt_knee` (the default): the same Platt fit, then above the calibrated probability `knee`
the logit's slope is multiplied by `top_slope`, the largest factor that leaves at most
`top_share` of the risky dev ads at risk >= 0.99 (1 when the fit already does). Measured on
the fast model with knee 0.95 and top_share 0.03: dev ECE 0.019, gold 0.026 (Platt: 0.020,
0.020); risky ads >= 0.99: dev 3%, test 2%, gold 2%. The map is strictly increasing, so
PR-AUC and ROC-AUC are those of the raw logit.
"""

from __future__ import annotations

import math

import numpy as np
from nigehbaan.inference.calibration import calibrate_logit
from sklearn.linear_model import LogisticRegression

TOP = 0.99  # the risk the top share is measured at


def fit_calibration(z: np.ndarray, y: np.ndarray, method: str = "platt_knee",
                    knee: float = 0.95, top_share: float = 0.03) -> dict:
    """The contract's `calibration` for raw risk logits `z` and labels `y` (dev)."""
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y)
    if method == "none" or len(set(y.tolist())) < 2:
        return {"method": "none"}
    lr = LogisticRegression(C=1e4, solver="lbfgs").fit(z.reshape(-1, 1), y)
    cal = {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    if method == "platt":
        return cal
    u0, u_top = math.log(knee / (1 - knee)), math.log(TOP / (1 - TOP))
    u = np.sort(cal["a"] * z[y == 1] + cal["b"])[::-1]  # risky ads' calibrated logits, highest first
    allowed = int(math.floor(top_share * len(u)))  # how many may stay at >= TOP
    slope = 1.0
    if allowed < len(u) and u[allowed] >= u_top:
        # The (allowed+1)-th highest must land just under TOP: u0 + s * (u - u0) < u_top.
        slope = 0.999 * (u_top - u0) / (u[allowed] - u0)
    return {**cal, "method": "platt_knee", "knee": u0, "top_slope": float(slope)}


def calibration_report(y: np.ndarray, p: np.ndarray) -> dict:
    """How the calibrated risk `p` behaves on labels `y`: ECE and the share of risky ads at
    risk >= 0.99 (saturation: no order among them in a triage queue)."""
    from nigehbaan.training.evaluation.metrics import expected_calibration_error

    y, p = np.asarray(y), np.asarray(p)
    risky = y == 1
    return {"ece": expected_calibration_error(y, p) if len(y) else None,
            "risky_at_0_99": float((p[risky] >= TOP).mean()) if risky.any() else None}


__all__ = ["fit_calibration", "calibration_report", "calibrate_logit", "TOP"]
