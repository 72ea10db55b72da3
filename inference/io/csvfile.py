"""CSV: a header row, then one row per ad; nested values as JSON strings.

Reading: a byte-order mark is dropped (it would rename the first column), undecodable bytes in
`text` make an error row (elsewhere they are kept as surrogate escapes and repaired to U+FFFD
downstream), a short row is an error row with its cells in `raw`, surplus cells are kept in
`_extra_columns`. Writing: the declared columns, then the first batch's other fields, then
`extra_fields` (a JSON object of the fields first seen later); resumable like JSONL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from nigehbaan.inference import surrogates
from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io.checkpoint import CheckpointedText
from nigehbaan.inference.io.jsonl import dumps
from nigehbaan.inference.io.registry import Column, Row, readers, register_extension, writers

# Table formats need their columns up front: fields first seen after the first batch go here.
OVERFLOW = "extra_fields"
csv.field_size_limit(2**31 - 1)


def missing_columns_error(path: str, require: Sequence[str], found: list) -> UsageError:
    missing = [c for c in require if c not in found]
    return UsageError(
        f"{path}: no {', '.join(repr(c) for c in missing)} column; found columns {found}. "
        f"Fix: rename the column that holds the ad {missing[0]} to {missing[0]!r}."
    )


@readers.register("csv")
def read_csv(path: str, skip: int = 0, progress=None, require: Sequence[str] = ("text",)) -> Iterator[Row]:
    """Yield a Row per CSV record (cells as strings); `progress.update(1)` per row."""
    path = str(path)
    if not Path(path).is_file():
        raise UsageError(f"input file {path!r} does not exist or is not a file")
    # utf-8-sig: a byte-order mark would otherwise rename the first column ("\ufeffid").
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        if any(c not in (reader.fieldnames or []) for c in require):
            raise missing_columns_error(path, require, reader.fieldnames or [])
        for n, rec in enumerate(reader, start=1):
            if progress is not None:
                progress.update(1)
            if n <= skip:
                continue
            extra = rec.pop(None, None)
            if extra:
                rec["_extra_columns"] = extra
            if None in rec.values():
                yield Row(n, None, "row has fewer columns than the header", dumps(rec), n)
                continue
            if isinstance(rec.get("text"), str) and surrogates.has_surrogates(rec["text"]):
                yield Row(n, None, (
                    "text is not valid UTF-8 (undecodable bytes); re-encode the file as UTF-8"
                ), dumps(rec), n)
                continue
            yield Row(n, rec, None, None, n)


def table_fields(first: dict, columns: Sequence[Column] | None) -> list[str]:
    """Columns of a table output: declared ones, the first row's others, then OVERFLOW."""
    declared = [name for name, _ in columns or ()]
    extra = [k for k in first if k not in declared and k != OVERFLOW]
    return [*declared, *extra, OVERFLOW]


def cell(v):
    """A value as a CSV cell: nested values as JSON, None as empty."""
    return dumps(v) if isinstance(v, (dict, list)) else "" if v is None else v


@writers.register("csv")
class CsvWriter(CheckpointedText):
    def __init__(self, path: str, resume: bool = False, columns: Sequence[Column] | None = None):
        self.columns = columns
        self.fields: list[str] | None = None
        super().__init__(str(path), resume)
        self.state = {"csv_fields": self.fields}

    def _restore(self, saved: dict) -> None:
        self.fields = saved.get("csv_fields")

    def _encode(self, rows: list[dict]) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        if self.fields is None:
            self.fields = table_fields(rows[0] if rows else {}, self.columns)
            self.state["csv_fields"] = self.fields
            w.writerow(self.fields)
        known = set(self.fields)
        for r in rows:
            cells = [cell(r.get(k)) for k in self.fields[:-1]]
            rest = {k: v for k, v in r.items() if k not in known}
            cells.append(dumps(rest) if rest else "")
            w.writerow(cells)
        return buf.getvalue()


register_extension(".csv", "csv")
