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
        """One scored row per input row, in order, with every field the command line writes:
        the scored-ad fields in the order of the typed model (inference/schema.py), then the
        input's own columns (`text` and any pass-through); the nested ones (`indicators`,
        `entities`, `model`, `warnings`) as JSON strings, as in the CSV and Parquet outputs."""
        import pandas as pd
        from nigehbaan.inference.schema import SCORED_FIELDS
        from nigehbaan.inference.scorer import score_records

        if isinstance(model_input, pd.DataFrame):
            records = [
                {k: v for k, v in rec.items() if not _is_missing(v)}
                for rec in model_input.to_dict(orient="records")
            ]
            columns = list(model_input.columns)
        else:
            records = [{"text": t} for t in model_input]
            columns = ["text"]
        rows = score_records(records, self.model)
        order = [*SCORED_FIELDS, *(c for c in columns if c not in SCORED_FIELDS)]
        order += [k for r in rows for k in r if k not in order]  # e.g. input_lang
        order = list(dict.fromkeys(order))
        return pd.DataFrame(
            [{k: _cell(r.get(k)) for k in order} for r in rows], columns=order
        )


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)  # NaN: pandas' missing value


def _cell(v):
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v


# "Models from code": MLflow records this file instead of pickling an object, so loading the
# logged model never unpickles anything (style: model files are never pickle).
mlflow.models.set_model(NigehbaanPyfunc())
