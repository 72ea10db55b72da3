"""`python -m nigehbaan.spark cluster INPUT OUTPUT`: the clustering job to spark-submit.

    spark-submit [cluster options] "$(python -m nigehbaan.spark entry)" cluster \\
        hdfs:///archive/scored/2026/ s3a://unit/clustered/2026 [--format json]

Reads Parquet or JSON lines (JSON lines are parsed by the CLI's own parser on the executors,
so a bad line is an error row as in `nigehbaan cluster`), writes one row per input row in
input order with `id`, `template_id`, `network_id` and `error`, atomically as the score job
writes (job.write_atomically). Exit status as `nigehbaan cluster`: 0, 1 when some rows carry
`error`, 2 usage error.
"""

from __future__ import annotations

import sys
import time

from nigehbaan.inference.cluster.contacts import HUB_CAP
from nigehbaan.inference.errors import UsageError


def add_parser(sub) -> None:
    c = sub.add_parser("cluster", help="group ads into templates and networks (nigehbaan cluster on Spark)")
    c.add_argument("input", nargs="?", help="a file or folder (local, hdfs://, s3a://, ...)")
    c.add_argument("output", nargs="?", help="the output folder; must not exist yet")
    c.add_argument("--input", dest="input_opt", default=None, help="the same as INPUT")
    c.add_argument("--output", dest="output_opt", default=None, help="the same as OUTPUT")
    c.add_argument("--format", choices=("parquet", "json"), default="parquet",
                   help="output format (default parquet; json writes JSON lines)")
    c.add_argument("--input-format", choices=("parquet", "json"), default=None,
                   help="input format (default: json for .json/.jsonl[.gz|.bz2] paths, else parquet)")
    c.add_argument("--text-col", default="text", help="the column holding the ad (default text)")
    c.add_argument("--hub-cap", type=int, default=HUB_CAP,
                   help=f"a contact in more templates than this joins none (default {HUB_CAP})")
    c.add_argument("--checkpoint-dir", default=None,
                   help="reliable checkpoints there (e.g. hdfs:///tmp/ck) instead of executor-local ones")
    c.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUTPUT (only once the new one is complete)")


def run_cluster(args) -> int:
    from pyspark.sql import SparkSession

    from nigehbaan.spark.cluster import cluster_with_info
    from nigehbaan.spark.job import _RAW, _fs, input_format, read_input, write_atomically

    args.input = args.input or args.input_opt
    args.output = args.output or args.output_opt
    if not args.input or not args.output:
        raise UsageError("cluster needs INPUT and OUTPUT. Fix: python -m nigehbaan.spark cluster IN OUT")
    if args.hub_cap < 1:
        raise UsageError(f"--hub-cap must be at least 1, found {args.hub_cap}")
    spark = SparkSession.builder.appName("nigehbaan-cluster").getOrCreate()
    if args.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(args.checkpoint_dir)
    fs, jpath = _fs(spark, args.output)
    if fs.exists(jpath(args.output)) and not args.overwrite:
        raise UsageError(
            f"output {args.output!r} exists: expected a new folder. Fix: choose another "
            "OUTPUT, remove it, or pass --overwrite."
        )
    fmt_in = args.input_format or input_format(args.input)
    t0 = time.perf_counter()
    df = read_input(spark, args.input, fmt_in, args.text_col)
    out, info = cluster_with_info(df, args.text_col, hub_cap=args.hub_cap,
                                  raw_col=_RAW if fmt_in == "json" else None)
    write_atomically(spark, out, args.output, args.format, args.overwrite)
    return _summary(spark, args.output, args.format, info, time.perf_counter() - t0, args.hub_cap)


def _summary(spark, output: str, fmt: str, info, seconds: float, hub_cap: int) -> int:
    from pyspark.sql import functions as F

    out = spark.read.format(fmt).load(output)
    s = out.agg(F.count("*").alias("rows"), F.count("error").alias("errors"),
                F.countDistinct("template_id").alias("t"), F.countDistinct("network_id").alias("n")).first()
    print(
        f"clustered {s['rows']:,} rows in {seconds:.1f}s ({s['rows'] / seconds if seconds else 0:,.0f} "
        f"ads/s) into {output}: {s['t']:,} templates, {s['n']:,} networks; "
        f"{info.boilerplate_shingles:,} boilerplate shingles ignored; errors {s['errors']:,}",
        file=sys.stderr,
    )
    if info.hubs:
        top = sorted(info.hubs.items(), key=lambda kv: -kv[1])[:10]
        print(f"hub contacts (in more than {hub_cap} templates, not used for joining): "
              + ", ".join(f"{k} ({v} templates)" for k, v in top), file=sys.stderr)
    return 1 if s["errors"] else 0
