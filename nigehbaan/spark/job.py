"""The Spark job a data engineer submits:

    spark-submit [cluster options] "$(python -m nigehbaan.spark entry)" score \\
        --input hdfs:///feeds/ads/2026-11/ --output s3a://unit/scored/2026-11 --model fast

or, on one machine, `python -m nigehbaan.spark score --input ads.jsonl --output scored`.

Reads Parquet or JSON lines from any path Spark can reach, writes one output row per input row
(in input order: part files in order, rows sorted by `input_position`), a row that cannot be
scored carrying `error`. The output appears atomically: Spark writes into a hidden temporary
folder beside OUTPUT, and only when its committer has written `_SUCCESS` there is the folder
renamed to OUTPUT; a failed job leaves no OUTPUT (and removes the temporary folder when it
can). Exit status as `nigehbaan score`: 0 every row scored, 1 some rows carry `error`, 2 usage
error (missing input, existing output, unknown model, no text column).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from nigehbaan.inference.errors import UsageError
from nigehbaan.inference.model import load_model
from nigehbaan.spark.score import POSITION, _score, model_key

EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE = 0, 1, 2
FORMATS = ("parquet", "json")
_RAW = "_nigehbaan_raw_line"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nigehbaan.spark",
        description="Nigehbaan on Spark. `entry` prints the path of this entry point for "
        "spark-submit, which needs a .py file.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="score ads from Parquet or JSON lines on any Spark path")
    s.add_argument("--input", required=True, help="a file or folder (local, hdfs://, s3a://, ...)")
    s.add_argument("--output", required=True, help="the output folder; must not exist yet")
    s.add_argument("--model", default="default",
                   help="a bundled model (default, fast, rules) or a model directory readable at "
                   "the same path on the driver and every executor (default: default)")
    s.add_argument("--format", choices=FORMATS, default="parquet",
                   help="output format (default parquet; json writes JSON lines)")
    s.add_argument("--input-format", choices=FORMATS, default=None,
                   help="input format (default: json for .json/.jsonl[.gz|.bz2] paths, else parquet)")
    s.add_argument("--text-col", default="text", help="the column holding the ad (default text)")
    s.add_argument("--partitions", type=int, default=None,
                   help="score in this many partitions, input order kept (default: as read; a "
                   "single JSON or gzip file reads as one partition, i.e. one core)")
    s.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUTPUT (only once the new one is complete)")
    sub.add_parser("entry", help="print the path of this entry point (for spark-submit)")
    from nigehbaan.spark.cluster_job import add_parser

    add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "entry":
        import nigehbaan.spark.__main__ as entry

        print(entry.__file__)
        return EXIT_OK
    try:
        if args.command == "cluster":
            from nigehbaan.spark.cluster_job import run_cluster

            return run_cluster(args)
        return run_score(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def input_format(path: str) -> str:
    name = path.rstrip("/").lower()
    for ext in (".gz", ".bz2", ".zst", ".deflate"):
        name = name.removesuffix(ext)
    return "json" if name.endswith((".json", ".jsonl", ".ndjson")) else "parquet"


def run_score(args) -> int:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("nigehbaan-score").getOrCreate()
    fs, jpath = _fs(spark, args.output)
    if fs.exists(jpath(args.output)) and not args.overwrite:
        raise UsageError(
            f"output {args.output!r} exists: expected a new folder. Fix: choose another "
            "--output, remove it, or pass --overwrite."
        )
    key = model_key(args.model)
    load_model(key)  # a wrong name or contract fails here, before any task
    fmt_in = args.input_format or input_format(args.input)
    t0 = time.perf_counter()
    df = read_input(spark, args.input, fmt_in, args.text_col)
    if args.partitions:  # before scoring: range bounds are sampled from the (cheap) input
        df = df.repartitionByRange(args.partitions, POSITION).sortWithinPartitions(POSITION)
    scored = _score(df, key, args.text_col, POSITION, raw_col=_RAW if fmt_in == "json" else None)
    write_atomically(spark, scored, args.output, args.format, args.overwrite)
    return _summary(spark, args.output, args.format, time.perf_counter() - t0)


def read_input(spark, path: str, fmt: str, text_col: str):
    """The input with a contiguous 0-based `input_position` (row n of the CLI is position + 1).

    JSON is read as lines and parsed again on the executors by the CLI's parser (a text that is
    a number is an error row there, not Spark's "123"); Spark's inferred schema only types the
    passed-through columns."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        if fmt == "json":
            lines = spark.read.text(path).where(F.trim("value") != "")
            inferred = spark.read.json(path).schema
            fields = [f for f in inferred.fields if f.name != "_corrupt_record"]
            from pyspark.sql.types import StringType, StructType

            if text_col not in {f.name for f in fields}:
                fields.append(StructType().add(text_col, StringType()).fields[0])
            lines = with_position(lines)
            df = lines.select(
                F.col(POSITION), F.col("value").alias(_RAW),
                F.from_json("value", StructType(fields)).alias("_r"),
            ).select(POSITION, _RAW, *(F.col("_r")[f.name].alias(f.name) for f in fields))
            return df
        df = spark.read.parquet(path)
    except AnalysisException as exc:
        raise UsageError(f"cannot read {fmt} input {path!r}: {str(exc).splitlines()[0]}") from exc
    if text_col not in df.columns:
        raise UsageError(
            f"no text column {text_col!r} in {path}: found {', '.join(df.columns)}. "
            "Fix: pass --text-col <the column>."
        )
    return with_position(df)


def with_position(df):
    """`df` with a contiguous 0-based row number in input order, without a shuffle: rows are
    counted per partition (one cheap pass) and each partition's offset added to its
    monotonically increasing id (partition index << 33 + row in partition)."""
    from pyspark.sql import functions as F

    df = df.withColumn("_mid", F.monotonically_increasing_id())
    counts = (df.groupBy((F.col("_mid") / F.lit(1 << 33)).cast("long").alias("p"))
                .count().orderBy("p").collect())
    offsets, total = [], 0
    for row in counts:
        offsets += [F.lit(row["p"]), F.lit(total - (row["p"] << 33))]
        total += row["count"]
    if not offsets:
        return df.withColumn(POSITION, F.col("_mid")).drop("_mid")
    shift = F.create_map(*offsets)[(F.col("_mid") / F.lit(1 << 33)).cast("long")]
    return df.withColumn(POSITION, F.col("_mid") + shift).drop("_mid")


def _fs(spark, path: str):
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()

    def jpath(p: str):
        return jvm.org.apache.hadoop.fs.Path(p)

    return jpath(path).getFileSystem(conf), jpath


def write_atomically(spark, df, output: str, fmt: str, overwrite: bool = False) -> None:
    """Write into `.OUTPUT.tmp-<uuid>` beside OUTPUT, check the committer's `_SUCCESS`, then
    rename to OUTPUT. Names starting with '.' are hidden from Spark and Hadoop readers, so a
    failed job's leftovers never read as output. (On object stores a rename is a copy: there,
    readers should also check OUTPUT/_SUCCESS, which is renamed along with the data.)"""
    fs, jpath = _fs(spark, output)
    final = jpath(output)
    tmp = jpath(f"{final.getParent()}/.{final.getName()}.tmp-{uuid.uuid4().hex[:12]}")
    done = False
    try:
        writer = df.write.mode("errorifexists").format(fmt)
        if fmt == "json":
            writer = writer.option("ignoreNullFields", "false")  # `error: null` as the CLI writes
        writer.save(tmp.toString())
        if not fs.exists(jpath(f"{tmp.toString()}/_SUCCESS")):
            raise RuntimeError(f"Spark finished without writing {tmp}/_SUCCESS; output not published")
        if overwrite and fs.exists(final):
            fs.delete(final, True)
        if not fs.rename(tmp, final):
            raise RuntimeError(f"could not rename {tmp} to {final}")
        done = True
    finally:
        if not done:
            fs.delete(tmp, True)


def _summary(spark, output: str, fmt: str, seconds: float) -> int:
    from pyspark.sql import functions as F

    out = spark.read.format(fmt).load(output)
    stats = out.groupBy("band", F.col("error").isNotNull().alias("bad")).count().collect()
    rows = sum(r["count"] for r in stats)
    errors = sum(r["count"] for r in stats if r["bad"])
    bands = {r["band"]: r["count"] for r in stats if not r["bad"]}
    print(
        f"scored {rows:,} rows in {seconds:.1f}s ({rows / seconds if seconds else 0:,.0f} ads/s) "
        f"into {output}: high {bands.get('high', 0):,}, medium {bands.get('medium', 0):,}, "
        f"low {bands.get('low', 0):,}, errors {errors:,}",
        file=sys.stderr,
    )
    return EXIT_ROW_ERRORS if errors else EXIT_OK
