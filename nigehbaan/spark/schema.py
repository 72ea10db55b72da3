"""Spark types of a scored ad, derived from the typed pydantic models (inference/schema.py), so
that a field added there appears in Spark output without a second definition here.

Nested fields become structs and arrays (`indicators` is `array<struct<id, score,
evidence: array<struct<start, end, text, source>>>>`), not JSON strings: a Spark user filters
`exists(indicators, i -> i.id = 'debt_bondage')` or explodes `entities.phones` directly.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pyspark.sql import types as T

from nigehbaan.inference.schema import ScoredAd

# Fields the scorer writes that the pydantic model does not declare (it allows extras):
# the text-kind head's answer, and the input's own `lang`, kept under this name.
SCORER_EXTRAS: dict[str, T.DataType] = {"text_kind": T.StringType()}
INPUT_LANG = "input_lang"
# An unreadable JSON line (the job's JSON input): its text, as `nigehbaan score` writes it.
RAW = "raw"


def spark_type(annotation: Any) -> T.DataType:
    """The Spark type of a pydantic field annotation: str/Literal -> string, float -> double,
    int -> long, bool -> boolean, list[X] -> array<X>, a model -> struct of its fields;
    `X | None` is X (every Spark field here is nullable)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"no Spark type for the union {annotation!r}")
        return spark_type(args[0])
    if origin is Literal:
        kinds = {type(a) for a in typing.get_args(annotation)}
        if kinds != {str}:
            raise TypeError(f"no Spark type for {annotation!r}: only string literals")
        return T.StringType()
    if origin is list:
        (item,) = typing.get_args(annotation)
        return T.ArrayType(spark_type(item), containsNull=True)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return struct_of(annotation)
    simple = {str: T.StringType(), float: T.DoubleType(), int: T.LongType(), bool: T.BooleanType()}
    if annotation in simple:
        return simple[annotation]
    raise TypeError(f"no Spark type for {annotation!r}; add it to nigehbaan.spark.schema")


def struct_of(model: type[BaseModel]) -> T.StructType:
    """The struct of a model's declared fields, in declaration order. Extra keys a model allows
    (ModelInfo's) are not columns: a struct has a fixed set of fields."""
    return T.StructType([
        T.StructField(name, spark_type(info.annotation), nullable=True)
        for name, info in model.model_fields.items()
    ])


def scored_fields() -> list[T.StructField]:
    """The scored-ad columns, in the order of the CSV and Parquet output, then the scorer's
    extras that the typed model does not declare yet."""
    fields = list(struct_of(ScoredAd).fields)
    names = {f.name for f in fields}
    fields += [T.StructField(n, t, True) for n, t in SCORER_EXTRAS.items() if n not in names]
    return fields


def output_schema(input_schema: T.StructType, text_col: str, position_col: str) -> T.StructType:
    """The schema `score_dataframe` returns: the scored-ad fields first (the CLI's table
    order), then the input's columns with their own types (an input column named like a
    scored field is replaced by it, as in the CLI; an input `lang` becomes `input_lang`)."""
    scored = scored_fields()
    taken = {f.name for f in scored}
    out = list(scored)
    for f in input_schema.fields:
        if f.name == "lang" and f.name != text_col:
            out.append(T.StructField(INPUT_LANG, T.StringType(), True))
        elif f.name not in taken or f.name in (text_col, position_col):
            out.append(f)
        taken.add(f.name)
    return T.StructType(out)
