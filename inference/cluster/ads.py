"""What clustering needs from each ad: its normalised text, language, shingles and contacts.

Scored input (the output of `nigehbaan score`) already carries `entities` and `lang`: they are
used as they are, so the phone matcher, the slowest step, does not run again. Raw input gets
them here from `entities.contacts`, the scorer's own extraction (only the contact entities:
phones, WhatsApp, e-mails, URLs, handles, OEP licences; money and places are not needed for
linking).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np
from nigehbaan.inference.cluster.contacts import contact_keys
from nigehbaan.inference.cluster.near_dup import ad_shingles
from nigehbaan.inference.scorer import MAX_ANALYSED_CHARS

# Below this many ads the worker processes cost more than they save.
_PARALLEL_MIN = 4000
_CHUNK = 1000


class AdFeatures(NamedTuple):
    norm_text: str
    lang: str
    shingles: np.ndarray
    contacts: list[str]


def _entities_of(record: dict):
    e = record.get("entities")
    if isinstance(e, str):  # a CSV/Parquet cell
        try:
            e = json.loads(e)
        except json.JSONDecodeError:
            return None
    return e if isinstance(e, dict) else None


def features(record: dict, shingle_size: int = 3) -> AdFeatures:
    """Features of one readable ad (its `text` is a non-empty string)."""
    from nigehbaan.inference.entities import contacts
    from nigehbaan.inference.langid import identify
    from nigehbaan.inference.normalize import normalize

    norm = normalize(record["text"][:MAX_ANALYSED_CHARS])
    ents = _entities_of(record)
    if ents is None:
        ents = contacts(norm)
    lang = record.get("lang")
    if not isinstance(lang, str) or not lang:
        lang = identify(norm.text)
    return AdFeatures(norm.text, lang, ad_shingles(norm.text, shingle_size), contact_keys(ents))


def _features_chunk(args) -> list[AdFeatures]:
    records, size = args
    return [features(r, size) for r in records]


def features_all(records: list[dict], shingle_size: int = 3, workers: int | None = None) -> list[AdFeatures]:
    """`features` of every record, in order; in `workers` processes for large inputs."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(records) < _PARALLEL_MIN:
        return [features(r, shingle_size) for r in records]
    chunks = [(records[i : i + _CHUNK], shingle_size) for i in range(0, len(records), _CHUNK)]
    out: list[AdFeatures] = []
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_features_chunk, chunks):
            out.extend(part)
    return out
