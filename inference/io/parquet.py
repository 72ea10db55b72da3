"""Parquet: read a batch at a time; written through a resumable JSONL spool.

A Parquet file is unreadable until its footer is written, so output rows go to
`OUTPUT.partial.jsonl` (resumable, see checkpoint.py) and are converted when the run is
complete. Every column is typed up front (declared "float" columns as float64, everything else
as a string, nested values as JSON), so a column whose first value comes late (a first error
row, a `posted_at` after row 8,192) cannot break the file; the file is written under a
temporary name and renamed once its footer is written.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io.csvfile import OVERFLOW, missing_columns_error, table_fields
from nigehbaan.inference.io.jsonl import JsonlWriter, dumps
from nigehbaan.inference.io.registry import Column, Row, readers, register_extension, writers

CHUNK = 8192


@readers.register("parquet")
def read_parquet(path: str, skip: int = 0, progress=None, require: Sequence[str] = ("text",)) -> Iterator[Row]:
    """Yield a Row per Parquet row (dates as ISO strings, bytes decoded); `progress.update(1)`."""
    import pyarrow.parquet as pq

    path = str(path)
    if not Path(path).is_file():
        raise UsageError(f"input file {path!r} does not exist or is not a file")
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise UsageError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = pf.schema_arrow.names
    if any(c not in names for c in require):
        raise missing_columns_error(path, require, names)
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            n += 1
            if progress is not None:
                progress.update(1)
            if n <= skip:
                continue
            yield Row(n, {k: _jsonable(v) for k, v in rec.items()}, None, None, n)


def _jsonable(v):
    """A Parquet value as JSON can carry it, at any depth: dates and times as ISO strings,
    durations as seconds, decimals as exact strings, bytes decoded, NaN/Infinity as null."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)  # Decimal and anything else: its exact text


@writers.register("parquet")
class ParquetWriter:
    """Rows spooled to a resumable JSONL file; `close(complete=True)` converts it."""

    resumable = True

    def __init__(self, path: str, resume: bool = False, columns: Sequence[Column] | None = None):
        self.path, self.columns = str(path), columns
        if self.path == "-":
            raise UsageError("Parquet output needs a file name, not '-'")
        self.spool = JsonlWriter(self.path + ".partial.jsonl", resume)
        self.done = self.spool.done

    @classmethod
    def paths(cls, path: str) -> list[str]:
        spool = path + ".partial.jsonl"
        return [path, path + ".ckpt.json", path + ".tmp", spool, spool + ".ckpt.json"]

    def write(self, rows: list[dict]) -> None:
        self.spool.write(rows)
        self.done = self.spool.done

    def close(self, complete: bool = False) -> None:
        self.spool.close()
        if complete and Path(self.spool.path).exists():
            jsonl_to_parquet(Path(self.spool.path), self.path, self.columns)
            Path(self.spool.path).unlink()
            self.spool.close(complete=True)  # the checkpoint goes last


def jsonl_to_parquet(src: Path, dst: str, columns: Sequence[Column] | None = None) -> None:
    """Convert a JSONL file to Parquet a chunk at a time, atomically (see the module doc)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = dict(columns or ())
    tmp = dst + ".tmp"
    writer = schema = fields = None
    try:
        with open(src, encoding="utf-8") as f:
            while True:
                chunk = [json.loads(line) for _, line in zip(range(CHUNK), f, strict=False)]
                if not chunk:
                    break
                if fields is None:
                    fields = table_fields(chunk[0], columns)
                    schema = pa.schema(
                        [(k, pa.float64() if kinds.get(k) == "float" else pa.string()) for k in fields]
                    )
                    writer = pq.ParquetWriter(tmp, schema)
                _write_chunk(writer, pa.table(_columns_of(chunk, fields, kinds), schema=schema))
        if writer is None:
            empty = {k: pa.array([], pa.float64() if kind == "float" else pa.string())
                     for k, kind in columns or ()}
            pq.write_table(pa.table(empty), tmp)
        else:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)


def _columns_of(chunk: list[dict], fields: list[str], kinds: dict) -> dict[str, list]:
    cols: dict[str, list] = {k: [] for k in fields}
    known = set(fields)
    for r in chunk:
        for k in fields[:-1]:
            v = r.get(k)
            if v is None or kinds.get(k) == "float":
                cols[k].append(v)
            elif kinds.get(k) == "json" or isinstance(v, (dict, list)):
                cols[k].append(dumps(v))
            else:
                cols[k].append(str(v))
        rest = {k: v for k, v in r.items() if k not in known}
        cols[OVERFLOW].append(dumps(rest) if rest else None)
    return cols


def _write_chunk(writer, table) -> None:
    """One write of the Parquet writer (a seam for the test that kills the conversion)."""
    writer.write_table(table)


register_extension(".parquet", "parquet")
