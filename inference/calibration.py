"""The risk calibration of a model contract, applied to the raw risk logit (shared by scoring
and training, which fits it: training/calibration.py).

`calibration` in contract.json:
- `{"method": "none"}`: the logit as fitted.
- `{"method": "platt", "a", "b"}`: u = a * z + b (Platt scaling fitted on dev).
- `{"method": "platt_knee", "a", "b", "knee", "top_slope"}`: Platt, then above the calibrated
  logit `knee` the slope is multiplied by `top_slope` (< 1):
  u' = knee + top_slope * (u - knee). Dev is nearly separable, so a maximum-likelihood Platt
  fit extrapolates to certainty and half of the risky ads scored 0.99 or more: a triage queue
  with no order among them. The knee keeps the fit below it and spreads the top instead;
  the map stays strictly increasing, so ranking metrics (PR-AUC, ROC-AUC) do not change.
"""

from __future__ import annotations

import numpy as np

CALIBRATION_METHODS = ("none", "platt", "platt_knee")


def calibrate_logit(z: np.ndarray, cal: dict) -> np.ndarray:
    """The calibrated risk logit for raw logits `z` (any shape) under contract `cal`."""
    method = cal.get("method", "none")
    if method == "none":
        return z
    u = cal["a"] * z + cal["b"]
    if method == "platt_knee":
        knee = cal["knee"]
        u = np.where(u > knee, knee + cal["top_slope"] * (u - knee), u)
    return u
