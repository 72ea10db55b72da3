"""Shared fixtures. Everything runs on CPU, offline, on data made here or shipped in the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def rules_model():
    """A rules-only model: needs no training, so unit tests of scoring stay fast."""
    from nigehbaan.inference.model import load_model

    return load_model(ROOT / "models" / "rules")


@pytest.fixture(scope="session")
def default_model():
    from nigehbaan.inference.model import load_model

    return load_model()


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
