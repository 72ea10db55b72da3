"""Build the versioned corpus from the authored raw files (data flows one way).

Raw, never edited by code: `data/corpus/authored/*.jsonl` (bulk ads, one file per writing
batch), `data/corpus/gold/*.jsonl` (the gold set) and `data/corpus/reviewed/*.jsonl`
(analysts' decisions from `nigehbaan review export`, which join the bulk ads and their
splits). `data/corpus/corrections/<batch>.jsonl` holds the label audit of the authored batches
(see its README); it is applied to the authored ads before anything else, so variants and
splits see the corrected labels. `build_corpus()` writes a new version folder
`data/corpus/v4/` with:
- `train.jsonl`, `dev.jsonl`, `test.jsonl`, `gold.jsonl`: validated records in the schema of
  `training.schema`, evidence strings turned into character-offset spans;
- `augmented/{train,dev,test}.jsonl`: the marked augmentation layer;
- `MANIFEST.json`: version, seed, counts and SHA-256 of every file.

Splits are by family: MinHash-LSH near-duplicates (Jaccard >= 0.7 on character 5-grams of
the normalised text) are joined into one family with their variants, and a family goes to one
split by a seeded hash, so no near-duplicate crosses splits.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

from datasketch import MinHash, MinHashLSH
from nigehbaan.inference.io import read_records
from nigehbaan.inference.normalize import normalize
from nigehbaan.training.corpus.augment import make_variant
from nigehbaan.training.corpus.schema import validate_record

CORPUS_VERSION = "v4"
# Evaluation slices written apart from every training batch, each its own split (never trained
# on): the folder under data/corpus/ -> the split name.
EVAL_SLICES = {"gold-context": "gold_context"}
NEAR_DUP_THRESHOLD = 0.7
SPLIT_SHARES = (("train", 0.8), ("dev", 0.1), ("test", 0.1))
AUGMENT_SHARE = 0.35
_NUM_PERM = 64


def _shingles(text: str, k: int = 5) -> set[str]:
    t = normalize(text).text
    return {t[i : i + k] for i in range(max(len(t) - k + 1, 1))}


def minhash(text: str) -> MinHash:
    m = MinHash(num_perm=_NUM_PERM, seed=1)
    m.update_batch([s.encode("utf-8") for s in _shingles(text)])
    return m


def _ad_id(text: str, prefix: str) -> str:
    return f"{prefix}-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def read_raw(folder: Path, source: str) -> list[dict]:
    """Raw authored records turned into schema records (spans from evidence strings)."""
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, raw in read_records(path):
            prefix = {"gold": "g", "review": "r"}.get(source, "a")
            rec = {
                "id": _ad_id(raw["text"], prefix),
                "text": raw["text"],
                "lang": raw["lang"],
                "platform": raw["platform"],
                "risk": int(raw["risk"]),
                "indicators": list(dict.fromkeys(raw.get("indicators", []))),
                "spans": raw["spans"] if "spans" in raw else _spans(raw),
                "source": source,
                "brief": raw.get("brief", ""),
                "batch": path.stem,
            }
            if source == "review":
                rec.update({k: raw[k] for k in ("reviewed_by", "reviewed_at", "decision") if k in raw})
            rec.update({k: raw[k] for k in ("text_kind", "case") if k in raw})
            rec["family"] = rec["id"]
            problems = validate_record(rec)
            if problems:
                raise ValueError(f"{path}:{n}: " + "; ".join(problems))
            out.append(rec)
    return out


def apply_corrections(records: list[dict], data_dir: Path) -> dict:
    """Apply `corrections/<batch>.jsonl` to the authored records in place; returns counts.

    A later audit round of the same batch goes in `corrections/<batch>.<round>.jsonl` (for
    example `en-A.rules-A.jsonl`); files apply in name order, each may correct an ad once, and
    an ad corrected by several rounds keeps all of their changes.

    A correction names an ad by id and line of its batch file (both are checked), indicators
    to remove and indicators to add with exact evidence strings; the ad keeps a
    `label_corrections` field saying what changed. Anything that does not fit raises.
    """
    folder = data_dir / "corrections"
    by_key = {(r["batch"], r["id"]): r for r in records}
    removed: Counter = Counter()
    added: Counter = Counter()
    changed: set = set()
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        batch = path.stem.split(".")[0]
        raw_file = data_dir / "authored" / f"{batch}.jsonl"
        if not raw_file.is_file():
            raise ValueError(f"{path}: corrects batch {batch!r}, but {raw_file} does not exist")
        raw_lines = {line: rec for line, rec in read_records(raw_file)}
        seen = set()
        for n, c in read_records(path):
            where = f"{path}:{n}"
            if "id" not in c:
                raise ValueError(f"{where}: expected a JSON object with an id, found keys {sorted(c)}")
            rec = by_key.get((batch, c["id"]))
            if rec is None or c["id"] in seen:
                raise ValueError(f"{where}: {c['id']} is not an ad of batch {batch} or is corrected twice "
                                 "in this file (put a later round in corrections/<batch>.<round>.jsonl)")
            line_no = c.get("line")
            if not isinstance(line_no, int) or line_no not in raw_lines or \
                    _ad_id(raw_lines[line_no]["text"], "a") != c["id"]:
                raise ValueError(f"{where}: line {line_no} of {batch}.jsonl is not ad {c['id']}")
            seen.add(c["id"])
            drop = list(c.get("remove", []))
            add = dict(c.get("add", {}))
            if any(i not in rec["indicators"] for i in drop) or any(i in rec["indicators"] for i in add):
                raise ValueError(f"{where}: removes an indicator the ad lacks or adds one it has")
            if not all(isinstance(v, list) and v and all(e and e in rec["text"] for e in v) for v in add.values()):
                raise ValueError(f"{where}: an added indicator needs evidence strings found in the text")
            rec["indicators"] = [i for i in rec["indicators"] if i not in drop] + list(add)
            rec["spans"] = [s for s in rec["spans"] if s["indicator"] not in drop]
            rec["spans"] = sorted(rec["spans"] + _spans({"text": rec["text"], "indicators": list(add),
                                                         "evidence": add}),
                                  key=lambda x: (x["start"], x["indicator"]))
            earlier = rec.get("label_corrections")
            if earlier is None:
                rec["label_corrections"] = {"removed": drop, "added": list(add), "reason": c.get("reason", "")}
            else:
                rec["label_corrections"] = {"removed": earlier["removed"] + drop,
                                            "added": earlier["added"] + list(add),
                                            "reason": "; ".join(x for x in (earlier["reason"], c.get("reason", "")) if x)}
            problems = validate_record(rec)
            if problems:
                raise ValueError(f"{where}: " + "; ".join(problems))
            removed.update(drop)
            added.update(list(add))
            changed.add((batch, c["id"]))
    return {"ads": len(changed), "removed": dict(sorted(removed.items())), "added": dict(sorted(added.items()))}


def _spans(raw: dict) -> list[dict]:
    text, spans = raw["text"], []
    for ind, strings in (raw.get("evidence") or {}).items():
        if ind not in raw.get("indicators", []):
            continue
        for s in strings:
            start = text.find(s) if s else -1
            if start >= 0:
                spans.append({"indicator": ind, "start": start, "end": start + len(s), "text": s})
    return sorted(spans, key=lambda x: (x["start"], x["indicator"]))


def dedupe_exact(records: list[dict]) -> tuple[list[dict], int]:
    """Drop exact duplicate texts (same id), keeping the first."""
    seen, out = set(), []
    for r in records:
        if r["id"] not in seen:
            seen.add(r["id"])
            out.append(r)
    return out, len(records) - len(out)


def assign_families(records: list[dict]) -> int:
    """Join near-duplicates into families in place; returns how many ads joined a family."""
    lsh = MinHashLSH(threshold=NEAR_DUP_THRESHOLD, num_perm=_NUM_PERM)
    parent = {r["id"]: r["id"] for r in records}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    joined = 0
    for r in records:
        m = minhash(r["text"])
        for other in lsh.query(m):
            a, b = find(r["id"]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
                joined += 1
        lsh.insert(r["id"], m)
    for r in records:
        r["family"] = find(r["id"])
    return joined


def split_of(family: str, seed: int) -> str:
    """The split of a family: a seeded hash, so a family always lands in the same split."""
    h = int(hashlib.sha256(f"{seed}:{family}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    acc = 0.0
    for name, share in SPLIT_SHARES:
        acc += share
        if h < acc:
            return name
    return SPLIT_SHARES[-1][0]


def build_corpus(data_dir: str | Path = "data/corpus", seed: int = 13) -> dict:
    """Build data/corpus/<version>/ from the raw files; returns the manifest."""
    data_dir = Path(data_dir)
    out_dir = data_dir / CORPUS_VERSION
    authored = read_raw(data_dir / "authored", "authored")
    corrections = apply_corrections(authored, data_dir)
    reviewed = read_raw(data_dir / "reviewed", "review") if (data_dir / "reviewed").is_dir() else []
    bulk, bulk_dups = dedupe_exact(authored + reviewed)
    gold, gold_dups = dedupe_exact(read_raw(data_dir / "gold", "gold"))
    slices = {
        split: dedupe_exact(read_raw(data_dir / folder, "gold"))[0]
        for folder, split in EVAL_SLICES.items() if (data_dir / folder).is_dir()
    }
    # Gold ads that nearly duplicate a bulk ad would leak: families span both, and such gold
    # ads are dropped from the gold set (and from every evaluation slice).
    everything = bulk + gold + [r for rows in slices.values() for r in rows]
    joined = assign_families(everything)
    bulk_families = {r["family"] for r in bulk}
    gold_kept = [r for r in gold if r["family"] not in bulk_families]
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": [], "gold": []}
    for r in bulk:
        r["split"] = split_of(r["family"], seed)
        splits[r["split"]].append(r)
    for r in gold_kept:
        r["split"] = "gold"
        splits["gold"].append(r)
    dropped_from_slices = {}
    for split, rows in slices.items():
        kept = [r for r in rows if r["family"] not in bulk_families]
        dropped_from_slices[split] = len(rows) - len(kept)
        for r in kept:
            r["split"] = split
        splits[split] = kept
    rng = random.Random(seed)
    augmented: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for r in bulk:
        if rng.random() < AUGMENT_SHARE:
            v = make_variant(r, rng)
            if v is not None:
                augmented[r["split"]].append(v)
    files = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "augmented").mkdir(exist_ok=True)
    for name, rows in splits.items():
        files[f"{name}.jsonl"] = _write(out_dir / f"{name}.jsonl", rows)
    for name, rows in augmented.items():
        files[f"augmented/{name}.jsonl"] = _write(out_dir / "augmented" / f"{name}.jsonl", rows)
    manifest = {
        "version": CORPUS_VERSION,
        "seed": seed,
        "near_duplicate_threshold": NEAR_DUP_THRESHOLD,
        "exact_duplicates_dropped": {"authored": bulk_dups, "gold": gold_dups},
        "near_duplicate_joins": joined,
        "gold_dropped_as_near_duplicates_of_bulk": len(gold) - len(gold_kept),
        "slices_dropped_as_near_duplicates_of_bulk": dropped_from_slices,
        "label_corrections": corrections,
        "files": files,
    }
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _write(path: Path, rows: list[dict]) -> dict:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_text(body, encoding="utf-8")
    return {"rows": len(rows), "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()}


def verify_manifest(corpus_dir: str | Path) -> list[str]:
    """Files whose checksum or row count no longer match MANIFEST.json."""
    corpus_dir = Path(corpus_dir)
    manifest = json.loads((corpus_dir / "MANIFEST.json").read_text())
    bad = []
    for name, meta in manifest["files"].items():
        body = (corpus_dir / name).read_bytes()
        if hashlib.sha256(body).hexdigest() != meta["sha256"]:
            bad.append(f"{name}: sha256 differs from MANIFEST.json")
    return bad
