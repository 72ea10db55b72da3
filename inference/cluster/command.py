"""`nigehbaan cluster`: every input row once, in order, with `template_id` and `network_id`.

Clustering needs every ad at once, so the input is read twice when it is a file: a first pass
keeps only what clustering and the summary need (shingles, contacts, a few metadata fields),
a second pass writes each row with its ids. Standard input is read once and kept.

Ids are stable across runs on the same input: `t-` / `n-` + 12 hex of the SHA-256 of the
first member's id (its row number is added when that id is not unique in the input).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nigehbaan.inference import surrogates
from nigehbaan.inference.cluster.ads import features_all
from nigehbaan.inference.cluster.contacts import HUB_CAP, network_labels
from nigehbaan.inference.cluster.near_dup import TemplateConfig, template_labels
from nigehbaan.inference.cluster.summary import (
    ALIGN_MEMBERS,
    AdMeta,
    meta_of,
    summary_row,
    template_text,
)
from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.io import check_output, decode_cells, format_of, readers, writers
from nigehbaan.inference.schema import SCORED_COLUMNS
from nigehbaan.inference.scorer import check_text, derive_id

CLUSTER_COLUMNS = [("id", "string"), ("template_id", "string"), ("network_id", "string")]
_WRITE_BATCH = 5000


@dataclass
class ClusterSummary:
    rows: int = 0
    errors: int = 0
    templates: int = 0
    networks: int = 0
    multi_templates: int = 0  # templates of 2+ ads
    multi_networks: int = 0  # networks of 2+ templates
    boilerplate_shingles: int = 0
    seconds: float = 0.0
    hubs: dict = field(default_factory=dict)
    first_errors: list = field(default_factory=list)

    def format(self) -> str:
        lines = [
            f"clustered {self.rows:,} rows in {self.seconds:.1f}s: {self.templates:,} templates "
            f"({self.multi_templates:,} with re-posts), {self.networks:,} networks "
            f"({self.multi_networks:,} joining 2+ templates); "
            f"{self.boilerplate_shingles:,} boilerplate shingles ignored",
            f"errors: {self.errors:,}",
        ]
        lines += [f"  {e}" for e in self.first_errors]
        if self.hubs:
            lines.append(
                f"hub contacts (in more than {HUB_CAP} templates, not used for joining): "
                + ", ".join(f"{k} ({v} templates)" for k, v in sorted(self.hubs.items(), key=lambda kv: -kv[1])[:10])
            )
        return "\n".join(lines)


def _read(path: str):
    """(n, record or None, error or None, raw) per input row, table cells decoded."""
    fmt = format_of(path, "input")
    for row in readers[fmt](path):
        rec = row.record
        if rec is not None and fmt in ("csv", "parquet"):
            try:
                rec = decode_cells(rec, SCORED_COLUMNS)
            except ValueError:
                pass  # keep the cells as they are; clustering reads only text and entities
        if rec is not None:  # lone surrogates become U+FFFD, as `score` writes them
            rec, _ = surrogates.repair(rec)
        raw = surrogates.repair(row.raw)[0] if row.raw else row.raw
        yield row.n, rec, row.error, raw


def _row_id(n: int, rec: dict | None, raw: str | None) -> str:
    if rec is not None:
        rid = rec.get("id")
        if isinstance(rid, (str, int)) and str(rid):
            return str(rid)
        text = rec.get("text")
        return derive_id(text) if isinstance(text, str) and text.strip() else f"row-{n}"
    return derive_id(raw) if raw else f"row-{n}"


def _ids(prefix: str, keys: list[str]) -> list[str]:
    return [prefix + hashlib.sha256(k.encode("utf-8", "surrogatepass")).hexdigest()[:12] for k in keys]


def cluster_file(
    input_path: str,
    output_path: str,
    clusters_path: str | None = None,
    cfg: TemplateConfig | None = None,
    hub_cap: int = HUB_CAP,
    workers: int | None = None,
) -> ClusterSummary:
    """Cluster every ad of `input_path` into `output_path` (and summaries into
    `clusters_path`); raises UsageError for what the user can fix before anything is written."""
    cfg = cfg or TemplateConfig()
    start = time.perf_counter()
    out_fmt = format_of(output_path, "output")
    sum_fmt = format_of(clusters_path, "clusters file") if clusters_path else None
    if input_path != "-" and not Path(input_path).is_file():
        raise UsageError(f"input file {input_path!r} does not exist or is not a file")
    for path in filter(None, (output_path, clusters_path)):
        check_output(input_path, path, [path], "clustering")
    if clusters_path and clusters_path == output_path:
        raise UsageError("--clusters and -o name the same file. Fix: choose two file names.")

    summary = ClusterSummary()
    kept: list | None = [] if input_path == "-" else None  # stdin cannot be read twice
    ids: list[str] = []
    errors: dict[int, str] = {}  # row index -> error
    good: list[int] = []
    slim: list[dict] = []
    scored = False
    for i, (n, rec, err, raw) in enumerate(_read(input_path)):
        if kept is not None:
            kept.append((rec, err, raw))
        ids.append(_row_id(n, rec, raw))
        if err is None:
            err = check_text(rec)
        if err is not None:
            errors[i] = err
            if len(summary.first_errors) < 5:
                summary.first_errors.append(f"row {n}: {err}")
            continue
        scored = scored or "risk" in rec
        good.append(i)
        slim.append({k: rec.get(k) for k in ("text", "entities", "lang", "platform", "posted_at",
                                              "risk", "band", "indicators")})
    summary.rows, summary.errors = len(ids), len(errors)

    feats = features_all(slim, cfg.shingle_size, workers)
    metas = [meta_of(ids[i], r, f.lang, f.contacts) for i, r, f in zip(good, slim, feats, strict=True)]
    del slim
    t_good, summary.boilerplate_shingles = template_labels([f.shingles for f in feats], cfg)
    n_t = int(t_good.max()) + 1 if len(t_good) else 0
    net_of_t, hubs = network_labels(t_good, [f.contacts for f in feats], hub_cap)
    summary.hubs = hubs

    # ids from the first member's id (made unique with its row number when ids repeat)
    id_count = Counter(ids)
    keys = [rid if id_count[rid] == 1 else f"{rid}#{i + 1}" for i, rid in enumerate(ids)]
    first_of_t = np.full(n_t, -1, np.int64)
    for j in range(len(good) - 1, -1, -1):
        first_of_t[t_good[j]] = good[j]
    n_n = int(net_of_t.max()) + 1 if n_t else 0
    first_of_n = np.full(n_n, len(ids), np.int64)
    np.minimum.at(first_of_n, net_of_t, first_of_t)
    t_names = _ids("t-", [keys[i] for i in first_of_t])
    n_names = _ids("n-", [keys[i] for i in first_of_n])
    template_id = [""] * len(ids)
    network_id = [""] * len(ids)
    for j, i in enumerate(good):
        template_id[i] = t_names[t_good[j]]
        network_id[i] = n_names[net_of_t[t_good[j]]]
    err_t, err_n = _ids("t-", [keys[i] for i in errors]), _ids("n-", [keys[i] for i in errors])
    for k, i in enumerate(errors):
        template_id[i], network_id[i] = err_t[k], err_n[k]

    summary.templates = n_t + len(errors)
    summary.networks = n_n + len(errors)
    summary.multi_templates = int((np.bincount(t_good, minlength=n_t) > 1).sum()) if n_t else 0
    summary.multi_networks = int((np.bincount(net_of_t, minlength=n_n) > 1).sum()) if n_n else 0

    rows = iter(kept) if kept is not None else ((r, e, w) for _, r, e, w in _read(input_path))
    columns = CLUSTER_COLUMNS + ([c for c in SCORED_COLUMNS if c[0] != "id"] if scored else [])
    _write_rows(output_path, out_fmt, columns, rows, ids, errors, template_id, network_id)
    if clusters_path:
        texts = _template_texts(t_good, feats)
        del feats
        _write_clusters(clusters_path, sum_fmt, metas, t_good, net_of_t, t_names, n_names, hubs, texts)
    summary.seconds = time.perf_counter() - start
    return summary


def _write_rows(path, fmt, columns, rows, ids, errors, template_id, network_id) -> None:
    """Each input row with its ids (an unreadable row as its raw text and error)."""
    writer = writers[fmt](path, resume=False, columns=columns)
    written = 0
    try:
        batch = []
        for i, (rec, err, raw) in enumerate(rows):
            written += 1
            if i in errors:
                row = dict(rec) if rec is not None else {"raw": raw}
                row["id"] = ids[i]
                row["error"] = errors[i] if err is None else err
            else:
                row = dict(rec)
                row["id"] = ids[i]  # the input id as a string, or the derived one (as `score`)
                row.setdefault("error", None)
            row["template_id"], row["network_id"] = template_id[i], network_id[i]
            batch.append(row)
            if len(batch) >= _WRITE_BATCH:
                writer.write(batch)
                batch = []
        if batch:
            writer.write(batch)
        writer.close(complete=True)
    finally:
        writer.close()
    if written != len(ids):  # the input file changed between the two passes
        raise UsageError(
            f"the input changed while it was being clustered ({len(ids):,} rows, then "
            f"{written:,}). Fix: cluster a copy that nothing writes to."
        )


def _template_texts(t_good: np.ndarray, feats) -> dict[int, str]:
    members: dict[int, list[str]] = defaultdict(list)
    for t, f in zip(t_good.tolist(), feats, strict=True):
        if len(members[t]) < ALIGN_MEMBERS:
            members[t].append(f.norm_text)
    return {t: template_text(m) for t, m in members.items()}


def _write_clusters(path, fmt, metas: list[AdMeta], t_good, net_of_t, t_names, n_names, hubs, texts):
    by_t: dict[int, list[AdMeta]] = defaultdict(list)
    by_n: dict[int, list[AdMeta]] = defaultdict(list)
    templates_of_n: dict[int, list[str]] = defaultdict(list)
    for m, t in zip(metas, t_good.tolist(), strict=True):
        by_t[t].append(m)
        by_n[int(net_of_t[t])].append(m)
    for t in range(len(t_names)):
        templates_of_n[int(net_of_t[t])].append(t_names[t])
    writer = writers[fmt](path, resume=False, columns=[("id", "string"), ("kind", "string"), ("size", "float")])
    try:
        batch = []
        for t, ms in by_t.items():
            row = summary_row(t_names[t], "template", ms)
            row["network_id"] = n_names[int(net_of_t[t])]
            row["template"] = texts[t]
            batch.append(row)
        for nn, ms in by_n.items():
            row = summary_row(n_names[nn], "network", ms, hubs)
            row["templates"] = templates_of_n[nn]
            batch.append(row)
        for lo in range(0, len(batch), _WRITE_BATCH):
            writer.write(batch[lo : lo + _WRITE_BATCH])
        writer.close(complete=True)
    finally:
        writer.close()


