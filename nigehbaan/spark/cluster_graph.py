"""Connected components of a graph held as a Spark DataFrame of edges, in Spark itself
(GraphFrames is a separate package, often not installable offline or on a locked cluster).

Min-label propagation with pointer jumping: every node starts with the smallest id among itself
and its neighbours; each round it takes the smallest label of its neighbours, then the label
of its label (a node's label is never larger than the node, so following it only shortens the
way to the component's minimum). Rounds grow with the logarithm of a component's diameter,
not the diameter, in practice a handful. Each round's labels are checkpointed, so the plan does
not grow with the rounds.
"""

from __future__ import annotations

# More rounds than any real graph needs (each at least halves the distance to the minimum);
# a guard against a bug, not a tuning knob.
MAX_ROUNDS = 64


def cut(df):
    """`df` materialised with its lineage cut: a reliable checkpoint when the session has a
    checkpoint directory (survives losing an executor on a cluster), else a local one."""
    sc = df.sparkSession.sparkContext
    return df.checkpoint(eager=True) if sc.getCheckpointDir() else df.localCheckpoint(eager=True)


def connected_components(edges, src: str = "src", dst: str = "dst"):
    """(node, label) for every node that appears in `edges` (columns `src`, `dst`, integral
    ids): `label` is the smallest node id of its connected component. Nodes without an edge
    are not listed (their component is themselves)."""
    from pyspark.sql import functions as F

    e = edges.select(F.col(src).alias("u"), F.col(dst).alias("v")).where(F.col("u") != F.col("v"))
    e = cut(e.union(e.select(F.col("v").alias("u"), F.col("u").alias("v"))).distinct())
    labels = cut(e.groupBy("u").agg(F.least(F.col("u"), F.min("v")).alias("label"))
                 .withColumnRenamed("u", "node"))
    total = _label_sum(labels)
    for _ in range(MAX_ROUNDS):
        # the smallest label among each node's neighbours, and the node's own
        heard = (e.join(labels.withColumnRenamed("node", "u"), "u")
                  .groupBy(F.col("v").alias("node")).agg(F.min("label").alias("heard")))
        new = (labels.join(heard, "node")
               .select("node", F.least("label", "heard").alias("label")))
        # pointer jumping: a node takes its label's label
        hop = new.select(F.col("node").alias("label"), F.col("label").alias("hop"))
        new = cut(new.join(hop, "label").select("node", F.least("label", "hop").alias("label")))
        # labels only ever decrease, so an unchanged sum means nothing changed
        new_total = _label_sum(new)
        labels = new
        if new_total == total:
            return labels
        total = new_total
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _label_sum(labels) -> int:
    from pyspark.sql import functions as F

    # as a decimal: a sum of long ids cannot overflow
    return labels.agg(F.sum(F.col("label").cast("decimal(38,0)"))).first()[0] or 0
