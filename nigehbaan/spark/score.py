"""Scoring a Spark DataFrame: `score_dataframe(df, model, text_col)` runs the same
`score_records` as `nigehbaan score` inside `mapInPandas`, so every executor gives the answers
the command line gives.

The model (and, for the default model, the multilingual encoder) is loaded once per executor
Python process and kept in a module-level cache keyed by the model's name or directory: Spark
reuses its Python workers between tasks (`spark.python.worker.reuse`, on by default), so a
worker pays the load once, not per task, batch or row.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.model import BUNDLED_MODELS, Model, load_model, resolve_model_dir
from nigehbaan.inference.scorer import derive_id, error_row, score_records
from nigehbaan.spark.schema import INPUT_LANG, RAW, output_schema, scored_fields

# Ads handed to score_records at a time: the command line's default --batch-size, so memory per
# worker stays what one CLI worker needs, whatever Arrow batch size Spark uses.
CHUNK = 256
POSITION = "input_position"
# Debug knob for benchmarks: a folder where each executor Python process writes its model load
# time, rows scored and peak memory (benchmarks/spark_score.py reads it).
STATS_ENV = "NIGEHBAAN_SPARK_STATS"

# Executor side: model key -> loaded model, and how long loading (with a warm-up) took.
_MODELS: dict[str, Model] = {}
_LOAD_SECONDS: dict[str, float] = {}
_ROWS: dict[str, int] = {}
_LOADS: dict[str, int] = {}  # how many times this process loaded each model (1, by design)


@dataclass(frozen=True)
class _Spec:
    """What the executors need to know; pickled with the function (small, no model)."""

    model: str
    text_col: str
    position_col: str
    names: tuple[str, ...]  # output columns, in order
    passthrough: tuple[str, ...]  # output columns copied from the input
    has_lang: bool
    raw_col: str | None = None  # an unparsed JSON line per row (the job's JSON input)


def model_key(model: str | Path) -> str:
    """A bundled model's name as is, a directory as its absolute path: the cache key and what
    executors load. The directory must be readable at that path on every executor."""
    if isinstance(model, str) and model in BUNDLED_MODELS:
        return model
    return str(resolve_model_dir(model).resolve())


def executor_model(key: str) -> Model:
    """The model for `key`, loaded once per Python process. A first call also scores one short
    ad, so the encoder of the default model is loaded (or built into $NIGEHBAAN_CACHE) here,
    inside the recorded load time, rather than in the middle of the first batch."""
    model = _MODELS.get(key)
    if model is None:
        t0 = time.perf_counter()
        model = load_model(key)
        score_records([{"id": "warm-up", "text": "warm up"}], model)
        _MODELS[key] = model
        _LOAD_SECONDS[key] = time.perf_counter() - t0
        _LOADS[key] = _LOADS.get(key, 0) + 1
    return model


def score_dataframe(df, model: str | Path = "default", text_col: str = "text",
                    position_col: str = POSITION):
    """Score every row of a Spark DataFrame; returns a DataFrame with the scored-ad fields as
    Spark types (structs and arrays; see nigehbaan.spark.schema) followed by the input's
    columns, one output row per input row.

    `model`: a bundled model's name (`default`, `fast`, `rules`) or a model directory readable
    at the same path on the driver and every executor. `position_col` (added with
    `monotonically_increasing_id` when the input lacks it) increases with the input order
    within and across partitions: sort by it to restore the order. A row whose text is
    missing, null, empty or not a string gets `error` and is still returned.
    """
    if text_col not in df.columns:
        raise UsageError(
            f"no text column {text_col!r} in the DataFrame: expected the ads' text there; found "
            f"columns {', '.join(df.columns) or '(none)'}. Fix: pass text_col=<the column>."
        )
    key = model_key(model)
    load_model(key)  # on the driver: a bad name or a contract mismatch fails here, not per task
    return _score(df, key, text_col, position_col)


def _score(df, key: str, text_col: str, position_col: str, raw_col: str | None = None):
    from pyspark.sql import functions as F

    if position_col not in df.columns:
        df = df.withColumn(position_col, F.monotonically_increasing_id())
    inputs = df.drop(raw_col).schema if raw_col else df.schema
    schema = output_schema(inputs, text_col, position_col)
    scored = {f.name for f in scored_fields()}
    if raw_col:
        schema.add(RAW, "string")
    names = tuple(schema.fieldNames())
    spec = _Spec(
        model=key, text_col=text_col, position_col=position_col, names=names,
        passthrough=tuple(n for n in names if n not in scored and n not in (INPUT_LANG, RAW)),
        has_lang="lang" in df.columns and text_col != "lang", raw_col=raw_col,
    )
    return df.mapInPandas(functools.partial(_score_batches, spec), schema)


def _score_batches(spec: _Spec, batches: Iterator) -> Iterator:
    """The executor side of mapInPandas: pandas batches in, scored pandas batches out."""
    model = executor_model(spec.model)
    for pdf in batches:
        pdf = pdf.reset_index(drop=True)
        for start in range(0, len(pdf), CHUNK):
            yield _score_frame(pdf.iloc[start : start + CHUNK].reset_index(drop=True), model, spec)
        _ROWS[spec.model] = _ROWS.get(spec.model, 0) + len(pdf)
        _write_stats(spec.model)


def _score_frame(pdf, model: Model, spec: _Spec):
    import pandas as pd

    positions = [int(p) for p in pdf[spec.position_col]]
    if spec.raw_col:
        rows, raws = _score_raw(list(pdf[spec.raw_col]), positions, model)
    else:
        rows, raws = _score_columns(pdf, positions, model, spec), None
    out = {}
    for name in spec.names:
        if name in spec.passthrough:
            out[name] = pdf[name]
        elif name == INPUT_LANG:
            out[name] = [None if _missing(v) else str(v) for v in pdf["lang"]]
        elif name == RAW:
            out[name] = raws
        else:
            out[name] = [r.get(name) for r in rows]
    return pd.DataFrame(out, columns=list(spec.names))


def _score_columns(pdf, positions: list[int], model: Model, spec: _Spec) -> list[dict]:
    records = []
    id_col = "id" in pdf.columns and spec.text_col != "id"
    for i in range(len(pdf)):
        rec = {"text": _py(pdf[spec.text_col].iat[i])}
        if id_col and not _missing(pdf["id"].iat[i]):
            rec["id"] = _py(pdf["id"].iat[i])
        if spec.has_lang and not _missing(pdf["lang"].iat[i]):
            rec["lang"] = _py(pdf["lang"].iat[i])
        records.append(rec)
    rows = score_records(records, model)
    for row, pos in zip(rows, positions, strict=True):
        if not row.get("id"):  # no id and no text to derive one from: as the CLI names it
            row["id"] = f"row-{pos + 1}"
    return rows


def _score_raw(lines: list, positions: list[int], model: Model) -> tuple[list[dict], list]:
    """JSON lines parsed here, as `nigehbaan score` parses them (one parser: the I/O layer's),
    so a non-string `text` is an error row rather than Spark's stringified number."""
    from nigehbaan.inference.io.jsonl import _BOM, _parse

    parsed = []
    for line, pos in zip(lines, positions, strict=True):
        raw = (line or "").encode("utf-8", "surrogatepass")
        parsed.append(_parse(pos + 1, raw.removeprefix(_BOM) if pos == 0 else raw, pos + 1))
    scored = iter(score_records([p.record for p in parsed if p.error is None], model))
    rows, raws = [], []
    for p in parsed:
        if p.error is None:
            row = next(scored)
            if not row.get("id"):
                row["id"] = f"row-{p.n}"
        else:  # as batch._score_with writes an unreadable line
            row = error_row({"id": f"row-{p.n}", "raw": p.raw}, p.error, model)
            if p.raw is not None:
                row["id"] = derive_id(p.raw) if p.raw else f"row-{p.n}"
        rows.append(row)
        raws.append(p.raw)
    return rows, raws


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _py(v):
    """A pandas/numpy cell as the plain Python value a JSON reader would give."""
    if _missing(v):
        return None
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v


def _write_stats(key: str) -> None:
    folder = os.environ.get(STATS_ENV)
    if not folder:
        return
    stats = {
        "pid": os.getpid(), "model": key, "load_seconds": _LOAD_SECONDS.get(key),
        "loads": _LOADS.get(key, 0),
        "rows": _ROWS.get(key, 0),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    path = Path(folder) / f"{os.getpid()}-{Path(key).name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats))
    os.replace(tmp, path)
