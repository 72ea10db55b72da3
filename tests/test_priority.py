"""The triage priority (inference/priority.py) and the risk calibration that does not saturate
(training/calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest
from nigehbaan.inference.calibration import calibrate_logit
from nigehbaan.inference.errors import ModelContractError
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.priority import DEFAULT_SEVERITY, FLOOR, priority, severity_table
from nigehbaan.training.calibration import calibration_report, fit_calibration


def _ind(ind_id: str, score: float = 0.9) -> dict:
    return {"id": ind_id, "score": score, "evidence": []}


def test_priority_is_zero_at_zero_risk_bounded_by_the_risk_and_none_on_errors():
    assert priority(0.0, [_ind("minor_targeted", 1.0)]) == 0.0
    assert priority(None, [_ind("minor_targeted")]) is None
    assert priority(1.0, [_ind("organ_trade", 1.0)]) == 1.0
    assert priority(0.8, []) == round(0.8 * FLOOR, 4)
    rng = np.random.default_rng(0)
    for _ in range(200):
        risk = round(float(rng.random()), 4)
        inds = [_ind(str(i), round(float(rng.random()), 4))
                for i in rng.choice(INDICATORS, size=int(rng.integers(0, 5)), replace=False)]
        p = priority(risk, inds)
        assert 0 <= p <= risk and p == round(p, 4)


def test_priority_is_monotone_in_risk_and_in_scores():
    inds = [_ind("debt_bondage", 0.7), _ind("urgency_pressure", 0.95)]
    ps = [priority(r, inds) for r in np.linspace(0, 1, 101)]
    assert ps == sorted(ps)
    qs = [priority(0.9, [_ind("debt_bondage", s)]) for s in np.linspace(0, 1, 21)]
    assert qs == sorted(qs)


def test_severity_order_children_organs_sex_bondage_confinement_first():
    first = ("minor_targeted", "organ_trade", "sexual_services", "debt_bondage",
             "restricted_freedom")
    second = ("document_retention", "irregular_route", "marriage_abroad")
    rest = [i for i in INDICATORS if i not in first + second]
    assert set(DEFAULT_SEVERITY) == set(INDICATORS)
    assert min(DEFAULT_SEVERITY[i] for i in first) > max(DEFAULT_SEVERITY[i] for i in second)
    assert min(DEFAULT_SEVERITY[i] for i in second) > max(DEFAULT_SEVERITY[i] for i in rest)
    # A child offered for sale at lower risk outranks a vague urgent ad at higher risk.
    child = priority(0.9, [_ind("minor_targeted", 0.9)])
    urgent = priority(0.99, [_ind("urgency_pressure", 0.97), _ind("vague_employer", 0.97)])
    assert child > urgent


def test_a_contract_may_override_severities_and_bad_ones_are_refused(tmp_path):
    from nigehbaan.inference.model import Contract, Model, load_model, save_model

    table = severity_table({"urgency_pressure": 1.0})
    assert table["urgency_pressure"] == 1.0 and table["minor_targeted"] == 1.0
    with pytest.raises(ValueError, match="unknown indicator 'kidnap'"):
        severity_table({"kidnap": 1.0})
    with pytest.raises(ValueError, match="expected a number in 0..1"):
        severity_table({"organ_trade": 2})
    assert Model(Contract("r", "1", "rules")).severity == DEFAULT_SEVERITY  # old contracts
    save_model(tmp_path / "m", Contract("r", "1", "rules", severity={"organ_trade": 1.5}), {})
    with pytest.raises(ModelContractError, match="severity of organ_trade.*Fix: correct or remove"):
        load_model(tmp_path / "m")


def _separable(n: int = 2000, seed: int = 0):
    """Raw logits of a model that separates its classes almost perfectly (like dev)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    z = np.where(y == 1, rng.normal(6, 2.5, n), rng.normal(-6, 2.5, n))
    return z, y


def test_platt_saturates_on_a_separable_set_and_the_knee_does_not():
    z, y = _separable()
    platt = fit_calibration(z, y, "platt")
    knee = fit_calibration(z, y, "platt_knee", knee=0.95, top_share=0.03)
    assert knee["a"] == pytest.approx(platt["a"]) and 0 < knee["top_slope"] < 1
    z2, y2 = _separable(seed=1)  # a fresh draw: the share holds out of sample
    before = calibration_report(y2, 1 / (1 + np.exp(-calibrate_logit(z2, platt))))
    after = calibration_report(y2, 1 / (1 + np.exp(-calibrate_logit(z2, knee))))
    assert before["risky_at_0_99"] > 0.5 and after["risky_at_0_99"] < 0.05
    assert after["ece"] < 0.05
    # Strictly increasing: the ranking, hence PR-AUC, is the raw logit's.
    grid = np.linspace(-20, 20, 401)
    assert (np.diff(calibrate_logit(grid, knee)) > 0).all()
    # Below the knee it is Platt.
    low = grid[platt["a"] * grid + platt["b"] < knee["knee"]]
    assert np.allclose(calibrate_logit(low, knee), calibrate_logit(low, platt))


def test_the_knee_leaves_a_fit_that_does_not_saturate_as_it_is():
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.4).astype(int)
    z = np.where(y == 1, rng.normal(0.8, 1, 3000), rng.normal(-0.8, 1, 3000))
    assert fit_calibration(z, y, "platt_knee")["top_slope"] == 1.0
    assert fit_calibration(z, np.zeros_like(y), "platt_knee") == {"method": "none"}


@pytest.mark.parametrize("model_name", ["rules", "fast"])
def test_scored_rows_carry_priority_after_band_and_error_rows_null(model_name):
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.schema import SCORED_FIELDS, validate_scored
    from nigehbaan.inference.scorer import score_records

    assert SCORED_FIELDS.index("priority") == SCORED_FIELDS.index("band") + 1
    model = load_model(model_name)
    rows = score_records([
        {"id": "a", "text": "12 saal ki bachi ghar ke kaam ke liye chahiye, peshgi milegi"},
        {"id": "b", "text": "Urgent hiring! Jobs in Dubai, all categories, WhatsApp only"},
        {"id": "c", "text": ""},
    ], model)
    for row in rows[:2]:
        assert list(row)[list(row).index("band") + 1] == "priority"
        assert row["priority"] == priority(row["risk"], row["indicators"], model.severity)
        validate_scored(row)
    assert rows[2]["error"] and rows[2]["priority"] is None
    validate_scored(rows[2])
