"""The score caches (inference/scorecache.py): a re-post is looked up, and its row is exactly
the row a fresh score gives, with its own id and pass-through fields; resume keeps working."""

from __future__ import annotations

import json

import pytest
from nigehbaan.inference import scorecache
from nigehbaan.inference.batch import score_file

from tests.conftest import ROOT, read_jsonl, write_jsonl

FAST = str(ROOT / "models" / "fast")
SAMPLE = ROOT / "data" / "samples" / "ads.jsonl"


def _reposts() -> list[dict]:
    """The sample ads, each re-posted: exact copies with other ids and fields, copies that
    differ only in what normalisation folds away (zero-width space, Urdu digits, case)."""
    base = read_jsonl(SAMPLE)[:30]
    rows = []
    for i, ad in enumerate(base):
        rows.append(ad)
        rows.append({"id": f"copy-{i}", "text": ad["text"], "platform": "whatsapp", "lang": "en"})
        rows.append({"text": ad["text"]})  # no id: the derived one
        rows.append({"id": f"zw-{i}", "text": "\u200b" + ad["text"].upper()})
    rows += [{"id": f"late-{i}", "text": base[i]["text"]} for i in range(5)]
    rows.append({"id": "bad", "text": ""})
    rows.append({"id": "bad2", "text": ""})
    return rows


def _score(src, out, monkeypatch, cache: bool, **kw):
    monkeypatch.setenv("NIGEHBAAN_SCORE_CACHE", "1" if cache else "0")
    scorecache._NORM.clear()
    return score_file(str(src), str(out), model_dir=FAST, progress=False, **kw)


@pytest.mark.parametrize("workers", [1, 2])
def test_cached_rows_equal_fresh_rows(tmp_path, monkeypatch, workers):
    src = write_jsonl(tmp_path / "a.jsonl", _reposts())
    plain, cached = tmp_path / "plain.jsonl", tmp_path / "cached.jsonl"
    s0 = _score(src, plain, monkeypatch, cache=False, workers=workers, batch_size=16)
    s1 = _score(src, cached, monkeypatch, cache=True, workers=workers, batch_size=16)
    assert plain.read_bytes() == cached.read_bytes()
    assert s0.cache_hits == 0 and s0.norm_hits == 0
    # every exact copy in a later batch is looked up; the folded copies skip the model
    assert s1.cache_hits >= 40 and s1.norm_hits >= 1
    assert "hit rate" in s1.format()
    rows = read_jsonl(cached)
    assert rows[1]["id"] == "copy-0" and rows[1]["platform"] == "whatsapp"
    assert rows[1]["input_lang"] == "en"


def test_resume_with_cache_has_no_gaps_or_duplicates(tmp_path, monkeypatch):
    src = write_jsonl(tmp_path / "a.jsonl", _reposts())
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    _score(src, full, monkeypatch, cache=False, batch_size=16, workers=1)
    # a run killed after 64 rows, half a row written after its checkpoint
    lines = full.read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[:64])
    part.write_bytes(kept + lines[64][:20])
    (tmp_path / "part.jsonl.ckpt.json").write_text(json.dumps({"rows": 64, "bytes": len(kept)}))
    s = _score(src, part, monkeypatch, cache=True, resume=True, batch_size=16, workers=1)
    assert s.skipped == 64
    assert part.read_bytes() == full.read_bytes()
    assert s.cache_hits > 0  # re-posts of ads written before the kill, found in the output


def test_the_cache_is_bounded():
    cache = scorecache.LRU(2)
    for k in "abc":
        cache.store(k, k)
    assert len(cache) == 2 and cache.lookup("a") is None and cache.lookup("c") == "c"
    import numpy as np

    sized = scorecache.LRU(100, max_bytes=1000)
    for k in range(10):
        sized.store(k, (np.zeros(50),))  # 400 bytes + 100 each
    assert len(sized) == 2 and sized.bytes <= 1000
