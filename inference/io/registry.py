"""The format registry: one reader and one writer per file format, found by name or extension.

Like spaCy's registries, a format is a name (`"jsonl"`, `"jsonl.gz"`, `"csv"`, `"parquet"`)
under which a reader function and a writer class are registered:

    from nigehbaan.inference.io import readers, writers, format_of
    for row in readers[format_of(path)](path):       # Row(n, record, error, raw, line)
        ...
    w = writers["parquet"]("out.parquet", columns=SCORED_COLUMNS)

Every reader yields exactly one `Row` per input row, in order: a row that cannot be read
carries `error` (and its raw text in `raw`) instead of `record`, so callers decide whether a
bad row is an error row (`nigehbaan score`) or a usage error naming the line (corpus tools).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from nigehbaan.inference.errors import UsageError


class Row(NamedTuple):
    """One input row: `n` counts rows from 1 (blank JSONL lines are not rows); `line` is the
    line (JSONL) or row (CSV, Parquet) number for messages; exactly one of `record` / `error`
    is set, and `raw` holds the unparsed text of a row that could not be read."""

    n: int
    record: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    line: int = 0


# A column of a table format (CSV, Parquet) and how its values are stored: "float" as a
# number, "json" as a JSON string (nested fields), "string" as text.
Column = tuple[str, str]


class Registry(dict):
    """Name -> function or class; `register(name, *extensions)` as a decorator."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable:
        def add(obj):
            self[name] = obj
            return obj

        return add

    def __missing__(self, name: str):
        raise UsageError(
            f"no {self.kind} for format {name!r}: expected one of {sorted(self)}. "
            "Fix: use a file name ending in one of those extensions."
        )


readers: Registry = Registry("reader")
writers: Registry = Registry("writer")
# Extension -> format name; longest match wins (".jsonl.gz" before ".gz").
EXTENSIONS: dict[str, str] = {}


def register_extension(ext: str, name: str) -> None:
    EXTENSIONS[ext.lower()] = name


def format_of(path: str, what: str = "file") -> str:
    """The format name of `path` by its extension; '-' (stdin/stdout) is JSONL."""
    if str(path) == "-":
        return "jsonl"
    name = str(path).lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return EXTENSIONS[ext]
    known = ", ".join(sorted(EXTENSIONS, key=lambda e: (EXTENSIONS[e], len(e))))
    raise UsageError(
        f"cannot tell the format of {what} {str(path)!r}: expected a name ending in one of "
        f"{known}, or '-' for JSONL on stdin/stdout. Fix: rename the file or convert it."
    )


def iter_records(rows: Iterator[Row], path: str) -> Iterator[tuple[int, dict]]:
    """(line, record) of every row; the first unreadable row raises UsageError naming its line.

    For files that must be read whole and right (corpus files, configuration-like inputs)."""
    for row in rows:
        if row.error is not None:
            raise UsageError(f"{path}:{row.line}: {row.error}. Fix: correct or remove that line.")
        yield row.line, row.record
