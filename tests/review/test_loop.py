"""Closing the loop: score -> review import -> decisions -> export -> corpus build -> train."""

import json
import shutil

import pytest
from nigehbaan.review.auth import User, add_user
from nigehbaan.review.db import connect
from nigehbaan.review.decisions import decide

from nigehbaan.cli import main
from tests.conftest import ROOT, read_jsonl
from tests.review.conftest import PASSWORD


@pytest.mark.slow
def test_reviewed_decisions_become_training_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scored, db = tmp_path / "scored.jsonl", tmp_path / "review.db"
    sample = str(ROOT / "data" / "samples" / "ads.jsonl")
    assert main(["score", sample, "-o", str(scored), "--model", str(ROOT / "models" / "rules"),
                 "--no-progress"]) == 0
    assert main(["review", "import", str(scored), "--db", str(db)]) == 0
    conn = connect(db)
    add_user(conn, "ayesha", "analyst", PASSWORD)
    user_id = conn.execute("SELECT id FROM users WHERE name='ayesha'").fetchone()[0]
    rows = read_jsonl(scored)
    decided = rows[:12]
    for i, r in enumerate(decided):
        decide(conn, User(user_id, "ayesha", "analyst"), r["id"], "confirm" if i % 2 else "dismiss", 1)
    conn.close()
    export = tmp_path / "reviewed.jsonl"
    assert main(["review", "export", str(export), "--db", str(db)]) == 0
    exported = read_jsonl(export)
    assert len(exported) == 12 and {e["risk"] for e in exported} == {0, 1}

    data = tmp_path / "corpus"
    for sub in ("authored", "gold", "corrections"):
        shutil.copytree(ROOT / "data" / "corpus" / sub, data / sub)
    (data / "reviewed").mkdir()
    shutil.copy(export, data / "reviewed" / "2026-11-reviewed.jsonl")
    assert main(["corpus", "build", "--data-dir", str(data)]) == 0
    built = [json.loads(line) for s in ("train", "dev", "test")
             for line in (data / "v4" / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
    reviewed = [r for r in built if r["source"] == "review"]
    assert len(reviewed) == 12 and all(r["reviewed_by"] == "ayesha" for r in reviewed)

    out = tmp_path / "model"
    assert main(["train", "--config", str(ROOT / "configs" / "ci.yaml"), f"corpus_dir={data / 'v4'}",
                 f"output_dir={out}", "mlflow=false"]) == 0
    assert (out / "contract.json").is_file()
