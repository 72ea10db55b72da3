"""Clustering on Spark next to `nigehbaan cluster`, on the same generated file in the same run.

Generates about N ads as benchmarks/campaigns.py does (campaign_data.make_campaigns: templates
re-posted with mutations, networks sharing numbers, a hub number, near-miss boilerplate ads),
clusters them with the single-machine command (cluster_file) and with the Spark job's path
(nigehbaan.spark: JSON lines in, atomic Parquet out) on local[CORES], and prints for each the
wall time and ads/s, peak memory (the Python driver, the Spark JVM, its Python workers), the
share of rows with the same ids, and B-cubed F1 of Spark against the command and of both
against the generator's truth, for templates and networks.

    .venv/bin/python benchmarks/spark_cluster.py              # 200,000 ads
    .venv/bin/python benchmarks/spark_cluster.py --n 20000
    .venv/bin/python benchmarks/spark_cluster.py --n 0        # the campaign benchmark's own set
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from campaign_data import make_campaigns  # noqa: E402
from campaigns import bcubed  # noqa: E402
from nigehbaan.inference.cluster import cluster_file  # noqa: E402


def _vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a live process (Linux /proc), in MB; 0 where unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _session(cores: int):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{cores}]").appName("nigehbaan-cluster-bench")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
             .config("spark.driver.memory", "3g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run_spark(spark, src: Path, out: Path, cores: int):
    from nigehbaan.spark.cluster import cluster_with_info
    from nigehbaan.spark.job import _RAW, read_input, write_atomically
    from nigehbaan.spark.score import POSITION

    t0 = time.perf_counter()
    df = read_input(spark, str(src), "json", "text")
    df = df.repartitionByRange(cores, POSITION)  # one JSON file reads as one partition
    clustered, info = cluster_with_info(df, "text", raw_col=_RAW)
    write_atomically(spark, clustered, str(out), "parquet")
    secs = time.perf_counter() - t0
    rows = spark.read.parquet(str(out)).orderBy(POSITION).select("id", "template_id", "network_id").collect()
    return secs, info, [r.asDict() for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="about N generated ads (0: the campaign set)")
    ap.add_argument("--cores", type=int, default=2, help="local[CORES]")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-cli", action="store_true", help="Spark only (no agreement figures)")
    args = ap.parse_args()

    t = time.perf_counter()
    ads = make_campaigns(n=args.n or None, seed=args.seed)
    true_t = [a["_template"] for a in ads]
    true_n = [a["_network"] for a in ads]
    print(f"{len(ads):,} ads generated in {time.perf_counter() - t:.0f}s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "ads.jsonl"
        with open(src, "w", encoding="utf-8") as f:
            for a in ads:
                f.write(json.dumps({"id": a["id"], "text": a["text"]}, ensure_ascii=False) + "\n")
        del ads
        cli = None
        if not args.skip_cli:
            t = time.perf_counter()
            cluster_file(str(src), str(Path(tmp) / "cli.jsonl"))
            cli_secs = time.perf_counter() - t
            cli = [json.loads(line) for line in open(Path(tmp) / "cli.jsonl", encoding="utf-8")]
            print(f"nigehbaan cluster: {cli_secs:.1f}s ({len(cli) / cli_secs:,.0f} ads/s)", flush=True)
        me_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        spark = _session(args.cores)
        start = time.perf_counter() - t
        secs, info, rows = run_spark(spark, src, Path(tmp) / "spark", args.cores)
        jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
        jvm_mb = _vm_hwm_mb(jvm)
        workers = [_vm_hwm_mb(p) for p in _descendants(jvm)]
        spark.stop()
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(rows)
    print(f"spark local[{args.cores}]: {secs:.1f}s ({n / secs:,.0f} ads/s; session start {start:.0f}s "
          f"apart); {info.docs:,} distinct shingle sets, {info.boilerplate_shingles:,} boilerplate "
          f"shingles, {info.candidate_pairs:,} candidate pairs, {info.verified_pairs:,} verified; "
          f"{len(info.hubs or {})} hub contacts; steps (s): "
          + ", ".join(f"{k} {v:.0f}" for k, v in info.seconds.items()))
    print(f"peak RSS: driver JVM {jvm_mb:,.0f} MB, Python workers "
          f"{', '.join(f'{w:,.0f}' for w in workers) or '-'} MB, Python driver {me:,.0f} MB "
          f"(before Spark {me_before:,.0f} MB, holding the command's rows)")
    for kind, truth in (("template", true_t), ("network", true_n)):
        sp = [r[f"{kind}_id"] for r in rows]
        line = f"{kind}s: spark vs truth F1 {bcubed(sp, truth)['f1']:.4f}"
        if cli is not None:
            cl = [r[f"{kind}_id"] for r in cli]
            same = sum(a == b for a, b in zip(sp, cl, strict=True)) / n
            line += (f", command vs truth F1 {bcubed(cl, truth)['f1']:.4f}, spark vs command "
                     f"F1 {bcubed(sp, cl)['f1']:.4f}, same id {same:.2%}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
