"""Load corpus files as `datasets.DatasetDict` (and as plain records for the small paths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io import read_records
from nigehbaan.inference.labels import INDICATORS, TEXT_KINDS
from nigehbaan.training.corpus.schema import validate_record


def read_jsonl(path: str | Path, validate: bool = True) -> list[dict]:
    """Records of a corpus-schema JSONL file (or .jsonl.gz/.zst); a line that is not a JSON object
    or breaks the schema is a usage error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"data file {path} does not exist")
    rows = []
    for n, rec in read_records(path):
        if validate:
            problems = validate_record(rec)
            if problems:
                raise UsageError(
                    f"{path}:{n}: not in the corpus schema: {'; '.join(problems)}. "
                    "Fix: see training/corpus/schema.py for the fields."
                )
        rows.append(rec)
    return rows


def targets(rows: list[dict]) -> np.ndarray:
    """(n, 19) labels: risk, then one column per indicator (the model's output order, TARGETS).

    Here, beside the loaders, so that train, stack, finetune and model_card all import it
    from below them instead of from each other."""
    return np.array(
        [[r["risk"], *(int(i in r["indicators"]) for i in INDICATORS)] for r in rows], dtype=np.int8
    ).reshape(-1, 1 + len(INDICATORS))


# Briefs of the ordinary-text batch that are ads of their own kind (a job post, a classified,
# a promotion); its other briefs (chats, forwards, notices) are "other", its news is "news".
_ORDINARY_ADS = ("-ad", "-classified", "-job-post", "-promo", "job-notice", "admission-notice")


def text_kind_of(row: dict) -> str:
    """A corpus row's text kind (labels.TEXT_KINDS): its own `text_kind` label when it has one
    (the context batches and gold slice do), else read off its brief: news briefs are news
    (`ordinary/news-*`, `ur-longnews/*`), the ordinary batch's chats, forwards and notices are
    other, and everything else (every authored or gold ad) is an ad."""
    kind = row.get("text_kind")
    if kind is not None:
        if kind not in TEXT_KINDS:
            raise UsageError(f"text_kind {kind!r} of {row.get('id')}: expected one of {TEXT_KINDS}")
        return kind
    brief = str(row.get("brief") or "")
    if "news" in brief.split("/")[0] or brief.startswith("ordinary/news"):
        return "news"
    if brief.startswith("ordinary/"):
        return "ad" if brief.endswith(_ORDINARY_ADS) else "other"
    return "ad"


def load_split(corpus_dir: str | Path, split: str, augmented: bool = False) -> list[dict]:
    """One split's records; with `augmented`, its augmentation layer appended."""
    corpus_dir = Path(corpus_dir)
    rows = read_jsonl(corpus_dir / f"{split}.jsonl")
    aug = corpus_dir / "augmented" / f"{split}.jsonl"
    if augmented and aug.is_file():
        rows += read_jsonl(aug)
    return rows


def load_corpus(corpus_dir: str | Path = "data/corpus/v4", augmented: bool = True):
    """The corpus as a `datasets.DatasetDict` with train (plus its augmentation), dev, test, gold."""
    from datasets import Dataset, DatasetDict

    splits = {}
    for name in ("train", "dev", "test", "gold", "gold_context"):
        if (Path(corpus_dir) / f"{name}.jsonl").is_file():
            rows = load_split(corpus_dir, name, augmented=augmented and name == "train")
            for r in rows:  # one column type for every row: Arrow needs it
                r.setdefault("spans", [])
                r.setdefault("split", name)
            keep = ("id", "text", "lang", "platform", "risk", "indicators", "spans", "source", "family", "split")
            splits[name] = Dataset.from_list([{k: r.get(k) for k in keep} for r in rows])
    return DatasetDict(splits)
