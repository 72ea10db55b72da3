"""The model as an MLflow pyfunc: a DataFrame with a `text` column in, scored ads out.

Used by `mlflow.pyfunc.load_model(...)` and `mlflow models serve`; the model directory travels
as an artifact, and scoring goes through the same `score_records` as the command line.
"""

from __future__ import annotations

import json

import mlflow.pyfunc


class NigehbaanPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from nigehbaan.inference.model import load_model

        self.model = load_model(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None):
        import pandas as pd
        from nigehbaan.inference.scorer import score_records

        if isinstance(model_input, pd.DataFrame):
            records = model_input.to_dict(orient="records")
        else:
            records = [{"text": t} for t in model_input]
        rows = score_records(records, self.model)
        return pd.DataFrame(
            {
                "id": [r["id"] for r in rows],
                "risk": [r["risk"] for r in rows],
                "band": [r["band"] for r in rows],
                "lang": [r["lang"] for r in rows],
                "indicators": [json.dumps(r["indicators"], ensure_ascii=False) for r in rows],
                "entities": [json.dumps(r["entities"], ensure_ascii=False) for r in rows],
                "error": [r["error"] for r in rows],
            }
        )


# "Models from code": MLflow records this file instead of pickling an object, so loading the
# logged model never unpickles anything (style: model files are never pickle).
mlflow.models.set_model(NigehbaanPyfunc())
