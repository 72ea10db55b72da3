"""Clustering on Spark: `cluster_dataframe(df)` gives every row the `template_id` and
`network_id` that `nigehbaan cluster` gives it, for archives too large for one machine.

Each step is the single-machine one (inference/cluster/), distributed:

1. per ad, in `mapInPandas`: the command's own row id, text check and `features` (normalised
   text, masked word 3-gram shingles, contact keys), so both paths read an ad alike;
2. templates (near_dup.py): ads with identical shingle sets are one doc; shingles in more
   than `max(df_min_cap, df_frac * docs)` docs are boilerplate and dropped; MinHash signatures
   with near_dup's own `signatures` (datasketch's legacy permutations) and the same LSH band
   keys; per band bucket, every doc paired with the bucket's first doc (the same star as
   `_band_pairs`); each pair verified by near_dup's own `_verify` (IDF-weighted Jaccard or
   containment, `min_shared`); connected components over the verified pairs in Spark
   (cluster_graph.py). pyspark.ml's MinHashLSH is not used: its hash family and its
   Jaccard-distance join differ from the single-machine signatures and weighted check, so it
   would find other pairs; the banding here finds exactly the same ones;
3. networks (contacts.py): templates joined by a shared contact, a contact in more than
   `hub_cap` templates (a hub) skipped, as `network_labels` does;
4. ids as command.py derives them: `t-`/`n-` + 12 hex of the SHA-256 of the first member's
   row key (its id, or `id#row` when ids repeat). Docs, templates and networks are labelled
   by their smallest input position, so "first member" is the same ad, and the ids equal the
   command's on the same input (the verification sums in float32 as the command does; only a
   pair at a threshold to the last bit could go the other way).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from nigehbaan.inference.cluster.contacts import HUB_CAP
from nigehbaan.inference.cluster.near_dup import TemplateConfig
from nigehbaan.inference.errors import UsageError
from nigehbaan.spark.cluster_graph import connected_components, cut
from nigehbaan.spark.score import POSITION

ID_COLUMNS = ("id", "template_id", "network_id", "error")
# the band-key mixing constant of near_dup._band_pairs
_MULT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class _FeatSpec:
    text_col: str
    position_col: str
    shingle_size: int
    columns: tuple[str, ...]  # of id, entities, lang: those the input has
    raw_col: str | None = None  # an unparsed JSON line per row (the job's JSON input)


@dataclass
class ClusterInfo:
    """What the job reports beside the rows."""

    docs: int = 0
    boilerplate_shingles: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    hubs: dict | None = None
    seconds: dict = field(default_factory=dict)  # per step, before the output is written


def cluster_dataframe(df, text_col: str = "text", cfg: TemplateConfig | None = None,
                      hub_cap: int = HUB_CAP, position_col: str = POSITION):
    """Cluster every row of a Spark DataFrame; returns its columns with `id` (the input id as
    a string, or the derived one), `template_id`, `network_id` and `error` (why a row could
    not be read; it still gets ids of its own), one row per input row, sorted by
    `position_col` (added, contiguous from 0 as the CLI counts rows, when missing).

    Optional input columns used as `nigehbaan cluster` uses them: `id`, `entities` (a scored
    ad's, struct or JSON string; else contacts are extracted from the text) and `lang`."""
    if text_col not in df.columns:
        raise UsageError(
            f"no text column {text_col!r} in the DataFrame: expected the ads' text there; found "
            f"columns {', '.join(df.columns) or '(none)'}. Fix: pass text_col=<the column>."
        )
    return cluster_with_info(df, text_col, cfg, hub_cap, position_col)[0]


def cluster_with_info(df, text_col: str = "text", cfg: TemplateConfig | None = None,
                      hub_cap: int = HUB_CAP, position_col: str = POSITION, raw_col: str | None = None):
    """`cluster_dataframe` and a `ClusterInfo` (boilerplate, pairs, hubs)."""
    from pyspark.sql import functions as F

    from nigehbaan.spark.job import with_position

    cfg = cfg or TemplateConfig()
    info = ClusterInfo()
    if position_col not in df.columns:
        df = with_position(df) if position_col == POSITION else df.withColumn(
            position_col, F.monotonically_increasing_id())
    t0 = time.perf_counter()
    feats = cut(_features(df, cfg, text_col, position_col, raw_col))
    good = feats.where(F.col("error").isNull())
    info.seconds["features"] = time.perf_counter() - t0
    templates = _templates(good, cfg, info)  # (pos, t)
    info.seconds["templates"] = time.perf_counter() - t0 - sum(info.seconds.values())
    networks = _networks(good, templates, hub_cap, info)  # (t, n)
    info.seconds["networks"] = time.perf_counter() - t0 - sum(info.seconds.values())
    ids = _ids(feats, templates, networks)  # (pos, id, template_id, network_id, error)
    rest = [c for c in df.columns if c not in ID_COLUMNS and c not in (position_col, raw_col)]
    out = df.select(F.col(position_col).alias("pos"), *rest,
                    *([F.col(raw_col).alias("_raw")] if raw_col else []))
    out = out.join(ids, "pos")
    cols = [*ID_COLUMNS[:3], *rest, "error"]
    if raw_col:  # an unreadable JSON line, as `nigehbaan cluster` writes it
        out = out.withColumn("raw", F.when(F.col("_unread"), F.col("_raw")))
        cols.append("raw")
    out = out.select(*cols, F.col("pos").alias(position_col))
    return out.orderBy(position_col), info


# ---- 1. features, on the executors ----------------------------------------------------------

def _features(df, cfg: TemplateConfig, text_col: str, position_col: str, raw_col: str | None):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    present = tuple(c for c in ("id", "entities", "lang") if c in df.columns and c != text_col)
    cols = [F.col(position_col).alias("pos")]
    if raw_col:
        cols.append(F.col(raw_col).alias("_raw"))
    else:
        cols.append(F.col(text_col).alias("_text"))
        for c in present:
            col = F.col(c)
            if c == "id" and isinstance(df.schema[c].dataType, T.IntegralType):
                col = col.cast("string")  # as str(int): pandas would make an int column with nulls float
            cols.append(col.alias(c))
    spec = _FeatSpec(text_col, position_col, cfg.shingle_size, present, raw_col)
    schema = (T.StructType().add("pos", T.LongType()).add("row_id", T.StringType())
              .add("error", T.StringType()).add("_unread", T.BooleanType())
              .add("shingles", T.ArrayType(T.LongType())).add("contacts", T.ArrayType(T.StringType())))
    return df.select(*cols).mapInPandas(functools.partial(_feature_batches, spec), schema)


def _feature_batches(spec: _FeatSpec, batches: Iterator) -> Iterator:
    import pandas as pd

    from nigehbaan.inference import surrogates
    from nigehbaan.inference.cluster.ads import features
    from nigehbaan.inference.cluster.command import _row_id
    from nigehbaan.inference.io.jsonl import _BOM, _parse
    from nigehbaan.inference.scorer import check_text

    for pdf in batches:
        out = {k: [] for k in ("pos", "row_id", "error", "_unread", "shingles", "contacts")}
        for i in range(len(pdf)):
            pos = int(pdf["pos"].iat[i])
            n, raw, unread = pos + 1, None, False
            if spec.raw_col:
                line = (pdf["_raw"].iat[i] or "").encode("utf-8", "surrogatepass")
                p = _parse(n, line.removeprefix(_BOM) if pos == 0 else line, n)
                rec, err, raw = p.record, p.error, p.raw
                unread = err is not None
            else:
                rec = {"text": _plain(pdf["_text"].iat[i])}
                for c in spec.columns:
                    v = _plain(pdf[c].iat[i])
                    if v is not None:
                        rec[c] = v
                err = None
            if rec is not None:  # lone surrogates become U+FFFD, as the command reads them
                rec, _ = surrogates.repair(rec)
            raw = surrogates.repair(raw)[0] if raw else raw
            out["pos"].append(pos)
            out["row_id"].append(_row_id(n, rec, raw))
            if err is None:
                err = check_text(rec)
            out["error"].append(err)
            out["_unread"].append(unread)
            if err is None:
                f = features(rec, spec.shingle_size)
                out["shingles"].append(f.shingles.astype(np.int64))
                out["contacts"].append(list(f.contacts))
            else:
                out["shingles"].append(None)
                out["contacts"].append(None)
        yield pd.DataFrame(out)


def _plain(v):
    """An Arrow/pandas cell as the value a JSON reader gives: structs as dicts, arrays as lists,
    numpy scalars as Python ones, NaN/None as None."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    return v.item() if isinstance(v, np.generic) else v


# ---- 2. templates ---------------------------------------------------------------------------

def _templates(good, cfg: TemplateConfig, info: ClusterInfo):
    """(pos, t) for every readable ad: t is the smallest position in its template."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    docs = cut(good.groupBy("shingles").agg(F.min("pos").alias("doc"),
                                           F.collect_list("pos").alias("members")))
    t0 = time.perf_counter()
    info.docs = n_docs = docs.count()
    cap = max(cfg.df_min_cap, cfg.df_frac * n_docs)
    grams = docs.select("doc", F.explode("shingles").alias("sh"))
    df = grams.groupBy("sh").agg(F.count("*").alias("df"))
    info.boilerplate_shingles = df.where(F.col("df") > cap).count()
    # idf as near_dup computes it: log1p(docs / df) in float64, then float32
    live = (grams.join(df.where(F.col("df") <= cap), "sh")
            .withColumn("w", F.log1p(F.lit(float(n_docs)) / F.col("df")).cast("float"))
            .groupBy("doc").agg(F.sort_array(F.collect_list(F.struct("sh", "w"))).alias("s"))
            .select("doc", F.col("s.sh").alias("sh"), F.col("s.w").alias("w")))
    live = cut(live)
    bands = live.select("doc", "sh").mapInPandas(
        functools.partial(_band_keys, cfg),
        T.StructType().add("band", T.IntegerType()).add("key", T.LongType()).add("doc", T.LongType()))
    pairs = (bands.groupBy("band", "key").agg(F.min("doc").alias("a"), F.collect_list("doc").alias("m"))
             .where(F.size("m") > 1)
             .select("a", F.explode("m").alias("b")).where(F.col("a") != F.col("b")).distinct())
    pairs = cut(pairs)
    info.candidate_pairs = pairs.count()
    side = live.select("doc", "sh", "w")
    joined = (pairs.join(side.toDF("a", "sa", "wa"), "a").join(side.toDF("b", "sb", "wb"), "b"))
    edges = cut(joined.mapInPandas(functools.partial(_verify_batches, cfg), "a long, b long"))
    info.verified_pairs = edges.count()
    info.seconds["pairs"] = time.perf_counter() - t0
    comp = connected_components(edges, "a", "b")  # (node = doc, label)
    doc_t = (docs.select("doc", F.explode("members").alias("pos"))
             .join(comp.withColumnRenamed("node", "doc"), "doc", "left")
             .select("pos", F.coalesce("label", "doc").alias("t")))
    return cut(doc_t)


def _band_keys(cfg: TemplateConfig, batches: Iterator) -> Iterator:
    """(band, key, doc) per live doc and band: near_dup's signatures and band keys."""
    import pandas as pd

    from nigehbaan.inference.cluster.near_dup import signatures

    rows = cfg.num_perm // cfg.bands
    for pdf in batches:
        if not len(pdf):
            continue
        sets = [np.asarray(s, np.int64).astype(np.uint32) for s in pdf["sh"]]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
        sig = signatures(np.concatenate(sets), offsets, cfg)
        docs = pdf["doc"].to_numpy(np.int64)
        for band in range(cfg.bands):
            key = np.zeros(len(sig), np.uint64)
            with np.errstate(over="ignore"):
                for c in range(band * rows, (band + 1) * rows):
                    key = (key ^ sig[:, c].astype(np.uint64)) * _MULT
            yield pd.DataFrame({"band": np.full(len(docs), band, np.int32),
                                "key": key.view(np.int64), "doc": docs})


def _verify_batches(cfg: TemplateConfig, batches: Iterator) -> Iterator:
    """The candidate pairs near_dup's `_verify` keeps, on a small matrix of the batch's docs
    (columns: the batch's shingles in sorted order, as the command's vocabulary orders them)."""
    import pandas as pd
    from scipy.sparse import csr_matrix

    from nigehbaan.inference.cluster.near_dup import _verify

    for pdf in batches:
        m = len(pdf)
        if not m:
            continue
        sets = [np.asarray(s, np.int64) for s in pdf["sa"]] + [np.asarray(s, np.int64) for s in pdf["sb"]]
        weights = [np.asarray(w, np.float32) for w in pdf["wa"]] + [np.asarray(w, np.float32) for w in pdf["wb"]]
        flat = np.concatenate(sets)
        vocab, col = np.unique(flat, return_inverse=True)
        indptr = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
        x = csr_matrix((np.concatenate(weights), col.ravel(), indptr), shape=(2 * m, len(vocab)))
        pairs = np.stack([np.arange(m), np.arange(m) + m], axis=1)
        kept = _verify(pairs, x, cfg)[:, 0]
        yield pd.DataFrame({"a": pdf["a"].to_numpy(np.int64)[kept], "b": pdf["b"].to_numpy(np.int64)[kept]})


# ---- 3. networks ----------------------------------------------------------------------------

def _networks(good, templates, hub_cap: int, info: ClusterInfo):
    """(t, n) for every template: n is the smallest t of its network."""
    from pyspark.sql import functions as F

    tc = (good.select("pos", F.explode("contacts").alias("c")).join(templates, "pos")
          .select("c", "t").distinct())
    per = cut(tc.groupBy("c").agg(F.count("*").alias("k"), F.min("t").alias("lead"),
                                  F.collect_list("t").alias("ts")))
    info.hubs = {r["c"]: r["k"] for r in per.where(F.col("k") > hub_cap).select("c", "k").collect()}
    edges = (per.where((F.col("k") >= 2) & (F.col("k") <= hub_cap))
             .select("lead", F.explode("ts").alias("t")).where(F.col("lead") != F.col("t")))
    comp = connected_components(edges, "lead", "t")
    ts = templates.select("t").distinct()
    return cut(ts.join(comp.withColumnRenamed("node", "t"), "t", "left")
               .select("t", F.coalesce("label", "t").alias("n")))


# ---- 4. ids ---------------------------------------------------------------------------------

def _ids(feats, templates, networks):
    """(pos, id, template_id, network_id, error, _unread) for every row, named as command.py
    names them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counted = feats.withColumn("_k", F.count("*").over(Window.partitionBy("row_id")))
    keys = counted.select("pos", "row_id", "error", "_unread", F.when(
        F.col("_k") == 1, F.col("row_id")).otherwise(
        F.concat(F.col("row_id"), F.lit("#"), (F.col("pos") + 1).cast("string"))).alias("key"))
    keys = cut(keys)
    key_of = keys.select(F.col("pos").alias("at"), F.col("key").alias("k"))
    rows = (keys.join(templates, "pos", "left").join(networks, "t", "left")
            .withColumn("t", F.coalesce("t", "pos")).withColumn("n", F.coalesce("n", "pos")))
    rows = (rows.join(key_of.toDF("t", "tkey"), "t").join(key_of.toDF("n", "nkey"), "n"))

    def name(prefix, col):
        return F.concat(F.lit(prefix), F.substring(F.sha2(F.col(col), 256), 1, 12))

    return rows.select("pos", F.col("row_id").alias("id"), name("t-", "tkey").alias("template_id"),
                       name("n-", "nkey").alias("network_id"), "error", "_unread")
