"""Nigehbaan on Spark (the `spark` extra): score DataFrames with the same answers as
`nigehbaan score`, and a job to `spark-submit` (`python -m nigehbaan.spark score ...`).

    from nigehbaan.spark import score_dataframe
    scored = score_dataframe(spark.read.parquet("ads/"), model="fast")

See score.py (the mapInPandas scoring and the per-process model cache), schema.py (the Spark
types of a scored ad, derived from inference/schema.py) job.py (the submitted job) and cluster.py (`cluster_dataframe`, the
`cluster` job: templates and networks as `nigehbaan cluster` gives them).
"""

from nigehbaan.inference.extras import MissingExtraError, missing

if missing("pyspark", "pandas"):
    raise MissingExtraError(
        "nigehbaan.spark needs the spark extra (not installed: "
        f"{', '.join(missing('pyspark', 'pandas'))}): pip install 'nigehbaan[spark]'"
    )

from nigehbaan.spark.cluster import cluster_dataframe  # noqa: E402
from nigehbaan.spark.schema import output_schema, scored_fields  # noqa: E402
from nigehbaan.spark.score import POSITION, executor_model, score_dataframe  # noqa: E402

__all__ = ["POSITION", "cluster_dataframe", "executor_model", "output_schema", "score_dataframe", "scored_fields"]
