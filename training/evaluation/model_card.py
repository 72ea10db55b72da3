"""Write `MODEL_CARD.md` for a model directory from its contract and an evaluation run.

The figures are never typed: they come from `contract.json` (dev/test/gold metrics written at
training) and from `nigehbaan evaluate` on the gold set with the external checks.

    python -m nigehbaan.training.evaluation.model_card --model models/default
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nigehbaan.training.evaluation.evaluate import evaluate

LANGS = ("en", "ur", "ur-Latn", "mixed")


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _split_table(metrics: dict) -> list[str]:
    md = ["| split | lang | ads | PR-AUC | ROC-AUC | indicator micro-F1 | precision at high | recall at medium |",
          "|---|---|---|---|---|---|---|---|"]
    for split in ("test", "gold", "gold_context"):
        if split not in metrics:
            continue
        m = metrics[split]
        o = m["overall"]
        md.append(f"| {split} | all | {o['n']} | {_f(o['pr_auc'])} | {_f(o['roc_auc'])} | "
                  f"{_f(o['indicators']['micro_f1'])} | {_f(o['at_high']['precision'])} | {_f(o['at_medium']['recall'])} |")
        for lang in LANGS:
            v = m["per_language"].get(lang)
            if v and v["n"]:
                md.append(f"| {split} | {lang} | {v['n']} | {_f(v['pr_auc'])} | {_f(v['roc_auc'])} | "
                          f"{_f(v['indicator_micro_f1'])} | {_f(v['at_high']['precision'])} | {_f(v['at_medium']['recall'])} |")
    return md


def _indicator_table(metrics: dict) -> list[str]:
    md = ["| indicator | test F1 | gold support | gold precision | gold recall | gold F1 |", "|---|---|---|---|---|---|"]
    gold = metrics.get("gold", {}).get("overall", {}).get("indicators", {}).get("per_indicator", {})
    test = metrics.get("test", {}).get("overall", {}).get("indicators", {}).get("per_indicator", {})
    for ind, g in gold.items():
        md.append(f"| {ind} | {_f(test.get(ind, {}).get('f1'))} | {g['support']} | {_f(g['precision'])} | "
                  f"{_f(g['recall'])} | {_f(g['f1'])} |")
    return md


def _evidence_table(metrics: dict) -> list[str]:
    """Evidence of the shown indicators per split and language: the share carrying evidence,
    and span precision / recall against the gold spans (character overlap), all evidence and
    the span model's alone (`training.evaluation.metrics.evidence_metrics`)."""
    md = ["| split | lang | indicators shown | with evidence | indicator micro-F1 as shown | span precision | "
          "span recall | model-span precision | model-span recall |", "|---|---|---|---|---|---|---|---|---|"]
    for split in ("test", "gold", "gold_context"):
        ev = metrics.get(split, {}).get("evidence")
        if not ev:
            continue
        for lang, v in [("all", ev["overall"]), *((k, ev["per_language"].get(k)) for k in LANGS)]:
            if not v:
                continue
            a, m = v["span_all"], v["span_model"]
            md.append(f"| {split} | {lang} | {v['shown']} | {_f(v['coverage'])} | {_f(v.get('micro_f1_shown'))} | "
                      f"{_f(a['precision'])} | "
                      f"{_f(a['recall'])} | {_f(m['precision'])} | {_f(m['recall'])} |")
    return md if len(md) > 2 else []


def _context_table(metrics: dict) -> list[str]:
    """The gold-context slice per case: how often the risk flags each kind of text."""
    by_case = metrics.get("gold_context", {}).get("overall", {}).get("by_case") or metrics.get(
        "gold_context", {}).get("by_case", {})
    if not by_case:
        return []
    md = ["| case | texts | risky | flagged medium or higher | flagged high |", "|---|---|---|---|---|"]
    for case, v in by_case.items():
        md.append(f"| {case} | {v['n']} | {v['risky']} | {v['flagged_medium_or_higher']:.1%} | "
                  f"{v['flagged_high']:.1%} |")
    return md


def compare_models(new_dir: Path, old_dir: Path, corpus: Path) -> list[str]:
    """The previous model and this one side by side on the same splits of this corpus: PR-AUC
    per language, indicator micro-F1, the share of non-ads (warnings, news, other) flagged
    medium or higher and the share of risky ads flagged high, each at the model's own bands."""
    import numpy as np

    md = ["| model | split | PR-AUC en / ur / ur-Latn / mixed | indicator micro-F1 | non-ads flagged medium+ | risky ads flagged high |",
          "|---|---|---|---|---|---|"]
    for label, folder in (("before", old_dir), ("after", new_dir)):
        for split in ("gold", "gold_context"):
            data = corpus / f"{split}.jsonl"
            if not data.is_file():
                continue
            out = evaluate(str(folder), str(data), "none")
            m, rows, P = out["result"]["metrics"], out["rows"], out["P"]
            bands = out["model"].contract.band_thresholds
            pr = " / ".join(_f(m["per_language"].get(lang, {}).get("pr_auc")) for lang in LANGS)
            from nigehbaan.training.corpus.data import text_kind_of

            nonad = np.array([text_kind_of(r) != "ad" for r in rows])
            risky = np.array([r["risk"] == 1 for r in rows])
            flagged = _f(float((P[nonad, 0] >= bands["medium"]).mean())) if nonad.any() else "n/a"
            recall = _f(float((P[risky, 0] >= bands["high"]).mean())) if risky.any() else "n/a"
            c = out["model"].contract
            corpus_version = (c.training.get("corpus_manifest") or {}).get("version")
            md.append(f"| {label}: {c.name} {c.version} (corpus {corpus_version}) | {split} | {pr} | "
                      f"{_f(m['overall']['indicators']['micro_f1'])} | {flagged} | {recall} |")
    return md


def _components(model_dir: Path, contract: dict) -> list[str]:
    """A stack's parts side by side on test and gold: the linear part alone, the encoder head
    alone and the stack. Each part's indicator thresholds are chosen on dev by the model's own
    rule (`indicator_threshold`); PR-AUC needs no threshold."""
    import numpy as np
    from nigehbaan.inference.model import _sigmoid, load_model
    from nigehbaan.inference.scorer import analyze
    from nigehbaan.training.corpus.data import load_split, targets
    from nigehbaan.training.evaluation.metrics import (
        choose_indicator_thresholds,
        indicator_metrics,
        safe_auc,
    )

    model = load_model(model_dir)
    corpus = contract["training"]["config"]["corpus_dir"]
    how = contract["training"]["config"].get("indicator_threshold", "per_indicator")
    splits = {s: load_split(corpus, s) for s in ("dev", "test", "gold")}
    probs: dict[str, dict[str, np.ndarray]] = {}
    for split, rows in splits.items():
        parts = model.part_logits(analyze([r["text"] for r in rows]))
        z = {"linear part": parts["linear"], "encoder head": parts["head"],
             "stack (shipped)": model.combine(parts)}
        probs[split] = {k: _sigmoid(v) for k, v in z.items()}
    md = ["| part | split | PR-AUC en / ur / ur-Latn / mixed | indicator micro-F1 en / ur / ur-Latn / mixed | indicator micro-F1 all |",
          "|---|---|---|---|---|"]
    Y_dev = targets(splits["dev"])
    for part in ("linear part", "encoder head", "stack (shipped)"):
        T = choose_indicator_thresholds(Y_dev[:, 1:], probs["dev"][part][:, 1:], how)
        for split in ("test", "gold"):
            rows, P = splits[split], probs[split][part]
            Y = targets(rows)
            pr, f1 = [], []
            for lang in LANGS:
                m = np.array([r["lang"] == lang for r in rows])
                pr.append(_f(safe_auc(Y[m, 0], P[m, 0], "pr")) if m.any() else "n/a")
                f1.append(_f(indicator_metrics(Y[m, 1:], P[m, 1:], T)["micro_f1"]) if m.any() else "n/a")
            md.append(f"| {part} | {split} | {' / '.join(pr)} | {' / '.join(f1)} | "
                      f"{_f(indicator_metrics(Y[:, 1:], P[:, 1:], T)['micro_f1'])} |")
    return md


def _triage(model_dir: Path, contract: dict) -> list[str]:
    """Calibration and triage order on dev, test and gold: ECE, the share of risky ads at risk
    >= 0.99 (saturated: no order among them), and two plots written beside the card
    (`risk_priority.png`, `calibration.png`)."""
    import numpy as np
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records
    from nigehbaan.training.corpus.data import load_split
    from nigehbaan.training.evaluation.metrics import expected_calibration_error
    from nigehbaan.training.evaluation.plots import calibration_png, risk_priority_png

    model = load_model(model_dir)
    corpus = Path(contract["training"]["config"]["corpus_dir"])
    cal = contract.get("calibration", {})
    md = ["| split | ads | risky | ECE | risky ads at risk >= 0.99 | risky ads at priority >= 0.99 | median priority of risky ads |",
          "|---|---|---|---|---|---|---|"]
    hist, rel = {}, {}
    for split in ("dev", "test", "gold"):
        if not (corpus / f"{split}.jsonl").is_file():
            continue
        rows = load_split(corpus, split)
        scored = score_records([{"id": r["id"], "text": r["text"]} for r in rows], model)
        y = np.array([r["risk"] for r in rows])
        risk = np.array([s["risk"] for s in scored], dtype=float)
        prio = np.array([s["priority"] for s in scored], dtype=float)
        ece = expected_calibration_error(y, risk)
        hist[split], rel[split] = (y, risk, prio), (y, risk, ece)
        r = y == 1
        md.append(f"| {split} | {len(y)} | {int(r.sum())} | {ece:.3f} | {(risk[r] >= 0.99).mean():.1%} | "
                  f"{(prio[r] >= 0.99).mean():.1%} | {np.median(prio[r]):.3f} |")
    risk_priority_png(hist, model_dir / "risk_priority.png")
    calibration_png(rel, model_dir / "calibration.png")
    how = {
        "platt_knee": f"Platt-calibrated on dev (a={cal.get('a', 0):.3f}, b={cal.get('b', 0):.3f}), with "
                      f"the slope multiplied by {cal.get('top_slope', 1):.3f} above risk "
                      f"{1 / (1 + np.exp(-cal.get('knee', 0))):.2f} so that few "
                      "risky ads reach 0.99 (`calibration: platt_knee`, training/calibration.py)",
        "platt": "Platt-calibrated on dev (maximum likelihood; `calibration: platt`)",
    }.get(cal.get("method"), "not calibrated")
    return [
        f"The risk is {how}. The priority (`priority` in every scored row) is the risk weighed by the "
        "severity of the indicators judged present: `risk x (0.4 + 0.6 x max(severity x score))`, "
        "severities 1.0 for children, organ trade, sexual services, debt bondage and restricted "
        "freedom, 0.75 for document retention, irregular routes and marriage abroad, 0.5 for fees, "
        "no licence, unrealistic pay and narrow targeting, 0.3 for the rest (inference/priority.py; "
        "a contract's `severity` may override them). The review queue sorts by it.",
        "",
        *md,
        "",
        "![Risk and priority](risk_priority.png)",
        "![Calibration](calibration.png)",
    ]


def render(model_dir: Path, external: str = "auto", compare: Path | None = None) -> str:
    contract = json.loads((model_dir / "contract.json").read_text())
    gold = Path(contract["training"]["config"]["corpus_dir"]) / "gold.jsonl"
    ext = evaluate(str(model_dir), str(gold), external)["result"].get("external", {}) if gold.is_file() else {}
    t = contract["band_thresholds"]
    cfg = contract["training"]["config"]
    md = [
        f"# Model card: {contract['name']} {contract['version']}",
        "",
        "## What it is",
        "",
        f"Kind `{contract['kind']}`: one logistic regression per target (the ad-level risk and the 18 "
        "indicators of `../shared/spec/indicators.md`) on hashed character 2-5-grams and word 1-2-grams "
        "of the normalised text plus rule and entity features (lexicon hits with negation, pay in PKR per "
        "month, ages, places, phones, licence numbers)"
        + (", stacked per label with a head on multilingual-e5-small sentence embeddings" if contract["kind"] == "stack" else "")
        + f". Trained on {contract['training']['train_ads']:,} ads (corpus "
        f"{(contract['training'].get('corpus_manifest') or {}).get('version')}, augmentation "
        f"{'on' if cfg['use_augmented'] else 'off'}), C={cfg['C']}, class weights {cfg['class_weight']}. "
        "The risk is calibrated on the dev split (see Calibration and triage order). Contract: normaliser "
        f"`{contract['normalizer']}`, features `{contract['features']}`, lexicon `{contract['lexicon']['version']}` "
        f"(sha256 `{contract['lexicon']['sha256'][:16]}…`). Weights: safetensors files beside "
        "`contract.json`; nothing is pickled.",
        "",
        "## Intended use",
        "",
        "Triage of scraped job, recruitment and classified ads (Urdu, Roman Urdu, English, code-mixed) "
        "by investigators and analysts: the score orders a review queue, the indicators and evidence say "
        "why. Every flagged ad needs a human decision (`nigehbaan review`).",
        "",
        "## Misuse",
        "",
        "- Not a verdict: never act against a person, poster or phone number on the score alone.",
        "- Not for profiling job-seekers, migrants or women who post or answer ads.",
        "- Not validated on other countries' ads; non-ad text (warnings, news, chat) is recognised "
        "by the text-kind head where the model has one, see the context section and external checks.",
        "- Not an OEP-licence verifier: a licence number in an ad lowers risk but is not checked against BE&OE.",
        "",
        "## Bands",
        "",
        f"`high`: risk >= {t['high']} (the lowest dev threshold whose precision reaches "
        f"{cfg['high_precision']} when {cfg.get('deployment_prior', 0.15):.0%} of ads are risky); "
        f"`medium`: risk >= {t['medium']} (at most the threshold keeping {cfg['medium_recall']:.0%} of risky "
        "dev ads; equal to `high` when `high` alone keeps that many, leaving the medium band empty); "
        "`low` below. Indicator thresholds are in `contract.json`: "
        + ("one shared threshold for all indicators, the dev-micro-F1-best"
           if cfg.get("indicator_threshold") == "shared" else "each indicator's dev-F1-best")
        + ".",
        "",
        "## Data",
        "",
        "The authored corpus of `data/README.md`: ads written for this project, labelled with risk and "
        "indicators, split by near-duplicate family. Test is the held-out 10%; gold is a separately "
        "written set (440 ads, 110 per language class) used only for evaluation and model selection.",
        "",
        "## Metrics (test split and gold set)",
        "",
        *_split_table(contract["metrics"]),
        "",
        "## Indicators",
        "",
        *_indicator_table(contract["metrics"]),
        "",
        "## Calibration and triage order",
        "",
        *_triage(model_dir, contract),
        "",
        *([
            "## Evidence",
            "",
            "How many of the indicators a scored row shows carry evidence (words in the ad), and "
            "how well the evidence matches the gold spans (an evidence item is right when it "
            "overlaps a gold span of its indicator by one character or more; a gold span is found "
            "when an evidence item of its indicator overlaps it). "
            + ("Evidence comes from the lexicon and entity rules and, where no rule found words, "
               "from the span model (a token tagger on the encoder's last hidden states, trained "
               "on the corpus spans: its one best span)."
               if contract.get("spans") else "Evidence comes from the lexicon and entity rules only.")
            + (" An indicator without evidence is shown only above its higher ungrounded "
               "threshold, so `indicator micro-F1 as shown` (what a scored row lists) differs from "
               "the micro-F1 at the plain indicator thresholds in the tables above."
               if contract.get("ungrounded_thresholds") else ""),
            "",
            *_evidence_table(contract["metrics"]),
            "",
        ] if _evidence_table(contract["metrics"]) else []),
        *([
            "## Context: warnings, news and honest agencies (gold-context slice)",
            "",
            "A slice written apart from every training batch (`data/corpus/gold-context/`): scam "
            "warnings, news and other non-ads that quote trafficking words, legitimate travel "
            "agencies and licensed OEPs, and hard positives in euphemisms, one-liners and unusual "
            "registers. "
            + ("The risk is P(ad) from the text-kind head times the risk of an ad "
               "(`risk_gate: text_kind`). " if contract.get("risk_gate") == "text_kind" else "")
            + "For non-ads and legitimate ads every flag is a false alarm; for the risky cases "
            "`flagged high` is recall at high.",
            "",
            *_context_table(contract["metrics"]),
            "",
        ] if "gold_context" in contract["metrics"] else []),
        *([
            "## Before and after",
            "",
            "The previously shipped model and this one, scored now on the same gold set and "
            "gold-context slice.",
            "",
            *compare_models(model_dir, compare, Path(contract["training"]["config"]["corpus_dir"])),
            "",
        ] if compare else []),
        *([
            "## The stack's parts side by side",
            "",
            "Each part scored alone (logits before stacking; indicator thresholds re-chosen on dev by "
            "the same rule). The encoder head is multilingual-e5-small, frozen, with one logistic "
            f"regression per target; it runs in `{contract['encoder'].get('quantize') or 'float32'}` "
            "where the CPU supports it natively, float32 elsewhere, and an ad's embedding never "
            "depends on the other ads in its batch.",
            "",
            *_components(model_dir, contract),
            "",
        ] if contract["kind"] == "stack" else []),
        "## External checks (public data, never trained on)",
        "",
        "| check | figure |",
        "|---|---|",
        *[f"| {k} | {v.get('summary', v.get('skipped', ''))} |" for k, v in ext.items()],
        "",
        "## Limits",
        "",
        "- The corpus is authored, not scraped: real ads are noisier, longer-tailed and drift; expect "
        "lower figures in the field and recalibrate bands on reviewed decisions (`nigehbaan review export`).",
        "- English figures come from Pakistani-market ads; US/EU fraud postings (EMSCAD) are a different "
        "genre, as the external check shows.",
        "- Ordinary non-ad text (chat, news) is out of scope; the false-positive rates above say how it behaves.",
        "- Indicator labels of the bulk corpus are more liberal than the gold set's for `unrealistic_pay`, "
        "`vague_employer` and `unlicensed_overseas` even after the v2 label audit (see data/README.md), "
        "which costs indicator precision on gold. The audit was prompted by the v1 models' gold precision, "
        "so gold indicator figures are not a fully blind estimate.",
        "",
    ]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--external", default="auto")
    ap.add_argument("--compare", type=Path, default=None,
                    help="a previous model directory to show side by side (before and after)")
    args = ap.parse_args(argv)
    folder = Path(args.model)
    (folder / "MODEL_CARD.md").write_text(render(folder, args.external, args.compare), encoding="utf-8")
    print(f"wrote {folder / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
