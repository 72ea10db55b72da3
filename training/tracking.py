"""MLflow tracking: config, dataset versions and checksums, metrics per split, language and
indicator, plots, and the model as a pyfunc that `mlflow.pyfunc.load_model` and
`mlflow models serve` can use, registered in the model registry.

Default store: a local SQLite file `mlflow.db` in the working directory (artifacts under
`mlartifacts/`); `MLFLOW_TRACKING_URI` overrides it. Open the UI with
`mlflow ui --backend-store-uri sqlite:///mlflow.db`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def _flatten(prefix: str, obj, out: dict) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and obj is not None:
        out[prefix.replace("@", "_at_")] = float(obj)


def log_run(cfg, model_dir: Path, contract, predictions: dict) -> str:
    """Log one training run; returns the MLflow run id."""
    import mlflow
    import nigehbaan.inference.pyfunc
    from nigehbaan.training.evaluation.plots import (
        confusion_png,
        indicator_f1_png,
        pr_curve_png,
        reliability_png,
    )

    os.environ.setdefault("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment(cfg.experiment)
    with mlflow.start_run(run_name=f"{cfg.name}-{cfg.version}") as run:
        mlflow.log_params({k: str(v) for k, v in cfg.to_dict().items()})
        mlflow.log_dict(cfg.to_dict(), "config_resolved.json")
        manifest = contract.training.get("corpus_manifest") or {}
        mlflow.set_tags({
            "corpus_version": str(manifest.get("version")),
            "normalizer": contract.normalizer,
            "lexicon": f"{contract.lexicon['version']}:{contract.lexicon['sha256'][:12]}",
            "features": contract.features,
        })
        for name, meta in (manifest.get("files") or {}).items():
            mlflow.set_tag(f"dataset.{name}.sha256", meta["sha256"])
            mlflow.log_metric(f"dataset.{name.replace('/', '.')}.rows", meta["rows"])
        flat: dict[str, float] = {}
        _flatten("", contract.metrics, flat)
        mlflow.log_metrics(flat)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for split, (rows, P) in predictions.items():
                y = np.array([r["risk"] for r in rows])
                langs = [r["lang"] for r in rows]
                pr_curve_png(y, P[:, 0], langs, tmp / f"{split}_pr_curves.png")
                reliability_png(y, P[:, 0], tmp / f"{split}_reliability.png")
                confusion_png(y, P[:, 0], contract.band_thresholds, tmp / f"{split}_confusion.png")
                indicator_f1_png(contract.metrics[split]["overall"]["indicators"]["per_indicator"],
                                 tmp / f"{split}_indicator_f1.png")
            mlflow.log_artifacts(str(tmp), "plots")
        mlflow.log_artifacts(str(model_dir), "model_dir")
        with tempfile.TemporaryDirectory() as code:
            mlflow.pyfunc.log_model(
                name="model",
                python_model=nigehbaan.inference.pyfunc.__file__,
                artifacts={"model_dir": str(model_dir)},
                registered_model_name=cfg.name if cfg.register else None,
                code_paths=[str(runtime_package(Path(code)))],
                pip_requirements=runtime_requirements(contract.kind),
            )
        log.info("MLflow run %s logged to %s", run.info.run_id, mlflow.get_tracking_uri())
        return run.info.run_id


def runtime_package(dst: Path) -> Path:
    """A copy of the code the pyfunc runs (`nigehbaan` with `nigehbaan.inference`) under `dst`.

    MLflow ships it with the model (`code_paths`) and puts it on the path when loading, so an
    executor or `mlflow models serve` needs only the pip requirements below, not this project.
    The copy is assembled from the imported packages, so it works from a checkout (where
    inference/ lives beside nigehbaan/) and from an installed wheel alike.
    """
    import shutil

    import nigehbaan.inference

    import nigehbaan

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    root = dst / "nigehbaan"
    top = Path(nigehbaan.__file__).parent
    shutil.copytree(top, root, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "inference", "training", "review", "models"))
    shutil.copytree(Path(nigehbaan.inference.__file__).parent, root / "inference", ignore=ignore)
    return root


def runtime_requirements(kind: str) -> list[str]:
    """What a scoring environment must pip-install: this package's base dependencies, plus the
    encoder extra for a model that embeds (kind `stack`), pinned to the versions installed here
    (torch stays on its CPU pin), and mlflow itself."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    wanted = {"encoder"} if kind == "stack" else set()
    out = {}
    for spec in requires("nigehbaan") or []:
        req = Requirement(spec)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted):
            continue
        try:  # the public release ("2.13.0"), not a local build tag ("2.13.0+cpu")
            out[req.name] = f"{req.name}=={version(req.name).split('+')[0]}"
        except PackageNotFoundError:
            out[req.name] = str(req)
    out["mlflow"] = f"mlflow=={version('mlflow')}"
    return sorted(out.values())
