"""Metrics for risk and indicators, per language and per indicator, and threshold choice.

Pure functions over arrays, shared by training (threshold choice on dev, metrics logged to
MLflow) and `nigehbaan evaluate` (reports).
"""

from __future__ import annotations

import numpy as np
from nigehbaan.inference.labels import INDICATORS
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)


def safe_auc(y: np.ndarray, p: np.ndarray, kind: str = "roc") -> float | None:
    """ROC-AUC or PR-AUC, or None where only one class is present."""
    if len(set(np.asarray(y).tolist())) < 2:
        return None
    return float(roc_auc_score(y, p) if kind == "roc" else average_precision_score(y, p))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(ece)


def precision_at_k(y: np.ndarray, p: np.ndarray, k: int) -> float | None:
    if len(y) == 0:
        return None
    order = np.argsort(-p)[:k]
    return float(np.asarray(y)[order].mean())


def at_threshold(y: np.ndarray, p: np.ndarray, t: float) -> dict:
    pred = (p >= t).astype(int)
    prec, rec, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", zero_division=0
    )
    return {"threshold": float(t), "precision": float(prec), "recall": float(rec), "f1": float(f1),
            "flagged": int(pred.sum())}


def choose_band_thresholds(
    y: np.ndarray, p: np.ndarray, high_precision: float, medium_recall: float, prior: float = 0.15
) -> dict:
    """Band thresholds from dev scores.

    `high`: the lowest threshold whose precision reaches `high_precision` in a feed where a
    share `prior` of ads is risky (dev precision re-weighted from dev's own share to `prior`:
    the corpus is 40% risky, a scraped feed far less, and precision falls with prevalence).
    `medium`: the highest threshold that still keeps `medium_recall` of risky dev ads at or
    above it, capped at `high` (then `high` alone keeps that recall and the medium band is
    empty: the model is decisive). Falls back to 0.7 / 0.4 without both classes.
    """
    y, p = np.asarray(y), np.asarray(p)
    if len(set(y.tolist())) < 2:
        return {"high": 0.7, "medium": 0.4}
    # roc_curve: the share of risky (tpr) and other (fpr) dev ads at or above every distinct
    # score, highest first; `high` is the lowest score whose re-weighted precision is enough.
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]  # drop the leading +inf
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = prior * tpr / (prior * tpr + (1 - prior) * fpr)
    enough = np.flatnonzero((tpr > 0) & (precision >= high_precision))
    high = float(thresholds[enough[-1]]) if len(enough) else float(p.max())
    ranked = np.sort(p[y == 1])
    medium = float(ranked[int(np.floor((1 - medium_recall) * len(ranked)))])
    return {"high": round(high, 4), "medium": round(min(medium, high), 4)}


_GRID = np.arange(0.15, 0.86, 0.05)


def choose_indicator_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The dev-F1-best threshold on a coarse grid; 0.5 with fewer than 3 positives."""
    if y.sum() < 3:
        return 0.5
    scores = [f1_score(y, p >= t, zero_division=0) for t in _GRID]
    return round(float(_GRID[int(np.argmax(scores))]), 2)


def choose_indicator_thresholds(Y: np.ndarray, P: np.ndarray, how: str = "per_indicator") -> dict:
    """{indicator: threshold} from dev labels `Y` and probabilities `P` (n, 18): each
    indicator's own F1-best threshold, or (`shared`) the one micro-F1-best threshold for all."""
    if how == "shared":
        scores = [f1_score(Y, P >= t, average="micro", zero_division=0) for t in _GRID]
        t = round(float(_GRID[int(np.argmax(scores))]), 2)
        return dict.fromkeys(INDICATORS, t)
    return {ind: choose_indicator_threshold(Y[:, j], P[:, j]) for j, ind in enumerate(INDICATORS)}


def risk_metrics(y: np.ndarray, p: np.ndarray, bands: dict) -> dict:
    y, p = np.asarray(y), np.asarray(p)
    if len(y) == 0:
        return {"n": 0}
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "pr_auc": safe_auc(y, p, "pr"),
        "roc_auc": safe_auc(y, p, "roc"),
        "ece": expected_calibration_error(y, p) if len(y) else None,
        # Saturation: risky ads at risk >= 0.99 get no order among them in a triage queue.
        "risky_at_0_99": float((p[y == 1] >= 0.99).mean()) if y.sum() else None,
        "precision_at_50": precision_at_k(y, p, 50),
        "precision_at_100": precision_at_k(y, p, 100),
        "at_high": at_threshold(y, p, bands["high"]),
        "at_medium": at_threshold(y, p, bands["medium"]),
    }


def indicator_metrics(Y: np.ndarray, P: np.ndarray, thresholds: dict) -> dict:
    """Per-indicator precision/recall/F1 and micro/macro F1 at the model's thresholds."""
    T = np.array([thresholds[i] for i in INDICATORS])
    pred = (P >= T).astype(int)
    per = {}
    for j, ind in enumerate(INDICATORS):
        prec, rec, f1, _ = precision_recall_fscore_support(
            Y[:, j], pred[:, j], average="binary", zero_division=0
        )
        per[ind] = {"support": int(Y[:, j].sum()), "precision": float(prec), "recall": float(rec),
                    "f1": float(f1), "pr_auc": safe_auc(Y[:, j], P[:, j], "pr")}
    micro = f1_score(Y, pred, average="micro", zero_division=0)
    present = [j for j in range(len(INDICATORS)) if Y[:, j].sum() > 0]
    macro = float(np.mean([per[INDICATORS[j]]["f1"] for j in present])) if present else None
    return {"micro_f1": float(micro), "macro_f1": macro, "per_indicator": per}


def full_metrics(rows: list[dict], P: np.ndarray, contract) -> dict:
    """Overall, per-language and per-indicator metrics of probabilities `P` (n, 19)."""
    y = np.array([r["risk"] for r in rows])
    Y = np.array([[int(i in r["indicators"]) for i in INDICATORS] for r in rows]).reshape(-1, len(INDICATORS))
    bands = contract.band_thresholds
    out = {"overall": {**risk_metrics(y, P[:, 0], bands),
                       "indicators": indicator_metrics(Y, P[:, 1:], contract.indicator_thresholds)}}
    out["by_kind"] = flagged_by_group(rows, P, bands, _kind_of)
    if any("case" in r for r in rows):
        out["by_case"] = flagged_by_group(rows, P, bands, lambda r: r.get("case", "?"))
    out["per_language"] = {}
    for lang in sorted({r["lang"] for r in rows}):
        mask = np.array([r["lang"] == lang for r in rows])
        out["per_language"][lang] = {
            **risk_metrics(y[mask], P[mask, 0], bands),
            "indicator_micro_f1": indicator_metrics(
                Y[mask], P[mask, 1:], contract.indicator_thresholds)["micro_f1"],
        }
    return out


def _kind_of(row: dict) -> str:
    from nigehbaan.training.corpus.data import text_kind_of

    return text_kind_of(row)


def flagged_by_group(rows: list[dict], P: np.ndarray, bands: dict, key) -> dict:
    """Per group (`key(row)`: a text kind, a case): how many texts, how many risky, and the
    shares the risk flags `medium` or higher and `high`. For warnings, news and other non-ads
    the flagged shares are false alarms; for risky ads the `high` share is recall at high."""
    out = {}
    groups = np.array([key(r) for r in rows])
    y = np.array([r["risk"] for r in rows])
    for g in sorted(set(groups.tolist())):
        m = groups == g
        out[g] = {"n": int(m.sum()), "risky": int(y[m].sum()),
                  "flagged_medium_or_higher": float((P[m, 0] >= bands["medium"]).mean()),
                  "flagged_high": float((P[m, 0] >= bands["high"]).mean())}
    return out


def text_kind_metrics(rows: list[dict], K: np.ndarray, P: np.ndarray, contract) -> dict:
    """The text-kind head (K: (n, 4) probabilities over TEXT_KINDS) against the rows' kinds
    (`training.data.text_kind_of`), and, per true kind, how many texts of that kind the risk
    flags `medium` or higher: for warnings and news that share should be near zero."""
    from nigehbaan.inference.labels import TEXT_KINDS
    from nigehbaan.training.corpus.data import text_kind_of

    true = np.array([TEXT_KINDS.index(text_kind_of(r)) for r in rows])
    pred = K.argmax(axis=1)
    flagged = P[:, 0] >= contract.band_thresholds["medium"]
    per = {}
    for k, kind in enumerate(TEXT_KINDS):
        mask = true == k
        if not mask.any():
            continue
        prec, rec, f1, _ = precision_recall_fscore_support(
            true == k, pred == k, average="binary", zero_division=0)
        per[kind] = {"support": int(mask.sum()), "precision": float(prec), "recall": float(rec),
                     "f1": float(f1), "flagged_medium_or_higher": float(flagged[mask].mean())}
    return {"accuracy": float((pred == true).mean()), "per_kind": per}


def evidence_metrics(rows: list[dict], shown: list[list[dict]]) -> dict:
    """Evidence of the indicators a model shows (`shown[i]`: row i's scored `indicators`),
    overall and per language: `coverage`, the share of shown indicators carrying at least one
    evidence item; `micro_f1_shown`, indicator micro-F1 of what is shown (after any
    ungrounded-indicator threshold); and, on rows with gold `spans`, span `precision` (evidence
    items of an indicator overlapping a gold span of that indicator, by character) and `recall`
    (gold spans overlapped by an evidence item of their indicator), for all evidence and per
    source (`rule`, `model`)."""

    def measure(idx: list[int]) -> dict:
        n_shown = sum(len(shown[i]) for i in idx)
        n_grounded = sum(1 for i in idx for ind in shown[i] if ind["evidence"])
        tp = sum(1 for i in idx for ind in shown[i] if ind["id"] in rows[i]["indicators"])
        gold = sum(len(set(rows[i]["indicators"])) for i in idx)
        out = {"shown": n_shown, "coverage": n_grounded / n_shown if n_shown else None,
               "micro_f1_shown": 2 * tp / (n_shown + gold) if n_shown + gold else None}
        spanned = [i for i in idx if rows[i].get("spans")]
        for source in ("all", "rule", "model"):
            items = hit_items = gold_n = gold_hit = 0
            for i in spanned:
                spans = [s for s in rows[i]["spans"] if "indicator" in s]
                ev = [(ind["id"], e) for ind in shown[i] for e in ind["evidence"]
                      if source == "all" or e.get("source", "rule") == source]

                def overlap(ind, e, s):
                    return s["indicator"] == ind and e["start"] < s["end"] and s["start"] < e["end"]

                items += len(ev)
                hit_items += sum(1 for ind, e in ev if any(overlap(ind, e, s) for s in spans))
                gold_n += len(spans)
                gold_hit += sum(1 for s in spans if any(overlap(ind, e, s) for ind, e in ev))
            out[f"span_{source}"] = {"items": items, "gold_spans": gold_n,
                                     "precision": hit_items / items if items else None,
                                     "recall": gold_hit / gold_n if gold_n else None}
        return out

    result = {"overall": measure(list(range(len(rows))))}
    result["per_language"] = {
        lang: measure([i for i, r in enumerate(rows) if r.get("lang") == lang])
        for lang in sorted({r.get("lang") for r in rows if r.get("lang")})
    }
    return result
