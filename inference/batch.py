"""Batch scoring of files: streaming JSONL / CSV / Parquet in and out, order kept, resumable.

Memory stays bounded: rows are read, scored and written a batch at a time, with at most a few
batches in flight. Every input row yields exactly one output row, in input order; a row that
cannot be read or scored carries `error` (and, when it could not even be parsed, its raw line
in `raw`) so nothing is lost.

Reading and writing are the I/O layer's (`nigehbaan.inference.io`: one reader and one writer
per format, chosen by extension). Resume: the writer's checkpoint `OUTPUT.ckpt.json` records how
many input rows are done; `--resume` truncates the output to it and skips that many input rows,
so a killed job restarts without gaps or duplicates (see io/checkpoint.py). Parquet output is
spooled to `OUTPUT.partial.jsonl` and converted at the end; compressed output is not resumable.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from nigehbaan.inference import scorecache, surrogates
from nigehbaan.inference.errors import Interrupted, UsageError
from nigehbaan.inference.io import Row, check_output, format_of, readers, writers
from nigehbaan.inference.model import Model, load_model
from nigehbaan.inference.schema import SCORED_COLUMNS
from nigehbaan.inference.scorer import _warnings_of, derive_id, error_row, score_records


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
    cache_hits: int = 0  # exact re-posts: rows looked up, not scored (scorecache.py)
    norm_hits: int = 0  # same normalised text: features and model skipped

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
            self.cache_line(),
        ]
        lines += [f"  {e}" for e in self.first_errors]
        return "\n".join(lines)


    def cache_line(self) -> str:
        share = self.cache_hits / self.rows if self.rows else 0.0
        return (
            f"score cache: {self.cache_hits:,} exact re-posts looked up ({share:.1%} hit rate), "
            f"{self.norm_hits:,} more with the same normalised text (model skipped)"
        )


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


def _score_batch(batch: list[Row]) -> tuple[list[tuple[int, dict]], int]:
    return _score_counting(_WORKER_MODEL, batch)


def _score_counting(model: Model, batch: list[Row]) -> tuple[list[tuple[int, dict]], int]:
    """`_score_with` and the normalised-text cache hits it made (for the summary)."""
    before = scorecache.STATS["norm_hits"]
    out = _score_with(model, batch)
    return out, scorecache.STATS["norm_hits"] - before


def _score_with(model: Model, batch: list[Row]) -> list[tuple[int, dict]]:
    scored = iter(score_records([r.record for r in batch if r.error is None], model))
    out = []
    for n, _rec, err, raw, _line in batch:
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
    cache_entries: int = scorecache.REPOST_ENTRIES,
) -> Summary:
    """Score every row of `input_path` into `output_path`; see the module docstring.

    Re-posts are not scored twice (scorecache.py): `cache_entries` caps the exact-text cache
    (0 turns both caches' lookups of earlier rows off for this run's exact re-posts).

    Raises UsageError for what the user can fix before anything is written, and Interrupted
    (with how to resume) when stopped by Ctrl-C after some rows were written.
    """
    in_fmt, out_fmt = format_of(input_path, "input"), format_of(output_path, "output")
    if resume and output_path == "-":
        raise UsageError("--resume needs an output file (-o OUTPUT), not stdout")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, found {batch_size}")
    if input_path != "-" and not Path(input_path).is_file():
        raise UsageError(f"input file {input_path!r} does not exist or is not a file")
    writer_cls = writers[out_fmt]
    check_output(input_path, output_path, writer_cls.paths(output_path), "scoring")
    model = load_model(model_dir)  # fail fast on a bad model, before touching the output
    writer = writer_cls(output_path, resume=resume, columns=SCORED_COLUMNS)
    summary = Summary(skipped=writer.done)
    cache = scorecache.RepostCache(cache_entries if scorecache.enabled() else 0)
    if writer.done and out_fmt == "jsonl":
        _refill(cache, output_path, model)  # --resume: the rows already written
    bar = _progress_bar(input_path, in_fmt, progress)
    start = time.perf_counter()
    try:
        rows = readers[in_fmt](input_path, skip=writer.done, progress=bar)
        if workers is None and model.contract.kind == "stack":
            workers = 1  # the encoder already uses every core through torch's own threads
        for results in _scored_batches(rows, batch_size, model, model_dir, workers, cache, summary):
            writer.write([row for _, row in results])
            for n, row in results:
                summary.add(row, n)
        if bar is not None:
            bar.close()
        writer.close(complete=True)  # Parquet: the conversion; compressed: the rename
    except KeyboardInterrupt as exc:
        raise Interrupted(_resume_hint(writer, output_path)) from exc
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _resume_hint(writer, output_path: str) -> str:
    done = writer.done
    if output_path == "-":
        return f"interrupted after {done:,} rows written to stdout (stdout cannot be resumed)"
    if not writer.resumable:
        return (
            f"interrupted after {done:,} rows; compressed output is written whole or not at "
            f"all, so nothing was kept. Re-run the command (without --resume), or write a "
            f"plain .jsonl, which can be resumed."
        )
    return (
        f"interrupted: {done:,} rows are safely in {output_path} with their checkpoint. "
        "Re-run the same command with --resume to score the rest."
    )


def _refill(cache: scorecache.RepostCache, path: str, model: Model) -> None:
    """Fill the re-post cache from a JSONL output being resumed (its complete rows)."""
    import json

    with open(path, "rb") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                cache.remember_output(row, model.info)


def _from_cache(r: Row, text: str, fields: dict) -> dict:
    record, repaired = surrogates.repair(r.record)
    warnings = [f"{repaired} lone surrogate(s) (a cut emoji?) replaced by U+FFFD"] if repaired else []
    return scorecache.row_from_cache(record, fields, warnings + _warnings_of(text))


def _split_cached(batch: list[Row], cache: scorecache.RepostCache) -> tuple[list[Row], dict]:
    """The rows to score, and {n: row} for the exact re-posts answered from the cache, or
    {n: key} for a copy of a text first seen earlier in this batch (answered in `_merge`)."""
    todo, hits, first = [], {}, set()
    for r in batch:
        text = r.record.get("text") if r.error is None else None
        if not isinstance(text, str) or cache.max_entries <= 0:
            todo.append(r)
            continue
        key = scorecache.text_key(text)
        fields = cache.lookup(key)
        if fields is not None:
            hits[r.n] = _from_cache(r, text, fields)
        elif key in first:
            hits[r.n] = key
        else:
            first.add(key)
            todo.append(r)
    return todo, hits


def _merge(batch: list[Row], hits: dict, scored: list[tuple[int, dict]], cache, model) -> list[tuple[int, dict]]:
    """The batch's rows in input order: cached ones and freshly scored ones (remembered)."""
    fresh = iter(scored)
    out = []
    for r in batch:
        hit = hits.get(r.n)
        if isinstance(hit, bytes):  # a copy of a text scored earlier in this batch
            fields = cache.lookup(hit)
            hit = (_from_cache(r, r.record["text"], fields) if fields is not None
                   else _score_with(model, [r])[0][1])  # its first copy failed: score it alone
        if hit is not None:
            out.append((r.n, hit))
            continue
        n, row = next(fresh)
        if r.error is None:
            cache.remember(r.record, row)
        out.append((n, row))
    return out


def _scored_batches(rows, batch_size: int, model: Model, model_dir, workers: int | None,
                    cache: scorecache.RepostCache | None = None, summary: Summary | None = None):
    """Scored batches in input order; with workers > 1, a bounded number in flight. Exact
    re-posts are answered from `cache` here and never sent to a worker."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    cache = cache if cache is not None else scorecache.RepostCache(0)
    summary = summary if summary is not None else Summary()

    def finish(batch, hits, scored, norm_hits):
        summary.cache_hits += len(hits)
        summary.norm_hits += norm_hits
        return _merge(batch, hits, scored, cache, model)

    if workers <= 1:
        for batch in _batches(rows, batch_size):
            todo, hits = _split_cached(batch, cache)
            scored, norm_hits = _score_counting(model, todo) if todo else ([], 0)
            yield finish(batch, hits, scored, norm_hits)
        return
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(model_dir, os.getpid()))
    finished = False
    try:
        pending = []
        for batch in _batches(rows, batch_size):
            todo, hits = _split_cached(batch, cache)
            pending.append((batch, hits, pool.submit(_score_batch, todo) if todo else None))
            if len(pending) >= workers * 2:
                b, h, fut = pending.pop(0)
                yield finish(b, h, *(fut.result() if fut else ([], 0)))
        for b, h, fut in pending:
            yield finish(b, h, *(fut.result() if fut else ([], 0)))
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
    if fmt == "parquet":
        import pyarrow.parquet as pq

        total = pq.ParquetFile(path).metadata.num_rows
        return tqdm(total=total, unit="ads", file=sys.stderr, desc="scoring", leave=False)
    if fmt == "csv":  # rows may span lines, so count rows rather than bytes
        return tqdm(unit="ads", file=sys.stderr, desc="scoring", leave=False)
    if fmt != "jsonl":  # compressed: decompressed bytes, total unknown
        return tqdm(unit="B", unit_scale=True, file=sys.stderr, desc="scoring", leave=False)
    return tqdm(
        total=os.path.getsize(path), unit="B", unit_scale=True, file=sys.stderr,
        desc="scoring", leave=False,
    )

