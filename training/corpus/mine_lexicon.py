"""Grow the lexicon from the evidence that annotators marked in the training split.

For every indicator, the normalised evidence strings of train-split ads are candidate phrases.
A candidate is kept when it is 1 to 6 tokens long without digits (amounts are entities, not
cues), was marked in at least `min_ads` distinct
ads, and is precise on the whole training split: of the train ads whose normalised text
contains it, at least `min_precision` carry the indicator. Kept phrases go into the `mined`
list of the lexicon of the language they were seen in (code-mixed ads count for every
built-in language pack whose script they use), beside the hand-written `phrases`. Dev, test and
gold are never read, so the lexicon cannot leak their labels.

    python -m nigehbaan.training.corpus.mine_lexicon            # rewrites inference/lang/*/lexicon.json

The lexicons are part of the language packs' fingerprints: models trained before a re-mine
refuse to load until they are retrained (and their contracts carry the new hashes).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.normalize import normalize
from nigehbaan.training.corpus.data import load_split

LANG_DIR = Path(__file__).resolve().parents[2] / "inference" / "lang"


def lexicon_path(code: str, folder: Path = LANG_DIR) -> Path:
    """The lexicon file of a built-in pack (`ur-Latn` lives in the folder `ur_Latn`)."""
    return folder / code.replace("-", "_") / "lexicon.json"
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def _files_for(lang: str, phrase: str) -> list[str]:
    if _ARABIC.search(phrase):
        return ["ur"]
    return {"en": ["en"], "ur-Latn": ["ur-Latn"]}.get(lang, ["en", "ur-Latn"])


def mine(corpus: str | Path, min_ads: int = 2, min_precision: float = 0.6) -> dict[str, dict[str, list[str]]]:
    """{lexicon file: {indicator: [phrases]}} mined from the training split's evidence."""
    rows = load_split(corpus, "train")
    texts = [f" {normalize(r['text']).text} " for r in rows]
    seen_in: dict[tuple[str, str], set[int]] = defaultdict(set)
    langs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for i, r in enumerate(rows):
        for span in r.get("spans") or []:
            phrase = normalize(span["text"]).text
            n_tok = len(phrase.split())
            if not phrase or n_tok > 6 or any(c.isdigit() for c in phrase) or len(phrase) < 3:
                continue
            seen_in[(span["indicator"], phrase)].add(i)
            langs[(span["indicator"], phrase)].add(r["lang"])
    out: dict[str, dict[str, list[str]]] = {f: {ind: [] for ind in INDICATORS} for f in ("en", "ur", "ur-Latn")}
    for (ind, phrase), ads in seen_in.items():
        if len(ads) < min_ads:
            continue
        needle = f" {phrase} "
        containing = [i for i, t in enumerate(texts) if needle in t]
        if not containing:
            continue
        precision = sum(ind in rows[i]["indicators"] for i in containing) / len(containing)
        if precision < min_precision:
            continue
        for lang in langs[(ind, phrase)]:
            for f in _files_for(lang, phrase):
                if phrase not in out[f][ind]:
                    out[f][ind].append(phrase)
    for f in out:
        for ind in out[f]:
            out[f][ind].sort()
    return out


def write_mined(mined: dict[str, dict[str, list[str]]], folder: Path = LANG_DIR) -> dict[str, int]:
    """Write each language's mined phrases into its pack's lexicon; counts per language."""
    counts = {}
    for f, table in mined.items():
        path = lexicon_path(f, folder)
        data = json.loads(path.read_text(encoding="utf-8"))
        for ind, phrases in table.items():
            data["indicators"][ind]["mined"] = phrases
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        counts[f] = sum(len(v) for v in table.values())
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="data/corpus/v4")
    ap.add_argument("--min-ads", type=int, default=2)
    ap.add_argument("--min-precision", type=float, default=0.6)
    args = ap.parse_args(argv)
    counts = write_mined(mine(args.corpus, args.min_ads, args.min_precision))
    print("mined phrases per language pack:", counts)


if __name__ == "__main__":
    main()
