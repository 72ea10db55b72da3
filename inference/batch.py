"""Batch scoring of files: streaming JSONL / CSV / Parquet in and out, order kept, resumable.

Memory stays bounded: rows are read, scored and written a batch at a time, with at most a few
batches in flight. Every input row yields exactly one output row, in input order; a row that
cannot be read or scored carries `error` (and, when it could not even be parsed, its raw line
in `raw`) so nothing is lost.

Resume: after each written batch a checkpoint `OUTPUT.ckpt.json` records how many input rows
are done and the output's byte length. `--resume` truncates the output to that length (dropping
a half-written row from a killed run) and skips that many input rows, so a killed job restarts
without gaps or duplicates. A Parquet output is written to `OUTPUT.partial.jsonl` first and
converted at the end (a Parquet file is unreadable until its footer is written).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from nigehbaan.inference import surrogates
from nigehbaan.inference.errors import Interrupted, UsageError
from nigehbaan.inference.model import Model, load_model
from nigehbaan.inference.scorer import OUTPUT_FIELDS, derive_id, error_row, score_records

FORMATS = (".jsonl", ".csv", ".parquet")
_NESTED = ("indicators", "entities", "model")
# CSV/Parquet need their columns up front: fields first seen after the first batch go here.
OVERFLOW = "extra_fields"
csv.field_size_limit(2**31 - 1)


@dataclass
class Summary:
    rows: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    bands: Counter = field(default_factory=Counter)
    langs: Counter = field(default_factory=Counter)
    indicators: Counter = field(default_factory=Counter)
    first_errors: list = field(default_factory=list)

    def add(self, row: dict, line_no: int) -> None:
        self.rows += 1
        if row.get("error"):
            self.errors += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(f"row {line_no}: {row['error']}")
            return
        self.bands[row["band"]] += 1
        self.langs[row["lang"]] += 1
        self.indicators.update(i["id"] for i in row["indicators"])

    def format(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        lines = [
            f"scored {self.rows:,} rows in {self.seconds:.1f}s ({rate:,.0f} ads/s)"
            + (f", {self.skipped:,} already done (resumed)" if self.skipped else ""),
            "bands: " + ", ".join(f"{b} {self.bands.get(b, 0):,}" for b in ("high", "medium", "low")),
            "languages: " + ", ".join(f"{k} {v:,}" for k, v in self.langs.most_common()),
            "top indicators: "
            + (", ".join(f"{k} {v:,}" for k, v in self.indicators.most_common(8)) or "none"),
            f"errors: {self.errors:,}",
        ]
        lines += [f"  {e}" for e in self.first_errors]
        return "\n".join(lines)


def _format_of(path: str) -> str:
    if path == "-":
        return ".jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"cannot tell the format of {path!r}: expected a name ending in .jsonl, .csv or "
            f".parquet, or '-' for JSONL on stdin/stdout. Fix: rename the file or convert it."
        )
    return suffix


# ---------------------------------------------------------------------------- reading


def read_rows(path: str, skip: int = 0, progress=None):
    """Yield (row_number, record_or_None, error_or_None, raw_or_None), row numbers from 1."""
    fmt = _format_of(path)
    if path != "-" and not Path(path).is_file():
        raise UsageError(f"input file {path!r} does not exist or is not a file")
    if fmt == ".jsonl":
        yield from _read_jsonl(path, skip, progress)
    elif fmt == ".csv":
        yield from _read_csv(path, skip, progress)
    else:
        yield from _read_parquet(path, skip, progress)


def _read_jsonl(path: str, skip: int, progress):
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        n = 0
        first = True
        for raw in stream:
            if progress is not None:
                progress.update(len(raw))
            if first:  # a UTF-8 byte-order mark (Windows tools write one) is not part of the row
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                first = False
            if not raw.strip():
                continue  # blank lines are not rows
            n += 1
            if n <= skip:
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, (
                    f"line is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                    "re-encode the file as UTF-8"
                ), raw.decode("utf-8", "replace").rstrip("\r\n")
                continue
            try:
                # strict=False: raw control characters (NUL included) inside strings are read,
                # then dropped by normalisation, as for escaped ones.
                record = json.loads(line, strict=False)
            except json.JSONDecodeError as exc:
                yield n, None, f"invalid JSON: {exc.msg} at column {exc.colno}", line.rstrip("\r\n")
                continue
            if not isinstance(record, dict):
                yield n, None, f"expected a JSON object per line, found {type(record).__name__}", line.rstrip("\r\n")
                continue
            yield n, record, None, None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _read_csv(path: str, skip: int, progress):
    # utf-8-sig: a byte-order mark would otherwise rename the first column ("\ufeffid").
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise UsageError(
                f"{path}: no 'text' column; found columns {reader.fieldnames or []}. "
                "Fix: rename the column that holds the ad text to 'text'."
            )
        for n, rec in enumerate(reader, start=1):
            if progress is not None:
                progress.update(1)
            if n <= skip:
                continue
            extra = rec.pop(None, None)
            if extra:
                rec["_extra_columns"] = extra
            if None in rec.values():
                yield n, None, "row has fewer columns than the header", _dumps(rec)
                continue
            if isinstance(rec.get("text"), str) and surrogates.has_surrogates(rec["text"]):
                yield n, None, (
                    "text is not valid UTF-8 (undecodable bytes); re-encode the file as UTF-8"
                ), _dumps(rec)
                continue
            yield n, rec, None, None


def _read_parquet(path: str, skip: int, progress):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise UsageError(f"{path}: not a readable Parquet file ({exc})") from exc
    if "text" not in pf.schema_arrow.names:
        raise UsageError(
            f"{path}: no 'text' column; found columns {pf.schema_arrow.names}. "
            "Fix: rename the column that holds the ad text to 'text'."
        )
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            n += 1
            if progress is not None:
                progress.update(1)
            if n <= skip:
                continue
            yield n, {k: _jsonable(v) for k, v in rec.items()}, None, None


def _jsonable(v):
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


# ---------------------------------------------------------------------------- writing


class _TextWriter:
    """Append-only JSONL or CSV writer with a byte-length checkpoint for resume."""

    def __init__(self, path: str, fmt: str, resume: bool):
        self.path, self.fmt = path, fmt
        self.ckpt = Path(path + ".ckpt.json") if path != "-" else None
        self.done = 0
        self.csv_fields: list[str] | None = None
        if path == "-":
            self.f = sys.stdout
            return
        if resume and self.ckpt and self.ckpt.is_file():
            state = json.loads(self.ckpt.read_text())
            self.done = state["rows"]
            self.csv_fields = state.get("csv_fields")
            if Path(path).exists():
                with open(path, "r+b") as f:  # drop anything written after the last checkpoint
                    f.truncate(state["bytes"])
        elif resume and Path(path).is_file() and fmt == ".jsonl":
            self.done = _count_complete_jsonl(path)
        elif resume and Path(path).is_file():
            raise UsageError(
                f"cannot resume {path}: it has no checkpoint {self.ckpt.name}, so it is either "
                "complete (a finished run removes its checkpoint) or was not written by "
                "'nigehbaan score'. Fix: keep it if it is complete, or delete it and run again."
            )
        mode = "a" if resume and Path(path).exists() else "w"
        # errors="replace": rows are repaired upstream (surrogates.py); nothing unencodable can
        # crash the batch or reach the file as invalid UTF-8.
        self.f = open(path, mode, encoding="utf-8", newline="", errors="replace")  # noqa: SIM115
        if self.done == 0:
            self._checkpoint()  # a run killed before its first batch resumes too

    def write(self, rows: list[dict]) -> None:
        if self.fmt == ".jsonl":
            self.f.write("".join(_dumps(r) + "\n" for r in rows))
        else:
            self._write_csv(rows)
        self.done += len(rows)
        self.f.flush()
        if self.ckpt:
            os.fsync(self.f.fileno())
            self._checkpoint()

    def _checkpoint(self) -> None:
        tmp = self.ckpt.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"rows": self.done, "bytes": self.f.tell(), "csv_fields": self.csv_fields})
        )
        os.replace(tmp, self.ckpt)

    def _write_csv(self, rows: list[dict]) -> None:
        if self.csv_fields is None:
            extra = [k for k in rows[0] if k not in OUTPUT_FIELDS and k != OVERFLOW] if rows else []
            self.csv_fields = [*OUTPUT_FIELDS, *extra, OVERFLOW]
            csv.writer(self.f).writerow(self.csv_fields)
        w = csv.writer(self.f)
        known = set(self.csv_fields)
        for r in rows:
            cells = []
            for k in self.csv_fields[:-1]:
                v = r.get(k)
                cells.append(_dumps(v) if isinstance(v, (dict, list)) else "" if v is None else v)
            rest = {k: v for k, v in r.items() if k not in known}
            cells.append(_dumps(rest) if rest else "")
            w.writerow(cells)

    def close(self) -> None:
        if self.f is not sys.stdout:
            self.f.close()

    def finish(self) -> None:
        """The output is complete: the checkpoint goes."""
        if self.ckpt and self.ckpt.exists():
            self.ckpt.unlink()


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _count_complete_jsonl(path: str) -> int:
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


def _jsonl_to_parquet(src: Path, dst: str) -> None:
    """Convert the JSONL spool to Parquet a chunk at a time; nested fields as JSON strings.

    Every column is declared up front as a string (`risk` as float64): a column whose first
    value comes late (a first error row or `posted_at` after row 8,192) cannot break the file.
    It is written under a temporary name and renamed once its footer is written, so a kill
    during the conversion leaves no final-named file that looks finished.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = dst + ".tmp"
    writer = schema = fields = None
    try:
        with open(src, encoding="utf-8") as f:
            while True:
                chunk = [json.loads(line) for _, line in zip(range(8192), f, strict=False)]
                if not chunk:
                    break
                if fields is None:
                    extra = [k for k in chunk[0] if k not in OUTPUT_FIELDS and k != OVERFLOW]
                    fields = [*OUTPUT_FIELDS, *extra, OVERFLOW]
                    schema = pa.schema(
                        [(k, pa.float64() if k == "risk" else pa.string()) for k in fields]
                    )
                    writer = pq.ParquetWriter(tmp, schema)
                cols = {k: [] for k in fields}
                for r in chunk:
                    for k in fields[:-1]:
                        v = r.get(k)
                        if k == "risk" or v is None:
                            cols[k].append(v)
                        elif k in _NESTED or isinstance(v, (dict, list)):
                            cols[k].append(_dumps(v))
                        else:
                            cols[k].append(str(v))
                    rest = {k: v for k, v in r.items() if k not in fields}
                    cols[OVERFLOW].append(_dumps(rest) if rest else None)
                _write_parquet_chunk(writer, pa.table(cols, schema=schema))
        if writer is None:
            pq.write_table(pa.table({k: pa.array([], pa.string()) for k in OUTPUT_FIELDS}), tmp)
        else:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)


def _write_parquet_chunk(writer, table) -> None:
    writer.write_table(table)


# ---------------------------------------------------------------------------- scoring

_WORKER_MODEL: Model | None = None


def _init_worker(model_dir: str | None, parent: int) -> None:
    global _WORKER_MODEL
    # Ctrl-C goes to the whole process group: the parent handles it, workers must not each
    # print a traceback. A worker whose parent dies (kill -9) exits instead of idling on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _WORKER_MODEL = load_model(model_dir)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _score_batch(batch: list[tuple]) -> list[tuple[int, dict]]:
    return _score_with(_WORKER_MODEL, batch)


def _score_with(model: Model, batch: list[tuple]) -> list[tuple[int, dict]]:
    good = [(n, rec) for n, rec, err, raw in batch if err is None]
    scored = iter(score_records([rec for _, rec in good], model))
    out = []
    for n, _rec, err, raw in batch:
        if err is None:
            row = next(scored)
            if not row.get("id"):  # no id and no text to derive one from
                row["id"] = f"row-{n}"
            out.append((n, row))
        else:
            row = error_row({"id": f"row-{n}", "raw": raw}, err, model)
            if raw is not None:
                row["id"] = derive_id(raw) if raw else f"row-{n}"
            out.append((n, row))
    return out


def _batches(rows, size: int):
    batch = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_file(
    input_path: str,
    output_path: str = "-",
    model_dir: str | None = None,
    resume: bool = False,
    batch_size: int = 256,
    progress: bool = True,
    workers: int | None = None,
) -> Summary:
    """Score every row of `input_path` into `output_path`; see the module docstring.

    Raises UsageError for what the user can fix before anything is written, and Interrupted
    (with how to resume) when stopped by Ctrl-C after some rows were written.
    """
    in_fmt, out_fmt = _format_of(input_path), _format_of(output_path)
    if resume and output_path == "-":
        raise UsageError("--resume needs an output file (-o OUTPUT), not stdout")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, found {batch_size}")
    if input_path != "-" and not Path(input_path).is_file():
        raise UsageError(f"input file {input_path!r} does not exist or is not a file")
    spool = output_path + ".partial.jsonl" if out_fmt == ".parquet" else output_path
    _check_output(input_path, output_path, spool)
    model = load_model(model_dir)  # fail fast on a bad model, before touching the output
    writer = _TextWriter(spool, ".jsonl" if out_fmt == ".parquet" else out_fmt, resume)
    summary = Summary(skipped=writer.done)
    bar = _progress_bar(input_path, in_fmt, progress)
    start = time.perf_counter()
    try:
        rows = read_rows(input_path, skip=writer.done, progress=bar)
        if workers is None and model.contract.kind == "stack":
            workers = 1  # the encoder already uses every core through torch's own threads
        for results in _scored_batches(rows, batch_size, model, model_dir, workers):
            writer.write([row for _, row in results])
            for n, row in results:
                summary.add(row, n)
    except KeyboardInterrupt as exc:
        raise Interrupted(_resume_hint(writer.done, output_path)) from exc
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    if out_fmt == ".parquet":
        try:
            _jsonl_to_parquet(Path(spool), output_path)
        except KeyboardInterrupt as exc:
            raise Interrupted(_resume_hint(writer.done, output_path)) from exc
        Path(spool).unlink()
    writer.finish()
    summary.seconds = time.perf_counter() - start
    return summary


def _resume_hint(done: int, output_path: str) -> str:
    if output_path == "-":
        return f"interrupted after {done:,} rows written to stdout (stdout cannot be resumed)"
    return (
        f"interrupted: {done:,} rows are safely in {output_path} with their checkpoint. "
        "Re-run the same command with --resume to score the rest."
    )


def _check_output(input_path: str, output_path: str, spool: str) -> None:
    """Refuse an output that would destroy the input or cannot be created, before any write."""
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
    for path in dict.fromkeys((output_path, spool, output_path + ".ckpt.json", spool + ".ckpt.json")):
        if Path(path).exists() and os.path.samefile(input_path, path):
            raise UsageError(
                f"-o {output_path!r} is the input file {input_path!r} (or a link to it): "
                "scoring would overwrite the ads. Fix: write the scores to another file."
            )


def _scored_batches(rows, batch_size: int, model: Model, model_dir, workers: int | None):
    """Scored batches in input order; with workers > 1, a bounded number in flight."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1:
        for batch in _batches(rows, batch_size):
            yield _score_with(model, batch)
        return
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(model_dir, os.getpid()))
    finished = False
    try:
        pending = []
        for batch in _batches(rows, batch_size):
            pending.append(pool.submit(_score_batch, batch))
            if len(pending) >= workers * 2:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()
        finished = True
    finally:
        # On Ctrl-C or an error, do not wait for batches whose rows will be scored again.
        pool.shutdown(wait=finished, cancel_futures=not finished)


def _progress_bar(path: str, fmt: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    if path == "-":
        return tqdm(unit="B", unit_scale=True, file=sys.stderr, desc="scoring", leave=False)
    if fmt == ".parquet":
        import pyarrow.parquet as pq

        total = pq.ParquetFile(path).metadata.num_rows
        return tqdm(total=total, unit="ads", file=sys.stderr, desc="scoring", leave=False)
    if fmt == ".csv":  # rows may span lines, so count rows rather than bytes
        return tqdm(unit="ads", file=sys.stderr, desc="scoring", leave=False)
    return tqdm(
        total=os.path.getsize(path), unit="B", unit_scale=True, file=sys.stderr,
        desc="scoring", leave=False,
    )

