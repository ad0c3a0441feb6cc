"""hybridrec on Spark in local mode: fit from Spark DataFrames, recommend for every user on the workers.

Run:  python examples/spark_local.py          (pip install "hybridrec[spark]"; Java 17+)
It uses the bundled sample and the bundled text model: no network.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

import hybridrec as hr
from hybridrec.components import ItemKNNComponent, SemanticComponent
from hybridrec.spark import SparkALSComponent, fit_spark, recommend_spark, session


def main() -> None:
    spark = session("local[2]")  # checks Java, runs the workers on this Python
    data = hr.datasets.load_sample()
    interactions = spark.createDataFrame(data.interactions)
    items = spark.createDataFrame(data.items[["item_id", "text", "domain"]])

    # Aggregation, text encoding and ALS run on Spark; item-kNN and the text profile on the driver.
    model = hr.HybridRecommender(
        components=[("als", SparkALSComponent(factors=32, iterations=10)), ("itemknn", ItemKNNComponent()),
                    ("semantic", SemanticComponent())],
        cross_domain_weight=0.5, random_state=0, show_progress=False,
    )
    fit_spark(model, interactions, items)
    print(f"fitted on Spark: {model.data_.matrix.nnz:,} (user, item) pairs, components {list(model.components_)}")

    # Top 5 'family' movies for every user, computed on the workers by the same recommend().
    users = spark.createDataFrame(pd.DataFrame({"user_id": model.data_.user_ids.to_numpy()})).repartition(4)
    recs = recommend_spark(model, users, k=5, domain="family")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "recommendations"
        recs.write.parquet(str(out))
        written = pd.read_parquet(out)
    print(f"recommend_spark wrote {len(written):,} rows for {written['user_id'].nunique():,} users")
    local = model.recommend([1], k=5, domain="family")
    remote = written[written["user_id"] == 1].sort_values("rank")
    print("user 1, local and Spark agree:", local["item_id"].tolist() == remote["item_id"].tolist())
    spark.stop()


if __name__ == "__main__":
    main()
