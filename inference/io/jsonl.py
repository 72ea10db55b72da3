"""JSON Lines: one object per line; plain, gzip (`.jsonl.gz`) or Zstandard (`.jsonl.zst`).

Reading keeps every row: a line that is not UTF-8, not JSON or not an object becomes a row with
`error` and its text in `raw`. A UTF-8 byte-order mark is dropped, raw control characters inside
strings are read (json.loads(strict=False)) and blank lines are not rows. Plain output is
appended with a checkpoint and resumable (checkpoint.py); compressed output is written under a
temporary name and renamed when complete, and cannot be resumed.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io.checkpoint import CheckpointedText
from nigehbaan.inference.io.registry import Column, Row, readers, register_extension, writers

_BOM = b"\xef\xbb\xbf"


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def ordered(row: dict, columns: Sequence[Column] | None) -> dict:
    """`row` with the declared columns first, in their order, then its other fields."""
    if not columns:
        return row
    out = {name: row[name] for name, _ in columns if name in row}
    if len(out) == len(row):
        return out
    return out | {k: v for k, v in row.items() if k not in out}


def _open_binary(path: str):
    if path == "-":
        return sys.stdin.buffer
    lower = path.lower()
    if lower.endswith(".gz"):
        return gzip.open(path, "rb")
    if lower.endswith(".zst"):
        return _zstd_lines(path)
    return open(path, "rb")  # noqa: SIM115


class _zstd_lines:
    """Lines of a Zstandard file, frame after frame. zstandard's own stream reader ends
    silently at a cut frame; here a file that ends inside a frame raises ZstdError."""

    def __init__(self, path: str):
        self.f = open(path, "rb")  # noqa: SIM115

    def __iter__(self):
        import zstandard

        dctx = zstandard.ZstdDecompressor()
        obj, pending, buf = dctx.decompressobj(), False, b""
        while chunk := self.f.read(1 << 20):
            while chunk:
                pending = True
                buf += obj.decompress(chunk)
                chunk = b""
                if obj.eof:  # a frame ended; the next one starts in its unused data
                    chunk, obj, pending = obj.unused_data, dctx.decompressobj(), False
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    yield line + b"\n"
        if pending:
            raise zstandard.ZstdError("the file ends inside a compressed frame")
        if buf:
            yield buf

    def close(self) -> None:
        self.f.close()


def _stream_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
    try:
        import zstandard

        errors += (zstandard.ZstdError,)
    except ModuleNotFoundError:  # only needed for .zst
        pass
    return errors


@readers.register("jsonl")
def read_jsonl(path: str, skip: int = 0, progress=None, require: Sequence[str] = ()) -> Iterator[Row]:
    """Yield a Row per non-blank line of `path` ('-' for stdin), skipping the first `skip` rows.

    `progress.update(bytes)` is called per line (decompressed bytes for compressed files).
    `require` is not checked per row: JSONL has no header (a missing field is the caller's row
    error)."""
    path = str(path)
    if path != "-" and not Path(path).is_file():
        raise UsageError(f"input file {path!r} does not exist or is not a file")
    stream = _open_binary(path)
    n = line_no = 0
    try:
        lines = iter(stream)
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                break
            except _stream_errors() as exc:
                if n == 0:
                    raise UsageError(
                        f"{path}: not a readable compressed file ({type(exc).__name__}: {exc}). "
                        "Fix: check the file, or decompress it and score the .jsonl."
                    ) from exc
                n += 1
                yield Row(n, None, (
                    f"the compressed stream is cut or corrupt after line {line_no} "
                    f"({type(exc).__name__}: {exc}); any rows after it are lost"
                ), "", line_no + 1)
                return
            line_no += 1
            if progress is not None:
                progress.update(len(raw))
            if line_no == 1:  # a byte-order mark (Windows tools write one) is not part of the row
                raw = raw.removeprefix(_BOM)
            if not raw.strip():
                continue  # blank lines are not rows
            n += 1
            if n <= skip:
                continue
            yield _parse(n, raw, line_no)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


# Deeper pass-through fields are refused per row: every later step (repair, writing) walks them
# recursively, and at ~500 levels Python's recursion limit would end the whole batch.
MAX_NESTING = 100


def nesting_depth(value) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    depth, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return depth


def _parse(n: int, raw: bytes, line_no: int) -> Row:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Row(n, None, (
            f"line is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
            "re-encode the file as UTF-8"
        ), raw.decode("utf-8", "replace").rstrip("\r\n"), line_no)
    try:
        # strict=False: raw control characters (NUL included) inside strings are read, then
        # dropped by normalisation, as for escaped ones. NaN and Infinity (not JSON, but
        # Python's json reads them) become null: written back they would make invalid JSON.
        record = json.loads(line, strict=False, parse_constant=lambda _: None)
    except json.JSONDecodeError as exc:
        return Row(n, None, f"invalid JSON: {exc.msg} at column {exc.colno}", line.rstrip("\r\n"), line_no)
    except RecursionError:
        return Row(n, None, "invalid JSON: nested too deeply to read", line.rstrip("\r\n"), line_no)
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return Row(n, None, f"invalid JSON: {exc}", line.rstrip("\r\n"), line_no)
    depth = nesting_depth(record)
    if depth > MAX_NESTING:
        return Row(n, None, (
            f"a field is nested {depth} levels deep; at most {MAX_NESTING} are kept. "
            "Fix: flatten the field or drop it before scoring"
        ), line.rstrip("\r\n"), line_no)
    if not isinstance(record, dict):
        return Row(n, None, f"expected a JSON object per line, found {type(record).__name__}",
                   line.rstrip("\r\n"), line_no)
    return Row(n, record, None, None, line_no)


@writers.register("jsonl")
class JsonlWriter(CheckpointedText):
    """Resumable JSONL output (or stdout for '-'); declared columns first in every object."""

    def __init__(self, path: str, resume: bool = False, columns: Sequence[Column] | None = None):
        self.columns = columns
        super().__init__(str(path), resume)

    def _encode(self, rows: list[dict]) -> str:
        return "".join(dumps(ordered(r, self.columns)) + "\n" for r in rows)

    def _recover(self) -> int:
        return count_complete(self.path)


def count_complete(path: str) -> int:
    """Rows in a JSONL output written without a checkpoint; a torn last line is cut off."""
    good_bytes, rows = 0, 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                json.loads(line)
            except ValueError:
                break
            good_bytes += len(line)
            rows += 1
    with open(path, "r+b") as f:
        f.truncate(good_bytes)
    return rows


class CompressedJsonlWriter:
    """`.jsonl.gz` / `.jsonl.zst` output: written to `OUTPUT.tmp`, renamed when complete, so a
    file under the final name is always whole. Not resumable (a compressed stream cannot be
    cut at a checkpoint and appended to)."""

    resumable = False

    def __init__(self, path: str, resume: bool = False, columns: Sequence[Column] | None = None):
        path = str(path)
        if resume:
            raise UsageError(
                f"cannot resume {path}: compressed output is written whole or not at all. "
                "Fix: run again without --resume, or write a plain .jsonl (resumable) and "
                "compress it afterwards."
            )
        if path == "-":
            raise UsageError("compressed output needs a file name, not '-'")
        self.path, self.columns, self.done = path, columns, 0
        self.tmp = path + ".tmp"
        if path.lower().endswith(".zst"):
            import zstandard

            self.f = zstandard.open(self.tmp, "wt", encoding="utf-8", errors="replace")
        else:
            self.f = gzip.open(self.tmp, "wt", encoding="utf-8", errors="replace")
        self._closed = False

    @classmethod
    def paths(cls, path: str) -> list[str]:
        return [path, path + ".tmp"]

    def write(self, rows: list[dict]) -> None:
        self.f.write("".join(dumps(ordered(r, self.columns)) + "\n" for r in rows))
        self.done += len(rows)

    def close(self, complete: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self.f.close()
        if complete:
            os.replace(self.tmp, self.path)
        else:
            Path(self.tmp).unlink(missing_ok=True)


writers.register("jsonl.gz")(CompressedJsonlWriter)
writers.register("jsonl.zst")(CompressedJsonlWriter)
readers.register("jsonl.gz")(read_jsonl)
readers.register("jsonl.zst")(read_jsonl)
for _ext in (".jsonl", ".ndjson"):
    register_extension(_ext, "jsonl")
register_extension(".jsonl.gz", "jsonl.gz")
register_extension(".jsonl.zst", "jsonl.zst")
