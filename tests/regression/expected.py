"""Write or check the committed expected scores that every refactor must keep identical.

The expected output covers the bundled sample ads and the corpus test split, scored by each
bundled model (default, fast, rules), with the encoder pinned to float32 so the file does not
depend on whether the CPU runs bfloat16 natively.

    python -m tests.regression.expected          # rewrite the files (only on purpose!)

`tests/test_regression.py` re-scores the same inputs and compares field by field.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).resolve().parent / "expected"
INPUTS = {
    "sample": ROOT / "data" / "samples" / "ads.jsonl",
    "test": ROOT / "data" / "corpus" / "v4" / "test.jsonl",
}
MODELS = ("default", "fast", "rules")
# What a score is: everything a user reads off a scored row except the model's own metadata.
KEPT = ("id", "risk", "band", "priority", "lang", "indicators", "entities", "error")


def read_inputs(name: str) -> list[dict]:
    with open(INPUTS[name], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    # Only the ad itself goes in: corpus labels are not input fields.
    return [{"id": r["id"], "text": r["text"]} for r in rows]


def score(model_name: str, records: list[dict]) -> list[dict]:
    from nigehbaan.inference.model import load_model
    from nigehbaan.inference.scorer import score_records

    os.environ["NIGEHBAAN_ENCODER_PRECISION"] = "float32"
    model = load_model(None if model_name == "default" else ROOT / "models" / model_name)
    return [{k: row[k] for k in KEPT} for row in score_records(records, model)]


def path_for(model_name: str, input_name: str) -> Path:
    return EXPECTED / f"{model_name}-{input_name}.jsonl"


def main() -> int:
    EXPECTED.mkdir(parents=True, exist_ok=True)
    for model_name in MODELS:
        for input_name in INPUTS:
            rows = score(model_name, read_inputs(input_name))
            with open(path_for(model_name, input_name), "w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            print(f"{path_for(model_name, input_name).name}: {len(rows)} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
