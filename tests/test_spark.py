"""Nigehbaan on Spark (nigehbaan.spark) in local[2]: the same rows as `nigehbaan score`, bad rows
kept with `error`, and the submitted job end to end through pyspark's own spark-submit.

Needs Java 17 (CI installs it, .ci/run) and the spark extra; without either the module skips
with a message. One SparkSession for the module and two partitions keep it to about two
minutes on 2 loaded cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, read_jsonl, write_jsonl

pytestmark = pytest.mark.slow

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install -e '.[spark]'")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip(
        "Spark needs Java 17 and none was found (no `java` on PATH, no JAVA_HOME): "
        "apt-get install openjdk-17-jre-headless (as .ci/run does)",
        allow_module_level=True,
    )

N_ADS = 2000
SPARK_ENV = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


@pytest.fixture(scope="module")
def spark():
    os.environ.update(SPARK_ENV)  # executors' Python: this venv, not the system's python3
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").appName("nigehbaan-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def ads_file(tmp_path_factory) -> Path:
    """2,000 ads: the sample and the test split's texts, repeated with distinct ids; the sample's
    own fields (platform, url, ...) passed through where they exist."""
    base = read_jsonl(ROOT / "data" / "samples" / "ads.jsonl")
    base += [{"id": r["id"], "text": r["text"]}
             for r in read_jsonl(ROOT / "data" / "corpus" / "v4" / "test.jsonl")]
    rows = [dict(base[i % len(base)], id=f"{base[i % len(base)]['id']}-r{i}") for i in range(N_ADS)]
    return write_jsonl(tmp_path_factory.mktemp("spark") / "ads.jsonl", rows)


def cli_rows(path: Path, model: str, tmp: Path) -> list[dict]:
    from nigehbaan.cli import main

    out = tmp / f"cli-{model}-{path.stem}.jsonl"
    main(["score", str(path), "-o", str(out), "--model", model, "--quiet", "--no-progress"])
    return read_jsonl(out)


def spark_rows(df) -> list[dict]:
    from nigehbaan.spark import POSITION

    return [r.asDict(recursive=True) for r in df.orderBy(POSITION).collect()]


def _normal(row: dict) -> dict:
    """The scored fields of a row, nested, with JSON's types (Spark gives long for int)."""
    keep = ("id", "band", "lang", "indicators", "entities", "error", "warnings", "model")
    return json.loads(json.dumps({k: row.get(k) for k in keep}))


def assert_same_rows(cli: list[dict], got: list[dict], tol: float = 1e-6) -> None:
    assert len(got) == len(cli)
    for c, g in zip(cli, got, strict=True):
        assert g["id"] == c["id"]
        assert (g["risk"] is None and c["risk"] is None) or abs(g["risk"] - c["risk"]) <= tol, c["id"]
        gi, ci = _normal(g), _normal(c)
        for a, b in zip(gi["indicators"], ci["indicators"], strict=True):
            assert abs(a.pop("score") - b.pop("score")) <= tol, c["id"]
        # The Spark struct has every declared field; the CLI's dicts may leave out defaults.
        gi["model"] = {k: v for k, v in gi["model"].items() if k in ci["model"]}
        assert gi == ci, c["id"]


def _positioned(spark, path: Path, partitions: int = 2):
    """The file as a DataFrame in `partitions` partitions, each row numbered in file order."""
    from nigehbaan.spark import POSITION
    from nigehbaan.spark.job import with_position

    df = with_position(spark.read.json(str(path)))
    return df.repartitionByRange(partitions, POSITION)


def test_fast_model_gives_the_cli_rows(spark, ads_file, tmp_path):
    from nigehbaan.spark import score_dataframe

    cli = cli_rows(ads_file, "fast", tmp_path)
    scored = score_dataframe(_positioned(spark, ads_file), model="fast")
    assert scored.rdd.getNumPartitions() == 2
    got = spark_rows(scored)
    assert_same_rows(cli, got)
    assert [g["text"] for g in got] == [c["text"] for c in cli]
    assert got[0]["platform"] == cli[0]["platform"]  # input columns pass through


def test_nested_fields_are_spark_types(spark, ads_file):
    from nigehbaan.spark import score_dataframe

    dtypes = dict(score_dataframe(spark.read.json(str(ads_file)).limit(1), model="rules").dtypes)
    assert dtypes["risk"] == "double"
    assert dtypes["indicators"].startswith("array<struct<id:string,score:double,evidence:array<")
    assert dtypes["entities"].startswith("struct<phones:array<string>")
    assert dtypes["warnings"] == "array<string>"


def test_default_model_gives_the_cli_rows(spark, tmp_path):
    from nigehbaan.spark import score_dataframe

    path = write_jsonl(tmp_path / "few.jsonl", read_jsonl(ROOT / "data" / "samples" / "ads.jsonl")[:24])
    cli = cli_rows(path, "default", tmp_path)
    got = spark_rows(score_dataframe(_positioned(spark, path), model="default"))
    assert_same_rows(cli, got)
    assert got[0]["model"]["encoder_precision"] in ("bf16", "float32")


def test_bad_rows_carry_error(spark):
    from nigehbaan.spark import score_dataframe

    df = spark.createDataFrame(
        [("a", "Saudi visa, 3 lakh fee, WhatsApp 0300-1234567"), ("b", None), ("c", "   "), (None, None)],
        "id string, text string",
    )
    rows = spark_rows(score_dataframe(df, model="fast"))
    assert [r["id"] for r in rows][:3] == ["a", "b", "c"]
    assert rows[0]["error"] is None and rows[0]["risk"] is not None
    assert rows[1]["error"] == "field 'text' must be a string, found NoneType"
    assert rows[2]["error"] == "field 'text' is empty"
    assert rows[3]["error"] and rows[3]["id"].startswith("row-")
    numbers = spark.createDataFrame([(1, 5)], "id long, text long")
    (row,) = spark_rows(score_dataframe(numbers, model="fast"))
    assert (row["id"], row["error"]) == ("1", "field 'text' must be a string, found int")


def test_a_missing_text_column_or_model_is_refused(spark):
    from nigehbaan.inference.errors import UsageError

    from nigehbaan.spark import score_dataframe

    df = spark.createDataFrame([("a", "x")], "id string, body string")
    with pytest.raises(UsageError, match="no text column 'text'.*found columns id, body.*text_col"):
        score_dataframe(df, model="fast")
    with pytest.raises(UsageError, match="no model at 'nosuch'"):
        score_dataframe(df, model="nosuch", text_col="body")


BAD_LINES = [
    {"id": "ok", "text": "Urgent! Saudi jobs, visa free, pay 50,000 fee on WhatsApp 0300-1234567"},
    {"id": "num", "text": 123},
    "",
    {"id": "missing"},
    "not json",
    {"id": "empty", "text": ""},
    "[1, 2]",
    {"text": "no id here", "lang": "en"},
]


def _job_output(path: Path, fmt: str) -> list[dict]:
    assert (path / "_SUCCESS").is_file()
    files = sorted(path.glob(f"part-*.{fmt}"))
    if fmt == "json":
        rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    else:
        import pyarrow.parquet as pq

        rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["input_position"])


def test_job_parquet_in_order_and_atomic(spark, ads_file, tmp_path):
    from nigehbaan.spark.job import main

    pq_in = tmp_path / "ads.parquet"
    spark.read.json(str(ads_file)).limit(300).coalesce(1).write.parquet(str(pq_in))
    out = tmp_path / "scored"
    assert main(["score", "--input", str(pq_in), "--output", str(out), "--model", "fast",
                 "--partitions", "2"]) == 0
    rows = _job_output(out, "parquet")
    assert [r["input_position"] for r in rows] == list(range(300))
    assert len(list(out.glob("part-*.parquet"))) == 2
    # part files in name order are the input order too
    import pyarrow.parquet as pq

    in_order = [r["id"] for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert in_order == [r["id"] for r in rows]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".scored")]
    assert main(["score", "--input", str(pq_in), "--output", str(out), "--model", "fast"]) == 2


def test_a_failed_job_leaves_no_output(spark, ads_file, tmp_path, monkeypatch, capsys):
    from nigehbaan.spark import job

    def broken(df, *args, **kwargs):
        def fail(batches):
            for _ in batches:
                raise RuntimeError("executor lost")
            yield from ()

        return df.mapInPandas(fail, df.schema)

    monkeypatch.setattr(job, "_score", broken)
    out = tmp_path / "scored"
    with pytest.raises(Exception, match="executor lost"):
        job.main(["score", "--input", str(ads_file), "--output", str(out), "--model", "fast"])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_spark_submit_end_to_end(spark, tmp_path):
    """The job as a data engineer runs it: pyspark's bin/spark-submit on the entry file."""
    import pyspark

    from nigehbaan.spark.job import main

    src = write_jsonl(tmp_path / "bad.jsonl", BAD_LINES)
    out = tmp_path / "scored"
    entry = subprocess.run([sys.executable, "-m", "nigehbaan.spark", "entry"], check=True,
                           capture_output=True, text=True).stdout.strip()
    assert entry.endswith("__main__.py") and main(["entry"]) == 0
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    proc = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.ui.showConsoleProgress=false", entry, "score", "--input", str(src),
         "--output", str(out), "--model", "fast", "--format", "json"],
        env={**os.environ, **SPARK_ENV}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # some rows carry error
    said = proc.stdout + proc.stderr  # spark-submit merges the Python driver's stderr into stdout
    assert "scored 7 rows" in said and "errors 5" in said
    got = _job_output(out, "json")
    cli = cli_rows(src, "fast", tmp_path)
    assert [r["input_position"] for r in got] == list(range(7))  # the blank line is no row
    assert_same_rows(cli, got)
    assert [r["raw"] for r in got] == [c.get("raw") for c in cli]
    assert got[-1]["input_lang"] == "en"


# ---- clustering (issue 11 item 3) ------------------------------------------------------------

def test_cluster_job_agrees_with_the_command(spark, tmp_path, capsys):
    """Generated campaigns (a hub number in more templates than the cap, near-miss boilerplate
    ads) and bad lines: the Spark job gives every row the command's template and network ids."""
    from nigehbaan.inference.cluster import cluster_file

    from benchmarks.campaign_data import make_campaigns
    from benchmarks.campaigns import bcubed
    from nigehbaan.spark.job import main

    ads = make_campaigns(n=800, seed=3, max_reposts=10)  # ~140 templates, 60 with the hub
    src = tmp_path / "ads.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for k, a in enumerate(ads):
            f.write(json.dumps({"id": a["id"], "text": a["text"]}, ensure_ascii=False) + "\n")
            if k in (5, 700):
                f.write('{"id": "bad", "text": ""}\nnot json\n')
    cluster_file(str(src), str(tmp_path / "cli.jsonl"))
    cli = read_jsonl(tmp_path / "cli.jsonl")
    assert main(["cluster", str(src), str(tmp_path / "out"), "--format", "json"]) == 1  # bad rows
    assert "hub contacts (in more than 50 templates" in capsys.readouterr().err
    got = [r.asDict() for r in spark.read.json(str(tmp_path / "out")).orderBy("input_position").collect()]
    assert [r["id"] for r in got] == [r["id"] for r in cli]
    assert sum(r["error"] is not None for r in got) == 4
    for kind in ("template_id", "network_id"):
        assert bcubed([r[kind] for r in got], [r[kind] for r in cli])["f1"] >= 0.99
        same = sum(a[kind] == b[kind] for a, b in zip(got, cli, strict=True))
        assert same == len(cli), f"{kind}: {len(cli) - same} rows differ from the command"
    truth = [a["_template"] for a in ads]
    good = [r["template_id"] for r in got if r["error"] is None]
    assert bcubed(good, truth)["f1"] > 0.95


def test_cluster_dataframe_keeps_every_row(spark):
    from nigehbaan.inference.errors import UsageError

    from nigehbaan.spark.cluster import cluster_dataframe

    text = "Dubai hotel jobs for waiters. Salary 1800 AED plus free visa. Call 0321-4471985 now."
    rows = [(1, text), (2, text.replace("1800", "2000")), (3, None), (4, "   "),
            (5, "Factory workers needed in Malaysia, good salary. WhatsApp 0321-4471985.")]
    df = spark.createDataFrame(rows, "id long, text string")
    out = [r.asDict() for r in cluster_dataframe(df).collect()]
    assert [r["id"] for r in out] == ["1", "2", "3", "4", "5"]
    assert [r["input_position"] for r in out] == [0, 1, 2, 3, 4]
    assert out[0]["template_id"] == out[1]["template_id"] != out[4]["template_id"]
    assert out[0]["network_id"] == out[4]["network_id"]  # the shared number
    assert out[2]["error"] and out[3]["error"] and out[0]["error"] is None
    assert len({r["template_id"] for r in out}) == 4  # bad rows: ids of their own
    with pytest.raises(UsageError, match="no text column 'body'"):
        cluster_dataframe(df, text_col="body")
