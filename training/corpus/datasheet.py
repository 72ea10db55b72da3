"""Tables for the datasheet (data/README.md), computed from the built corpus, never typed.

`update_datasheet()` rewrites the part of data/README.md between the GENERATED markers:
composition (language x label, indicator x language, platforms, each writing batch by language,
label and text kind, the rule batches by target indicator, the audit rounds' corrections),
length and emoji by label,
diversity (distinct n-grams, near-duplicate rate by MinHash), and two baselines on the test
split and the gold set: a trivial one (length, emoji count, digit count only) and a keyword
one (risk = any non-negated lexicon hit).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
from nigehbaan.inference.io import read_records
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.scorer import analyze
from nigehbaan.training.corpus.build import NEAR_DUP_THRESHOLD
from nigehbaan.training.corpus.data import load_split, text_kind_of
from nigehbaan.training.evaluation.metrics import safe_auc
from sklearn.linear_model import LogisticRegression

BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
_EMOJI_RE = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\U0001f1e6-\U0001f1ff]")
LANG_ORDER = ("en", "ur", "ur-Latn", "mixed")


def trivial_features(rows: list[dict]) -> np.ndarray:
    return np.array(
        [[np.log1p(len(r["text"])), len(_EMOJI_RE.findall(r["text"])), sum(c.isdigit() for c in r["text"])]
         for r in rows], dtype=float)


def baselines(corpus: Path) -> dict:
    train = load_split(corpus, "train")
    out = {}
    clf = LogisticRegression(max_iter=1000).fit(trivial_features(train), [r["risk"] for r in train])
    for split in ("test", "gold"):
        rows = load_split(corpus, split) if (corpus / f"{split}.jsonl").is_file() else []
        if not rows:
            continue
        y = np.array([r["risk"] for r in rows])
        p_triv = clf.predict_proba(trivial_features(rows))[:, 1]
        kw = np.array([float(any(not h.negated for h in a.hits)) for a in analyze([r["text"] for r in rows])])
        out[split] = {"n": len(rows), "trivial_roc_auc": safe_auc(y, p_triv),
                      "keyword_roc_auc": safe_auc(y, kw), "keyword_pr_auc": safe_auc(y, kw, "pr"),
                      "keyword_flag_rate": float(kw.mean())}
    return out


def _distinct(texts: list[str], n: int) -> float:
    grams, total = set(), 0
    for t in texts:
        toks = normalize(t).text.split()
        g = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        grams.update(g)
        total += len(g)
    return len(grams) / total if total else 0.0


def tables(corpus: str | Path = "data/corpus/v4") -> str:
    corpus = Path(corpus)
    splits = {s: load_split(corpus, s) for s in ("train", "dev", "test", "gold")}
    bulk = splits["train"] + splits["dev"] + splits["test"]
    aug = sum(len(load_split(corpus, s, augmented=True)) - len(splits[s]) for s in ("train", "dev", "test"))
    md = ["### Size and splits", "", "| split | ads | risky | risky share |", "|---|---|---|---|"]
    for name, rows in splits.items():
        k = sum(r["risk"] for r in rows)
        md.append(f"| {name} | {len(rows)} | {k} | {k / max(len(rows), 1):.1%} |")
    md.append(f"| augmented layer (train/dev/test) | {aug} | | |")
    for title, rows in (("bulk corpus (train+dev+test)", bulk), ("gold set", splits["gold"])):
        md += ["", f"### Language x label: {title}", "", "| lang | risk 0 | risk 1 | total |", "|---|---|---|---|"]
        for lang in LANG_ORDER:
            sub = [r for r in rows if r["lang"] == lang]
            k = sum(r["risk"] for r in sub)
            md.append(f"| {lang} | {len(sub) - k} | {k} | {len(sub)} |")
        md += ["", f"### Indicator x language (ads carrying it; risk 1 / risk 0): {title}", "",
               "| indicator | " + " | ".join(LANG_ORDER) + " | all |", "|---|" + "---|" * (len(LANG_ORDER) + 1)]
        for ind in INDICATORS:
            cells = []
            for lang in (*LANG_ORDER, None):
                sub = [r for r in rows if (lang is None or r["lang"] == lang) and ind in r["indicators"]]
                k = sum(r["risk"] for r in sub)
                cells.append(f"{k} / {len(sub) - k}")
            md.append(f"| {ind} | " + " | ".join(cells) + " |")
    md += batch_tables(bulk)
    md += audit_table(corpus.parent / "corrections")
    md += agreement_table(corpus.parent / "agreement")
    plat = Counter(r["platform"] for r in bulk)
    md += ["", "### Platforms (bulk)", "", "| platform | ads |", "|---|---|"]
    md += [f"| {p} | {n} |" for p, n in plat.most_common()]
    md += ["", "### Length and emoji by label (bulk)", "",
           "| label | mean chars | median chars | share with emoji |", "|---|---|---|---|"]
    for label in (0, 1):
        sub = [r["text"] for r in bulk if r["risk"] == label]
        lens = [len(t) for t in sub]
        emo = np.mean([bool(_EMOJI_RE.search(t)) for t in sub])
        md.append(f"| risk {label} | {np.mean(lens):.0f} | {np.median(lens):.0f} | {emo:.1%} |")
    fam = Counter(r["family"] for r in bulk + splits["gold"])
    in_multi = sum(n for n in fam.values() if n > 1)
    md += ["", "### Diversity", "", "| lang | ads | distinct-1 | distinct-2 | distinct-3 |", "|---|---|---|---|---|"]
    for lang in LANG_ORDER:
        texts = [r["text"] for r in bulk if r["lang"] == lang]
        md.append(f"| {lang} | {len(texts)} | {_distinct(texts, 1):.3f} | {_distinct(texts, 2):.3f} | "
                  f"{_distinct(texts, 3):.3f} |")
    md += ["", f"Near-duplicates (MinHash, Jaccard >= {NEAR_DUP_THRESHOLD} on character 5-grams): "
           f"{in_multi} of {len(bulk) + len(splits['gold'])} authored ads ({in_multi / max(len(bulk) + len(splits['gold']), 1):.2%}) "
           f"share a family with another ad; families never cross splits."]
    base = baselines(corpus)
    md += ["", "### Baselines", "", "| data | trivial ROC-AUC (length, emoji, digits) | keyword ROC-AUC | keyword PR-AUC | keyword flags |",
           "|---|---|---|---|---|"]
    for split, v in base.items():
        md.append(f"| {split} ({v['n']}) | {v['trivial_roc_auc']:.3f} | {v['keyword_roc_auc']:.3f} | "
                  f"{v['keyword_pr_auc']:.3f} | {v['keyword_flag_rate']:.1%} |")
    return "\n".join(md) + "\n"


def batch_tables(bulk: list[dict]) -> list[str]:
    """Each writing batch by language, label and text kind; the rule batches (briefs
    `rules/<indicator>/<positive|hard-negative>`) by target indicator, language and polarity."""
    kinds = ("ad", "warning", "news", "other")
    md = ["", "### Writing batches (bulk, after exact-duplicate removal)", "",
          "| batch | ads | " + " | ".join(LANG_ORDER) + " | risk 0 | risk 1 | " + " | ".join(kinds) + " |",
          "|---|" + "---|" * (len(LANG_ORDER) + 3 + len(kinds))]
    by_batch: dict[str, list[dict]] = {}
    for r in bulk:
        by_batch.setdefault(str(r.get("batch") or r.get("source")), []).append(r)
    for batch in sorted(by_batch):
        rows = by_batch[batch]
        lang = Counter(r["lang"] for r in rows)
        kind = Counter(text_kind_of(r) for r in rows)
        k = sum(r["risk"] for r in rows)
        md.append(f"| {batch} | {len(rows)} | " + " | ".join(str(lang[x]) for x in LANG_ORDER)
                  + f" | {len(rows) - k} | {k} | " + " | ".join(str(kind[x]) for x in kinds) + " |")
    rule_rows = [r for r in bulk if str(r.get("brief") or "").startswith("rules/")]
    if rule_rows:
        md += ["", "### Rule batches: target indicator x language (positive / hard negative)", "",
               "| indicator | " + " | ".join(LANG_ORDER) + " | all | hard negatives at risk 1 |",
               "|---|" + "---|" * (len(LANG_ORDER) + 2)]
        targets = sorted({str(r["brief"]).split("/")[1] for r in rule_rows})
        for ind in targets:
            cells = []
            for lang in (*LANG_ORDER, None):
                sub = [r for r in rule_rows if str(r["brief"]).split("/")[1] == ind
                       and (lang is None or r["lang"] == lang)]
                pos = sum(str(r["brief"]).endswith("/positive") for r in sub)
                cells.append(f"{pos} / {len(sub) - pos}")
            neg1 = sum(1 for r in rule_rows if str(r["brief"]).split("/")[1] == ind
                       and not str(r["brief"]).endswith("/positive") and r["risk"] == 1)
            md.append(f"| {ind} | " + " | ".join(cells) + f" | {neg1} |")
    return md


def audit_table(folder: Path) -> list[str]:
    """Indicator labels removed and added by each audit round (`corrections/<batch>[.<round>].jsonl`)."""
    rounds: dict[str, list[Counter]] = {}
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        name = path.stem.split(".", 1)[1] if "." in path.stem else "v2 audit"
        removed, added = rounds.setdefault(name, [Counter(), Counter()])
        for _, c in read_records(path):
            removed.update(c.get("remove", []))
            added.update(list(c.get("add", {})))
    if not rounds:
        return []
    md = ["", "### Label audit rounds (indicator labels removed / added)", "",
          "| indicator | " + " | ".join(rounds) + " |", "|---|" + "---|" * len(rounds)]
    for ind in INDICATORS:
        cells = [f"{rm[ind]} / {ad[ind]}" for rm, ad in rounds.values()]
        if any(c != "0 / 0" for c in cells):
            md.append(f"| {ind} | " + " | ".join(cells) + " |")
    return md


def agreement_table(folder: Path) -> list[str]:
    """Cohen's kappa between the corpus labels and a blind second annotator, per indicator and
    round (`agreement/round-*.jsonl`: id, first, second)."""
    from sklearn.metrics import cohen_kappa_score

    rounds = {p.stem: [r for _, r in read_records(p)]
              for p in sorted(folder.glob("round-*.jsonl"))} if folder.is_dir() else {}
    if not rounds:
        return []
    inds = [i for i in INDICATORS if any(i in r["first"] or i in r["second"] for v in rounds.values() for r in v)]
    md = ["", "### Label agreement: corpus labels vs a blind second annotator (Cohen's kappa; ads carrying it first / second)",
          "", "| indicator | " + " | ".join(f"{k} ({len(v)} ads)" for k, v in rounds.items()) + " |",
          "|---|" + "---|" * len(rounds)]
    for ind in inds:
        cells = []
        for rows in rounds.values():
            a = [ind in r["first"] for r in rows]
            b = [ind in r["second"] for r in rows]
            cells.append(f"{cohen_kappa_score(a, b):.2f} ({sum(a)} / {sum(b)})")
        md.append(f"| {ind} | " + " | ".join(cells) + " |")
    return md


def update_datasheet(readme: str | Path = "data/README.md", corpus: str | Path = "data/corpus/v4") -> None:
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + BEGIN + "\n" + tables(corpus) + END + tail, encoding="utf-8")
