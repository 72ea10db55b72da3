"""End to end through the command line: train on the tiny config, evaluate, score."""

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from nigehbaan.cli import main
from tests.conftest import ROOT, read_jsonl
from tests.test_cli_score import check_interface


@pytest.mark.slow
def test_train_ci_config_then_evaluate_then_score(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # MLflow artifacts and runs/ land in tmp, not the repo
    out = tmp_path / "model"
    cfg = str(ROOT / "configs" / "ci.yaml")
    corpus = str(ROOT / "data" / "corpus" / "v4")
    assert main(["train", "--config", cfg, f"output_dir={out}", f"corpus_dir={corpus}"]) == 0
    contract = json.loads((out / "contract.json").read_text())
    assert contract["training"]["train_ads"] == 300
    assert contract["metrics"]["dev"]["overall"]["pr_auc"] > 0.7

    report = tmp_path / "report"
    gold = str(ROOT / "data" / "corpus" / "v4" / "gold.jsonl")
    assert main(["evaluate", "--model", str(out), "--data", gold, "--report", str(report), "--external", "none"]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["metrics"]["per_language"]) == {"en", "ur", "ur-Latn", "mixed"}
    assert (report / "pr_curves.png").stat().st_size > 1000
    assert "Per indicator" in (report / "report.md").read_text()

    scored = tmp_path / "scored.jsonl"
    sample = str(ROOT / "data" / "samples" / "ads.jsonl")
    assert main(["score", sample, "-o", str(scored), "--model", str(out), "--no-progress"]) == 0
    rows = read_jsonl(scored)
    assert len(rows) == 64 and all(r["model"]["name"] == "nigehbaan-ci" for r in rows)
    for r in rows:
        check_interface(r)
    # ungrounded_gate (on by default): an indicator shown with no evidence cleared its higher,
    # dev-chosen threshold.
    ungrounded = contract["ungrounded_thresholds"]
    assert set(ungrounded) == set(contract["indicator_thresholds"])
    assert all(ungrounded[k] >= contract["indicator_thresholds"][k] for k in ungrounded)
    for r in rows:
        for ind in r["indicators"]:
            assert ind["grounded"] == bool(ind["evidence"])
            assert ind["grounded"] or ind["score"] >= ungrounded[ind["id"]], (r["id"], ind)

    # The run is tracked and the registered pyfunc scores through the same code.
    mlflow.set_tracking_uri(uri)
    pyfunc = mlflow.pyfunc.load_model("models:/nigehbaan-ci/latest")
    ads = pd.DataFrame({
        "text": ["Visa free! fees pehle jama karwayen, passport jama", "ordinary ad"],
        "id": ["a1", None], "platform": ["fb", "olx"],
    })
    frame = pyfunc.predict(ads)
    assert 0 <= frame["risk"][0] <= 1
    # Every field the command line writes, the input's own columns included, in order.
    assert list(frame["text"]) == list(ads["text"]) and list(frame["platform"]) == ["fb", "olx"]
    assert frame["id"][0] == "a1" and frame["id"][1].startswith("ad-")
    assert json.loads(frame["model"][0])["name"] == "nigehbaan-ci"
    assert json.loads(frame["warnings"][0]) == [] and frame["error"][0] is None
    assert isinstance(json.loads(frame["indicators"][0]), list)
    # The logged model carries its code and installable requirements, not a bare "nigehbaan".
    local = mlflow.artifacts.download_artifacts("models:/nigehbaan-ci/latest")
    reqs = (Path(local) / "requirements.txt").read_text().split()
    assert "nigehbaan" not in reqs and any(r.startswith("scikit-learn==") for r in reqs)
    assert (Path(local) / "code" / "nigehbaan" / "inference" / "scorer.py").is_file()
    probe = (
        "import sys, mlflow; m = mlflow.pyfunc.load_model(sys.argv[1]); import pandas as pd; "
        "f = m.predict(pd.DataFrame({'text': ['free visa']})); "
        "print(sys.modules['nigehbaan.inference.scorer'].__file__, f['risk'][0])"
    )
    out = subprocess.run([sys.executable, "-c", probe, local], capture_output=True, text=True,
                         cwd=tmp_path, check=True).stdout.split()
    assert out[0].startswith(str(Path(local).resolve() / "code")) and 0 <= float(out[1]) <= 1
    run = mlflow.search_runs(experiment_names=["nigehbaan"]).iloc[0]
    assert run["params.max_train_samples"] == "300"
    assert run["metrics.gold.overall.pr_auc"] > 0.5


def test_config_errors_say_what_is_wrong(tmp_path, capsys):
    cfg = str(ROOT / "configs" / "ci.yaml")
    assert main(["train", "--config", cfg, "nosuchkey=1"]) == 2
    assert "override 'nosuchkey=1'" in capsys.readouterr().err
    assert main(["train", "--config", cfg, "kind=bert"]) == 2
    assert "expected one of" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "none.yaml")]) == 2
