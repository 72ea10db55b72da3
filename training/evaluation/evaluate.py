"""`nigehbaan evaluate`: metrics, plots and a Markdown report for a model on labelled data,
plus the external checks on public data when `../shared/datasets/` (or `--external DIR`) exists.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
from nigehbaan.inference.model import Model, load_model
from nigehbaan.training.corpus.data import read_jsonl
from nigehbaan.training.evaluation.external import predict_texts, run_external_checks
from nigehbaan.training.evaluation.metrics import full_metrics

log = logging.getLogger(__name__)


def predict_rows(model: Model, rows: list[dict]) -> np.ndarray:
    """Probabilities (n, 19) for labelled rows."""
    return predict_texts(model, [r["text"] for r in rows])


def evaluate(model_dir: str | None, data: str, external: str = "auto") -> dict:
    model = load_model(model_dir)
    rows = read_jsonl(data)
    P = predict_rows(model, rows)
    result = {"model": model.info, "data": str(data), "metrics": full_metrics(rows, P, model.contract)}
    ext_dir = _external_dir(external)
    if ext_dir is not None:
        result["external"] = run_external_checks(model, ext_dir)
    return {"result": result, "rows": rows, "P": P, "model": model}


def _external_dir(external: str) -> Path | None:
    if external == "none":
        return None
    if external == "auto":
        for cand in (Path("../shared/datasets"), Path(__file__).resolve().parents[3] / "shared" / "datasets"):
            if cand.is_dir():
                return cand
        log.info("no ../shared/datasets here: external checks skipped")
        return None
    path = Path(external)
    return path if path.is_dir() else None


def evaluate_cli(model_dir: str | None, data: str, report: str | None, external: str) -> int:
    out = evaluate(model_dir, data, external)
    result = out["result"]
    print(summary_text(result), file=sys.stderr)
    if report:
        write_report(Path(report), result, out["rows"], out["P"], out["model"])
        print(f"report written to {report}/report.md", file=sys.stderr)
    else:
        print(json.dumps(result, indent=2))
    return 0


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def summary_text(result: dict) -> str:
    m = result["metrics"]["overall"]
    lines = [
        f"model {result['model']['name']} {result['model']['version']} on {result['data']}: "
        f"n={m['n']} PR-AUC={_fmt(m.get('pr_auc'))} ROC-AUC={_fmt(m.get('roc_auc'))} "
        f"ECE={_fmt(m.get('ece'))} indicator micro-F1={_fmt(m['indicators']['micro_f1'])}"
    ]
    for lang, v in result["metrics"]["per_language"].items():
        lines.append(f"  {lang:8s} n={v['n']:5d} PR-AUC={_fmt(v.get('pr_auc'))} "
                     f"indicator micro-F1={_fmt(v['indicator_micro_f1'])}")
    for kind, v in result["metrics"].get("by_kind", {}).items():
        lines.append(f"  {kind:8s} n={v['n']:5d} risky={v['risky']:4d} flagged medium+ "
                     f"{v['flagged_medium_or_higher']:.1%}, high {v['flagged_high']:.1%}")
    for name, v in (result.get("external") or {}).items():
        lines.append(f"  external {name}: {v.get('summary', v)}")
    return "\n".join(lines)


def write_report(folder: Path, result: dict, rows: list[dict], P: np.ndarray, model: Model) -> None:
    """report.md, metrics.json and PNG plots in `folder`."""
    from nigehbaan.training.evaluation.plots import (
        confusion_png,
        indicator_f1_png,
        pr_curve_png,
        reliability_png,
    )

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    y = np.array([r["risk"] for r in rows])
    langs = [r["lang"] for r in rows]
    bands = model.contract.band_thresholds
    pr_curve_png(y, P[:, 0], langs, folder / "pr_curves.png")
    reliability_png(y, P[:, 0], folder / "reliability.png")
    confusion_png(y, P[:, 0], bands, folder / "confusion.png")
    indicator_f1_png(result["metrics"]["overall"]["indicators"]["per_indicator"], folder / "indicator_f1.png")
    (folder / "report.md").write_text(report_markdown(result, bands), encoding="utf-8")


def report_markdown(result: dict, bands: dict) -> str:
    m = result["metrics"]
    o = m["overall"]
    md = [
        f"# Evaluation of {result['model']['name']} {result['model']['version']}",
        "",
        f"Data: `{result['data']}` ({o['n']} ads, {o.get('positives', 0)} risky).",
        "",
        "| metric | value |", "|---|---|",
        f"| PR-AUC | {_fmt(o.get('pr_auc'))} |", f"| ROC-AUC | {_fmt(o.get('roc_auc'))} |",
        f"| expected calibration error | {_fmt(o.get('ece'))} |",
        f"| precision@50 | {_fmt(o.get('precision_at_50'))} |",
        f"| precision@100 | {_fmt(o.get('precision_at_100'))} |",
        f"| indicator micro-F1 | {_fmt(o['indicators']['micro_f1'])} |",
        f"| indicator macro-F1 | {_fmt(o['indicators']['macro_f1'])} |",
        "",
        "## At the band thresholds", "",
        "| band | threshold | precision | recall | F1 | flagged |", "|---|---|---|---|---|---|",
    ]
    for band in ("high", "medium"):
        t = o.get(f"at_{band}")
        if t:
            md.append(f"| {band} (risk >= {bands[band]}) | {t['threshold']:.3f} | {t['precision']:.3f} | "
                      f"{t['recall']:.3f} | {t['f1']:.3f} | {t['flagged']} |")
    md += ["", "## Per language", "", "| lang | n | risky | PR-AUC | ROC-AUC | indicator micro-F1 |",
           "|---|---|---|---|---|---|"]
    for lang, v in m["per_language"].items():
        md.append(f"| {lang} | {v['n']} | {v.get('positives', 0)} | {_fmt(v.get('pr_auc'))} | "
                  f"{_fmt(v.get('roc_auc'))} | {_fmt(v['indicator_micro_f1'])} |")
    for title, key in (("Per text kind", "by_kind"), ("Per case", "by_case")):
        if m.get(key):
            md += ["", f"## {title}", "", "| group | n | risky | flagged medium+ | flagged high |",
                   "|---|---|---|---|---|"]
            for g, v in m[key].items():
                md.append(f"| {g} | {v['n']} | {v['risky']} | {v['flagged_medium_or_higher']:.1%} | "
                          f"{v['flagged_high']:.1%} |")
    md += ["", "## Per indicator", "", "| indicator | support | precision | recall | F1 | PR-AUC |",
           "|---|---|---|---|---|---|"]
    for ind, v in o["indicators"]["per_indicator"].items():
        md.append(f"| {ind} | {v['support']} | {v['precision']:.3f} | {v['recall']:.3f} | "
                  f"{v['f1']:.3f} | {_fmt(v['pr_auc'])} |")
    ext = result.get("external")
    if ext:
        md += ["", "## External checks (public data, never trained on)", "",
               "| check | figure |", "|---|---|"]
        for name, v in ext.items():
            md.append(f"| {name} | {v.get('summary', '')} |")
    md += ["", "## Plots", "", "![PR curves](pr_curves.png)", "![Reliability](reliability.png)",
           "![Confusion](confusion.png)", "![Indicator F1](indicator_f1.png)", ""]
    return "\n".join(md)
