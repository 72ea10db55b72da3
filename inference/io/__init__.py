"""One I/O layer for every command: a reader and a writer per file format, by name.

    from nigehbaan.inference.io import format_of, readers, writers
    fmt = format_of("ads.jsonl.gz")                  # "jsonl.gz"
    for row in readers[fmt]("ads.jsonl.gz"):          # Row(n, record, error, raw, line)
        ...
    out = writers[format_of("scored.parquet")]("scored.parquet", resume=False, columns=...)
    out.write(rows); out.close(complete=True)

| format | extensions | read | write |
|---|---|---|---|
| `jsonl` | `.jsonl`, `.ndjson`, `-` (stdin/stdout) | yes | yes, resumable |
| `jsonl.gz`, `jsonl.zst` | `.jsonl.gz`, `.jsonl.zst` | yes | yes, whole or nothing (no resume) |
| `csv` | `.csv` | yes | yes, resumable |
| `parquet` | `.parquet` | yes | yes, resumable (through a JSONL spool) |

A reader is `reader(path, skip=0, progress=None, require=(...))` yielding one `Row` per input
row; a writer is `Writer(path, resume=False, columns=None)` with `done` (rows already there on
resume), `resumable`, `write(rows)`, `close(complete=False)` and the class method
`paths(path)` (every file it may create). `columns` lists `(name, kind)` pairs: the leading
columns of table formats (and keys of JSONL objects), with kind "float", "json" or "string"
(see `nigehbaan.inference.schema.columns`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io import csvfile, jsonl, parquet  # noqa: F401 - they register themselves
from nigehbaan.inference.io.csvfile import OVERFLOW
from nigehbaan.inference.io.registry import (
    EXTENSIONS,
    Column,
    Row,
    format_of,
    iter_records,
    readers,
    writers,
)

__all__ = [
    "EXTENSIONS", "OVERFLOW", "Column", "Row", "check_output", "decode_cells", "format_of",
    "iter_records", "read_records", "readers", "writers",
]


def check_output(input_path: str, output_path: str, paths: Sequence[str], doing: str) -> None:
    """Refuse, before anything is written, an output whose folder does not exist or any of whose
    files (`paths`: the output and what its writer creates beside it) is the input itself or a
    link to it; `doing` names the command in the message ("scoring", "clustering")."""
    if output_path == "-":
        return
    folder = Path(output_path).parent
    if not folder.is_dir():
        raise UsageError(
            f"output directory {str(folder)!r} does not exist. Fix: create it "
            f"(mkdir -p {folder}) or choose another -o."
        )
    if input_path == "-":
        return
    for path in paths:
        if Path(path).exists() and os.path.samefile(input_path, path):
            raise UsageError(
                f"-o {output_path!r} is the input file {input_path!r} (or a link to it): "
                f"{doing} would overwrite the ads. Fix: write to another file."
            )


def read_records(path, require: Sequence[str] = ()):
    """(line, record) for every row of a file of any format; the first unreadable row is a
    UsageError naming its line (for inputs that must be right, such as corpus files)."""
    path = str(path)
    return iter_records(readers[format_of(path)](path, require=require), path)


def decode_cells(record: dict, columns: Sequence[Column]) -> dict:
    """Undo a table writer's encoding of `record` (a CSV or Parquet row): JSON columns parsed,
    float columns as numbers, empty cells of declared columns as None, and the fields kept in
    `extra_fields` put back. Raises ValueError naming the column whose cell is not valid."""
    out = dict(record)
    for name, kind in columns:
        v = out.get(name)
        if not isinstance(v, str):
            continue
        if v == "":
            out[name] = None
        elif kind == "json":
            try:
                out[name] = json.loads(v)
            except json.JSONDecodeError as exc:
                raise ValueError(f"column {name!r} should hold JSON, found {v[:40]!r}") from exc
        elif kind == "float":
            try:
                out[name] = float(v)
            except ValueError as exc:
                raise ValueError(f"column {name!r} should hold a number, found {v[:40]!r}") from exc
    rest = out.pop(OVERFLOW, None)
    if isinstance(rest, str) and rest:
        try:
            out.update(json.loads(rest))
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise ValueError(f"column {OVERFLOW!r} should hold a JSON object, found {rest[:40]!r}") from exc
    return out
