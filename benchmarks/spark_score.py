"""Nigehbaan on Spark next to the command line, on the same file in the same run.

Generates N ads (as benchmarks/score_throughput.py does: corpus sentences recombined), scores
them with `nigehbaan score` (a subprocess, default 2 workers) and with the Spark job's path
(nigehbaan.spark.job: JSON lines in, `--partitions` = the local cores, atomic Parquet out) on
local[CORES], and prints ads/s for both, the model load time and peak memory of each executor
Python process, and the Spark session's start-up apart. The fast model on N ads, the default
model on a smaller N:

    .venv/bin/python benchmarks/spark_score.py --n 200000 --n-default 2000 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_throughput import generate  # noqa: E402

from nigehbaan.spark.score import POSITION, STATS_ENV, _score, model_key  # noqa: E402


def run_cli(src: Path, out: Path, model: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nigehbaan", "score", str(src), "-o", str(out),
                    "--model", model, "--quiet", "--no-progress"], check=False)
    return time.perf_counter() - t0


def run_spark(spark, src: Path, out: Path, model: str, partitions: int) -> float:
    from nigehbaan.spark.job import _RAW, read_input, write_atomically

    t0 = time.perf_counter()
    df = read_input(spark, str(src), "json", "text")
    df = df.repartitionByRange(partitions, POSITION).sortWithinPartitions(POSITION)
    scored = _score(df, model_key(model), "text", POSITION, raw_col=_RAW)
    write_atomically(spark, scored, str(out), "parquet")
    return time.perf_counter() - t0


def executor_stats(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="ads for the fast model")
    ap.add_argument("--n-default", type=int, default=2_000, help="ads for the default model (0: skip)")
    ap.add_argument("--cores", type=int, default=2, help="local[CORES] and Spark partitions")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stats_dir = tmp / "stats"
        stats_dir.mkdir()
        os.environ[STATS_ENV] = str(stats_dir)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        t0 = time.perf_counter()
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master(f"local[{args.cores}]")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.shuffle.partitions", str(args.cores))
                 .config(f"spark.executorEnv.{STATS_ENV}", str(stats_dir)).getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        print(f"Spark session start: {time.perf_counter() - t0:.1f} s (pyspark {spark.version}, "
              f"local[{args.cores}])")
        for model, n in (("fast", args.n), ("default", args.n_default)):
            if not n:
                continue
            src = tmp / f"ads-{model}.jsonl"
            generate(n, src)
            print(f"\n{model} model, {n:,} ads ({src.stat().st_size / 1e6:.1f} MB of JSONL)")
            for r in range(args.repeat):
                cli_s = run_cli(src, tmp / f"cli-{model}-{r}.jsonl", model)
                cli_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                for p in stats_dir.glob("*"):
                    p.unlink()
                spark_s = run_spark(spark, src, tmp / f"spark-{model}-{r}", model, args.cores)
                print(f"  run {r + 1}: CLI {n / cli_s:,.0f} ads/s ({cli_s:.1f} s; largest "
                      f"process so far {cli_rss:,.0f} MB) | Spark {n / spark_s:,.0f} ads/s "
                      f"({spark_s:.1f} s, read + score + atomic Parquet write)")
                for s in executor_stats(stats_dir):
                    print(f"    executor Python pid {s['pid']}: model loaded {s['loads']}x in "
                          f"{s['load_seconds']:.1f} s (with warm-up; a reused worker keeps it), "
                          f"{s['rows']:,} rows in its life, peak RSS {s['peak_rss_mb']:,.0f} MB")
        spark.stop()


if __name__ == "__main__":
    main()
